package sealfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/store"
)

// node is the shared state of one open ciphertext inode: every handle of
// the same file (also through other hard links) uses the same content.File,
// so that the cached file header stays right, and the same lock, so that a
// read-modify-write never interleaves with another one.
type node struct {
	mu       sync.RWMutex // held for reading by ReadAt, for writing by WriteAt/Truncate
	key      nodeKey
	cf       *content.File
	backing  StoreFile
	writable bool
	extra    []StoreFile // replaced backings, closed with the node
	refs     int         // guarded by nodeTable.mu
}

type nodeKey struct{ dev, ino uint64 }

type nodeTable struct {
	enabled bool
	mu      sync.Mutex
	m       map[nodeKey]*node
}

func (t *nodeTable) init(enabled bool) {
	t.enabled = enabled
	t.m = make(map[nodeKey]*node)
}

// acquire returns the node for the freshly opened backing sf, sharing an
// existing one for the same inode, and sf's metadata. It takes ownership
// of sf.
func (f *FS) acquire(sf StoreFile, writable bool) (*node, fs.FileInfo, error) {
	fi, err := sf.Stat()
	if err != nil {
		sf.Close()
		return nil, nil, err
	}
	n, err := f.share(sf, fi, writable)
	return n, fi, err
}

func (f *FS) share(sf StoreFile, fi fs.FileInfo, writable bool) (*node, error) {
	st, ok := fi.Sys().(*Stat)
	if !ok || !f.nodes.enabled {
		return &node{cf: f.contentFile(sf, false), backing: sf, writable: writable, refs: 1}, nil
	}
	key := nodeKey{st.Dev, st.Ino}
	t := &f.nodes
	t.mu.Lock()
	defer t.mu.Unlock()
	n := t.m[key]
	if n == nil {
		n = &node{key: key, cf: f.contentFile(sf, true), backing: sf, writable: writable, refs: 1}
		// Nobody else has this node yet: the size just read is current.
		n.cf.SetCipherSize(fi.Size())
		t.m[key] = n
		return n, nil
	}
	n.refs++
	if writable && !n.writable {
		// Upgrade the shared backing to the read-write descriptor.
		n.mu.Lock()
		n.extra = append(n.extra, n.backing)
		n.backing = sf
		n.cf = f.contentFile(sf, true)
		n.writable = true
		n.mu.Unlock()
		return n, nil
	}
	sf.Close()
	return n, nil
}

// contentFile makes the content engine of an open backing. Only a File
// that every handle of the inode shares may track the size itself.
func (f *FS) contentFile(sf StoreFile, shared bool) *content.File {
	cf := f.codec.NewFile(sf)
	cf.NoPrealloc = f.opts.NoPrealloc
	cf.NoSizeCache = !shared || f.opts.SharedStorage
	return cf
}

// release drops one reference to n and closes its backing with the last.
func (f *FS) release(n *node) error {
	t := &f.nodes
	t.mu.Lock()
	n.refs--
	last := n.refs == 0
	if last && t.m[n.key] == n {
		delete(t.m, n.key)
	}
	t.mu.Unlock()
	if !last {
		return nil
	}
	err := n.backing.Close()
	for _, e := range n.extra {
		e.Close()
	}
	return err
}

// sharedRetryDelay is how long a read that failed authentication waits
// before it reads once more with SharedStorage, where another instance's
// write of the same block may have been half done.
const sharedRetryDelay = 10 * time.Millisecond

// File is an open file or directory of a vault. It implements fs.File,
// fs.ReadDirFile, io.Reader, io.Writer, io.ReaderAt, io.WriterAt and
// io.Seeker. Its methods are safe for concurrent use.
type File struct {
	fsys  *FS
	name  string // plaintext path as opened
	flag  int
	node  *node // regular files
	dir   StoreFile
	dloc  dirLoc
	other fs.FileInfo // neither file nor directory (fifo, device, ...)
	// opened is the ciphertext metadata of a regular file or directory
	// as it was opened (OpenInfo).
	opened fs.FileInfo

	mu      sync.Mutex // offset and directory state
	off     int64
	closed  atomic.Bool // read without mu by Stat and the other checkOpen callers
	entries []fs.DirEntry
	listed  bool
	dirUsed bool
}

