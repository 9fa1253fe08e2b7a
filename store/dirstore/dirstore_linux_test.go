package dirstore

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"
)

func newDirStore(t *testing.T) (*Store, string) {
	t.Helper()
	dir := t.TempDir()
	s, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, dir
}

// mkFileAndLink makes directory d with an empty file d/f and a symlink
// d/ln to it.
func mkFileAndLink(t *testing.T, s *Store) {
	t.Helper()
	mustT(t, s.Mkdir("d", 0o755))
	f, err := s.OpenFile("d/f", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	mustT(t, err)
	f.Close()
	mustT(t, s.Symlink("f", "d/ln"))
}

func mustT(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestDirStoreBasics(t *testing.T) {
	s, dir := newDirStore(t)
	mustT(t, s.Mkdir("a", 0o755))
	mustT(t, s.Mkdir("a/b", 0o755))
	f, err := s.OpenFile("a/b/f", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o640)
	mustT(t, err)
	_, err = f.WriteAt([]byte("data"), 0)
	mustT(t, err)
	mustT(t, f.Close())
	fi, err := s.Lstat("a/b/f")
	mustT(t, err)
	if fi.Size() != 4 || fi.Mode().Perm() != 0o640&^umask() {
		t.Fatalf("lstat: %v %v", fi.Size(), fi.Mode())
	}
	mustT(t, s.Symlink("target", "a/ln"))
	if tgt, err := s.Readlink("a/ln"); err != nil || tgt != "target" {
		t.Fatalf("readlink: %q %v", tgt, err)
	}
	mustT(t, s.Link("a/b/f", "a/hard"))
	mustT(t, s.Chmod("a/b/f", 0o600))
	mustT(t, s.Lchown("a/ln", os.Getuid(), os.Getgid()))
	mt := time.Unix(1000000000, 0)
	mustT(t, s.Lchtimes("a/ln", time.Time{}, mt))
	fi, _ = s.Lstat("a/ln")
	if !fi.ModTime().Equal(mt) {
		t.Fatalf("lchtimes: %v", fi.ModTime())
	}
	mustT(t, s.Setxattr("a/b/f", "user.k", []byte("v"), 0))
	if v, err := s.Getxattr("a/b/f", "user.k"); err != nil || string(v) != "v" {
		t.Fatalf("getxattr: %q %v", v, err)
	}
	if l, err := s.Listxattr("a/b/f"); err != nil || !slices.Contains(l, "user.k") {
		t.Fatalf("listxattr: %v %v", l, err)
	}
	mustT(t, s.Removexattr("a/b/f", "user.k"))
	mustT(t, s.Rename("a/b", "a/c"))
	if _, err := s.Lstat("a/c/f"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove("a/c"); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("remove non-empty: %v", err)
	}
	mustT(t, s.Remove("a/c/f"))
	mustT(t, s.Remove("a/c"))
	if _, err := os.Stat(filepath.Join(dir, "a/c")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("directory still there")
	}
	if _, err := s.Statfs(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"/abs", "../up", "a/../b", ""} {
		if _, err := s.Lstat(bad); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("Lstat(%q): %v", bad, err)
		}
	}
}

func umask() fs.FileMode {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return fs.FileMode(m)
}

// A hostile vault cannot redirect the store outside of itself with
// symlinks where directories are expected.
func TestDirStoreRefusesSymlinkedDirectories(t *testing.T) {
	s, dir := newDirStore(t)
	outside := t.TempDir()
	mustT(t, os.WriteFile(filepath.Join(outside, "secret"), []byte("x"), 0o644))
	mustT(t, os.Symlink(outside, filepath.Join(dir, "evil")))
	mustT(t, os.Symlink("..", filepath.Join(dir, "up")))
	for _, p := range []string{"evil/secret", "evil/new", "up/x"} {
		if _, err := s.Lstat(p); err == nil {
			t.Errorf("Lstat(%q) followed a symlink", p)
		}
		if _, err := s.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o644); err == nil {
			t.Errorf("OpenFile(%q) followed a symlink", p)
		}
		if err := s.Mkdir(p+"d", 0o755); err == nil {
			t.Errorf("Mkdir(%q) followed a symlink", p)
		}
	}
	// The final component is never followed either.
	if _, err := s.OpenFile("evil", os.O_RDONLY, 0); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("OpenFile on a symlink: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("a file was created outside the store")
	}
	// The fallback walk (kernels without openat2) refuses them too.
	s.noOpenat2.Store(true)
	s.fds.closeAll()
	if _, err := s.Lstat("evil/secret"); err == nil {
		t.Error("walk fallback followed a symlink")
	}
}

