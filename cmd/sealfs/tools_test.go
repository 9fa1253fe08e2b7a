//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sealfs/sealfs/internal/testvault"
)

func treeHash(t *testing.T, dir string) string { return testvault.TreeHash(t, dir) }

func TestPathsMatchCipherMap(t *testing.T) {
	pf := passfile(t)
	for _, name := range slices.Concat(testvault.Forward, testvault.Reverse) {
		t.Run(name, func(t *testing.T) {
			var dir string
			if slices.Contains(testvault.Reverse, name) {
				dir = testvault.CopyPlain(t, name)
			} else {
				dir = testvault.Copy(t, name)
			}
			m := testvault.CipherMap(t, name)
			var plains, ciphers, wantC, wantP []string
			for _, e := range m {
				plains = append(plains, e.Plain)
				ciphers = append(ciphers, e.Cipher)
				wantC = append(wantC, e.Cipher)
				wantP = append(wantP, e.Decrypted)
			}
			before := treeHash(t, dir)
			code, out, errs := runCLI(t, append([]string{"encrypt-path", "-q", "-passfile", pf, dir, "--"}, plains...)...)
			if code != 0 {
				t.Fatalf("encrypt-path: exit %d: %s", code, errs)
			}
			if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); !slices.Equal(got, wantC) {
				t.Fatalf("encrypt-path:\n%q\nwant\n%q", got, wantC)
			}
			code, out, errs = runCLI(t, append([]string{"decrypt-path", "-q", "-passfile", pf, dir, "--"}, ciphers...)...)
			if code != 0 {
				t.Fatalf("decrypt-path: exit %d: %s", code, errs)
			}
			if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); !slices.Equal(got, wantP) {
				t.Fatalf("decrypt-path:\n%q\nwant\n%q", got, wantP)
			}
			if treeHash(t, dir) != before {
				t.Fatal("path mapping changed the vault")
			}
		})
	}
}

func TestPathsErrors(t *testing.T) {
	pf := passfile(t)
	dir := testvault.Copy(t, "default")
	before := treeHash(t, dir)
	// One bad argument: the others are still printed, exit 11.
	code, out, errs := runCLI(t, "encrypt-path", "-q", "-passfile", pf, dir, "dir1", "no/such/parent", "/text.txt")
	if code != exitOther || out != "jYpSh0j7v1gReDddZhwXNA\n-iOJB_2WnuTUQDTsEpdPlw\n" || !strings.Contains(errs, "no/such/parent") {
		t.Errorf("exit %d, out %q, err %q", code, out, errs)
	}
	code, _, errs = runCLI(t, "decrypt-path", "-q", "-passfile", pf, dir, "AAAAAAAAAAAAAAAAAAAAAA")
	if code != exitOther || errs == "" {
		t.Errorf("undecryptable: exit %d, %q", code, errs)
	}
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("nope\n"), 0o600)
	for _, c := range []struct {
		code int
		args []string
	}{
		{exitPasswordIncorrect, []string{"encrypt-path", "-passfile", wrong, dir, "x"}},
		{exitPasswordIncorrect, []string{"decrypt-path", "-passfile", wrong, testvault.CopyPlain(t, "reverse"), "x"}},
		{exitCipherDir, []string{"encrypt-path", "-passfile", pf, filepath.Join(dir, "missing"), "x"}},
		{exitUsage, []string{"encrypt-path", dir}},
	} {
		if code, _, errs := runCLI(t, c.args...); code != c.code {
			t.Errorf("%q: exit %d, want %d (%s)", c.args, code, c.code, errs)
		}
	}
	if treeHash(t, dir) != before {
		t.Fatal("failed runs changed the vault")
	}
}

