//go:build linux

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"

	"github.com/sealfs/sealfs/internal/testvault"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"sealfs": main, "fido2-cred": fakeFIDO2Cred, "fido2-assert": fakeFIDO2Assert})
}

// TestScripts runs testdata/script/*.txtar. Besides the standard
// commands, scripts get:
//
//	status N [<FILE] sealfs ARGS...   run sealfs, expect exit code N (stdin from FILE)
//	checktree DIR VAULT               DIR holds exactly golden VAULT's manifest.json
//	checkfile VAULT PATH FILE         FILE has the content of PATH in VAULT's manifest
//	mktree DIR                        write a plaintext tree with every kind of object
//	cmptree A B                       trees A and B are equal (content, metadata, links, holes)
//	gone FILE                         wait up to 10 s for FILE to disappear
//
// the conditions [fuse] (/dev/fuse can be opened) and [root], and these variables: GOLDEN (the golden data directory, read-only),
// V_<vault> (a private copy of each golden vault's ciphertext, the
// cipher-view/ snapshot for reverse vaults, "-" in names replaced by "_";
// scripts must not change them), REVERSE_PLAIN (a copy of the
// plain/ directory of the "reverse" golden vault).
func TestScripts(t *testing.T) {
	golden := testvault.Dir(t)
	vars := []string{"GOLDEN=" + golden, "GORACE=" + goRace()}
	for _, name := range slices.Concat(testvault.Forward, testvault.Reverse) {
		vars = append(vars, "V_"+strings.ReplaceAll(name, "-", "_")+"="+testvault.Copy(t, name))
	}
	vars = append(vars, "REVERSE_PLAIN="+testvault.CopyPlain(t, "reverse"))
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: false,
		Setup: func(env *testscript.Env) error {
			env.Vars = append(env.Vars, vars...)
			// A script that fails between a mount and its unmount would
			// leave the mount behind (and its work directory undeletable).
			work := env.WorkDir
			env.Defer(func() { unmountBelow(work) })
			return nil
		},
		Condition: func(cond string) (bool, error) {
			if cond == "root" {
				return os.Geteuid() == 0, nil
			}
			if cond != "fuse" {
				return false, fmt.Errorf("unknown condition %q", cond)
			}
			f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
			if err != nil {
				return false, nil
			}
			f.Close()
			return true, nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"status":    cmdStatus,
			"checktree": cmdChecktree,
			"checkfile": cmdCheckfile,
			"mktree":    cmdMktree,
			"cmptree":   cmdCmptree,
			"gone":      cmdGone,
		},
	})
}

// goRace returns GORACE for the sealfs processes the scripts start: under
// -race, each process would otherwise sleep a second at exit
// (atexit_sleep_ms defaults to 1000).
func goRace() string {
	return strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
}

