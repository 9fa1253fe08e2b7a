//go:build linux

package fusefs

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
)

// TestConcurrentMounts: mounts made at the same time each get their own
// /dev/fuse descriptor (handed over by fusermount3) and serve their own
// tree; unmounting one leaves the others serving.
func TestConcurrentMounts(t *testing.T) {
	const n = 6
	mnts := make([]string, n)
	srvs := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		mnts[i] = t.TempDir()
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := fstest.MapFS{"who": {Data: []byte(fmt.Sprintf("mount %d", i)), Mode: 0o644}}
			srvs[i], errs[i] = MountFS(mnts[i], m, &Options{Name: "sealfs-test"})
		}()
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("mount %d: %v", i, errs[i])
		}
	}
	t.Cleanup(func() {
		for _, s := range srvs {
			if s != nil {
				s.Unmount()
			}
		}
	})
	for i := range n {
		if b, err := os.ReadFile(filepath.Join(mnts[i], "who")); err != nil || string(b) != fmt.Sprintf("mount %d", i) {
			t.Fatalf("mount %d serves %q (%v)", i, b, err)
		}
		if srvs[i].dev != true {
			t.Errorf("mount %d: not read by sealfs' own reader", i)
		}
	}
	if err := srvs[0].Unmount(); err != nil {
		t.Fatal(err)
	}
	srvs[0].Wait()
	info, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(info), " "+mnts[0]+" ") {
		t.Fatal("still mounted after Unmount")
	}
	if !strings.Contains(string(info), " "+mnts[1]+" ") || !strings.Contains(string(info), "fuse.sealfs-test") {
		t.Fatal("the other mounts, of type fuse.sealfs-test, are not listed")
	}
	if b, err := os.ReadFile(filepath.Join(mnts[n-1], "who")); err != nil || string(b) != fmt.Sprintf("mount %d", n-1) {
		t.Fatalf("another mount stopped serving: %q %v", b, err)
	}
	srvs[0] = nil
}

// TestUnprivilegedMount: a user without privileges mounts through
// fusermount3, which hands the /dev/fuse descriptor over a socket.
func TestUnprivilegedMount(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run the helper as another user")
	}
	// Distributions make /dev/fuse 0666; some containers pass it in as
	// 0600. Give users access for the test's time, as a system would.
	fi, err := os.Stat("/dev/fuse")
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o666 {
		if err := os.Chmod("/dev/fuse", 0o666); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod("/dev/fuse", fi.Mode().Perm()) })
	}
	// Every user may enter it (t.TempDir's parent is private).
	dir, err := os.MkdirTemp("", "sealfs-unpriv")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	mnt := filepath.Join(dir, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(mnt, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	out, err := runAs(65534, dir, helperCmd("mountfs", mnt, "unprivileged"))
	if err != nil || strings.TrimSpace(out) != "unprivileged" {
		t.Fatalf("mount as uid 65534: %v\n%s", err, out)
	}
	info, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(info), " "+mnt+" ") {
		t.Fatal("left mounted")
	}
}
