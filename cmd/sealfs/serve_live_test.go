//go:build linux

package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sys/unix"
)

// Tests of "sealfs serve webdav" with real clients: rclone's WebDAV
// backend (copy, check, mount), curl for the protocol corners, and
// gocryptfs reading what they wrote.

// server is a running "sealfs serve webdav".
type server struct {
	cmd    *exec.Cmd
	url    string
	stderr *strings.Builder
	done   chan error
}

var urlRE = regexp.MustCompile(`at (https?://\S+)`)

// startServe runs "sealfs serve webdav ARGS" on a free loopback port and
// waits for the URL it prints.
func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	cmd := exec.Command("sealfs", append([]string{"serve", "webdav", "-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(os.Environ(), "GORACE="+goRace())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, stderr: &strings.Builder{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-s.done
		}
	})
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		s.done <- cmd.Wait()
	}()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("serve ended before it was ready:\n%s", s.stderr)
			}
			if m := urlRE.FindStringSubmatch(l); m != nil {
				s.url = m[1]
				go func() {
					for range lines {
					}
				}()
				return s
			}
		case <-timeout:
			t.Fatalf("serve did not come up:\n%s", s.stderr)
		}
	}
}

// stop sends sig and returns the exit status within 40 seconds.
func (s *server) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	s.cmd.Process.Signal(sig)
	select {
	case err := <-s.done:
		return exitStatus(t, err)
	case <-time.After(40 * time.Second):
		t.Fatalf("serve did not stop on %v:\n%s", sig, s.stderr)
	}
	return -1
}

// curl runs curl against the server and returns "STATUS BODY".
func curl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("curl", append([]string{"-s", "-S", "--max-time", "30", "-w", "%{http_code}"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	s := string(out)
	return s[len(s)-3:] + " " + s[:len(s)-3]
}

func expectStatus(t *testing.T, got, want string, args ...string) {
	t.Helper()
	if !strings.HasPrefix(got, want+" ") {
		t.Errorf("%v: %.200q, want status %s", args, got, want)
	}
}

// davTree writes the tree the WebDAV clients upload: nested directories,
// an empty one, a 3 MiB file, long names, names with spaces and percent
// signs, and old modification times.
func davTree(t *testing.T) string {
	d := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(d, "sub", "deeper"), 0o755))
	must(os.Mkdir(filepath.Join(d, "empty"), 0o755))
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i*7 + i>>12)
	}
	files := map[string][]byte{
		"hello.txt":              []byte("hello, WebDAV\n"),
		"sub/deeper/big.bin":     big,
		"sub/100% a name?#.txt":  []byte("odd name"),
		"sub/" + longName():      []byte("long"),
		"sub/deeper/._resource":  []byte("AppleDouble"),
		".DS_Store":              []byte("finder"),
		"sub/deeper/zero-length": nil,
	}
	when := time.Date(2003, 4, 5, 6, 7, 8, 0, time.UTC)
	for name, data := range files {
		p := filepath.Join(d, name)
		must(os.WriteFile(p, data, 0o644))
		must(os.Chtimes(p, when, when))
	}
	return d
}

func longName() string { return "a name that is rather long " + strings.Repeat("y", 200) }

func rcloneArgs(url string, extra ...string) []string {
	return append([]string{"--webdav-url", url, "--webdav-vendor", "owncloud", "--config", "/dev/null"}, extra...)
}

