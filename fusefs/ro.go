//go:build linux

package fusefs

import (
	"context"
	"errors"
	"io"
	iofs "io/fs"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/sealfs/sealfs"
	"golang.org/x/sys/unix"
)

// MountFS mounts any io/fs.FS read-only on dir (a reverse-mode view, for
// example). Files must implement io.ReaderAt; symlinks need
// fs.ReadLinkFS. Inode numbers come from FileInfo.Sys() when it is a
// *sealfs.Stat or *syscall.Stat_t.
func MountFS(dir string, fsys iofs.FS, opts *Options) (*Server, error) {
	r := newRoot(opts)
	r.ro = fsys
	r.opts.ReadOnly = true
	fi, err := iofs.Stat(fsys, ".")
	if err != nil {
		return nil, err
	}
	return mount(dir, r, &roNode{r: r}, fi, viewCacheTTL)
}

type roNode struct {
	fs.Inode
	r *root
}

var (
	_ fs.NodeLookuper    = (*roNode)(nil)
	_ fs.NodeGetattrer   = (*roNode)(nil)
	_ fs.NodeReaddirer   = (*roNode)(nil)
	_ fs.NodeOpener      = (*roNode)(nil)
	_ fs.NodeReadlinker  = (*roNode)(nil)
	_ fs.NodeGetxattrer  = (*roNode)(nil)
	_ fs.NodeListxattrer = (*roNode)(nil)
	_ fs.NodeStatfser    = (*roNode)(nil)
	_ fs.FileLseeker     = (*roHandle)(nil)
)

// StatfsFS is implemented by an io/fs.FS that can report the usage of the
// file system under it (a reverse view: its plaintext directory's), for
// statfs(2) of a MountFS mount.
type StatfsFS interface {
	Statfs() (sealfs.Statfs, error)
}

// Statfs reports what the FS reports (StatfsFS); otherwise the kernel is
// told that it has nothing to say, and statfs(2) shows zeros.
func (n *roNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	n.r.touch()
	sf, ok := n.r.ro.(StatfsFS)
	if !ok {
		return syscall.ENOSYS
	}
	st, err := sf.Statfs()
	if err != nil {
		return n.r.toErrno("statfs", ".", err)
	}
	fillStatfs(&st, out)
	return 0
}

// XattrFS is implemented by an io/fs.FS whose files have extended
// attributes (a reverse view), for getxattr and listxattr of a MountFS
// mount. errors.ErrUnsupported says that it has none at all.
type XattrFS interface {
	Listxattr(name string) ([]string, error)
	Getxattr(name, attr string) ([]byte, error)
}

// Getxattr answers from an XattrFS. Otherwise (or where it has no
// attributes) ENOSYS tells the kernel once for the whole mount (it then
// answers EOPNOTSUPP itself), instead of a round trip for every
// security.selinux and system.posix_acl_access lookup that ls -l makes
// per file. ACLs (the kernel does not enforce them on a view) and a
// missing SELinux label are EOPNOTSUPP, as on a vault mount without -acl.
func (n *roNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	xf, ok := n.r.ro.(XattrFS)
	if !ok {
		return 0, syscall.ENOSYS
	}
	n.r.touch()
	if sealfs.IsACLXattr(attr) {
		return 0, syscall.EOPNOTSUPP
	}
	p := inodePath(&n.Inode)
	v, err := xf.Getxattr(p, attr)
	if err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return 0, syscall.ENOSYS
		}
		errno := n.r.toErrno("getxattr", p, err)
		if errno == syscall.ENODATA && attr == xattrSELinux {
			errno = syscall.EOPNOTSUPP
		}
		return 0, errno
	}
	return copyXattr(v, dest)
}

// Listxattr: see Getxattr.
func (n *roNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	xf, ok := n.r.ro.(XattrFS)
	if !ok {
		return 0, syscall.ENOSYS
	}
	n.r.touch()
	p := inodePath(&n.Inode)
	attrs, err := xf.Listxattr(p)
	if err != nil {
		if errors.Is(err, errors.ErrUnsupported) {
			return 0, syscall.ENOSYS
		}
		return 0, n.r.toErrno("listxattr", p, err)
	}
	var buf []byte
	for _, a := range attrs {
		if !sealfs.IsACLXattr(a) {
			buf = append(append(buf, a...), 0)
		}
	}
	return copyXattr(buf, dest)
}

