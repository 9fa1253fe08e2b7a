//go:build linux

package dirstore

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/sealfs/sealfs/store"
)

// Store is a store.Store in a local directory. Every operation
// resolves the parent directory of its path beneath the root without
// following symlinks (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or a
// component-by-component O_NOFOLLOW walk on kernels without openat2) and
// then acts on the last component with an *at system call.
type Store struct {
	dir       string
	rootfd    int
	noOpenat2 atomic.Bool
	closed    atomic.Bool
	fds       fdCache
	// noAtime and noDirAtime open files (directories) with O_NOATIME, so
	// that reading the vault does not move the ciphertext's access times
	// (noatime and nodiratime mounts); dropped per open where the kernel
	// refuses it (O_NOATIME needs the owner's uid or CAP_FOWNER).
	noAtime, noDirAtime bool
	chmodViaProc        bool // tests: the chmod of kernels without fchmodat2
}

// fdCache keeps O_PATH descriptors of recently used ciphertext directories,
// so that most operations are one *at system call. It holds at most
// fdCacheMax of them (as gocryptfs' directory cache), each at most
// fdCacheTTL (the vault may be changed behind our back, as gocryptfs'
// one-second directory cache assumes too): a timer closes what has
// expired, so an idle mount keeps no descriptors open beyond the root's.
// Entries are dropped at once when a rename or remove through this store
// touches them.
type fdCache struct {
	disabled bool
	mu       sync.Mutex
	m        map[string]*cachedFD
	timer    *time.Timer // runs expire while the cache is not empty
	closed   bool
}

type cachedFD struct {
	fd   int
	refs int
	dead bool
	born time.Time
}

const (
	fdCacheTTL = time.Second
	fdCacheMax = 20
)

// expire closes the entries older than fdCacheTTL and runs again while
// any are left.
func (c *fdCache) expire() {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.drop(func(_ string, e *cachedFD) bool { return now.Sub(e.born) >= fdCacheTTL })
	if len(c.m) > 0 {
		c.timer.Reset(fdCacheTTL / 2)
	} else {
		c.timer = nil
	}
}

func (c *fdCache) release(e *cachedFD) {
	c.mu.Lock()
	e.refs--
	closeIt := e.dead && e.refs == 0
	c.mu.Unlock()
	if closeIt {
		unix.Close(e.fd)
	}
}

// drop removes entries for which match is true; the caller holds c.mu.
func (c *fdCache) drop(match func(dir string, e *cachedFD) bool) {
	for dir, e := range c.m {
		if match(dir, e) {
			delete(c.m, dir)
			e.dead = true
			if e.refs == 0 {
				unix.Close(e.fd)
			}
		}
	}
}

// invalidate forgets name and every directory below it.
func (c *fdCache) invalidate(name string) {
	if c.disabled {
		return
	}
	prefix := name + "/"
	c.mu.Lock()
	if len(c.m) > 0 {
		c.drop(func(dir string, _ *cachedFD) bool { return dir == name || strings.HasPrefix(dir, prefix) })
	}
	c.mu.Unlock()
}

// closeAll empties the cache for good.
func (c *fdCache) closeAll() {
	c.mu.Lock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	c.drop(func(string, *cachedFD) bool { return true })
	c.mu.Unlock()
}

