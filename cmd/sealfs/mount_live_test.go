package main

import (
	"path/filepath"
	"strings"
	"testing"
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
