package sealfs

import (
	"errors"
	"io/fs"

	"github.com/sealfs/sealfs/names"
	"github.com/sealfs/sealfs/store"
)

// Device nodes, FIFOs and sockets; file system usage.

// Mknod creates a FIFO, socket or device node (mknod(2); mode includes the
// file type bits S_IFIFO, S_IFSOCK, S_IFCHR or S_IFBLK).
func (f *FS) Mknod(name string, mode uint32, dev uint64) error {
	ms, ok := f.store.(store.Mknoder)
	if !ok {
		return &fs.PathError{Op: "mknod", Path: name, Err: errors.ErrUnsupported}
	}
	if err := f.checkWrite("mknod", name); err != nil {
		return err
	}
	return pathErr("mknod", name, f.retryNotDir(name, func(p string) error {
		return f.createEntry(p, func(l *entryLoc) error { return ms.Mknod(l.cpath, mode, dev) })
	}))
}

// Statfs reports the usage of the file system holding the vault.
func (f *FS) Statfs() (Statfs, error) {
	ss, ok := f.store.(store.Statfser)
	if !ok {
		return Statfs{}, &fs.PathError{Op: "statfs", Path: ".", Err: errors.ErrUnsupported}
	}
	st, err := ss.Statfs()
	if err != nil {
		return Statfs{}, pathErr("statfs", ".", err)
	}
	st.NameLen = names.MaxNameLen
	return st, nil
}
