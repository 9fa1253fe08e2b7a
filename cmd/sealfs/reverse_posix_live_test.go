//go:build linux

package main

import (
	"errors"
	"github.com/sealfs/sealfs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// mountReverse makes a reverse config in a new plaintext directory, lets
// fill populate it, and mounts its view with the sealfs binary.
func mountReverse(t *testing.T, fill func(plain string), extra ...string) (plain, mnt, pw string) {
	t.Helper()
	d := newDirs(t, "plain", "mnt")
	plain, mnt = d[0], d[1]
	pw = writePassfile(t)
	sh(t, "", "sealfs", "-init", "-reverse", "-q", "-scryptn", "10", "-passfile", pw, plain)
	fill(plain)
	lazyUnmountAtEnd(t, mnt)
	sh(t, "", "sealfs", append(append([]string{"-reverse", "-q", "-passfile", pw}, extra...), plain, mnt)...)
	t.Cleanup(func() { exec0("fusermount3", "-u", mnt) })
	return plain, mnt, pw
}

func exec0(name string, args ...string) { shErr("", name, args...) }

// TestReverseMountPOSIX: statfs reports the plaintext file system's usage;
// a symlink whose encrypted target is too long for the kernel gives
// ENAMETOOLONG, not EIO; SEEK_DATA and SEEK_HOLE describe a view file as
// all data (its ciphertext has no holes, whatever holes the source has).
func TestReverseMountPOSIX(t *testing.T) {
	needFUSE(t)
	_, mnt, _ := mountReverse(t, func(plain string) {
		f, err := os.Create(filepath.Join(plain, "sparse"))
		check(t, err)
		check(t, f.Truncate(1<<30))
		f.Close()
		check(t, os.Symlink(strings.Repeat("t/", 1900)+"x", filepath.Join(plain, "longlink")))
	})
	var st unix.Statfs_t
	check(t, unix.Statfs(mnt, &st))
	if st.Blocks == 0 || st.Bsize == 0 {
		t.Errorf("statfs of a reverse mount: %+v", st)
	}
	ents, err := os.ReadDir(mnt)
	check(t, err)
	var sparse, link string
	for _, e := range ents {
		fi, err := e.Info()
		check(t, err)
		switch {
		case fi.Mode().IsRegular() && fi.Size() > 1<<30:
			sparse = filepath.Join(mnt, e.Name())
		case fi.Mode()&os.ModeSymlink != 0:
			link = filepath.Join(mnt, e.Name())
		}
	}
	if sparse == "" || link == "" {
		t.Fatalf("view entries: %v", ents)
	}
	if _, err := os.Readlink(link); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("readlink of an over-long encrypted target: %v, want ENAMETOOLONG", err)
	}
	f, err := os.Open(sparse)
	check(t, err)
	defer f.Close()
	fi, _ := f.Stat()
	fd := int(f.Fd())
	if off, err := unix.Seek(fd, 0, unix.SEEK_DATA); err != nil || off != 0 {
		t.Errorf("SEEK_DATA(0) = %d, %v; want 0 (all data)", off, err)
	}
	if off, err := unix.Seek(fd, 1<<20, unix.SEEK_HOLE); err != nil || off != fi.Size() {
		t.Errorf("SEEK_HOLE(1 MiB) = %d, %v; want the size %d", off, err, fi.Size())
	}
	if _, err := unix.Seek(fd, fi.Size(), unix.SEEK_DATA); err != syscall.ENXIO {
		t.Errorf("SEEK_DATA at the end: %v, want ENXIO", err)
	}
}

// TestReverseMountpointInside: a reverse view may be mounted inside its
// own plaintext directory, as gocryptfs allows; the mount point is hidden
// from the view (which would otherwise contain itself).
func TestReverseMountpointInside(t *testing.T) {
	needFUSE(t)
	plain := newDirs(t, "plain")[0]
	pw := writePassfile(t)
	sh(t, "", "sealfs", "-init", "-reverse", "-q", "-scryptn", "10", "-passfile", pw, plain)
	check(t, os.WriteFile(filepath.Join(plain, "a"), []byte("a"), 0o644))
	mnt := filepath.Join(plain, "view")
	check(t, os.Mkdir(mnt, 0o755))
	lazyUnmountAtEnd(t, mnt)
	sh(t, "", "sealfs", "-reverse", "-q", "-passfile", pw, plain, mnt)
	defer exec0("fusermount3", "-u", mnt)
	ents, err := os.ReadDir(mnt)
	check(t, err)
	var files int
	for _, e := range ents {
		if e.IsDir() {
			t.Errorf("the view shows a directory %s: the mount point is not hidden", e.Name())
		}
		if !strings.HasPrefix(e.Name(), "gocryptfs.") {
			files++
		}
	}
	if files != 1 {
		t.Fatalf("view entries %v, want gocryptfs.conf, gocryptfs.diriv and one file", ents)
	}
	// A forward mount point inside CIPHERDIR stays refused.
	cipher, _, _ := newVaultDirs(t)
	inside := filepath.Join(cipher, "m")
	check(t, os.Mkdir(inside, 0o755))
	if out, err := shErr("", "sealfs", "-q", "-passfile", pw, cipher, inside); exitStatus(t, err) != 10 {
		t.Fatalf("forward mount inside CIPHERDIR: %v %s", err, out)
	}
}