var (
	_ fs.File            = (*File)(nil)
	_ fs.ReadDirFile     = (*File)(nil)
	_ io.ReaderAt        = (*File)(nil)
	_ io.WriterAt        = (*File)(nil)
	_ io.ReadWriteSeeker = (*File)(nil)
)

// Open opens the named file or directory for reading (fs.FS). Symlinks
// are followed within the vault.
func (f *FS) Open(name string) (fs.File, error) {
	file, err := f.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	return file, nil
}

// Create creates or truncates the named file (os.Create).
func (f *FS) Create(name string) (*File, error) {
	return f.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o666)
}

const accessModes = os.O_RDONLY | os.O_WRONLY | os.O_RDWR

// OpenFile opens the named file with flag and perm as in os.OpenFile:
// O_RDONLY, O_WRONLY or O_RDWR, optionally O_CREATE, O_EXCL, O_TRUNC,
// O_APPEND. Symlinks are followed unless O_NOFOLLOW (or O_CREATE|O_EXCL)
// is given.
func (f *FS) OpenFile(name string, flag int, perm fs.FileMode) (*File, error) {
	write := flag&accessModes != os.O_RDONLY || flag&(os.O_CREATE|os.O_TRUNC) != 0
	var err error
	if write {
		err = f.checkWrite("open", name)
	} else {
		err = f.checkPath("open", name)
	}
	if err != nil {
		return nil, err
	}
	var file *File
	err = f.retryNotDir(name, func(p string) error {
		var err error
		file, err = f.openFile(p, name, flag, perm, 0)
		return err
	})
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	return file, nil
}

func (f *FS) openFile(p, shown string, flag int, perm fs.FileMode, hops int) (*File, error) {
	l, err := f.locate(p)
	if err != nil {
		return nil, err
	}
	fi, err := f.store.Lstat(l.cpath)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if exists && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0 {
		return nil, fs.ErrExist
	}
	if exists && fi.Mode()&fs.ModeSymlink != 0 {
		if flag&store.ONoFollow != 0 {
			return nil, syscall.ELOOP
		}
		if hops >= maxSymlinkHops {
			return nil, syscall.ELOOP
		}
		real, err := f.follow(p)
		if err != nil {
			return nil, err
		}
		return f.openFile(real, shown, flag, perm, hops+1)
	}
	if !exists {
		if flag&os.O_CREATE == 0 {
			return nil, fs.ErrNotExist
		}
		file, err := f.createFile(&l, shown, flag, perm)
		if errors.Is(err, fs.ErrExist) && flag&os.O_EXCL == 0 && hops < maxSymlinkHops {
			// Someone else created it since our Lstat: open theirs.
			return f.openFile(p, shown, flag, perm, hops+1)
		}
		return file, err
	}
	switch {
	case fi.IsDir():
		if flag&accessModes != os.O_RDONLY {
			return nil, syscall.EISDIR
		}
		d, err := f.dir(p)
		if err != nil {
			return nil, err
		}
		sf, err := f.store.OpenFile(l.cpath, os.O_RDONLY|store.ODirectory, 0)
		if err != nil {
			return nil, err
		}
		return &File{fsys: f, name: shown, flag: flag, dir: sf, dloc: d, opened: fi}, nil
	case fi.Mode().IsRegular():
		return f.openRegular(&l, shown, flag, fi)
	default:
		// FIFOs, sockets and devices: only metadata is available here.
		pfi, err := f.plainInfo(&l, fi)
		if err != nil {
			return nil, err
		}
		return &File{fsys: f, name: shown, flag: flag, other: pfi}, nil
	}
}

// prefetchOnOpen is how much of a file opened for reading is asked of the
// disk at open time: the usual kernel read-ahead window.
const prefetchOnOpen = 128 << 10

