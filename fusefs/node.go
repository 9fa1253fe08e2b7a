//go:build linux

package fusefs

import (
	"context"
	"errors"
	"io"
	iofs "io/fs"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/store"
	"golang.org/x/sys/unix"
)

// node is a file, directory or other object of a mounted vault.
type node struct {
	fs.Inode
	r *root

	mu      sync.Mutex
	handles map[*handle]struct{} // open files of this node

	// privBits is set while the object may have its set-user-ID or
	// set-group-ID bit: with HANDLE_KILLPRIV_V2 the kernel leaves their
	// removal on writes by unprivileged callers to us.
	privBits atomic.Bool

	// gone holds the last attributes of a directory removed through the
	// mount (rmdir, or renamed over): a process that still has it open
	// (or as its working directory) gets them from fstat, with a link
	// count of 0, as from a local file system.
	gone atomic.Pointer[fuse.Attr]

	// readAt is when the file was last read through the mount (unix
	// nanoseconds), for Options.StrictAtime.
	readAt atomic.Int64
}

// strictAtime reports the last read through the mount as the access time
// where it is later than the ciphertext's (Options.StrictAtime).
func (n *node) strictAtime(a *fuse.Attr) {
	if t := n.readAt.Load(); t != 0 && t > int64(a.Atime)*1e9+int64(a.Atimensec) {
		a.Atime, a.Atimensec = uint64(t/1e9), uint32(t%1e9)
	}
}

// keepGone saves the attributes of the directory at p, which is about to
// be removed, for the child node of n named name (see gone). It returns
// the function that marks the node gone once the removal has succeeded.
func (n *node) keepGone(name, p string) func() {
	ch := n.GetChild(name)
	if ch == nil || ch.Mode()&syscall.S_IFMT != syscall.S_IFDIR {
		return func() {}
	}
	fi, err := n.r.fsys.Lstat(p)
	if err != nil {
		return func() {}
	}
	var a fuse.Attr
	n.r.fillAttr(fi, &a)
	a.Nlink = 0
	return func() {
		if cn, ok := ch.Operations().(*node); ok {
			cn.gone.Store(&a)
		}
	}
}

// noteMode remembers whether fi has privilege bits (see privBits).
func (n *node) noteMode(fi iofs.FileInfo) {
	n.privBits.Store(fi.Mode()&(iofs.ModeSetuid|iofs.ModeSetgid) != 0)
}

// unprivileged reports whether the caller of a request lacks the right to
// keep set-user-ID and set-group-ID bits when it changes a file (Linux:
// CAP_FSETID; approximated as "not root").
func unprivileged(ctx context.Context) bool {
	c, ok := fuse.FromContext(ctx)
	return ok && c.Uid != 0
}

// killPriv drops the set-user-ID bit, and the set-group-ID bit of a
// group-executable file, as Linux does when an unprivileged process writes
// to or truncates a file. The kernel does not do it for us: we negotiate
// HANDLE_KILLPRIV_V2 so that it need not ask for security.capability
// before every write.
// f is an open handle of the node, or nil to go by the node's path.
func (n *node) killPriv(f *sealfs.File) syscall.Errno {
	if !n.privBits.Load() {
		return 0
	}
	p := n.path()
	stat, chmod := func() (iofs.FileInfo, error) { return n.r.fsys.Lstat(p) }, func(m iofs.FileMode) error { return n.r.fsys.Chmod(p, m) }
	if f != nil {
		p = f.Name()
		stat, chmod = f.Stat, f.Chmod
	}
	fi, err := stat()
	if err != nil {
		return n.errno("killpriv", p, err)
	}
	mode := fi.Mode()
	drop := iofs.ModeSetuid
	if mode&0o010 != 0 {
		drop |= iofs.ModeSetgid
	}
	if mode&drop != 0 {
		keep := mode & (iofs.ModePerm | iofs.ModeSetuid | iofs.ModeSetgid | iofs.ModeSticky) &^ drop
		if err := chmod(keep); err != nil {
			return n.errno("killpriv", p, err)
		}
		mode = keep
	}
	n.privBits.Store(mode&(iofs.ModeSetuid|iofs.ModeSetgid) != 0)
	return 0
}