// acquireDir returns a descriptor for ciphertext directory dir and the
// cache entry to hand to releaseDir when done with it (nil: nothing to
// release).
func (s *Store) acquireDir(dir string) (int, *cachedFD, error) {
	if dir == "." || dir == "" {
		return s.rootfd, nil, nil
	}
	c := &s.fds
	if c.disabled {
		fd, err := s.openDir(dir)
		if err != nil {
			return -1, nil, err
		}
		return fd, &cachedFD{fd: fd, refs: 1, dead: true}, nil
	}
	now := time.Now()
	c.mu.Lock()
	if e := c.m[dir]; e != nil {
		if now.Sub(e.born) < fdCacheTTL {
			e.refs++
			c.mu.Unlock()
			return e.fd, e, nil
		}
		c.drop(func(d string, x *cachedFD) bool { return x == e })
	}
	c.mu.Unlock()
	fd, err := s.openDir(dir)
	if err != nil {
		return -1, nil, err
	}
	e := &cachedFD{fd: fd, refs: 1, born: now}
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]*cachedFD)
	}
	if old := c.m[dir]; old != nil {
		c.drop(func(d string, x *cachedFD) bool { return x == old })
	}
	if len(c.m) >= fdCacheMax {
		c.drop(func(_ string, x *cachedFD) bool { return now.Sub(x.born) >= fdCacheTTL || x.refs == 0 })
	}
	if len(c.m) >= fdCacheMax {
		// Every entry is in use: this one is not kept.
		e.dead = true
		c.mu.Unlock()
		return fd, e, nil
	}
	c.m[dir] = e
	if c.timer == nil && !c.closed {
		c.timer = time.AfterFunc(fdCacheTTL, c.expire)
	}
	c.mu.Unlock()
	return fd, e, nil
}

// releaseDir ends a use of a descriptor from acquireDir.
func (s *Store) releaseDir(e *cachedFD) {
	if e != nil {
		s.fds.release(e)
	}
}

// New returns a Store for the directory dir. The directory stays open
// until the Store is closed.
func New(dir string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: err}
	}
	s := &Store{dir: dir, rootfd: fd, noAtime: o.NoAtime, noDirAtime: o.NoAtime || o.NoDirAtime}
	s.fds.disabled = o.NoCache
	return s, nil
}

// Close releases the root directory handle and the cached directory
// descriptors.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.fds.closeAll()
	return unix.Close(s.rootfd)
}

func (s *Store) String() string { return s.dir }

// checkName rejects paths that are not clean relative paths.
func checkName(name string) error {
	if name == "." {
		return nil
	}
	if !fs.ValidPath(name) {
		return syscall.EINVAL
	}
	return nil
}

// pathMax is the longest path the kernel resolves in one call (PATH_MAX
// counts the terminating NUL).
const pathMax = unix.PathMax - 1

// openDir opens the directory dir (a clean relative path or ".") beneath
// the root as an O_PATH descriptor. The caller closes it unless it is
// s.rootfd.
//
// Encrypted names are longer than their plaintext, so a ciphertext path
// can pass PATH_MAX where the plaintext path does not (gocryptfs resolves
// one component at a time and has no such limit). A directory path
// longer than PATH_MAX is resolved in two steps: the prefix that leaves
// at most PATH_MAX bytes (through the descriptor cache, so a deep tree
// costs one extra lookup, not a walk), then the rest beneath it. Only the
// plaintext limits then apply.
func (s *Store) openDir(dir string) (int, error) {
	if dir == "." || dir == "" {
		return s.rootfd, nil
	}
	if len(dir) > pathMax {
		cut := len(dir) - pathMax - 1
		j := strings.IndexByte(dir[cut:], '/')
		if j <= 0 {
			return -1, unix.ENAMETOOLONG // a component longer than PATH_MAX
		}
		prefix, rest := dir[:cut+j], dir[cut+j+1:]
		pfd, e, err := s.acquireDir(prefix)
		if err != nil {
			return -1, err
		}
		defer s.releaseDir(e)
		return s.openBeneath(pfd, rest)
	}
	return s.openBeneath(s.rootfd, dir)
}