// openBacking opens the ciphertext of a regular file read-only when only
// reading is asked for, else read-write (read-modify-write needs to read).
// A later writer of the same inode upgrades the shared backing (acquire).
// Opening for reading only matters: on ext4 a writable open and its close
// cost more, and the file's write count is raised for nothing.
func (f *FS) openBacking(cpath string, flag int, fi fs.FileInfo) (StoreFile, bool, error) {
	wantWrite := flag&accessModes != os.O_RDONLY || flag&os.O_TRUNC != 0
	if f.opts.ReadOnly || !wantWrite {
		sf, err := f.store.OpenFile(cpath, os.O_RDONLY, 0)
		if p, ok := sf.(store.Prefetcher); ok && err == nil {
			// A file opened to be read is read next: through a mount, a
			// round trip to the reader comes first, which the disk read
			// of the file's beginning can overlap.
			p.Prefetch(prefetchOnOpen)
		}
		return sf, false, err
	}
	sf, err := f.store.OpenFile(cpath, os.O_RDWR, 0)
	if err == nil {
		return sf, true, nil
	}
	if !isErrno(err, syscall.EACCES, syscall.EPERM, syscall.EROFS) {
		return nil, false, err
	}
	// A write-only file (no owner read bit): add read permission for the
	// moment of opening, as read-modify-write needs to read.
	if fi != nil && fi.Mode().Perm()&0o400 == 0 && isErrno(err, syscall.EACCES) {
		mode := fi.Mode().Perm() | fi.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
		if cerr := f.store.Chmod(cpath, mode|0o400); cerr == nil {
			sf, err2 := f.store.OpenFile(cpath, os.O_RDWR, 0)
			f.store.Chmod(cpath, mode)
			if err2 == nil {
				return sf, true, nil
			}
		}
	}
	return nil, false, err
}

func (f *FS) openRegular(l *entryLoc, shown string, flag int, fi fs.FileInfo) (*File, error) {
	sf, writable, err := f.openBacking(l.cpath, flag, fi)
	if err != nil {
		return nil, err
	}
	n, cfi, err := f.acquire(sf, writable)
	if err != nil {
		return nil, err
	}
	file := &File{fsys: f, name: shown, flag: flag, node: n, opened: cfi}
	if flag&os.O_TRUNC != 0 && flag&accessModes != os.O_RDONLY {
		n.mu.Lock()
		err := n.cf.Truncate(0)
		n.mu.Unlock()
		if err != nil {
			file.Close()
			return nil, err
		}
	}
	return file, nil
}

func (f *FS) createFile(l *entryLoc, shown string, flag int, perm fs.FileMode) (*File, error) {
	undo, err := f.createLongName(l)
	if err != nil {
		return nil, err
	}
	sf, err := f.store.OpenFile(l.cpath, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
	if err != nil && isErrno(err, syscall.EACCES) && perm&0o400 == 0 {
		// Creating a write-only file: create it readable, then fix the mode.
		sf, err = f.store.OpenFile(l.cpath, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm|0o400)
		if err == nil {
			f.store.Chmod(l.cpath, perm)
		}
	}
	if err != nil {
		undo()
		return nil, err
	}
	n, cfi, err := f.acquire(sf, true)
	if err != nil {
		return nil, err
	}
	return &File{fsys: f, name: shown, flag: flag, node: n, opened: cfi}, nil
}

// Name returns the path the file was opened with.
func (file *File) Name() string { return file.name }

func (file *File) checkOpen(op string) error {
	if file.closed.Load() {
		return &fs.PathError{Op: op, Path: file.name, Err: fs.ErrClosed}
	}
	return nil
}

func (file *File) canRead(op string) error {
	if file.node == nil {
		if file.dir != nil {
			return &fs.PathError{Op: op, Path: file.name, Err: syscall.EISDIR}
		}
		return &fs.PathError{Op: op, Path: file.name, Err: syscall.EINVAL}
	}
	if file.flag&accessModes == os.O_WRONLY {
		return &fs.PathError{Op: op, Path: file.name, Err: syscall.EBADF}
	}
	return nil
}

func (file *File) canWrite(op string) error {
	if file.node == nil {
		if file.dir != nil {
			return &fs.PathError{Op: op, Path: file.name, Err: syscall.EISDIR}
		}
		return &fs.PathError{Op: op, Path: file.name, Err: syscall.EINVAL}
	}
	if file.flag&accessModes == os.O_RDONLY {
		return &fs.PathError{Op: op, Path: file.name, Err: syscall.EBADF}
	}
	if file.fsys.opts.ReadOnly {
		return &fs.PathError{Op: op, Path: file.name, Err: ErrReadOnly}
	}
	return nil
}

// Read reads from the current offset.
func (file *File) Read(p []byte) (int, error) {
	file.mu.Lock()
	defer file.mu.Unlock()
	if err := file.checkOpen("read"); err != nil {
		return 0, err
	}
	n, err := file.readAt(p, file.off)
	file.off += int64(n)
	return n, err
}

// ReadAt reads len(p) bytes at offset off (io.ReaderAt). A block that
// fails authentication makes the whole read fail with an error that is
// errors.Is(err, ErrCorrupt); no bytes of it are returned.
func (file *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: file.name, Err: syscall.EINVAL}
	}
	return file.readAt(p, off)
}