// TestReverseMasterKeyNoConfig: with the master key given (-zerokey,
// -masterkey) a plaintext directory needs no reverse config, as with
// gocryptfs: the view is AES-SIV with the names the flags ask for, shows
// no gocryptfs.conf, and decrypts with the same key and flags.
func TestReverseMasterKeyNoConfig(t *testing.T) {
	needFUSE(t)
	d := newDirs(t, "plain", "mnt")
	plain, mnt := d[0], d[1]
	check(t, os.WriteFile(filepath.Join(plain, "f"), []byte("no config"), 0o644))
	lazyUnmountAtEnd(t, mnt)
	sh(t, "", "sealfs", "-reverse", "-q", "-zerokey", plain, mnt)
	defer exec0("fusermount3", "-u", mnt)
	ents, err := os.ReadDir(mnt)
	check(t, err)
	for _, e := range ents {
		if e.Name() == "gocryptfs.conf" {
			t.Fatal("a view without a config shows gocryptfs.conf")
		}
	}
	if len(ents) != 2 {
		t.Fatalf("view entries %v, want gocryptfs.diriv and one file", ents)
	}
	out := sh(t, "", "sealfs", "cat", "-q", "-zerokey", "-aessiv", mnt, "f")
	if !strings.Contains(out, "no config") {
		t.Fatalf("cat through the view: %q", out)
	}
}

// TestReverseXattrs: the view shows the plaintext files' extended
// attributes encrypted (names as user.gocryptfs.*, values sealed with a
// nonce derived from the path and name, FORMAT.md §8), so that a copy of
// the view, or the view itself opened as a vault, reads them back in
// plaintext; -noxattr shows none.
func TestReverseXattrs(t *testing.T) {
	needFUSE(t)
	_, mnt, pw := mountReverse(t, func(plain string) {
		f := filepath.Join(plain, "f")
		check(t, os.WriteFile(f, []byte("x"), 0o644))
		check(t, unix.Setxattr(f, "user.comment", []byte("secret note"), 0))
		check(t, unix.Setxattr(plain, "user.dir", []byte("on the root"), 0))
	})
	pwb, err := os.ReadFile(pw)
	check(t, err)
	v, err := sealfs.Open(mnt, []byte(strings.TrimSpace(string(pwb))), &sealfs.Options{ReadOnly: true})
	check(t, err)
	defer v.Close()
	for _, c := range []struct{ path, attr, want string }{{"f", "user.comment", "secret note"}, {".", "user.dir", "on the root"}} {
		got, err := v.Getxattr(c.path, c.attr)
		if err != nil || string(got) != c.want {
			t.Errorf("%s %s through the view: %q, %v", c.path, c.attr, got, err)
		}
	}
	// The view's own attributes: encrypted names, stable values.
	cname, err := v.EncryptPath("f")
	check(t, err)
	buf := make([]byte, 1024)
	n, err := unix.Listxattr(filepath.Join(mnt, cname), buf)
	check(t, err)
	if list := string(buf[:n]); !strings.HasPrefix(list, "user.gocryptfs.") || strings.Contains(list, "comment") {
		t.Fatalf("view lists %q", list)
	}
	attr := strings.TrimRight(string(buf[:n]), "\x00")
	v1 := make([]byte, 256)
	n1, err := unix.Getxattr(filepath.Join(mnt, cname), attr, v1)
	check(t, err)
	v2 := make([]byte, 256)
	n2, err := unix.Getxattr(filepath.Join(mnt, cname), attr, v2)
	check(t, err)
	if string(v1[:n1]) != string(v2[:n2]) || strings.Contains(string(v1[:n1]), "secret") {
		t.Fatalf("view value not stable or not encrypted: %x / %x", v1[:n1], v2[:n2])
	}

	_, mnt2, _ := mountReverse(t, func(plain string) {
		f := filepath.Join(plain, "f")
		check(t, os.WriteFile(f, []byte("x"), 0o644))
		check(t, unix.Setxattr(f, "user.comment", []byte("hidden"), 0))
	}, "-noxattr")
	ents, err := os.ReadDir(mnt2)
	check(t, err)
	for _, e := range ents {
		if n, err := unix.Listxattr(filepath.Join(mnt2, e.Name()), buf); err == nil && n > 0 {
			t.Errorf("-noxattr: %s lists %q", e.Name(), buf[:n])
		}
	}
}
