package sealfs_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/sealfs/sealfs"
)

// TestSeekDataHole: on the disk store, whose own SEEK_DATA/SEEK_HOLE work
// in file system blocks that do not line up with ciphertext blocks, the
// answers are right to the plaintext block: data written at 5 MiB after a
// hole is found at 5 MiB, data segments start in data and end in a hole, a
// walk over the segments ends and covers all data, and offsets outside
// the file give ENXIO.
func TestSeekDataHole(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f *sealfs.FS, dir string) {
		h, err := f.OpenFile("sparse", os.O_RDWR|os.O_CREATE, 0o644)
		must(t, err)
		defer h.Close()
		const mib = 1 << 20
		writes := []int64{5 * mib, 5*mib + 3*4096, 9*mib + 100, 12 * mib}
		for _, off := range writes {
			_, err := h.WriteAt(bytes.Repeat([]byte("d"), 5000), off)
			must(t, err)
		}
		must(t, h.Truncate(16*mib))
		if off, err := h.Seek(0, 3); err != nil || off != 5*mib {
			t.Fatalf("SEEK_DATA from 0 = %d, %v; want %d", off, err, 5*mib)
		}
		// Walk the segments as cp --sparse does.
		var segs [][2]int64
		for pos := int64(0); ; {
			d, err := h.Seek(pos, 3)
			if errors.Is(err, syscall.ENXIO) {
				break
			}
			must(t, err)
			e, err := h.Seek(d, 4)
			must(t, err)
			if e <= d {
				t.Fatalf("SEEK_HOLE(%d) = %d after SEEK_DATA(%d) = %d", d, e, pos, d)
			}
			segs = append(segs, [2]int64{d, e})
			if len(segs) > 100 {
				t.Fatalf("the walk does not end: %v", segs)
			}
			pos = e
		}
		covered := func(off int64) bool {
			for _, s := range segs {
				if off >= s[0] && off < s[1] {
					return true
				}
			}
			return false
		}
		for _, off := range writes {
			if !covered(off) || !covered(off+4999) {
				t.Fatalf("data at %d not in the segments %v", off, segs)
			}
		}
		// A segment starts with a block of data and ends at a hole (or
		// the end). Blocks of zeros inside a segment are allowed (a hole
		// the backing file system does not see as one: finding those
		// would mean reading all data).
		zeros := func(off int64) bool {
			buf := make([]byte, 4096)
			n, err := h.ReadAt(buf, off/4096*4096)
			if err != nil && err != io.EOF {
				t.Fatal(err)
			}
			return bytes.Count(buf[:n], []byte{0}) == n
		}
		for _, s := range segs {
			if zeros(s[0]) {
				t.Fatalf("segment %v starts in a hole", s)
			}
			if s[1] < 16*mib && !zeros(s[1]) {
				t.Fatalf("segment %v ends in data", s)
			}
		}
		for _, c := range []struct {
			off    int64
			whence int
		}{{-1, 3}, {-1, 4}, {16 * mib, 3}, {16 * mib, 4}, {13 * mib, 3}} {
			if _, err := h.Seek(c.off, c.whence); !errors.Is(err, syscall.ENXIO) {
				t.Errorf("lseek(%d, %d): %v, want ENXIO", c.off, c.whence, err)
			}
		}
	})
}