func fileSum(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// TestServeWebDAV: rclone copies a tree into a served vault and checks it,
// curl tries the protocol's corners, rclone mounts the share, a signal
// stops the server after the download in flight, and gocryptfs then shows
// what the clients wrote.
func TestServeWebDAV(t *testing.T) {
	for _, tool := range []string{"rclone", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (test.sh installs it)", tool)
		}
	}
	cipher := newDirs(t, "cipher")[0]
	pw := writePassfile(t)
	sh(t, "", "sealfs", "init", "-q", "-scryptn", "10", "-passfile", pw, cipher)
	authPw := filepath.Join(t.TempDir(), "auth")
	os.WriteFile(authPw, []byte("s3cret pass\n"), 0o600)
	srv := startServe(t, "-q", "-passfile", pw, "-auth-user", "alice", "-auth-passfile", authPw, cipher)
	obscured := strings.TrimSpace(sh(t, "", "rclone", "obscure", "s3cret pass"))
	auth := []string{"--webdav-user", "alice", "--webdav-pass", obscured}
	src := davTree(t)

	// rclone copy, then check (content) and a second copy that finds
	// nothing to do (sizes and modification times kept).
	sh(t, "", "rclone", append(rcloneArgs(srv.url, auth...), "copy", "--create-empty-src-dirs", src, ":webdav:tree")...)
	sh(t, "", "rclone", append(rcloneArgs(srv.url, auth...), "check", src, ":webdav:tree")...)
	out := sh(t, "", "rclone", append(rcloneArgs(srv.url, auth...), "copy", "-v", "--create-empty-src-dirs", src, ":webdav:tree")...)
	if strings.Contains(out, "Copied") {
		t.Errorf("a second copy transferred files again (modification times lost?):\n%s", out)
	}
	// The wrong password and no password: 401; rclone fails.
	if out, err := shErr("", "rclone", append(rcloneArgs(srv.url, "--webdav-user", "alice", "--webdav-pass", strings.TrimSpace(sh(t, "", "rclone", "obscure", "wrong"))), "lsf", ":webdav:")...); err == nil {
		t.Errorf("rclone with a wrong password listed:\n%s", out)
	}

	u := srv.url
	cred := []string{"-u", "alice:s3cret pass"}
	c := func(args ...string) string { return curl(t, append(cred, args...)...) }
	expectStatus(t, curl(t, u+"tree/hello.txt"), "401")
	expectStatus(t, curl(t, "-u", "alice:nope", u+"tree/hello.txt"), "401")
	got := c(u + "tree/hello.txt")
	expectStatus(t, got, "200")
	if !strings.HasSuffix(got, "hello, WebDAV\n") {
		t.Errorf("GET: %q", got)
	}
	expectStatus(t, c("-r", "6-11", u+"tree/hello.txt"), "206")
	if got := c("-r", "7-12", u+"tree/hello.txt"); got != "206 WebDAV" {
		t.Errorf("range: %q", got)
	}
	expectStatus(t, c("-X", "PUT", "-H", `If-Match: "nope"`, "--data-binary", "x", u+"tree/hello.txt"), "412")
	expectStatus(t, c("-X", "PUT", "-H", "If-None-Match: *", "--data-binary", "x", u+"tree/hello.txt"), "412")
	expectStatus(t, c("-X", "MKCOL", u+"made"), "201")
	expectStatus(t, c("-T", filepath.Join(src, "hello.txt"), u+"made/one"), "201")
	expectStatus(t, c("-X", "COPY", "-H", "Destination: "+u+"made/two", u+"made/one"), "201")
	expectStatus(t, c("-X", "MOVE", "-H", "Destination: "+u+"made/three", u+"made/two"), "201")
	expectStatus(t, c("-X", "MOVE", "-H", "Overwrite: F", "-H", "Destination: "+u+"made/three", u+"made/one"), "412")
	expectStatus(t, c("-X", "COPY", "-H", "Destination: "+u+"copied", u+"made"), "201")
	expectStatus(t, c("-X", "DELETE", u+"copied"), "204")
	expectStatus(t, c("-X", "PROPFIND", "-H", "Depth: infinity", u), "403")
	expectStatus(t, c("-X", "PROPFIND", "-H", "Depth: 1", u+"made/"), "207")
	expectStatus(t, c("--path-as-is", u+"../../../etc/passwd"), "404")
	expectStatus(t, c("--path-as-is", u+"tree/..%2f..%2f..%2fetc%2fpasswd"), "404")

	// rclone mount of the share: write and read through the kernel.
	want := map[string]string{"made/one": "hello, WebDAV\n", "made/three": "hello, WebDAV\n"}
	if f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0); err == nil {
		f.Close()
		mnt := newDirs(t, "mnt")[0]
		rc := exec.Command("rclone", append(rcloneArgs(srv.url, auth...), "mount", "--vfs-cache-mode", "writes",
			"--cache-dir", t.TempDir(), "--dir-cache-time", "1s", "--vfs-write-back", "0s", ":webdav:", mnt)...)
		rcOut := &strings.Builder{}
		rc.Stdout, rc.Stderr = rcOut, rcOut
		if err := rc.Start(); err != nil {
			t.Fatal(err)
		}
		lazyUnmountAtEnd(t, mnt)
		deadline := time.Now().Add(20 * time.Second)
		for !mounted(mnt) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if !mounted(mnt) {
			rc.Process.Kill()
			t.Fatalf("rclone mount did not come up:\n%s", rcOut)
		}
		if b, err := os.ReadFile(filepath.Join(mnt, "tree", "hello.txt")); err != nil || string(b) != "hello, WebDAV\n" {
			t.Errorf("read through rclone mount: %q %v", b, err)
		}
		if fileSum(t, filepath.Join(mnt, "tree", "sub", "deeper", "big.bin")) != fileSum(t, filepath.Join(src, "sub", "deeper", "big.bin")) {
			t.Error("big.bin differs through rclone mount")
		}
		if err := os.MkdirAll(filepath.Join(mnt, "frommount", "d"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mnt, "frommount", "d", "f"), []byte("through the kernel"), 0o644); err != nil {
			t.Fatal(err)
		}
		// rclone uploads after the close, in the background.
		for i := 0; i < 200 && !strings.HasPrefix(c(u+"frommount/d/f"), "200 "); i++ {
			time.Sleep(50 * time.Millisecond)
		}
		sh(t, "", "fusermount3", "-u", mnt)
		rc.Wait()
		want["frommount/d/f"] = "through the kernel"
	}

	// SIGTERM while a slow download is in flight: it completes, then the
	// server exits 0.
	dl := filepath.Join(t.TempDir(), "dl")
	curlCmd := exec.Command("curl", "-s", "-S", "--max-time", "60", "--limit-rate", "1M", "-u", "alice:s3cret pass", "-o", dl, u+"tree/sub/deeper/big.bin")
	if err := curlCmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("serve exited %d on SIGTERM:\n%s", code, srv.stderr)
	}
	if err := curlCmd.Wait(); err != nil {
		t.Errorf("the download in flight at SIGTERM failed: %v", err)
	} else if fileSum(t, dl) != fileSum(t, filepath.Join(src, "sub", "deeper", "big.bin")) {
		t.Error("the download in flight at SIGTERM is not the file")
	}
	if strings.Contains(srv.stderr.String(), "s3cret") || strings.Contains(srv.stderr.String(), "test") {
		t.Errorf("a password is in the log:\n%s", srv.stderr)
	}

	// gocryptfs shows exactly what the clients wrote.
	needFUSE(t, "gocryptfs")
	mnt := newDirs(t, "gmnt")[0]
	sh(t, "", "gocryptfs", "-q", "-ro", "-passfile", pw, cipher, mnt)
	lazyUnmountAtEnd(t, mnt)
	defer exec.Command("fusermount3", "-u", mnt).Run()
	sameTree(t, src, filepath.Join(mnt, "tree"))
	fi, err := os.Stat(filepath.Join(mnt, "tree", "sub", "deeper", "big.bin"))
	if err != nil || !fi.ModTime().Equal(time.Date(2003, 4, 5, 6, 7, 8, 0, time.UTC)) {
		t.Errorf("mtime through gocryptfs: %v %v", fi.ModTime(), err)
	}
	for name, content := range want {
		b, err := os.ReadFile(filepath.Join(mnt, name))
		if err != nil || string(b) != content {
			t.Errorf("%s through gocryptfs: %q %v", name, b, err)
		}
	}
	for _, gone := range []string{"made/two", "copied"} {
		if _, err := os.Lstat(filepath.Join(mnt, gone)); !os.IsNotExist(err) {
			t.Errorf("%s still there: %v", gone, err)
		}
	}
	entries, _ := os.ReadDir(mnt)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".~sealfs") {
			t.Errorf("temporary upload file left: %s", e.Name())
		}
	}
}

