//go:build linux

package fusefs

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Permission bits, ownership and listings on an -allow_other mount, each
// compared with what the same steps give on the host directory.
func TestPOSIXPermissions(t *testing.T) {
	pm := mountPOSIX(t, nil)

	t.Run("mode 0000 stays 0000 and keeps others out", func(t *testing.T) {
		pm.sameAsHost(t, 0, `echo secret > z0 && chmod 0 z0 && mkdir -m 0 zd && stat -c '%a %n' z0 zd`)
		out := pm.sameAsHost(t, nobody, `cat z0 2>/dev/null && echo READ || echo denied`)
		if !strings.Contains(out, "denied") {
			t.Fatalf("nobody read a mode 0000 file: %q", out)
		}
	})
	t.Run("umask is applied once", func(t *testing.T) {
		pm.sameAsHost(t, nobody, `umask 0 && mkdir -m 0770 um && touch umf && stat -c '%a %n' um umf`)
	})
	t.Run("setgid directory gives its group and bit", func(t *testing.T) {
		pm.sameAsHost(t, 0, `mkdir sg && chgrp 100 sg && chmod 2777 sg && stat -c '%a %g' sg`)
		pm.sameAsHost(t, nobody, `touch sg/f && mkdir sg/d && stat -c '%a %u:%g %n' sg/f sg/d`)
	})
	t.Run("set-user-ID kept at create", func(t *testing.T) {
		for _, uid := range []uint32{0, nobody} {
			name := "su" + map[uint32]string{0: "root", nobody: "nobody"}[uid]
			out := pm.sameAsHost(t, uid, helperCmd("create", name, "6777")+` && stat -c '%a' `+name)
			if want := "6777\n6777\n"; uid == 0 && out != want {
				t.Fatalf("root created %q", out)
			}
		}
	})
	t.Run("fallocate and write by another user clear privilege bits", func(t *testing.T) {
		pm.sameAsHost(t, 0, `echo x > fa && chmod 6777 fa && echo x > wr && chmod 6777 wr && stat -c %a fa wr`)
		pm.sameAsHost(t, nobody, `fallocate -l 8192 fa && echo y >> wr && stat -c '%a %n' fa wr`)
	})
	t.Run("readdir lists . and .. with inode numbers", func(t *testing.T) {
		pm.sameAsHost(t, 0, `mkdir ls && cd ls && touch a b && ls -a`)
		// d_ino of every entry is the inode number stat reports.
		out, err := runAs(0, pm.mnt, `cd ls && ls -fi | sort -k2 && stat -c '%i %n' . a b`)
		if err != nil {
			t.Fatal(err, out)
		}
		f := strings.Fields(out)
		// ls -fi: "INO ." "INO .." "INO a" "INO b"; stat: "INO ." "INO a" "INO b"
		if len(f) != 14 || f[0] != f[8] || f[4] != f[10] || f[6] != f[12] {
			t.Fatalf("d_ino does not match st_ino:\n%s", out)
		}
		for i := 0; i < len(f); i += 2 {
			if f[i] == "4294967295" || f[i] == "0" {
				t.Fatalf("unknown d_ino:\n%s", out)
			}
		}
	})
	t.Run("fstat of an open directory after rmdir or rename over it", func(t *testing.T) {
		pm.sameAsHost(t, nobody, `mkdir gone && exec 3<gone && rmdir gone && stat --cached=never -L -c '%h %a %F' /dev/fd/3`)
		pm.sameAsHost(t, nobody, `mkdir old new && exec 3<old && mv new old && stat --cached=never -L -c '%h %a %F' /dev/fd/3`)
	})
	t.Run("the root has an inode number", func(t *testing.T) {
		var st syscall.Stat_t
		if err := syscall.Stat(pm.mnt, &st); err != nil {
			t.Fatal(err)
		}
		if st.Ino == 0 {
			t.Fatal("the mount root has inode number 0")
		}
	})
}

// aclBytes encodes a POSIX ACL (version 2) of user::rwx, user:uid:rwx,
// group::r-x, mask::rwx, other::---.
func aclBytes(uid uint32) []byte {
	const undefined = 0xffffffff
	b := []byte{2, 0, 0, 0}
	for _, e := range []struct{ tag, perm, id uint32 }{
		{0x01, 7, undefined}, {0x02, 7, uid}, {0x04, 5, undefined}, {0x10, 7, undefined}, {0x20, 0, undefined},
	} {
		b = append(b, byte(e.tag), byte(e.tag>>8), byte(e.perm), byte(e.perm>>8),
			byte(e.id), byte(e.id>>8), byte(e.id>>16), byte(e.id>>24))
	}
	return b
}

// TestPOSIXACLs: without ACL support, setting an ACL is refused
// (EOPNOTSUPP, as on a file system mounted without ACLs) rather than
// stored on the ciphertext; with it, a default ACL decides the mode of
// new objects and the umask does not apply, as on ext4.
func TestPOSIXACLs(t *testing.T) {
	t.Run("without -acl", func(t *testing.T) {
		pm := mountPOSIX(t, nil)
		f := filepath.Join(pm.mnt, "f")
		must(t, os.WriteFile(f, nil, 0o644))
		for _, a := range []string{"system.posix_acl_access", "system.posix_acl_default"} {
			target := f
			if a == "system.posix_acl_default" {
				target = pm.mnt
			}
			if err := unix.Setxattr(target, a, aclBytes(nobody), 0); err != syscall.EOPNOTSUPP {
				t.Errorf("setxattr %s without -acl: %v, want EOPNOTSUPP", a, err)
			}
			if err := unix.Removexattr(target, a); err != syscall.EOPNOTSUPP {
				t.Errorf("removexattr %s without -acl: %v, want EOPNOTSUPP", a, err)
			}
		}
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o644 {
			t.Fatalf("mode after the refused ACL: %v, %v", fi.Mode(), err)
		}
	})
	t.Run("with -acl", func(t *testing.T) {
		pm := mountPOSIX(t, &Options{ACL: true})
		for _, d := range []string{pm.mnt, pm.host} {
			must(t, os.Mkdir(filepath.Join(d, "dacl"), 0o755))
			must(t, unix.Setxattr(filepath.Join(d, "dacl"), "system.posix_acl_default", aclBytes(nobody), 0))
		}
		out := pm.sameAsHost(t, 0, `umask 027 && touch dacl/f plain && mkdir dacl/sub plainsub && stat -c '%a %n' dacl/f dacl/sub plain plainsub`)
		// 0666 under the default ACL (mask rwx, other none) is 660 with
		// umask 027 ignored; 640 without a default ACL.
		if !strings.Contains(out, "660 dacl/f") || !strings.Contains(out, "640 plain\n") {
			t.Fatalf("modes: %q", out)
		}
		// The inherited ACL lets nobody write where the mode bits alone
		// would not.
		pm.sameAsHost(t, nobody, `echo hi > dacl/f && cat dacl/f`)
	})
}
