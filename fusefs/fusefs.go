//go:build linux

// Package fusefs mounts a sealfs vault (read-write) or any read-only
// io/fs.FS (such as a reverse-mode view) with go-fuse. Nodes are thin:
// every operation calls the library with the node's plaintext path, and
// errors are translated in one place (toErrno).
package fusefs

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/fusefs/internal/transport"
	"github.com/sealfs/sealfs/store"
	"golang.org/x/sys/unix"
)

// Owner is a uid/gid pair.
type Owner struct{ Uid, Gid uint32 }

// Options configure a mount. The zero value mounts read-write with 1 s
// entry and attribute caching (10 s for a vault with KernelCache).
type Options struct {
	ReadOnly      bool
	AllowOther    bool // also enables default_permissions
	KernelCache   bool // keep the page cache across opens, entries and attributes 10 s
	SharedStorage bool // no entry/attribute caching
	FSName        string
	Name          string // file system type shown as fuse.NAME ("sealfs")
	EntryTimeout  time.Duration
	AttrTimeout   time.Duration
	ForceOwner    *Owner // report every object as owned by this pair
	PreserveOwner bool   // chown new objects to the calling user (root + allow_other)
	MountOptions  []string
	Logger        *slog.Logger
	Debug         bool
	IdleTimeout   time.Duration // unmount after this long unused (0: never)
	// ReadAhead is the kernel read-ahead of the mount in bytes: 0 means
	// 1 MiB (one FUSE read carries up to 256 blocks, which are decrypted
	// in parallel), a negative value leaves the kernel's default (128
	// KiB). Setting it needs write access to /sys/class/bdi (root); where
	// that fails, the default stays.
	ReadAhead int
	// ACL makes the kernel enforce POSIX ACLs (gocryptfs -acl): it checks
	// permissions itself (default_permissions) with the ACLs, which are
	// stored unencrypted on the ciphertext as gocryptfs stores them.
	ACL bool
	// IOURing serves the mount over FUSE-over-io_uring where the kernel
	// offers it (Linux 6.14 and later with the fuse module's
	// enable_uring parameter on): a queue per CPU, each answered by a
	// thread on that CPU, which spares the cross-CPU wake-ups of
	// /dev/fuse (random reads at queue depth 1 about twice as fast on
	// 2 cores). Where it is not offered, /dev/fuse serves as usual (with
	// a log line; IOURingOffered tells beforehand).
	IOURing bool
	// StrictAtime reports every open for reading and every read through
	// the mount as an access (the strictatime mount option; reads that
	// the page cache serves do not reach the mount, hence the opens): the
	// kernel leaves a FUSE file system's access times to it, and the
	// ciphertext's own move by its file system's rules (relatime,
	// mostly). The time of the last access is kept while the kernel keeps
	// the file's inode.
	StrictAtime bool
	// GoFuseReaders reads /dev/fuse with go-fuse's own reader loop, as
	// Debug does (it logs every request), instead of sealfs' loop with
	// one reader at a time (which answers a client that waits for each
	// reply on the same thread every time). For comparisons.
	GoFuseReaders bool
}

// Server is a mounted file system.
type Server struct {
	srv      *fuse.Server
	mnt      *server
	raw      *noOpendir
	ring     *transport.Ring
	dev      bool // sealfs' reader reads /dev/fuse (transport.ServeDev)
	r        *root
	idleDone chan struct{}
	once     sync.Once
}

// Wait blocks until the file system is unmounted.
func (s *Server) Wait() { s.srv.Wait() }

// Unmount unmounts the file system.
func (s *Server) Unmount() error {
	s.once.Do(func() { close(s.idleDone) })
	return s.mnt.unmount()
}

type root struct {
	suid   bool // mounted with "suid": file capabilities are kept
	fsys   *sealfs.FS
	ro     iofs.FS // for MountFS
	opts   Options
	log    *slog.Logger
	open   atomic.Int64 // open handles
	active atomic.Int64 // unix nanos of the last operation
}

func (r *root) touch() { r.active.Store(time.Now().UnixNano()) }

