// Package storetest is the conformance suite for store.Store
// implementations. Every store in this module runs it from its tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return memstore.New() })
//	}
//
// The suite checks what the sealfs FS relies on: file and directory
// operations with their error values (fs.ErrNotExist, fs.ErrExist,
// ENOTEMPTY, ENOTDIR), positional reads and writes, truncation, renames
// over files and empty directories, symlinks that are never followed,
// paths that cannot leave the store, listings, and concurrent use. The
// optional capabilities (hard links, extended attributes, renameat2
// flags, single-kind removal) are tested when the store has them; a store
// without hard links returns an error matching errors.ErrUnsupported.
package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sealfs/sealfs/store"
)

// Run runs the suite; newStore returns a new, empty store for each test
// (the suite does not close it: register cleanup with t.Cleanup).
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"FileReadWrite", testFileReadWrite},
		{"CreateExclusive", testCreateExclusive},
		{"NotExist", testNotExist},
		{"Mkdir", testMkdir},
		{"Remove", testRemove},
		{"RenameFile", testRenameFile},
		{"RenameDir", testRenameDir},
		{"Symlink", testSymlink},
		{"NoFollow", testNoFollow},
		{"BadPaths", testBadPaths},
		{"ReadDir", testReadDir},
		{"Metadata", testMetadata},
		{"Link", testLink},
		{"Xattr", testXattr},
		{"Rename2", testRename2},
		{"Removers", testRemovers},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// writeFile creates (or truncates) name with data.
func writeFile(t *testing.T, s store.Store, name string, data []byte) {
	t.Helper()
	f, err := s.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	must(t, err)
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		t.Fatal(err)
	}
	must(t, f.Close())
}

// readFile returns the whole content of name.
func readFile(t *testing.T, s store.Store, name string) []byte {
	t.Helper()
	f, err := s.OpenFile(name, os.O_RDONLY, 0)
	must(t, err)
	defer f.Close()
	fi, err := f.Stat()
	must(t, err)
	b := make([]byte, fi.Size())
	n, err := f.ReadAt(b, 0)
	if err != nil && !(errors.Is(err, io.EOF) && n == len(b)) {
		t.Fatalf("read %s: %v", name, err)
	}
	return b[:n]
}

func wantErr(t *testing.T, what string, err error, targets ...error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %v", what, targets)
	}
	if len(targets) == 0 {
		return
	}
	for _, target := range targets {
		if errors.Is(err, target) {
			return
		}
	}
	t.Fatalf("%s: %v, want %v", what, err, targets)
}

func exists(t *testing.T, s store.Store, name string) bool {
	t.Helper()
	_, err := s.Lstat(name)
	if err == nil {
		return true
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("lstat %s: %v", name, err)
	}
	return false
}

