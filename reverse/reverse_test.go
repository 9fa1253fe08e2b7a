//go:build linux

package reverse_test

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"
	"time"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/internal/testvault"
	"github.com/sealfs/sealfs/internal/testvault/testkey"
	"github.com/sealfs/sealfs/reverse"
	"github.com/sealfs/sealfs/vault"
)

// newView opens the view of plainDir with its reverse config (password
// "test") through an os.Root.
func newView(t testing.TB, plainDir string, opts *reverse.Options) *reverse.FS {
	t.Helper()
	cfg, key := testkey.Reverse(t, plainDir)
	root, err := os.OpenRoot(plainDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	v, err := reverse.New(root.FS(), cfg, key, opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// goldenView copies the plain/ tree of a golden reverse vault (modes
// restored from manifest.json) and opens its view.
func goldenView(t testing.TB, name string, opts *reverse.Options) (*reverse.FS, string) {
	t.Helper()
	plain := testvault.CopyPlain(t, name)
	return newView(t, plain, opts), plain
}

// flavour is a kind of reverse config.
type flavour struct {
	name string
	opts vault.Options
}

var flavours = []flavour{
	{"diriv", vault.Options{Suite: content.AESSIV, ScryptLogN: vault.MinScryptLogN}},
	{"deterministic", vault.Options{Suite: content.AESSIV, ScryptLogN: vault.MinScryptLogN, DeterministicNames: true}},
	{"plaintextnames", vault.Options{Suite: content.AESSIV, ScryptLogN: vault.MinScryptLogN, PlaintextNames: true}},
}

// newPlain makes an empty plaintext directory with a reverse config.
func newPlain(t testing.TB, opts vault.Options) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plain")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	key, err := vault.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	defer key.Destroy()
	cfg, err := vault.New(key, []byte(testvault.Password), &opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.WriteFile(filepath.Join(dir, vault.ReverseFile)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func write(t testing.TB, p string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func pseudo(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func mustEncrypt(t testing.TB, v *reverse.FS, p string) string {
	t.Helper()
	c, err := v.EncryptPath(p)
	if err != nil {
		t.Fatalf("EncryptPath(%q): %v", p, err)
	}
	return c
}

func stat(t testing.TB, fi fs.FileInfo) *syscall.Stat_t {
	t.Helper()
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatalf("%s: Sys() is %T, want *syscall.Stat_t", fi.Name(), fi.Sys())
	}
	return st
}

// viewPaths lists every path of a view (walk order).
func viewPaths(t testing.TB, v fs.FS) []string {
	t.Helper()
	var out []string
	err := fs.WalkDir(v, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." {
			out = append(out, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestGoldenViews rebuilds the views gocryptfs 2.3 showed for the golden
// reverse vaults and compares them with the snapshots in cipher-view/,
// byte for byte: names, file contents (encrypted files and the virtual
// gocryptfs.diriv, .name and gocryptfs.conf files), symlink targets,
// permission bits and sizes. Times are not compared: gocryptfs 2.3 gave
// virtual files the times of their directory or target, 2.5+ (and this
// view) add 10 seconds to mtime and ctime; TestVirtualFileAttributes
// checks that.
func TestGoldenViews(t *testing.T) {
	for _, name := range testvault.Reverse {
		t.Run(name, func(t *testing.T) {
			v, _ := goldenView(t, name, nil)
			snap := filepath.Join(testvault.Dir(t), name, "cipher-view")
			want := map[string]testvault.Entry{}
			for _, e := range testvault.Listing(t, name) {
				want[e.Path] = e
			}
			// The listing and the snapshot directory agree.
			onDisk := 0
			filepath.WalkDir(snap, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					t.Fatal(err)
				}
				rel, _ := filepath.Rel(snap, p)
				if rel != "." {
					onDisk++
					if _, ok := want[filepath.ToSlash(rel)]; !ok {
						t.Errorf("cipher-view has %s, the listing does not", rel)
					}
				}
				return nil
			})
			if onDisk != len(want) {
				t.Fatalf("cipher-view has %d objects, the listing %d", onDisk, len(want))
			}
			seen := map[string]bool{}
			for _, p := range viewPaths(t, v) {
				seen[p] = true
				e, ok := want[p]
				if !ok {
					t.Errorf("unexpected %q", p)
					continue
				}
				fi, err := v.Lstat(p)
				if err != nil {
					t.Fatal(err)
				}
				if e.Type != "symlink" && fi.Mode().Perm() != e.Perm() {
					t.Errorf("%s: mode %o, gocryptfs %s", p, fi.Mode().Perm(), e.Mode)
				}
				disk, err := os.ReadFile(filepath.Join(snap, p)) // symlinks are stored as files holding the target
				if err != nil && e.Type != "dir" {
					t.Fatal(err)
				}
				switch e.Type {
				case "file":
					if !fi.Mode().IsRegular() {
						t.Errorf("%s: mode %v, want a file", p, fi.Mode())
					}
					b, err := fs.ReadFile(v, p)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(b, disk) {
						t.Errorf("%s: content differs from gocryptfs' (%d bytes, want %d)", p, len(b), len(disk))
					}
					if fi.Size() != e.Size || int64(len(b)) != e.Size {
						t.Errorf("%s: size %d, read %d, gocryptfs %d", p, fi.Size(), len(b), e.Size)
					}
				case "symlink":
					if fi.Mode()&fs.ModeSymlink == 0 {
						t.Errorf("%s: mode %v, want a symlink", p, fi.Mode())
					}
					tgt, err := v.ReadLink(p)
					if err != nil || tgt != e.Target || tgt != string(disk) {
						t.Errorf("%s: target %q %v, gocryptfs %q", p, tgt, err, e.Target)
					}
					if fi.Size() != int64(len(tgt)) {
						t.Errorf("%s: symlink size %d, target %d bytes", p, fi.Size(), len(tgt))
					}
				case "dir":
					if !fi.IsDir() {
						t.Errorf("%s: not a directory", p)
					}
				}
			}
			for p := range want {
				if !seen[p] {
					t.Errorf("missing %q", p)
				}
			}
		})
	}
}

// The control-socket path map of gocryptfs (cipher-map.json): EncryptPath
// and DecryptPath agree with it.
func TestGoldenPathMap(t *testing.T) {
	for _, name := range testvault.Reverse {
		t.Run(name, func(t *testing.T) {
			v, _ := goldenView(t, name, nil)
			m := testvault.CipherMap(t, name)
			if len(m) == 0 {
				t.Fatal("empty cipher map")
			}
			for _, e := range m {
				c, err := v.EncryptPath(e.Plain)
				if err != nil || c != e.Cipher {
					t.Errorf("EncryptPath(%q) = %q %v, want %q", e.Plain, c, err, e.Cipher)
				}
				p, err := v.DecryptPath(e.Cipher)
				if err != nil || p != e.Decrypted {
					t.Errorf("DecryptPath(%q) = %q %v, want %q", e.Cipher, p, err, e.Decrypted)
				}
			}
			// The view's own paths decrypt to the cipher map's plaintext.
			if _, err := v.DecryptPath("."); err != nil {
				t.Errorf("DecryptPath(.): %v", err)
			}
		})
	}
}

func TestDecryptPathErrors(t *testing.T) {
	v, _ := goldenView(t, "reverse", nil)
	dir1 := mustEncrypt(t, v, "dir1")
	long := mustEncrypt(t, v, "n255-"+strings.Repeat("c", 246)+".txt")
	for _, p := range []string{
		"not-a-valid-ciphertext-name",         // gocryptfs' transcript: errno 2
		dir1 + "/" + mustEncrypt(t, v, "x"),   // encrypted with the root's IV
		"gocryptfs.diriv",                     // virtual
		"gocryptfs.conf",                      // virtual
		long + ".name",                        // virtual
		"gocryptfs.longname.AAAAAAAAAAAAAAAA", // unknown hash
		mustEncrypt(t, v, vault.ReverseFile),  // shown as gocryptfs.conf only
	} {
		if got, err := v.DecryptPath(p); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("DecryptPath(%q) = %q, %v; want fs.ErrNotExist", p, got, err)
		}
	}
	// A long name looked up in full (not hashed) form is not in the view.
	full, err := fs.ReadFile(v, long+".name")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Lstat(string(full)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("full long name: %v", err)
	}
	for _, p := range []string{"", "/x", "a/../b", "a//b"} {
		if _, err := v.DecryptPath(p); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("DecryptPath(%q): %v", p, err)
		}
		if _, err := v.EncryptPath(p); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("EncryptPath(%q): %v", p, err)
		}
	}
	// EncryptPath is pure computation, and DecryptPath of a path that
	// names nothing decrypts it anyway, as gocryptfs does.
	c, err := v.EncryptPath("no/such/dir/file")
	if err != nil || strings.Count(c, "/") != 3 {
		t.Errorf("EncryptPath of a missing path: %q %v", c, err)
	}
	longDir := "d255-" + strings.Repeat("e", 250)
	if _, err := fs.Stat(v, mustEncrypt(t, v, longDir)); err != nil {
		t.Fatalf("the golden view has no long-named directory: %v", err)
	}
	// Through an existing directory with a hashed long name too, as
	// gocryptfs' TestCtlSockPathOps asks.
	for _, p := range []string{"no/such/dir/file", "does-not-exist", "dir1/missing", longDir + "/missing"} {
		c := mustEncrypt(t, v, p)
		if got, err := v.DecryptPath(c); err != nil || got != p {
			t.Errorf("DecryptPath of missing %q: %q, %v", p, got, err)
		}
	}
}

// fstest.TestFS checks the io/fs contracts of the view. The view's
// symlinks dangle by nature (their targets are ciphertext; the plaintext
// ones of the golden trees dangle too), which fstest cannot open, so they
// are excluded here through the view's own option; TestGoldenViews checks
// them.
func TestViewConformance(t *testing.T) {
	for _, name := range testvault.Reverse {
		t.Run(name, func(t *testing.T) {
			var plainDir string
			v, pd := goldenView(t, name, &reverse.Options{Exclude: func(p string) bool {
				fi, err := os.Lstat(filepath.Join(plainDir, p))
				return err == nil && fi.Mode()&fs.ModeSymlink != 0
			}})
			plainDir = pd
			paths := viewPaths(t, v)
			if len(paths) < 10 {
				t.Fatalf("only %d objects", len(paths))
			}
			if err := fstest.TestFS(v, paths...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// Two views of the same tree (through an os.Root and through os.DirFS,
// from copies in different places) are identical.
func TestDeterminism(t *testing.T) {
	for _, name := range testvault.Reverse {
		t.Run(name, func(t *testing.T) {
			a, _ := goldenView(t, name, nil)
			plainB := testvault.CopyPlain(t, name)
			cfg, key := testkey.Reverse(t, plainB)
			b, err := reverse.New(os.DirFS(plainB), cfg, key, nil)
			if err != nil {
				t.Fatal(err)
			}
			pa, pb := viewPaths(t, a), viewPaths(t, b)
			if !slices.Equal(pa, pb) {
				t.Fatalf("listings differ:\n%v\n%v", pa, pb)
			}
			for _, p := range pa {
				fa, _ := a.Lstat(p)
				fb, _ := b.Lstat(p)
				if fa.Size() != fb.Size() || fa.Mode() != fb.Mode() {
					t.Errorf("%s: %v/%d vs %v/%d", p, fa.Mode(), fa.Size(), fb.Mode(), fb.Size())
				}
				switch {
				case fa.Mode().IsRegular():
					x, err1 := fs.ReadFile(a, p)
					y, err2 := fs.ReadFile(b, p)
					if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
						t.Errorf("%s differs (%v, %v)", p, err1, err2)
					}
				case fa.Mode()&fs.ModeSymlink != 0:
					x, _ := a.ReadLink(p)
					y, _ := b.ReadLink(p)
					if x != y {
						t.Errorf("%s: target differs", p)
					}
				}
			}
		})
	}
}

// Reads at any offset and length equal the corresponding slice of a full
// read: through ReadAt (also concurrently), through Read after Seek, and
// in sizes that take the parallel path.
func TestRandomReads(t *testing.T) {
	plain := newPlain(t, flavours[0].opts)
	sizes := []int{1, 4095, 4096, 4097, 300000, 1<<20 + 123}
	for _, n := range sizes {
		write(t, filepath.Join(plain, "f", strings.Repeat("x", n%7+1)+"-"+strconv.Itoa(n)), pseudo(int64(n), n))
	}
	v := newView(t, plain, nil)
	for _, n := range sizes {
		p := mustEncrypt(t, v, "f/"+strings.Repeat("x", n%7+1)+"-"+strconv.Itoa(n))
		full, err := fs.ReadFile(v, p)
		if err != nil {
			t.Fatal(err)
		}
		if want := int64(content.HeaderSize) + int64(n)/4096*4128 + map[bool]int64{true: int64(n%4096) + 32}[n%4096 > 0]; int64(len(full)) != want {
			t.Fatalf("%d-byte file: %d ciphertext bytes, want %d", n, len(full), want)
		}
		f, err := v.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		ra := f.(io.ReaderAt)
		r := rand.New(rand.NewSource(int64(n)))
		check := func(off int64, l int) {
			buf := make([]byte, l)
			got, err := ra.ReadAt(buf, off)
			want := max(0, min(int64(l), int64(len(full))-off))
			if int64(got) != want || (want > 0 && !bytes.Equal(buf[:got], full[off:off+want])) {
				t.Fatalf("%d-byte file: ReadAt(%d bytes, off %d) = %d, want %d bytes of the full read", n, l, off, got, want)
			}
			if got < l && err != io.EOF {
				t.Fatalf("short ReadAt without io.EOF: %v", err)
			}
			if got == l && err != nil {
				t.Fatalf("full ReadAt with error: %v", err)
			}
		}
		for range 200 {
			check(r.Int63n(int64(len(full))+10), r.Intn(3*4128))
		}
		// Around the header and block boundaries.
		for _, off := range []int64{0, 1, 17, 18, 19, 18 + 4128 - 1, 18 + 4128, 18 + 4128 + 1} {
			for _, l := range []int{1, 2, 17, 4128, 4129, 9000} {
				check(off, l)
			}
		}
		// Large reads (parallel encryption), also concurrently.
		var wg sync.WaitGroup
		for k := range 4 {
			wg.Go(func() {
				r := rand.New(rand.NewSource(int64(k)))
				for range 10 {
					l := r.Intn(400 << 10)
					off := r.Int63n(int64(len(full)) + 1)
					buf := make([]byte, l)
					got, _ := ra.ReadAt(buf, off)
					want := max(0, min(int64(l), int64(len(full))-off))
					if int64(got) != want || (want > 0 && !bytes.Equal(buf[:got], full[off:off+want])) {
						t.Errorf("concurrent ReadAt(%d, %d) differs", l, off)
					}
				}
			})
		}
		wg.Wait()
		// Read and Seek.
		sk := f.(io.Seeker)
		for range 20 {
			off := r.Int63n(int64(len(full)) + 1)
			if pos, err := sk.Seek(off, io.SeekStart); err != nil || pos != off {
				t.Fatal(pos, err)
			}
			var got bytes.Buffer
			if _, err := io.CopyBuffer(&got, struct{ io.Reader }{f}, make([]byte, 1+r.Intn(10000))); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), full[off:]) {
				t.Fatalf("Read from %d differs", off)
			}
		}
		if pos, err := sk.Seek(-5, io.SeekEnd); err != nil || pos != int64(len(full))-5 {
			t.Errorf("SeekEnd: %d %v", pos, err)
		}
		if pos, err := sk.Seek(2, io.SeekCurrent); err != nil || pos != int64(len(full))-3 {
			t.Errorf("SeekCurrent: %d %v", pos, err)
		}
		for _, whence := range []int{3, 4} { // SEEK_DATA, SEEK_HOLE: not offered
			if _, err := sk.Seek(0, whence); !errors.Is(err, syscall.EINVAL) {
				t.Errorf("Seek whence %d: %v", whence, err)
			}
		}
		if _, err := sk.Seek(-1, io.SeekStart); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("negative Seek: %v", err)
		}
		if _, err := ra.ReadAt(make([]byte, 1), -1); !errors.Is(err, syscall.EINVAL) {
			t.Errorf("negative ReadAt: %v", err)
		}
		f.Close()
	}
}

// Plaintext holes are encrypted like data: the view has no all-zero
// blocks, and the whole sparse file decrypts.
func TestSparseFile(t *testing.T) {
	plain := newPlain(t, flavours[0].opts)
	p := filepath.Join(plain, "sparse")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("end"), 5*4096+7)
	f.Close()
	v := newView(t, plain, nil)
	c, err := fs.ReadFile(v, mustEncrypt(t, v, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	for i := content.HeaderSize; i < len(c); i += 4128 {
		blk := c[i:min(i+4128, len(c))]
		if bytes.Count(blk, []byte{0}) > len(blk)/2 {
			t.Fatalf("block at %d looks like a hole", i)
		}
	}
}

// A plaintext file that shrinks while its view file is open makes reads
// fail with ErrFileChanged (io.ErrUnexpectedEOF), not with torn blocks.
func TestShrinkWhileReading(t *testing.T) {
	plain := newPlain(t, flavours[0].opts)
	p := filepath.Join(plain, "f")
	write(t, p, pseudo(1, 5*4096))
	v := newView(t, plain, nil)
	f, err := v.Open(mustEncrypt(t, v, "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := os.Truncate(p, 5000); err != nil {
		t.Fatal(err)
	}
	ra := f.(io.ReaderAt)
	buf := make([]byte, 4128)
	if _, err := ra.ReadAt(buf, 18); err != nil {
		t.Fatalf("block 0 is still whole: %v", err)
	}
	_, err = ra.ReadAt(buf, 18+2*4128)
	if !errors.Is(err, reverse.ErrFileChanged) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read after shrink: %v", err)
	}
	// Growing is not shown: the size stays what it was at open.
	if err := os.WriteFile(p, pseudo(2, 9*4096), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	n, err := ra.ReadAt(make([]byte, 10*4128), 0)
	if int64(n) != fi.Size() || err != io.EOF {
		t.Fatalf("read after growth: %d of %d, %v", n, fi.Size(), err)
	}
}

func TestExclude(t *testing.T) {
	long := "n255-" + strings.Repeat("c", 246) + ".txt"
	var calls []string
	var mu sync.Mutex
	excl := map[string]bool{"dir1": true, "text.txt": true, long: true, vault.ReverseFile: true}
	v, _ := goldenView(t, "reverse", &reverse.Options{Exclude: func(p string) bool {
		mu.Lock()
		calls = append(calls, p)
		mu.Unlock()
		return excl[p]
	}})
	ents, err := v.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, e := range ents {
		listed[e.Name()] = true
	}
	if !listed["gocryptfs.conf"] {
		t.Error("the config can be excluded")
	}
	if _, err := v.Lstat("gocryptfs.conf"); err != nil {
		t.Error(err)
	}
	for _, p := range []string{"dir1", "text.txt", long} {
		c := mustEncrypt(t, v, p)
		if listed[c] || listed[c+".name"] {
			t.Errorf("excluded %s listed", p)
		}
		for _, q := range []string{c, c + ".name"} {
			if _, err := v.Lstat(q); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Lstat excluded %s: %v", q, err)
			}
			if _, err := v.Open(q); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Open excluded %s: %v", q, err)
			}
		}
		if _, err := v.DecryptPath(c); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("DecryptPath excluded %s: %v", p, err)
		}
	}
	// Below an excluded directory nothing exists.
	d := mustEncrypt(t, v, "dir1")
	for _, q := range []string{d + "/gocryptfs.diriv", mustEncrypt(t, v, "dir1/file-in-dir1.txt")} {
		if _, err := v.Lstat(q); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("below excluded dir: %s: %v", q, err)
		}
	}
	if _, err := v.ReadDir(d); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadDir excluded: %v", err)
	}
	if slices.Contains(calls, ".") || slices.Contains(calls, "") {
		t.Error("Exclude was asked about the root")
	}
	// Unexcluded objects are still there.
	if _, err := fs.ReadFile(v, mustEncrypt(t, v, "one-byte.txt")); err != nil {
		t.Error(err)
	}
	// Plaintext names: the same.
	v2, _ := goldenView(t, "reverse-plaintextnames", &reverse.Options{Exclude: func(p string) bool { return p == "dir1" || p == "text.txt" }})
	for _, q := range []string{"dir1", "dir1/file-in-dir1.txt", "text.txt"} {
		if _, err := v2.Lstat(q); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("plaintextnames: Lstat excluded %s: %v", q, err)
		}
		if _, err := v2.DecryptPath(q); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("plaintextnames: DecryptPath excluded %s: %v", q, err)
		}
	}
}