// Renaming or removing a directory through the store drops its cached
// descriptor at once, so the old path does not keep working.
func TestDirStoreCacheInvalidation(t *testing.T) {
	s, _ := newDirStore(t)
	mustT(t, s.Mkdir("d", 0o755))
	mustT(t, s.Mkdir("d/e", 0o755))
	f, err := s.OpenFile("d/e/f", os.O_RDWR|os.O_CREATE, 0o644)
	mustT(t, err)
	f.Close()
	if _, err := s.Lstat("d/e/f"); err != nil { // caches d/e
		t.Fatal(err)
	}
	mustT(t, s.Rename("d", "moved"))
	if _, err := s.Lstat("d/e/f"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("stale cache after rename: %v", err)
	}
	mustT(t, s.Mkdir("d", 0o755))
	mustT(t, s.Mkdir("d/e", 0o755))
	if _, err := s.Lstat("d/e/f"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("new directory shows old contents: %v", err)
	}
	if _, err := s.Lstat("moved/e/f"); err != nil {
		t.Fatal(err)
	}
}

// TestDirStoreXattrBothPaths: extended attributes work through
// getxattrat/listxattrat and through the /proc fallback of older kernels,
// never following a final symlink, with the same answers.
func TestDirStoreXattrBothPaths(t *testing.T) {
	saved := noXattrat.Load()
	t.Cleanup(func() { noXattrat.Store(saved) })
	for _, fallback := range []bool{false, true} {
		noXattrat.Store(fallback)
		s, _ := newDirStore(t)
		mkFileAndLink(t, s)
		big := make([]byte, 3000) // larger than the first buffer
		for i := range big {
			big[i] = byte(i)
		}
		mustT(t, s.Setxattr("d/f", "user.a", []byte("1"), 0))
		mustT(t, s.Setxattr("d/f", "user.big", big, 0))
		if v, err := s.Getxattr("d/f", "user.big"); err != nil || !slices.Equal(v, big) {
			t.Fatalf("fallback=%v: getxattr big: %d bytes, %v", fallback, len(v), err)
		}
		if v, err := s.Getxattr("d/f", "user.a"); err != nil || string(v) != "1" {
			t.Fatalf("fallback=%v: getxattr: %q %v", fallback, v, err)
		}
		if _, err := s.Getxattr("d/f", "user.none"); !errors.Is(err, syscall.ENODATA) {
			t.Fatalf("fallback=%v: missing attribute: %v", fallback, err)
		}
		list, err := s.Listxattr("d/f")
		mustT(t, err)
		slices.Sort(list)
		if !slices.Equal(list, []string{"user.a", "user.big"}) {
			t.Fatalf("fallback=%v: listxattr: %q", fallback, list)
		}
		// The symlink itself has no user.* attributes (and cannot have
		// them on Linux): its target's must not show through.
		if _, err := s.Getxattr("d/ln", "user.a"); err == nil {
			t.Fatalf("fallback=%v: getxattr followed the symlink", fallback)
		}
		if list, err := s.Listxattr("d/ln"); err == nil && slices.Contains(list, "user.a") {
			t.Fatalf("fallback=%v: listxattr followed the symlink: %q", fallback, list)
		}
	}
}

// TestDirStoreRemoveFile: RemoveFile removes files and symlinks, and
// refuses directories (so that FS.Remove can try it first).
func TestDirStoreRemoveFile(t *testing.T) {
	s, dir := newDirStore(t)
	mkFileAndLink(t, s)
	mustT(t, s.RemoveFile("d/f"))
	mustT(t, s.RemoveFile("d/ln"))
	if err := s.RemoveFile("d"); !errors.Is(err, syscall.EISDIR) {
		t.Fatalf("RemoveFile of a directory: %v, want EISDIR", err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, "d")); err != nil || !fi.IsDir() {
		t.Fatalf("directory gone after a refused RemoveFile: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(dir, "d")); len(ents) != 0 {
		t.Fatalf("left: %v", ents)
	}
}

// TestChmodWithoutFchmodat2: the chmod kernels before 6.6 get changes
// the object, and refuses a symlink instead of following it.
func TestChmodWithoutFchmodat2(t *testing.T) {
	s, dir := newDirStore(t)
	s.chmodViaProc = true
	mkFileAndLink(t, s)
	mustT(t, s.Chmod("d/f", 0o640))
	if fi, _ := os.Lstat(filepath.Join(dir, "d/f")); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if err := s.Chmod("d/ln", 0o777); !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Fatalf("chmod of a symlink: %v", err)
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "d/f")); fi.Mode().Perm() != 0o640 {
		t.Fatalf("chmod followed the symlink: %v", fi.Mode())
	}
}
