package sealfs_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/store/memstore"
	"github.com/sealfs/sealfs/vault"
)

type format struct {
	name string
	opts vault.Options
}

// formats is the flag matrix every behavioural test runs over.
var formats = []format{
	{"gcm", vault.Options{}},
	{"siv", vault.Options{Suite: content.AESSIV}},
	{"xchacha", vault.Options{Suite: content.XChaCha20Poly1305}},
	{"deterministic", vault.Options{DeterministicNames: true}},
	{"plaintextnames", vault.Options{PlaintextNames: true}},
	{"longnamemax62", vault.Options{LongNameMax: 62}},
	{"xchacha-deterministic-62", vault.Options{Suite: content.XChaCha20Poly1305, DeterministicNames: true, LongNameMax: 62}},
}

func newVault(t testing.TB, o vault.Options) (*sealfs.FS, string) {
	t.Helper()
	dir := t.TempDir()
	o.ScryptLogN = 10
	f, err := sealfs.Create(dir, []byte("pw"), &sealfs.CreateOptions{Options: o})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, dir
}

// memVault makes a vault on an in-memory store; its dir is "".
func memVault(t testing.TB, o vault.Options) *sealfs.FS {
	t.Helper()
	o.ScryptLogN = 10
	key, err := vault.GenerateKey()
	must(t, err)
	cfg, err := vault.New(key, []byte("pw"), &o)
	must(t, err)
	f, err := sealfs.Init(memstore.New(), cfg, key, nil)
	must(t, err)
	return f
}

// forEachDiskFormat runs fn on a new vault of every format on the disk.
func forEachDiskFormat(t *testing.T, fn func(t *testing.T, f *sealfs.FS, dir string)) {
	for _, fm := range formats {
		t.Run(fm.name, func(t *testing.T) {
			f, dir := newVault(t, fm.opts)
			fn(t, f, dir)
		})
	}
}

// forEachFormat runs fn on a new vault of every format on the disk, and
// on the in-memory store for two formats (dir is "" there: checks of the
// ciphertext files are for disk vaults).
func forEachFormat(t *testing.T, fn func(t *testing.T, f *sealfs.FS, dir string)) {
	forEachDiskFormat(t, fn)
	for _, fm := range []format{formats[0], formats[4]} {
		t.Run("mem-"+fm.name, func(t *testing.T) {
			fn(t, memVault(t, fm.opts), "")
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func pattern(n int, seed int64) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

var long200 = strings.Repeat("x", 200)

func TestFSTestConformance(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f *sealfs.FS, dir string) {
		must(t, f.MkdirAll("a/b/c", 0o755))
		must(t, f.WriteFile("a/b/c/file.txt", []byte("hello"), 0o644))
		must(t, f.WriteFile("top.bin", pattern(10000, 1), 0o600))
		must(t, f.WriteFile("empty", nil, 0o644))
		must(t, f.WriteFile(long200, []byte("long name"), 0o644))
		must(t, f.Mkdir("d-"+long200, 0o755))
		must(t, f.WriteFile("d-"+long200+"/inner", []byte("in"), 0o644))
		must(t, f.Symlink("top.bin", "link"))
		must(t, f.Symlink("a/b", "dirlink"))
		must(t, fstest.TestFS(f, "a/b/c/file.txt", "top.bin", "empty", long200, "d-"+long200+"/inner", "link", "dirlink"))
	})
}

func TestReadWriteSizes(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f *sealfs.FS, dir string) {
		for _, n := range []int{0, 1, 4095, 4096, 4097, 8192, 12345, 300000} {
			name := fmt.Sprintf("f%d", n)
			data := pattern(n, int64(n))
			must(t, f.WriteFile(name, data, 0o644))
			got, err := f.ReadFile(name)
			must(t, err)
			if !bytes.Equal(got, data) {
				t.Fatalf("%s: content differs", name)
			}
			fi, err := f.Stat(name)
			must(t, err)
			if fi.Size() != int64(n) {
				t.Fatalf("%s: size %d", name, fi.Size())
			}
			if dir == "" {
				continue
			}
			// The ciphertext has the size the format predicts.
			cname, err := f.EncryptPath(name)
			must(t, err)
			cfi, err := os.Stat(filepath.Join(dir, cname))
			must(t, err)
			if want := f.Codec().CipherSize(int64(n)); cfi.Size() != want {
				t.Fatalf("%s: ciphertext size %d, want %d", name, cfi.Size(), want)
			}
		}
	})
}

