//go:build linux

package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMountUmaskOnce: the kernel applies the caller's umask to the modes
// it sends; the server must not apply its own on top (gocryptfs serves
// with umask 0 too). The mount is served with the test's umask (022).
func TestMountUmaskOnce(t *testing.T) {
	needFUSE(t)
	cipher, mnt, pw := newVaultDirs(t)
	lazyUnmountAtEnd(t, mnt)
	sh(t, "", "sh", "-c", "umask 022 && exec sealfs -q -passfile "+pw+" "+cipher+" "+mnt)
	defer sh(t, "", "fusermount3", "-u", mnt)
	d, f := filepath.Join(mnt, "d"), filepath.Join(mnt, "f")
	out := sh(t, "", "sh", "-c", "umask 0 && mkdir -m 0770 "+d+" && touch "+f+" && stat -c %a "+d+" "+f)
	if got := strings.Fields(out); len(got) != 2 || got[0] != "770" || got[1] != "666" {
		t.Fatalf("caller umask 0: mkdir 0770 and a new file gave %q, want 770 and 666", out)
	}
}

// TestConfigFromPipe: -config may name a pipe (-config <(cat conf)),
// which can be read only once: the mount reads it once and hands the
// bytes to its background process, and the mount-free commands read it
// once too.
func TestConfigFromPipe(t *testing.T) {
	needFUSE(t)
	d := newDirs(t, "cipher", "mnt")
	cipher, mnt := d[0], d[1]
	pw := writePassfile(t)
	conf := filepath.Join(t.TempDir(), "ext.conf")
	sh(t, "", "sealfs", "-init", "-q", "-scryptn", "10", "-passfile", pw, "-config", conf, cipher)
	lazyUnmountAtEnd(t, mnt)
	sh(t, "", "sh", "-c", "cat "+conf+" | sealfs -q -passfile "+pw+" -config /dev/stdin "+cipher+" "+mnt)
	if !mounted(mnt) {
		t.Fatal("not mounted")
	}
	sh(t, "", "sh", "-c", "echo piped > "+filepath.Join(mnt, "f"))
	sh(t, "", "fusermount3", "-u", mnt)
	out := sh(t, "", "sh", "-c", "cat "+conf+" | sealfs cat -q -passfile "+pw+" -config /dev/stdin "+cipher+" f")
	if !strings.Contains(out, "piped") {
		t.Fatalf("cat with the config from a pipe: %q", out)
	}
}

// atimeAfterRead mounts the vault with opts, sets f's access time to
// 2000-01-01, reads f (twice, with a reopen and a pause between) and
// returns the access times the mount reported after each read.
func atimeAfterRead(t *testing.T, cipher, mnt, pw string, opts string) (first, second time.Time) {
	t.Helper()
	args := []string{"-q", "-passfile", pw}
	if opts != "" {
		args = append(args, "-o", opts)
	}
	sh(t, "", "sealfs", append(args, cipher, mnt)...)
	defer sh(t, "", "fusermount3", "-u", mnt)
	f := filepath.Join(mnt, "f")
	sh(t, "", "touch", "-a", "-d", "2000-01-01", f)
	atime := func() time.Time {
		var st syscall.Stat_t
		if err := syscall.Stat(f, &st); err != nil {
			t.Fatal(err)
		}
		return time.Unix(st.Atim.Unix())
	}
	read := func() {
		if _, err := os.ReadFile(f); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // past the attribute cache
	}
	read()
	first = atime()
	time.Sleep(50 * time.Millisecond)
	read()
	return first, atime()
}

// TestMountAtimeOptions: the kernel leaves a FUSE file system's access
// times to it; noatime keeps reads from moving them, relatime (the
// default) moves them as the ciphertext's file system does (not again
// once newer than the modification), strictatime on every read.
func TestMountAtimeOptions(t *testing.T) {
	needFUSE(t)
	cipher, mnt, pw := newVaultDirs(t)
	lazyUnmountAtEnd(t, mnt)
	sh(t, "", "sealfs", "-q", "-passfile", pw, cipher, mnt)
	check(t, os.WriteFile(filepath.Join(mnt, "f"), []byte("data"), 0o644))
	sh(t, "", "fusermount3", "-u", mnt)
	y2k := time.Date(2000, 1, 1, 0, 0, 0, 0, time.Local)

	if first, _ := atimeAfterRead(t, cipher, mnt, pw, "noatime"); !first.Equal(y2k) {
		t.Errorf("noatime: a read moved the access time to %v", first)
	}
	first, second := atimeAfterRead(t, cipher, mnt, pw, "relatime")
	if first.Equal(y2k) || !second.Equal(first) {
		t.Errorf("relatime: access times %v then %v (want moved once)", first, second)
	}
	first, second = atimeAfterRead(t, cipher, mnt, pw, "strictatime")
	if first.Equal(y2k) || !second.After(first) {
		t.Errorf("strictatime: access times %v then %v (want moved on every read)", first, second)
	}
}

// TestRemount: "mount -o remount,ro MNT" runs "sealfs CIPHERDIR MNT -o
// <the mount's options>,remount,ro" through mount.fuse3; the mount turns
// read-only in place and back.
func TestRemount(t *testing.T) {
	needFUSE(t)
	if os.Geteuid() != 0 {
		t.Skip("remounting needs root")
	}
	cipher, mnt, pw := newVaultDirs(t)
	lazyUnmountAtEnd(t, mnt)
	sh(t, "", "sealfs", "-q", "-passfile", pw, cipher, mnt)
	defer sh(t, "", "fusermount3", "-u", mnt)
	kernelOpts := "rw,nosuid,nodev,relatime,user_id=0,group_id=0,max_read=1048576"
	sh(t, "", "sealfs", cipher, mnt, "-o", kernelOpts+",remount,ro")
	if err := os.WriteFile(filepath.Join(mnt, "f"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("write after remount,ro: %v", err)
	}
	if l := mountLine(mnt); !strings.Contains(l, " ro,nosuid,nodev") {
		t.Errorf("mount line after remount,ro: %q", l)
	}
	sh(t, "", "sealfs", cipher, mnt, "-o", strings.Replace(kernelOpts, "rw,", "ro,", 1)+",remount,rw")
	if err := os.WriteFile(filepath.Join(mnt, "f"), []byte("x"), 0o644); err != nil {
		t.Fatalf("write after remount,rw: %v", err)
	}
	if l := mountLine(mnt); !strings.Contains(l, " rw,nosuid,nodev") {
		t.Errorf("mount line after remount,rw: %q", l)
	}
}