// openBeneath opens the directory rel (at most PATH_MAX bytes) beneath the
// directory descriptor base without following symlinks.
func (s *Store) openBeneath(base int, rel string) (int, error) {
	if !s.noOpenat2.Load() {
		fd, err := unix.Openat2(base, rel, &unix.OpenHow{
			Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
			Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
		})
		if err == nil {
			return fd, nil
		}
		if err != unix.ENOSYS && err != unix.EPERM {
			if err == unix.ELOOP {
				// A symlink where a directory was expected.
				return -1, unix.ENOTDIR
			}
			return -1, err
		}
		s.noOpenat2.Store(true)
	}
	fd := base
	for _, comp := range strings.Split(rel, "/") {
		nfd, err := unix.Openat(fd, comp, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if fd != base {
			unix.Close(fd)
		}
		if err != nil {
			if err == unix.ELOOP {
				err = unix.ENOTDIR
			}
			return -1, err
		}
		fd = nfd
	}
	return fd, nil
}

// at runs fn with a descriptor of name's parent directory and name's last
// component ("." for the root itself).
func (s *Store) at(op, name string, fn func(dirfd int, base string) error) error {
	if s.closed.Load() {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrClosed}
	}
	if err := checkName(name); err != nil {
		return &fs.PathError{Op: op, Path: name, Err: err}
	}
	dir, base := path.Split(name)
	if name == "." {
		dir, base = ".", "."
	}
	dir = strings.TrimSuffix(dir, "/")
	fd, e, err := s.acquireDir(dir)
	if err != nil {
		return &fs.PathError{Op: op, Path: name, Err: err}
	}
	defer s.releaseDir(e)
	if err := fn(fd, base); err != nil {
		return &fs.PathError{Op: op, Path: name, Err: err}
	}
	return nil
}

// at2 is at for operations on two paths.
func (s *Store) at2(op, oldname, newname string, fn func(oldfd int, oldbase string, newfd int, newbase string) error) error {
	return s.at(op, oldname, func(oldfd int, oldbase string) error {
		var inner error
		err := s.at(op, newname, func(newfd int, newbase string) error {
			inner = fn(oldfd, oldbase, newfd, newbase)
			return nil
		})
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return pe.Err
			}
			return err
		}
		return inner
	})
}