func TestFileHandleSemantics(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f *sealfs.FS, dir string) {
		// O_EXCL
		file, err := f.OpenFile("x", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		must(t, err)
		if _, err := f.OpenFile("x", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("O_EXCL on existing: %v", err)
		}
		// Write, Seek, Read
		_, err = file.Write([]byte("hello world"))
		must(t, err)
		_, err = file.Seek(6, io.SeekStart)
		must(t, err)
		buf := make([]byte, 5)
		_, err = io.ReadFull(file, buf)
		must(t, err)
		if string(buf) != "world" {
			t.Fatalf("read %q", buf)
		}
		// Sparse write far away, then the gap reads as zeros.
		_, err = file.WriteAt([]byte("END"), 50000)
		must(t, err)
		fi, err := file.Stat()
		must(t, err)
		if fi.Size() != 50003 {
			t.Fatalf("size %d", fi.Size())
		}
		gap := make([]byte, 100)
		_, err = file.ReadAt(gap, 20000)
		must(t, err)
		if !bytes.Equal(gap, make([]byte, 100)) {
			t.Fatal("hole not zero")
		}
		// SEEK_DATA / SEEK_HOLE: data at 0, a hole before the end.
		if off, err := file.Seek(0, 3); err != nil || off != 0 {
			t.Fatalf("SEEK_DATA = %d, %v", off, err)
		}
		if off, err := file.Seek(0, 4); err != nil || off >= 50003 || off < 11 {
			t.Fatalf("SEEK_HOLE = %d, %v", off, err)
		}
		must(t, file.Truncate(5))
		must(t, file.Close())
		got, _ := f.ReadFile("x")
		if string(got) != "hello" {
			t.Fatalf("after truncate: %q", got)
		}
		if err := file.Close(); !errors.Is(err, fs.ErrClosed) {
			t.Fatalf("double close: %v", err)
		}

		// O_APPEND
		a, err := f.OpenFile("x", os.O_WRONLY|os.O_APPEND, 0)
		must(t, err)
		_, err = a.Write([]byte(" there"))
		must(t, err)
		if _, err := a.WriteAt([]byte("no"), 0); err == nil {
			t.Fatal("WriteAt with O_APPEND succeeded")
		}
		if _, err := a.Read(buf); !errors.Is(err, syscall.EBADF) {
			t.Fatalf("read on O_WRONLY: %v", err)
		}
		must(t, a.Close())
		got, _ = f.ReadFile("x")
		if string(got) != "hello there" {
			t.Fatalf("after append: %q", got)
		}
		// O_TRUNC
		tr, err := f.OpenFile("x", os.O_RDWR|os.O_TRUNC, 0)
		must(t, err)
		if fi, _ := tr.Stat(); fi.Size() != 0 {
			t.Fatalf("O_TRUNC left %d bytes", fi.Size())
		}
		must(t, tr.Close())
		// Read-only handle refuses writes.
		ro, err := f.Open("x")
		must(t, err)
		if _, err := ro.(*sealfs.File).Write([]byte("x")); !errors.Is(err, syscall.EBADF) {
			t.Fatalf("write on O_RDONLY: %v", err)
		}
		ro.Close()
		// Directories.
		must(t, f.Mkdir("d", 0o755))
		if _, err := f.OpenFile("d", os.O_RDWR, 0); !errors.Is(err, syscall.EISDIR) {
			t.Fatalf("open dir for writing: %v", err)
		}
		if _, err := f.ReadFile("nope"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("missing file: %v", err)
		}
		var pe *fs.PathError
		if _, err := f.ReadFile("nope"); !errors.As(err, &pe) || pe.Path != "nope" {
			t.Fatalf("error does not name the plaintext path: %v", err)
		}
		if _, err := f.Open("../x"); !errors.Is(err, fs.ErrInvalid) {
			t.Fatalf("invalid path: %v", err)
		}
	})
}