func TestConfigFile(t *testing.T) {
	v, plain := goldenView(t, "reverse", nil)
	want, err := os.ReadFile(filepath.Join(plain, vault.ReverseFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err := fs.ReadFile(v, "gocryptfs.conf")
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("gocryptfs.conf: %v", err)
	}
	fi, err := v.Stat("gocryptfs.conf")
	if err != nil {
		t.Fatal(err)
	}
	pfi, _ := os.Stat(filepath.Join(plain, vault.ReverseFile))
	st := stat(t, fi)
	if fi.Mode() != 0o400 || st.Mode != syscall.S_IFREG|0o400 || fi.Size() != int64(len(want)) || st.Ino != stat(t, pfi).Ino {
		t.Errorf("gocryptfs.conf: mode %v (%o), size %d, ino %d", fi.Mode(), st.Mode, fi.Size(), st.Ino)
	}
	// Not also under its encrypted name.
	if _, err := v.Lstat(mustEncrypt(t, v, vault.ReverseFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("config under its encrypted name: %v", err)
	}
	f, err := v.Open("gocryptfs.conf")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.(io.Seeker).Seek(5, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(f)
	if !bytes.Equal(rest, want[5:]) {
		t.Error("Seek+Read of the config")
	}
	f.Close()

	// "-": no gocryptfs.conf; the reverse config is an ordinary file.
	v2 := newView(t, plain, &reverse.Options{ConfigName: "-"})
	if _, err := v2.Lstat("gocryptfs.conf"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ConfigName -: %v", err)
	}
	if fi, err := v2.Lstat(mustEncrypt(t, v2, vault.ReverseFile)); err != nil || fi.Size() != int64(len(want))+18+32 {
		t.Errorf("ConfigName -: reverse config as a file: %v", err)
	}
	// Another name.
	write(t, filepath.Join(plain, "other.conf"), []byte("other"))
	v3 := newView(t, plain, &reverse.Options{ConfigName: "other.conf"})
	if b, err := fs.ReadFile(v3, "gocryptfs.conf"); err != nil || string(b) != "other" {
		t.Errorf("ConfigName other.conf: %q %v", b, err)
	}
	if _, err := v3.Lstat(mustEncrypt(t, v3, "other.conf")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("other.conf under its encrypted name: %v", err)
	}
	if _, err := v3.Lstat(mustEncrypt(t, v3, vault.ReverseFile)); err != nil {
		t.Errorf("the reverse config is an ordinary file then: %v", err)
	}
	cfg, key := testkey.Reverse(t, plain)
	for _, bad := range []string{"a/b", ".", ".."} {
		if _, err := reverse.New(os.DirFS(plain), cfg, key, &reverse.Options{ConfigName: bad}); err == nil {
			t.Errorf("ConfigName %q accepted", bad)
		}
	}

	// Plaintext names: a real gocryptfs.conf in the root is hidden, the
	// reverse config is shown under that name only.
	pv, pplain := goldenView(t, "reverse-plaintextnames", nil)
	write(t, filepath.Join(pplain, "gocryptfs.conf"), []byte("impostor"))
	want, _ = os.ReadFile(filepath.Join(pplain, vault.ReverseFile))
	if b, err := fs.ReadFile(pv, "gocryptfs.conf"); err != nil || !bytes.Equal(b, want) {
		t.Errorf("plaintextnames gocryptfs.conf: %q %v", b, err)
	}
	ents, _ := pv.ReadDir(".")
	n := 0
	for _, e := range ents {
		if e.Name() == "gocryptfs.conf" {
			n++
		}
		if e.Name() == vault.ReverseFile {
			t.Error("reverse config listed under its own name")
		}
	}
	if n != 1 {
		t.Errorf("gocryptfs.conf listed %d times", n)
	}
	if _, err := pv.Lstat(vault.ReverseFile); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("reverse config under its own name: %v", err)
	}
}

// Virtual files: mode 0444, one link, owner of the source, times of the
// source + 10 s (gocryptfs 2.5+; 2.3 showed the source's times unchanged),
// inode numbers in namespaces 1 (diriv) and 2 (.name); real objects keep
// their inode numbers.
func TestVirtualFileAttributes(t *testing.T) {
	v, plain := goldenView(t, "reverse", nil)
	long := "n255-" + strings.Repeat("c", 246) + ".txt"
	dfi, err := os.Lstat(filepath.Join(plain, "dir1"))
	if err != nil {
		t.Fatal(err)
	}
	tfi, _ := os.Lstat(filepath.Join(plain, long))
	cases := []struct {
		view string
		src  fs.FileInfo
		ns   uint64
		size int64
	}{
		{mustEncrypt(t, v, "dir1") + "/gocryptfs.diriv", dfi, 1, 16},
		{mustEncrypt(t, v, long) + ".name", tfi, 2, -1},
	}
	for _, c := range cases {
		fi, err := v.Lstat(c.view)
		if err != nil {
			t.Fatal(err)
		}
		st, sst := stat(t, fi), stat(t, c.src)
		if fi.Mode() != 0o444 || st.Mode != syscall.S_IFREG|0o444 || st.Nlink != 1 || st.Uid != sst.Uid || st.Gid != sst.Gid {
			t.Errorf("%s: mode %v/%o nlink %d uid %d", c.view, fi.Mode(), st.Mode, st.Nlink, st.Uid)
		}
		if !fi.ModTime().Equal(c.src.ModTime().Add(10*time.Second)) || time.Unix(st.Mtim.Unix()) != fi.ModTime() {
			t.Errorf("%s: mtime %v, source %v", c.view, fi.ModTime(), c.src.ModTime())
		}
		if st.Ino != c.ns<<48|sst.Ino {
			t.Errorf("%s: ino %#x, want %#x", c.view, st.Ino, c.ns<<48|sst.Ino)
		}
		if c.size >= 0 && fi.Size() != c.size {
			t.Errorf("%s: size %d", c.view, fi.Size())
		}
		b, _ := fs.ReadFile(v, c.view)
		if int64(len(b)) != fi.Size() || st.Size != fi.Size() {
			t.Errorf("%s: size %d/%d, content %d", c.view, fi.Size(), st.Size, len(b))
		}
	}
	// Real objects.
	for _, p := range []string{"dir1", "one-byte.txt", "symlink-relative", long} {
		fi, err := v.Lstat(mustEncrypt(t, v, p))
		if err != nil {
			t.Fatal(err)
		}
		pfi, _ := os.Lstat(filepath.Join(plain, p))
		st, pst := stat(t, fi), stat(t, pfi)
		if st.Ino != pst.Ino || st.Nlink != pst.Nlink || st.Uid != pst.Uid || !fi.ModTime().Equal(pfi.ModTime()) || fi.Mode() != pfi.Mode() {
			t.Errorf("%s: view ino %d nlink %d mode %v, plaintext %d %d %v", p, st.Ino, st.Nlink, fi.Mode(), pst.Ino, pst.Nlink, pfi.Mode())
		}
		if st.Size != fi.Size() {
			t.Errorf("%s: Stat_t size %d, FileInfo %d", p, st.Size, fi.Size())
		}
	}
	// The root.
	fi, err := v.Stat(".")
	if err != nil || !fi.IsDir() || fi.Name() != "." {
		t.Errorf("root: %v %v", fi, err)
	}
}

// Hard links show identical ciphertext: the IVs of the first path opened.
func TestHardLinks(t *testing.T) {
	plain := newPlain(t, flavours[0].opts)
	data := pseudo(7, 10000)
	write(t, filepath.Join(plain, "a"), data)
	write(t, filepath.Join(plain, "c"), data)
	if err := os.Link(filepath.Join(plain, "a"), filepath.Join(plain, "sub", "b")); err != nil {
		if err := os.MkdirAll(filepath.Join(plain, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Link(filepath.Join(plain, "a"), filepath.Join(plain, "sub", "b")); err != nil {
			t.Fatal(err)
		}
	}
	read := func(v *reverse.FS, p string) []byte {
		b, err := fs.ReadFile(v, mustEncrypt(t, v, p))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	v := newView(t, plain, nil)
	a, b, c := read(v, "a"), read(v, "sub/b"), read(v, "c")
	if !bytes.Equal(a, b) {
		t.Error("hard links differ")
	}
	if bytes.Equal(a, c) {
		t.Error("a copy has the same ciphertext as the original")
	}
	// Order dependence: another instance opening sub/b first uses its IVs.
	w := newView(t, plain, nil)
	b2, a2 := read(w, "sub/b"), read(w, "a")
	if !bytes.Equal(a2, b2) || bytes.Equal(a2, a) {
		t.Error("the first path opened does not decide the IVs")
	}
	fa, _ := v.Lstat(mustEncrypt(t, v, "a"))
	fb, _ := v.Lstat(mustEncrypt(t, v, "sub/b"))
	if stat(t, fa).Ino != stat(t, fb).Ino || stat(t, fa).Nlink != 2 {
		t.Error("hard links have different inode numbers in the view")
	}
	// Long-named hard links: each .name file has an inode number of its
	// own (they have different contents).
	l1, l2 := strings.Repeat("l", 200), strings.Repeat("m", 200)
	if err := os.Link(filepath.Join(plain, "a"), filepath.Join(plain, l1)); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(plain, "a"), filepath.Join(plain, l2)); err != nil {
		t.Fatal(err)
	}
	n1, err := v.Lstat(mustEncrypt(t, v, l1) + ".name")
	if err != nil {
		t.Fatal(err)
	}
	n2, err := v.Lstat(mustEncrypt(t, v, l2) + ".name")
	if err != nil {
		t.Fatal(err)
	}
	if stat(t, n1).Ino == stat(t, n2).Ino {
		t.Error(".name files of two links share an inode number")
	}
	if again, _ := v.Lstat(mustEncrypt(t, v, l1) + ".name"); stat(t, again).Ino != stat(t, n1).Ino {
		t.Error(".name inode number not stable")
	}
}

// Hashed names are found after their plaintext directory changes (the
// cache of listings is revalidated), also when the change keeps the
// directory's mtime.
func TestLongNameLookupAfterChange(t *testing.T) {
	plain := newPlain(t, flavours[0].opts)
	d := filepath.Join(plain, "d")
	write(t, filepath.Join(d, strings.Repeat("a", 200)), []byte("a"))
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	if err := os.Chtimes(d, old, old); err != nil {
		t.Fatal(err)
	}
	v := newView(t, plain, nil)
	lookup := func(name string) error {
		_, err := v.Lstat(mustEncrypt(t, v, "d/"+name))
		return err
	}
	if err := lookup(strings.Repeat("a", 200)); err != nil {
		t.Fatal(err)
	}
	if err := lookup(strings.Repeat("b", 200)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing long name: %v", err)
	}
	write(t, filepath.Join(d, strings.Repeat("b", 200)), []byte("b"))
	if err := lookup(strings.Repeat("b", 200)); err != nil {
		t.Fatalf("new long name: %v", err)
	}
	if err := os.Chtimes(d, old, old); err != nil {
		t.Fatal(err)
	}
	if err := lookup(strings.Repeat("b", 200)); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(d, strings.Repeat("c", 200)), []byte("c"))
	if err := os.Chtimes(d, old, old); err != nil { // same mtime as cached
		t.Fatal(err)
	}
	if err := lookup(strings.Repeat("c", 200)); err != nil {
		t.Fatalf("long name added under an unchanged mtime: %v", err)
	}
	if err := os.Remove(filepath.Join(d, strings.Repeat("a", 200))); err != nil {
		t.Fatal(err)
	}
	if err := lookup(strings.Repeat("a", 200)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("removed long name: %v", err)
	}
	// Many directories: the cache stays bounded and answers stay right.
	for i := range 300 {
		write(t, filepath.Join(plain, "many", strconv.Itoa(i), strings.Repeat("z", 190)), nil)
	}
	for i := range 300 {
		if _, err := v.Lstat(mustEncrypt(t, v, "many/"+strconv.Itoa(i)+"/"+strings.Repeat("z", 190))); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := v.Lstat(mustEncrypt(t, v, "many/0/"+strings.Repeat("z", 190))); err != nil {
		t.Fatal(err)
	}
}

// Plaintext symlinks are never followed in the middle of a path.
func TestNoSymlinkTraversal(t *testing.T) {
	for _, fl := range flavours {
		t.Run(fl.name, func(t *testing.T) {
			plain := newPlain(t, fl.opts)
			write(t, filepath.Join(plain, "dir", "f"), []byte("x"))
			if err := os.Symlink("dir", filepath.Join(plain, "lnk")); err != nil {
				t.Fatal(err)
			}
			v := newView(t, plain, nil)
			if _, err := v.Lstat(mustEncrypt(t, v, "dir/f")); err != nil {
				t.Fatal(err)
			}
			p := mustEncrypt(t, v, "lnk/f")
			if _, err := v.Lstat(p); !errors.Is(err, syscall.ENOTDIR) {
				t.Errorf("Lstat through a plaintext symlink: %v", err)
			}
			if _, err := v.Open(p); err == nil {
				t.Error("Open through a plaintext symlink")
			}
		})
	}
}

// devFS pretends that one directory of an os.Root is another file system
// (a different st_dev), for -one-file-system.
type devFS struct {
	fs.FS
	other string
}

type devInfo struct {
	fs.FileInfo
	st *syscall.Stat_t
}

func (d devInfo) Sys() any { return d.st }

func (d devFS) fix(p string, fi fs.FileInfo, err error) (fs.FileInfo, error) {
	if err != nil || (p != d.other && !strings.HasPrefix(p, d.other+"/")) {
		return fi, err
	}
	st := *fi.Sys().(*syscall.Stat_t)
	st.Dev += 1000
	return devInfo{fi, &st}, nil
}

func (d devFS) Stat(p string) (fs.FileInfo, error) {
	fi, err := fs.Stat(d.FS, p)
	return d.fix(p, fi, err)
}

func (d devFS) Lstat(p string) (fs.FileInfo, error) {
	fi, err := fs.Lstat(d.FS, p)
	return d.fix(p, fi, err)
}

func (d devFS) ReadLink(p string) (string, error) { return fs.ReadLink(d.FS, p) }

func TestOneFileSystem(t *testing.T) {
	plain := testvault.CopyPlain(t, "reverse")
	cfg, key := testkey.Reverse(t, plain)
	root, err := os.OpenRoot(plain)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	pfs := devFS{root.FS(), "dir1"}
	one, err := reverse.New(pfs, cfg, key, &reverse.Options{OneFileSystem: true})
	if err != nil {
		t.Fatal(err)
	}
	all, err := reverse.New(pfs, cfg, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := mustEncrypt(t, one, "dir1")
	ents, err := one.ReadDir(d)
	if err != nil || len(ents) != 1 || ents[0].Name() != "gocryptfs.diriv" {
		t.Fatalf("dir on another device: %v %v", ents, err)
	}
	if ents, err := all.ReadDir(d); err != nil || len(ents) < 3 {
		t.Fatalf("without OneFileSystem: %v %v", ents, err)
	}
	f := mustEncrypt(t, one, "dir1/file-in-dir1.txt")
	if _, err := one.Lstat(f); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("object below a mount point: %v", err)
	}
	if _, err := all.Lstat(f); err != nil {
		t.Error(err)
	}
	if _, err := one.Lstat(d + "/gocryptfs.diriv"); err != nil {
		t.Error(err)
	}
	// The mount point itself is there, with an inode number in a
	// namespace of its device; objects on the root device keep theirs.
	fi, err := one.Lstat(d)
	if err != nil {
		t.Fatal(err)
	}
	pfi, _ := os.Lstat(filepath.Join(plain, "dir1"))
	if got, ino := stat(t, fi).Ino, stat(t, pfi).Ino; got == ino || got&(1<<48-1) != ino || got>>48 == 0 {
		t.Errorf("ino of an object on another device: %#x (plaintext %#x)", got, ino)
	}
	if ents, err := one.ReadDir("."); err != nil || len(ents) < 20 {
		t.Errorf("root listing: %d %v", len(ents), err)
	}
}

func TestErrors(t *testing.T) {
	k, _ := vault.GenerateKey()
	cfg, _ := vault.New(k, []byte("pw"), &vault.Options{ScryptLogN: vault.MinScryptLogN})
	if _, err := reverse.New(os.DirFS(t.TempDir()), cfg, k, nil); !errors.Is(err, reverse.ErrNotSIV) {
		t.Fatalf("GCM config: %v", err)
	}
	x, _ := vault.New(k, []byte("pw"), &vault.Options{ScryptLogN: vault.MinScryptLogN, Suite: content.XChaCha20Poly1305})
	if _, err := reverse.New(os.DirFS(t.TempDir()), x, k, nil); !errors.Is(err, reverse.ErrNotSIV) {
		t.Fatalf("XChaCha config: %v", err)
	}
	siv, _ := vault.New(k, []byte("pw"), &vault.Options{ScryptLogN: vault.MinScryptLogN, Suite: content.AESSIV})
	if _, err := reverse.New(os.DirFS(filepath.Join(t.TempDir(), "missing")), siv, k, nil); err == nil {
		t.Error("missing plaintext directory accepted")
	}
	if _, err := reverse.New(nil, siv, k, nil); err == nil {
		t.Error("nil fs accepted")
	}

	v, plain := goldenView(t, "reverse", nil)
	if err := os.WriteFile(filepath.Join(plain, "fifo-placeholder"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(plain, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	fifo := mustEncrypt(t, v, "fifo")
	if fi, err := v.Lstat(fifo); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Errorf("fifo: %v %v", fi, err)
	}
	if _, err := v.Open(fifo); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Open fifo: %v", err)
	}
	one := mustEncrypt(t, v, "one-byte.txt")
	for _, p := range []string{one + "/x", "gocryptfs.diriv/x", "gocryptfs.conf/x"} {
		if _, err := v.Lstat(p); !errors.Is(err, syscall.ENOTDIR) {
			t.Errorf("Lstat %s: %v", p, err)
		}
	}
	if _, err := v.ReadDir(one); !errors.Is(err, syscall.ENOTDIR) {
		t.Errorf("ReadDir of a file: %v", err)
	}
	if _, err := v.ReadLink(one); err == nil {
		t.Error("ReadLink of a file")
	}
	if _, err := v.ReadLink("gocryptfs.diriv"); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("ReadLink of a virtual file: %v", err)
	}
	for _, p := range []string{"", "/", "a/", "../x"} {
		if _, err := v.Open(p); !errors.Is(err, fs.ErrInvalid) {
			t.Errorf("Open(%q): %v", p, err)
		}
	}
	// Errors name the view path, never the plaintext one.
	_, err := v.Open(mustEncrypt(t, v, "missing"))
	if err == nil || strings.Contains(err.Error(), "missing") {
		t.Errorf("error leaks the plaintext name: %v", err)
	}
	d, err := v.Open(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Read(make([]byte, 1)); !errors.Is(err, syscall.EISDIR) {
		t.Errorf("Read of a directory: %v", err)
	}
	d.Close()
}

// A copy of the view decrypts in forward mode (the root package) to the
// plaintext tree: the golden trees, and generated trees with the objects
// the golden trees lack (hard links, sparse and multi-block files, long
// names in nested directories, long symlink targets) for each kind of
// config.
func TestRoundTrip(t *testing.T) {
	for _, name := range testvault.Reverse {
		t.Run(name, func(t *testing.T) {
			v, _ := goldenView(t, name, nil)
			out := filepath.Join(t.TempDir(), "copy")
			copyView(t, v, out)
			f, err := sealfs.Open(out, []byte(testvault.Password), &sealfs.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			testvault.CompareTree(t, f, testvault.Manifest(t, name), nil)
		})
	}
	for _, fl := range flavours {
		t.Run("generated-"+fl.name, func(t *testing.T) {
			plain := newPlain(t, fl.opts)
			makeTree(t, plain)
			v := newView(t, plain, nil)
			out := filepath.Join(t.TempDir(), "copy")
			copyView(t, v, out)
			f, err := sealfs.Open(out, []byte(testvault.Password), &sealfs.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			want := testvault.Snapshot(t, os.DirFS(plain), nil)
			delete(want, vault.ReverseFile)
			got := testvault.Snapshot(t, f, nil)
			if len(got) != len(want) {
				t.Errorf("%d objects, want %d", len(got), len(want))
			}
			for p, w := range want {
				if g, ok := got[p]; !ok || g.Type != w.Type || g.Size != w.Size || g.SHA256 != w.SHA256 || g.Target != w.Target || (w.Type != "symlink" && g.Mode != w.Mode) {
					t.Errorf("%s: got %+v, want %+v", p, g, w)
				}
			}
		})
	}
}

// makeTree fills a plaintext directory with a bit of everything.
func makeTree(t testing.TB, dir string) {
	t.Helper()
	write(t, filepath.Join(dir, "empty"), nil)
	write(t, filepath.Join(dir, "small"), []byte("hello"))
	write(t, filepath.Join(dir, "blocks"), pseudo(3, 3*4096+1))
	sp, err := os.Create(filepath.Join(dir, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	sp.WriteAt([]byte("tail"), 200000)
	sp.Close()
	long := strings.Repeat("Ω", 100) // 200 bytes
	write(t, filepath.Join(dir, long, long+"-file"), pseudo(4, 5000))
	write(t, filepath.Join(dir, long, strings.Repeat("d", 180), "deep"), []byte("deep"))
	if err := os.Link(filepath.Join(dir, "blocks"), filepath.Join(dir, long, "hardlink")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(strings.Repeat("../t/", 500), filepath.Join(dir, "longtarget")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("small", filepath.Join(dir, long, strings.Repeat("s", 220))); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "emptydir"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "private"), []byte("p"))
	os.Chmod(filepath.Join(dir, "private"), 0o600)
	write(t, filepath.Join(dir, "gocryptfs.diriv"), []byte("a plaintext file with an internal name"))
	write(t, filepath.Join(dir, "sub", "gocryptfs.longname.x.name"), []byte("so is this"))
}

// copyView copies the view with its modes (as rsync -a would), using
// plain reads only.
func copyView(t testing.TB, v fs.FS, out string) {
	t.Helper()
	err := fs.WalkDir(v, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		dst := filepath.Join(out, p)
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(dst, fi.Mode().Perm()|0o700)
		case d.Type()&fs.ModeSymlink != 0:
			tgt, err := fs.ReadLink(v, p)
			if err != nil {
				return err
			}
			return os.Symlink(tgt, dst)
		}
		b, err := fs.ReadFile(v, p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			return err
		}
		return os.Chmod(dst, fi.Mode().Perm())
	})
	if err != nil {
		t.Fatal(err)
	}
}
