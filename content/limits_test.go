package content

import (
	"errors"
	"math"
	"syscall"
	"testing"
)

// TestMaxPlainSize: writes, truncates and allocations whose end lies past
// the largest plaintext size with an off_t ciphertext fail with EFBIG
// (the ciphertext offset would overflow), and the ciphertext of the
// largest size fits.
func TestMaxPlainSize(t *testing.T) {
	for _, s := range []Suite{AESGCM, XChaCha20Poly1305} {
		c, err := New(s, make([]byte, s.KeySize()))
		if err != nil {
			t.Fatal(err)
		}
		max := c.MaxPlainSize()
		if cs := c.CipherSize(max); cs < max {
			t.Fatalf("%v: ciphertext size of %d is %d", s, max, cs)
		}
		var b memBacking
		f := c.NewFile(&b)
		if _, err := f.WriteAt([]byte("x"), max); !errors.Is(err, syscall.EFBIG) {
			t.Errorf("%v: write at the maximum: %v", s, err)
		}
		if _, err := f.WriteAt([]byte("xy"), math.MaxInt64-1); !errors.Is(err, syscall.EFBIG) {
			t.Errorf("%v: write at 2^63-2: %v", s, err)
		}
		if err := f.Truncate(max + 1); !errors.Is(err, syscall.EFBIG) {
			t.Errorf("%v: truncate past the maximum: %v", s, err)
		}
		if err := f.Allocate(max-10, 20, true); !errors.Is(err, syscall.EFBIG) {
			t.Errorf("%v: allocate past the maximum: %v", s, err)
		}
	}
}
