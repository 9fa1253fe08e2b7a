package content

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// memBacking is an in-memory Backing.
type memBacking struct {
	mu   sync.RWMutex
	data []byte
}

func (m *memBacking) ReadAt(p []byte, off int64) (int, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memBacking) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if end := off + int64(len(p)); end > int64(len(m.data)) {
		if end > int64(cap(m.data)) {
			nd := make([]byte, end, end*2)
			copy(nd, m.data)
			m.data = nd
		} else {
			old := len(m.data)
			m.data = m.data[:end]
			clear(m.data[old:])
		}
	}
	copy(m.data[off:], p)
	return len(p), nil
}

func (m *memBacking) Truncate(size int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if size <= int64(len(m.data)) {
		m.data = m.data[:size]
		return nil
	}
	nd := make([]byte, size)
	copy(nd, m.data)
	m.data = nd
	return nil
}

func (m *memBacking) Stat() (fs.FileInfo, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return memInfo(len(m.data)), nil
}

type memInfo int64

func (i memInfo) Name() string       { return "mem" }
func (i memInfo) Size() int64        { return int64(i) }
func (i memInfo) Mode() fs.FileMode  { return 0o644 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

var allSuites = []Suite{AESGCM, AESSIV, XChaCha20Poly1305}

func newCodec(t testing.TB, s Suite) *Codec {
	key := make([]byte, s.KeySize())
	rand.Read(key)
	c, err := New(s, key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSizeMath(t *testing.T) {
	// FORMAT.md §5.4 examples (GCM/SIV; XChaCha in the second column).
	for _, tc := range []struct{ plain, gcm, xchacha int64 }{
		{0, 0, 0}, {1, 51, 59}, {4096, 4146, 4154}, {4097, 4179, 4195}, {5000, 5082, 5098},
		{10000, 10114, -1}, {12288, 12402, -1}, {20584, 20794, -1}, {1048699, 1056941, -1},
	} {
		for _, s := range allSuites {
			c := newCodec(t, s)
			want := tc.gcm
			if s == XChaCha20Poly1305 {
				want = tc.xchacha
			}
			if want < 0 {
				continue
			}
			if got := c.CipherSize(tc.plain); got != want {
				t.Errorf("%v CipherSize(%d) = %d, want %d", s, tc.plain, got, want)
			}
			if got := c.PlainSize(want); got != tc.plain {
				t.Errorf("%v PlainSize(%d) = %d, want %d", s, want, got, tc.plain)
			}
		}
	}
	c := newCodec(t, AESGCM)
	for cs, want := range map[int64]int64{1: 0, 17: 0, 18: 0, 19: 1, 18 + 32: 1, 18 + 33: 1, 18 + 4128 + 5: 4097} {
		if got := c.PlainSize(cs); got != want {
			t.Errorf("PlainSize(%d) = %d, want %d", cs, got, want)
		}
	}
}

func TestSealOpenAndTamper(t *testing.T) {
	for _, s := range allSuites {
		c := newCodec(t, s)
		id := make([]byte, FileIDSize)
		rand.Read(id)
		for _, n := range []int{1, 15, 4095, 4096} {
			plain := make([]byte, n)
			rand.Read(plain)
			blk := c.SealRandom(nil, plain, 7, id)
			if len(blk) != n+c.Overhead() {
				t.Fatalf("%v: sealed %d bytes to %d", s, n, len(blk))
			}
			got, err := c.Open(nil, blk, 7, id)
			if err != nil || !bytes.Equal(got, plain) {
				t.Fatalf("%v: round trip: %v", s, err)
			}
			// Every byte position (nonce, ciphertext, tag) is authenticated.
			for _, pos := range []int{0, c.NonceSize() - 1, c.NonceSize(), len(blk) / 2, len(blk) - 1} {
				bad := bytes.Clone(blk)
				bad[pos] ^= 1
				if _, err := c.Open(nil, bad, 7, id); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("%v: flipped byte %d accepted", s, pos)
				}
			}
			if _, err := c.Open(nil, blk, 8, id); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%v: block moved to another position accepted", s)
			}
			other := bytes.Clone(id)
			other[0] ^= 1
			if _, err := c.Open(nil, blk, 7, other); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%v: block moved to another file accepted", s)
			}
		}
		hole := make([]byte, c.CipherBlockSize())
		got, err := c.Open(nil, hole, 3, id)
		if err != nil || !bytes.Equal(got, make([]byte, PlainBlockSize)) {
			t.Fatalf("%v: hole block: %v", s, err)
		}
		if _, err := c.Open(nil, hole[:100], 3, id); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%v: short all-zero block accepted", s)
		}
		blob := c.EncryptBlob([]byte("target"))
		if p, err := c.DecryptBlob(blob); err != nil || string(p) != "target" {
			t.Fatalf("%v: blob: %v", s, err)
		}
		blob[len(blob)-1] ^= 1
		if _, err := c.DecryptBlob(blob); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%v: tampered blob accepted", s)
		}
	}
}

