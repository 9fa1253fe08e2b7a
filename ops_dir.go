package sealfs

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io/fs"
	"strconv"
	"syscall"

	"github.com/sealfs/sealfs/internal/layout"
	"github.com/sealfs/sealfs/names"
	"github.com/sealfs/sealfs/store"
)

// Creating and removing directories.

// Mkdir creates a directory (os.Mkdir). The process umask applies as with
// os.Mkdir.
func (f *FS) Mkdir(name string, perm fs.FileMode) error {
	if err := f.checkWrite("mkdir", name); err != nil {
		return err
	}
	return pathErr("mkdir", name, f.retryNotDir(name, func(p string) error { return f.mkdir(p, perm) }))
}

func (f *FS) mkdir(p string, perm fs.FileMode) error {
	if p == "." {
		return fs.ErrExist
	}
	err := f.createEntry(p, func(l *entryLoc) error {
		if !f.dirIV {
			return f.store.Mkdir(l.cpath, perm)
		}
		// The directory must be writable for us to create its IV file.
		if err := f.store.Mkdir(l.cpath, perm|0o700); err != nil {
			return err
		}
		if err := f.writeDirIV(l.cpath); err != nil {
			f.store.Remove(l.cpath)
			return err
		}
		if perm&0o700 != 0o700 {
			fi, err := f.store.Lstat(l.cpath)
			if err == nil {
				// Keep what umask and an inherited setgid bit made of the
				// mode, minus the owner bits we added.
				mode := fi.Mode() & (fs.ModePerm | fs.ModeSetgid | fs.ModeSetuid | fs.ModeSticky) &^ (0o700 &^ perm)
				err = f.store.Chmod(l.cpath, mode)
			}
			if err != nil {
				f.removeDir(l)
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	f.dirs.forget(p)
	return nil
}

// MkdirAll creates a directory and all missing parents (os.MkdirAll).
func (f *FS) MkdirAll(name string, perm fs.FileMode) error {
	if err := f.checkWrite("mkdir", name); err != nil {
		return err
	}
	if fi, err := f.Stat(name); err == nil {
		if fi.IsDir() {
			return nil
		}
		return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.ENOTDIR}
	}
	if parent, _ := splitPath(name); parent != "." {
		if err := f.MkdirAll(parent, perm); err != nil {
			return err
		}
	}
	err := f.Mkdir(name, perm)
	if err != nil {
		if fi, err2 := f.Lstat(name); err2 == nil && fi.IsDir() {
			return nil
		}
	}
	return err
}

// Rmdir removes an empty directory, like rmdir(2): unlike Remove it fails
// with ENOTDIR, and removes nothing, when name is not a directory.
func (f *FS) Rmdir(name string) error {
	return f.removeOp("rmdir", name, syscall.EBUSY, func(p string) error {
		l, err := f.locate(p)
		if err != nil {
			return err
		}
		if _, ok := f.store.(store.DirRemover); !ok {
			// Only a store that removes directories alone can be trusted
			// not to remove a file here.
			fi, err := f.store.Lstat(l.cpath)
			if err != nil {
				return err
			}
			if !fi.IsDir() {
				return syscall.ENOTDIR
			}
		}
		return f.rmdirAt(p, &l)
	})
}

// rmdirAt removes directory p (located at l) and what belongs to its entry.
func (f *FS) rmdirAt(p string, l *entryLoc) error {
	if err := f.removeDir(l); err != nil {
		return err
	}
	f.removeLongName(l)
	f.dirs.forget(p)
	return nil
}

// storeRmdir removes the ciphertext directory cpath, and nothing else
// where the store can promise that.
func (f *FS) storeRmdir(cpath string) error {
	if dr, ok := f.store.(store.DirRemover); ok {
		return dr.RemoveDir(cpath)
	}
	return f.store.Remove(cpath)
}

// removeDir removes the ciphertext directory of l, which must be empty in
// plaintext terms (it may hold its gocryptfs.diriv).
func (f *FS) removeDir(l *entryLoc) error {
	if !f.dirIV {
		return f.storeRmdir(l.cpath)
	}
	if dr, ok := f.store.(store.DirWithRemover); ok {
		return dr.RemoveDirWith(l.cpath, names.DirIVFile)
	}
	// Move the IV out of the way first, so that rmdir can succeed; undo it
	// if the directory turns out not to be empty.
	ivPath := layout.Join(l.cpath, names.DirIVFile)
	var r [8]byte
	rand.Read(r[:])
	tmp := layout.Join(l.dir.cpath, layout.RmdirPrefix+strconv.FormatUint(binary.BigEndian.Uint64(r[:]), 10))
	if err := f.store.Rename(ivPath, tmp); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// No IV (or no directory): rmdir says which.
			return f.storeRmdir(l.cpath)
		}
		return err
	}
	if err := f.storeRmdir(l.cpath); err != nil {
		if rerr := f.store.Rename(tmp, ivPath); rerr != nil {
			f.log.Error("could not restore directory IV", "path", l.plain, "err", rerr)
		}
		if isErrno(err, syscall.EEXIST) {
			err = syscall.ENOTEMPTY
		}
		return err
	}
	if err := f.store.Remove(tmp); err != nil {
		f.log.Warn("could not remove old directory IV", "path", tmp, "err", err)
	}
	return nil
}

// RemoveAll removes name and everything below it (os.RemoveAll). A missing
// name is not an error.
func (f *FS) RemoveAll(name string) error {
	if err := f.checkWrite("removeall", name); err != nil {
		return err
	}
	if name == "." {
		return &fs.PathError{Op: "removeall", Path: name, Err: syscall.EINVAL}
	}
	fi, err := f.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		ents, err := f.ReadDir(name)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := f.RemoveAll(name + "/" + e.Name()); err != nil {
				return err
			}
		}
	}
	err = f.Remove(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// dirEmpty reports whether the plaintext directory p has no entries.
func (f *FS) dirEmpty(p string) (bool, error) {
	ents, err := f.ReadDir(p)
	if err != nil {
		return false, err
	}
	return len(ents) == 0, nil
}
