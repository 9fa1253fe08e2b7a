//go:build linux

package fusefs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealfs/sealfs/vault"
	"golang.org/x/sys/unix"
)

// A mount without ACL support says so for POSIX ACLs, and for SELinux
// labels on objects that have none, with EOPNOTSUPP as a local file
// system without them does: "ls -l", cp and rsync then stop asking every
// file. Other attributes, and labels that are stored, work as before.
func TestUnsupportedXattrs(t *testing.T) {
	mnt, _, f := mountVault(t, vault.Options{}, nil)
	p := filepath.Join(mnt, "file")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256)
	for _, a := range []string{"system.posix_acl_access", "security.selinux"} {
		if _, err := unix.Lgetxattr(p, a, buf); err != unix.EOPNOTSUPP {
			t.Errorf("getxattr %s: %v, want EOPNOTSUPP", a, err)
		}
	}
	if _, err := unix.Lgetxattr(mnt, "system.posix_acl_default", buf); err != unix.EOPNOTSUPP {
		t.Errorf("getxattr system.posix_acl_default of a directory: %v, want EOPNOTSUPP", err)
	}
	if _, err := unix.Lgetxattr(p, "user.none", buf); err != unix.ENODATA {
		t.Errorf("getxattr of a missing user attribute: %v, want ENODATA", err)
	}
	if err := unix.Lsetxattr(p, "user.x", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	// An ACL on the ciphertext (from a mount with -acl) is not shown.
	if err := f.Setxattr("file", "system.posix_acl_access", posixACL(65534), 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.Llistxattr(p, buf)
	if err != nil || string(buf[:n]) != "user.x\x00" {
		t.Errorf("listxattr %q, %v; want only user.x", buf[:n], err)
	}
	if _, err := unix.Lgetxattr(p, "system.posix_acl_access", buf); err != unix.EOPNOTSUPP {
		t.Errorf("getxattr of a stored ACL without ACL support: %v, want EOPNOTSUPP", err)
	}
	if os.Geteuid() == 0 {
		if err := unix.Lsetxattr(p, "security.selinux", []byte("label"), 0); err != nil {
			t.Fatal(err)
		}
		if n, err := unix.Lgetxattr(p, "security.selinux", buf); err != nil || string(buf[:n]) != "label" {
			t.Errorf("a stored label reads %q, %v", buf[:n], err)
		}
	}
	out, err := exec.Command("ls", "-lR", mnt).CombinedOutput()
	if err != nil || strings.Contains(string(out), "ls:") {
		t.Errorf("ls -lR: %v\n%s", err, out)
	}
}

// With ACL support a missing ACL is ENODATA, as on any file system with
// ACLs.
func TestACLMissing(t *testing.T) {
	requireRoot(t)
	mnt, _, _ := mountVault(t, vault.Options{}, &Options{ACL: true, AllowOther: true})
	p := filepath.Join(mnt, "file")
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := unix.Lgetxattr(p, "system.posix_acl_access", make([]byte, 256)); err != unix.ENODATA {
		t.Errorf("getxattr of a missing ACL with -acl: %v, want ENODATA", err)
	}
}