// Two handles of one file (also through a hard link) share state, so a
// truncate to zero through one (which makes a new file ID) does not break
// the other.
func TestSharedInodeState(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f *sealfs.FS, dir string) {
		must(t, f.WriteFile("a", pattern(9000, 2), 0o644))
		must(t, f.Link("a", "b"))
		h1, err := f.OpenFile("a", os.O_RDWR, 0)
		must(t, err)
		defer h1.Close()
		h2, err := f.OpenFile("b", os.O_RDWR, 0)
		must(t, err)
		defer h2.Close()
		must(t, h1.Truncate(0))
		_, err = h1.WriteAt([]byte("fresh"), 0)
		must(t, err)
		buf := make([]byte, 5)
		_, err = h2.ReadAt(buf, 0)
		must(t, err)
		if string(buf) != "fresh" {
			t.Fatalf("other handle reads %q", buf)
		}
		fa, _ := f.Lstat("a")
		fb, _ := f.Lstat("b")
		sa, sb := fa.Sys().(*sealfs.Stat), fb.Sys().(*sealfs.Stat)
		if sa.Ino != sb.Ino || sa.Nlink != 2 {
			t.Fatalf("hard link: ino %d/%d nlink %d", sa.Ino, sb.Ino, sa.Nlink)
		}
	})
}

func TestUnlinkWhileOpen(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f *sealfs.FS, dir string) {
		must(t, f.WriteFile("gone", []byte("still here"), 0o644))
		h, err := f.OpenFile("gone", os.O_RDWR, 0)
		must(t, err)
		must(t, f.Remove("gone"))
		if _, err := f.Lstat("gone"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("lstat after remove: %v", err)
		}
		buf := make([]byte, 10)
		_, err = h.ReadAt(buf, 0)
		must(t, err)
		if string(buf) != "still here" {
			t.Fatalf("read %q", buf)
		}
		_, err = h.WriteAt([]byte("STILL"), 0)
		must(t, err)
		must(t, h.Close())
	})
}

// cipherNames lists a ciphertext directory.
func cipherNames(t *testing.T, dir string) []string {
	ents, err := os.ReadDir(dir)
	must(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out
}

func TestNamespaceOps(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f *sealfs.FS, dir string) {
		must(t, f.MkdirAll("src/sub", 0o755))
		must(t, f.WriteFile("src/sub/file", []byte("1"), 0o644))
		must(t, f.WriteFile("src/"+long200, []byte("2"), 0o644))
		must(t, f.Mkdir("dst", 0o755))

		// Rename across directories, long names both ways.
		must(t, f.Rename("src/"+long200, "dst/short"))
		must(t, f.Rename("dst/short", "dst/"+long200+"y"))
		got, err := f.ReadFile("dst/" + long200 + "y")
		must(t, err)
		if string(got) != "2" {
			t.Fatalf("renamed long file: %q", got)
		}
		// Rename a directory; its contents come along and stay readable.
		must(t, f.Rename("src/sub", "dst/moved"))
		got, err = f.ReadFile("dst/moved/file")
		must(t, err)
		if string(got) != "1" {
			t.Fatalf("file in renamed dir: %q", got)
		}
		if _, err := f.Stat("src/sub/file"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("old path still there: %v", err)
		}
		// Rename over an existing file replaces it.
		must(t, f.WriteFile("a", []byte("A"), 0o644))
		must(t, f.WriteFile("b", []byte("B"), 0o644))
		must(t, f.Rename("a", "b"))
		got, _ = f.ReadFile("b")
		if string(got) != "A" {
			t.Fatalf("rename over file: %q", got)
		}
		// Rename a directory over an empty directory.
		must(t, f.Mkdir("empty", 0o755))
		must(t, f.Rename("dst/moved", "empty"))
		got, err = f.ReadFile("empty/file")
		must(t, err)
		if string(got) != "1" {
			t.Fatalf("rename over empty dir: %q", got)
		}
		// ...but not over a non-empty one.
		must(t, f.Mkdir("full", 0o755))
		must(t, f.WriteFile("full/x", nil, 0o644))
		if err := f.Rename("empty", "full"); !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			t.Fatalf("rename over non-empty dir: %v", err)
		}
		// Exchange and no-replace.
		must(t, f.WriteFile("c", []byte("C"), 0o644))
		must(t, f.Rename2("b", "c", sealfs.RenameExchange))
		gb, _ := f.ReadFile("b")
		gc, _ := f.ReadFile("c")
		if string(gb) != "C" || string(gc) != "A" {
			t.Fatalf("exchange: b=%q c=%q", gb, gc)
		}
		if err := f.Rename2("b", "c", sealfs.RenameNoReplace); !errors.Is(err, fs.ErrExist) {
			t.Fatalf("noreplace: %v", err)
		}
		// Remove: non-empty dir fails, empty succeeds.
		if err := f.Remove("full"); !errors.Is(err, syscall.ENOTEMPTY) {
			t.Fatalf("remove non-empty: %v", err)
		}
		must(t, f.Remove("full/x"))
		must(t, f.Remove("full"))
		must(t, f.RemoveAll("dst"))
		must(t, f.RemoveAll("src"))
		must(t, f.RemoveAll("does-not-exist"))
		// Listing is sorted and hides internal files.
		ents, err := f.ReadDir(".")
		must(t, err)
		var got2 []string
		for _, e := range ents {
			got2 = append(got2, e.Name())
		}
		if want := []string{"b", "c", "empty"}; !slices.Equal(got2, want) {
			t.Fatalf("root listing %v, want %v", got2, want)
		}
		// No orphaned long-name files are left behind.
		must(t, f.RemoveAll("empty"))
		must(t, f.Remove("b"))
		must(t, f.Remove("c"))
		checkNoLeftovers(t, dir)
	})
}