func testFileReadWrite(t *testing.T, s store.Store) {
	f, err := s.OpenFile("f", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	must(t, err)
	defer f.Close()
	if _, err := f.WriteAt([]byte("hello world"), 0); err != nil {
		t.Fatal(err)
	}
	// A write past the end leaves zeros between.
	if _, err := f.WriteAt([]byte("!"), 20); err != nil {
		t.Fatal(err)
	}
	fi, err := f.Stat()
	must(t, err)
	if fi.Size() != 21 || !fi.Mode().IsRegular() {
		t.Fatalf("stat: size %d mode %v", fi.Size(), fi.Mode())
	}
	b := make([]byte, 21)
	if n, err := f.ReadAt(b, 0); n != 21 || err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("read: %d %v", n, err)
	}
	if want := []byte("hello world\x00\x00\x00\x00\x00\x00\x00\x00\x00!"); !bytes.Equal(b, want) {
		t.Fatalf("read %q, want %q", b, want)
	}
	// Overwrite in the middle.
	if _, err := f.WriteAt([]byte("W"), 6); err != nil {
		t.Fatal(err)
	}
	// A read past the end gives io.EOF and what there is.
	n, err := f.ReadAt(b[:10], 15)
	if n != 6 || !errors.Is(err, io.EOF) {
		t.Fatalf("short read: %d %v", n, err)
	}
	must(t, f.Truncate(5))
	must(t, f.Sync())
	must(t, f.Close())
	if got := readFile(t, s, "f"); string(got) != "hello" {
		t.Fatalf("after truncate: %q", got)
	}
	// Truncating up gives zeros; O_TRUNC empties.
	f, err = s.OpenFile("f", os.O_RDWR, 0)
	must(t, err)
	must(t, f.Truncate(8))
	must(t, f.Close())
	if got := readFile(t, s, "f"); string(got) != "hello\x00\x00\x00" {
		t.Fatalf("after truncate up: %q", got)
	}
	f, err = s.OpenFile("f", os.O_RDWR|os.O_TRUNC, 0)
	must(t, err)
	must(t, f.Close())
	if fi, err := s.Lstat("f"); err != nil || fi.Size() != 0 {
		t.Fatalf("after O_TRUNC: %v %v", fi, err)
	}
	// A read-only handle refuses writes.
	f, err = s.OpenFile("f", os.O_RDONLY, 0)
	must(t, err)
	if _, err := f.WriteAt([]byte("x"), 0); err == nil {
		t.Error("write through a read-only handle succeeded")
	}
	must(t, f.Close())
}

