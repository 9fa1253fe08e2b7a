//go:build linux

package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/internal/testvault"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(""), &out, &errb)
	return code, out.String(), errb.String()
}

func passfile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(p, []byte(testvault.Password+"\n"), 0o600)
	return p
}

// checkView compares an exported directory with the ciphertext listing
// of golden reverse vault name.
func checkView(t *testing.T, name, out string) {
	t.Helper()
	want := map[string]testvault.Entry{}
	for _, e := range testvault.Listing(t, name) {
		want[e.Path] = e
	}
	n := 0
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(out, p)
		if err != nil || rel == "." {
			return err
		}
		n++
		e, ok := want[filepath.ToSlash(rel)]
		if !ok {
			t.Errorf("unexpected %s", rel)
			return nil
		}
		switch e.Type {
		case "file":
			b, _ := os.ReadFile(p)
			sum := sha256.Sum256(b)
			if hex.EncodeToString(sum[:]) != e.SHA256 {
				t.Errorf("%s: content differs from gocryptfs' view", rel)
			}
		case "symlink":
			if tgt, _ := os.Readlink(p); tgt != e.Target {
				t.Errorf("%s: target differs", rel)
			}
		}
		return nil
	})
	if n != len(want) {
		t.Errorf("exported %d objects, gocryptfs' view has %d", n, len(want))
	}
}

// fileState is what a backup tool compares to tell an object unchanged:
// restic and borg read a file again when its ctime moved.
type fileState struct {
	ino          uint64
	mtime, ctime int64
}

// states records every object under dir (directories, symlinks, the
// diriv and .name files included).
func states(t *testing.T, dir string) map[string]fileState {
	m := map[string]fileState{}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		var st syscall.Stat_t
		if err == nil && syscall.Lstat(p, &st) == nil {
			m[p] = fileState{st.Ino, st.Mtim.Nano(), st.Ctim.Nano()}
		}
		return err
	})
	return m
}

func TestExport(t *testing.T) {
	for _, name := range testvault.Reverse {
		t.Run(name, func(t *testing.T) {
			plain := testvault.CopyPlain(t, name)
			pw := passfile(t)
			out := filepath.Join(t.TempDir(), "out")
			if code, _, stderr := runCLI(t, "export", "-q", "-passfile", pw, plain, out); code != 0 {
				t.Fatalf("export: exit %d: %s", code, stderr)
			}
			checkView(t, name, out)

			// Unchanged tree: nothing is rewritten, times stay.
			before := states(t, out)
			code, _, stderr := runCLI(t, "export", "-passfile", pw, plain, out)
			if code != 0 || !strings.Contains(stderr, "(0 written") {
				t.Fatalf("second export: exit %d: %s", code, stderr)
			}
			if after := states(t, out); len(after) != len(before) {
				t.Fatal("second export changed the set of files")
			} else {
				for p, s := range before {
					if after[p] != s {
						t.Errorf("%s touched by an export of an unchanged tree: %+v, was %+v", p, after[p], s)
					}
				}
			}

			// A removed plaintext file disappears, a changed one is rewritten.
			os.Remove(filepath.Join(plain, "one-byte.txt"))
			os.WriteFile(filepath.Join(plain, "text.txt"), []byte("changed"), 0o644)
			if code, _, stderr := runCLI(t, "export", "-q", "-passfile", pw, plain, out); code != 0 {
				t.Fatalf("third export: %s", stderr)
			}
			f, err := sealfs.Open(out, []byte(testvault.Password), &sealfs.Options{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if _, err := f.Lstat("one-byte.txt"); err == nil {
				t.Error("removed file still exported")
			}
			if b, err := f.ReadFile("text.txt"); err != nil || string(b) != "changed" {
				t.Errorf("changed file: %q %v", b, err)
			}
			// Everything else decrypts to the manifest.
			var rest []testvault.Entry
			for _, e := range testvault.Manifest(t, name) {
				if e.Path != "one-byte.txt" && e.Path != "text.txt" {
					rest = append(rest, e)
				}
			}
			rest = append(rest, testvault.Entry{Path: "text.txt", Type: "file", Size: 7, Mode: "0644",
				SHA256: hex.EncodeToString(func() []byte { s := sha256.Sum256([]byte("changed")); return s[:] }())})
			testvault.CompareTree(t, f, rest, nil)
		})
	}
}

func TestExportTar(t *testing.T) {
	plain := testvault.CopyPlain(t, "reverse")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"export", "-q", "-tar", "-passfile", passfile(t), plain, "-"}, strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("export -tar: exit %d: %s", code, errb.String())
	}
	want := map[string]testvault.Entry{}
	for _, e := range testvault.Listing(t, "reverse") {
		want[e.Path] = e
	}
	tr := tar.NewReader(&out)
	n := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		e, ok := want[strings.TrimSuffix(h.Name, "/")]
		if !ok {
			t.Fatalf("unexpected %s", h.Name)
		}
		if e.Type == "file" {
			b, _ := io.ReadAll(tr)
			sum := sha256.Sum256(b)
			if hex.EncodeToString(sum[:]) != e.SHA256 {
				t.Errorf("%s: content differs", h.Name)
			}
		}
		if e.Type == "symlink" && h.Linkname != e.Target {
			t.Errorf("%s: target differs", h.Name)
		}
	}
	if n != len(want) {
		t.Errorf("tar has %d entries, want %d", n, len(want))
	}
}

