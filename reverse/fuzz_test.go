//go:build linux

package reverse_test

import (
	"errors"
	"io"
	"io/fs"
	"testing"

	"github.com/sealfs/sealfs/internal/testvault"
)

// FuzzLookup feeds arbitrary view paths to every path operation: no
// panics, and errors are the documented ones.
func FuzzLookup(f *testing.F) {
	for _, e := range testvault.Listing(f, "reverse") {
		f.Add(e.Path)
		f.Add(e.Path + "/x")
	}
	f.Add("gocryptfs.longname.")
	f.Add("gocryptfs.longname..name")
	f.Add("../x")
	v, _ := goldenView(f, "reverse", nil)
	f.Fuzz(func(t *testing.T, p string) {
		fi, err := v.Lstat(p)
		if err == nil && fi == nil {
			t.Fatal("nil FileInfo without error")
		}
		if !fs.ValidPath(p) && !errors.Is(err, fs.ErrInvalid) {
			t.Fatalf("invalid path %q: %v", p, err)
		}
		v.Stat(p)
		v.ReadLink(p)
		v.ReadDir(p)
		v.DecryptPath(p)
		v.EncryptPath(p)
		if file, err := v.Open(p); err == nil {
			if ra, ok := file.(io.ReaderAt); ok {
				ra.ReadAt(make([]byte, 100), 10)
			}
			file.Close()
		}
	})
}