func TestFsckCLI(t *testing.T) {
	pf := passfile(t)
	for _, name := range slices.Concat(testvault.Forward, testvault.Reverse) {
		dir := testvault.Copy(t, name)
		code, out, errs := runCLI(t, "fsck", "-q", "-passfile", pf, dir)
		if code != 0 || out != "fsck summary: no problems found\n" {
			t.Errorf("%s: exit %d, %q, %q", name, code, out, errs)
		}
	}
	dir := testvault.Copy(t, "default")
	// one-byte.txt: a corrupt block; private.txt: a bad name.
	p := filepath.Join(dir, "IfeXduNyF6L0SFhD8MKdnw")
	b, _ := os.ReadFile(p)
	b[30] ^= 1
	os.Chmod(p, 0o644)
	os.WriteFile(p, b, 0o644)
	os.Rename(filepath.Join(dir, "plCTeDPzH_hGg-ONkSkwHA"), filepath.Join(dir, "QlCTeDPzH_hGg-ONkSkwHA"))

	before := treeHash(t, dir)
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("nope\n"), 0o600)
	garbage := filepath.Join(t.TempDir(), "garbage.conf")
	os.WriteFile(garbage, []byte("{not json"), 0o600)
	for _, c := range []struct {
		code int
		args []string
	}{
		{exitPasswordIncorrect, []string{"fsck", "-repair", "-passfile", wrong, dir}},
		{exitConfigInvalid, []string{"fsck", "-repair", "-passfile", pf, "-config", garbage, dir}},
		{exitOpenConf, []string{"fsck", "-repair", "-passfile", pf, "-config", filepath.Join(dir, "nope.conf"), dir}},
		{exitCipherDir, []string{"fsck", "-repair", "-passfile", pf, filepath.Join(dir, "missing")}},
		{exitCipherDir, []string{"fsck", "-repair", "-passfile", pf, filepath.Join(dir, "gocryptfs.conf")}},
		{exitUsage, []string{"fsck", "-dry-run", "-passfile", pf, dir}},
		{exitUsage, []string{"fsck", "-passfile", pf}},
		{exitMasterKey, []string{"fsck", "-repair", "-masterkey", "xyz", dir}},
		{exitFsckErrors, []string{"fsck", "-repair", "-dry-run", "-q", "-passfile", pf, dir}},
	} {
		if code, _, errs := runCLI(t, c.args...); code != c.code {
			t.Errorf("%q: exit %d, want %d (%s)", c.args, code, c.code, errs)
		}
	}
	if treeHash(t, dir) != before {
		t.Fatal("failed or dry runs changed the vault")
	}

	code, out, _ := runCLI(t, "fsck", "-q", "-passfile", pf, dir)
	if code != exitFsckErrors || !strings.Contains(out, `corrupt block: "one-byte.txt" (ciphertext "IfeXduNyF6L0SFhD8MKdnw")`) ||
		!strings.Contains(out, `undecryptable name: "?" (ciphertext "QlCTeDPzH_hGg-ONkSkwHA")`) ||
		!strings.HasSuffix(out, "fsck summary: 2 problems, 0 warnings\n") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	// The master key works instead of the password.
	if code, _, errs := runCLI(t, "fsck", "-q", "-masterkey", testvault.MasterKey(t, "default"), dir); code != exitFsckErrors {
		t.Fatalf("-masterkey: exit %d %s", code, errs)
	}
	// The dry run names the byte ranges a salvage would lose.
	code, out, _ = runCLI(t, "fsck", "-repair", "-dry-run", "-q", "-passfile", pf, dir)
	if code != exitFsckErrors || !strings.Contains(out, `fsck: would repair: salvage IfeXduNyF6L0SFhD8MKdnw -> `) ||
		!strings.Contains(out, "1 of 1 bytes lost and now zero (bytes 0-0); the damaged original is kept as lost+found/one-byte.txt") {
		t.Fatalf("dry run: exit %d:\n%s", code, out)
	}
	// Repair moves the bad name and salvages the corrupt block: exit 0.
	code, out, _ = runCLI(t, "fsck", "-repair", "-q", "-passfile", pf, dir)
	if code != 0 || !strings.Contains(out, `fsck: repaired: move QlCTeDPzH_hGg-ONkSkwHA -> `) ||
		!strings.Contains(out, `(now "lost+found/QlCTeDPzH_hGg-ONkSkwHA")`) ||
		!strings.Contains(out, `fsck: repaired: salvage IfeXduNyF6L0SFhD8MKdnw -> `) || !strings.Contains(out, "0 problems left") {
		t.Fatalf("repair: exit %d:\n%s", code, out)
	}
	kept := regexp.MustCompile(`salvage IfeXduNyF6L0SFhD8MKdnw -> (\S+):`).FindStringSubmatch(out)
	// A second check finds only the damaged original kept in lost+found.
	code, out, _ = runCLI(t, "fsck", "-q", "-passfile", pf, dir)
	if code != 0 || !strings.Contains(out, `"lost+found/one-byte.txt"`) || !strings.HasSuffix(out, "fsck summary: 0 problems, 1 warning\n") {
		t.Fatalf("after repair: exit %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, "cat", "-q", "-passfile", pf, dir, "one-byte.txt"); code != 0 || out != "\x00" {
		t.Fatalf("salvaged file: exit %d %q", code, out)
	}
	// Without the kept original, the vault is clean.
	if err := os.Remove(filepath.Join(dir, kept[1])); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, "fsck", "-q", "-passfile", pf, dir); code != 0 || out != "fsck summary: no problems found\n" {
		t.Fatalf("after removing the original: exit %d\n%s", code, out)
	}
	if code, out, _ := runCLI(t, "cat", "-q", "-passfile", pf, dir, "lost+found/QlCTeDPzH_hGg-ONkSkwHA"); code != 0 || out != "private\n" && len(out) == 0 {
		t.Fatalf("moved file: exit %d %q", code, out)
	}
}