func TestSymlinksAndMetadata(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f *sealfs.FS, dir string) {
		must(t, f.MkdirAll("d/e", 0o755))
		must(t, f.WriteFile("d/e/target", []byte("T"), 0o644))
		must(t, f.Symlink("d/e/target", "ln"))
		must(t, f.Symlink("e", "d/eln"))
		must(t, f.Symlink("/abs/olute", "abs"))
		longTarget := strings.Repeat("t/", 1000)
		must(t, f.Symlink(longTarget, "ln-"+long200))
		if got, err := f.ReadLink("ln-" + long200); err != nil || got != longTarget {
			t.Fatalf("long symlink: %v", err)
		}
		if fi, _ := f.Lstat("ln"); fi.Mode()&fs.ModeSymlink == 0 || fi.Size() != int64(len("d/e/target")) {
			t.Fatalf("lstat symlink: %v size %d", fi.Mode(), fi.Size())
		}
		if fi, err := f.Stat("ln"); err != nil || !fi.Mode().IsRegular() || fi.Size() != 1 {
			t.Fatalf("stat through symlink: %v", err)
		}
		// Intermediate symlinked directory.
		got, err := f.ReadFile("d/eln/target")
		must(t, err)
		if string(got) != "T" {
			t.Fatalf("through dir symlink: %q", got)
		}
		if _, err := f.Stat("abs"); !errors.Is(err, sealfs.ErrEscapes) {
			t.Fatalf("absolute symlink: %v", err)
		}
		// chmod, chtimes, lchtimes
		must(t, f.Chmod("d/e/target", 0o600))
		fi, _ := f.Stat("d/e/target")
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("chmod: %v", fi.Mode())
		}
		mt := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
		must(t, f.Chtimes("ln", mt, mt))
		fi, _ = f.Stat("d/e/target")
		if !fi.ModTime().Equal(mt) {
			t.Fatalf("chtimes: %v", fi.ModTime())
		}
		must(t, f.Lchtimes("ln", mt.Add(time.Hour), mt.Add(time.Hour)))
		fi, _ = f.Lstat("ln")
		if !fi.ModTime().Equal(mt.Add(time.Hour)) {
			t.Fatalf("lchtimes: %v", fi.ModTime())
		}
		must(t, f.Truncate("ln", 3000))
		fi, _ = f.Stat("d/e/target")
		if fi.Size() != 3000 {
			t.Fatalf("truncate through symlink: %d", fi.Size())
		}
		// Mkdir modes.
		must(t, f.Mkdir("m", 0o500))
		fi, _ = f.Stat("m")
		if fi.Mode().Perm() != 0o500 || !fi.IsDir() {
			t.Fatalf("mkdir 0500: %v", fi.Mode())
		}
		must(t, f.Chmod("m", 0o755))
	})
}

