package sealfs_test

import (
	"crypto/rand"
	"encoding/binary"
	"io"
	"os"
	"testing"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/vault"
)

// The library benchmark: a 256 MiB file written and read
// sequentially in 1 MiB calls through the whole library (path lookup,
// node table, read-modify-write engine, dirstore on the local disk),
// compared with sealing/opening the same bytes with the raw AEAD.
//
//	go test -run '^$' -bench 'Seq|RawAEAD' -benchtime 3x .
//
// Run with -cpu 1,2 to see the single-core figure and the parallel one.
const benchFileSize = 256 << 20

var suites = []struct {
	name  string
	suite content.Suite
}{
	{"gcm", content.AESGCM},
	{"siv", content.AESSIV},
	{"xchacha", content.XChaCha20Poly1305},
}

func benchVault(b *testing.B, s content.Suite) *sealfs.FS {
	f, _ := newVault(b, vault.Options{Suite: s})
	return f
}

func BenchmarkLibraryWriteSeq(b *testing.B) {
	for _, s := range suites {
		b.Run(s.name, func(b *testing.B) {
			f := benchVault(b, s.suite)
			buf := make([]byte, 1<<20)
			rand.Read(buf)
			b.SetBytes(benchFileSize)
			for b.Loop() {
				h, err := f.OpenFile("big", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
				if err != nil {
					b.Fatal(err)
				}
				for off := int64(0); off < benchFileSize; off += int64(len(buf)) {
					if _, err := h.WriteAt(buf, off); err != nil {
						b.Fatal(err)
					}
				}
				h.Close()
			}
		})
	}
}

func BenchmarkLibraryReadSeq(b *testing.B) {
	for _, s := range suites {
		b.Run(s.name, func(b *testing.B) {
			f := benchVault(b, s.suite)
			buf := make([]byte, 1<<20)
			rand.Read(buf)
			h, err := f.OpenFile("big", os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
			if err != nil {
				b.Fatal(err)
			}
			for off := int64(0); off < benchFileSize; off += int64(len(buf)) {
				h.WriteAt(buf, off)
			}
			b.SetBytes(benchFileSize)
			for b.Loop() {
				for off := int64(0); off < benchFileSize; off += int64(len(buf)) {
					if _, err := h.ReadAt(buf, off); err != nil && err != io.EOF {
						b.Fatal(err)
					}
				}
			}
			h.Close()
		})
	}
}

// BenchmarkRawAEAD seals (and opens) 256 MiB in 4 KiB blocks with the bare
// AEAD on one goroutine: the ceiling for one core.
func BenchmarkRawAEAD(b *testing.B) {
	for _, s := range suites {
		key := make([]byte, s.suite.KeySize())
		rand.Read(key)
		codec, err := content.New(s.suite, key)
		if err != nil {
			b.Fatal(err)
		}
		plain := make([]byte, content.PlainBlockSize)
		rand.Read(plain)
		fileID := make([]byte, content.FileIDSize)
		nonce := make([]byte, s.suite.NonceSize())
		out := make([]byte, 0, codec.CipherBlockSize())
		b.Run(s.name+"/seal", func(b *testing.B) {
			b.SetBytes(benchFileSize)
			for b.Loop() {
				for i := uint64(0); i < benchFileSize/content.PlainBlockSize; i++ {
					binary.BigEndian.PutUint64(nonce, i)
					out = codec.Seal(out[:0], plain, nonce, i, fileID)
				}
			}
		})
		sealed := codec.Seal(nil, plain, nonce, 7, fileID)
		dst := make([]byte, 0, content.PlainBlockSize)
		b.Run(s.name+"/open", func(b *testing.B) {
			b.SetBytes(benchFileSize)
			for b.Loop() {
				for i := uint64(0); i < benchFileSize/content.PlainBlockSize; i++ {
					if _, err := codec.Open(dst[:0], sealed, 7, fileID); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}
