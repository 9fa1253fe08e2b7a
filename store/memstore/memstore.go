// Package memstore is an in-memory store.Store: a whole ciphertext tree
// in memory, with hard links, symlinks, extended attributes and renameat2
// flags. Tests and examples use it to run a vault without a disk; it
// behaves like dirstore, including its errno values.
package memstore

import (
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/store"
)

// Store is an in-memory sealfs.Store. It is safe for concurrent use.
type Store struct {
	mu      sync.RWMutex
	root    *inode
	nextIno uint64
}

var (
	_ sealfs.Store      = (*Store)(nil)
	_ sealfs.XattrStore = (*Store)(nil)
	_ store.Renamer2    = (*Store)(nil)
	_ store.Mknoder     = (*Store)(nil)
)

type inode struct {
	ino      uint64
	mode     uint32 // type and permission bits (unix)
	nlink    uint64
	uid, gid uint32
	rdev     uint64
	data     []byte
	target   string
	children map[string]*inode
	xattrs   map[string][]byte
	atime    time.Time
	mtime    time.Time
	ctime    time.Time
	btime    time.Time
}

func (n *inode) isDir() bool { return n.mode&syscall.S_IFMT == syscall.S_IFDIR }

// New returns an empty store (an empty root directory).
func New() *Store {
	s := &Store{}
	s.root = s.newInode(syscall.S_IFDIR | 0o755)
	s.root.nlink = 2
	return s
}

func (s *Store) newInode(mode uint32) *inode {
	s.nextIno++
	now := time.Now()
	n := &inode{ino: s.nextIno, mode: mode, nlink: 1, uid: uint32(os.Getuid()), gid: uint32(os.Getgid()),
		atime: now, mtime: now, ctime: now, btime: now}
	if n.isDir() {
		n.children = map[string]*inode{}
	}
	return n
}

func pathErr(op, name string, err error) error {
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// lookupDir walks to the parent directory of name without following
// symlinks, returning it and the last element.
func (s *Store) lookupParent(op, name string) (*inode, string, error) {
	if name == "." {
		return nil, ".", nil
	}
	if !fs.ValidPath(name) {
		return nil, "", pathErr(op, name, syscall.EINVAL)
	}
	dir, base := path.Split(name)
	d := s.root
	if dir != "" {
		for _, c := range strings.Split(strings.TrimSuffix(dir, "/"), "/") {
			n := d.children[c]
			if n == nil {
				return nil, "", pathErr(op, name, syscall.ENOENT)
			}
			if !n.isDir() {
				return nil, "", pathErr(op, name, syscall.ENOTDIR)
			}
			d = n
		}
	}
	return d, base, nil
}

func (s *Store) lookup(op, name string) (*inode, error) {
	d, base, err := s.lookupParent(op, name)
	if err != nil {
		return nil, err
	}
	if base == "." {
		return s.root, nil
	}
	n := d.children[base]
	if n == nil {
		return nil, pathErr(op, name, syscall.ENOENT)
	}
	return n, nil
}

// OpenFile opens or creates a file or directory (O_NOFOLLOW implied).
func (s *Store) OpenFile(name string, flag int, perm fs.FileMode) (sealfs.StoreFile, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, base, err := s.lookupParent("open", name)
	if err != nil {
		return nil, err
	}
	var n *inode
	if base == "." {
		n = s.root
	} else {
		n = d.children[base]
	}
	if n == nil {
		if flag&os.O_CREATE == 0 {
			return nil, pathErr("open", name, syscall.ENOENT)
		}
		n = s.newInode(syscall.S_IFREG | store.Perm(perm))
		d.children[base] = n
		d.mtime = time.Now()
	} else {
		if flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0 {
			return nil, pathErr("open", name, syscall.EEXIST)
		}
		if n.mode&syscall.S_IFMT == syscall.S_IFLNK {
			return nil, pathErr("open", name, syscall.ELOOP)
		}
		if n.isDir() && flag&(os.O_WRONLY|os.O_RDWR) != 0 {
			return nil, pathErr("open", name, syscall.EISDIR)
		}
		if flag&store.ODirectory != 0 && !n.isDir() {
			return nil, pathErr("open", name, syscall.ENOTDIR)
		}
		if flag&os.O_TRUNC != 0 && !n.isDir() {
			n.data = nil
		}
	}
	return &file{s: s, n: n, name: name, flag: flag}, nil
}

// Lstat describes name without following a symlink.
func (s *Store) Lstat(name string) (fs.FileInfo, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, err := s.lookup("lstat", name)
	if err != nil {
		return nil, err
	}
	return n.info(path.Base(name)), nil
}

// Mkdir creates a directory.
func (s *Store) Mkdir(name string, perm fs.FileMode) error {
	return s.create("mkdir", name, syscall.S_IFDIR|store.Perm(perm), func(n *inode) { n.nlink = 2 })
}

// Mknod creates a special file.
func (s *Store) Mknod(name string, mode uint32, dev uint64) error {
	return s.create("mknod", name, mode, func(n *inode) { n.rdev = dev })
}

// Symlink creates a symlink.
func (s *Store) Symlink(target, name string) error {
	return s.create("symlink", name, syscall.S_IFLNK|0o777, func(n *inode) { n.target = target })
}

func (s *Store) create(op, name string, mode uint32, init func(*inode)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, base, err := s.lookupParent(op, name)
	if err != nil {
		return err
	}
	if base == "." || d.children[base] != nil {
		return pathErr(op, name, syscall.EEXIST)
	}
	n := s.newInode(mode)
	init(n)
	d.children[base] = n
	d.mtime = time.Now()
	return nil
}

// Remove removes a file, symlink or empty directory.
func (s *Store) Remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, base, err := s.lookupParent("remove", name)
	if err != nil {
		return err
	}
	if base == "." {
		return pathErr("remove", name, syscall.EBUSY)
	}
	n := d.children[base]
	if n == nil {
		return pathErr("remove", name, syscall.ENOENT)
	}
	if n.isDir() && len(n.children) > 0 {
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	delete(d.children, base)
	n.nlink--
	d.mtime = time.Now()
	return nil
}

// Rename renames oldname to newname, replacing a file or empty directory.
func (s *Store) Rename(oldname, newname string) error {
	return s.Rename2(oldname, newname, 0)
}

// Rename2 is Rename with renameat2 flags.
func (s *Store) Rename2(oldname, newname string, flags uint) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	od, ob, err := s.lookupParent("rename", oldname)
	if err != nil {
		return err
	}
	nd, nb, err := s.lookupParent("rename", newname)
	if err != nil {
		return err
	}
	if ob == "." || nb == "." {
		return pathErr("rename", oldname, syscall.EBUSY)
	}
	on := od.children[ob]
	if on == nil {
		return pathErr("rename", oldname, syscall.ENOENT)
	}
	if on.isDir() && strings.HasPrefix(newname+"/", oldname+"/") && newname != oldname {
		return pathErr("rename", oldname, syscall.EINVAL)
	}
	nn := nd.children[nb]
	switch {
	case flags == sealfs.RenameExchange:
		if nn == nil {
			return pathErr("rename", newname, syscall.ENOENT)
		}
		od.children[ob], nd.children[nb] = nn, on
		return nil
	case flags == sealfs.RenameNoReplace:
		if nn != nil {
			return pathErr("rename", newname, syscall.EEXIST)
		}
	case flags != 0:
		return pathErr("rename", oldname, syscall.EINVAL)
	}
	if nn == on {
		return nil
	}
	if nn != nil {
		switch {
		case on.isDir() && !nn.isDir():
			return pathErr("rename", newname, syscall.ENOTDIR)
		case !on.isDir() && nn.isDir():
			return pathErr("rename", newname, syscall.EISDIR)
		case nn.isDir() && len(nn.children) > 0:
			return pathErr("rename", newname, syscall.ENOTEMPTY)
		}
		nn.nlink--
	}
	delete(od.children, ob)
	nd.children[nb] = on
	now := time.Now()
	od.mtime, nd.mtime, on.ctime = now, now, now
	return nil
}