func (file *File) readAt(p []byte, off int64) (int, error) {
	if err := file.canRead("read"); err != nil {
		return 0, err
	}
	n := file.node
	n.mu.RLock()
	c, err := n.cf.ReadAt(p, off)
	n.mu.RUnlock()
	if errors.Is(err, ErrCorrupt) && file.fsys.opts.SharedStorage {
		// Another instance may have been writing the block (or replaced
		// the file and its header) while it was read: what fails again
		// after a pause is corrupt.
		time.Sleep(sharedRetryDelay)
		n.mu.Lock()
		n.cf.ResetCache()
		n.mu.Unlock()
		n.mu.RLock()
		c, err = n.cf.ReadAt(p, off)
		n.mu.RUnlock()
	}
	if err != nil && err != io.EOF {
		if errors.Is(err, ErrCorrupt) {
			file.fsys.reportCorrupt(file.name, err)
		}
		return c, pathErr("read", file.name, err)
	}
	return c, err
}

// Write writes at the current offset (at the end with O_APPEND).
func (file *File) Write(p []byte) (int, error) {
	file.mu.Lock()
	defer file.mu.Unlock()
	if err := file.checkOpen("write"); err != nil {
		return 0, err
	}
	if err := file.canWrite("write"); err != nil {
		return 0, err
	}
	n := file.node
	n.mu.Lock()
	off := file.off
	if file.flag&os.O_APPEND != 0 {
		size, err := n.cf.Size()
		if err != nil {
			n.mu.Unlock()
			return 0, pathErr("write", file.name, err)
		}
		off = size
	}
	c, err := n.cf.WriteAt(p, off)
	n.mu.Unlock()
	file.off = off + int64(c)
	if err != nil {
		return c, pathErr("write", file.name, err)
	}
	return c, nil
}

// WriteAt writes len(p) bytes at offset off (io.WriterAt). As with
// os.File, it is an error on a file opened with O_APPEND.
func (file *File) WriteAt(p []byte, off int64) (int, error) {
	if err := file.canWrite("write"); err != nil {
		return 0, err
	}
	if file.flag&os.O_APPEND != 0 {
		return 0, &fs.PathError{Op: "writeat", Path: file.name, Err: errors.New("sealfs: WriteAt on a file opened with O_APPEND")}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "writeat", Path: file.name, Err: syscall.EINVAL}
	}
	return file.writeAt(p, off)
}

// writeAt writes without the O_APPEND check (for front ends that pass
// offsets computed by the kernel).
func (file *File) writeAt(p []byte, off int64) (int, error) {
	n := file.node
	n.mu.Lock()
	c, err := n.cf.WriteAt(p, off)
	n.mu.Unlock()
	if err != nil {
		return c, pathErr("write", file.name, err)
	}
	return c, nil
}

// Seek sets the offset (io.Seeker). Besides io.SeekStart, io.SeekCurrent
// and io.SeekEnd, whence may be SEEK_DATA (3) or SEEK_HOLE (4) as in
// lseek(2).
func (file *File) Seek(offset int64, whence int) (int64, error) {
	file.mu.Lock()
	defer file.mu.Unlock()
	if err := file.checkOpen("seek"); err != nil {
		return 0, err
	}
	if file.dir != nil {
		if offset == 0 && whence == io.SeekStart {
			file.entries, file.listed = nil, false
			return 0, nil
		}
		return 0, &fs.PathError{Op: "seek", Path: file.name, Err: syscall.EINVAL}
	}
	if file.node == nil {
		return 0, &fs.PathError{Op: "seek", Path: file.name, Err: syscall.ESPIPE}
	}
	var pos int64
	switch whence {
	case io.SeekStart:
		pos = offset
	case io.SeekCurrent:
		pos = file.off + offset
	case io.SeekEnd, seekData, seekHole:
		n := file.node
		n.mu.RLock()
		var err error
		switch whence {
		case io.SeekEnd:
			var size int64
			size, err = n.cf.Size()
			pos = size + offset
		case seekData:
			pos, err = n.cf.SeekData(offset)
		case seekHole:
			pos, err = n.cf.SeekHole(offset)
		}
		n.mu.RUnlock()
		if err != nil {
			return 0, pathErr("seek", file.name, err)
		}
	default:
		return 0, &fs.PathError{Op: "seek", Path: file.name, Err: syscall.EINVAL}
	}
	if pos < 0 {
		return 0, &fs.PathError{Op: "seek", Path: file.name, Err: syscall.EINVAL}
	}
	file.off = pos
	return pos, nil
}