// TestExportSpecialFiles: FIFOs, sockets and (as root) device nodes are
// recreated in the export, as the reverse view shows them, and decrypt to
// the plaintext objects; a second export leaves them alone.
func TestExportSpecialFiles(t *testing.T) {
	plain := testvault.CopyPlain(t, "reverse")
	want := map[string]uint32{"fifo": syscall.S_IFIFO, "sock": syscall.S_IFSOCK}
	if err := syscall.Mkfifo(filepath.Join(plain, "fifo"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mknod(filepath.Join(plain, "sock"), syscall.S_IFSOCK|0o600, 0); err != nil {
		t.Fatal(err)
	}
	nullDev := int(unix.Mkdev(1, 3))
	if os.Geteuid() == 0 {
		if err := syscall.Mknod(filepath.Join(plain, "null"), syscall.S_IFCHR|0o666, nullDev); err != nil {
			t.Fatal(err)
		}
		want["null"] = syscall.S_IFCHR
	}
	pw := passfile(t)
	out := filepath.Join(t.TempDir(), "out")
	if code, _, stderr := runCLI(t, "export", "-q", "-passfile", pw, plain, out); code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	f, err := sealfs.Open(out, []byte(testvault.Password), &sealfs.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for name, typ := range want {
		fi, err := f.Lstat(name)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		st, ok := fi.Sys().(*sealfs.Stat)
		if !ok {
			t.Fatalf("%s: Sys() is %T", name, fi.Sys())
		}
		pst, _ := os.Lstat(filepath.Join(plain, name))
		if st.Mode&syscall.S_IFMT != typ || fi.Mode().Perm() != pst.Mode().Perm() {
			t.Errorf("%s: exported as mode %o (%v), want type %o and %v", name, st.Mode, fi.Mode(), typ, pst.Mode().Perm())
		}
		if typ == syscall.S_IFCHR && int(st.Rdev) != nullDev {
			t.Errorf("%s: device %#x, want %#x", name, st.Rdev, nullDev)
		}
	}
	code, _, stderr := runCLI(t, "export", "-passfile", pw, plain, out)
	if code != 0 || !strings.Contains(stderr, "(0 written") {
		t.Fatalf("second export: exit %d: %s", code, stderr)
	}
}

func TestExportErrors(t *testing.T) {
	plain := testvault.CopyPlain(t, "reverse")
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("nope\n"), 0o600)
	if code, _, _ := runCLI(t, "export", "-q", "-passfile", wrong, plain, t.TempDir()+"/o"); code != exitPasswordIncorrect {
		t.Errorf("wrong password: exit %d", code)
	}
	if code, _, _ := runCLI(t, "export", "-q", "-passfile", passfile(t), t.TempDir(), t.TempDir()+"/o"); code != exitOpenConf {
		t.Errorf("no reverse config: exit %d", code)
	}
	// A forward vault's config is refused as a reverse config.
	fwd := testvault.Copy(t, "default")
	if code, _, stderr := runCLI(t, "export", "-q", "-passfile", passfile(t), "-config", filepath.Join(fwd, "gocryptfs.conf"), plain, t.TempDir()+"/o"); code != exitUsage {
		t.Errorf("forward config: exit %d %s", code, stderr)
	}
	if code, _, _ := runCLI(t, "export", "-q", "-passfile", passfile(t), plain, filepath.Join(plain, "sub")); code != exitTargetDir {
		t.Errorf("OUTDIR inside PLAINDIR: exit %d", code)
	}
}
