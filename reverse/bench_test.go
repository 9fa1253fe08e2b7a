//go:build linux

package reverse_test

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// BenchmarkReverseRead reads a 64 MiB sparse plaintext file sequentially
// through the view, in 128 KiB requests (the FUSE maximum) and in 4 KiB
// requests. Throughput is ciphertext bytes per second.
func BenchmarkReverseRead(b *testing.B) {
	plain := newPlain(b, flavours[0].opts)
	f, err := os.Create(filepath.Join(plain, "big"))
	if err != nil {
		b.Fatal(err)
	}
	if err := f.Truncate(64 << 20); err != nil {
		b.Fatal(err)
	}
	f.Close()
	v := newView(b, plain, nil)
	name := mustEncrypt(b, v, "big")
	for _, bs := range []int{128 << 10, 4 << 10} {
		b.Run(strconv.Itoa(bs>>10)+"KiB", func(b *testing.B) {
			buf := make([]byte, bs)
			fi, err := v.Stat(name)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(fi.Size())
			for b.Loop() {
				vf, err := v.Open(name)
				if err != nil {
					b.Fatal(err)
				}
				ra := vf.(io.ReaderAt)
				var off int64
				for {
					n, err := ra.ReadAt(buf, off)
					off += int64(n)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				vf.Close()
				if off != fi.Size() {
					b.Fatalf("read %d of %d", off, fi.Size())
				}
			}
		})
	}
}

// BenchmarkReverseReadDir lists a directory of 1000 files (names
// encrypted, DirIV).
func BenchmarkReverseReadDir(b *testing.B) {
	plain := newPlain(b, flavours[0].opts)
	d := filepath.Join(plain, "d")
	if err := os.Mkdir(d, 0o755); err != nil {
		b.Fatal(err)
	}
	for i := range 1000 {
		if err := os.WriteFile(filepath.Join(d, "file-number-"+strconv.Itoa(i)+".txt"), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	v := newView(b, plain, nil)
	name := mustEncrypt(b, v, "d")
	for b.Loop() {
		ents, err := v.ReadDir(name)
		if err != nil || len(ents) != 1001 {
			b.Fatal(len(ents), err)
		}
	}
}
