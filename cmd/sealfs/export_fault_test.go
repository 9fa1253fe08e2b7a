//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/internal/testvault"
	"github.com/sealfs/sealfs/internal/testvault/testkey"
	"github.com/sealfs/sealfs/reverse"
)

// faultFS is a plaintext file system whose chosen paths fail: Open
// (openErr), ReadAt at or after an offset (readErrAt), or ReadDir
// (listErr).
type faultFS struct {
	fs.FS
	openErr   map[string]error
	readErrAt map[string]int64
	listErr   map[string]error
}

func (f *faultFS) Open(name string) (fs.File, error) {
	if err := f.openErr[name]; err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	file, err := f.FS.Open(name)
	if err != nil {
		return nil, err
	}
	if off, ok := f.readErrAt[name]; ok {
		return &faultFile{File: file, ra: file.(io.ReaderAt), off: off}, nil
	}
	if err := f.listErr[name]; err != nil {
		return &faultDir{File: file, err: err}, nil
	}
	return file, nil
}

func (f *faultFS) ReadDir(name string) ([]fs.DirEntry, error) {
	if err := f.listErr[name]; err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return fs.ReadDir(f.FS, name)
}

func (f *faultFS) Stat(name string) (fs.FileInfo, error)  { return fs.Stat(f.FS, name) }
func (f *faultFS) Lstat(name string) (fs.FileInfo, error) { return fs.Lstat(f.FS, name) }
func (f *faultFS) ReadLink(name string) (string, error)   { return fs.ReadLink(f.FS, name) }

type faultFile struct {
	fs.File
	ra  io.ReaderAt
	off int64
}

func (f *faultFile) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) > f.off {
		return 0, &fs.PathError{Op: "read", Path: "plain", Err: syscall.EIO}
	}
	return f.ra.ReadAt(p, off)
}

type faultDir struct {
	fs.File
	err error
}

func (d *faultDir) ReadDir(int) ([]fs.DirEntry, error) { return nil, d.err }

// TestExportUnreadable: plaintext objects that cannot be opened, read or
// listed are reported by their plaintext path and skipped, everything else
// is exported, and what an earlier export wrote for them is kept.
func TestExportUnreadable(t *testing.T) {
	plain := testvault.CopyPlain(t, "reverse")
	cfg, key := testkey.Reverse(t, plain)
	out := filepath.Join(t.TempDir(), "out")
	if code, _, stderr := runCLI(t, "export", "-q", "-passfile", passfile(t), plain, out); code != 0 {
		t.Fatalf("first export: %s", stderr)
	}
	before := states(t, out)

	// The plaintext changes: the unreadable files would be rewritten or
	// deleted by a working export.
	for _, p := range []string{"text.txt", "big-1MiB-plus-123.bin", "dir1/dir2/dir3/deep.txt"} {
		os.WriteFile(filepath.Join(plain, p), []byte("changed"), 0o644)
	}
	os.WriteFile(filepath.Join(plain, "new.txt"), []byte("new"), 0o644)
	os.Remove(filepath.Join(plain, "one-byte.txt"))

	faults := &faultFS{
		FS:        os.DirFS(plain),
		openErr:   map[string]error{"text.txt": syscall.EACCES},
		readErrAt: map[string]int64{"big-1MiB-plus-123.bin": 0},
		listErr:   map[string]error{"dir1/dir2": syscall.EACCES},
	}
	v, err := reverse.New(faults, cfg, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	e := newEnv(strings.NewReader(""), io.Discard, &stderr)
	x := &exporter{e: e, v: v, prog: newProgress(e)}
	if err := x.tree(context.Background(), out); err != nil {
		t.Fatalf("tree: %v", err)
	}
	if x.failed != 3 {
		t.Errorf("%d failures, want 3: %s", x.failed, stderr.String())
	}
	for _, want := range []string{
		"skipped text.txt (", "permission denied",
		"skipped big-1MiB-plus-123.bin (", "input/output error",
		"skipped dir1/dir2 (",
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, stderr.String())
		}
	}
	after := states(t, out)
	for _, p := range []string{"text.txt", "big-1MiB-plus-123.bin", "dir1/dir2/dir3/deep.txt"} {
		cp, _ := v.EncryptPath(p)
		dst := filepath.Join(out, cp)
		if s, ok := after[dst]; !ok || s != before[dst] {
			t.Errorf("%s: the earlier export's copy was not kept (%v %v)", p, s, ok)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(out, ".sealfs-export-*"))
	if len(matches) > 0 {
		t.Errorf("temporary files left: %v", matches)
	}
	// The rest is exported: the new file, the removal, unchanged files.
	f, err := sealfs.Open(out, []byte(testvault.Password), &sealfs.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if b, err := f.ReadFile("new.txt"); err != nil || string(b) != "new" {
		t.Errorf("new.txt: %q %v", b, err)
	}
	if _, err := f.Lstat("one-byte.txt"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("removed file still exported: %v", err)
	}
	if b, err := f.ReadFile("dir1/file-in-dir1.txt"); err != nil || len(b) != 8 {
		t.Errorf("dir1/file-in-dir1.txt: %q %v", b, err)
	}
	if b, err := f.ReadFile("dir1/dir2/dir3/deep.txt"); err != nil || string(b) == "changed" {
		t.Errorf("deep.txt below the unlistable directory: %q %v", b, err)
	}
}

// TestExportProgress: the progress line goes to stderr only when it is
// a terminal, and not with -q.
func TestExportProgress(t *testing.T) {
	plain := testvault.CopyPlain(t, "reverse")
	pw := passfile(t)
	ctrl, tty := openPty(t)
	got := make(chan string, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := ctrl.Read(buf)
			b.Write(buf[:n])
			if err != nil || strings.Contains(b.String(), "exported ") {
				break
			}
		}
		got <- b.String()
	}()
	code := run(context.Background(), []string{"export", "-passfile", pw, plain, filepath.Join(t.TempDir(), "o")}, strings.NewReader(""), io.Discard, tty)
	if code != 0 {
		t.Fatalf("export on a terminal: exit %d", code)
	}
	if s := <-got; !strings.Contains(s, "\r\033[K") || !strings.Contains(s, "objects, ") || !strings.Contains(s, "MiB") {
		t.Errorf("no progress line on the terminal: %q", s)
	}
	for _, args := range [][]string{{"export", "-passfile", pw}, {"export", "-q", "-passfile", pw}} {
		var stderr bytes.Buffer
		args = append(args, plain, filepath.Join(t.TempDir(), "o"))
		if code := run(context.Background(), args, strings.NewReader(""), io.Discard, &stderr); code != 0 || strings.Contains(stderr.String(), "\r") {
			t.Errorf("%q: exit %d, progress on a non-terminal or with -q: %q", args, code, stderr.String())
		}
	}
}