func testCreateExclusive(t *testing.T, s store.Store) {
	writeFile(t, s, "f", []byte("keep"))
	_, err := s.OpenFile("f", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	wantErr(t, "O_EXCL on a file", err, fs.ErrExist)
	must(t, s.Mkdir("d", 0o700))
	_, err = s.OpenFile("d", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	wantErr(t, "O_EXCL on a directory", err, fs.ErrExist)
	if got := readFile(t, s, "f"); string(got) != "keep" {
		t.Fatalf("content changed: %q", got)
	}
}

func testNotExist(t *testing.T, s store.Store) {
	_, err := s.OpenFile("missing", os.O_RDONLY, 0)
	wantErr(t, "open", err, fs.ErrNotExist)
	_, err = s.Lstat("missing")
	wantErr(t, "lstat", err, fs.ErrNotExist)
	_, err = s.OpenFile("nodir/f", os.O_RDWR|os.O_CREATE, 0o600)
	wantErr(t, "create in a missing directory", err, fs.ErrNotExist)
	wantErr(t, "remove", s.Remove("missing"), fs.ErrNotExist)
	wantErr(t, "rename", s.Rename("missing", "x"), fs.ErrNotExist)
	_, err = s.Readlink("missing")
	wantErr(t, "readlink", err, fs.ErrNotExist)
	wantErr(t, "chmod", s.Chmod("missing", 0o600), fs.ErrNotExist)
	wantErr(t, "lchtimes", s.Lchtimes("missing", time.Now(), time.Now()), fs.ErrNotExist)
	writeFile(t, s, "f", nil)
	_, err = s.OpenFile("f/x", os.O_RDONLY, 0)
	wantErr(t, "a file as a directory", err, syscall.ENOTDIR, fs.ErrNotExist)
}

func testMkdir(t *testing.T, s store.Store) {
	must(t, s.Mkdir("d", 0o750))
	fi, err := s.Lstat("d")
	must(t, err)
	if !fi.IsDir() || fi.Mode().Perm() != 0o750 {
		t.Fatalf("mkdir: mode %v", fi.Mode())
	}
	wantErr(t, "mkdir twice", s.Mkdir("d", 0o750), fs.ErrExist)
	writeFile(t, s, "f", nil)
	wantErr(t, "mkdir over a file", s.Mkdir("f", 0o750), fs.ErrExist)
	wantErr(t, "mkdir in a missing directory", s.Mkdir("x/y", 0o750), fs.ErrNotExist)
	must(t, s.Mkdir("d/e", 0o700))
	writeFile(t, s, "d/e/f", []byte("deep"))
	if got := readFile(t, s, "d/e/f"); string(got) != "deep" {
		t.Fatalf("deep file: %q", got)
	}
	fi, err = s.Lstat(".")
	if err != nil || !fi.IsDir() {
		t.Fatalf("lstat of the root: %v %v", fi, err)
	}
}

func testRemove(t *testing.T, s store.Store) {
	writeFile(t, s, "f", []byte("x"))
	must(t, s.Mkdir("d", 0o700))
	writeFile(t, s, "d/g", nil)
	wantErr(t, "remove a non-empty directory", s.Remove("d"), syscall.ENOTEMPTY, syscall.EEXIST)
	if !exists(t, s, "d/g") {
		t.Fatal("a failed remove removed the content")
	}
	must(t, s.Remove("d/g"))
	must(t, s.Remove("d"))
	must(t, s.Remove("f"))
	if exists(t, s, "d") || exists(t, s, "f") {
		t.Fatal("still there after remove")
	}
	// An open file stays readable after its name is removed.
	writeFile(t, s, "open", []byte("still here"))
	f, err := s.OpenFile("open", os.O_RDONLY, 0)
	must(t, err)
	defer f.Close()
	must(t, s.Remove("open"))
	b := make([]byte, 10)
	if n, err := f.ReadAt(b, 0); n != 10 || err != nil && !errors.Is(err, io.EOF) || string(b) != "still here" {
		t.Fatalf("read after remove: %d %v %q", n, err, b)
	}
}

func testRenameFile(t *testing.T, s store.Store) {
	writeFile(t, s, "a", []byte("A"))
	writeFile(t, s, "b", []byte("B"))
	must(t, s.Rename("a", "b")) // replaces b
	if exists(t, s, "a") || string(readFile(t, s, "b")) != "A" {
		t.Fatal("rename over a file did not replace it")
	}
	must(t, s.Mkdir("d", 0o700))
	must(t, s.Rename("b", "d/c"))
	if string(readFile(t, s, "d/c")) != "A" {
		t.Fatal("rename into a directory")
	}
	wantErr(t, "rename into a missing directory", s.Rename("d/c", "nodir/c"), fs.ErrNotExist)
	must(t, s.Mkdir("e", 0o700))
	wantErr(t, "rename a file over a directory", s.Rename("d/c", "e"), syscall.EISDIR, fs.ErrExist)
	must(t, s.Rename("d/c", "d/c")) // to itself: nothing happens
	if string(readFile(t, s, "d/c")) != "A" {
		t.Fatal("rename to itself")
	}
}

func testRenameDir(t *testing.T, s store.Store) {
	must(t, s.Mkdir("d", 0o700))
	writeFile(t, s, "d/f", []byte("F"))
	must(t, s.Rename("d", "e"))
	if exists(t, s, "d") || string(readFile(t, s, "e/f")) != "F" {
		t.Fatal("rename of a directory did not move its content")
	}
	must(t, s.Mkdir("empty", 0o700))
	must(t, s.Rename("e", "empty")) // over an empty directory
	if string(readFile(t, s, "empty/f")) != "F" {
		t.Fatal("rename over an empty directory")
	}
	must(t, s.Mkdir("full", 0o700))
	writeFile(t, s, "full/x", nil)
	wantErr(t, "rename over a non-empty directory", s.Rename("empty", "full"), syscall.ENOTEMPTY, fs.ErrExist)
	writeFile(t, s, "file", nil)
	wantErr(t, "rename a directory over a file", s.Rename("empty", "file"), syscall.ENOTDIR, fs.ErrExist)
	wantErr(t, "rename a directory into itself", s.Rename("empty", "empty/sub"), syscall.EINVAL, fs.ErrInvalid)
	if string(readFile(t, s, "empty/f")) != "F" {
		t.Fatal("a failed rename changed the tree")
	}
}

func testSymlink(t *testing.T, s store.Store) {
	for _, target := range []string{"f", "../outside", "/etc/passwd", "a b/ c"} {
		name := fmt.Sprintf("l%d", len(target))
		must(t, s.Symlink(target, name))
		got, err := s.Readlink(name)
		if err != nil || got != target {
			t.Fatalf("readlink %s: %q %v, want %q", name, got, err, target)
		}
		fi, err := s.Lstat(name)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			t.Fatalf("lstat of a symlink: %v %v", fi, err)
		}
	}
	wantErr(t, "symlink over an existing name", s.Symlink("x", "l1"), fs.ErrExist)
	writeFile(t, s, "f", nil)
	_, err := s.Readlink("f")
	wantErr(t, "readlink of a file", err, syscall.EINVAL, fs.ErrInvalid)
	must(t, s.Rename("l1", "renamed"))
	if got, _ := s.Readlink("renamed"); got != "f" {
		t.Fatalf("renamed symlink reads %q", got)
	}
	must(t, s.Remove("renamed"))
	if !exists(t, s, "f") {
		t.Fatal("removing a symlink removed its target")
	}
}

// testNoFollow: no operation follows a symlink, in the last component or
// in any directory on the way.
func testNoFollow(t *testing.T, s store.Store) {
	must(t, s.Mkdir("d", 0o700))
	writeFile(t, s, "d/f", []byte("secret"))
	must(t, s.Symlink("d", "ld"))
	must(t, s.Symlink("d/f", "lf"))
	if _, err := s.OpenFile("ld/f", os.O_RDONLY, 0); err == nil {
		t.Error("opened a file through a symlinked directory")
	}
	if _, err := s.OpenFile("ld/new", os.O_RDWR|os.O_CREATE, 0o600); err == nil || exists(t, s, "d/new") {
		t.Error("created a file through a symlinked directory")
	}
	if err := s.Mkdir("ld/sub", 0o700); err == nil || exists(t, s, "d/sub") {
		t.Error("made a directory through a symlinked directory")
	}
	if err := s.Remove("ld/f"); err == nil || !exists(t, s, "d/f") {
		t.Error("removed a file through a symlinked directory")
	}
	if _, err := s.Lstat("ld/f"); err == nil {
		t.Error("lstat through a symlinked directory")
	}
	if err := s.Rename("ld/f", "stolen"); err == nil {
		t.Error("renamed a file out through a symlinked directory")
	}
	if f, err := s.OpenFile("lf", os.O_RDONLY, 0); err == nil {
		f.Close()
		t.Error("opened a symlink to a file")
	}
	if _, err := s.OpenFile("lf", os.O_RDWR|os.O_TRUNC, 0); err == nil {
		t.Error("opened a symlink for writing")
	}
	if err := s.Chmod("lf", 0o777); err == nil {
		if fi, _ := s.Lstat("d/f"); fi.Mode().Perm() == 0o777 {
			t.Error("chmod followed a symlink")
		}
	}
	if string(readFile(t, s, "d/f")) != "secret" {
		t.Fatal("the target changed")
	}
	// Lstat describes the link, and Lchtimes changes the link's times,
	// not the target's.
	fi, _ := s.Lstat("lf")
	if fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("lstat followed a symlink: %v", fi.Mode())
	}
	before, _ := s.Lstat("d/f")
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	if err := s.Lchtimes("lf", old, old); err == nil {
		if after, _ := s.Lstat("d/f"); !after.ModTime().Equal(before.ModTime()) {
			t.Error("lchtimes followed a symlink")
		}
	}
}