// unmountBelow lazily unmounts every FUSE mount below dir.
func unmountBelow(dir string) {
	data, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !strings.HasPrefix(f[2], "fuse") {
			continue
		}
		// /proc/self/mounts escapes spaces and the like as octal.
		mnt := strings.NewReplacer(`\040`, " ", `\011`, "\t", `\012`, "\n", `\134`, `\`).Replace(f[1])
		if strings.HasPrefix(mnt, dir+"/") {
			exec.Command("fusermount3", "-u", "-z", mnt).Run()
		}
	}
}

// cmdGone waits up to 10 s for a file to disappear: a mount's serving
// process removes its control socket as it exits, a few milliseconds
// after the unmount has returned.
func cmdGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: gone FILE")
	}
	p := ts.MkAbs(args[0])
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s still exists after 10 s", args[0])
		}
	}
}

// cmdStatus runs a command and checks its exit code. Its output becomes
// the script's stdout and stderr.
func cmdStatus(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! status")
	}
	if len(args) < 2 {
		ts.Fatalf("usage: status N [<FILE] CMD ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	args = args[1:]
	stdin := ""
	if strings.HasPrefix(args[0], "<") {
		stdin = ts.ReadFile(args[0][1:])
		args = args[1:]
	}
	path, err := exec.LookPath(args[0])
	ts.Check(err)
	cmd := exec.Command(path, args[1:]...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = append(os.Environ(), "HOME="+ts.Getenv("HOME"), "TMPDIR="+ts.Getenv("TMPDIR"), "WORK="+ts.Getenv("WORK"), "GORACE="+goRace(), "FAKE_FIDO2_FAIL="+ts.Getenv("FAKE_FIDO2_FAIL"))
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout = ts.Stdout()
	cmd.Stderr = ts.Stderr()
	err = cmd.Run()
	got := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		got = ee.ExitCode()
	} else if err != nil {
		ts.Fatalf("%v", err)
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
}

type manifestEntry struct {
	Path   string            `json:"path"`
	Mode   string            `json:"mode"`
	Type   string            `json:"type"`
	Size   int64             `json:"size"`
	SHA256 string            `json:"sha256"`
	Target string            `json:"target"`
	Xattrs map[string]string `json:"xattrs"`
}

func readManifest(ts *testscript.TestScript, vault string) map[string]manifestEntry {
	data, err := os.ReadFile(filepath.Join(ts.Getenv("GOLDEN"), vault, "manifest.json"))
	ts.Check(err)
	var list []manifestEntry
	ts.Check(json.Unmarshal(data, &list))
	m := map[string]manifestEntry{}
	for _, e := range list {
		m[e.Path] = e
	}
	return m
}

// cmdChecktree compares a decrypted directory with a golden manifest:
// paths, types, permission bits, sizes, SHA-256, symlink targets,
// extended attributes; files named "sparse-*" must occupy less space than
// their size.
func cmdChecktree(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: checktree DIR VAULT")
	}
	root := ts.MkAbs(args[0])
	want := readManifest(ts, args[1])
	seen := map[string]bool{}
	var problems []string
	errf := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		seen[rel] = true
		e, ok := want[rel]
		if !ok {
			errf("unexpected %s", rel)
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		typ := map[uint32]string{unix.S_IFREG: "file", unix.S_IFDIR: "dir", unix.S_IFLNK: "symlink"}[st.Mode&unix.S_IFMT]
		if typ != e.Type {
			errf("%s: type %q, want %q", rel, typ, e.Type)
			return nil
		}
		if mode := fmt.Sprintf("%04o", st.Mode&0o7777); typ != "symlink" && mode != e.Mode {
			errf("%s: mode %s, want %s", rel, mode, e.Mode)
		}
		switch typ {
		case "file":
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			if int64(len(data)) != e.Size || hex.EncodeToString(sum[:]) != e.SHA256 {
				errf("%s: content differs (size %d, want %d)", rel, len(data), e.Size)
			}
			if strings.HasPrefix(filepath.Base(rel), "sparse-") && st.Blocks*512 >= st.Size {
				errf("%s: not sparse: %d blocks for %d bytes", rel, st.Blocks, st.Size)
			}
		case "symlink":
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if target != e.Target {
				errf("%s: target %q, want %q", rel, target, e.Target)
			}
		}
		if typ != "symlink" {
			got, err := localXattrs(p)
			if err != nil {
				return err
			}
			wantX := map[string][]byte{}
			for k, v := range e.Xattrs {
				b, _ := hex.DecodeString(v)
				wantX[k] = b
			}
			if !equalXattrs(got, wantX) {
				errf("%s: xattrs %q, want %q", rel, got, wantX)
			}
		}
		return nil
	})
	ts.Check(err)
	for p := range want {
		if !seen[p] {
			errf("missing %s", p)
		}
	}
	slices.Sort(problems)
	if len(problems) > 0 {
		ts.Fatalf("%s differs from %s manifest:\n%s", args[0], args[1], strings.Join(problems, "\n"))
	}
}

func equalXattrs(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// cmdCheckfile checks FILE against the manifest entry of PATH.
func cmdCheckfile(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: checkfile VAULT PATH FILE")
	}
	e, ok := readManifest(ts, args[0])[args[1]]
	if !ok || e.Type != "file" {
		ts.Fatalf("%s is not a file in the %s manifest", args[1], args[0])
	}
	data := []byte(ts.ReadFile(args[2]))
	sum := sha256.Sum256(data)
	match := int64(len(data)) == e.Size && hex.EncodeToString(sum[:]) == e.SHA256
	if match == neg {
		ts.Fatalf("%s: content match = %v (size %d, want %d)", args[2], match, len(data), e.Size)
	}
}

// Times used by mktree: modification times in the past, access times in
// the near future so that relatime never updates them when the copies
// read the files.
var (
	treeMtime = time.Date(2021, 3, 4, 5, 6, 7, 123456789, time.UTC)
	treeAtime = time.Now().Add(2 * time.Hour).Truncate(time.Second)
)

// cmdMktree writes a tree with files of many sizes, a sparse file, nested
// and read-only directories, special permission bits, symlinks, hard links,
// a FIFO, a socket, a character device (as root, where allowed), extended
// attributes, long and non-ASCII names, other owners (as root), and fixed
// times.
func cmdMktree(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mktree DIR")
	}
	makeTree(ts.MkAbs(args[0]), ts.Check)
}

// makeTree writes mktree's tree to root, calling must with every error.
func makeTree(root string, must func(error)) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(n int) []byte { return randomBytes(rng, n) }
	j := func(p string) string { return filepath.Join(root, p) }
	must(os.MkdirAll(j("a/b/c"), 0o755))
	must(os.Mkdir(j("ro"), 0o755))
	must(os.Mkdir(j("sticky"), 0o755))
	for _, n := range []int{0, 1, 15, 16, 4095, 4096, 4097, 8192, 70001} {
		must(os.WriteFile(j(fmt.Sprintf("a/size-%d", n)), random(n), 0o644))
	}
	must(os.WriteFile(j("a/b/c/deep.txt"), []byte("deep\n"), 0o640))
	must(os.WriteFile(j("ro/inside.txt"), []byte("read-only dir\n"), 0o444))
	must(os.WriteFile(j("script.sh"), []byte("#!/bin/sh\necho hi\n"), 0o755))
	must(os.WriteFile(j("private"), []byte("secret"), 0o600))
	must(os.WriteFile(j("setuid"), []byte("s"), 0o644))
	must(os.Chmod(j("setuid"), 0o755|fs.ModeSetuid|fs.ModeSetgid))
	must(os.Chmod(j("sticky"), 0o777|fs.ModeSticky))
	long := strings.Repeat("L", 255)
	must(os.WriteFile(j(long), []byte("long name"), 0o644))
	must(os.WriteFile(j("Ünïcödé 文件 😀"), []byte("unicode"), 0o644))

	// Sparse: data at 0 and at 1 MiB + 5, a hole between, and a hole at
	// the end up to 3 MiB.
	sp, err := os.Create(j("sparse"))
	must(err)
	_, err = sp.WriteAt([]byte("head"), 0)
	must(err)
	_, err = sp.WriteAt(random(10000), 1<<20+5)
	must(err)
	must(sp.Truncate(3 << 20))
	must(sp.Close())

	// Hard links, one across directories.
	must(os.WriteFile(j("linked"), random(5000), 0o644))
	must(os.Link(j("linked"), j("linked2")))
	must(os.Link(j("linked"), j("a/b/linked3")))

	must(os.Symlink("a/size-1", j("sym-rel")))
	must(os.Symlink("/nonexistent/target", j("sym-abs")))
	must(os.Symlink("../../linked", j("a/b/sym-up")))
	must(os.Symlink(strings.Repeat("t/", 300), j("sym-long")))
	must(syscall.Mkfifo(j("fifo"), 0o640))
	must(unix.Mknod(j("socket"), unix.S_IFSOCK|0o600, 0))
	if os.Geteuid() == 0 {
		// A character device (like /dev/null) where the sandbox allows it.
		if err := unix.Mknod(j("chardev"), unix.S_IFCHR|0o600, int(unix.Mkdev(1, 3))); err != nil && !errors.Is(err, unix.EPERM) {
			must(err)
		}
	}

	must(unix.Lsetxattr(j("a/size-1"), "user.comment", []byte("hello"), 0))
	must(unix.Lsetxattr(j("a/size-1"), "user.empty", nil, 0))
	must(unix.Lsetxattr(j("a"), "user.dirattr", random(100), 0))
	must(unix.Lsetxattr(j("linked"), "user.big", random(3000), 0))

	if os.Geteuid() == 0 {
		must(os.Lchown(j("private"), 1234, 5678))
		must(os.Lchown(j("sym-rel"), 4321, 8765))
		must(os.Lchown(j("a/b"), 42, 43))
	}

	// Times last, deepest first; the read-only dir after its contents.
	var paths []string
	must(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		paths = append(paths, p)
		return err
	}))
	for _, p := range slices.Backward(paths) {
		if p == j("ro") {
			must(os.Chmod(p, 0o555))
		}
		must(setFileTimes(p, treeAtime, treeMtime, true))
	}
}

// treeObject is what cmptree compares for one path.
type treeObject struct {
	Mode     uint32 // type and permission bits
	Uid, Gid uint32
	Size     int64
	Rdev     uint64
	Mtime    int64
	Atime    int64
	Content  string // SHA-256 of a file
	Target   string
	Xattrs   map[string][]byte
	Blocks   int64  `json:"-"`
	Links    string `json:"-"` // other paths of the same inode, sorted
}

func snapshotTree(ts *testscript.TestScript, root string) map[string]*treeObject {
	out, err := snapshotDir(root)
	ts.Check(err)
	return out
}

// snapshotDir describes every object below root for cmptree.
func snapshotDir(root string) (map[string]*treeObject, error) {
	out := map[string]*treeObject{}
	byInode := map[uint64][]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		o := &treeObject{Mode: st.Mode, Uid: st.Uid, Gid: st.Gid, Size: st.Size, Rdev: st.Rdev,
			Mtime: st.Mtim.Nano(), Atime: st.Atim.Nano(), Blocks: st.Blocks}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(data)
			o.Content = hex.EncodeToString(sum[:])
			byInode[st.Ino] = append(byInode[st.Ino], rel)
		case unix.S_IFLNK:
			if o.Target, err = os.Readlink(p); err != nil {
				return err
			}
			o.Atime = 0 // reading a symlink may update its atime
		case unix.S_IFDIR:
			o.Size = 0
			o.Atime = 0 // listing a directory may update its atime
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			x, err := localXattrs(p)
			if err != nil {
				return err
			}
			for k := range x {
				if !strings.HasPrefix(k, "user.") {
					delete(x, k)
				}
			}
			if len(x) > 0 {
				o.Xattrs = x
			}
		}
		out[rel] = o
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, names := range byInode {
		slices.Sort(names)
		for _, n := range names {
			out[n].Links = strings.Join(names, ",")
		}
	}
	return out, err
}

// cmdCmptree compares two plaintext trees: every path with type, mode,
// owner, size, times (atime of files only), content, symlink target, user
// xattrs and hard-link groups; files that are sparse in A must be sparse in
// B.
func cmdCmptree(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: cmptree A B")
	}
	a := snapshotTree(ts, ts.MkAbs(args[0]))
	b := snapshotTree(ts, ts.MkAbs(args[1]))
	problems := diffTrees(a, b, args[0], args[1])
	slices.Sort(problems)
	if len(problems) > 0 {
		ts.Fatalf("trees differ:\n%s", strings.Join(problems, "\n"))
	}
}

// diffTrees lists the differences between two snapshots, named nameA and
// nameB in the messages.
func diffTrees(a, b map[string]*treeObject, nameA, nameB string) []string {
	var problems []string
	for p, oa := range a {
		ob, ok := b[p]
		if !ok {
			problems = append(problems, "missing in "+nameB+": "+p)
			continue
		}
		ja, _ := json.Marshal(oa)
		jb, _ := json.Marshal(ob)
		if !bytes.Equal(ja, jb) {
			problems = append(problems, fmt.Sprintf("%s:\n  %s\n  %s", p, ja, jb))
		}
		if oa.Links != ob.Links {
			problems = append(problems, fmt.Sprintf("%s: hard links %q, want %q", p, ob.Links, oa.Links))
		}
		if oa.Mode&unix.S_IFMT == unix.S_IFREG && oa.Blocks*512 < oa.Size && ob.Blocks*512 >= ob.Size {
			problems = append(problems, fmt.Sprintf("%s: sparse in %s (%d blocks) but not in %s (%d blocks)", p, nameA, oa.Blocks, nameB, ob.Blocks))
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			problems = append(problems, "extra in "+nameB+": "+p)
		}
	}
	return problems
}

// randomBytes returns n bytes from rng.
func randomBytes(rng *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	return b
}
