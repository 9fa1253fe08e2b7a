//go:build linux

package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealfs/sealfs/fusefs"
	"github.com/sealfs/sealfs/internal/testuring"
)

const ringServes = "io_uring: serving over per-CPU queues"

// mountFgLogs runs "sealfs mount -fg -d ARGS CIPHER MNT", writes a file
// through the mount and reads it back, unmounts, and returns what the
// mount logged.
func mountFgLogs(t *testing.T, cipher, mnt string, args ...string) string {
	t.Helper()
	var logs bytes.Buffer
	cmd := exec.Command("sealfs", append(append([]string{"mount", "-fg", "-d"}, args...), cipher, mnt)...)
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
	want := bytes.Repeat([]byte("through the mount\n"), 100000)
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
	return logs.String()
}

// TestMountIOURing mounts with -iouring: the log says the ring serves,
// data goes through, and vaults filled through the ring read identically
// through gocryptfs and the other way round.
func TestMountIOURing(t *testing.T) {
	needFUSE(t, "gocryptfs", "git", "rsync", "tar", "cp")
	testuring.SwitchOn(t)
	cipher, mnt, pw := newVaultDirs(t)
	lazyUnmountAtEnd(t, mnt)
	if logs := mountFgLogs(t, cipher, mnt, "-iouring", "-passfile", pw); !strings.Contains(logs, ringServes) {
		t.Fatalf("the ring did not serve the mount:\n%s", logs)
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

// TestMountIOURingDefault: where the kernel offers FUSE-over-io_uring a
// mount uses it without being asked, and -noiouring or -iouring=false
// keep /dev/fuse.
func TestMountIOURingDefault(t *testing.T) {
	needFUSE(t)
	testuring.SwitchOn(t)
	cipher, mnt, pw := newVaultDirs(t)
	lazyUnmountAtEnd(t, mnt)
	if logs := mountFgLogs(t, cipher, mnt, "-passfile", pw); !strings.Contains(logs, ringServes) {
		t.Fatalf("by default the ring did not serve the mount:\n%s", logs)
	}
	for _, off := range []string{"-noiouring", "-iouring=false"} {
		if logs := mountFgLogs(t, cipher, mnt, off, "-passfile", pw); strings.Contains(logs, ringServes) {
			t.Fatalf("%s: the ring served the mount:\n%s", off, logs)
		}
	}
	// gocryptfs-style, from an fstab line through mount.fuse3.
	if logs := mountFgLogs(t, cipher, mnt, "-o", "noiouring", "-passfile", pw); strings.Contains(logs, ringServes) {
		t.Fatalf("-o noiouring: the ring served the mount:\n%s", logs)
	}
}

// TestUseRing: the options that decide whether a mount asks for the
// ring. An explicit -iouring asks even where the kernel does not offer it
// (so that the mount logs why it serves /dev/fuse); the default asks only
// where it is offered.
func TestUseRing(t *testing.T) {
	offered := fusefs.IOURingOffered()
	for _, tc := range []struct {
		args string
		want bool
	}{
		{"", offered},
		{"-iouring", true},
		{"-iouring=true", true},
		{"-iouring=false", false},
		{"-noiouring", false},
		{"-iouring -noiouring", false},
	} {
		fs := flag.NewFlagSet("mount", flag.ContinueOnError)
		opts := cmdMount.flags(fs).(*mountOptions)
		if _, err := parseArgs(fs, strings.Fields(tc.args)); err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if got := opts.useRing(); got != tc.want {
			t.Errorf("%q: useRing %v, want %v (kernel offers the ring: %v)", tc.args, got, tc.want, offered)
		}
	}
}
