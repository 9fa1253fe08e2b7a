package dirstore

import (
	"errors"
	"io/fs"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sealfs/sealfs/store"
)

// rootStore is the portable Store, used on systems other than Linux (and
// by the tests on Linux). It works through os.Root, which keeps every operation inside the directory
// whatever symlinks say. A Store must not follow symlinks inside it
// either, which os.Root would: every directory on the way and the last
// component where the operation would follow it are checked with Lstat
// first. (Someone changing the directory at the same time could still
// swap in a symlink between the check and the use, but only to something
// inside the directory: os.Root refuses the rest.)
type rootStore struct {
	dir    string
	root   *os.Root
	closed atomic.Bool
}

func newRootStore(dir string) (*rootStore, error) {
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &rootStore{dir: dir, root: r}, nil
}

// Close releases the directory.
func (s *rootStore) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.root.Close()
}

func (s *rootStore) String() string { return s.dir }

// check validates name and makes sure that no directory on its way is a
// symlink, and, with last, that name itself is not one.
func (s *rootStore) check(op, name string, last bool) error {
	if s.closed.Load() {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrClosed}
	}
	if name != "." && !fs.ValidPath(name) {
		return &fs.PathError{Op: op, Path: name, Err: syscall.EINVAL}
	}
	if name == "." {
		return nil
	}
	for i := 0; i < len(name); i++ {
		if name[i] != '/' {
			continue
		}
		fi, err := s.root.Lstat(name[:i])
		if err != nil {
			return &fs.PathError{Op: op, Path: name, Err: unwrapPath(err)}
		}
		if !fi.IsDir() {
			return &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
		}
	}
	if last {
		fi, err := s.root.Lstat(name)
		if err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return &fs.PathError{Op: op, Path: name, Err: syscall.ELOOP}
		}
	}
	return nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

func (s *rootStore) OpenFile(name string, flag int, perm fs.FileMode) (store.File, error) {
	// O_CREATE|O_EXCL never follows a symlink; everything else must not
	// meet one.
	excl := flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0
	if err := s.check("open", name, !excl); err != nil {
		return nil, err
	}
	f, err := s.root.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &file{File: f}, nil
}

func (s *rootStore) Lstat(name string) (fs.FileInfo, error) {
	if err := s.check("lstat", name, false); err != nil {
		return nil, err
	}
	fi, err := s.root.Lstat(name)
	if err != nil {
		return nil, err
	}
	return wrapInfo(fi), nil
}

func (s *rootStore) Mkdir(name string, perm fs.FileMode) error {
	if err := s.check("mkdir", name, false); err != nil {
		return err
	}
	return s.root.Mkdir(name, perm)
}

func (s *rootStore) Remove(name string) error {
	if err := s.check("remove", name, false); err != nil {
		return err
	}
	return s.root.Remove(name)
}

func (s *rootStore) Rename(oldname, newname string) error {
	if err := s.check("rename", oldname, false); err != nil {
		return err
	}
	if err := s.check("rename", newname, false); err != nil {
		return err
	}
	if newname == oldname {
		return nil
	}
	if strings.HasPrefix(newname, oldname+"/") {
		return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.EINVAL}
	}
	// The os package refuses to rename over a directory; POSIX replaces
	// an empty one. Do that in two steps (not atomic: the portable
	// store's limit).
	if dst, err := s.root.Lstat(newname); err == nil && dst.IsDir() {
		src, err := s.root.Lstat(oldname)
		if err != nil {
			return err
		}
		if !src.IsDir() {
			return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: syscall.EISDIR}
		}
		if err := s.root.Remove(newname); err != nil {
			return &os.LinkError{Op: "rename", Old: oldname, New: newname, Err: unwrapPath(err)}
		}
	}
	return s.root.Rename(oldname, newname)
}

func (s *rootStore) Symlink(target, name string) error {
	if err := s.check("symlink", name, false); err != nil {
		return err
	}
	return s.root.Symlink(target, name)
}

func (s *rootStore) Readlink(name string) (string, error) {
	if err := s.check("readlink", name, false); err != nil {
		return "", err
	}
	return s.root.Readlink(name)
}

func (s *rootStore) Link(oldname, newname string) error {
	if err := s.check("link", oldname, true); err != nil {
		return err
	}
	if err := s.check("link", newname, false); err != nil {
		return err
	}
	return s.root.Link(oldname, newname)
}

func (s *rootStore) Chmod(name string, mode fs.FileMode) error {
	if err := s.check("chmod", name, true); err != nil {
		return err
	}
	return s.root.Chmod(name, mode)
}

func (s *rootStore) Lchown(name string, uid, gid int) error {
	if err := s.check("lchown", name, false); err != nil {
		return err
	}
	return s.root.Lchown(name, uid, gid)
}

// Lchtimes sets the times of name. The os package cannot set the times of
// a symlink itself, so for a symlink it fails with errors.ErrUnsupported
// rather than change the target's. A zero time keeps that time.
func (s *rootStore) Lchtimes(name string, atime, mtime time.Time) error {
	if err := s.check("lchtimes", name, false); err != nil {
		return err
	}
	fi, err := s.root.Lstat(name)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return &fs.PathError{Op: "lchtimes", Path: name, Err: errors.ErrUnsupported}
	}
	if atime.IsZero() || mtime.IsZero() {
		st := wrapInfo(fi)
		if mtime.IsZero() {
			mtime = fi.ModTime()
		}
		if atime.IsZero() {
			atime = fi.ModTime()
			if x, ok := st.Sys().(*store.Stat); ok && !x.Atime.IsZero() {
				atime = x.Atime
			}
		}
	}
	return s.root.Chtimes(name, atime, mtime)
}

// file is an open file of a Store.
type file struct{ *os.File }

func (f *file) Stat() (fs.FileInfo, error) {
	fi, err := f.File.Stat()
	if err != nil {
		return nil, err
	}
	return wrapInfo(fi), nil
}

// wrapInfo gives fi a *store.Stat in Sys where the system's stat data
// allows (see sysStat).
func wrapInfo(fi fs.FileInfo) fs.FileInfo {
	st, ok := store.SysStat(fi)
	if !ok {
		return fi
	}
	return &statInfo{FileInfo: fi, st: st}
}

type statInfo struct {
	fs.FileInfo
	st store.Stat
}

func (fi *statInfo) Sys() any { return &fi.st }
