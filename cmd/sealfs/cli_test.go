//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/internal/testvault"
	"github.com/sealfs/sealfs/vault"
)

func TestParseArgs(t *testing.T) {
	tests := []struct {
		args []string
		pos  []string
		q    bool
		n    int
		err  bool
	}{
		{args: []string{"dir"}, pos: []string{"dir"}, n: 16},
		{args: []string{"-q", "dir"}, pos: []string{"dir"}, q: true, n: 16},
		{args: []string{"dir", "-q"}, pos: []string{"dir"}, q: true, n: 16},
		{args: []string{"dir", "--scryptn", "10", "x"}, pos: []string{"dir", "x"}, n: 10},
		{args: []string{"-scryptn=11", "dir"}, pos: []string{"dir"}, n: 11},
		{args: []string{"--", "-q", "-scryptn"}, pos: []string{"-q", "-scryptn"}, n: 16},
		{args: []string{"-q", "--", "--"}, pos: []string{"--"}, q: true, n: 16},
		{args: []string{"-", "a"}, pos: []string{"-", "a"}, n: 16},
		{args: []string{"-q=false", "a"}, pos: []string{"a"}, n: 16},
		{args: []string{"-nosuch", "a"}, err: true},
		{args: []string{"a", "-scryptn"}, err: true},
		{args: []string{"-scryptn", "x"}, err: true},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		q := fs.Bool("q", false, "")
		n := fs.Int("scryptn", 16, "")
		pos, err := parseArgs(fs, tt.args)
		if (err != nil) != tt.err {
			t.Errorf("%q: err = %v", tt.args, err)
			continue
		}
		if tt.err {
			continue
		}
		if !reflect.DeepEqual(pos, tt.pos) && !(len(pos) == 0 && len(tt.pos) == 0) || *q != tt.q || *n != tt.n {
			t.Errorf("%q: pos %q q %v n %d, want %q %v %d", tt.args, pos, *q, *n, tt.pos, tt.q, tt.n)
		}
	}
}