func (n *node) addHandle(h *handle) {
	n.mu.Lock()
	if n.handles == nil {
		n.handles = map[*handle]struct{}{}
	}
	n.handles[h] = struct{}{}
	n.mu.Unlock()
}

func (n *node) anyHandle() *handle {
	n.mu.Lock()
	defer n.mu.Unlock()
	for h := range n.handles {
		return h
	}
	return nil
}

// lstat looks the node up by its path and checks that the path still
// names this node: a node that was renamed over or unlinked keeps its last
// path in go-fuse, and another object may live there now.
func (n *node) lstat(op string) (iofs.FileInfo, syscall.Errno) {
	p := n.path()
	fi, err := n.r.fsys.Lstat(p)
	if err != nil {
		return nil, n.errno(op, p, err)
	}
	if !n.IsRoot() && stable(fi) != n.StableAttr() {
		return nil, syscall.ENOENT
	}
	return fi, 0
}

var (
	_ fs.NodeLookuper      = (*node)(nil)
	_ fs.NodeGetattrer     = (*node)(nil)
	_ fs.NodeSetattrer     = (*node)(nil)
	_ fs.NodeReaddirer     = (*node)(nil)
	_ fs.NodeOpener        = (*node)(nil)
	_ fs.NodeCreater       = (*node)(nil)
	_ fs.NodeMkdirer       = (*node)(nil)
	_ fs.NodeMknoder       = (*node)(nil)
	_ fs.NodeSymlinker     = (*node)(nil)
	_ fs.NodeLinker        = (*node)(nil)
	_ fs.NodeReadlinker    = (*node)(nil)
	_ fs.NodeUnlinker      = (*node)(nil)
	_ fs.NodeRmdirer       = (*node)(nil)
	_ fs.NodeRenamer       = (*node)(nil)
	_ fs.NodeStatfser      = (*node)(nil)
	_ fs.NodeGetxattrer    = (*node)(nil)
	_ fs.NodeSetxattrer    = (*node)(nil)
	_ fs.NodeListxattrer   = (*node)(nil)
	_ fs.NodeRemovexattrer = (*node)(nil)
)

func (n *node) path() string { return inodePath(&n.Inode) }

func (n *node) errno(op, p string, err error) syscall.Errno { return n.r.toErrno(op, p, err) }

// entry looks up child p and makes (or finds) its inode.
func (n *node) entry(ctx context.Context, p string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	fi, err := n.r.fsys.Lstat(p)
	if err != nil {
		return nil, n.errno("lookup", p, err)
	}
	n.r.fillAttr(fi, &out.Attr)
	ch := n.NewInode(ctx, &node{r: n.r}, stable(fi))
	ch.Operations().(*node).noteMode(fi)
	return ch, 0
}

func (n *node) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.r.touch()
	ch, errno := n.entry(ctx, joinPath(n.path(), name), out)
	if errno == 0 && n.r.opts.StrictAtime {
		// go-fuse keeps the node it knows for this object (ch is merged
		// into it): that one remembers the reads.
		if old := n.GetChild(name); old != nil && old.StableAttr() == ch.StableAttr() {
			if on, ok := old.Operations().(*node); ok {
				on.strictAtime(&out.Attr)
			}
		}
	}
	return ch, errno
}

func (n *node) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	n.r.touch()
	if a := n.gone.Load(); a != nil {
		out.Attr = *a
		return 0
	}
	h, ok := fh.(*handle)
	if !ok {
		// fstat(2) comes without a handle; an open file answers from its
		// descriptor (also after it was unlinked or renamed over).
		h = n.anyHandle()
	}
	if h != nil {
		fi, err := h.f.Stat()
		if err == nil {
			n.noteMode(fi)
			n.r.fillAttr(fi, &out.Attr)
			n.strictAtime(&out.Attr)
			return 0
		}
		if ok || !errors.Is(err, iofs.ErrClosed) {
			return n.errno("fstat", h.f.Name(), err)
		}
		// The borrowed handle was released meanwhile: look the path up.
	}
	fi, errno := n.lstat("getattr")
	if errno != 0 {
		return errno
	}
	n.noteMode(fi)
	n.r.fillAttr(fi, &out.Attr)
	n.strictAtime(&out.Attr)
	return 0
}

