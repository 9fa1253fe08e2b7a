package sealfs

import (
	"io/fs"
	"syscall"

	"github.com/sealfs/sealfs/internal/layout"
)

// Symbolic and hard links.

// Symlink creates newname as a symbolic link to target (os.Symlink). The
// target is encrypted unless the vault uses plaintext names.
func (f *FS) Symlink(target, newname string) error {
	if err := f.checkWrite("symlink", newname); err != nil {
		return err
	}
	if target == "" {
		return &fs.PathError{Op: "symlink", Path: newname, Err: syscall.ENOENT}
	}
	ctarget := target
	if !f.plainNames {
		ctarget = layout.EncryptTarget(f.codec, f.nt, target)
		if len(ctarget) > 4095 {
			return &fs.PathError{Op: "symlink", Path: newname, Err: ErrNameTooLong}
		}
	}
	return pathErr("symlink", newname, f.retryNotDir(newname, func(p string) error {
		return f.createEntry(p, func(l *entryLoc) error { return f.store.Symlink(ctarget, l.cpath) })
	}))
}

// ReadLink returns the target of the named symlink (fs.ReadLinkFS).
func (f *FS) ReadLink(name string) (string, error) {
	if err := f.checkPath("readlink", name); err != nil {
		return "", err
	}
	var target string
	err := f.retryNotDir(name, func(p string) error {
		l, err := f.locate(p)
		if err != nil {
			return err
		}
		target, err = f.readlinkLoc(&l)
		return err
	})
	if err != nil {
		return "", pathErr("readlink", name, err)
	}
	return target, nil
}

// Readlink is ReadLink with the name os uses.
func (f *FS) Readlink(name string) (string, error) { return f.ReadLink(name) }

func (f *FS) readlinkLoc(l *entryLoc) (string, error) {
	ct, err := f.store.Readlink(l.cpath)
	if err != nil {
		return "", err
	}
	if f.plainNames {
		return ct, nil
	}
	return layout.DecryptTarget(f.codec, f.nt, ct)
}

// Link creates newname as a hard link to oldname (os.Link).
func (f *FS) Link(oldname, newname string) error {
	if err := f.checkWrite("link", oldname); err != nil {
		return err
	}
	if err := f.checkWrite("link", newname); err != nil {
		return err
	}
	ol, err := f.locate(oldname)
	if err != nil {
		return pathErr("link", oldname, err)
	}
	nl, err := f.locate(newname)
	if err != nil {
		return pathErr("link", newname, err)
	}
	undo, err := f.createLongName(&nl)
	if err != nil {
		return pathErr("link", newname, err)
	}
	if err := f.store.Link(ol.cpath, nl.cpath); err != nil {
		undo()
		return pathErr("link", oldname, err)
	}
	return nil
}