func (s *Store) OpenFile(name string, flag int, perm fs.FileMode) (store.File, error) {
	var f *dirFile
	if s.noAtime || s.noDirAtime && flag&unix.O_DIRECTORY != 0 {
		flag |= unix.O_NOATIME
	}
	err := s.at("open", name, func(dirfd int, base string) error {
		fd, err := unix.Openat(dirfd, base, flag|unix.O_NOFOLLOW|unix.O_CLOEXEC, store.Perm(perm))
		if err == unix.EPERM && flag&unix.O_NOATIME != 0 {
			fd, err = unix.Openat(dirfd, base, flag&^unix.O_NOATIME|unix.O_NOFOLLOW|unix.O_CLOEXEC, store.Perm(perm))
		}
		if err != nil {
			return err
		}
		f = &dirFile{File: os.NewFile(uintptr(fd), name), fd: fd, s: s}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (s *Store) Lstat(name string) (fs.FileInfo, error) {
	var fi fs.FileInfo
	err := s.at("lstat", name, func(dirfd int, base string) error {
		st, err := statAt(dirfd, base, unix.AT_SYMLINK_NOFOLLOW)
		if err != nil {
			return err
		}
		fi = store.NewFileInfo(path.Base(name), st)
		return nil
	})
	return fi, err
}

func (s *Store) Mkdir(name string, perm fs.FileMode) error {
	return s.at("mkdir", name, func(dirfd int, base string) error {
		return unix.Mkdirat(dirfd, base, store.Perm(perm))
	})
}

func (s *Store) Remove(name string) error {
	defer s.fds.invalidate(name)
	return s.at("remove", name, func(dirfd int, base string) error {
		err := unix.Unlinkat(dirfd, base, 0)
		if err == unix.EISDIR || err == unix.EPERM {
			if err2 := unix.Unlinkat(dirfd, base, unix.AT_REMOVEDIR); err2 != unix.ENOTDIR {
				return err2
			}
		}
		return err
	})
}

// RemoveFile removes a non-directory: one unlinkat, and no directory
// descriptor to forget.
func (s *Store) RemoveFile(name string) error {
	return s.at("remove", name, func(dirfd int, base string) error {
		return unix.Unlinkat(dirfd, base, 0)
	})
}

// RemoveDir removes an empty directory: one unlinkat, which never removes
// anything else.
func (s *Store) RemoveDir(name string) error {
	defer s.fds.invalidate(name)
	return s.at("remove", name, func(dirfd int, base string) error {
		return unix.Unlinkat(dirfd, base, unix.AT_REMOVEDIR)
	})
}

func (s *Store) Rename(oldname, newname string) error {
	defer s.fds.invalidate(oldname)
	defer s.fds.invalidate(newname)
	return s.at2("rename", oldname, newname, func(oldfd int, oldbase string, newfd int, newbase string) error {
		return unix.Renameat(oldfd, oldbase, newfd, newbase)
	})
}

func (s *Store) Rename2(oldname, newname string, flags uint) error {
	defer s.fds.invalidate(oldname)
	defer s.fds.invalidate(newname)
	return s.at2("rename", oldname, newname, func(oldfd int, oldbase string, newfd int, newbase string) error {
		return unix.Renameat2(oldfd, oldbase, newfd, newbase, flags)
	})
}

func (s *Store) Symlink(target, name string) error {
	return s.at("symlink", name, func(dirfd int, base string) error {
		return unix.Symlinkat(target, dirfd, base)
	})
}

func (s *Store) Readlink(name string) (string, error) {
	var target string
	err := s.at("readlink", name, func(dirfd int, base string) error {
		for size := 256; ; size *= 2 {
			buf := make([]byte, size)
			n, err := unix.Readlinkat(dirfd, base, buf)
			if err != nil {
				return err
			}
			if n < size {
				target = string(buf[:n])
				return nil
			}
			if size > 1<<16 {
				return unix.ENAMETOOLONG
			}
		}
	})
	return target, err
}

func (s *Store) Link(oldname, newname string) error {
	return s.at2("link", oldname, newname, func(oldfd int, oldbase string, newfd int, newbase string) error {
		return unix.Linkat(oldfd, oldbase, newfd, newbase, 0)
	})
}

func (s *Store) Chmod(name string, mode fs.FileMode) error {
	return s.at("chmod", name, func(dirfd int, base string) error {
		// Never through a symlink: a hostile vault could point one at
		// a file outside it. fchmodat2 (Linux 6.6) refuses symlinks
		// itself; before it, chmod the object pinned by an O_PATH
		// descriptor through its /proc/self/fd link, once fstat has
		// shown it is not a symlink.
		if !s.chmodViaProc {
			err := unix.Fchmodat(dirfd, base, store.Perm(mode), unix.AT_SYMLINK_NOFOLLOW)
			if err != unix.EOPNOTSUPP {
				return err
			}
		}
		fd, err := unix.Openat(dirfd, base, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return err
		}
		if st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return unix.EOPNOTSUPP
		}
		return unix.Chmod("/proc/self/fd/"+strconv.Itoa(fd), store.Perm(mode))
	})
}

func (s *Store) Lchown(name string, uid, gid int) error {
	return s.at("lchown", name, func(dirfd int, base string) error {
		return unix.Fchownat(dirfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW)
	})
}

func (s *Store) Lchtimes(name string, atime, mtime time.Time) error {
	return s.at("lchtimes", name, func(dirfd int, base string) error {
		ts := []unix.Timespec{timespec(atime), timespec(mtime)}
		return unix.UtimesNanoAt(dirfd, base, ts, unix.AT_SYMLINK_NOFOLLOW)
	})
}

func timespec(t time.Time) unix.Timespec {
	if t.IsZero() {
		return unix.Timespec{Sec: 0, Nsec: unix.UTIME_OMIT}
	}
	return unix.NsecToTimespec(t.UnixNano())
}

func (s *Store) Mknod(name string, mode uint32, dev uint64) error {
	return s.at("mknod", name, func(dirfd int, base string) error {
		return unix.Mknodat(dirfd, base, mode, int(dev))
	})
}

// procPath names base inside the directory dirfd through /proc, so that the
// l*xattr calls (which have no *at variants) act on exactly the object the
// descriptor resolved, without following a final symlink.
func (s *Store) procPath(dirfd int, base string) string {
	return "/proc/self/fd/" + strconv.Itoa(dirfd) + "/" + base
}

// xattrArgs is struct xattr_args of getxattrat(2).
type xattrArgs struct {
	value uint64
	size  uint32
	flags uint32
}

// noXattrat is set once the kernel has said it lacks getxattrat and
// listxattrat (Linux < 6.13); /proc paths are used then.
var noXattrat atomic.Bool

// xattrAt runs call, an *xattrat(2) system call on base in dirfd, or
// fallback (the l*xattr call on a /proc path) where the kernel lacks it.
func xattrAt(base string, call func(p *byte) (uintptr, unix.Errno), fallback func() (int, error)) (int, error) {
	if !noXattrat.Load() {
		p, err := unix.BytePtrFromString(base)
		if err != nil {
			return 0, err
		}
		if n, err, ok := xattratResult(call(p)); ok {
			return n, err
		}
	}
	return fallback()
}

// xattratResult turns the result of an *xattrat(2) call into Go's; ok is
// false (and noXattrat set) when the kernel lacks the call.
func xattratResult(r uintptr, e unix.Errno) (n int, err error, ok bool) {
	switch e {
	case 0:
		return int(r), nil, true
	case unix.ENOSYS:
		noXattrat.Store(true)
		return 0, nil, false
	}
	return 0, e, true
}

// cstr is a NUL-terminated copy of a short string, made on the caller's
// stack (names and attribute names are at most 255 bytes).
type cstr [256]byte

// set fills c with s; false when s does not fit or holds a NUL.
func (c *cstr) set(s string) bool {
	if len(s) >= len(c) || strings.IndexByte(s, 0) >= 0 {
		return false
	}
	c[copy(c[:], s)] = 0
	return true
}

// lgetxattrAt is lgetxattr of base in directory dirfd: getxattrat(2),
// which needs no /proc path lookup, where the kernel has it.
func (s *Store) lgetxattrAt(dirfd int, base, attr string, buf []byte) (int, error) {
	var b, a cstr
	if !noXattrat.Load() && b.set(base) && a.set(attr) {
		args := xattrArgs{size: uint32(len(buf))}
		if len(buf) > 0 {
			args.value = uint64(uintptr(unsafe.Pointer(&buf[0])))
		}
		r, _, e := unix.Syscall6(unix.SYS_GETXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(&b[0])), unix.AT_SYMLINK_NOFOLLOW,
			uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&args)), unsafe.Sizeof(args))
		runtime.KeepAlive(buf)
		if n, err, ok := xattratResult(r, e); ok {
			return n, err
		}
	}
	return unix.Lgetxattr(s.procPath(dirfd, base), attr, buf)
}