func (n *node) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	n.r.touch()
	p := n.path()
	f := n.r.fsys
	if _, isH := fh.(*handle); !isH && n.anyHandle() == nil {
		if _, errno := n.lstat("setattr"); errno != 0 {
			return errno
		}
	}
	if mode, ok := in.GetMode(); ok {
		if err := f.Chmod(p, unixToFileMode(mode)); err != nil {
			return n.errno("chmod", p, err)
		}
	}
	uid, uok := in.GetUID()
	gid, gok := in.GetGID()
	if uok || gok {
		u, g := -1, -1
		if uok {
			u = int(uid)
		}
		if gok {
			g = int(gid)
		}
		if err := f.Lchown(p, u, g); err != nil {
			return n.errno("chown", p, err)
		}
	}
	if size, ok := in.GetSize(); ok {
		h, isH := fh.(*handle)
		if _, chmod := in.GetMode(); !chmod && in.Valid&fuse.FATTR_KILL_SUIDGID != 0 {
			var f *sealfs.File
			if isH {
				f = h.f
			}
			if errno := n.killPriv(f); errno != 0 {
				return errno
			}
		}
		var err error
		if isH {
			err = h.f.Truncate(int64(size))
		} else {
			err = f.Truncate(p, int64(size))
		}
		if err != nil {
			return n.errno("truncate", p, err)
		}
	}
	at, aok := in.GetATime()
	mt, mok := in.GetMTime()
	if aok || mok {
		if err := f.Lchtimes(p, at, mt); err != nil {
			return n.errno("utimens", p, err)
		}
	}
	return n.Getattr(ctx, fh, out)
}

func unixToFileMode(m uint32) os.FileMode { return store.ModeFromUnix(m &^ syscall.S_IFMT) }

func (n *node) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	n.r.touch()
	p := n.path()
	ents, err := n.r.fsys.ReadDir(p)
	if err != nil {
		return nil, n.errno("readdir", p, err)
	}
	return fs.NewListDirStream(toDirEntries(ents)), 0
}

// openFlags turns the kernel's open flags into library flags: O_APPEND is
// dropped (the kernel sends the offsets), creation flags are handled by
// Create, and the kernel has resolved the path already, so a symlink that
// has replaced the file since must not be followed (O_NOFOLLOW: ELOOP).
func openFlags(flags uint32) int {
	return int(flags)&(syscall.O_ACCMODE|syscall.O_TRUNC) | syscall.O_NOFOLLOW
}

func (n *node) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	n.r.touch()
	p := n.path()
	f, err := n.r.fsys.OpenFile(p, openFlags(flags), 0)
	if err != nil {
		return nil, 0, n.errno("open", p, err)
	}
	// The path may name another object than this node by now (see lstat).
	fi := f.OpenInfo()
	if !n.IsRoot() && stable(fi) != n.StableAttr() {
		f.Close()
		return nil, 0, syscall.ENOENT
	}
	n.noteMode(fi)
	if flags&syscall.O_TRUNC != 0 && unprivileged(ctx) {
		if errno := n.killPriv(f); errno != 0 {
			f.Close()
			return nil, 0, errno
		}
	}
	if n.r.opts.StrictAtime && flags&syscall.O_ACCMODE != syscall.O_WRONLY {
		// Reads the page cache serves never reach the mount: an open
		// for reading counts as the access.
		n.readAt.Store(time.Now().UnixNano())
	}
	n.r.open.Add(1)
	h := &handle{f: f, r: n.r, n: n}
	n.addHandle(h)
	return h, n.r.openFlags(), 0
}

// openFlags are the FOPEN flags of every open file: no FLUSH requests
// (close has nothing to report that write and fsync did not), and the
// page cache kept across opens with KernelCache.
func (r *root) openFlags() uint32 {
	ff := uint32(fuse.FOPEN_NOFLUSH)
	if r.opts.KernelCache {
		ff |= fuse.FOPEN_KEEP_CACHE
	}
	return ff
}

