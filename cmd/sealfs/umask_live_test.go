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