// toErrno is the one translation of library errors into errnos.
func (r *root) toErrno(op, path string, err error) syscall.Errno {
	if err == nil {
		return 0
	}
	// An errno, bare or in a *PathError, is most failures: answer those
	// without errors.As (whose target escapes, an allocation each time).
	if pe, ok := err.(*iofs.PathError); ok {
		if e, ok := pe.Err.(syscall.Errno); ok {
			return e
		}
	} else if e, ok := err.(syscall.Errno); ok {
		return e
	}
	var errno syscall.Errno
	switch {
	case errors.Is(err, sealfs.ErrCorrupt):
		r.log.Error("corrupt ciphertext", "op", op, "path", path, "err", err)
		return syscall.EIO
	case errors.As(err, &errno):
		if errno == syscall.EIO {
			// An I/O error the store explains (a refused upload to a
			// bucket, say): the log names the file.
			r.log.Error("I/O error", "op", op, "path", path, "err", err)
		}
		return errno
	case errors.Is(err, iofs.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, iofs.ErrExist):
		return syscall.EEXIST
	case errors.Is(err, iofs.ErrPermission):
		return syscall.EACCES
	case errors.Is(err, iofs.ErrInvalid):
		return syscall.EINVAL
	case errors.Is(err, iofs.ErrClosed):
		return syscall.EBADF
	case errors.Is(err, errors.ErrUnsupported):
		return syscall.EOPNOTSUPP
	case errors.Is(err, sealfs.ErrNameTooLong):
		return syscall.ENAMETOOLONG
	case errors.Is(err, sealfs.ErrReadOnly):
		return syscall.EROFS
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	}
	// Sentinels of the library that stand for an errno (errors.Is).
	for _, e := range []syscall.Errno{syscall.ERANGE, syscall.EBADMSG, syscall.EXDEV, syscall.ENOTEMPTY, syscall.EPERM} {
		if errors.Is(err, e) {
			return e
		}
	}
	r.log.Error("operation failed", "op", op, "path", path, "err", err)
	return syscall.EIO
}

// Default cache timeouts of the kernel's entries and attributes: 1 s, as
// gocryptfs (and libfuse) cache them, so that changes made beside the
// mount (in CIPHERDIR, by a second mount of the vault, through the
// library while mounted; the source tree of a reverse view) show within
// a second. With KernelCache, which says that nothing changes the vault
// behind the mount's back, a vault mount caches them for 10 s, which
// spares revalidation round trips (LOOKUP, GETATTR): "find | xargs
// md5sum" over 11,000 files sends 11,000 fewer LOOKUPs.
const (
	vaultCacheTTL       = time.Second
	kernelCacheVaultTTL = 10 * time.Second
	viewCacheTTL        = time.Second
)

func mountOptions(dir string, opts *Options, ttl time.Duration) *fs.Options {
	if opts.KernelCache && ttl == vaultCacheTTL {
		ttl = kernelCacheVaultTTL
	}
	entry, attr := ttl, ttl
	if opts.EntryTimeout > 0 {
		entry = opts.EntryTimeout
	}
	if opts.AttrTimeout > 0 {
		attr = opts.AttrTimeout
	}
	if opts.SharedStorage {
		entry, attr = 0, 0
	}
	neg := time.Duration(0)
	mo := fuse.MountOptions{
		AllowOther:   opts.AllowOther,
		FsName:       opts.FSName,
		Name:         opts.Name,
		Debug:        opts.Debug,
		MaxWrite:     1 << 20,
		MaxReadAhead: 1 << 20,
		Options:      append([]string{}, opts.MountOptions...),
		// The kernel would otherwise ask for security.capability before
		// every write; we clear set-user-ID/set-group-ID bits ourselves
		// (node.killPriv). Read-only mounts have nothing to clear.
		ExtraCapabilities: fuse.CAP_HANDLE_KILLPRIV_V2 | fuse.CAP_NO_EXPORT_SUPPORT,
		// File handles (name_to_handle_at) are refused with EOPNOTSUPP
		// (Linux 6.9+), so that tools fall back to paths: a handle could
		// not be opened again once the kernel has forgotten the node (a
		// path-based vault cannot find an object by inode number), and
		// open_by_handle_at would fail with ESTALE.
		// Replies carry decrypted bytes, never a descriptor to splice
		// from; go-fuse's splice attempt would only cost three system
		// calls per READ.
		DisableSplice: true,
	}
	if mo.Name == "" {
		mo.Name = "sealfs"
	}
	if mo.FsName == "" {
		mo.FsName = dir
	}
	if opts.ReadOnly {
		mo.Options = append(mo.Options, "ro")
	}
	if opts.AllowOther || opts.ACL {
		mo.Options = append(mo.Options, "default_permissions")
	}
	mo.EnableAcl = opts.ACL
	if opts.ACL && !opts.ReadOnly {
		mo.ExtraCapabilities |= fuse.CAP_DONT_MASK // see aclUmask
	}
	// NullPermissions: a mode of 0000 is reported as it is. go-fuse would
	// otherwise show 0644 (0755 for a directory), and with
	// default_permissions the kernel would let every user read a file its
	// owner made unreadable with chmod 0.
	return &fs.Options{MountOptions: mo, EntryTimeout: &entry, AttrTimeout: &attr, NegativeTimeout: &neg, NullPermissions: true}
}