// testBadPaths: paths that are not clean relative paths are refused, and
// nothing appears outside the store.
func testBadPaths(t *testing.T, s store.Store) {
	for _, p := range []string{"../x", "/x", "a/../x", "./x", "x/", "", "x//y", ".."} {
		if f, err := s.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600); err == nil {
			f.Close()
			t.Errorf("create %q succeeded", p)
		}
		if err := s.Mkdir(p, 0o700); err == nil {
			t.Errorf("mkdir %q succeeded", p)
		}
		if err := s.Symlink("t", p); err == nil {
			t.Errorf("symlink %q succeeded", p)
		}
	}
}

func testReadDir(t *testing.T, s store.Store) {
	must(t, s.Mkdir("d", 0o700))
	var want []string
	for i := range 25 {
		n := fmt.Sprintf("f%02d", i)
		writeFile(t, s, "d/"+n, nil)
		want = append(want, n)
	}
	must(t, s.Mkdir("d/sub", 0o700))
	must(t, s.Symlink("x", "d/ln"))
	want = append(want, "ln", "sub")
	slices.Sort(want)
	list := func(n int) []fs.DirEntry {
		t.Helper()
		f, err := s.OpenFile("d", os.O_RDONLY, 0)
		must(t, err)
		defer f.Close()
		var all []fs.DirEntry
		for {
			des, err := f.ReadDir(n)
			all = append(all, des...)
			if n <= 0 {
				must(t, err)
				return all
			}
			if errors.Is(err, io.EOF) {
				return all
			}
			must(t, err)
			if len(des) == 0 {
				t.Fatal("ReadDir(n > 0) returned nothing and no io.EOF")
			}
		}
	}
	for _, n := range []int{-1, 0, 1, 7, 100} {
		des := list(n)
		var got []string
		for _, de := range des {
			got = append(got, de.Name())
			wantDir := de.Name() == "sub"
			if de.IsDir() != wantDir || de.Type()&fs.ModeSymlink != 0 != (de.Name() == "ln") {
				t.Errorf("ReadDir(%d): %s has type %v", n, de.Name(), de.Type())
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("ReadDir(%d): %q, want %q", n, got, want)
		}
	}
	// An entry's Info describes it.
	for _, de := range list(-1) {
		if de.Name() == "f03" {
			fi, err := de.Info()
			if err != nil || !fi.Mode().IsRegular() || fi.Name() != "f03" {
				t.Fatalf("Info: %v %v", fi, err)
			}
		}
	}
}

func testMetadata(t *testing.T, s store.Store) {
	writeFile(t, s, "f", []byte("x"))
	must(t, s.Chmod("f", 0o640))
	fi, err := s.Lstat("f")
	must(t, err)
	if fi.Mode().Perm() != 0o640 {
		t.Fatalf("chmod: %v", fi.Mode())
	}
	mt := time.Date(2010, 1, 2, 3, 4, 5, 600, time.UTC)
	at := time.Date(2011, 1, 2, 3, 4, 5, 0, time.UTC)
	must(t, s.Lchtimes("f", at, mt))
	fi, err = s.Lstat("f")
	must(t, err)
	if !fi.ModTime().Equal(mt) && !fi.ModTime().Equal(mt.Truncate(time.Microsecond)) {
		t.Fatalf("mtime %v, want %v", fi.ModTime(), mt)
	}
	// A zero time leaves that time alone.
	must(t, s.Lchtimes("f", at, time.Time{}))
	if fi2, _ := s.Lstat("f"); !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatalf("zero mtime changed it: %v", fi2.ModTime())
	}
	if st, ok := fi.Sys().(*store.Stat); ok {
		if st.Size != 1 || st.Mode&0o777 != 0o640 || st.Nlink != 1 || st.Ino == 0 {
			t.Fatalf("Sys: %+v", st)
		}
		// Lchown to the owner it has is always allowed.
		must(t, s.Lchown("f", int(st.Uid), int(st.Gid)))
	}
	// Open files report the same object.
	f, err := s.OpenFile("f", os.O_RDONLY, 0)
	must(t, err)
	defer f.Close()
	ofi, err := f.Stat()
	must(t, err)
	if ofi.Size() != 1 || ofi.Mode() != fi.Mode() {
		t.Fatalf("fstat %v, lstat %v", ofi, fi)
	}
}