func (n *roNode) lstat(p string) (iofs.FileInfo, error) {
	if p == "." {
		return iofs.Stat(n.r.ro, ".")
	}
	return iofs.Lstat(n.r.ro, p)
}

func (n *roNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.r.touch()
	p := joinPath(inodePath(&n.Inode), name)
	fi, err := n.lstat(p)
	if err != nil {
		return nil, n.r.toErrno("lookup", p, err)
	}
	n.r.fillAttr(fi, &out.Attr)
	return n.NewInode(ctx, &roNode{r: n.r}, stable(fi)), 0
}

func (n *roNode) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.r.touch()
	p := inodePath(&n.Inode)
	fi, err := n.lstat(p)
	if err != nil {
		return n.r.toErrno("getattr", p, err)
	}
	n.r.fillAttr(fi, &out.Attr)
	return 0
}

func (n *roNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	n.r.touch()
	p := inodePath(&n.Inode)
	ents, err := iofs.ReadDir(n.r.ro, p)
	if err != nil {
		return nil, n.r.toErrno("readdir", p, err)
	}
	return fs.NewListDirStream(toDirEntries(ents)), 0
}

func (n *roNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	n.r.touch()
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY || flags&syscall.O_TRUNC != 0 {
		return nil, 0, syscall.EROFS
	}
	p := inodePath(&n.Inode)
	f, err := n.r.ro.Open(p)
	if err != nil {
		return nil, 0, n.r.toErrno("open", p, err)
	}
	ra, ok := f.(io.ReaderAt)
	if !ok {
		f.Close()
		return nil, 0, syscall.EOPNOTSUPP
	}
	n.r.open.Add(1)
	return &roHandle{f: f, ra: ra, r: n.r, name: p}, fuse.FOPEN_KEEP_CACHE | fuse.FOPEN_NOFLUSH, 0
}

func (n *roNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	n.r.touch()
	p := inodePath(&n.Inode)
	t, err := iofs.ReadLink(n.r.ro, p)
	if err != nil {
		return nil, n.r.toErrno("readlink", p, err)
	}
	if len(t) > maxLinkLen {
		// An encrypted target longer than the kernel takes in a READLINK
		// reply (it would answer EIO): the name is too long, as on a
		// local file system.
		return nil, syscall.ENAMETOOLONG
	}
	return []byte(t), 0
}

// maxLinkLen is the longest symlink target the kernel accepts from a FUSE
// server (a page, less the terminating NUL).
const maxLinkLen = 4095

type roHandle struct {
	f    iofs.File
	ra   io.ReaderAt
	r    *root
	name string
}

func (h *roHandle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.r.touch()
	n, err := h.ra.ReadAt(dest, off)
	if err != nil && err != io.EOF {
		return nil, h.r.toErrno("read", h.name, err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *roHandle) Release(ctx context.Context) syscall.Errno {
	h.r.open.Add(-1)
	h.f.Close()
	return 0
}

// Lseek answers SEEK_DATA and SEEK_HOLE as for a file that is all data: a
// view's content (reverse-mode ciphertext) has no holes, whatever holes
// its source has, and a sparse-aware copy must copy every byte.
func (h *roHandle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	h.r.touch()
	fi, err := h.f.Stat()
	if err != nil {
		return 0, h.r.toErrno("lseek", h.name, err)
	}
	size := fi.Size()
	o := int64(off)
	switch whence {
	case unix.SEEK_DATA:
		if o < 0 || o >= size {
			return 0, syscall.ENXIO
		}
		return off, 0
	case unix.SEEK_HOLE:
		if o < 0 || o >= size {
			return 0, syscall.ENXIO
		}
		return uint64(size), 0
	}
	return 0, syscall.EINVAL
}
