package sealfs

import (
	"io/fs"
	"syscall"

	"github.com/sealfs/sealfs/store"
)

// Removing names: Remove (a file or an empty directory) and Unlink.

// Remove removes a file, symlink or empty directory (os.Remove).
func (f *FS) Remove(name string) error {
	return f.removeOp("remove", name, syscall.EBUSY, f.remove)
}

// removeOp runs a removal of name: rm on its path (again through the
// symlinks in the path on ENOTDIR), dotErr for the root.
func (f *FS) removeOp(op, name string, dotErr syscall.Errno, rm func(p string) error) error {
	if err := f.checkWrite(op, name); err != nil {
		return err
	}
	if name == "." {
		return &fs.PathError{Op: op, Path: name, Err: dotErr}
	}
	return pathErr(op, name, f.retryNotDir(name, rm))
}

func (f *FS) remove(p string) error {
	l, err := f.locate(p)
	if err != nil {
		return err
	}
	// Most removals are of files: try that first, without a stat.
	err = f.unlinkAt(&l)
	if isErrno(err, syscall.EISDIR) {
		return f.rmdirAt(p, &l)
	}
	return err
}

// Unlink removes a file, symlink or other non-directory, like unlink(2):
// unlike Remove it fails with EISDIR, and removes nothing, when name is a
// directory.
func (f *FS) Unlink(name string) error {
	return f.removeOp("unlink", name, syscall.EISDIR, f.unlink)
}

func (f *FS) unlink(p string) error {
	l, err := f.locate(p)
	if err != nil {
		return err
	}
	return f.unlinkAt(&l)
}

// unlinkAt removes the non-directory at l and its long-name file; EISDIR
// (and nothing removed) for a directory.
func (f *FS) unlinkAt(l *entryLoc) error {
	var err error
	if fr, ok := f.store.(store.FileRemover); ok {
		err = fr.RemoveFile(l.cpath)
		if isErrno(err, syscall.EPERM) {
			// Some systems say EPERM for a directory: tell the two apart.
			if fi, lerr := f.store.Lstat(l.cpath); lerr == nil && fi.IsDir() {
				err = syscall.EISDIR
			}
		}
	} else {
		var fi fs.FileInfo
		if fi, err = f.store.Lstat(l.cpath); err == nil {
			if fi.IsDir() {
				err = syscall.EISDIR
			} else {
				err = f.store.Remove(l.cpath)
			}
		}
	}
	if err != nil {
		return err
	}
	f.removeLongName(l)
	return nil
}