func TestHeader(t *testing.T) {
	h, err := NewHeader()
	if err != nil {
		t.Fatal(err)
	}
	b := h.Bytes()
	if len(b) != HeaderSize || b[0] != 0 || b[1] != 2 {
		t.Fatalf("header bytes %x", b)
	}
	if h2, err := ParseHeader(b); err != nil || h2 != h {
		t.Fatalf("parse: %v", err)
	}
	bad := bytes.Clone(b)
	bad[1] = 3
	for _, in := range [][]byte{nil, b[:17], bad, append([]byte{0, 2}, make([]byte, 16)...)} {
		var ce *CorruptError
		if _, err := ParseHeader(in); !errors.As(err, &ce) || ce.Block != -1 || !errors.Is(err, ErrCorrupt) {
			t.Errorf("ParseHeader(%x) = %v", in, err)
		}
	}
}

// model runs a random sequence of operations on a File and on a plain
// byte slice and checks that they agree.
func model(t testing.TB, f *File, r *mrand.Rand, ops int) {
	var want []byte
	check := func(op string) {
		size, err := f.Size()
		if err != nil {
			t.Fatalf("%s: size: %v", op, err)
		}
		if size != int64(len(want)) {
			t.Fatalf("%s: size %d, want %d", op, size, len(want))
		}
	}
	edge := func() int64 {
		// Offsets around block edges are where the bugs live.
		b := int64(r.Intn(12)) * PlainBlockSize
		return max(0, b+int64(r.Intn(9))-4)
	}
	for i := 0; i < ops; i++ {
		switch r.Intn(10) {
		case 0, 1, 2, 3: // write
			off := edge()
			if r.Intn(3) == 0 {
				off = int64(r.Intn(50000))
			}
			n := r.Intn(3 * PlainBlockSize)
			if r.Intn(4) == 0 {
				n = r.Intn(10)
			}
			data := make([]byte, n)
			r.Read(data)
			if _, err := f.WriteAt(data, off); err != nil {
				t.Fatalf("op %d: WriteAt(%d, %d): %v", i, n, off, err)
			}
			if n > 0 {
				if end := off + int64(n); end > int64(len(want)) {
					want = append(want, make([]byte, end-int64(len(want)))...)
				}
				copy(want[off:], data)
			}
			check(fmt.Sprintf("op %d write %d@%d", i, n, off))
		case 4: // truncate
			size := edge()
			if r.Intn(3) == 0 {
				size = int64(r.Intn(60000))
			}
			if err := f.Truncate(size); err != nil {
				t.Fatalf("op %d: Truncate(%d): %v", i, size, err)
			}
			if size < int64(len(want)) {
				want = want[:size]
			} else {
				want = append(want, make([]byte, size-int64(len(want)))...)
			}
			check(fmt.Sprintf("op %d truncate %d", i, size))
		default: // read
			off := edge()
			n := r.Intn(3 * PlainBlockSize)
			buf := make([]byte, n)
			got, err := f.ReadAt(buf, off)
			wantN := max(0, min(int64(n), int64(len(want))-off))
			if int64(got) != wantN {
				t.Fatalf("op %d: ReadAt(%d, %d) = %d, %v; want %d", i, n, off, got, err, wantN)
			}
			if err != nil && err != io.EOF {
				t.Fatalf("op %d: ReadAt: %v", i, err)
			}
			if wantN > 0 && !bytes.Equal(buf[:got], want[off:off+wantN]) {
				t.Fatalf("op %d: ReadAt(%d, %d) content differs", i, n, off)
			}
		}
	}
	all := make([]byte, len(want)+1)
	n, _ := f.ReadAt(all, 0)
	if !bytes.Equal(all[:n], want) {
		t.Fatal("final content differs")
	}
}

func TestModel(t *testing.T) {
	for _, s := range allSuites {
		t.Run(s.String(), func(t *testing.T) {
			for seed := int64(1); seed <= 4; seed++ {
				f := newCodec(t, s).NewFile(&memBacking{})
				model(t, f, mrand.New(mrand.NewSource(seed)), 1500)
			}
		})
	}
	t.Run("os.File", func(t *testing.T) {
		o, err := os.Create(filepath.Join(t.TempDir(), "c"))
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		model(t, newCodec(t, AESGCM).NewFile(o), mrand.New(mrand.NewSource(99)), 1500)
	})
}