// llistxattrAt is llistxattr of base in directory dirfd (listxattrat(2)
// where the kernel has it).
func (s *Store) llistxattrAt(dirfd int, base string, buf []byte) (int, error) {
	return xattrAt(base, func(p *byte) (uintptr, unix.Errno) {
		var bp unsafe.Pointer
		if len(buf) > 0 {
			bp = unsafe.Pointer(&buf[0])
		}
		r, _, e := unix.Syscall6(unix.SYS_LISTXATTRAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)), unix.AT_SYMLINK_NOFOLLOW,
			uintptr(bp), uintptr(len(buf)), 0)
		runtime.KeepAlive(buf)
		return r, e
	}, func() (int, error) { return unix.Llistxattr(s.procPath(dirfd, base), buf) })
}

// xattrBufs are the first buffers of Getxattr: most attributes fit, and
// most lookups (security.selinux, ACLs of files without any) find none.
var xattrBufs = sync.Pool{New: func() any { return new([4096]byte) }}

func (s *Store) Getxattr(name, attr string) ([]byte, error) {
	var val []byte
	err := s.at("getxattr", name, func(dirfd int, base string) error {
		first := xattrBufs.Get().(*[4096]byte)
		defer xattrBufs.Put(first)
		buf := first[:]
		for {
			n, err := s.lgetxattrAt(dirfd, base, attr, buf)
			if err == unix.ERANGE && len(buf) < 1<<20 {
				buf = make([]byte, 4*len(buf))
				continue
			}
			if err != nil {
				return err
			}
			val = bytes.Clone(buf[:n]) // not nil: buf is not
			return nil
		}
	})
	return val, err
}