const (
	seekData = 3
	seekHole = 4
)

// Truncate changes the size of the file. Growing leaves a sparse hole.
func (file *File) Truncate(size int64) error {
	if err := file.canWrite("truncate"); err != nil {
		return err
	}
	if size < 0 {
		return &fs.PathError{Op: "truncate", Path: file.name, Err: syscall.EINVAL}
	}
	n := file.node
	n.mu.Lock()
	err := n.cf.Truncate(size)
	n.mu.Unlock()
	return pathErr("truncate", file.name, err)
}

// Allocate reserves space (fallocate(2) modes 0 and FALLOC_FL_KEEP_SIZE).
// With keepSize false, the file grows to off+length if it is smaller.
func (file *File) Allocate(off, length int64, keepSize bool) error {
	if err := file.canWrite("allocate"); err != nil {
		return err
	}
	if off < 0 || length <= 0 {
		return &fs.PathError{Op: "allocate", Path: file.name, Err: syscall.EINVAL}
	}
	n := file.node
	n.mu.Lock()
	err := n.cf.Allocate(off, length, keepSize)
	n.mu.Unlock()
	return pathErr("allocate", file.name, err)
}

// Sync commits the file's ciphertext to stable storage.
func (file *File) Sync() error {
	if err := file.checkOpen("sync"); err != nil {
		return err
	}
	var err error
	switch {
	case file.node != nil:
		file.node.mu.RLock()
		err = file.node.backing.Sync()
		file.node.mu.RUnlock()
	case file.dir != nil:
		err = file.dir.Sync()
	}
	return pathErr("sync", file.name, err)
}

// Stat returns the file's plaintext metadata.
func (file *File) Stat() (fs.FileInfo, error) {
	if err := file.checkOpen("stat"); err != nil {
		return nil, err
	}
	_, base := splitPath(file.name)
	switch {
	case file.node != nil:
		n := file.node
		n.mu.RLock()
		fi, err := n.backing.Stat()
		n.mu.RUnlock()
		if err != nil {
			return nil, pathErr("stat", file.name, err)
		}
		return newFileInfo(base, fi, file.fsys.codec.PlainSize(fi.Size())), nil
	case file.dir != nil:
		fi, err := file.dir.Stat()
		if err != nil {
			return nil, pathErr("stat", file.name, err)
		}
		return newFileInfo(base, fi, fi.Size()), nil
	default:
		return file.other, nil
	}
}

// OpenInfo describes the file as it was when it was opened, without a
// system call. The identity it gives (Sys().(*Stat) Dev, Ino and Btime,
// where the store provides them) and the file type never change for an
// open file; its size, mode and times may have changed since: Stat gives
// the current ones.
func (file *File) OpenInfo() fs.FileInfo {
	_, base := splitPath(file.name)
	switch {
	case file.other != nil:
		return file.other
	case file.node != nil:
		return newFileInfo(base, file.opened, file.fsys.codec.PlainSize(file.opened.Size()))
	default:
		return newFileInfo(base, file.opened, file.opened.Size())
	}
}

// Chmod changes the mode of the open file.
func (file *File) Chmod(mode fs.FileMode) error {
	return file.fsys.Chmod(file.name, mode)
}

// Chown changes the owner of the open file.
func (file *File) Chown(uid, gid int) error {
	return file.fsys.Chown(file.name, uid, gid)
}

// Chtimes changes the times of the open file.
func (file *File) Chtimes(atime, mtime time.Time) error {
	return file.fsys.Chtimes(file.name, atime, mtime)
}

// Close releases the file. Closing twice returns fs.ErrClosed.
func (file *File) Close() error {
	file.mu.Lock()
	defer file.mu.Unlock()
	if file.closed.Swap(true) {
		return &fs.PathError{Op: "close", Path: file.name, Err: fs.ErrClosed}
	}
	var err error
	switch {
	case file.node != nil:
		err = file.fsys.release(file.node)
	case file.dir != nil:
		err = file.dir.Close()
	}
	return pathErr("close", file.name, err)
}