// TestServeReverse: the encrypted view of a plaintext tree, copied by
// rclone over WebDAV, is a vault gocryptfs decrypts to the tree.
func TestServeReverse(t *testing.T) {
	if _, err := exec.LookPath("rclone"); err != nil {
		t.Skip("needs rclone (test.sh installs it)")
	}
	plain := davTree(t)
	pw := writePassfile(t)
	sh(t, "", "sealfs", "init", "-q", "-reverse", "-scryptn", "10", "-passfile", pw, plain)
	srv := startServe(t, "-q", "-reverse", "-passfile", pw, "-exclude", "empty", plain)
	copyDir := newDirs(t, "copy")[0]
	sh(t, "", "rclone", append(rcloneArgs(srv.url), "copy", ":webdav:", copyDir)...)
	// No authentication: only IP addresses and localhost as Host, so that
	// a web page's own name pointed at 127.0.0.1 gets nothing.
	expectStatus(t, curl(t, "-H", "Host: attacker.example", srv.url+"gocryptfs.conf"), "403")
	expectStatus(t, curl(t, srv.url+"gocryptfs.conf"), "200")
	expectStatus(t, curl(t, "-X", "PUT", "--data-binary", "x", srv.url+"new"), "403")
	expectStatus(t, curl(t, "-X", "MKCOL", srv.url+"new"), "403")
	if code := srv.stop(t, syscall.SIGINT); code != 0 {
		t.Errorf("serve exited %d on SIGINT:\n%s", code, srv.stderr)
	}
	// The copy is an ordinary vault: sealfs decrypts it (and gocryptfs,
	// where FUSE is available).
	out := t.TempDir()
	sh(t, "", "sealfs", "decrypt", "-q", "-passfile", pw, copyDir, out)
	os.Remove(filepath.Join(plain, ".gocryptfs.reverse.conf"))
	os.Remove(filepath.Join(out, ".gocryptfs.reverse.conf"))
	sameTree(t, plain, out, "empty")
	if _, err := os.Stat(filepath.Join(out, "empty")); !os.IsNotExist(err) {
		t.Errorf("excluded directory in the copy: %v", err)
	}
}