func (s *Store) Setxattr(name, attr string, value []byte, flags int) error {
	return s.at("setxattr", name, func(dirfd int, base string) error {
		return unix.Lsetxattr(s.procPath(dirfd, base), attr, value, flags)
	})
}

func (s *Store) Listxattr(name string) ([]string, error) {
	var list []string
	err := s.at("listxattr", name, func(dirfd int, base string) error {
		for size := 1024; ; size *= 4 {
			buf := make([]byte, size)
			n, err := s.llistxattrAt(dirfd, base, buf)
			if err == unix.ERANGE && size < 1<<20 {
				continue
			}
			if err != nil {
				return err
			}
			for _, a := range strings.Split(string(buf[:n]), "\x00") {
				if a != "" {
					list = append(list, a)
				}
			}
			return nil
		}
	})
	return list, err
}

func (s *Store) Removexattr(name, attr string) error {
	return s.at("removexattr", name, func(dirfd int, base string) error {
		return unix.Lremovexattr(s.procPath(dirfd, base), attr)
	})
}

func (s *Store) Statfs() (store.Statfs, error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(s.rootfd, &st); err != nil {
		return store.Statfs{}, &fs.PathError{Op: "statfs", Path: s.dir, Err: err}
	}
	return store.Statfs{
		BlockSize:   int64(st.Bsize),
		Blocks:      st.Blocks,
		BlocksFree:  st.Bfree,
		BlocksAvail: st.Bavail,
		Files:       st.Files,
		FilesFree:   st.Ffree,
		NameLen:     int64(st.Namelen),
	}, nil
}

// dirFile is an open file of a Store.
type dirFile struct {
	*os.File
	fd int
	s  *Store

	dbuf, dents []byte // ReadDir: getdents64 buffer and what is left of it
}

// Stat describes the open file with a *Stat in Sys(), like Store.Lstat.
func (f *dirFile) Stat() (fs.FileInfo, error) {
	st, err := statAt(f.fd, "", unix.AT_EMPTY_PATH)
	if err != nil {
		return nil, &fs.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	return store.NewFileInfo(path.Base(f.Name()), st), nil
}

var (
	_ store.DirRemover  = (*Store)(nil)
	_ store.FileRemover = (*Store)(nil)
	_ store.Renamer2    = (*Store)(nil)
	_ store.Mknoder     = (*Store)(nil)
	_ store.XattrStore  = (*Store)(nil)
	_ store.Statfser    = (*Store)(nil)
	_ store.Prefetcher  = (*dirFile)(nil)
	_ store.Allocator   = (*dirFile)(nil)
	_ store.Seeker      = (*dirFile)(nil)
	_ store.HolePuncher = (*dirFile)(nil)
	_ store.FileXattrer = (*dirFile)(nil)
)

// Listxattr lists the file's extended attributes (flistxattr).
func (f *dirFile) Listxattr() ([]string, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Flistxattr(f.fd, buf)
		if err == unix.ERANGE && size < 1<<20 {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "flistxattr", Path: f.Name(), Err: err}
		}
		var list []string
		for _, a := range strings.Split(string(buf[:n]), "\x00") {
			if a != "" {
				list = append(list, a)
			}
		}
		return list, nil
	}
}