func TestXattrs(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f *sealfs.FS, dir string) {
		must(t, f.WriteFile("x", nil, 0o644))
		must(t, f.Mkdir("d", 0o755))
		for _, p := range []string{"x", "d"} {
			must(t, f.Setxattr(p, "user.one", []byte("value one"), 0))
			must(t, f.Setxattr(p, "user.empty", nil, 0))
			must(t, f.Setxattr(p, "user."+strings.Repeat("n", 150), []byte("long name"), 0))
			v, err := f.Getxattr(p, "user.one")
			must(t, err)
			if string(v) != "value one" {
				t.Fatalf("getxattr: %q", v)
			}
			list, err := f.Listxattr(p)
			must(t, err)
			slices.Sort(list)
			if len(list) != 3 || list[0] != "user.empty" || list[2] != "user.one" {
				t.Fatalf("listxattr: %v", list)
			}
			must(t, f.Removexattr(p, "user.one"))
			if _, err := f.Getxattr(p, "user.one"); !errors.Is(err, store.ErrNoAttr) {
				t.Fatalf("removed xattr: %v", err)
			}
		}
		// The store holds no plaintext attribute names or values.
		xs := f.Store().(sealfs.XattrStore)
		cname, _ := f.EncryptPath("d")
		stored, err := xs.Listxattr(cname)
		must(t, err)
		for _, a := range stored {
			v, _ := xs.Getxattr(cname, a)
			if strings.Contains(a, "long") || strings.Contains(a, "empty") || strings.Contains(string(v), "long name") {
				t.Fatalf("plaintext xattr in the store: %q=%q", a, v)
			}
		}
	})
}

