// Command libsealfs is sealfs as a C library: go build
// -buildmode=c-shared -o libsealfs.so ./cmd/libsealfs writes libsealfs.so
// and libsealfs.h (-buildmode=c-archive for a static libsealfs.a). It
// offers libgocryptfs' calls (gcf_*), with their names and signatures, so
// that programs built against libgocryptfs (DroidFS) work unchanged.
package main

import "C"

import (
	"sync"

	"github.com/sealfs/sealfs"
)

func main() {}

// volume is an unlocked vault and its open files.
type volume struct {
	fs *sealfs.FS

	mu      sync.Mutex
	handles map[int]*sealfs.File
}

// registry holds the open volumes by ID. IDs are the smallest free
// numbers, as in libgocryptfs.
type registry struct {
	mu   sync.Mutex
	vols map[int]*volume
}

// volumes is the library's state: a C caller names volumes by number.
var volumes = registry{vols: map[int]*volume{}}

func (r *registry) add(v *sealfs.FS) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := 0
	for r.vols[id] != nil {
		id++
	}
	r.vols[id] = &volume{fs: v, handles: map[int]*sealfs.File{}}
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
func (r *registry) handle(sessionID, handleID int) *sealfs.File {
	vol := r.get(sessionID)
	if vol == nil {
		return nil
	}
	vol.mu.Lock()
	defer vol.mu.Unlock()
	return vol.handles[handleID]
}

func (vol *volume) addHandle(f *sealfs.File) int {
	vol.mu.Lock()
	defer vol.mu.Unlock()
	id := 0
	for vol.handles[id] != nil {
		id++
	}
	vol.handles[id] = f
	return id
}

func (vol *volume) closeHandle(id int) {
	vol.mu.Lock()
	f := vol.handles[id]
	delete(vol.handles, id)
	vol.mu.Unlock()
	if f != nil {
		f.Close()
	}
}