func newRoot(opts *Options) *root {
	var o Options
	if opts != nil {
		o = *opts
	}
	r := &root{opts: o, log: o.Logger}
	for _, mo := range o.MountOptions {
		switch mo {
		case "suid":
			r.suid = true
		case "nosuid":
			r.suid = false
		}
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	r.touch()
	return r
}

// mount serves rootNode on dir. rootInfo describes the root directory:
// its inode number becomes the root's (go-fuse would report 0, which
// tools such as find and du take for a missing inode).
func mount(dir string, r *root, rootNode fs.InodeEmbedder, rootInfo iofs.FileInfo, ttl time.Duration) (*Server, error) {
	o := mountOptions(dir, &r.opts, ttl)
	if rootInfo != nil {
		sa := stable(rootInfo)
		o.RootStableAttr = &sa
	}
	inner := fs.NewNodeFS(rootNode, o)
	if r.opts.ACL && !r.opts.ReadOnly {
		inner = &aclUmask{RawFileSystem: inner}
	}
	// Zero-message opendir lets the kernel keep directory listings until
	// the directory's attributes time out and its mtime has changed; a
	// view (reverse mode), whose source tree changes beside it, and a
	// shared vault answer OPENDIR, so every opendir lists afresh.
	raw := newNoOpendir(inner, !r.opts.SharedStorage && r.fsys != nil)
	srv, err := newServer(raw, dir, &o.MountOptions, r)
	if err != nil {
		return nil, err
	}
	go srv.serve()
	if err := srv.waitMount(); err != nil {
		return nil, err // as fs.Mount: a loop without a mount ends by itself
	}
	s := &Server{srv: srv.Server, mnt: srv, raw: raw, ring: srv.ring, dev: srv.fd >= 0, r: r, idleDone: make(chan struct{})}
	if ra := r.opts.ReadAhead; ra >= 0 {
		if ra == 0 {
			ra = 1 << 20
		}
		if err := setReadAhead(dir, ra); err != nil {
			r.log.Debug("read-ahead left at the kernel default", "err", err)
		}
	}
	if r.opts.IdleTimeout > 0 {
		go s.idleWatch()
	}
	return s, nil
}

// setReadAhead sets the read-ahead of the mount on dir through its
// backing device info in sysfs (FUSE mounts have one bdi each, named by
// the anonymous device number of the mount).
func setReadAhead(dir string, bytes int) error {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return err
	}
	p := fmt.Sprintf("/sys/class/bdi/%d:%d/read_ahead_kb", unix.Major(st.Dev), unix.Minor(st.Dev))
	return os.WriteFile(p, []byte(strconv.Itoa(bytes>>10)), 0)
}

func (s *Server) idleWatch() {
	t := time.NewTicker(min(s.r.opts.IdleTimeout/4+time.Millisecond, time.Second))
	defer t.Stop()
	for {
		select {
		case <-s.idleDone:
			return
		case <-t.C:
			last := time.Unix(0, s.r.active.Load())
			if s.r.open.Load() == 0 && time.Since(last) >= s.r.opts.IdleTimeout {
				s.r.log.Info("idle timeout: unmounting")
				if s.mnt.unmount() == nil {
					return
				}
			}
		}
	}
}