var xraySection = regexp.MustCompile(`(?m)^### gocryptfs-xray (-\w+)? ?<cipher of ([^>]+)> \((.*)\)\n`)

func TestXrayMatchesGolden(t *testing.T) {
	for _, name := range slices.Concat(testvault.Forward, testvault.Reverse) {
		data, err := os.ReadFile(filepath.Join(testvault.Dir(t), name, "xray.txt"))
		if os.IsNotExist(err) {
			continue // longnames has none
		}
		if err != nil {
			t.Fatal(err)
		}
		dir := testvault.Copy(t, name)
		locs := xraySection.FindAllSubmatchIndex(data, -1)
		if len(locs) == 0 {
			t.Fatalf("%s: no sections in xray.txt", name)
		}
		cmap := map[string]string{}
		for _, e := range testvault.CipherMap(t, name) {
			cmap[e.Plain] = e.Cipher
		}
		for i, l := range locs {
			end := len(data)
			if i+1 < len(locs) {
				end = locs[i+1][0]
			}
			want := strings.TrimRight(string(data[l[1]:end]), "\n") + "\n"
			plain := string(data[l[4]:l[5]])
			file := filepath.Join(dir, cmap[plain])
			// Without a flag, sealfs reads the cipher from the vault's config.
			code, out, errs := runCLI(t, "xray", file)
			if code != 0 || out != want {
				t.Errorf("%s %s: exit %d %s\n%s\nwant\n%s", name, plain, code, errs, out, want)
			}
			if l[2] >= 0 { // with the same flag as gocryptfs-xray, outside the vault
				other := filepath.Join(t.TempDir(), "f")
				b, _ := os.ReadFile(file)
				os.WriteFile(other, b, 0o600)
				code, out, _ := runCLI(t, "xray", string(data[l[2]:l[3]]), other)
				if code != 0 || out != want {
					t.Errorf("%s %s with %s: %s", name, plain, data[l[2]:l[3]], out)
				}
			}
		}
	}
}

func TestXrayLive(t *testing.T) {
	bin := testvault.RequireBinary(t, "gocryptfs-xray", false)
	dir := testvault.Copy(t, "xchacha")
	for _, e := range testvault.Listing(t, "xchacha") {
		if e.Type != "file" || strings.Contains(e.Path, "gocryptfs.") {
			continue
		}
		p := filepath.Join(dir, e.Path)
		want, err := exec.Command(bin, "-xchacha", p).Output()
		if err != nil {
			t.Fatalf("gocryptfs-xray %s: %v", e.Path, err)
		}
		if code, out, errs := runCLI(t, "xray", p); code != 0 || out != string(want) {
			t.Errorf("%s: exit %d %s\n%s\nwant\n%s", e.Path, code, errs, out, want)
		}
	}
}

