//go:build linux

package fusefs

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealfs/sealfs/vault"
	"golang.org/x/sys/unix"
)

// Data-path limits on an -allow_other mount, compared with the host
// directory.
func TestPOSIXLimits(t *testing.T) {
	pm := mountPOSIX(t, nil)
	t.Run("SEEK_DATA and SEEK_HOLE", func(t *testing.T) {
		// 4 KiB of data at 5 MiB and at 9 MiB in a 12 MiB file: ext4 and
		// tmpfs find the same segments (the vault's answers are right to
		// the 4 KiB block).
		pm.sameAsHost(t, nobody, `dd if=/dev/urandom of=sp bs=4096 count=1 seek=1280 2>/dev/null && dd if=/dev/urandom of=sp bs=4096 count=1 seek=2304 conv=notrunc 2>/dev/null && truncate -s 12M sp`)
		out := pm.sameAsHost(t, nobody, helperCmd("segments", "sp"))
		want := "5242880 5246976\n9437184 9441280\nSEEK_DATA -1 no such device or address\nSEEK_DATA 12582912 no such device or address\n"
		if out != want {
			t.Fatalf("segments:\n%s\nwant:\n%s", out, want)
		}
	})
	t.Run("copy_file_range beyond the largest file", func(t *testing.T) {
		pm.sameAsHost(t, nobody, `printf 0123456789 > src`)
		for _, c := range []struct {
			off  int64
			want string
		}{{0, "10\n"}, {1 << 62, "EFBIG\n"}, {1<<63 - 5, "EFBIG\n"}} {
			out := pm.sameAsHost(t, nobody, helperCmd("copyrange", "src", "dst", strconv.FormatInt(c.off, 10)))
			if out != c.want {
				t.Errorf("copy_file_range to offset %d: %q, want %q", c.off, out, c.want)
			}
		}
	})
}