// Mount mounts the vault fsys read-write (or read-only with
// opts.ReadOnly) on dir and serves it in the background.
//
// The modes of the objects the kernel asks to create already have the
// caller's umask applied; the serving process' umask applies once more
// when the library creates them. A program that serves mounts should run
// with umask 0 (syscall.Umask(0)), as the sealfs command does.
func Mount(dir string, fsys *sealfs.FS, opts *Options) (*Server, error) {
	r := newRoot(opts)
	r.fsys = fsys
	if fsys.ReadOnly() {
		r.opts.ReadOnly = true
	}
	fi, err := fsys.Lstat(".")
	if err != nil {
		return nil, err
	}
	return mount(dir, r, &node{r: r}, fi, vaultCacheTTL)
}

// Stable-attr helpers.

func typeBits(m iofs.FileMode) uint32 { return store.ModeToUnix(m) & syscall.S_IFMT }

func unixMode(m iofs.FileMode) uint32 { return store.ModeToUnix(m) }

func timeParts(t time.Time) (uint64, uint32) {
	if t.IsZero() {
		return 0, 0
	}
	return uint64(t.Unix()), uint32(t.Nanosecond())
}

// fillAttr fills out from a FileInfo of the library or any fs.FS.
func (r *root) fillAttr(fi iofs.FileInfo, out *fuse.Attr) {
	out.Mode = unixMode(fi.Mode())
	out.Size = uint64(fi.Size())
	out.Mtime, out.Mtimensec = timeParts(fi.ModTime())
	out.Atime, out.Atimensec = out.Mtime, out.Mtimensec
	out.Ctime, out.Ctimensec = out.Mtime, out.Mtimensec
	out.Nlink = 1
	out.Blksize = 4096
	out.Blocks = (out.Size + 511) / 512
	switch st := fi.Sys().(type) {
	case *sealfs.Stat:
		out.Ino = st.Ino
		out.Nlink = uint32(st.Nlink)
		out.Uid, out.Gid = st.Uid, st.Gid
		out.Rdev = uint32(st.Rdev)
		out.Blocks = uint64(st.Blocks)
		out.Atime, out.Atimensec = timeParts(st.Atime)
		out.Ctime, out.Ctimensec = timeParts(st.Ctime)
	case *syscall.Stat_t:
		out.Ino = st.Ino
		out.Nlink = uint32(st.Nlink)
		out.Uid, out.Gid = st.Uid, st.Gid
		out.Rdev = uint32(st.Rdev)
		out.Atime, out.Atimensec = uint64(st.Atim.Sec), uint32(st.Atim.Nsec)
		out.Ctime, out.Ctimensec = uint64(st.Ctim.Sec), uint32(st.Ctim.Nsec)
	default:
		out.Uid, out.Gid = uint32(os.Getuid()), uint32(os.Getgid())
	}
	if o := r.opts.ForceOwner; o != nil {
		out.Uid, out.Gid = o.Uid, o.Gid
	}
}

func stable(fi iofs.FileInfo) fs.StableAttr {
	sa := fs.StableAttr{Mode: typeBits(fi.Mode())}
	switch st := fi.Sys().(type) {
	case *sealfs.Stat:
		sa.Ino = st.Ino
		// The birth time tells a new object from an old one whose inode
		// number the backing file system has reused; without it go-fuse
		// would merge them into one node.
		if !st.Btime.IsZero() {
			sa.Gen = uint64(st.Btime.UnixNano())
		}
	case *syscall.Stat_t:
		sa.Ino = st.Ino
	}
	return sa
}

func joinPath(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

func inodePath(in *fs.Inode) string {
	p := in.Path(nil)
	if p == "" {
		return "."
	}
	return p
}

// toDirEntries converts a listing, with "." and ".." first as a local
// file system lists them. Entries carry their inode numbers where the
// listing knows them (sealfs.InoDirEntry); go-fuse reports the others as
// unknown (0xffffffff).
func toDirEntries(ents []iofs.DirEntry) []fuse.DirEntry {
	out := make([]fuse.DirEntry, 0, len(ents)+2)
	out = append(out, fuse.DirEntry{Name: ".", Mode: syscall.S_IFDIR}, fuse.DirEntry{Name: "..", Mode: syscall.S_IFDIR})
	for _, e := range ents {
		de := fuse.DirEntry{Name: e.Name(), Mode: typeBits(e.Type())}
		if ie, ok := e.(sealfs.InoDirEntry); ok {
			de.Ino = ie.Ino()
		}
		out = append(out, de)
	}
	return out
}