// Many goroutines read and write the same and different files at once.
func TestConcurrentAccess(t *testing.T) {
	f, _ := newVault(t, vault.Options{})
	const workers = 8
	const blocks = 16
	must(t, f.WriteFile("shared", make([]byte, workers*blocks*4096), 0o644))
	var wg sync.WaitGroup
	errs := make(chan error, workers*3)
	for w := range workers {
		wg.Add(3)
		go func() { // own file
			defer wg.Done()
			name := fmt.Sprintf("own%d", w)
			data := pattern(70000, int64(w))
			if err := f.WriteFile(name, data, 0o644); err != nil {
				errs <- err
				return
			}
			got, err := f.ReadFile(name)
			if err != nil || !bytes.Equal(got, data) {
				errs <- fmt.Errorf("%s: %v", name, err)
			}
		}()
		go func() { // own region of a shared file, unaligned writes
			defer wg.Done()
			h, err := f.OpenFile("shared", os.O_RDWR, 0)
			if err != nil {
				errs <- err
				return
			}
			defer h.Close()
			base := int64(w * blocks * 4096)
			data := bytes.Repeat([]byte{byte(w + 1)}, blocks*4096-100)
			for i := 0; i < 5; i++ {
				if _, err := h.WriteAt(data, base+50); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() { // readers of the shared file
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := f.ReadFile("shared"); err != nil {
					errs <- err
					return
				}
				if _, err := f.ReadDir("."); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got, err := f.ReadFile("shared")
	must(t, err)
	for w := range workers {
		base := w * blocks * 4096
		if got[base+49] != 0 || got[base+50] != byte(w+1) || got[base+blocks*4096-51] != byte(w+1) {
			t.Fatalf("region %d damaged", w)
		}
	}
}

func TestReadOnly(t *testing.T) {
	_, dir := newVault(t, vault.Options{})
	f, err := sealfs.Open(dir, []byte("pw"), &sealfs.Options{ReadOnly: true})
	must(t, err)
	defer f.Close()
	for name, err := range map[string]error{
		"write":  f.WriteFile("x", nil, 0o644),
		"mkdir":  f.Mkdir("d", 0o755),
		"remove": f.Remove("x"),
	} {
		if !errors.Is(err, sealfs.ErrReadOnly) || !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s on read-only: %v", name, err)
		}
	}
}

func TestNilArguments(t *testing.T) {
	if _, err := sealfs.New(nil, nil, nil, nil); err == nil {
		t.Fatal("New(nil...) succeeded")
	}
	if _, err := sealfs.Init(nil, nil, nil, nil); err == nil {
		t.Fatal("Init(nil...) succeeded")
	}
}

func TestCreateRefusesNonEmpty(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x"), nil, 0o644)
	_, err := sealfs.Create(dir, []byte("pw"), &sealfs.CreateOptions{Options: vault.Options{ScryptLogN: 10}})
	if !errors.Is(err, sealfs.ErrNotEmpty) {
		t.Fatalf("create in non-empty dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "gocryptfs.conf")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("config written into a non-empty dir")
	}
}

// TestReaderThenWriter: a file opened for reading only, then opened again
// for writing, shares one content engine: the reader sees what the writer
// wrote and truncated (the backing is upgraded to read-write), and the
// read-only handle still cannot write.
func TestReaderThenWriter(t *testing.T) {
	f, _ := newVault(t, vault.Options{})
	if err := f.WriteFile("a", bytes.Repeat([]byte("1"), 9000), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := f.OpenFile("a", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 10)
	if _, err := r.ReadAt(buf, 8000); err != nil || string(buf) != "1111111111" {
		t.Fatalf("first read: %q %v", buf, err)
	}
	w, err := f.OpenFile("a", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.WriteAt([]byte("2222222222"), 8000); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ReadAt(buf, 8000); err != nil || string(buf) != "2222222222" {
		t.Fatalf("reader after write: %q %v", buf, err)
	}
	if err := w.Truncate(5000); err != nil {
		t.Fatal(err)
	}
	if fi, err := r.Stat(); err != nil || fi.Size() != 5000 {
		t.Fatalf("reader's stat after truncate: %v %v", fi, err)
	}
	if _, err := r.ReadAt(buf, 8000); err != io.EOF {
		t.Fatalf("reader past the new end: %v", err)
	}
	w.Close()
	if _, err := r.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("write through the read-only handle succeeded")
	}
	if got, err := f.ReadFile("a"); err != nil || len(got) != 5000 || got[4999] != '1' {
		t.Fatalf("final content: %d bytes %v", len(got), err)
	}
}

// prefetchStore records the Prefetch calls on the files it opens.
type prefetchStore struct {
	sealfs.Store
	mu    sync.Mutex
	calls []string // "cipher path: n"
}

type prefetchFile struct {
	sealfs.StoreFile
	s    *prefetchStore
	name string
}

func (f *prefetchFile) Prefetch(n int64) {
	f.s.mu.Lock()
	f.s.calls = append(f.s.calls, fmt.Sprintf("%s: %d", f.name, n))
	f.s.mu.Unlock()
}

func (s *prefetchStore) OpenFile(name string, flag int, perm fs.FileMode) (sealfs.StoreFile, error) {
	f, err := s.Store.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &prefetchFile{StoreFile: f, s: s, name: name}, nil
}

func (s *prefetchStore) take() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = nil
	return c
}

// TestPrefetchOnReadOpen: a regular file opened only for reading asks the
// store to start reading its beginning; writable opens, directories and
// the vault's own small files (diriv) do not.
func TestPrefetchOnReadOpen(t *testing.T) {
	key, err := vault.GenerateKey()
	must(t, err)
	cfg, err := vault.New(key, []byte("pw"), &vault.Options{ScryptLogN: 10})
	must(t, err)
	ps := &prefetchStore{Store: memstore.New()}
	f, err := sealfs.Init(ps, cfg, key, nil)
	must(t, err)
	defer f.Close()
	must(t, f.Mkdir("d", 0o755))
	must(t, f.WriteFile("d/a", []byte("hello"), 0o644))
	if c := ps.take(); len(c) != 0 {
		t.Errorf("prefetch while creating: %q", c)
	}
	for _, flag := range []int{os.O_RDWR, os.O_WRONLY, os.O_RDONLY | os.O_TRUNC} {
		h, err := f.OpenFile("d/a", flag, 0)
		must(t, err)
		h.Close()
		if c := ps.take(); len(c) != 0 {
			t.Errorf("flag %#x: prefetch on a writable open: %q", flag, c)
		}
	}
	must(t, f.WriteFile("d/a", []byte("hello"), 0o644))
	ps.take()
	if _, err := f.ReadDir("d"); err != nil {
		t.Fatal(err)
	}
	if c := ps.take(); len(c) != 0 {
		t.Errorf("prefetch on a directory listing: %q", c)
	}
	got, err := f.ReadFile("d/a")
	must(t, err)
	if string(got) != "hello" {
		t.Fatalf("read %q", got)
	}
	c := ps.take()
	if len(c) != 1 || !strings.HasSuffix(c[0], fmt.Sprintf(": %d", 128<<10)) {
		t.Errorf("read-only open: prefetch calls %q, want one of 128 KiB", c)
	}
}

// Unlink and Rmdir remove only their own kind of object, whatever is
// stored under the name, and keep long-name files and directory IVs
// consistent.
func TestUnlinkRmdir(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f *sealfs.FS, dir string) {
		must(t, f.MkdirAll("d/"+long200, 0o755))
		must(t, f.WriteFile("d/"+long200+"/in", []byte("x"), 0o644))
		must(t, f.WriteFile("d/file", []byte("f"), 0o644))
		must(t, f.WriteFile("d/f"+long200, []byte("g"), 0o644))
		must(t, f.Symlink("file", "d/link"))
		must(t, f.Mkdir("d/empty", 0o755))

		if err := f.Rmdir("d/file"); !errors.Is(err, syscall.ENOTDIR) {
			t.Fatalf("rmdir of a file: %v", err)
		}
		if err := f.Rmdir("d/link"); !errors.Is(err, syscall.ENOTDIR) {
			t.Fatalf("rmdir of a symlink: %v", err)
		}
		if err := f.Unlink("d/empty"); !errors.Is(err, syscall.EISDIR) {
			t.Fatalf("unlink of a directory: %v", err)
		}
		if err := f.Rmdir("d/" + long200); !errors.Is(err, syscall.ENOTEMPTY) {
			t.Fatalf("rmdir of a non-empty directory: %v", err)
		}
		if err := f.Rmdir("d/missing"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("rmdir of a missing name: %v", err)
		}
		if err := f.Unlink("d/missing"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("unlink of a missing name: %v", err)
		}
		// Nothing was lost by the failures: the non-empty directory still
		// has its IV (its file decrypts), the file and link are there.
		got, err := f.ReadFile("d/" + long200 + "/in")
		must(t, err)
		if string(got) != "x" {
			t.Fatalf("file in the directory rmdir refused: %q", got)
		}
		got, err = f.ReadFile("d/link")
		must(t, err)
		if string(got) != "f" {
			t.Fatalf("through the link: %q", got)
		}
		if fi, err := f.Lstat("d/empty"); err != nil || !fi.IsDir() {
			t.Fatalf("empty directory after refused unlink: %v %v", fi, err)
		}

		must(t, f.Unlink("d/link"))
		must(t, f.Unlink("d/f"+long200))
		must(t, f.Unlink("d/"+long200+"/in"))
		must(t, f.Rmdir("d/"+long200))
		must(t, f.Rmdir("d/empty"))
		must(t, f.Unlink("d/file"))
		ents, err := f.ReadDir("d")
		must(t, err)
		if len(ents) != 0 {
			t.Fatalf("left in d: %v", ents)
		}
		must(t, f.Rmdir("d"))
		if _, err := f.Lstat("d"); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("d after rmdir: %v", err)
		}
		checkNoLeftovers(t, dir)
	})
}

// ReadDir lists a directory named directly or through symlinks, and says
// what is wrong with any other name.
func TestReadDirNames(t *testing.T) {
	forEachFormat(t, func(t *testing.T, f *sealfs.FS, dir string) {
		must(t, f.MkdirAll("d/sub", 0o755))
		must(t, f.WriteFile("d/b", nil, 0o644))
		must(t, f.WriteFile("d/a", nil, 0o644))
		must(t, f.Symlink("d", "link"))
		must(t, f.Symlink("../link/sub", "d/up"))
		want := []string{"a", "b", "sub", "up"}
		for _, name := range []string{"d", "link", "link/sub/..", "d/up/.."} {
			ents, err := f.ReadDir(name)
			if filepath.Clean(name) != name {
				if !errors.Is(err, fs.ErrInvalid) {
					t.Errorf("ReadDir(%q): %v, want an invalid path", name, err)
				}
				continue
			}
			must(t, err)
			var got []string
			for _, e := range ents {
				got = append(got, e.Name())
			}
			if !slices.Equal(got, want) {
				t.Errorf("ReadDir(%q) = %v, want %v", name, got, want)
			}
		}
		if ents, err := f.ReadDir("d/up"); err != nil || len(ents) != 0 {
			t.Errorf("ReadDir through two links: %v, %v", ents, err)
		}
		if _, err := f.ReadDir("d/a"); !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("ReadDir of a file: %v, want ENOTDIR", err)
		}
		if _, err := f.ReadDir("d/missing"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadDir of a missing name: %v", err)
		}
		if _, err := f.ReadDir("d/a/x"); !errors.Is(err, syscall.ENOTDIR) && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("ReadDir below a file: %v", err)
		}
	})
}