func testLink(t *testing.T, s store.Store) {
	writeFile(t, s, "a", []byte("one"))
	err := s.Link("a", "b")
	if errors.Is(err, errors.ErrUnsupported) {
		return // a store without hard links says so
	}
	must(t, err)
	f, err := s.OpenFile("b", os.O_RDWR, 0)
	must(t, err)
	_, err = f.WriteAt([]byte("two"), 0)
	must(t, err)
	must(t, f.Close())
	if string(readFile(t, s, "a")) != "two" {
		t.Fatal("a write through one link is not seen through the other")
	}
	fa, _ := s.Lstat("a")
	fb, _ := s.Lstat("b")
	sa, ok1 := fa.Sys().(*store.Stat)
	sb, ok2 := fb.Sys().(*store.Stat)
	if ok1 && ok2 && (sa.Ino != sb.Ino || sa.Nlink != 2) {
		t.Fatalf("links: ino %d/%d nlink %d", sa.Ino, sb.Ino, sa.Nlink)
	}
	wantErr(t, "link over an existing name", s.Link("a", "b"), fs.ErrExist)
	must(t, s.Mkdir("d", 0o700))
	if err := s.Link("d", "d2"); err == nil {
		t.Error("hard link to a directory succeeded")
	}
	must(t, s.Remove("a"))
	if string(readFile(t, s, "b")) != "two" {
		t.Fatal("removing one link lost the content")
	}
}

