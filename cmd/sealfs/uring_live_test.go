//go:build linux

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const enableURing = "/sys/module/fuse/parameters/enable_uring"

// switchOnURing turns the fuse module's enable_uring parameter on for the
// test and back afterwards (root; Linux 6.14+).
func switchOnURing(t *testing.T) {
	t.Helper()
	old, err := os.ReadFile(enableURing)
	if err != nil {
		t.Skipf("kernel without FUSE-over-io_uring (%v)", err)
	}
	if strings.TrimSpace(string(old)) != "Y" {
		if err := os.WriteFile(enableURing, []byte("Y"), 0); err != nil {
			t.Fatalf("switching on %s: %v", enableURing, err)
		}
		t.Cleanup(func() { os.WriteFile(enableURing, bytes.TrimSpace(old), 0) })
	}
}

// TestMountIOURing mounts with -iouring: the log says the ring serves,
// data goes through, and vaults filled through the ring read identically
// through gocryptfs and the other way round.
func TestMountIOURing(t *testing.T) {
	needFUSE(t, "gocryptfs", "git", "rsync", "tar", "cp")
	switchOnURing(t)
	pw := writePassfile(t)
	d := newDirs(t, "cipher", "mnt")
	cipher, mnt := d[0], d[1]
	lazyUnmountAtEnd(t, mnt)
	sh(t, "", "sealfs", "-init", "-q", "-scryptn", "10", "-passfile", pw, cipher)
	var logs bytes.Buffer
	cmd := exec.Command("sealfs", "mount", "-fg", "-d", "-iouring", "-passfile", pw, cipher, mnt)
	cmd.Stderr = &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; !mounted(mnt); i++ {
		if i == 100 {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("not mounted after 10 s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	want := bytes.Repeat([]byte("through the ring\n"), 100000)
	if err := os.WriteFile(filepath.Join(mnt, "f"), want, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "f")); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("read back: %d bytes, %v", len(got), err)
	}
	sh(t, "", "fusermount3", "-u", mnt)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("mount process: %v\n%s", err, logs.String())
	}
	if !strings.Contains(logs.String(), "io_uring: serving over per-CPU queues") {
		t.Fatalf("the ring did not serve the mount:\n%s", logs.String())
	}

	fx := newInteropFixture(t)
	fx.sealfsMount = []string{"-iouring"}
	for _, f := range interopFormats {
		t.Run(f.name, func(t *testing.T) {
			t.Run("sealfs-to-gocryptfs", func(t *testing.T) { fx.roundTrip(t, pw, f.flags, "sealfs", "gocryptfs") })
			t.Run("gocryptfs-to-sealfs", func(t *testing.T) { fx.roundTrip(t, pw, f.flags, "gocryptfs", "sealfs") })
		})
	}
}
