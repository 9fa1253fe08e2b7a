//go:build linux

package fusefs

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/hanwen/go-fuse/v2/posixtest"
	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/internal/testuring"
	"github.com/sealfs/sealfs/names"
	"github.com/sealfs/sealfs/vault"
	"golang.org/x/sys/unix"
)

// requireFUSE fails where FUSE must work (CI) and skips elsewhere when
// /dev/fuse is missing.
func requireFUSE(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/dev/fuse"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("FUSE tests need /dev/fuse: %v", err)
		}
		t.Skipf("no /dev/fuse: %v", err)
	}
}

// mountVault creates a vault and mounts it; both go away with the test.
func mountVault(t *testing.T, o vault.Options, mo *Options) (mnt, cipher string, f *sealfs.FS) {
	t.Helper()
	mnt, cipher, f, _ = mountVaultServer(t, o, mo)
	return mnt, cipher, f
}

// mountVaultServer is mountVault that also returns the server.
func mountVaultServer(t *testing.T, o vault.Options, mo *Options) (mnt, cipher string, f *sealfs.FS, srv *Server) {
	t.Helper()
	requireFUSE(t)
	cipher = t.TempDir()
	o.ScryptLogN = 10
	f, err := sealfs.Create(cipher, []byte("pw"), &sealfs.CreateOptions{Options: o})
	if err != nil {
		t.Fatal(err)
	}
	mnt = t.TempDir()
	// SEALFS_TEST_IOURING=1 runs every mount of these tests over
	// io_uring (switching enable_uring on), to try the ring on the whole
	// suite (test.sh does).
	if os.Getenv("SEALFS_TEST_IOURING") != "" {
		testuring.SwitchOn(t)
		m := Options{}
		if mo != nil {
			m = *mo
		}
		m.IOURing = true
		mo = &m
	}
	srv, err = Mount(mnt, f, mo)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("SEALFS_TEST_IOURING") != "" && srv.ring == nil {
		srv.Unmount()
		t.Fatal("SEALFS_TEST_IOURING: the mount is not served over io_uring")
	}
	t.Cleanup(func() {
		if err := srv.Unmount(); err != nil {
			exec.Command("fusermount3", "-u", "-z", mnt).Run()
		}
		srv.Wait()
		f.Close()
	})
	return mnt, cipher, f, srv
}

// Tests of posixtest that do not apply: locks are not implemented (the
// kernel handles flock/fcntl locks locally for FUSE without lock support
// only partly), O_TMPFILE has no path, and DirectIO needs direct_io.
var posixSkip = map[string]string{
	"FcntlFlockSetLk":     "byte-range locks are not forwarded (as in gocryptfs)",
	"FcntlFlockLocksFile": "byte-range locks are not forwarded (as in gocryptfs)",
	"Tmpfile":             "O_TMPFILE needs a nameless file, which the path-based library cannot have",
	"DirectIO":            "the mount does not use direct_io",
}

// TestPosix runs go-fuse's POSIX suite with /dev/fuse read by sealfs'
// reader (the default) and by go-fuse's (with -d).
func TestPosix(t *testing.T) {
	t.Run("sealfs-reader", func(t *testing.T) {
		runPosix(t, nil, func(t *testing.T, srv *Server) {
			if !srv.dev && srv.ring == nil {
				t.Fatal("/dev/fuse is not read by sealfs' reader")
			}
		})
	})
	t.Run("go-fuse-readers", func(t *testing.T) {
		runPosix(t, &Options{GoFuseReaders: true}, func(t *testing.T, srv *Server) {
			if srv.dev {
				t.Fatal("GoFuseReaders: sealfs' reader reads /dev/fuse")
			}
		})
	})
}

// runPosix runs every applicable posixtest test on a fresh vault mounted
// with mo; after, if set, checks the server once the test has run.
func runPosix(t *testing.T, mo *Options, after func(t *testing.T, srv *Server)) {
	names := make([]string, 0, len(posixtest.All))
	for n := range posixtest.All {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			if why, ok := posixSkip[name]; ok {
				t.Skip(why)
			}
			mnt, _, _, srv := mountVaultServer(t, vault.Options{}, mo)
			posixtest.All[name](t, mnt)
			if after != nil {
				after(t, srv)
			}
		})
	}
}