// chownToCaller gives a new object (mode as created) to the calling user
// when running as root with PreserveOwner (allow_other), as a local file
// system creates it:
//   - in a set-group-ID directory it keeps the directory's group, which
//     the store gave it (and a new directory the set-group-ID bit);
//   - chown(2) clears the set-user-ID and set-group-ID bits of what is not
//     a directory, so they are put back as the caller created them (the
//     kernel has already dropped a set-group-ID bit the caller may not
//     set).
//
// Nothing changes hands when the caller is this process' user and group.
func (n *node) chownToCaller(ctx context.Context, p string, mode uint32) {
	if !n.r.opts.PreserveOwner {
		return
	}
	c, ok := fuse.FromContext(ctx)
	if !ok {
		return
	}
	uid, gid := int(c.Uid), int(c.Gid)
	if dir, err := n.r.fsys.Lstat(n.path()); err == nil && dir.Mode()&iofs.ModeSetgid != 0 {
		gid = -1
	}
	if uid == os.Geteuid() && (gid == -1 || gid == os.Getegid()) {
		return
	}
	if err := n.r.fsys.Lchown(p, uid, gid); err != nil {
		n.r.log.Warn("could not chown new object to the caller", "path", p, "err", err)
		return
	}
	typ := mode & syscall.S_IFMT
	if typ != syscall.S_IFDIR && typ != syscall.S_IFLNK && mode&(syscall.S_ISUID|syscall.S_ISGID) != 0 {
		if err := n.r.fsys.Chmod(p, unixToFileMode(mode)); err != nil {
			n.r.log.Warn("could not restore the set-user-ID/set-group-ID bits of a new object", "path", p, "err", err)
		}
	}
}

func (n *node) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	n.r.touch()
	p := joinPath(n.path(), name)
	f, err := n.r.fsys.OpenFile(p, openFlags(flags)|os.O_CREATE|os.O_EXCL, unixToFileMode(mode))
	if err != nil {
		return nil, nil, 0, n.errno("create", p, err)
	}
	n.chownToCaller(ctx, p, mode|syscall.S_IFREG)
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, 0, n.errno("create", p, err)
	}
	n.r.fillAttr(fi, &out.Attr)
	n.r.open.Add(1)
	child := &node{r: n.r}
	ch := n.NewInode(ctx, child, stable(fi))
	h := &handle{f: f, r: n.r, n: ch.Operations().(*node)}
	h.n.addHandle(h)
	h.n.noteMode(fi)
	return ch, h, n.r.openFlags(), 0
}

func (n *node) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.r.touch()
	p := joinPath(n.path(), name)
	if err := n.r.fsys.Mkdir(p, unixToFileMode(mode)); err != nil {
		return nil, n.errno("mkdir", p, err)
	}
	n.chownToCaller(ctx, p, mode|syscall.S_IFDIR)
	return n.entry(ctx, p, out)
}

func (n *node) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.r.touch()
	p := joinPath(n.path(), name)
	if err := n.r.fsys.Mknod(p, mode, uint64(dev)); err != nil {
		return nil, n.errno("mknod", p, err)
	}
	n.chownToCaller(ctx, p, mode)
	return n.entry(ctx, p, out)
}

func (n *node) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.r.touch()
	p := joinPath(n.path(), name)
	if err := n.r.fsys.Symlink(target, p); err != nil {
		return nil, n.errno("symlink", p, err)
	}
	n.chownToCaller(ctx, p, syscall.S_IFLNK)
	return n.entry(ctx, p, out)
}

func (n *node) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.r.touch()
	p := joinPath(n.path(), name)
	old := inodePath(target.EmbeddedInode())
	if err := n.r.fsys.Link(old, p); err != nil {
		return nil, n.errno("link", p, err)
	}
	return n.entry(ctx, p, out)
}

func (n *node) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	n.r.touch()
	p := n.path()
	t, err := n.r.fsys.ReadLink(p)
	if err != nil {
		return nil, n.errno("readlink", p, err)
	}
	return []byte(t), 0
}

