//go:build linux

package fusefs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"testing/fstest"

	"github.com/sealfs/sealfs/internal/testuring"
	"github.com/sealfs/sealfs/vault"
)

// requireURing switches the fuse module's enable_uring on for the test
// where the kernel has FUSE-over-io_uring.
func requireURing(t *testing.T) {
	t.Helper()
	requireFUSE(t)
	testuring.SwitchOn(t)
}

// TestIOURing runs go-fuse's POSIX suite, and reads and writes of every
// size, against a mount served over io_uring, and checks that the ring
// (not /dev/fuse) answered.
func TestIOURing(t *testing.T) {
	requireURing(t)
	t.Run("posix", func(t *testing.T) {
		runPosix(t, &Options{IOURing: true}, func(t *testing.T, srv *Server) {
			if srv.ring == nil {
				t.Fatal("mount is not served over io_uring")
			}
			if srv.ring.Served() == 0 {
				t.Fatal("no request went over the ring")
			}
		})
	})
	t.Run("data", func(t *testing.T) {
		mnt, _, f, srv := mountVaultServer(t, vault.Options{}, &Options{IOURing: true})
		if srv.ring == nil {
			t.Fatal("mount is not served over io_uring")
		}
		for _, n := range []int{0, 1, 4095, 4096, 4097, 1 << 20, 3<<20 + 12345} {
			want := make([]byte, n)
			for i := range want {
				want[i] = byte(i*7 + n)
			}
			p := filepath.Join(mnt, "f")
			if err := os.WriteFile(p, want, 0o644); err != nil {
				t.Fatal(err)
			}
			before := srv.ring.Served()
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%d bytes: read back differs", n)
			}
			lib, err := f.ReadFile("f")
			if err != nil || !bytes.Equal(lib, want) {
				t.Fatalf("%d bytes: the library reads something else (%v)", n, err)
			}
			if srv.ring.Served() == before {
				t.Fatalf("%d bytes: the read did not go over the ring", n)
			}
		}
	})
	t.Run("view", func(t *testing.T) {
		m := fstest.MapFS{
			"a.txt":   {Data: []byte("hello"), Mode: 0o644},
			"d/b.txt": {Data: []byte("world"), Mode: 0o600},
			"d/link":  {Data: []byte("../a.txt"), Mode: os.ModeSymlink | 0o777},
		}
		mnt := t.TempDir()
		srv, err := MountFS(mnt, m, &Options{IOURing: true})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { srv.Unmount(); srv.Wait() }()
		if srv.ring == nil {
			t.Fatal("view is not served over io_uring")
		}
		if b, err := os.ReadFile(filepath.Join(mnt, "d/b.txt")); err != nil || string(b) != "world" {
			t.Fatalf("read: %q %v", b, err)
		}
		if tgt, err := os.Readlink(filepath.Join(mnt, "d/link")); err != nil || tgt != "../a.txt" {
			t.Fatalf("readlink: %q %v", tgt, err)
		}
		if ents, err := os.ReadDir(filepath.Join(mnt, "d")); err != nil || len(ents) != 2 {
			t.Fatalf("readdir: %v %v", ents, err)
		}
		if err := os.WriteFile(filepath.Join(mnt, "new"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
			t.Fatalf("write: %v", err)
		}
		if srv.ring.Served() == 0 {
			t.Fatal("no request went over the ring")
		}
	})
}