func TestMountBehaviour(t *testing.T) {
	mnt, cipher, f := mountVault(t, vault.Options{}, nil)
	p := func(n string) string { return filepath.Join(mnt, n) }

	// Written through the mount, read through the library.
	data := bytes.Repeat([]byte("0123456789"), 100000)
	if err := os.WriteFile(p("big"), data, 0o640); err != nil {
		t.Fatal(err)
	}
	if got, err := f.ReadFile("big"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("library read of mount-written file: %v", err)
	}
	// O_APPEND
	h, _ := os.OpenFile(p("big"), os.O_WRONLY|os.O_APPEND, 0)
	h.Write([]byte("END"))
	h.Close()
	if fi, _ := os.Stat(p("big")); fi.Size() != int64(len(data)+3) {
		t.Fatalf("append: size %d", fi.Size())
	}
	// Hard links: same inode, link count 2.
	if err := os.Link(p("big"), p("link")); err != nil {
		t.Fatal(err)
	}
	var a, b unix.Stat_t
	unix.Stat(p("big"), &a)
	unix.Stat(p("link"), &b)
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Fatalf("hard link: ino %d/%d nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	// Rename exchange and noreplace.
	os.WriteFile(p("x"), []byte("X"), 0o644)
	os.WriteFile(p("y"), []byte("Y"), 0o644)
	if err := unix.Renameat2(unix.AT_FDCWD, p("x"), unix.AT_FDCWD, p("y"), unix.RENAME_EXCHANGE); err != nil {
		t.Fatal(err)
	}
	if gx, _ := os.ReadFile(p("x")); string(gx) != "Y" {
		t.Fatalf("exchange: x=%q", gx)
	}
	if err := unix.Renameat2(unix.AT_FDCWD, p("x"), unix.AT_FDCWD, p("y"), unix.RENAME_NOREPLACE); !errors.Is(err, syscall.EEXIST) {
		t.Fatalf("noreplace: %v", err)
	}
	// xattrs
	if err := unix.Setxattr(p("x"), "user.k", []byte("v"), 0); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := unix.Getxattr(p("x"), "user.k", buf); err != nil || string(buf[:n]) != "v" {
		t.Fatalf("getxattr: %v", err)
	}
	// Sparse file: SEEK_HOLE finds the hole, SEEK_DATA the tail.
	sh, _ := os.Create(p("sparse"))
	sh.WriteAt([]byte("a"), 0)
	sh.WriteAt([]byte("z"), 10<<20)
	if off, err := unix.Seek(int(sh.Fd()), 0, unix.SEEK_HOLE); err != nil || off >= 10<<20 {
		t.Fatalf("SEEK_HOLE = %d, %v", off, err)
	}
	if off, err := unix.Seek(int(sh.Fd()), 4096, unix.SEEK_DATA); err != nil || off > 10<<20 || off < 4096 {
		t.Fatalf("SEEK_DATA = %d, %v", off, err)
	}
	sh.Close()
	// mkfifo, statfs, symlink utimens
	if err := unix.Mkfifo(p("fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	var sfs unix.Statfs_t
	if err := unix.Statfs(mnt, &sfs); err != nil || sfs.Namelen != 255 {
		t.Fatalf("statfs: %v %d", err, sfs.Namelen)
	}
	os.Symlink("x", p("sl"))
	ts := []unix.Timespec{{Sec: 1000}, {Sec: 2000}}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p("sl"), ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		t.Fatal(err)
	}
	var sl unix.Stat_t
	unix.Lstat(p("sl"), &sl)
	if sl.Mtim.Sec != 2000 {
		t.Fatalf("symlink mtime %d", sl.Mtim.Sec)
	}
	// Unlink of an open file keeps it readable.
	oh, _ := os.Open(p("link"))
	os.Remove(p("link"))
	os.Remove(p("big"))
	if _, err := oh.ReadAt(buf[:4], 0); err != nil {
		t.Fatalf("read after unlink: %v", err)
	}
	oh.Close()
	// Concurrent writers to distinct files and to one shared file.
	var wg sync.WaitGroup
	shared, _ := os.Create(p("shared"))
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := bytes.Repeat([]byte{byte('a' + i)}, 70000)
			os.WriteFile(p("own"+string(rune('a'+i))), d, 0o644)
			shared.WriteAt(d, int64(i)*70000)
		}()
	}
	wg.Wait()
	shared.Close()
	got, _ := os.ReadFile(p("shared"))
	for i := 0; i < 8; i++ {
		if got[i*70000] != byte('a'+i) || got[i*70000+69999] != byte('a'+i) {
			t.Fatalf("shared file region %d damaged", i)
		}
	}
	// A tampered block gives EIO.
	os.WriteFile(p("victim"), bytes.Repeat([]byte("v"), 10000), 0o644)
	cname, _ := f.EncryptPath("victim")
	cf, _ := os.OpenFile(filepath.Join(cipher, cname), os.O_RDWR, 0)
	cf.WriteAt([]byte{0xff, 0xff}, 100)
	cf.Close()
	// Drop the page cache of the victim so the read reaches us.
	if vh, err := os.Open(p("victim")); err == nil {
		unix.Fadvise(int(vh.Fd()), 0, 0, unix.FADV_DONTNEED)
		_, err := vh.ReadAt(make([]byte, 10), 0)
		vh.Close()
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("tampered block read: %v", err)
		}
	}
}