func TestReadLine(t *testing.T) {
	r := strings.NewReader("first\nsecond\n\nlast")
	for _, want := range []string{"first", "second", "", "last", ""} {
		got, err := readLine(r, 100)
		if err != nil || string(got) != want {
			t.Fatalf("readLine = %q, %v; want %q", got, err, want)
		}
	}
	if _, err := readLine(strings.NewReader(strings.Repeat("x", 11)+"\n"), 10); err == nil {
		t.Error("overlong line accepted")
	}
	if got, err := readLine(strings.NewReader(strings.Repeat("x", 10)+"\n"), 10); err != nil || len(got) != 10 {
		t.Errorf("10-byte line with max 10: %q, %v", got, err)
	}
	// The rest of the reader stays unread.
	r = strings.NewReader("pw\nrest")
	readLine(r, 10)
	rest, _ := io.ReadAll(r)
	if string(rest) != "rest" {
		t.Errorf("rest = %q", rest)
	}
	errBroken := errors.New("broken")
	if _, err := readLine(io.MultiReader(strings.NewReader("ab"), errReader{errBroken}), 10); !errors.Is(err, errBroken) {
		t.Errorf("read error: %v", err)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// TestFormatMasterKey compares the master key display with the one
// gocryptfs 2.3 printed for the default golden vault.
func TestFormatMasterKey(t *testing.T) {
	golden := testvault.Dir(t)
	out, err := os.ReadFile(filepath.Join(golden, "default", "init-output.txt"))
	if err != nil {
		t.Fatal(err)
	}
	key := testvault.MasterKey(t, "default")
	got := formatMasterKey(key)
	if !strings.Contains(string(out), "Your master key is:\n\n"+got+"\n") {
		t.Errorf("display\n%s\nnot found in init-output.txt:\n%s", got, out)
	}
}

// TestInitTerminalOutput runs init with stdout flagged as a terminal and
// compares the output with gocryptfs' (init-output.txt), with the program
// name, directory and key replaced; the displayed key must open the vault.
func TestInitTerminalOutput(t *testing.T) {
	dir := t.TempDir()
	pwfile := filepath.Join(dir, "password.txt")
	if err := os.WriteFile(pwfile, []byte("test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cipher := filepath.Join(dir, "cipher")
	if err := os.Mkdir(cipher, 0o700); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	e := newEnv(strings.NewReader(""), &stdout, &stderr)
	e.stdoutTerm = true
	code := runEnv(context.Background(), e, []string{"init", "-scryptn", "10", "-passfile", pwfile, cipher})
	if code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("stderr: %q", stderr.String())
	}
	keyLine := regexp.MustCompile(`(?m)^    ([0-9a-f]{8}-){4}\n    [0-9a-f]{8}(-[0-9a-f]{8}){3}\n`)
	shown := keyLine.FindString(stdout.String())
	if shown == "" {
		t.Fatalf("no master key display in\n%s", stdout.String())
	}

	goldenOut, err := os.ReadFile(filepath.Join(testvault.Dir(t), "default", "init-output.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := string(goldenOut)
	want = want[:strings.Index(want, "MOUNTPOINT\n")+len("MOUNTPOINT\n")]
	want = strings.Replace(want, `"password.txt"`, `"`+pwfile+`"`, 1)
	want = strings.Replace(want, formatMasterKey(testvault.MasterKey(t, "default")), shown, 1)
	want = strings.Replace(want, "The gocryptfs filesystem", "The sealfs filesystem", 1)
	want = strings.Replace(want, "gocryptfs default/cipher MOUNTPOINT", "sealfs mount "+cipher+" MOUNTPOINT", 1)
	if stdout.String() != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", stdout.String(), want)
	}

	key, err := vault.ParseKey(shown)
	if err != nil {
		t.Fatal(err)
	}
	defer key.Destroy()
	cfg, err := vault.Load(filepath.Join(cipher, vault.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	unlocked, err := cfg.Unlock([]byte("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer unlocked.Destroy()
	if unlocked.Hex() != key.Hex() {
		t.Errorf("displayed key %s, config holds %s", key.Hex(), unlocked.Hex())
	}

	// -q shows nothing, not even on a terminal.
	cipher2 := filepath.Join(dir, "cipher2")
	os.Mkdir(cipher2, 0o700)
	stdout.Reset()
	e = newEnv(strings.NewReader(""), &stdout, &stderr)
	e.stdoutTerm = true
	if code := runEnv(context.Background(), e, []string{"init", "-q", "-scryptn", "10", "-passfile", pwfile, cipher2}); code != 0 {
		t.Fatalf("exit code %d: %s", code, stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("-q printed %q", stdout.String())
	}
}

func TestModeString(t *testing.T) {
	tests := map[fs.FileMode]string{
		0o644:                                 "-rw-r--r--",
		fs.ModeDir | 0o755:                    "drwxr-xr-x",
		fs.ModeSymlink | 0o777:                "lrwxrwxrwx",
		fs.ModeNamedPipe | 0o600:              "prw-------",
		fs.ModeSocket | 0o755:                 "srwxr-xr-x",
		fs.ModeDevice | 0o660:                 "brw-rw----",
		fs.ModeDevice | fs.ModeCharDevice | 6: "c------rw-",
		fs.ModeSetuid | 0o755:                 "-rwsr-xr-x",
		fs.ModeSetuid | 0o644:                 "-rwSr--r--",
		fs.ModeSetgid | 0o750:                 "-rwxr-s---",
		fs.ModeDir | fs.ModeSticky | 0o777:    "drwxrwxrwt",
		fs.ModeDir | fs.ModeSticky | 0o770:    "drwxrwx--T",
	}
	for m, want := range tests {
		if got := modeString(m); got != want {
			t.Errorf("modeString(%v) = %q, want %q", m, got, want)
		}
	}
}

func TestVaultPath(t *testing.T) {
	for in, want := range map[string]string{
		"": ".", "/": ".", ".": ".", "a": "a", "/a/b/": "a/b", "a//b": "a/b", "./a": "a",
	} {
		got, err := vaultPath(in)
		if err != nil || got != want {
			t.Errorf("vaultPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"..", "../a", "a/../../b", "a/.."} {
		if _, err := vaultPath(in); exitCode(err) != exitUsage {
			t.Errorf("vaultPath(%q): err %v", in, err)
		}
	}
}

// recWriter records WriteAt calls.
type recWriter struct {
	data   []byte
	writes [][2]int64
}

func (w *recWriter) WriteAt(p []byte, off int64) (int, error) {
	if end := off + int64(len(p)); end > int64(len(w.data)) {
		w.data = append(w.data, make([]byte, end-int64(len(w.data)))...)
	}
	copy(w.data[off:], p)
	w.writes = append(w.writes, [2]int64{off, int64(len(p))})
	return len(p), nil
}

func TestWriteChunkSkipsZeroBlocks(t *testing.T) {
	buf := make([]byte, 5*4096+100)
	buf[10] = 1        // block 0
	buf[3*4096+5] = 2  // block 3
	buf[5*4096+50] = 3 // partial tail
	var w recWriter
	if err := writeChunk(&w, buf, 0, true); err != nil {
		t.Fatal(err)
	}
	want := [][2]int64{{0, 4096}, {3 * 4096, 4096}, {5 * 4096, 100}}
	if !reflect.DeepEqual(w.writes, want) {
		t.Errorf("writes %v, want %v", w.writes, want)
	}
	// An unaligned start: the first partial block is always written, the
	// aligned zero block after it is not.
	w = recWriter{}
	if err := writeChunk(&w, make([]byte, 4096+4096-100), 100, true); err != nil {
		t.Fatal(err)
	}
	if want := [][2]int64{{100, 3996}}; !reflect.DeepEqual(w.writes, want) {
		t.Errorf("unaligned: writes %v, want %v", w.writes, want)
	}
	// Without skipping: one write.
	w = recWriter{}
	writeChunk(&w, buf, 7, false)
	if len(w.writes) != 1 || !bytes.Equal(w.data[7:], buf) {
		t.Errorf("no skip: writes %v", w.writes)
	}
}

func TestForEachData(t *testing.T) {
	// data: [0,10) [100,150) [300, size=400) with a seeker like lseek.
	extents := [][2]int64{{0, 10}, {100, 150}, {300, 400}}
	seek := func(off int64, whence int) (int64, bool, error) {
		for _, e := range extents {
			switch whence {
			case seekData:
				if off < e[1] {
					return max(off, e[0]), true, nil
				}
			case seekHole:
				if off < e[1] {
					if off < e[0] {
						return off, true, nil
					}
					return e[1], true, nil
				}
			}
		}
		if whence == seekHole {
			return 400, true, nil
		}
		return 0, true, syscall.ENXIO
	}
	var got [][2]int64
	err := forEachData(400, seek, func(off, n int64) error {
		got = append(got, [2]int64{off, off + n})
		return nil
	})
	if err != nil || !reflect.DeepEqual(got, extents) {
		t.Errorf("extents %v, %v; want %v", got, err, extents)
	}
	// A trailing hole.
	got = nil
	forEachData(1000, seek, func(off, n int64) error {
		got = append(got, [2]int64{off, off + n})
		return nil
	})
	if !reflect.DeepEqual(got, extents) {
		t.Errorf("trailing hole: %v", got)
	}
	// A seeker that cannot tell: everything is data.
	got = nil
	forEachData(50, func(int64, int) (int64, bool, error) { return 0, false, nil }, func(off, n int64) error {
		got = append(got, [2]int64{off, off + n})
		return nil
	})
	if want := [][2]int64{{0, 50}}; !reflect.DeepEqual(got, want) {
		t.Errorf("no seek: %v", got)
	}
}

// TestDecryptCorruptFile checks that a file whose ciphertext was tampered
// with is reported (exit code 11) while the rest of the tree is written.
func TestDecryptCorruptFile(t *testing.T) {
	dir := t.TempDir()
	cipher := filepath.Join(dir, "cipher")
	os.Mkdir(cipher, 0o700)
	f, err := sealfs.Create(cipher, []byte("pw"), &sealfs.CreateOptions{Options: vault.Options{ScryptLogN: 10}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile("good.txt", []byte("good"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.WriteFile("bad.txt", bytes.Repeat([]byte("x"), 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	cpath, err := f.EncryptPath("bad.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Flip a byte in the second block.
	cf, err := os.OpenFile(filepath.Join(cipher, cpath), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cf.WriteAt([]byte{0xff}, 18+4128+40); err != nil {
		t.Fatal(err)
	}
	cf.Close()

	var stdout, stderr bytes.Buffer
	out := filepath.Join(dir, "out")
	code := runEnv(context.Background(), newEnv(strings.NewReader("pw\n"), &stdout, &stderr), []string{"decrypt", "-q", cipher, out})
	if code != exitOther {
		t.Errorf("exit code %d, want %d; stderr %s", code, exitOther, stderr.String())
	}
	if strings.Count(stderr.String(), "bad.txt") != 1 || !strings.Contains(stderr.String(), "1 problem found") {
		t.Errorf("stderr %q", stderr.String())
	}
	if b, err := os.ReadFile(filepath.Join(out, "good.txt")); err != nil || string(b) != "good" {
		t.Errorf("good.txt: %q, %v", b, err)
	}
	// No partial output for the corrupt file.
	if _, err := os.Lstat(filepath.Join(out, "bad.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("bad.txt left behind: %v", err)
	}
}

func TestProgress(t *testing.T) {
	var stderr bytes.Buffer
	e := newEnv(strings.NewReader(""), io.Discard, &stderr)
	p := newProgress(e)
	p.object()
	if stderr.Len() != 0 {
		t.Fatalf("progress on a non-terminal: %q", stderr.String())
	}
	e.stderrTerm = true
	p = newProgress(e)
	p.object()
	p.addBytes(3 << 20)
	p.clearLine()
	p.done()
	got := stderr.String()
	if !strings.HasPrefix(got, "\r\033[K1 objects, 0 B") || !strings.HasSuffix(got, "\r\033[K1 objects, 3.0 MiB\n") {
		t.Errorf("progress output %q", got)
	}
	e.quiet = true
	stderr.Reset()
	p = newProgress(e)
	p.object()
	p.done()
	if stderr.Len() != 0 {
		t.Errorf("-q progress: %q", stderr.String())
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestFIDO2VaultNeedsToken: a vault unlocked by a FIDO2 token cannot take
// a password: the user is told to give -fido2 DEVICE or -masterkey instead
// of "Password incorrect".
func TestFIDO2VaultNeedsToken(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(t.TempDir(), "pw")
	check(t, os.WriteFile(pw, []byte("test\n"), 0o600))
	if code, _, errs := runCLI(t, "init", "-q", "-scryptn", "10", "-passfile", pw, dir); code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	conf := filepath.Join(dir, "gocryptfs.conf")
	cfg, err := vault.Load(conf)
	check(t, err)
	cfg.FeatureFlags = append(cfg.FeatureFlags, string(vault.FlagFIDO2))
	cfg.FIDO2 = &vault.FIDO2Params{CredentialID: []byte("cred"), HMACSalt: make([]byte, 32)}
	check(t, os.Chmod(conf, 0o600))
	check(t, cfg.WriteFile(conf))
	code, _, errs := runCLI(t, "ls", "-passfile", pw, dir)
	if code != 1 || !strings.Contains(errs, "FIDO2") || !strings.Contains(errs, "-fido2 DEVICE") || !strings.Contains(errs, "-masterkey") {
		t.Fatalf("ls of a FIDO2 vault: exit %d, %q", code, errs)
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
