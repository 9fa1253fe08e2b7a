//go:build linux

package sealfs_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/internal/testvault"
	"golang.org/x/sys/unix"
)

// gocryptfsFlags gives the gocryptfs -init flags of each matrix format.
var gocryptfsFlags = map[string][]string{
	"gcm":                      nil,
	"siv":                      {"-aessiv"},
	"xchacha":                  {"-xchacha"},
	"deterministic":            {"-deterministic-names"},
	"plaintextnames":           {"-plaintextnames"},
	"longnamemax62":            {"-longnamemax", "62"},
	"xchacha-deterministic-62": {"-xchacha", "-deterministic-names", "-longnamemax", "62"},
}

// requireGocryptfs returns the gocryptfs binary, failing the test if it is
// missing where it must be (CI, or SEALFS_REQUIRE_GOCRYPTFS set) and
// skipping it on a developer machine without the package.
func requireGocryptfs(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("gocryptfs")
	if err == nil {
		if _, err = os.Stat("/dev/fuse"); err == nil {
			return bin
		}
	}
	if os.Getenv("CI") != "" || os.Getenv("SEALFS_REQUIRE_GOCRYPTFS") != "" {
		t.Fatalf("live interop needs the gocryptfs binary and /dev/fuse: %v", err)
	}
	t.Skipf("gocryptfs or /dev/fuse not available (apt-get install gocryptfs fuse3): %v", err)
	return ""
}