// TestServeRefusals: serving beyond loopback needs TLS and authentication;
// bad flag combinations are usage errors (exit code 1) before anything is
// opened or listened on.
func TestServeRefusals(t *testing.T) {
	cipher := newDirs(t, "cipher")[0]
	pw := writePassfile(t)
	for _, args := range [][]string{
		{"-addr", "0.0.0.0:0"},
		{"-addr", "192.0.2.1:8080", "-auth-user", "a", "-auth-passfile", pw},
		{"-addr", ":8080", "-tls-cert", pw, "-tls-key", pw},
		{"-auth-user", "a"},
		{"-tls-cert", pw},
		{"-htpasswd", pw},
	} {
		out, err := shErr("", "sealfs", append(append([]string{"serve", "webdav", "-passfile", pw}, args...), cipher)...)
		if code := exitStatus(t, err); code != exitUsage {
			t.Errorf("%v: exit %d, want %d\n%s", args, code, exitUsage, out)
		}
	}
	out, err := shErr("", "sealfs", "serve", "webdav", "-passfile", pw, "-exclude", "x", cipher)
	if code := exitStatus(t, err); code != exitExclude {
		t.Errorf("-exclude without -reverse: exit %d, want %d\n%s", code, exitExclude, out)
	}
	out, err = shErr("", "sealfs", "serve", "ftp", cipher)
	if exitStatus(t, err) != exitUsage || !strings.Contains(out, "webdav") {
		t.Errorf("serve ftp: %v\n%s", err, out)
	}
	// A missing config is exit code 23, as for every command that opens.
	out, err = shErr("", "sealfs", "serve", "webdav", "-addr", "127.0.0.1:0", "-passfile", pw, cipher)
	if code := exitStatus(t, err); code != exitOpenConf {
		t.Errorf("no config: exit %d\n%s", code, out)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key (PEM).
func selfSigned(t *testing.T) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sealfs test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return cert, key
}

// TestServeTLS: HTTPS with a certificate, users from an htpasswd file
// (bcrypt), plain HTTP not answered.
func TestServeTLS(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("needs curl (test.sh installs it)")
	}
	cipher := newDirs(t, "cipher")[0]
	pw := writePassfile(t)
	sh(t, "", "sealfs", "init", "-q", "-scryptn", "10", "-passfile", pw, cipher)
	cert, key := selfSigned(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("open sesame"), 5)
	if err != nil {
		t.Fatal(err)
	}
	htpasswd := filepath.Join(t.TempDir(), "users")
	os.WriteFile(htpasswd, []byte("# users\nbob:"+string(hash)+"\n"), 0o600)
	srv := startServe(t, "-q", "-passfile", pw, "-tls-cert", cert, "-tls-key", key, "-htpasswd", htpasswd, cipher)
	if !strings.HasPrefix(srv.url, "https://") {
		t.Fatalf("URL %s", srv.url)
	}
	expectStatus(t, curl(t, "--cacert", cert, "-u", "bob:open sesame", "-T", pw, srv.url+"f"), "201")
	expectStatus(t, curl(t, "--cacert", cert, "-u", "bob:open sesame", srv.url+"f"), "200")
	expectStatus(t, curl(t, "--cacert", cert, "-u", "bob:wrong", srv.url+"f"), "401")
	expectStatus(t, curl(t, "--cacert", cert, srv.url+"f"), "401")
	if out, err := exec.Command("curl", "-s", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", strings.Replace(srv.url, "https", "http", 1)+"f").CombinedOutput(); err == nil && strings.HasPrefix(string(out), "2") {
		t.Errorf("plain HTTP answered: %s", out)
	}
	if code := srv.stop(t, syscall.SIGINT); code != 0 {
		t.Errorf("exit %d\n%s", code, srv.stderr)
	}
}

// TestServeDiskFull: a vault on a small tmpfs. An upload that does not fit
// gets 507, the file it would replace stays, and the server goes on.
func TestServeDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs (CI runs as root)")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("needs curl (test.sh installs it)")
	}
	dir := newDirs(t, "small")[0]
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Skipf("cannot mount tmpfs: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	pw := writePassfile(t)
	sh(t, "", "sealfs", "init", "-q", "-scryptn", "10", "-passfile", pw, dir)
	srv := startServe(t, "-q", "-passfile", pw, dir)
	small := filepath.Join(t.TempDir(), "small")
	os.WriteFile(small, []byte("the old content\n"), 0o644)
	big := filepath.Join(t.TempDir(), "big")
	os.WriteFile(big, make([]byte, 8<<20), 0o644)
	expectStatus(t, curl(t, "-T", small, srv.url+"f"), "201")
	expectStatus(t, curl(t, "-T", big, srv.url+"f"), "507")
	if got := curl(t, srv.url+"f"); got != "200 the old content\n" {
		t.Errorf("after the full disk: %q", got)
	}
	// The space the failed upload took is free again.
	expectStatus(t, curl(t, "-T", small, srv.url+"g"), "201")
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("exit %d\n%s", code, srv.stderr)
	}
}
