package sealfs_test

import (
	"fmt"
	"testing"

	"github.com/sealfs/sealfs/vault"
)

// BenchmarkLibraryMetadata: the per-name path through the library and the
// store (name encryption, directory IVs, the store's descriptor cache):
// each iteration creates 100 small files in a subdirectory, stats them,
// lists the directory and removes them.
//
//	go test -run '^$' -bench Metadata -count 5 .
func BenchmarkLibraryMetadata(b *testing.B) {
	f, _ := newVault(b, vault.Options{})
	if err := f.MkdirAll("a/b/c", 0o755); err != nil {
		b.Fatal(err)
	}
	names := make([]string, 100)
	for i := range names {
		names[i] = fmt.Sprintf("a/b/c/file-%03d.txt", i)
	}
	data := []byte("small")
	for b.Loop() {
		for _, n := range names {
			if err := f.WriteFile(n, data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
		for _, n := range names {
			if _, err := f.Lstat(n); err != nil {
				b.Fatal(err)
			}
		}
		if des, err := f.ReadDir("a/b/c"); err != nil || len(des) != len(names) {
			b.Fatalf("%d entries, %v", len(des), err)
		}
		for _, n := range names {
			if err := f.Remove(n); err != nil {
				b.Fatal(err)
			}
		}
	}
}
