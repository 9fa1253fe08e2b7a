package sealfs_test

import (
	"errors"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/sealfs/sealfs"
)

// deepPath is a plaintext path of depth directories named with n-character
// names (about depth*(n+1) characters).
func deepPath(depth, n int, c byte) string {
	comps := make([]string, depth)
	for i := range comps {
		comps[i] = strings.Repeat(string(c), n-2) + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	return strings.Join(comps, "/")
}

// TestDeepPaths: the plaintext path is the limit, not the ciphertext
// path, which is a third longer (and with long names is made of 62- to
// 255-character names). Plaintext paths of more than 4000 characters made
// of 100- and 255-character names are created, listed, renamed and
// removed on the disk store.
func TestDeepPaths(t *testing.T) {
	forEachDiskFormat(t, func(t *testing.T, f *sealfs.FS, dir string) {
		for _, n := range []int{100, 255} {
			depth := 4000 / (n + 1)
			p := deepPath(depth, n, byte('a'+n%3))
			if len(p) < 3800 {
				t.Fatalf("test path too short: %d", len(p))
			}
			must(t, f.MkdirAll(p, 0o755))
			file := p + "/" + strings.Repeat("f", 4090-len(p)-1)
			must(t, f.WriteFile(file, []byte("deep"), 0o644))
			if got, err := f.ReadFile(file); err != nil || string(got) != "deep" {
				t.Fatalf("read of %d-character path: %q, %v", len(file), got, err)
			}
			ents, err := f.ReadDir(p)
			if err != nil || len(ents) != 1 {
				t.Fatalf("readdir of %d-character path: %v, %v", len(p), ents, err)
			}
			must(t, f.Symlink("target", p+"/sl"))
			if tg, err := f.ReadLink(p + "/sl"); err != nil || tg != "target" {
				t.Fatalf("readlink: %q, %v", tg, err)
			}
			must(t, f.Rename(file, p+"/renamed"))
			must(t, f.Rename(p+"/renamed", deepPath(2, n, byte('a'+n%3))+"/moved"))
			must(t, f.Remove(p+"/sl"))
			must(t, f.RemoveAll(deepPath(1, n, byte('a'+n%3))))
			if _, err := f.Lstat(deepPath(1, n, byte('a'+n%3))); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("after RemoveAll: %v", err)
			}
		}
		// A name longer than NAME_MAX is refused with ENAMETOOLONG.
		if err := f.Mkdir(strings.Repeat("n", 256), 0o755); !errors.Is(err, syscall.ENAMETOOLONG) {
			t.Fatalf("256-character name: %v", err)
		}
	})
}
