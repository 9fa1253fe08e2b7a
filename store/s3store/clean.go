package s3store

import (
	"container/list"
	"os"
	"path/filepath"
	"sync"
)

// cleanCopies keeps the local files of objects this Store wrote after
// their upload: a file read again while the bucket still has that
// version (the lookup's ETag and size match) is read from the disk, as
// rclone's VFS cache does. They take at most Options.CacheMaxSize
// bytes, the least recently used going first, and do not outlive the
// Store (a new Store removes what it finds of them, see recover).
type cleanCopies struct {
	mu    sync.Mutex
	dir   string // the cache's "files" folder
	max   int64
	size  int64
	m     map[string]*list.Element // by key, of *cleanCopy
	order list.List                // most recently used first
}

type cleanCopy struct {
	key, id, etag string
	size          int64
}

// keep takes the local file of a closed, uploaded entry whose parts are
// all local (e.mu held); it reports whether it did, and the entry's file
// is then the copy's.
func (c *cleanCopies) keep(e *entry) bool {
	if c.max <= 0 || e.local == nil || e.dirty || e.gone || e.conflict != nil || e.base == "" || e.size > c.max {
		return false
	}
	for i := int64(0); i*e.partSize() < e.size; i++ {
		if e.parts[i] == 0 {
			return false
		}
	}
	if e.local.Close() != nil {
		return false
	}
	e.local = nil
	e.parts = nil
	e.released = true
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(e.key)
	if c.m == nil {
		c.m = map[string]*list.Element{}
	}
	c.m[e.key] = c.order.PushFront(&cleanCopy{key: e.key, id: e.id, etag: e.base, size: e.size})
	c.size += e.size
	for c.size > c.max {
		c.removeLocked(c.order.Back().Value.(*cleanCopy).key)
	}
	return true
}

// take hands the copy of the version etag (of size bytes) of key over to
// a new entry: its id, whose local file holds the whole object. A copy of
// another version is removed.
func (c *cleanCopies) take(key, etag string, size int64) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[key]
	if !ok {
		return "", false
	}
	cp := el.Value.(*cleanCopy)
	if !sameETag(cp.etag, etag) || cp.size != size {
		c.removeLocked(key)
		return "", false
	}
	c.order.Remove(el)
	delete(c.m, key)
	c.size -= cp.size
	return cp.id, true
}

// remove deletes the copy of key, if there is one.
func (c *cleanCopies) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.removeLocked(key)
}

func (c *cleanCopies) removeLocked(key string) {
	el, ok := c.m[key]
	if !ok {
		return
	}
	cp := el.Value.(*cleanCopy)
	c.order.Remove(el)
	delete(c.m, key)
	c.size -= cp.size
	os.Remove(filepath.Join(c.dir, cp.id))
}

// removeAll deletes every copy (Close).
func (c *cleanCopies) removeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		c.removeLocked(k)
	}
}

// fromCopy makes a new entry of the version oi of its object read from
// a clean copy, if there is one (e.mu held). An entry that has a local
// file already (another file of it was faster) keeps it.
func (e *entry) fromCopy(oi objInfo) {
	if e.local != nil || e.dirty {
		return
	}
	id, ok := e.s.clean.take(e.key, oi.etag, oi.size)
	if !ok {
		return
	}
	f, err := os.OpenFile(filepath.Join(e.s.clean.dir, id), os.O_RDWR, 0)
	if err != nil {
		os.Remove(filepath.Join(e.s.clean.dir, id))
		return
	}
	e.id, e.local, e.parts = id, f, map[int64]partState{}
	for i := int64(0); i*e.partSize() < oi.size; i++ {
		e.parts[i] = partLocal
	}
}