func testXattr(t *testing.T, s store.Store) {
	xs, ok := s.(store.XattrStore)
	if !ok {
		return
	}
	writeFile(t, s, "f", nil)
	const a = "user.test"
	if err := xs.Setxattr("f", a, []byte("v1"), 0); err != nil {
		if errors.Is(err, syscall.ENOTSUP) || errors.Is(err, errors.ErrUnsupported) {
			return // the file system under the store has none
		}
		t.Fatal(err)
	}
	v, err := xs.Getxattr("f", a)
	if err != nil || string(v) != "v1" {
		t.Fatalf("getxattr: %q %v", v, err)
	}
	must(t, xs.Setxattr("f", a, []byte("value two"), 0))
	must(t, xs.Setxattr("f", "user.empty", nil, 0))
	if v, err := xs.Getxattr("f", "user.empty"); err != nil || len(v) != 0 {
		t.Fatalf("empty value: %q %v", v, err)
	}
	names, err := xs.Listxattr("f")
	must(t, err)
	slices.Sort(names)
	if !slices.Equal(names, []string{"user.empty", a}) {
		t.Fatalf("listxattr: %q", names)
	}
	v, err = xs.Getxattr("f", a)
	if err != nil || string(v) != "value two" {
		t.Fatalf("getxattr after replace: %q %v", v, err)
	}
	big := bytes.Repeat([]byte("x"), 3000)
	must(t, xs.Setxattr("f", "user.big", big, 0))
	if v, err := xs.Getxattr("f", "user.big"); err != nil || !bytes.Equal(v, big) {
		t.Fatalf("big value: %d bytes, %v", len(v), err)
	}
	must(t, xs.Removexattr("f", a))
	_, err = xs.Getxattr("f", a)
	wantErr(t, "getxattr of a removed attribute", err, store.ErrNoAttr)
	wantErr(t, "removexattr of a missing attribute", xs.Removexattr("f", a), store.ErrNoAttr)
	_, err = xs.Getxattr("missing", a)
	wantErr(t, "getxattr of a missing file", err, fs.ErrNotExist)
	// The attributes follow the file through a rename.
	must(t, s.Rename("f", "g"))
	if v, err := xs.Getxattr("g", "user.big"); err != nil || !bytes.Equal(v, big) {
		t.Fatalf("after rename: %v", err)
	}
	// A symlink's attributes are its own: setting one on a symlink must
	// not reach its target.
	must(t, s.Symlink("g", "ln"))
	if err := xs.Setxattr("ln", "user.via", []byte("x"), 0); err == nil {
		if _, err := xs.Getxattr("g", "user.via"); err == nil {
			t.Fatal("setxattr followed a symlink")
		}
	}
}