// Readlink returns a symlink's target.
func (s *Store) Readlink(name string) (string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, err := s.lookup("readlink", name)
	if err != nil {
		return "", err
	}
	if n.mode&syscall.S_IFMT != syscall.S_IFLNK {
		return "", pathErr("readlink", name, syscall.EINVAL)
	}
	return n.target, nil
}

// Link creates a hard link.
func (s *Store) Link(oldname, newname string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	on, err := s.lookup("link", oldname)
	if err != nil {
		return err
	}
	if on.isDir() {
		return pathErr("link", oldname, syscall.EPERM)
	}
	nd, nb, err := s.lookupParent("link", newname)
	if err != nil {
		return err
	}
	if nb == "." || nd.children[nb] != nil {
		return pathErr("link", newname, syscall.EEXIST)
	}
	nd.children[nb] = on
	on.nlink++
	on.ctime = time.Now()
	return nil
}

func (s *Store) modify(op, name string, fn func(n *inode) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.lookup(op, name)
	if err != nil {
		return err
	}
	if err := fn(n); err != nil {
		return pathErr(op, name, err)
	}
	return nil
}

// Chmod sets the permission bits.
func (s *Store) Chmod(name string, mode fs.FileMode) error {
	return s.modify("chmod", name, func(n *inode) error {
		n.mode = n.mode&syscall.S_IFMT | store.Perm(mode)
		n.ctime = time.Now()
		return nil
	})
}

// Lchown sets the owner.
func (s *Store) Lchown(name string, uid, gid int) error {
	return s.modify("lchown", name, func(n *inode) error {
		if uid >= 0 {
			n.uid = uint32(uid)
		}
		if gid >= 0 {
			n.gid = uint32(gid)
		}
		return nil
	})
}

// Lchtimes sets the times; a zero time is left unchanged.
func (s *Store) Lchtimes(name string, atime, mtime time.Time) error {
	return s.modify("lchtimes", name, func(n *inode) error {
		if !atime.IsZero() {
			n.atime = atime
		}
		if !mtime.IsZero() {
			n.mtime = mtime
		}
		return nil
	})
}

