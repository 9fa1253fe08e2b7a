//go:build linux

package fusefs

import (
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// Zero-message opendir.
//
// Every opendir(2) on a FUSE mount costs two round trips to the server,
// OPENDIR and RELEASEDIR, around the READDIRPLUS requests that do the
// work: a third of all requests of "rm -rf" over a source tree, a tenth
// of "ls -lR". Since Linux 5.1 a server may answer OPENDIR with ENOSYS
// (the kernel announces it with FUSE_NO_OPENDIR_SUPPORT); the kernel then
// stops sending OPENDIR and RELEASEDIR for the life of the mount, reads
// every directory with handle 0, and keeps the listings it read in its
// directory cache, which it checks against the directory's modification
// time once the directory's attributes have timed out.
//
// go-fuse's node bridge wants a handle of its own for every directory
// stream, so noOpendir gives it one behind the kernel's back: the first
// READDIRPLUS of a listing (offset 0) opens a bridge handle, which lists
// the directory once; the following READDIRPLUS of that listing (the
// offset the previous one ended at) continue it; the read that finds
// nothing more releases it. A listing the caller abandons half way keeps
// its handle until the kernel forgets the directory or the handle is
// evicted (at most maxCursors are kept); a later read at an offset no
// handle holds opens a fresh one and seeks to the offset.
type noOpendir struct {
	fuse.RawFileSystem
	want    bool // asked for (not with -sharedstorage)
	enabled bool // and the kernel supports it (set by Init)

	mu      sync.Mutex
	seq     uint64
	count   int
	cursors map[uint64][]*dirCursor // by node ID
}

// dirCursor is a bridge directory handle and where its last read began
// and ended.
type dirCursor struct {
	fh         uint64
	start, end uint64
	seq        uint64
}

// maxCursors bounds the handles of half-read listings (each holds the
// listing of its directory).
const maxCursors = 64

func newNoOpendir(raw fuse.RawFileSystem, want bool) *noOpendir {
	return &noOpendir{RawFileSystem: raw, want: want, cursors: map[uint64][]*dirCursor{}}
}

func (z *noOpendir) Init(s *fuse.Server) {
	z.RawFileSystem.Init(s)
	z.enabled = z.want && s.KernelSettings().Flags64()&fuse.CAP_NO_OPENDIR_SUPPORT != 0
}

func (z *noOpendir) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	if z.enabled {
		return fuse.ENOSYS
	}
	return z.RawFileSystem.OpenDir(cancel, in, out)
}

func (z *noOpendir) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	return z.read(cancel, in, out, z.RawFileSystem.ReadDirPlus)
}

func (z *noOpendir) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	return z.read(cancel, in, out, z.RawFileSystem.ReadDir)
}

func (z *noOpendir) read(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList, next func(<-chan struct{}, *fuse.ReadIn, *fuse.DirEntryList) fuse.Status) fuse.Status {
	if in.Fh != 0 || !z.enabled {
		return next(cancel, in, out)
	}
	c := z.take(in.NodeId, in.Offset)
	fresh := c == nil
	if fresh {
		var oo fuse.OpenOut
		oi := fuse.OpenIn{InHeader: in.InHeader, Flags: syscall.O_RDONLY | syscall.O_DIRECTORY}
		if st := z.RawFileSystem.OpenDir(cancel, &oi, &oo); !st.Ok() {
			return st
		}
		c = &dirCursor{fh: oo.Fh}
	}
	r := *in
	r.Fh = c.fh
	st := next(cancel, &r, out)
	if !st.Ok() || out.Offset == in.Offset {
		z.release(in.NodeId, c) // the end of the listing, or a failure
		if fresh && in.Offset != 0 && st == fuse.EINVAL {
			// A seek past the end of a new listing: the directory
			// shrank since the handle of this listing was evicted.
			return fuse.OK
		}
		return st
	}
	c.start, c.end = in.Offset, out.Offset
	z.put(in.NodeId, c)
	return st
}

// take removes and returns the handle that can continue a listing of
// node at off: the one whose last read ended there, else one whose last
// read covered off (the kernel rereads from an entry its caller had no
// room for). Offset 0 is a new listing, which must see the directory as
// it is now.
func (z *noOpendir) take(node, off uint64) *dirCursor {
	if off == 0 {
		return nil
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	list := z.cursors[node]
	pick := -1
	for i, c := range list {
		if c.end == off {
			pick = i
			break
		}
		if pick < 0 && c.start <= off && off < c.end {
			pick = i
		}
	}
	if pick < 0 {
		return nil
	}
	c := list[pick]
	z.unlist(node, c)
	return c
}

// put keeps c for the next read of node's listing, evicting the least
// recently used handle when there are too many. The eviction releases its
// handle under z.mu, so that it is done before a Forget of that
// directory reaches the bridge.
func (z *noOpendir) put(node uint64, c *dirCursor) {
	z.mu.Lock()
	defer z.mu.Unlock()
	z.seq++
	c.seq = z.seq
	z.cursors[node] = append(z.cursors[node], c)
	z.count++
	if z.count <= maxCursors {
		return
	}
	var victim *dirCursor
	var victimNode uint64
	for n, list := range z.cursors {
		for _, o := range list {
			if victim == nil || o.seq < victim.seq {
				victim, victimNode = o, n
			}
		}
	}
	z.unlist(victimNode, victim)
	z.release(victimNode, victim)
}

// unlist removes c from node's handles; z.mu is held.
func (z *noOpendir) unlist(node uint64, c *dirCursor) {
	list := z.cursors[node]
	for i, o := range list {
		if o == c {
			list = append(list[:i], list[i+1:]...)
			z.count--
			break
		}
	}
	if len(list) == 0 {
		delete(z.cursors, node)
	} else {
		z.cursors[node] = list
	}
}

func (z *noOpendir) release(node uint64, c *dirCursor) {
	z.RawFileSystem.ReleaseDir(&fuse.ReleaseIn{InHeader: fuse.InHeader{NodeId: node}, Fh: c.fh})
}

// Forget releases the handles of a directory before the bridge forgets
// it (the bridge cannot release a handle of a node it no longer knows,
// and panics). The kernel forgets a directory only when nothing has it
// open, so no read of it is under way; the handle of a read that ends
// is released without z.mu, as that directory is still open.
func (z *noOpendir) Forget(node, nlookup uint64) {
	if z.enabled {
		z.mu.Lock()
		list := z.cursors[node]
		delete(z.cursors, node)
		z.count -= len(list)
		for _, c := range list {
			z.release(node, c)
		}
		z.mu.Unlock()
	}
	z.RawFileSystem.Forget(node, nlookup)
}