func testRename2(t *testing.T, s store.Store) {
	r, ok := s.(store.Renamer2)
	if !ok {
		return
	}
	const noReplace, exchange = 1, 2 // RENAME_NOREPLACE, RENAME_EXCHANGE
	writeFile(t, s, "a", []byte("A"))
	writeFile(t, s, "b", []byte("B"))
	wantErr(t, "RENAME_NOREPLACE over a file", r.Rename2("a", "b", noReplace), fs.ErrExist)
	must(t, r.Rename2("a", "c", noReplace))
	must(t, r.Rename2("c", "b", exchange))
	if string(readFile(t, s, "b")) != "A" || string(readFile(t, s, "c")) != "B" {
		t.Fatal("RENAME_EXCHANGE did not swap")
	}
	wantErr(t, "RENAME_EXCHANGE with a missing name", r.Rename2("b", "missing", exchange), fs.ErrNotExist)
}

func testRemovers(t *testing.T, s store.Store) {
	writeFile(t, s, "f", nil)
	must(t, s.Mkdir("d", 0o700))
	if fr, ok := s.(store.FileRemover); ok {
		wantErr(t, "RemoveFile of a directory", fr.RemoveFile("d"), syscall.EISDIR, syscall.EPERM)
		must(t, fr.RemoveFile("f"))
		writeFile(t, s, "f", nil)
	}
	if dr, ok := s.(store.DirRemover); ok {
		wantErr(t, "RemoveDir of a file", dr.RemoveDir("f"), syscall.ENOTDIR)
		must(t, dr.RemoveDir("d"))
	}
}

// testConcurrent runs writers, readers and renamers at once; run it with
// -race.
func testConcurrent(t *testing.T, s store.Store) {
	must(t, s.Mkdir("d", 0o700))
	const workers, files = 8, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range files {
				name := fmt.Sprintf("d/w%d-%d", w, i)
				data := []byte(name)
				f, err := s.OpenFile(name+".tmp", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
				if err != nil {
					errs <- err
					return
				}
				_, err = f.WriteAt(data, 0)
				if err == nil {
					err = f.Close()
				} else {
					f.Close()
				}
				if err == nil {
					err = s.Rename(name+".tmp", name)
				}
				if err == nil {
					g, oerr := s.OpenFile(name, os.O_RDONLY, 0)
					err = oerr
					if err == nil {
						b := make([]byte, len(data))
						_, err = g.ReadAt(b, 0)
						if err == nil && !bytes.Equal(b, data) {
							err = fmt.Errorf("%s: read %q", name, b)
						}
						g.Close()
					}
				}
				if err == nil && i%2 == 0 {
					err = s.Remove(name)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	// A lister runs meanwhile.
	stop := make(chan struct{})
	listed := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				listed <- nil
				return
			default:
			}
			f, err := s.OpenFile("d", os.O_RDONLY, 0)
			if err != nil {
				listed <- err
				return
			}
			_, err = f.ReadDir(-1)
			f.Close()
			if err != nil {
				listed <- err
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := <-listed; err != nil {
		t.Error(err)
	}
	f, err := s.OpenFile("d", os.O_RDONLY, 0)
	must(t, err)
	des, err := f.ReadDir(-1)
	f.Close()
	must(t, err)
	if len(des) != workers*files/2 {
		t.Fatalf("%d entries left, want %d", len(des), workers*files/2)
	}
}