func TestReadOnlyMount(t *testing.T) {
	mnt, _, _ := mountVault(t, vault.Options{}, &Options{ReadOnly: true})
	if err := os.WriteFile(filepath.Join(mnt, "x"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("write on read-only mount: %v", err)
	}
}

func TestMountFS(t *testing.T) {
	requireFUSE(t)
	m := fstest.MapFS{
		"a.txt":     {Data: []byte("hello"), Mode: 0o644},
		"d/b.txt":   {Data: []byte("world"), Mode: 0o600},
		"d/link":    {Data: []byte("../a.txt"), Mode: os.ModeSymlink | 0o777},
		"d/e/empty": {Mode: 0o644},
	}
	mnt := t.TempDir()
	srv, err := MountFS(mnt, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { srv.Unmount(); srv.Wait() }()
	if b, err := os.ReadFile(filepath.Join(mnt, "d/b.txt")); err != nil || string(b) != "world" {
		t.Fatalf("read: %q %v", b, err)
	}
	if tgt, err := os.Readlink(filepath.Join(mnt, "d/link")); err != nil || tgt != "../a.txt" {
		t.Fatalf("readlink: %q %v", tgt, err)
	}
	ents, err := os.ReadDir(filepath.Join(mnt, "d"))
	if err != nil || len(ents) != 3 {
		t.Fatalf("readdir: %v %v", ents, err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "new"), nil, 0o644); !errors.Is(err, syscall.EROFS) {
		t.Fatalf("write: %v", err)
	}
	// No extended attributes: the mount says so (EOPNOTSUPP), for every
	// name and for listing, after the first request.
	for i := 0; i < 2; i++ {
		if _, err := unix.Lgetxattr(filepath.Join(mnt, "a.txt"), "security.selinux", make([]byte, 64)); err != unix.EOPNOTSUPP {
			t.Fatalf("getxattr: %v, want EOPNOTSUPP", err)
		}
		if _, err := unix.Llistxattr(filepath.Join(mnt, "d/b.txt"), make([]byte, 64)); err != unix.EOPNOTSUPP {
			t.Fatalf("listxattr: %v, want EOPNOTSUPP", err)
		}
	}
}

func TestToErrno(t *testing.T) {
	r := newRoot(nil)
	for err, want := range map[error]syscall.Errno{
		os.ErrNotExist: syscall.ENOENT, os.ErrExist: syscall.EEXIST, os.ErrPermission: syscall.EACCES,
		os.ErrInvalid: syscall.EINVAL, os.ErrClosed: syscall.EBADF, errors.ErrUnsupported: syscall.EOPNOTSUPP,
		sealfs.ErrNameTooLong: syscall.ENAMETOOLONG, sealfs.ErrReadOnly: syscall.EROFS,
		sealfs.ErrCorrupt: syscall.EIO, &os.PathError{Err: syscall.ENOTEMPTY}: syscall.ENOTEMPTY,
		errors.New("other"): syscall.EIO, names.ErrXattrNameTooLong: syscall.ERANGE,
		sealfs.ErrEscapes: syscall.EXDEV, sealfs.ErrNotEmpty: syscall.ENOTEMPTY,
	} {
		if got := r.toErrno("op", "p", err); got != want {
			t.Errorf("toErrno(%v) = %v, want %v", err, got, want)
		}
	}
}

// TestKillPriv: the mount negotiates HANDLE_KILLPRIV_V2, so clearing the
// set-user-ID and set-group-ID bits on writes and truncation by
// unprivileged processes is ours to do, as Linux does it.
func TestKillPriv(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to act as another user")
	}
	mnt, _, f := mountVault(t, vault.Options{}, &Options{AllowOther: true})
	for d := filepath.Dir(mnt); d != "/"; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				t.Fatal(err)
			}
		}
	}
	asNobody := func(script string) {
		t.Helper()
		// The shell changes into the mount, not the forked child (see
		// runAs).
		cmd := exec.Command("sh", "-c", "cd "+shellQuote(mnt)+" && "+script)
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s as nobody: %v: %s", script, err, out)
		}
	}
	cases := []struct {
		name      string
		mode      os.FileMode // as given to chmod (Go bits)
		script    string      // run in the mount as nobody, or "" for root
		wantAfter os.FileMode
	}{
		{"write clears suid+sgid", 0o777 | os.ModeSetuid | os.ModeSetgid, "printf x >> F", 0o777},
		{"sgid without group exec stays", 0o767 | os.ModeSetgid, "printf x >> F", 0o767 | os.ModeSetgid},
		{"truncate clears suid", 0o777 | os.ModeSetuid, "truncate -s 1 F", 0o777},
		{"open O_TRUNC clears suid", 0o777 | os.ModeSetuid, "printf y > F", 0o777},
		{"root keeps suid", 0o777 | os.ModeSetuid, "", 0o777 | os.ModeSetuid},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := "f" + strconv.Itoa(i)
			if err := f.WriteFile(name, []byte("data"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(mnt, name), c.mode); err != nil {
				t.Fatal(err)
			}
			if c.script == "" {
				h, err := os.OpenFile(filepath.Join(mnt, name), os.O_WRONLY|os.O_APPEND, 0)
				if err != nil {
					t.Fatal(err)
				}
				h.Write([]byte("root"))
				h.Close()
			} else {
				asNobody(strings.ReplaceAll(c.script, "F", name))
			}
			fi, err := f.Lstat(name)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode() &^ os.ModeType; got != c.wantAfter {
				t.Fatalf("mode after: %v, want %v", got, c.wantAfter)
			}
		})
	}
}