// The sparse layouts of FORMAT.md §5.5 (vectors sparse-hole.bin,
// sparse-truncate-aligned.bin, sparse-truncate-unaligned.bin).
func TestSparseLayout(t *testing.T) {
	c := newCodec(t, AESGCM)
	cbs := c.CipherBlockSize()
	isHole := func(b []byte, blk int) bool {
		return bytes.Equal(b[HeaderSize+blk*cbs:HeaderSize+(blk+1)*cbs], make([]byte, cbs))
	}
	m := &memBacking{}
	f := c.NewFile(m)
	f.WriteAt([]byte("HEAD"), 0)
	f.WriteAt([]byte("TAIL"), 20580)
	if len(m.data) != int(c.CipherSize(20584)) || isHole(m.data, 0) || !isHole(m.data, 1) || !isHole(m.data, 4) {
		t.Fatalf("sparse-hole layout wrong (%d bytes)", len(m.data))
	}
	m = &memBacking{}
	f = c.NewFile(m)
	f.Truncate(12288)
	if len(m.data) != HeaderSize+3*cbs || !isHole(m.data, 0) || !isHole(m.data, 2) {
		t.Fatalf("aligned truncate layout wrong (%d bytes)", len(m.data))
	}
	m = &memBacking{}
	f = c.NewFile(m)
	f.Truncate(10000)
	if len(m.data) != HeaderSize+2*cbs+1808+32 || !isHole(m.data, 0) || !isHole(m.data, 1) {
		t.Fatalf("unaligned truncate layout wrong (%d bytes)", len(m.data))
	}
	if b := make([]byte, 10000); true {
		if n, _ := f.ReadAt(b, 0); n != 10000 || !bytes.Equal(b, make([]byte, 10000)) {
			t.Fatal("grown file does not read as zeros")
		}
	}
	// SEEK_DATA / SEEK_HOLE on the scanning path.
	m = &memBacking{}
	f = c.NewFile(m)
	f.WriteAt([]byte("x"), 0)
	f.WriteAt([]byte("y"), 5*PlainBlockSize)
	if off, err := f.SeekHole(0); err != nil || off != PlainBlockSize {
		t.Fatalf("SeekHole = %d, %v", off, err)
	}
	if off, err := f.SeekData(PlainBlockSize + 3); err != nil || off != 5*PlainBlockSize {
		t.Fatalf("SeekData = %d, %v", off, err)
	}
}

// A block that fails authentication fails the read with its offset; the
// blocks before it still read.
func TestFileCorruption(t *testing.T) {
	for _, s := range allSuites {
		c := newCodec(t, s)
		m := &memBacking{}
		f := c.NewFile(m)
		data := make([]byte, 3*PlainBlockSize)
		rand.Read(data)
		f.WriteAt(data, 0)
		m.data[HeaderSize+c.CipherBlockSize()+50] ^= 1
		f = c.NewFile(m)
		buf := make([]byte, PlainBlockSize)
		if _, err := f.ReadAt(buf, 0); err != nil {
			t.Fatalf("%v: block 0: %v", s, err)
		}
		_, err := f.ReadAt(buf, 100)
		var ce *CorruptError
		if !errors.As(err, &ce) || ce.Block != 1 || ce.Offset != PlainBlockSize || !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%v: corrupt block 1: %v", s, err)
		}
		// A truncated last block.
		m.data = m.data[:len(m.data)-20]
		if _, err := c.NewFile(m).ReadAt(make([]byte, len(data)), 0); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%v: truncated block: %v", s, err)
		}
		// 1..17 bytes: corrupt header on read and write.
		m.data = m.data[:10]
		if _, err := c.NewFile(m).ReadAt(buf, 0); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%v: short header read: %v", s, err)
		}
		if _, err := c.NewFile(m).WriteAt(buf, 0); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%v: short header write: %v", s, err)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	h, _ := NewHeader()
	f.Add(h.Bytes())
	f.Add([]byte{0, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(b)
		if err == nil && !bytes.Equal(h.Bytes(), b[:HeaderSize]) {
			t.Fatal("parsed header does not round-trip")
		}
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("non-corrupt error %v", err)
		}
	})
}

