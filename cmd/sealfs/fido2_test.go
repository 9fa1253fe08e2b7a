//go:build linux

package main

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sealfs/sealfs/vault"
)

// A simulated FIDO2 token behind fake fido2-cred and fido2-assert tools
// (installed on PATH by TestMain): credential IDs come from the user ID,
// and the hmac-secret is an HMAC of credential ID and salt under a fixed
// token key, so that every run of the tools (ours or gocryptfs') gets the
// same secret. FAKE_FIDO2_LOG names a file that gets one line per call
// (tool, arguments, input); FAKE_FIDO2_FAIL makes the tools fail.

var fakeTokenKey = []byte("sealfs test token")

func fakeFIDO2(tool, want string, out func(in []string) []string) {
	in := make([]string, 0, 4)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() && len(in) < 4 {
		in = append(in, sc.Text())
	}
	args := os.Args[1:]
	if log := os.Getenv("FAKE_FIDO2_LOG"); log != "" {
		f, err := os.OpenFile(log, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err == nil {
			fmt.Fprintf(f, "%s %s | %s\n", tool, strings.Join(args, " "), strings.Join(in, " / "))
			f.Close()
		}
	}
	if os.Getenv("FAKE_FIDO2_FAIL") != "" {
		fmt.Fprintln(os.Stderr, tool+": the simulated token is unplugged")
		os.Exit(1)
	}
	if len(args) < 3 || args[0] != want || args[1] != "-h" || len(in) != 4 || in[1] != "gocryptfs" {
		fmt.Fprintf(os.Stderr, "%s: unexpected call %q %q\n", tool, args, in)
		os.Exit(1)
	}
	for _, l := range out(in) {
		fmt.Println(l)
	}
	os.Exit(0)
}

func unb64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		fmt.Fprintln(os.Stderr, "not base64:", s)
		os.Exit(1)
	}
	return b
}

// fakeFIDO2Cred is "fido2-cred -M -h DEVICE": input client data hash,
// relying party, user name, user ID; output line 5 is the credential ID.
func fakeFIDO2Cred() {
	fakeFIDO2("fido2-cred", "-M", func(in []string) []string {
		cred := sha256.Sum256(append([]byte("credential"), unb64(in[3])...))
		return []string{in[0], in[1], "packed", b64([]byte("authdata")), b64(cred[:]), b64([]byte("signature"))}
	})
}

// fakeFIDO2Assert is "fido2-assert -G -h [-t OPT]... DEVICE": input client
// data hash, relying party, credential ID, salt; output line 5 is the
// hmac-secret.
func fakeFIDO2Assert() {
	fakeFIDO2("fido2-assert", "-G", func(in []string) []string {
		m := hmac.New(sha256.New, fakeTokenKey)
		m.Write(unb64(in[2]))
		m.Write(unb64(in[3]))
		return []string{in[0], in[1], b64([]byte("authdata")), b64([]byte("signature")), b64(m.Sum(nil))}
	})
}

func fakeFIDO2Log(t *testing.T) string {
	log := filepath.Join(t.TempDir(), "fido2.log")
	t.Setenv("FAKE_FIDO2_LOG", log)
	return log
}

func readLog(t *testing.T, log string) string {
	b, _ := os.ReadFile(log)
	return string(b)
}