// TestReadAhead: mounts get a 1 MiB kernel read-ahead, so that a
// streaming reader's FUSE reads carry 256 blocks each.
func TestReadAhead(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("setting the read-ahead needs root")
	}
	for _, c := range []struct {
		ra   int
		want string
	}{{0, "1024"}, {256 << 10, "256"}} {
		mnt, _, _ := mountVault(t, vault.Options{}, &Options{ReadAhead: c.ra})
		var st unix.Stat_t
		if err := unix.Stat(mnt, &st); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join("/sys/class/bdi", strconv.Itoa(int(unix.Major(st.Dev)))+":"+strconv.Itoa(int(unix.Minor(st.Dev))), "read_ahead_kb"))
		if err != nil {
			t.Fatal(err)
		}
		if s := strings.TrimSpace(string(got)); s != c.want {
			t.Errorf("ReadAhead %d: read_ahead_kb = %s, want %s", c.ra, s, c.want)
		}
	}
}

func TestCacheTimeouts(t *testing.T) {
	for _, c := range []struct {
		name        string
		opts        Options
		ttl         time.Duration
		entry, attr time.Duration
	}{
		{"vault default", Options{}, vaultCacheTTL, time.Second, time.Second},
		{"vault kernel_cache", Options{KernelCache: true}, vaultCacheTTL, 10 * time.Second, 10 * time.Second},
		{"view default", Options{}, viewCacheTTL, time.Second, time.Second},
		{"explicit", Options{EntryTimeout: 3 * time.Second, AttrTimeout: 2 * time.Second}, vaultCacheTTL, 3 * time.Second, 2 * time.Second},
		{"shared storage", Options{SharedStorage: true, EntryTimeout: time.Minute}, vaultCacheTTL, 0, 0},
	} {
		o := mountOptions("/x", &c.opts, c.ttl)
		if *o.EntryTimeout != c.entry || *o.AttrTimeout != c.attr || *o.NegativeTimeout != 0 {
			t.Errorf("%s: entry %v attr %v negative %v, want %v %v 0", c.name, *o.EntryTimeout, *o.AttrTimeout, *o.NegativeTimeout, c.entry, c.attr)
		}
	}
}