// Getxattr returns the value of one of the file's extended attributes
// (fgetxattr).
func (f *dirFile) Getxattr(attr string) ([]byte, error) {
	for size := 256; ; size *= 4 {
		buf := make([]byte, size)
		n, err := unix.Fgetxattr(f.fd, attr, buf)
		if err == unix.ERANGE && size < 1<<20 {
			continue
		}
		if err != nil {
			return nil, &fs.PathError{Op: "fgetxattr", Path: f.Name(), Err: err}
		}
		return buf[:n], nil
	}
}

// Prefetch starts the disk read of the first n bytes (POSIX_FADV_WILLNEED;
// nothing happens for what is cached).
func (f *dirFile) Prefetch(n int64) {
	_ = unix.Fadvise(f.fd, 0, n, unix.FADV_WILLNEED)
}

// Allocate reserves ciphertext space without changing the file size.
func (f *dirFile) Allocate(off, length int64) error {
	return unix.Fallocate(f.fd, unix.FALLOC_FL_KEEP_SIZE, off, length)
}

// PunchHole deallocates a range, which then reads as zeros, without
// changing the file size.
func (f *dirFile) PunchHole(off, length int64) error {
	return unix.Fallocate(f.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, length)
}

// SeekData returns the offset of the next data at or after off (SEEK_DATA).
func (f *dirFile) SeekData(off int64) (int64, error) {
	return unix.Seek(f.fd, off, unix.SEEK_DATA)
}

// SeekHole returns the offset of the next hole at or after off (SEEK_HOLE).
func (f *dirFile) SeekHole(off int64) (int64, error) {
	return unix.Seek(f.fd, off, unix.SEEK_HOLE)
}

// Fd returns the descriptor without switching it to blocking mode.
func (f *dirFile) RawFd() int { return f.fd }

// statAt is statx(2) with the birth time (which tells a new object from
// an old one that had the same inode number), falling back to fstatat(2).
func statAt(dirfd int, name string, flags int) (store.Stat, error) {
	var x unix.Statx_t
	err := unix.Statx(dirfd, name, flags|unix.AT_STATX_SYNC_AS_STAT, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &x)
	if err == nil {
		ts := func(t unix.StatxTimestamp) time.Time { return time.Unix(t.Sec, int64(t.Nsec)) }
		st := store.Stat{
			Dev: unix.Mkdev(x.Dev_major, x.Dev_minor), Ino: x.Ino, Nlink: uint64(x.Nlink), Mode: uint32(x.Mode),
			Uid: x.Uid, Gid: x.Gid, Rdev: unix.Mkdev(x.Rdev_major, x.Rdev_minor), Size: int64(x.Size),
			Blksize: int64(x.Blksize), Blocks: int64(x.Blocks),
			Atime: ts(x.Atime), Mtime: ts(x.Mtime), Ctime: ts(x.Ctime),
		}
		if x.Mask&unix.STATX_BTIME != 0 {
			st.Btime = ts(x.Btime)
		}
		return st, nil
	}
	if err != unix.ENOSYS {
		return store.Stat{}, err
	}
	var u unix.Stat_t
	if name == "" {
		err = unix.Fstat(dirfd, &u)
	} else {
		err = unix.Fstatat(dirfd, name, &u, flags)
	}
	if err != nil {
		return store.Stat{}, err
	}
	return store.Stat{
		Dev: u.Dev, Ino: u.Ino, Nlink: uint64(u.Nlink), Mode: u.Mode,
		Uid: u.Uid, Gid: u.Gid, Rdev: u.Rdev, Size: u.Size,
		Blksize: int64(u.Blksize), Blocks: u.Blocks,
		Atime: time.Unix(u.Atim.Unix()), Mtime: time.Unix(u.Mtim.Unix()), Ctime: time.Unix(u.Ctim.Unix()),
	}, nil
}