func run(t *testing.T, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

// gocryptfsMount mounts cipher on a new directory with the real gocryptfs
// and returns the mount point; the mount goes away with the test.
func gocryptfsMount(t *testing.T, bin, cipher, passfile string, extra ...string) string {
	t.Helper()
	mnt := t.TempDir()
	args := append([]string{"-q", "-passfile", passfile}, extra...)
	args = append(args, "--", cipher, mnt)
	run(t, bin, args...)
	t.Cleanup(func() { unmount(t, mnt) })
	return mnt
}

func unmount(t *testing.T, mnt string) {
	for i := 0; i < 50; i++ {
		if err := exec.Command("fusermount3", "-u", mnt).Run(); err == nil {
			return
		}
		var st unix.Statfs_t
		if unix.Statfs(mnt, &st) == nil && st.Type != 0x65735546 { // not FUSE any more
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	exec.Command("fusermount3", "-u", "-z", mnt).Run()
}

func writePassfile(t *testing.T, pw string) string {
	p := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// treeOps is the content both directions of the interop test create: the
// same tree through any "os-like" writer.
type treeWriter interface {
	Mkdir(name string, perm fs.FileMode) error
	WriteFile(name string, data []byte, perm fs.FileMode) error
	Symlink(target, name string) error
	Link(oldname, newname string) error
	Setxattr(name, attr string, value []byte) error
	Sparse(name string, size int64, tail []byte) error
}

func fillTree(t *testing.T, w treeWriter) {
	t.Helper()
	long := strings.Repeat("L", 180)
	must(t, w.Mkdir("dir", 0o755))
	must(t, w.Mkdir("dir/sub", 0o700))
	must(t, w.Mkdir("dir/"+long, 0o755))
	must(t, w.WriteFile("empty", nil, 0o644))
	must(t, w.WriteFile("one", []byte("1"), 0o600))
	must(t, w.WriteFile("block", pattern(4096, 1), 0o644))
	must(t, w.WriteFile("dir/big", pattern(300000, 2), 0o755))
	must(t, w.WriteFile("dir/sub/ü-ñíçødé 😀", []byte("unicode"), 0o644))
	must(t, w.WriteFile("dir/"+long+"/"+long+"2", pattern(5000, 3), 0o644))
	must(t, w.WriteFile("dir/"+strings.Repeat("m", 40), []byte("forty"), 0o644))
	must(t, w.Symlink("one", "link-rel"))
	must(t, w.Symlink("/abs/path/target", "link-abs"))
	must(t, w.Symlink(strings.Repeat("t", 300), "dir/"+long+"-link"))
	must(t, w.Link("one", "hardlink"))
	must(t, w.Setxattr("one", "user.note", []byte("hello")))
	must(t, w.Setxattr("dir", "user.dirnote", []byte("dir value")))
	must(t, w.Sparse("sparse", 1<<20, []byte("TAIL")))
}

type sealWriter struct{ f *sealfs.FS }

func (s sealWriter) Mkdir(n string, p fs.FileMode) error               { return s.f.Mkdir(n, p) }
func (s sealWriter) WriteFile(n string, d []byte, p fs.FileMode) error { return s.f.WriteFile(n, d, p) }
func (s sealWriter) Symlink(t, n string) error                         { return s.f.Symlink(t, n) }
func (s sealWriter) Link(o, n string) error                            { return s.f.Link(o, n) }
func (s sealWriter) Setxattr(n, a string, v []byte) error              { return s.f.Setxattr(n, a, v, 0) }
func (s sealWriter) Sparse(n string, size int64, tail []byte) error {
	h, err := s.f.OpenFile(n, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.Truncate(size); err != nil {
		return err
	}
	_, err = h.WriteAt(tail, size)
	return err
}

type osWriter struct{ root string }

func (o osWriter) p(n string) string                   { return filepath.Join(o.root, n) }
func (o osWriter) Mkdir(n string, p fs.FileMode) error { return os.Mkdir(o.p(n), p) }
func (o osWriter) WriteFile(n string, d []byte, p fs.FileMode) error {
	if err := os.WriteFile(o.p(n), d, p); err != nil {
		return err
	}
	return os.Chmod(o.p(n), p)
}
func (o osWriter) Symlink(t, n string) error { return os.Symlink(t, o.p(n)) }
func (o osWriter) Link(a, b string) error    { return os.Link(o.p(a), o.p(b)) }
func (o osWriter) Setxattr(n, a string, v []byte) error {
	return unix.Lsetxattr(o.p(n), a, v, 0)
}
func (o osWriter) Sparse(n string, size int64, tail []byte) error {
	h, err := os.OpenFile(o.p(n), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer h.Close()
	if err := h.Truncate(size); err != nil {
		return err
	}
	_, err = h.WriteAt(tail, size)
	return err
}

// A vault that sealfs creates and fills mounts with gocryptfs and shows
// the same tree, for every format.
func TestInteropSealfsToGocryptfs(t *testing.T) {
	bin := requireGocryptfs(t)
	forEachDiskFormat(t, func(t *testing.T, f *sealfs.FS, dir string) {
		fillTree(t, sealWriter{f})
		want := testvault.Snapshot(t, f, xattrsOf(f))
		// newVault used the password "pw".
		mnt := gocryptfsMount(t, bin, dir, writePassfile(t, "pw"), "-ro")
		got := testvault.Snapshot(t, os.DirFS(mnt), testvault.OSXattrs(mnt))
		testvault.CompareSnapshots(t, got, want)
	})
}

// A vault that gocryptfs creates and fills reads back identically through
// the library, for every format.
func TestInteropGocryptfsToSealfs(t *testing.T) {
	bin := requireGocryptfs(t)
	for _, fm := range formats {
		t.Run(fm.name, func(t *testing.T) {
			cipher := t.TempDir()
			pw := writePassfile(t, "secret")
			args := append([]string{"-init", "-q", "-scryptn", "10", "-passfile", pw}, gocryptfsFlags[fm.name]...)
			run(t, bin, append(args, "--", cipher)...)
			mnt := gocryptfsMount(t, bin, cipher, pw)
			fillTree(t, osWriter{mnt})
			want := testvault.Snapshot(t, os.DirFS(mnt), testvault.OSXattrs(mnt))
			unmount(t, mnt)

			f, err := sealfs.Open(cipher, []byte("secret"), &sealfs.Options{ReadOnly: true})
			must(t, err)
			defer f.Close()
			got := testvault.Snapshot(t, f, xattrsOf(f))
			testvault.CompareSnapshots(t, got, want)
			// The sparse file stayed sparse in the ciphertext.
			cname, err := f.EncryptPath("sparse")
			must(t, err)
			var st unix.Stat_t
			must(t, unix.Stat(filepath.Join(cipher, cname), &st))
			if st.Blocks*512 >= 1<<20 {
				t.Errorf("sparse file occupies %d bytes", st.Blocks*512)
			}
			b, err := f.ReadFile("sparse")
			must(t, err)
			if !bytes.Equal(b[1<<20:], []byte("TAIL")) || !bytes.Equal(b[:1<<20], make([]byte, 1<<20)) {
				t.Error("sparse content differs")
			}
		})
	}
}

// Long names can be turned off at open time (gocryptfs' mount option
// -longnames=false, for vaults older than 0.9): hashed entries are hidden
// and a name whose encryption is too long is refused, by sealfs as by
// gocryptfs.
func TestNoLongNamesOption(t *testing.T) {
	f, dir := newVault(t, formats[0].opts)
	short, long := strings.Repeat("s", 100), strings.Repeat("l", 200)
	must(t, f.WriteFile(short, []byte("short"), 0o644))
	must(t, f.WriteFile(long, []byte("long"), 0o644))
	f.Close()

	var reported []string
	g, err := sealfs.Open(dir, []byte("pw"), &sealfs.Options{NoLongNames: true, OnCorrupt: func(p string, err error) {
		reported = append(reported, err.Error())
	}})
	must(t, err)
	defer g.Close()
	ents, err := g.ReadDir(".")
	must(t, err)
	if len(ents) != 1 || ents[0].Name() != short {
		t.Fatalf("listing with long names off: %v", ents)
	}
	if len(reported) != 1 || !strings.Contains(reported[0], "gocryptfs.longname.") {
		t.Fatalf("reported: %q", reported)
	}
	if err := g.WriteFile(long+"2", nil, 0o644); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Fatalf("new long name with long names off: %v", err)
	}
	if got, err := g.ReadFile(short); err != nil || string(got) != "short" {
		t.Fatalf("short name: %q %v", got, err)
	}

	bin := requireGocryptfs(t)
	mnt := gocryptfsMount(t, bin, dir, writePassfile(t, "pw"), "-longnames=false")
	gents, err := os.ReadDir(mnt)
	must(t, err)
	if len(gents) != 1 || gents[0].Name() != short {
		t.Fatalf("gocryptfs -longnames=false lists %v", gents)
	}
	if err := os.WriteFile(filepath.Join(mnt, long+"2"), nil, 0o644); !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Fatalf("gocryptfs -longnames=false with a long name: %v (the two must agree)", err)
	}
}

// Options.BadNames (gocryptfs -badname) shows undecryptable entries whose
// ciphertext name matches a pattern, under the same names as gocryptfs,
// and lets them be read, renamed back to health and removed.
func TestBadNames(t *testing.T) {
	f, dir := newVault(t, formats[0].opts)
	must(t, f.WriteFile("valid", []byte("valid content"), 0o644))
	must(t, f.WriteFile("other", []byte("other content"), 0o644))
	f.Close()
	var validC, otherC string
	for _, n := range cipherNames(t, dir) {
		if strings.HasPrefix(n, "gocryptfs.") {
			continue
		}
		g, err := sealfs.Open(dir, []byte("pw"), nil)
		must(t, err)
		p, err := g.DecryptPath(n)
		g.Close()
		must(t, err)
		switch p {
		case "valid":
			validC = n
		case "other":
			otherC = n
		}
	}
	otherData, err := os.ReadFile(filepath.Join(dir, otherC))
	must(t, err)
	// Three undecryptable names holding other's ciphertext (contents do not
	// depend on the name): a good name plus junk, no base64 at all, and a
	// copy of a file with a telling name.
	for _, n := range []string{validC + "junk", "not-base64!", "gocryptfs.conf.bak"} {
		must(t, os.WriteFile(filepath.Join(dir, n), otherData, 0o644))
	}
	want := []string{"gocryptfs.conf.bak" + sealfs.BadNameSuffix, "not-base64!" + sealfs.BadNameSuffix, "other", "valid", "validjunk" + sealfs.BadNameSuffix}

	open := func(bad ...string) *sealfs.FS {
		g, err := sealfs.Open(dir, []byte("pw"), &sealfs.Options{BadNames: bad})
		must(t, err)
		t.Cleanup(func() { g.Close() })
		return g
	}
	listing := func(g *sealfs.FS) []string {
		ents, err := g.ReadDir(".")
		must(t, err)
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		return out
	}
	if got := listing(open()); !slices.Equal(got, []string{"other", "valid"}) {
		t.Fatalf("without BadNames: %v", got)
	}
	g := open("*junk", "not-base64!", "gocryptfs.conf.*")
	if got := listing(g); !slices.Equal(got, want) {
		t.Fatalf("with BadNames: %v, want %v", got, want)
	}

	bin := requireGocryptfs(t)
	mnt := gocryptfsMount(t, bin, dir, writePassfile(t, "pw"), "-badname", "*junk", "-badname", "not-base64!", "-badname", "gocryptfs.conf.*")
	gents, err := os.ReadDir(mnt)
	must(t, err)
	var gnames []string
	for _, e := range gents {
		gnames = append(gnames, e.Name())
	}
	if !slices.Equal(gnames, want) {
		t.Fatalf("gocryptfs -badname lists %v, sealfs %v", gnames, want)
	}
	for _, n := range want {
		if got, err := os.ReadFile(filepath.Join(mnt, n)); err != nil || len(got) == 0 {
			t.Fatalf("gocryptfs reads %q: %q %v", n, got, err)
		}
	}
	unmount(t, mnt)

	for _, n := range want {
		got, err := g.ReadFile(n)
		must(t, err)
		wantData := "other content"
		if n == "valid" {
			wantData = "valid content"
		}
		if string(got) != wantData {
			t.Fatalf("%q reads %q", n, got)
		}
	}
	// Recover one by renaming it, remove another.
	must(t, g.Rename("validjunk"+sealfs.BadNameSuffix, "recovered"))
	must(t, g.Remove("not-base64!"+sealfs.BadNameSuffix))
	if _, err := g.Stat("nothing-like-this" + sealfs.BadNameSuffix); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a bad name that is not there: %v", err)
	}
	// An ordinary file may carry the suffix too.
	must(t, g.WriteFile("mine"+sealfs.BadNameSuffix, []byte("mine"), 0o644))
	if got := listing(g); !slices.Equal(got, []string{"gocryptfs.conf.bak" + sealfs.BadNameSuffix, "mine" + sealfs.BadNameSuffix, "other", "recovered", "valid"}) {
		t.Fatalf("after recovery: %v", got)
	}
	if got, err := open().ReadFile("recovered"); err != nil || string(got) != "other content" {
		t.Fatalf("recovered file without BadNames: %q %v", got, err)
	}
}
