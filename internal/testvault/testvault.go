// Package testvault gives tests access to the golden vaults made by the
// real gocryptfs 2.3 (testdata/gocryptfs-2.3 in the repository, a copy of
// the team's shared golden data): it copies them into temporary directories with the
// permission bits and extended attributes that git cannot keep, and
// compares a plaintext tree with a vault's manifest.
//
// It is used only by tests.
package testvault

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// Password is the password of every golden vault.
const Password = "test"

// Forward lists the forward-mode golden vaults.
var Forward = []string{"default", "plaintextnames", "aessiv", "xchacha", "deterministic-names", "longnamemax62", "longnames"}

// Reverse lists the reverse-mode golden vaults.
var Reverse = []string{"reverse", "reverse-deterministic-names", "reverse-plaintextnames"}

// Dir returns the golden data directory: testdata/gocryptfs-2.3 at the
// repository root (the directory with go.mod), or $SEALFS_GOLDEN.
func Dir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("SEALFS_GOLDEN"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			g := filepath.Join(d, "testdata", "gocryptfs-2.3")
			if _, err := os.Stat(g); err != nil {
				t.Fatalf("golden vaults not found at %s (set SEALFS_GOLDEN): %v", g, err)
			}
			return g
		}
		if filepath.Dir(d) == d {
			t.Fatal("testvault: no go.mod above " + wd)
		}
	}
}

// Entry is one object of a manifest or listing.
type Entry struct {
	Path   string            `json:"path"`
	Mode   string            `json:"mode"`
	Type   string            `json:"type"`
	Size   int64             `json:"size"`
	SHA256 string            `json:"sha256"`
	Target string            `json:"target"`
	Xattrs map[string]string `json:"xattrs"`
}

// Perm returns the permission bits of the entry.
func (e Entry) Perm() fs.FileMode {
	m, _ := strconv.ParseUint(e.Mode, 8, 32)
	return fs.FileMode(m)
}