func (n *node) Unlink(ctx context.Context, name string) syscall.Errno {
	n.r.touch()
	// The kernel has checked the type, but the ciphertext may have
	// changed behind the mount's back since: Unlink and Rmdir remove only
	// what they are asked to.
	p := joinPath(n.path(), name)
	return n.errno("unlink", p, n.r.fsys.Unlink(p))
}

func (n *node) Rmdir(ctx context.Context, name string) syscall.Errno {
	n.r.touch()
	p := joinPath(n.path(), name)
	removed := n.keepGone(name, p)
	if err := n.r.fsys.Rmdir(p); err != nil {
		return n.errno("rmdir", p, err)
	}
	removed()
	return 0
}

func (n *node) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	n.r.touch()
	oldp := joinPath(n.path(), name)
	newp := joinPath(inodePath(newParent.EmbeddedInode()), newName)
	replaced := func() {}
	if np, ok := newParent.(*node); ok && flags&unix.RENAME_EXCHANGE == 0 {
		replaced = np.keepGone(newName, newp)
	}
	if err := n.r.fsys.Rename2(oldp, newp, uint(flags)); err != nil {
		return n.errno("rename", oldp, err)
	}
	replaced()
	return 0
}

func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	n.r.touch()
	st, err := n.r.fsys.Statfs()
	if err != nil {
		return n.errno("statfs", ".", err)
	}
	fillStatfs(&st, out)
	return 0
}

// fillStatfs fills a STATFS reply.
func fillStatfs(st *sealfs.Statfs, out *fuse.StatfsOut) {
	out.Bsize = uint32(st.BlockSize)
	out.Frsize = uint32(st.BlockSize)
	out.Blocks, out.Bfree, out.Bavail = st.Blocks, st.BlocksFree, st.BlocksAvail
	out.Files, out.Ffree = st.Files, st.FilesFree
	out.NameLen = uint32(st.NameLen)
}

// copyXattr answers a get/list xattr call: the size when dest is empty,
// ERANGE when dest is too small.
func copyXattr(val []byte, dest []byte) (uint32, syscall.Errno) {
	if len(dest) == 0 {
		return uint32(len(val)), 0
	}
	if len(dest) < len(val) {
		return uint32(len(val)), syscall.ERANGE
	}
	return uint32(copy(dest, val)), 0
}

// xattrCapability holds file capabilities, which the kernel asks every
// file for when it is written (unless HANDLE_KILLPRIV_V2, which mounts
// negotiate).
const xattrCapability = "security.capability"

// xattrSELinux is the SELinux label, which tools ask every file for.
const xattrSELinux = "security.selinux"

// Getxattr answers "not supported" (EOPNOTSUPP) where the mount does not
// support the attribute: a POSIX ACL without -acl (where gocryptfs says
// ENODATA), and an SELinux label on an object that has none stored. That
// is what a local file system without ACLs or labels answers, and it
// matters for speed: "ls -l" (like cp, tar and rsync) asks every file
// for both, and stops asking on a device that says EOPNOTSUPP once,
// where ENODATA costs two round trips to the server for every file.
func (n *node) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	n.r.touch()
	if attr == xattrCapability && !n.r.suid {
		return 0, syscall.EOPNOTSUPP // see Setxattr
	}
	if !n.r.opts.ACL && sealfs.IsACLXattr(attr) {
		return 0, syscall.EOPNOTSUPP
	}
	p := n.path()
	v, err := n.r.fsys.Getxattr(p, attr)
	if err != nil {
		errno := n.errno("getxattr", p, err)
		if errno == syscall.ENODATA && attr == xattrSELinux {
			errno = syscall.EOPNOTSUPP
		}
		return 0, errno
	}
	return copyXattr(v, dest)
}

