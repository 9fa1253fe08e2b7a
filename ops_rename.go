package sealfs

import (
	"errors"
	"io/fs"
	"strings"
	"syscall"

	"github.com/sealfs/sealfs/store"
)

// Renames, with the renameat2 flags.

// Rename flags for Rename2 (as renameat2(2)).
const (
	RenameNoReplace = 1 << 0 // fail with fs.ErrExist if newname exists
	RenameExchange  = 1 << 1 // atomically swap oldname and newname
	// RenameWhiteout leaves a whiteout (a character device 0:0, as
	// overlayfs reads it) at oldname in the same step; it needs the
	// right to create device nodes, as on a local file system.
	RenameWhiteout = 1 << 2
)

// Rename renames (moves) oldname to newname (os.Rename). An existing file
// or empty directory at newname is replaced.
func (f *FS) Rename(oldname, newname string) error {
	return f.Rename2(oldname, newname, 0)
}

// Rename2 is Rename with renameat2(2) flags: RenameNoReplace,
// RenameExchange or RenameWhiteout (with RenameNoReplace or alone).
// Stores without flag support give errors.ErrUnsupported for non-zero
// flags.
func (f *FS) Rename2(oldname, newname string, flags uint) error {
	if err := f.checkWrite("rename", oldname); err != nil {
		return err
	}
	if err := f.checkWrite("rename", newname); err != nil {
		return err
	}
	if oldname == "." || newname == "." {
		return &fs.PathError{Op: "rename", Path: oldname, Err: syscall.EBUSY}
	}
	if flags&^(RenameNoReplace|RenameExchange|RenameWhiteout) != 0 || flags&RenameExchange != 0 && flags != RenameExchange {
		return &fs.PathError{Op: "rename", Path: oldname, Err: syscall.EINVAL}
	}
	err := f.rename(oldname, newname, flags)
	if err != nil && isErrno(err, syscall.ENOTDIR, syscall.ELOOP) {
		ro, err1 := f.realPath(oldname, false)
		rn, err2 := f.realPath(newname, false)
		if err1 == nil && err2 == nil && (ro != oldname || rn != newname) {
			err = f.rename(ro, rn, flags)
		}
	}
	return pathErr("rename", oldname, err)
}

func (f *FS) rename(oldp, newp string, flags uint) error {
	if oldp == newp {
		_, err := f.locate(oldp)
		return err
	}
	if strings.HasPrefix(newp, oldp+"/") {
		return syscall.EINVAL
	}
	ol, err := f.locate(oldp)
	if err != nil {
		return err
	}
	nl, err := f.locate(newp)
	if err != nil {
		return err
	}
	ofi, err := f.store.Lstat(ol.cpath)
	if err != nil {
		return err
	}
	var do func() error
	switch flags {
	case 0:
		do = func() error { return f.store.Rename(ol.cpath, nl.cpath) }
	default:
		rs, ok := f.store.(store.Renamer2)
		if !ok {
			return errors.ErrUnsupported
		}
		do = func() error { return rs.Rename2(ol.cpath, nl.cpath, flags) }
	}
	if flags&RenameExchange != 0 {
		// Names stay where they are, only the objects swap: the .name files
		// are still right.
		if err := do(); err != nil {
			return err
		}
		f.dirs.forget(oldp)
		f.dirs.forget(newp)
		return nil
	}
	undo, err := f.createLongName(&nl)
	if err != nil {
		return err
	}
	err = do()
	if err != nil && ofi.IsDir() && flags == 0 && isErrno(err, syscall.ENOTEMPTY, syscall.EEXIST) {
		// The target is a directory that holds only its IV file: remove it
		// and try again.
		if nfi, lerr := f.store.Lstat(nl.cpath); lerr == nil && nfi.IsDir() {
			if empty, _ := f.dirEmpty(newp); empty {
				if rerr := f.removeDir(&nl); rerr == nil {
					f.dirs.forget(newp)
					err = do()
				}
			}
		}
	}
	if err != nil {
		undo()
		return err
	}
	// The old long name's .name file stays for the whiteout there.
	if flags&RenameWhiteout == 0 && (ol.long && ol.stored != nl.stored || ol.long && ol.dir.cpath != nl.dir.cpath) {
		f.removeLongName(&ol)
	}
	if ofi.IsDir() {
		f.dirs.forget(oldp)
		f.dirs.forget(newp)
	}
	return nil
}