func FuzzOpen(f *testing.F) {
	key := make([]byte, 32)
	c, _ := New(AESGCM, key)
	id := make([]byte, FileIDSize)
	nonce := make([]byte, 16)
	nonce[0] = 1
	f.Add(c.Seal(nil, []byte("hello"), nonce, 0, id), uint64(0))
	f.Add(make([]byte, c.CipherBlockSize()), uint64(1))
	f.Fuzz(func(t *testing.T, blk []byte, n uint64) {
		out, err := c.Open(nil, blk, n, id)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("non-corrupt error %v", err)
			}
			return
		}
		// Whatever opens must be a hole or re-seal to the same bytes.
		if len(blk) == c.CipherBlockSize() && bytes.Equal(blk, make([]byte, len(blk))) {
			return
		}
		if again := c.Seal(nil, out, blk[:16], n, id); !bytes.Equal(again, blk) {
			t.Fatal("opened block does not re-seal identically")
		}
	})
}

// FuzzFileOps drives the model test from fuzz input.
func FuzzFileOps(f *testing.F) {
	f.Add(int64(1), uint16(50))
	f.Add(int64(7), uint16(300))
	f.Fuzz(func(t *testing.T, seed int64, ops uint16) {
		c := newCodec(t, Suite(uint64(seed)%3))
		model(t, c.NewFile(&memBacking{}), mrand.New(mrand.NewSource(seed)), int(ops%400))
	})
}

// BenchmarkFileSeq measures the library path without storage costs: 1 MiB
// WriteAt/ReadAt calls through File over an in-memory backing, on one
// goroutine ("serial") and with parallel sealing, next to the raw AEAD
// (BenchmarkRawSeal/BenchmarkRawOpen below):
//
//	go test -run '^$' -bench 'FileSeq|Raw' ./content/
func BenchmarkFileSeq(b *testing.B) {
	const total = 64 << 20
	buf := make([]byte, 1<<20)
	rand.Read(buf)
	for _, s := range allSuites {
		for _, serial := range []bool{true, false} {
			mode := "parallel"
			if serial {
				mode = "serial"
			}
			setup := func(b *testing.B, fill bool) *File {
				c := newCodec(b, s)
				f := c.NewFile(&memBacking{data: make([]byte, 0, c.CipherSize(total))})
				f.serial = serial
				if fill {
					for off := int64(0); off < total; off += int64(len(buf)) {
						f.WriteAt(buf, off)
					}
				}
				return f
			}
			b.Run(s.String()+"/write/"+mode, func(b *testing.B) {
				f := setup(b, true) // overwrite in place: no backing growth
				b.SetBytes(total)
				for b.Loop() {
					for off := int64(0); off < total; off += int64(len(buf)) {
						if _, err := f.WriteAt(buf, off); err != nil {
							b.Fatal(err)
						}
					}
				}
			})
			b.Run(s.String()+"/read/"+mode, func(b *testing.B) {
				f := setup(b, true)
				b.SetBytes(total)
				for b.Loop() {
					for off := int64(0); off < total; off += int64(len(buf)) {
						if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
							b.Fatal(err)
						}
					}
				}
			})
		}
	}
}

func BenchmarkRaw(b *testing.B) {
	for _, s := range allSuites {
		c := newCodec(b, s)
		plain := make([]byte, PlainBlockSize)
		id := make([]byte, FileIDSize)
		nonce := make([]byte, s.NonceSize())
		out := make([]byte, 0, c.CipherBlockSize())
		b.Run(s.String()+"/seal", func(b *testing.B) {
			b.SetBytes(PlainBlockSize)
			i := uint64(0)
			for b.Loop() {
				binary.BigEndian.PutUint64(nonce, i)
				out = c.Seal(out[:0], plain, nonce, i, id)
				i++
			}
		})
		sealed := c.Seal(nil, plain, nonce, 0, id)
		dst := make([]byte, 0, PlainBlockSize)
		b.Run(s.String()+"/open", func(b *testing.B) {
			b.SetBytes(PlainBlockSize)
			for b.Loop() {
				if _, err := c.Open(dst[:0], sealed, 0, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The size is learnt once and tracked through the File's own writes; a
// change by someone else is seen with NoSizeCache or after ResetCache.
func TestSizeCache(t *testing.T) {
	c := newCodec(t, AESGCM)
	m := &memBacking{}
	f := c.NewFile(m)
	f.WriteAt(make([]byte, 5000), 0)
	f.Truncate(7000)
	if s, _ := f.Size(); s != 7000 {
		t.Fatalf("tracked size %d", s)
	}
	other := c.NewFile(m) // a second writer behind f's back
	other.WriteAt([]byte("x"), 9000)
	if s, _ := f.Size(); s != 7000 {
		t.Fatalf("cached size %d, want the tracked 7000", s)
	}
	f.ResetCache()
	if s, _ := f.Size(); s != 9001 {
		t.Fatalf("size after ResetCache %d", s)
	}
	f.NoSizeCache = true
	other.Truncate(100)
	if s, _ := f.Size(); s != 100 {
		t.Fatalf("size with NoSizeCache %d", s)
	}
}