func readJSON(t testing.TB, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// Manifest returns the plaintext manifest of golden vault name.
func Manifest(t testing.TB, name string) []Entry {
	var m []Entry
	readJSON(t, filepath.Join(Dir(t), name, "manifest.json"), &m)
	return m
}

// ManifestCounts returns the numbers of files, directories (without the
// root) and symlinks of golden vault name's manifest and the sum of the
// file sizes.
func ManifestCounts(t testing.TB, name string) (files, dirs, symlinks, bytes int64) {
	for _, e := range Manifest(t, name) {
		switch e.Type {
		case "file":
			files++
			bytes += e.Size
		case "dir":
			dirs++
		case "symlink":
			symlinks++
		}
	}
	return files, dirs, symlinks, bytes
}

// Listing returns the ciphertext listing of golden vault name.
func Listing(t testing.TB, name string) []Entry {
	var m []Entry
	readJSON(t, filepath.Join(Dir(t), name, "cipher-listing.json"), &m)
	return m
}

// CipherMapEntry is one line of cipher-map.json.
type CipherMapEntry struct {
	Plain     string `json:"plain"`
	Cipher    string `json:"cipher"`
	Decrypted string `json:"decrypted"`
}

// CipherMap returns the control-socket path map of golden vault name.
func CipherMap(t testing.TB, name string) []CipherMapEntry {
	var m []CipherMapEntry
	readJSON(t, filepath.Join(Dir(t), name, "cipher-map.json"), &m)
	return m
}

// Exchange is one request and its response in ctlsock-transcript.json,
// both as sent over the socket.
type Exchange struct {
	Request  string `json:"request"`
	Response string `json:"response"`
}

// Transcript returns the control-socket exchanges gocryptfs had with
// golden vault name.
func Transcript(t testing.TB, name string) []Exchange {
	var x []Exchange
	readJSON(t, filepath.Join(Dir(t), name, "ctlsock-transcript.json"), &x)
	return x
}

// MasterKey returns the hex master key of golden vault name.
func MasterKey(t testing.TB, name string) string {
	b, err := os.ReadFile(filepath.Join(Dir(t), name, "masterkey.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// Copy copies the ciphertext of forward golden vault name (its cipher/
// directory; for reverse vaults, cipher-view/) into a new temporary
// directory and restores the modes and xattrs recorded in
// cipher-listing.json. It returns the copy's path.
func Copy(t testing.TB, name string) string {
	t.Helper()
	src := filepath.Join(Dir(t), name, "cipher")
	if _, err := os.Stat(src); err != nil {
		src = filepath.Join(Dir(t), name, "cipher-view")
	}
	dst := filepath.Join(t.TempDir(), name)
	if err := CopyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	restore(t, dst, Listing(t, name))
	return dst
}

// CopyPlain copies the plain/ directory of reverse golden vault name into
// a new temporary directory, restoring the modes of its manifest.
func CopyPlain(t testing.TB, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name+"-plain")
	if err := CopyTree(filepath.Join(Dir(t), name, "plain"), dst); err != nil {
		t.Fatal(err)
	}
	restore(t, dst, Manifest(t, name))
	return dst
}

func restore(t testing.TB, root string, entries []Entry) {
	t.Helper()
	// The shared copy may hold symlinks as plain files with the target as
	// content: make them symlinks again.
	for _, e := range entries {
		if e.Type != "symlink" {
			continue
		}
		p := filepath.Join(root, e.Path)
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		if err := os.Symlink(e.Target, p); err != nil {
			t.Fatal(err)
		}
	}
	// Deepest first, so that a directory's mode is set after its contents.
	sort.Slice(entries, func(i, j int) bool { return len(entries[i].Path) > len(entries[j].Path) })
	for _, e := range entries {
		p := filepath.Join(root, e.Path)
		for name, hexval := range e.Xattrs {
			val, err := hex.DecodeString(hexval)
			if err != nil {
				t.Fatal(err)
			}
			if err := lsetxattr(p, name, val); err != nil {
				t.Fatalf("restoring xattr %s on %s: %v (the temp dir's file system must support user xattrs)", name, p, err)
			}
		}
	}
	for _, e := range entries {
		if e.Type == "symlink" || e.Mode == "" {
			continue
		}
		p := filepath.Join(root, e.Path)
		perm := e.Perm()
		if e.Type == "dir" {
			// Keep directories traversable for the owner while testing; the
			// manifest modes of directories are 0755 anyway.
			perm |= 0o700
		}
		if err := os.Chmod(p, perm); err != nil {
			t.Fatal(err)
		}
	}
}

// CopyTree copies a directory tree with files, directories and symlinks.
func CopyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			return os.MkdirAll(out, 0o755)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(target, out)
		default:
			in, err := os.Open(p)
			if err != nil {
				return err
			}
			defer in.Close()
			o, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return err
			}
			if _, err := io.Copy(o, in); err != nil {
				o.Close()
				return err
			}
			return o.Close()
		}
	})
}

// Xattrs is how CompareTree reads the extended attributes of a path; nil
// skips comparing them.
type Xattrs func(path string) (map[string][]byte, error)

// CompareTree checks that fsys holds exactly the objects of manifest:
// same paths, types, permission bits, sizes, contents, symlink targets
// and (when xattrs is not nil) extended attributes. Paths under skip
// (e.g. "empty-dir" when git dropped it) may be missing.
func CompareTree(t testing.TB, fsys fs.FS, manifest []Entry, xattrs Xattrs) {
	t.Helper()
	want := map[string]Entry{}
	for _, e := range manifest {
		want[e.Path] = e
	}
	seen := map[string]bool{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		seen[p] = true
		e, ok := want[p]
		if !ok {
			t.Errorf("unexpected object %q", p)
			return nil
		}
		if err := compareEntry(fsys, p, d, e, xattrs); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}
	for p := range want {
		if !seen[p] {
			t.Errorf("missing object %q", p)
		}
	}
}

