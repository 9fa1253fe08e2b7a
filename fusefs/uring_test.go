//go:build linux

package fusefs

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

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

// slowFsyncFS is a file system of one empty directory whose FSYNCDIR
// waits until release is closed.
type slowFsyncFS struct {
	fuse.RawFileSystem
	inFsync chan struct{}
	release chan struct{}
}

func (s *slowFsyncFS) GetAttr(_ <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	if in.NodeId != fuse.FUSE_ROOT_ID {
		return fuse.ENOENT
	}
	out.Mode = syscall.S_IFDIR | 0o755
	out.Nlink = 2
	out.Ino = 1
	return fuse.OK // attributes valid for 0 s: every stat asks
}

func (s *slowFsyncFS) OpenDir(<-chan struct{}, *fuse.OpenIn, *fuse.OpenOut) fuse.Status {
	return fuse.OK
}

func (s *slowFsyncFS) FsyncDir(<-chan struct{}, *fuse.FsyncIn) fuse.Status {
	close(s.inFsync)
	<-s.release
	return fuse.OK
}

// onCPU0 runs f on a thread bound to CPU 0, so that its FUSE requests
// go to CPU 0's queue.
func onCPU0(t *testing.T, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var set unix.CPUSet
	set.Set(0)
	if err := unix.SchedSetaffinity(0, &set); err != nil {
		t.Errorf("binding to CPU 0: %v", err)
		return
	}
	f()
}

// slowRequest mounts slowFsyncFS with o, and checks that while an fsync
// of the root waits (and its thread gets a signal, which makes the kernel
// send an INTERRUPT), a stat from the same CPU is answered, and that the
// fsync then succeeds. It returns the server for further checks.
func slowRequest(t *testing.T, o *Options) *server {
	mnt := t.TempDir()
	raw := &slowFsyncFS{RawFileSystem: fuse.NewDefaultRawFileSystem(), inFsync: make(chan struct{}), release: make(chan struct{})}
	srv, err := newServer(raw, mnt, &fuse.MountOptions{FsName: "slowfsync", Name: "sealfs-test"}, newRoot(o))
	if err != nil {
		t.Fatal(err)
	}
	go srv.serve()
	released := false
	release := func() {
		if !released {
			released = true
			close(raw.release)
		}
	}
	t.Cleanup(func() {
		release()
		srv.unmount()
		srv.Wait()
	})
	if err := srv.waitMount(); err != nil {
		t.Fatal(err)
	}
	d, err := os.Open(mnt)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tid := make(chan int, 1)
	synced := make(chan error, 1)
	go onCPU0(t, func() {
		tid <- unix.Gettid()
		synced <- d.Sync()
	})
	select {
	case <-raw.inFsync:
	case <-time.After(10 * time.Second):
		t.Fatal("FSYNCDIR did not arrive")
	}
	if err := unix.Tgkill(os.Getpid(), <-tid, unix.SIGURG); err != nil {
		t.Fatal(err)
	}
	stated := make(chan error, 1)
	go onCPU0(t, func() {
		_, err := os.Stat(mnt)
		stated <- err
	})
	select {
	case err := <-stated:
		if err != nil {
			t.Errorf("stat during the fsync: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("a stat from the same CPU waited for the slow fsync")
	}
	release()
	if err := <-synced; err != nil {
		t.Errorf("fsync: %v", err)
	}
	return srv
}

// TestIOURingSlowRequest: over the ring, an fsync that takes long does
// not hold up the other requests from the same CPU (whose queue it is
// served on).
func TestIOURingSlowRequest(t *testing.T) {
	requireURing(t)
	srv := slowRequest(t, &Options{IOURing: true})
	if srv.ring == nil {
		t.Fatal("mount is not served over io_uring")
	}
	if srv.ring.Served() < 2 {
		t.Errorf("the ring served %d requests", srv.ring.Served())
	}
}

// TestDevSlowRequest: sealfs' /dev/fuse reader starts another reader
// while one request takes long, and an interrupted request still gets
// its answer.
func TestDevSlowRequest(t *testing.T) {
	requireFUSE(t)
	if srv := slowRequest(t, &Options{}); srv.fd < 0 {
		t.Fatal("/dev/fuse is not read by sealfs' reader")
	}
	if srv := slowRequest(t, &Options{GoFuseReaders: true}); srv.fd >= 0 {
		t.Fatal("GoFuseReaders: sealfs' reader reads /dev/fuse")
	}
}