// With SharedStorage, a directory that another instance replaced (new
// IV, other files, same names) is seen as it is now: no cached name
// encryption outlives the directory it was made for.
func TestSharedStorageReplacedDirectory(t *testing.T) {
	for _, fm := range []format{formats[0], formats[5]} {
		t.Run(fm.name, func(t *testing.T) {
			a, dir := newVault(t, fm.opts)
			a.Close()
			open := func() *sealfs.FS {
				f, err := sealfs.Open(dir, []byte("pw"), &sealfs.Options{SharedStorage: true})
				must(t, err)
				t.Cleanup(func() { f.Close() })
				return f
			}
			a, b := open(), open()
			for _, name := range []string{"f", long200} {
				must(t, a.MkdirAll("d/sub", 0o755))
				must(t, a.WriteFile("d/sub/"+name, []byte("first"), 0o644))
				if _, err := a.ReadDir("d/sub"); err != nil {
					t.Fatal(err)
				}
				if got, err := a.ReadFile("d/sub/" + name); err != nil || string(got) != "first" {
					t.Fatalf("first read: %q %v", got, err)
				}
				must(t, b.RemoveAll("d"))
				must(t, b.MkdirAll("d/sub", 0o755))
				must(t, b.WriteFile("d/sub/"+name, []byte("second"), 0o644))
				if got, err := a.ReadFile("d/sub/" + name); err != nil || string(got) != "second" {
					t.Fatalf("read after the other instance replaced the directory: %q %v", got, err)
				}
				fi, err := a.Stat("d/sub/" + name)
				if err != nil || fi.Size() != int64(len("second")) {
					t.Fatalf("stat after replacement: %v %v", fi, err)
				}
				must(t, a.RemoveAll("d"))
			}
		})
	}
}