// TestRenameWhiteout: renameat2(RENAME_WHITEOUT) leaves a 0:0 character
// device behind, and a sealfs mount serves as the upper layer of an
// overlayfs mount: files deleted and renamed through the overlay stay so.
func TestRenameWhiteout(t *testing.T) {
	pm := mountPOSIX(t, nil)
	for _, dir := range []string{pm.mnt, pm.host} {
		p := func(n string) string { return filepath.Join(dir, n) }
		must(t, os.WriteFile(p("wo"), []byte("x"), 0o644))
		must(t, unix.Renameat2(unix.AT_FDCWD, p("wo"), unix.AT_FDCWD, p("wo2"), unix.RENAME_WHITEOUT))
	}
	pm.sameAsHost(t, 0, `stat -c '%F %t:%T %s' wo wo2 && cat wo2`)

	lower, ov := t.TempDir(), t.TempDir()
	up, work := filepath.Join(pm.mnt, "upper"), filepath.Join(pm.mnt, "work")
	must(t, os.Mkdir(up, 0o755))
	must(t, os.Mkdir(work, 0o755))
	must(t, os.WriteFile(filepath.Join(lower, "del"), []byte("lower"), 0o644))
	must(t, os.WriteFile(filepath.Join(lower, "mv"), []byte("lower"), 0o644))
	if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o", "lowerdir="+lower+",upperdir="+up+",workdir="+work, ov).CombinedOutput(); err != nil {
		t.Fatalf("overlay mount with a sealfs upper layer: %v: %s", err, out)
	}
	mountedOv := true
	defer func() {
		if mountedOv {
			unix.Unmount(ov, unix.MNT_DETACH)
		}
	}()
	must(t, os.Remove(filepath.Join(ov, "del")))
	must(t, os.Rename(filepath.Join(ov, "mv"), filepath.Join(ov, "moved")))
	must(t, os.WriteFile(filepath.Join(ov, "new"), []byte("new"), 0o644))
	must(t, unix.Unmount(ov, 0))
	mountedOv = false
	// Mounted again, the overlay shows what was done through it.
	if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o", "lowerdir="+lower+",upperdir="+up+",workdir="+work, ov).CombinedOutput(); err != nil {
		t.Fatalf("second overlay mount: %v: %s", err, out)
	}
	mountedOv = true
	ents, err := os.ReadDir(ov)
	must(t, err)
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "moved new" {
		t.Fatalf("overlay after remount lists %v, want [moved new]", names)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestFileHandles: a file handle the mount hands out must open again
// after the kernel has dropped its caches; where it cannot (Linux 6.9+,
// FUSE_NO_EXPORT_SUPPORT), name_to_handle_at says EOPNOTSUPP, so that
// tools fall back to paths instead of meeting ESTALE later.
func TestFileHandles(t *testing.T) {
	pm := mountPOSIX(t, nil)
	f := filepath.Join(pm.mnt, "h")
	must(t, os.WriteFile(f, []byte("x"), 0o644))
	h, _, err := unix.NameToHandleAt(unix.AT_FDCWD, f, 0)
	if err != nil {
		if err != unix.EOPNOTSUPP {
			t.Fatalf("name_to_handle_at: %v, want a handle or EOPNOTSUPP", err)
		}
		return
	}
	must(t, os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0))
	mfd, err := unix.Open(pm.mnt, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	must(t, err)
	defer unix.Close(mfd)
	fd, err := unix.OpenByHandleAt(mfd, h, unix.O_RDONLY)
	if err != nil {
		t.Fatalf("open_by_handle_at after drop_caches: %v (name_to_handle_at should have said EOPNOTSUPP)", err)
	}
	unix.Close(fd)
}

// TestXattrNamespaces: attributes of every namespace are stored as the
// vault stores user attributes (encrypted, as user.gocryptfs.* on the
// ciphertext), so they exist where Linux allows user.* attributes:
// regular files and directories; on a symlink or FIFO every namespace
// gives EPERM, as user.* does on the host. File capabilities are refused
// on a nosuid mount (the default) and kept with suid.
func TestXattrNamespaces(t *testing.T) {
	pm := mountPOSIX(t, nil)
	p := func(n string) string { return filepath.Join(pm.mnt, n) }
	must(t, os.WriteFile(p("f"), nil, 0o644))
	must(t, os.Mkdir(p("d"), 0o755))
	must(t, os.Symlink("f", p("l")))
	must(t, unix.Mkfifo(p("fifo"), 0o644))
	for _, n := range []string{"f", "d"} {
		for _, a := range []string{"user.x", "trusted.x", "security.x"} {
			must(t, unix.Lsetxattr(p(n), a, []byte("v"), 0))
			buf := make([]byte, 8)
			if sz, err := unix.Lgetxattr(p(n), a, buf); err != nil || string(buf[:sz]) != "v" {
				t.Fatalf("%s %s: %q, %v", n, a, buf[:sz], err)
			}
		}
	}
	hostLink := filepath.Join(pm.host, "l")
	must(t, os.Symlink("f", hostLink))
	if err := unix.Lsetxattr(hostLink, "user.x", []byte("v"), 0); err != unix.EPERM {
		t.Fatalf("host: user.x on a symlink: %v", err)
	}
	for _, n := range []string{"l", "fifo"} {
		for _, a := range []string{"user.x", "trusted.x"} {
			if err := unix.Lsetxattr(p(n), a, []byte("v"), 0); err != unix.EPERM {
				t.Errorf("%s on %s: %v, want EPERM", a, n, err)
			}
		}
	}
	cap := []byte{0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	if err := unix.Setxattr(p("f"), "security.capability", cap, 0); err != unix.EOPNOTSUPP {
		t.Errorf("set security.capability on a nosuid mount: %v, want EOPNOTSUPP", err)
	}
	if _, err := unix.Getxattr(p("f"), "security.capability", make([]byte, 64)); err != unix.EOPNOTSUPP {
		t.Errorf("get security.capability on a nosuid mount: %v, want EOPNOTSUPP", err)
	}

	sm := mountPOSIX(t, &Options{MountOptions: []string{"suid"}})
	sf := filepath.Join(sm.mnt, "f")
	must(t, os.WriteFile(sf, nil, 0o755))
	must(t, unix.Setxattr(sf, "security.capability", cap, 0))
	buf := make([]byte, 64)
	if n, err := unix.Getxattr(sf, "security.capability", buf); err != nil || string(buf[:n]) != string(cap) {
		t.Fatalf("security.capability with suid: %x, %v", buf[:n], err)
	}
}

// within polls cond for up to limit and reports whether it became true.
func within(limit time.Duration, cond func() bool) bool {
	for end := time.Now().Add(limit); ; time.Sleep(20 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
	}
}

// TestChangesBesideMount: what changes beside a mount shows through it
// as with gocryptfs: in a view (reverse mode) the source tree's new and
// removed files at once, and in a second mount of the same vault a
// directory the first removed within about a second.
func TestChangesBesideMount(t *testing.T) {
	requireFUSE(t)
	t.Run("view", func(t *testing.T) {
		src, mnt := t.TempDir(), t.TempDir()
		must(t, os.WriteFile(filepath.Join(src, "old"), nil, 0o644))
		srv, err := MountFS(mnt, os.DirFS(src), nil)
		must(t, err)
		defer func() { srv.Unmount(); srv.Wait() }()
		names := func() string {
			ents, _ := os.ReadDir(mnt)
			var n []string
			for _, e := range ents {
				n = append(n, e.Name())
			}
			return strings.Join(n, " ")
		}
		if got := names(); got != "old" {
			t.Fatalf("listing %q", got)
		}
		must(t, os.WriteFile(filepath.Join(src, "new"), nil, 0o644))
		must(t, os.Remove(filepath.Join(src, "old")))
		// A view answers OPENDIR, so every listing is fresh.
		if got := names(); got != "new" {
			t.Fatalf("right after changes in the source, the view lists %q", got)
		}
	})
	t.Run("two mounts", func(t *testing.T) {
		mnt1, cipher, f := mountVault(t, vault.Options{}, nil)
		mnt2 := t.TempDir()
		srv2, err := Mount(mnt2, f, nil)
		must(t, err)
		defer func() { srv2.Unmount(); srv2.Wait() }()
		must(t, os.Mkdir(filepath.Join(mnt1, "d"), 0o755))
		if _, err := os.Stat(filepath.Join(mnt2, "d")); err != nil {
			t.Fatal(err)
		}
		if _, err := os.ReadDir(mnt2); err != nil {
			t.Fatal(err)
		}
		must(t, os.Remove(filepath.Join(mnt1, "d")))
		gone := func() bool {
			_, err := os.Stat(filepath.Join(mnt2, "d"))
			ents, _ := os.ReadDir(mnt2)
			return os.IsNotExist(err) && len(ents) == 0
		}
		if !within(1500*time.Millisecond, gone) {
			t.Fatalf("a directory removed through one mount still shows in the other (cipher %s)", cipher)
		}
	})
}