func (n *node) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	n.r.touch()
	if attr == xattrCapability && !n.r.suid {
		// File capabilities mean nothing on a nosuid mount (the
		// default): refused, as gocryptfs refuses them without -suid,
		// instead of stored and then not shown. With suid they are
		// stored encrypted like every other attribute.
		return syscall.EOPNOTSUPP
	}
	if !n.r.opts.ACL && sealfs.IsACLXattr(attr) {
		// Without -acl the mount has no ACLs: the kernel would not
		// enforce them, and stored on the ciphertext they would change
		// its mode.
		return syscall.EOPNOTSUPP
	}
	p := n.path()
	return n.errno("setxattr", p, n.r.fsys.Setxattr(p, attr, data, int(flags)))
}

func (n *node) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	n.r.touch()
	p := n.path()
	names, err := n.r.fsys.Listxattr(p)
	if err != nil {
		return 0, n.errno("listxattr", p, err)
	}
	var buf []byte
	for _, a := range names {
		if !n.r.opts.ACL && sealfs.IsACLXattr(a) {
			continue // not supported without -acl (see Getxattr)
		}
		buf = append(append(buf, a...), 0)
	}
	return copyXattr(buf, dest)
}

func (n *node) Removexattr(ctx context.Context, attr string) syscall.Errno {
	n.r.touch()
	if !n.r.opts.ACL && sealfs.IsACLXattr(attr) {
		return syscall.EOPNOTSUPP // see Setxattr
	}
	p := n.path()
	return n.errno("removexattr", p, n.r.fsys.Removexattr(p, attr))
}

// handle is an open file of a mounted vault.
type handle struct {
	f *sealfs.File
	r *root
	n *node
}

var (
	_ fs.FileReader    = (*handle)(nil)
	_ fs.FileWriter    = (*handle)(nil)
	_ fs.FileFsyncer   = (*handle)(nil)
	_ fs.FileFlusher   = (*handle)(nil)
	_ fs.FileReleaser  = (*handle)(nil)
	_ fs.FileAllocater = (*handle)(nil)
	_ fs.FileLseeker   = (*handle)(nil)
)

func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h.r.touch()
	if h.r.opts.StrictAtime {
		// After the read: the ciphertext's own access time may move too.
		defer h.n.readAt.Store(time.Now().UnixNano())
	}
	n, err := h.f.ReadAt(dest, off)
	if err != nil && err != io.EOF {
		return nil, h.r.toErrno("read", h.f.Name(), err)
	}
	return fuse.ReadResultData(dest[:n]), 0
}

func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	h.r.touch()
	if unprivileged(ctx) {
		if errno := h.n.killPriv(h.f); errno != 0 {
			return 0, errno
		}
	}
	n, err := h.f.WriteAt(data, off)
	if err != nil {
		return uint32(n), h.r.toErrno("write", h.f.Name(), err)
	}
	return uint32(n), 0
}

func (h *handle) Flush(ctx context.Context) syscall.Errno { return 0 }

func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	h.r.touch()
	return h.r.toErrno("fsync", h.f.Name(), h.f.Sync())
}

func (h *handle) Release(ctx context.Context) syscall.Errno {
	h.r.touch()
	h.r.open.Add(-1)
	h.n.mu.Lock()
	delete(h.n.handles, h)
	h.n.mu.Unlock()
	return h.r.toErrno("release", h.f.Name(), h.f.Close())
}

func (h *handle) Allocate(ctx context.Context, off uint64, size uint64, mode uint32) syscall.Errno {
	h.r.touch()
	const keepSize = 1 // FALLOC_FL_KEEP_SIZE
	if mode&^keepSize != 0 {
		return syscall.EOPNOTSUPP
	}
	// Linux clears the privilege bits on fallocate as on a write.
	if unprivileged(ctx) {
		if errno := h.n.killPriv(h.f); errno != 0 {
			return errno
		}
	}
	return h.r.toErrno("fallocate", h.f.Name(), h.f.Allocate(int64(off), int64(size), mode&keepSize != 0))
}

func (h *handle) Lseek(ctx context.Context, off uint64, whence uint32) (uint64, syscall.Errno) {
	h.r.touch()
	pos, err := h.f.Seek(int64(off), int(whence))
	if err != nil {
		return 0, h.r.toErrno("lseek", h.f.Name(), err)
	}
	return uint64(pos), 0
}