// checkNoLeftovers fails if the disk vault dir ("" for in-memory vaults:
// nothing to check) holds more than its config and root IV.
func checkNoLeftovers(t *testing.T, dir string) {
	t.Helper()
	if dir == "" {
		return
	}
	for _, n := range cipherNames(t, dir) {
		if n != "gocryptfs.conf" && n != "gocryptfs.diriv" {
			t.Errorf("leftover ciphertext %q", n)
		}
	}
}

// Without SharedStorage, a directory another instance replaced behind our
// back (new IV) is seen within a second, as with gocryptfs' one-second
// directory cache: its files do not stay invisible.
func TestReplacedDirectorySeenSoon(t *testing.T) {
	a, dir := newVault(t, formats[0].opts)
	b, err := sealfs.Open(dir, []byte("pw"), nil)
	must(t, err)
	defer b.Close()
	must(t, a.MkdirAll("d/sub", 0o755))
	must(t, a.WriteFile("d/sub/f", []byte("first"), 0o644))
	if got, err := a.ReadFile("d/sub/f"); err != nil || string(got) != "first" {
		t.Fatalf("first read: %q %v", got, err)
	}
	must(t, b.RemoveAll("d"))
	must(t, b.MkdirAll("d/sub", 0o755))
	must(t, b.WriteFile("d/sub/f", []byte("second"), 0o644))
	deadline := time.Now().Add(3 * time.Second)
	for {
		got, err := a.ReadFile("d/sub/f")
		if err == nil && string(got) == "second" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("3 s after the directory was replaced: %q %v", got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	ents, err := a.ReadDir("d/sub")
	must(t, err)
	if len(ents) != 1 || ents[0].Name() != "f" {
		t.Fatalf("listing of the replaced directory: %v", ents)
	}
}
