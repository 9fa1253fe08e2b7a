// Command libsealfs is sealfs as a C library: go build
// -buildmode=c-shared -o libsealfs.so ./cmd/libsealfs writes libsealfs.so
// and libsealfs.h (-buildmode=c-archive for a static libsealfs.a). It
// offers libgocryptfs' calls (gcf_*), with their names and signatures, so
// that programs built against libgocryptfs (DroidFS) work unchanged.
package main

import "C"

import (
	"io"
	"io/fs"
	"sync"
	"syscall"
	"time"

	"github.com/sealfs/sealfs"
)

func main() {}

// handle is an open file: a *sealfs.File, or one opened with O_APPEND.
type handle interface {
	io.ReaderAt
	io.WriterAt
	io.Writer
	io.Closer
	Truncate(size int64) error
	Sync() error
	Stat() (fs.FileInfo, error)
}

// vfs is what a volume serves: a vault (*sealfs.FS behind vaultFS) or a
// reverse view (reverseFS, read-only).
type vfs interface {
	OpenFile(name string, flag int, perm fs.FileMode) (handle, error)
	ReadDir(name string) ([]fs.DirEntry, error)
	Stat(name string) (fs.FileInfo, error)
	Lstat(name string) (fs.FileInfo, error)
	Readlink(name string) (string, error)
	Getxattr(name, attr string) ([]byte, error)
	Listxattr(name string) ([]string, error)
	Statfs() (sealfs.Statfs, error)
	Close() error

	Mkdir(name string, perm fs.FileMode) error
	Rmdir(name string) error
	Unlink(name string) error
	Rename(oldname, newname string) error
	Rename2(oldname, newname string, flags uint) error
	Symlink(target, name string) error
	Link(oldname, newname string) error
	Chmod(name string, mode fs.FileMode) error
	Chown(name string, uid, gid int) error
	Chtimes(name string, atime, mtime time.Time) error
	Truncate(name string, size int64) error
	Setxattr(name, attr string, value []byte, flags int) error
	Removexattr(name, attr string) error
}

// vaultFS is a vault as a vfs.
type vaultFS struct{ *sealfs.FS }

func (v vaultFS) OpenFile(name string, flag int, perm fs.FileMode) (handle, error) {
	f, err := v.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// volume is an unlocked vault or view, its open files and its open
// directory listings.
type volume struct {
	fs vfs

	mu      sync.Mutex
	handles map[int]handle
	dirs    map[int]*listing
}

// listing is an open directory: the entries read at sealfs_opendir.
type listing struct {
	entries []fs.DirEntry
	next    int
}

// registry holds the open volumes by ID. IDs are the smallest free
// numbers, as in libgocryptfs.
type registry struct {
	mu   sync.Mutex
	vols map[int]*volume
}

// volumes is the library's state: a C caller names volumes by number.
var volumes = registry{vols: map[int]*volume{}}

// freeID is the smallest number m has no entry for (libgocryptfs numbers
// volumes and handles so).
func freeID[V any](m map[int]V) int {
	id := 0
	for {
		if _, ok := m[id]; !ok {
			return id
		}
		id++
	}
}

func (r *registry) add(v vfs) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := freeID(r.vols)
	r.vols[id] = &volume{fs: v, handles: map[int]handle{}, dirs: map[int]*listing{}}
	return id
}

func (r *registry) get(id int) *volume {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.vols[id]
}

// close closes a volume's files and the volume, which wipes its keys.
func (r *registry) close(id int) {
	r.mu.Lock()
	vol := r.vols[id]
	delete(r.vols, id)
	r.mu.Unlock()
	if vol == nil {
		return
	}
	vol.mu.Lock()
	for h, f := range vol.handles {
		f.Close()
		delete(vol.handles, h)
	}
	vol.mu.Unlock()
	vol.fs.Close()
}

// handle is the open file handleID of volume sessionID, or nil.
func (r *registry) handle(sessionID, handleID int) handle {
	vol := r.get(sessionID)
	if vol == nil {
		return nil
	}
	vol.mu.Lock()
	defer vol.mu.Unlock()
	return vol.handles[handleID]
}

func (vol *volume) addHandle(f handle) int {
	vol.mu.Lock()
	defer vol.mu.Unlock()
	id := freeID(vol.handles)
	vol.handles[id] = f
	return id
}

// closeHandle closes an open file; false if there is none of that ID.
func (vol *volume) closeHandle(id int) bool {
	vol.mu.Lock()
	f := vol.handles[id]
	delete(vol.handles, id)
	vol.mu.Unlock()
	if f == nil {
		return false
	}
	f.Close()
	return true
}

// addDir keeps a directory listing for sealfs_readdir.
func (vol *volume) addDir(des []fs.DirEntry) int {
	vol.mu.Lock()
	defer vol.mu.Unlock()
	id := freeID(vol.dirs)
	vol.dirs[id] = &listing{entries: des}
	return id
}

// nextDirEntry takes the next entry of listing id; found is false at the
// end. An entry whose name does not fit in capacity bytes (with its NUL)
// stays for the next call and gives ERANGE.
func (vol *volume) nextDirEntry(id, capacity int) (de fs.DirEntry, found bool, err error) {
	vol.mu.Lock()
	defer vol.mu.Unlock()
	l := vol.dirs[id]
	if l == nil {
		return nil, false, syscall.EBADF
	}
	if l.next >= len(l.entries) {
		return nil, false, nil
	}
	de = l.entries[l.next]
	if len(de.Name())+1 > capacity {
		return nil, false, syscall.ERANGE
	}
	l.next++
	return de, true, nil
}

// closeDir drops a listing; false if there is none of that ID.
func (vol *volume) closeDir(id int) bool {
	vol.mu.Lock()
	defer vol.mu.Unlock()
	_, ok := vol.dirs[id]
	delete(vol.dirs, id)
	return ok
}