func TestXrayKeyAndDecrypt(t *testing.T) {
	pf := passfile(t)
	dir := testvault.Copy(t, "aessiv")
	before := treeHash(t, dir)
	code, out, _ := runCLI(t, "xray", "-dumpmasterkey", "-passfile", pf, filepath.Join(dir, "gocryptfs.conf"))
	if code != 0 || out != testvault.MasterKey(t, "aessiv")+"\n" {
		t.Fatalf("dumpmasterkey: exit %d %q", code, out)
	}
	var cText string
	for _, e := range testvault.CipherMap(t, "aessiv") {
		if e.Plain == "text.txt" {
			cText = e.Cipher
		}
	}
	code, out, errs := runCLI(t, "xray", "-decrypt", "-q", "-passfile", pf, filepath.Join(dir, cText))
	want := testvault.Manifest(t, "aessiv")
	var sum string
	for _, e := range want {
		if e.Path == "text.txt" {
			sum = e.SHA256
		}
	}
	if h := sha256.Sum256([]byte(out)); code != 0 || fmt.Sprintf("%x", h) != sum {
		t.Fatalf("decrypt: exit %d %s %q", code, errs, out)
	}
	code, out, _ = runCLI(t, "xray", "-decrypt", "-masterkey", testvault.MasterKey(t, "aessiv"), filepath.Join(dir, cText))
	if h := sha256.Sum256([]byte(out)); code != 0 || fmt.Sprintf("%x", h) != sum {
		t.Fatalf("decrypt -masterkey: exit %d", code)
	}
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("nope\n"), 0o600)
	short := filepath.Join(t.TempDir(), "short")
	os.WriteFile(short, []byte("0123456789"), 0o600)
	trunc := filepath.Join(t.TempDir(), "trunc")
	b, _ := os.ReadFile(filepath.Join(dir, cText))
	os.WriteFile(trunc, b[:30], 0o600)
	for _, c := range []struct {
		code int
		args []string
	}{
		{exitPasswordIncorrect, []string{"xray", "-dumpmasterkey", "-passfile", wrong, filepath.Join(dir, "gocryptfs.conf")}},
		{exitPasswordIncorrect, []string{"xray", "-decrypt", "-passfile", wrong, filepath.Join(dir, cText)}},
		{exitLoadConf, []string{"xray", "-dumpmasterkey", "-passfile", pf, dir}},
		{exitLoadConf, []string{"xray", "-dumpmasterkey", "-passfile", pf, short}},
		{exitOther, []string{"xray", dir}},
		{exitOther, []string{"xray", filepath.Join(dir, "missing")}},
		{exitOther, []string{"xray", short}},
		{exitOther, []string{"xray", "-aessiv", trunc}},
		{exitOpenConf, []string{"xray", "-decrypt", "-passfile", pf, short}},
		{exitUsage, []string{"xray", "-aessiv", "-xchacha", short}},
		{exitUsage, []string{"xray"}},
	} {
		if code, _, errs := runCLI(t, c.args...); code != c.code {
			t.Errorf("%q: exit %d, want %d (%s)", c.args, code, c.code, errs)
		}
	}
	if code, out, _ := runCLI(t, "xray", "-aessiv", trunc); code != exitOther || !strings.HasPrefix(out, "Header: Version: 2") {
		t.Errorf("truncated: exit %d %q", code, out)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	if code, out, _ := runCLI(t, "xray", empty); code != 0 || out != "empty file\n" {
		t.Errorf("empty: exit %d %q", code, out)
	}
	if treeHash(t, dir) != before {
		t.Fatal("xray changed the vault")
	}
}