// The kernel decides between UNLINK and RMDIR from what it has cached; when
// the vault changed behind the mount's back (here through the library),
// the mount must not remove the other kind of object.
func TestRemoveKindChangedBehindMount(t *testing.T) {
	mnt, _, f := mountVault(t, vault.Options{}, nil)
	if err := os.Mkdir(filepath.Join(mnt, "was-dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(mnt, "was-file"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The kernel now caches was-dir as a directory and was-file as a file
	// (for 10 s). Swap their kinds through the library.
	if _, err := os.Lstat(filepath.Join(mnt, "was-dir")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(mnt, "was-file")); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove("was-dir"); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile("was-dir", []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.Remove("was-file"); err != nil {
		t.Fatal(err)
	}
	if err := f.Mkdir("was-file", 0o755); err != nil {
		t.Fatal(err)
	}

	if err := syscall.Rmdir(filepath.Join(mnt, "was-dir")); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("rmdir of what is now a file: %v, want ENOTDIR", err)
	}
	if err := syscall.Unlink(filepath.Join(mnt, "was-file")); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("unlink of what is now a directory: %v, want EISDIR", err)
	}
	if got, err := f.ReadFile("was-dir"); err != nil || string(got) != "precious" {
		t.Errorf("file after the refused rmdir: %q, %v", got, err)
	}
	if fi, err := f.Lstat("was-file"); err != nil || !fi.IsDir() {
		t.Errorf("directory after the refused unlink: %v, %v", fi, err)
	}
}

// requireRoot fails where the tests must run as root (CI) and skips
// elsewhere.
func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this test needs root")
		}
		t.Skip("needs root")
	}
}

// posixACL encodes an access ACL (system.posix_acl_access, version 2):
// owner rw, user uid r, group none, mask r, other none.
func posixACL(uid uint32) []byte {
	const undefined = 0xffffffff
	var b []byte
	le := func(v uint32, n int) {
		for i := 0; i < n; i++ {
			b = append(b, byte(v>>(8*i)))
		}
	}
	le(2, 4)
	for _, e := range []struct{ tag, perm, id uint32 }{
		{0x01, 6, undefined}, {0x02, 4, uid}, {0x04, 0, undefined}, {0x10, 4, undefined}, {0x20, 0, undefined},
	} {
		le(e.tag, 2)
		le(e.perm, 2)
		le(e.id, 4)
	}
	return b
}

// With ACL (gocryptfs -acl) the kernel enforces POSIX ACLs, which live
// unencrypted on the ciphertext: a user the mode bits keep out reads a
// file once an ACL entry lets them.
func TestACL(t *testing.T) {
	requireRoot(t)
	mnt, cipher, _ := mountVault(t, vault.Options{}, &Options{ACL: true, AllowOther: true})
	for _, d := range []string{cipher, mnt, filepath.Dir(mnt)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secret := filepath.Join(mnt, "secret")
	if err := os.WriteFile(secret, []byte("for nobody's eyes"), 0o600); err != nil {
		t.Fatal(err)
	}
	const nobody = 65534
	readAs := func() ([]byte, error) {
		cmd := exec.Command("cat", secret)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		return cmd.CombinedOutput()
	}
	if out, err := readAs(); err == nil {
		t.Fatalf("uid %d read a 0600 file without an ACL: %q", nobody, out)
	}
	acl := posixACL(nobody)
	if err := unix.Setxattr(secret, "system.posix_acl_access", acl, 0); err != nil {
		t.Fatal(err)
	}
	if out, err := readAs(); err != nil || string(out) != "for nobody's eyes" {
		t.Fatalf("uid %d with an ACL entry: %q, %v", nobody, out, err)
	}
	// The ACL is stored as it is on the ciphertext file, where gocryptfs
	// looks for it.
	ents, err := os.ReadDir(cipher)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "gocryptfs.") {
			continue
		}
		buf := make([]byte, 256)
		n, err := unix.Lgetxattr(filepath.Join(cipher, e.Name()), "system.posix_acl_access", buf)
		if err == nil && bytes.Equal(buf[:n], acl) {
			found = true
		}
	}
	if !found {
		t.Error("no ciphertext file carries the ACL")
	}
	// chmod through the mount takes the group class (the mask) away again.
	if err := os.Chmod(secret, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := readAs(); err == nil {
		t.Fatalf("uid %d read after chmod 0600 cleared the mask: %q", nobody, out)
	}
}