// Getxattr returns an extended attribute.
func (s *Store) Getxattr(name, attr string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, err := s.lookup("getxattr", name)
	if err != nil {
		return nil, err
	}
	v, ok := n.xattrs[attr]
	if !ok {
		return nil, pathErr("getxattr", name, store.ErrNoAttr)
	}
	return slices.Clone(v), nil
}

// Setxattr sets an extended attribute (flags XATTR_CREATE=1,
// XATTR_REPLACE=2).
func (s *Store) Setxattr(name, attr string, value []byte, flags int) error {
	return s.modify("setxattr", name, func(n *inode) error {
		_, exists := n.xattrs[attr]
		if flags&1 != 0 && exists {
			return syscall.EEXIST
		}
		if flags&2 != 0 && !exists {
			return store.ErrNoAttr
		}
		if n.xattrs == nil {
			n.xattrs = map[string][]byte{}
		}
		n.xattrs[attr] = slices.Clone(value)
		return nil
	})
}

// Listxattr lists extended attribute names.
func (s *Store) Listxattr(name string) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n, err := s.lookup("listxattr", name)
	if err != nil {
		return nil, err
	}
	var out []string
	for k := range n.xattrs {
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}

// Removexattr removes an extended attribute.
func (s *Store) Removexattr(name, attr string) error {
	return s.modify("removexattr", name, func(n *inode) error {
		if _, ok := n.xattrs[attr]; !ok {
			return store.ErrNoAttr
		}
		delete(n.xattrs, attr)
		return nil
	})
}

func (n *inode) info(name string) fs.FileInfo {
	size := int64(len(n.data))
	if n.mode&syscall.S_IFMT == syscall.S_IFLNK {
		size = int64(len(n.target))
	}
	if n.isDir() {
		size = 4096
	}
	return store.NewFileInfo(name, sealfs.Stat{
		Dev: 1, Ino: n.ino, Nlink: n.nlink, Mode: n.mode, Uid: n.uid, Gid: n.gid, Rdev: n.rdev,
		Size: size, Blksize: 4096, Blocks: (size + 511) / 512,
		Atime: n.atime, Mtime: n.mtime, Ctime: n.ctime, Btime: n.btime,
	})
}

// file is an open file or directory of a Store.
type file struct {
	s      *Store
	n      *inode
	name   string
	flag   int
	closed bool
	dirPos int
}

func (f *file) check(op string, write bool) error {
	if f.closed {
		return pathErr(op, f.name, fs.ErrClosed)
	}
	if f.n.isDir() {
		return pathErr(op, f.name, syscall.EISDIR)
	}
	if write && f.flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		return pathErr(op, f.name, syscall.EBADF)
	}
	if !write && f.flag&os.O_WRONLY != 0 {
		return pathErr(op, f.name, syscall.EBADF)
	}
	return nil
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	f.s.mu.RLock()
	defer f.s.mu.RUnlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("read", f.name, syscall.EINVAL)
	}
	if off >= int64(len(f.n.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.n.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, pathErr("write", f.name, syscall.EINVAL)
	}
	if end := off + int64(len(p)); end > int64(len(f.n.data)) {
		f.n.data = append(f.n.data, make([]byte, end-int64(len(f.n.data)))...)
	}
	copy(f.n.data[off:], p)
	f.n.mtime = time.Now()
	return len(p), nil
}

func (f *file) Truncate(size int64) error {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	if err := f.check("truncate", true); err != nil {
		return err
	}
	if size < 0 {
		return pathErr("truncate", f.name, syscall.EINVAL)
	}
	if size <= int64(len(f.n.data)) {
		f.n.data = f.n.data[:size:size]
	} else {
		f.n.data = append(f.n.data, make([]byte, size-int64(len(f.n.data)))...)
	}
	f.n.mtime = time.Now()
	return nil
}

func (f *file) Stat() (fs.FileInfo, error) {
	f.s.mu.RLock()
	defer f.s.mu.RUnlock()
	return f.n.info(path.Base(f.name)), nil
}

func (f *file) Sync() error { return nil }

func (f *file) Close() error {
	if f.closed {
		return pathErr("close", f.name, fs.ErrClosed)
	}
	f.closed = true
	return nil
}

func (f *file) ReadDir(count int) ([]fs.DirEntry, error) {
	f.s.mu.RLock()
	defer f.s.mu.RUnlock()
	if !f.n.isDir() {
		return nil, pathErr("readdir", f.name, syscall.ENOTDIR)
	}
	names := make([]string, 0, len(f.n.children))
	for k := range f.n.children {
		names = append(names, k)
	}
	slices.Sort(names)
	names = names[min(f.dirPos, len(names)):]
	if count > 0 && len(names) == 0 {
		return nil, io.EOF
	}
	if count > 0 && len(names) > count {
		names = names[:count]
	}
	f.dirPos += len(names)
	out := make([]fs.DirEntry, len(names))
	for i, name := range names {
		out[i] = fs.FileInfoToDirEntry(f.n.children[name].info(name))
	}
	return out, nil
}
