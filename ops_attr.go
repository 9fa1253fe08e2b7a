package sealfs

import (
	"io/fs"
	"time"
)

// Metadata by name: mode, owner, times.

// located runs fn on the location of name, following symlinks when follow
// is set.
func (f *FS) located(op, name string, follow bool, fn func(l *entryLoc) error) error {
	if err := f.checkWrite(op, name); err != nil {
		return err
	}
	p := name
	if follow {
		var err error
		if p, err = f.follow(name); err != nil {
			return pathErr(op, name, err)
		}
	}
	return pathErr(op, name, f.retryNotDir(p, func(p string) error {
		l, err := f.locate(p)
		if err != nil {
			return err
		}
		return fn(&l)
	}))
}

// Chmod changes the mode of the named object, following symlinks.
func (f *FS) Chmod(name string, mode fs.FileMode) error {
	return f.located("chmod", name, true, func(l *entryLoc) error {
		return f.store.Chmod(l.cpath, mode)
	})
}

// Chown changes the owner of the named object, following symlinks.
func (f *FS) Chown(name string, uid, gid int) error {
	return f.located("chown", name, true, func(l *entryLoc) error {
		return f.store.Lchown(l.cpath, uid, gid)
	})
}

// Lchown changes the owner of the named object without following a final
// symlink.
func (f *FS) Lchown(name string, uid, gid int) error {
	return f.located("lchown", name, false, func(l *entryLoc) error {
		return f.store.Lchown(l.cpath, uid, gid)
	})
}

// Chtimes changes the access and modification times, following symlinks.
// A zero time.Time leaves that time unchanged (os.Chtimes).
func (f *FS) Chtimes(name string, atime, mtime time.Time) error {
	return f.located("chtimes", name, true, func(l *entryLoc) error {
		return f.store.Lchtimes(l.cpath, atime, mtime)
	})
}

// Lchtimes is Chtimes without following a final symlink.
func (f *FS) Lchtimes(name string, atime, mtime time.Time) error {
	return f.located("lchtimes", name, false, func(l *entryLoc) error {
		return f.store.Lchtimes(l.cpath, atime, mtime)
	})
}