// TestFIDO2 creates a FIDO2 vault, unlocks it through the token, and
// checks the errors: no -fido2, -fido2 on a password vault, -fido2 with a
// password source, a failing token, passwd.
func TestFIDO2(t *testing.T) {
	log := fakeFIDO2Log(t)
	dir := filepath.Join(t.TempDir(), "myvault")
	os.Mkdir(dir, 0o700)
	code, out, stderr := runCLI(t, "init", "-scryptn", "10", "-fido2", "/dev/hidraw7", "-fido2-assert-option", "up=false", dir)
	if code != 0 {
		t.Fatalf("init -fido2: exit %d: %s%s", code, out, stderr)
	}
	cfg, err := vault.Load(filepath.Join(dir, vault.DefaultFile))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.FIDO2 == nil || len(cfg.FIDO2.CredentialID) != 32 || len(cfg.FIDO2.HMACSalt) != 32 ||
		strings.Join(cfg.FIDO2.AssertOptions, ",") != "up=false" || !cfg.Has(vault.FlagFIDO2) {
		t.Fatalf("config: FIDO2 %+v, flags %v", cfg.FIDO2, cfg.FeatureFlags)
	}
	calls := readLog(t, log)
	if !strings.Contains(calls, "fido2-cred -M -h /dev/hidraw7 | ") || !strings.Contains(calls, " / gocryptfs / myvault / ") ||
		!strings.Contains(calls, "fido2-assert -G -h -t up=false /dev/hidraw7 | ") || !strings.Contains(calls, b64(cfg.FIDO2.HMACSalt)) {
		t.Errorf("tool calls:\n%s", calls)
	}
	if code, out, stderr := runCLI(t, "ls", "-q", "-fido2", "/dev/hidraw7", dir); code != 0 {
		t.Fatalf("ls -fido2: exit %d: %s%s", code, out, stderr)
	}
	// The secret unlocks the config directly, as a password would.
	m := hmac.New(sha256.New, fakeTokenKey)
	m.Write(cfg.FIDO2.CredentialID)
	m.Write(cfg.FIDO2.HMACSalt)
	if key, err := cfg.Unlock(m.Sum(nil)); err != nil {
		t.Errorf("the token's secret does not unlock the config: %v", err)
	} else {
		key.Destroy()
	}

	pw := passfile(t)
	plainVault := filepath.Join(t.TempDir(), "pw")
	os.Mkdir(plainVault, 0o700)
	if code, _, stderr := runCLI(t, "init", "-q", "-scryptn", "10", "-passfile", pw, plainVault); code != 0 {
		t.Fatal(stderr)
	}
	for _, c := range []struct {
		name string
		code int
		args []string
		msg  string
	}{
		{"no -fido2", exitUsage, []string{"ls", dir}, "give -fido2 DEVICE"},
		{"-fido2 and -passfile", exitUsage, []string{"ls", "-fido2", "/dev/hidraw7", "-passfile", pw, dir}, "cannot be used together"},
		{"-fido2 on a password vault", exitUsage, []string{"ls", "-fido2", "/dev/hidraw7", plainVault}, "not a FIDO2 token"},
		{"passwd", exitOther, []string{"passwd", "-fido2", "/dev/hidraw7", dir}, "not supported on FIDO2"},
	} {
		code, _, stderr := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.msg) {
			t.Errorf("%s: exit %d, want %d with %q: %s", c.name, code, c.code, c.msg, stderr)
		}
	}
	t.Setenv("FAKE_FIDO2_FAIL", "1")
	if code, _, stderr := runCLI(t, "ls", "-fido2", "/dev/hidraw7", dir); code != exitFIDO2 || !strings.Contains(stderr, "fido2-assert") {
		t.Errorf("failing token: exit %d, want %d: %s", code, exitFIDO2, stderr)
	}
}

// TestFIDO2Interop: a FIDO2 vault made by gocryptfs mounts with sealfs
// (in the background, the secret reaching the server on a pipe), and one
// made by sealfs mounts with gocryptfs, on the same simulated token.
func TestFIDO2Interop(t *testing.T) {
	needFUSE(t, "gocryptfs", "fido2-assert")
	fakeFIDO2Log(t)
	for _, c := range []struct{ maker, reader string }{{"gocryptfs", "sealfs"}, {"sealfs", "gocryptfs"}} {
		d := newDirs(t, "cipher", "mnt")
		cipher, mnt := d[0], d[1]
		lazyUnmountAtEnd(t, mnt)
		sh(t, "", c.maker, "-init", "-q", "-scryptn", "10", "-fido2", "/dev/hidraw3", cipher)
		sh(t, "", c.maker, "-q", "-fido2", "/dev/hidraw3", cipher, mnt)
		want := "written through " + c.maker
		if err := os.WriteFile(filepath.Join(mnt, "f"), []byte(want), 0o600); err != nil {
			t.Fatal(err)
		}
		sh(t, "", "fusermount3", "-u", mnt)
		sh(t, "", c.reader, "-q", "-fido2", "/dev/hidraw3", cipher, mnt)
		got, err := os.ReadFile(filepath.Join(mnt, "f"))
		if err != nil || string(got) != want {
			t.Errorf("%s vault through %s: %q %v", c.maker, c.reader, got, err)
		}
		sh(t, "", "fusermount3", "-u", mnt)
	}

	// Reverse mode: the encrypted view of a plaintext directory with a
	// FIDO2 reverse config, opened by gocryptfs with the token.
	d := newDirs(t, "plain", "view", "back")
	plain, view, back := d[0], d[1], d[2]
	lazyUnmountAtEnd(t, view)
	lazyUnmountAtEnd(t, back)
	if err := os.WriteFile(filepath.Join(plain, "f"), []byte("reverse with a token"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, "", "sealfs", "init", "-reverse", "-q", "-scryptn", "10", "-fido2", "/dev/hidraw3", plain)
	sh(t, "", "sealfs", "mount", "-reverse", "-q", "-fido2", "/dev/hidraw3", plain, view)
	sh(t, "", "gocryptfs", "-q", "-fido2", "/dev/hidraw3", view, back)
	if got, err := os.ReadFile(filepath.Join(back, "f")); err != nil || string(got) != "reverse with a token" {
		t.Errorf("reverse FIDO2 view through gocryptfs: %q %v", got, err)
	}
	sh(t, "", "fusermount3", "-u", back)
	// gocryptfs holds the view open until its process has ended.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, err := shErr("", "fusermount3", "-u", view)
		if err == nil {
			break
		}
		if !strings.Contains(out, "busy") || time.Now().After(deadline) {
			t.Fatalf("fusermount3 -u %s: %v: %s", view, err, out)
		}
	}
}
