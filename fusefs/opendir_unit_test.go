//go:build linux

package fusefs

import (
	"fmt"
	"syscall"
	"testing"

	"github.com/hanwen/go-fuse/v2/fuse"
)

// fakeBridge stands in for go-fuse's node bridge: directories of size[n]
// entries, listed three per READDIRPLUS, and a table of open handles that
// fails the test on a handle it does not know, as the bridge panics.
type fakeBridge struct {
	fuse.RawFileSystem
	t       *testing.T
	size    map[uint64]int
	open    map[uint64]uint64 // fh -> node
	next    uint64
	opens   int
	forgot  map[uint64]bool
	lastOff map[uint64]uint64 // fh -> offset its next read continues at
}

func newFakeBridge(t *testing.T) *fakeBridge {
	return &fakeBridge{RawFileSystem: fuse.NewDefaultRawFileSystem(), t: t, size: map[uint64]int{},
		open: map[uint64]uint64{}, forgot: map[uint64]bool{}, lastOff: map[uint64]uint64{}}
}

func (b *fakeBridge) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	b.next++
	b.opens++
	b.open[b.next] = in.NodeId
	out.Fh = b.next
	return fuse.OK
}

func (b *fakeBridge) ReleaseDir(in *fuse.ReleaseIn) {
	if node, ok := b.open[in.Fh]; !ok || node != in.NodeId || b.forgot[node] {
		b.t.Errorf("release of handle %d of node %d: open for %d (%v), node forgotten %v", in.Fh, in.NodeId, node, ok, b.forgot[node])
	}
	delete(b.open, in.Fh)
}

func (b *fakeBridge) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	if node, ok := b.open[in.Fh]; !ok || node != in.NodeId {
		b.t.Fatalf("read with handle %d of node %d: open for %d (%v)", in.Fh, in.NodeId, node, ok)
	}
	n := b.size[in.NodeId]
	if int(in.Offset) > n {
		return fuse.EINVAL
	}
	for i := int(in.Offset); i < n && i < int(in.Offset)+3; i++ {
		out.AddDirLookupEntry(fuse.DirEntry{Name: fmt.Sprint(i), Mode: syscall.S_IFREG, Off: uint64(i + 1)})
	}
	b.lastOff[in.Fh] = out.Offset
	return fuse.OK
}

func (b *fakeBridge) Forget(node, nlookup uint64) {
	for fh, n := range b.open {
		if n == node {
			b.t.Errorf("node %d forgotten with handle %d open", node, fh)
		}
	}
	b.forgot[node] = true
}

// readAll lists node through z from offset off to the end and returns the
// number of entries.
func readAll(t *testing.T, z *noOpendir, node, off uint64) int {
	t.Helper()
	total := 0
	for {
		out := fuse.NewDirEntryList(make([]byte, 4096), off)
		if st := z.ReadDirPlus(nil, &fuse.ReadIn{InHeader: fuse.InHeader{NodeId: node}, Offset: off}, out); !st.Ok() {
			t.Fatalf("readdirplus of %d at %d: %v", node, off, st)
		}
		if out.Offset == off {
			return total
		}
		total += int(out.Offset - off)
		off = out.Offset
	}
}

func TestNoOpendirBookkeeping(t *testing.T) {
	b := newFakeBridge(t)
	z := newNoOpendir(b, true)
	z.enabled = true // as Init does where the kernel offers it
	if st := z.OpenDir(nil, &fuse.OpenIn{}, &fuse.OpenOut{}); st != fuse.ENOSYS {
		t.Fatalf("OPENDIR: %v, want ENOSYS", st)
	}
	for n := uint64(1); n <= 200; n++ {
		b.size[n] = 10
	}

	// A whole listing takes one bridge handle, released at its end.
	if got := readAll(t, z, 1, 0); got != 10 {
		t.Fatalf("listed %d of 10", got)
	}
	if b.opens != 1 || len(b.open) != 0 || z.count != 0 {
		t.Fatalf("after a whole listing: %d opens, %d open, %d kept", b.opens, len(b.open), z.count)
	}

	// Two listings of one directory, interleaved, keep their handles.
	read1 := func(node, off uint64) uint64 {
		out := fuse.NewDirEntryList(make([]byte, 4096), off)
		if st := z.ReadDirPlus(nil, &fuse.ReadIn{InHeader: fuse.InHeader{NodeId: node}, Offset: off}, out); !st.Ok() {
			t.Fatalf("readdirplus: %v", st)
		}
		return out.Offset
	}
	b.opens = 0
	a1 := read1(2, 0)
	a2 := read1(2, 0)
	a1 = read1(2, a1)
	if got := readAll(t, z, 2, a1); got != 4 {
		t.Fatalf("first listing continued with %d entries, want 4", got)
	}
	if got := readAll(t, z, 2, a2); got != 7 {
		t.Fatalf("second listing continued with %d entries, want 7", got)
	}
	if b.opens != 2 || len(b.open) != 0 {
		t.Fatalf("interleaved listings: %d opens (want 2), %d left open", b.opens, len(b.open))
	}

	// Abandoned listings: at most maxCursors kept, the least recently used
	// evicted first; a listing continued after its handle was evicted gets
	// a new one that seeks.
	for n := uint64(10); n < 10+maxCursors+5; n++ {
		read1(n, 0)
	}
	if z.count != maxCursors || len(b.open) != maxCursors {
		t.Fatalf("%d kept, %d open; want %d", z.count, len(b.open), maxCursors)
	}
	for n := uint64(10); n < 15; n++ {
		if len(z.cursors[n]) != 0 {
			t.Fatalf("node %d (among the oldest) still has a handle", n)
		}
	}
	b.opens = 0
	if got := readAll(t, z, 10, 3); got != 7 {
		t.Fatalf("continued after eviction: %d entries, want 7", got)
	}
	if b.opens != 1 {
		t.Fatalf("%d opens to continue an evicted listing, want 1", b.opens)
	}

	// A seek past the end of a listing whose handle is gone is its end.
	b.size[150] = 2
	if got := readAll(t, z, 150, 3); got != 0 {
		t.Fatalf("past the end: %d entries", got)
	}

	// Forget releases the directory's handles before the bridge hears of it.
	before := len(b.open)
	z.Forget(20, 1)
	if !b.forgot[20] || len(b.open) != before-1 || len(z.cursors[20]) != 0 {
		t.Fatalf("forget: forgotten %v, open %d -> %d", b.forgot[20], before, len(b.open))
	}

	// Requests with a handle (a kernel without zero-message opendir) pass.
	z.enabled = false
	var oo fuse.OpenOut
	if st := z.OpenDir(nil, &fuse.OpenIn{InHeader: fuse.InHeader{NodeId: 30}}, &oo); !st.Ok() || oo.Fh == 0 {
		t.Fatalf("OPENDIR without zero-message opendir: %v, fh %d", st, oo.Fh)
	}
	out := fuse.NewDirEntryList(make([]byte, 4096), 0)
	if st := z.ReadDirPlus(nil, &fuse.ReadIn{InHeader: fuse.InHeader{NodeId: 30}, Fh: oo.Fh}, out); !st.Ok() || out.Offset != 3 {
		t.Fatalf("read with the kernel's handle: %v, offset %d", st, out.Offset)
	}
}