func TestSpeed(t *testing.T) {
	code, out, errs := runCLI(t, "speed", "-t", "20ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "sealfs") || !regexp.MustCompile(`^cpu: .+; with(out)? AES acceleration$`).MatchString(lines[1]) {
		t.Fatalf("output:\n%s", out)
	}
	selected := 0
	re := regexp.MustCompile(`^(AES-GCM-256|AES-SIV-512|XChaCha20-Poly1305) *\t *([0-9.]+) MB/s(\t\(selected\))?$`)
	for i, name := range []string{"AES-GCM-256", "AES-SIV-512", "XChaCha20-Poly1305"} {
		m := re.FindStringSubmatch(lines[2+i])
		if m == nil || m[1] != name {
			t.Fatalf("line %q", lines[2+i])
		}
		if v, _ := strconv.ParseFloat(m[2], 64); v <= 0 {
			t.Errorf("%s: %v MB/s", name, v)
		}
		if m[3] != "" {
			selected++
			if name != recommendedSuite().String() {
				t.Errorf("%s selected, want %s", name, recommendedSuite())
			}
		}
	}
	if selected != 1 {
		t.Errorf("%d ciphers selected", selected)
	}
	if code, _, _ := runCLI(t, "speed", "x"); code != exitUsage {
		t.Errorf("speed x: exit %d", code)
	}
}

func TestInfoStats(t *testing.T) {
	pf := passfile(t)
	for _, name := range testvault.Forward {
		dir := testvault.Copy(t, name)
		code, out, errs := runCLI(t, "info", "-stats", "-q", "-passfile", pf, dir)
		info, _ := os.ReadFile(filepath.Join(testvault.Dir(t), name, "info.txt"))
		if code != 0 || !strings.HasPrefix(out, string(info)) {
			t.Fatalf("%s: exit %d %s\n%s", name, code, errs, out)
		}
		files, dirs, links, plain := testvault.ManifestCounts(t, name)
		var cipher int64
		for _, e := range testvault.Listing(t, name) {
			b := filepath.Base(e.Path)
			if e.Type == "file" && b != "gocryptfs.conf" && b != "gocryptfs.diriv" && !strings.HasSuffix(b, ".name") {
				cipher += e.Size
			}
		}
		want := fmt.Sprintf("Files:             %d\nDirectories:       %d\nSymlinks:          %d\nOther objects:     0\nPlaintext bytes:   %d\nCiphertext bytes:  %d\n",
			files, dirs+1, links, plain, cipher)
		if got := strings.TrimPrefix(out, string(info)); got != want {
			t.Errorf("%s stats:\n%s\nwant\n%s", name, got, want)
		}
	}
	dir := testvault.Copy(t, "default")
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("nope\n"), 0o600)
	if code, _, _ := runCLI(t, "info", "-stats", "-passfile", wrong, dir); code != exitPasswordIncorrect {
		t.Errorf("wrong password: exit %d", code)
	}
	if code, _, _ := runCLI(t, "info", "-stats", "-reverse", "-passfile", pf, dir); code != exitUsage {
		t.Errorf("-reverse -stats: exit %d", code)
	}
}

// TestFsckProgress: a progress line on stderr when it is a terminal, and
// never on stdout or a non-terminal stderr.
func TestFsckProgress(t *testing.T) {
	ctrl, tty := openPty(t)
	dir := testvault.Copy(t, "default")
	var stdout bytes.Buffer
	e := newEnv(strings.NewReader(""), &stdout, tty)
	if !e.stderrTerm {
		t.Fatal("pty not detected as a terminal")
	}
	if code := runEnv(context.Background(), e, []string{"fsck", "-passfile", passfile(t), dir}); code != 0 {
		t.Fatalf("exit %d", code)
	}
	tty.Close()
	var got bytes.Buffer
	buf := make([]byte, 4096)
	ctrl.SetReadDeadline(time.Now().Add(2 * time.Second))
	for {
		n, err := ctrl.Read(buf)
		got.Write(buf[:n])
		if err != nil || bytes.Contains(got.Bytes(), []byte("objects")) && bytes.HasSuffix(got.Bytes(), []byte("\n")) {
			break
		}
	}
	if !regexp.MustCompile(`\r\x1b\[K\d+ objects, [0-9.]+ [KMG]?i?B`).Match(got.Bytes()) {
		t.Errorf("no progress line on the terminal: %q", got.String())
	}
	if stdout.String() != "fsck summary: no problems found\n" {
		t.Errorf("stdout %q", stdout.String())
	}
	if _, _, errs := runCLI(t, "fsck", "-passfile", passfile(t), dir); strings.Contains(errs, "objects") {
		t.Errorf("progress on a non-terminal: %q", errs)
	}
}