func compareEntry(fsys fs.FS, p string, d fs.DirEntry, e Entry, xattrs Xattrs) error {
	info, err := d.Info()
	if err != nil {
		return err
	}
	var typ string
	switch {
	case info.Mode()&fs.ModeSymlink != 0:
		typ = "symlink"
	case info.IsDir():
		typ = "dir"
	case info.Mode().IsRegular():
		typ = "file"
	default:
		typ = info.Mode().Type().String()
	}
	if typ != e.Type {
		return fmt.Errorf("type %s, want %s", typ, e.Type)
	}
	if e.Mode != "" && typ != "symlink" && info.Mode().Perm() != e.Perm() {
		return fmt.Errorf("mode %o, want %o", info.Mode().Perm(), e.Perm())
	}
	switch typ {
	case "file":
		if info.Size() != e.Size {
			return fmt.Errorf("size %d, want %d", info.Size(), e.Size)
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		if hex.EncodeToString(sum[:]) != e.SHA256 {
			return errors.New("content differs")
		}
	case "symlink":
		target, err := fs.ReadLink(fsys, p)
		if err != nil {
			return err
		}
		if target != e.Target {
			return fmt.Errorf("target %q, want %q", target, e.Target)
		}
		if info.Size() != int64(len(e.Target)) {
			return fmt.Errorf("symlink size %d, want %d", info.Size(), len(e.Target))
		}
	}
	if xattrs != nil && typ != "symlink" {
		got, err := xattrs(p)
		if err != nil {
			return err
		}
		if len(got) != len(e.Xattrs) {
			return fmt.Errorf("xattrs %v, want %v", keys(got), e.Xattrs)
		}
		for k, v := range e.Xattrs {
			g, ok := got[k]
			if !ok || hex.EncodeToString(g) != v {
				return fmt.Errorf("xattr %s = %x, want %s", k, g, v)
			}
		}
	}
	return nil
}

func keys(m map[string][]byte) []string {
	var k []string
	for n := range m {
		k = append(k, n)
	}
	sort.Strings(k)
	return k
}

// Snapshot describes every object below the root of fsys as manifest
// entries keyed by path (modes, sizes, content hashes, symlink targets and,
// when xattrs is not nil, extended attributes).
func Snapshot(t testing.TB, fsys fs.FS, xattrs Xattrs) map[string]Entry {
	t.Helper()
	out := map[string]Entry{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == "." {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		e := Entry{Path: p, Mode: fmt.Sprintf("%04o", info.Mode().Perm())}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			e.Type = "symlink"
			e.Mode = ""
			if e.Target, err = fs.ReadLink(fsys, p); err != nil {
				return err
			}
			e.Size = info.Size()
		case info.IsDir():
			e.Type = "dir"
		case info.Mode().IsRegular():
			e.Type = "file"
			e.Size = info.Size()
			b, err := fs.ReadFile(fsys, p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			e.SHA256 = hex.EncodeToString(sum[:])
		default:
			e.Type = info.Mode().Type().String()
		}
		if xattrs != nil && e.Type != "symlink" {
			m, err := xattrs(p)
			if err != nil {
				return err
			}
			if len(m) > 0 {
				e.Xattrs = map[string]string{}
				for k, v := range m {
					e.Xattrs[k] = hex.EncodeToString(v)
				}
			}
		}
		out[p] = e
		return nil
	})
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return out
}

// CompareSnapshots reports every difference between two snapshots.
func CompareSnapshots(t testing.TB, got, want map[string]Entry) {
	t.Helper()
	for p, w := range want {
		g, ok := got[p]
		if !ok {
			t.Errorf("missing %q", p)
			continue
		}
		if fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("%q differs:\n got  %+v\n want %+v", p, g, w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected %q", p)
		}
	}
}

// RequireBinary returns the path of an installed program that needs
// /dev/fuse too when fuse is set (gocryptfs, gocryptfs-xray). It fails the
// test where the program must be there (CI, or SEALFS_REQUIRE_GOCRYPTFS
// set) and skips it elsewhere.
func RequireBinary(t testing.TB, name string, fuse bool) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err == nil && fuse {
		_, err = os.Stat("/dev/fuse")
	}
	if err == nil {
		return bin
	}
	if os.Getenv("CI") != "" || os.Getenv("SEALFS_REQUIRE_GOCRYPTFS") != "" {
		t.Fatalf("needs %s (and /dev/fuse: %v): %v", name, fuse, err)
	}
	t.Skipf("%s not available (apt-get install gocryptfs fuse3): %v", name, err)
	return ""
}

// TreeHash hashes every path, mode, size, modification time and file
// content below dir: equal hashes mean nothing was changed.
func TreeHash(t testing.TB, dir string) string {
	t.Helper()
	h := sha256.New()
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s %v %d %d\n", p, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}
