package content

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"sync/atomic"
	"testing"
)

// countingBacking counts the calls that would be system calls on a real
// file.
type countingBacking struct {
	memBacking
	reads, stats atomic.Int64
}

func (c *countingBacking) ReadAt(p []byte, off int64) (int, error) {
	c.reads.Add(1)
	return c.memBacking.ReadAt(p, off)
}

func (c *countingBacking) Stat() (fs.FileInfo, error) {
	c.stats.Add(1)
	return c.memBacking.Stat()
}

// TestFirstReadOneBackingCall: reading a small file from the start
// costs one backing read (header and blocks together) and, with the size
// given by SetCipherSize, no stat.
func TestFirstReadOneBackingCall(t *testing.T) {
	c := newCodec(t, AESGCM)
	data := bytes.Repeat([]byte("sealfs "), 1500) // 3 blocks
	var b countingBacking
	w := c.NewFile(&b)
	if _, err := w.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	r := c.NewFile(&b)
	r.SetCipherSize(int64(len(b.data)))
	b.reads.Store(0)
	b.stats.Store(0)
	got := make([]byte, len(data)+10)
	n, err := r.ReadAt(got, 0)
	if err != io.EOF || !bytes.Equal(got[:n], data) {
		t.Fatalf("read %d bytes, %v", n, err)
	}
	if r, s := b.reads.Load(), b.stats.Load(); r != 1 || s != 0 {
		t.Fatalf("first read: %d backing reads, %d stats; want 1, 0", r, s)
	}
	// Later reads use the cached header: one backing read each.
	if _, err := r.ReadAt(got[:100], 5000); err != nil {
		t.Fatal(err)
	}
	if n := b.reads.Load(); n != 2 {
		t.Fatalf("second read: %d backing reads in all, want 2", n)
	}

	// A damaged header is still found by the combined read, and no data
	// comes back.
	b.data[0] ^= 1
	r = c.NewFile(&b)
	n, err = r.ReadAt(got, 0)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Block != -1 || n != 0 {
		t.Fatalf("damaged header: n=%d err=%v", n, err)
	}
	// A header that vanishes under the reader (file shrank to a few bytes).
	b.data[0] ^= 1
	r = c.NewFile(&b)
	r.SetCipherSize(int64(len(b.data)))
	b.data = b.data[:10]
	if n, err = r.ReadAt(got, 0); !errors.Is(err, ErrCorrupt) || n != 0 {
		t.Fatalf("shrunk header: n=%d err=%v", n, err)
	}
}
