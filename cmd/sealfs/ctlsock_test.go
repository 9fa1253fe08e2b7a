//go:build linux

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sealfs/sealfs/ctlsock"
	"github.com/sealfs/sealfs/internal/testvault"
)

// mountBG runs "sealfs mount -q ARGS... DIR MNT" as its own background
// process (the test binary is "sealfs" on PATH, see TestMain), as a user
// would, and returns MNT once mounted and the pid of the process serving
// it; the cleanup unmounts it. (A mount served by the test process itself
// could deadlock on its own requests.)
func mountBG(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	mnt := t.TempDir()
	bin, err := exec.LookPath("sealfs")
	if err != nil {
		t.Fatal(err)
	}
	argv := append([]string{"mount", "-q"}, args...)
	argv = append(argv, dir, mnt)
	cmd := exec.Command(bin, argv...)
	cmd.Env = append(os.Environ(), "GORACE="+goRace())
	var stderr bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(""), &stderr, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sealfs %q: %v: %s", argv, err, stderr.String())
	}
	if !isMountpoint(mnt) {
		t.Fatalf("sealfs %q returned, but %s is not mounted", argv, mnt)
	}
	pid := servingPid(mnt)
	t.Cleanup(func() {
		if err := unmountDir(mnt); err != nil {
			t.Errorf("unmount: %v", err)
		}
	})
	return mnt, pid
}

// waitExit waits for the processes to end.
func waitExit(t *testing.T, pids []int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, pid := range pids {
		for pid > 0 && syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Errorf("sealfs process %d still running 20 s after its unmount", pid)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// servingPid finds the sealfs process serving mnt (the one whose
// command line ends with it), or 0.
func servingPid(mnt string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		if slices.Contains(args, mnt) && slices.Contains(args, "-fg") {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			return pid
		}
	}
	return 0
}

// isMountpoint reports whether dir is a mount point (another device
// than its parent).
func isMountpoint(dir string) bool {
	a, err1 := os.Stat(dir)
	b, err2 := os.Stat(filepath.Dir(dir))
	if err1 != nil || err2 != nil {
		return false
	}
	return !os.SameFile(a, b) && devOf(a) != devOf(b)
}

// ask sends one request over c and returns the decoded response.
func ask(t *testing.T, c net.Conn, r *bufio.Reader, req string) ctlsock.Response {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatalf("write %s: %v", req, err)
	}
	line, err := r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("answer to %s: %v", req, err)
	}
	var resp ctlsock.Response
	if err := json.Unmarshal(line, &resp); err != nil {
		t.Fatalf("answer to %s: %q: %v", req, line, err)
	}
	return resp
}

func jsonReq(field, p string) string {
	b, _ := json.Marshal(map[string]string{field: p})
	return string(b)
}

// TestMountCtlsock serves the control socket from live mounts of every
// golden vault (forward, and reverse from the plaintext): every path of
// cipher-map.json maps both ways, the golden transcript is answered
// byte for byte, gocryptfs-xray -encrypt-paths/-decrypt-paths work
// against it, garbage gets an error answer without stopping the
// server, and the socket is removed at unmount.
func TestMountCtlsock(t *testing.T) {
	needFUSE(t)
	xray, xerr := exec.LookPath("gocryptfs-xray")
	pw := passfile(t)
	var pids []int
	var socks []string
	t.Cleanup(func() {
		// After the subtests' unmounts: the processes end and remove
		// their sockets.
		waitExit(t, pids)
		for _, s := range socks {
			if _, err := os.Lstat(s); err == nil {
				t.Errorf("control socket %s left after unmount", s)
			}
		}
	})
	for _, name := range append(append([]string{}, testvault.Forward...), testvault.Reverse...) {
		t.Run(name, func(t *testing.T) {
			sock := filepath.Join(t.TempDir(), "ctl.sock")
			var dir string
			args := []string{"-passfile", pw, "-ctlsock", sock}
			if strings.HasPrefix(name, "reverse") {
				dir = testvault.CopyPlain(t, name)
				args = append(args, "-reverse")
			} else {
				dir = testvault.Copy(t, name)
			}
			_, pid := mountBG(t, dir, args...)
			if pid == 0 {
				t.Fatal("no process serving the mount")
			}
			pids, socks = append(pids, pid), append(socks, sock)
			if fi, err := os.Lstat(sock); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("socket: %v %v", fi, err)
			}
			c, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			r := bufio.NewReader(c)
			cmap := testvault.CipherMap(t, name)
			var plains, ciphers, decrypted []string
			for _, e := range cmap {
				if got := ask(t, c, r, jsonReq("EncryptPath", e.Plain)); got.Result != e.Cipher || got.ErrNo != 0 {
					t.Errorf("EncryptPath %q = %+v, want %q", e.Plain, got, e.Cipher)
				}
				if got := ask(t, c, r, jsonReq("DecryptPath", e.Cipher)); got.Result != e.Decrypted || got.ErrNo != 0 {
					t.Errorf("DecryptPath %q = %+v, want %q", e.Cipher, got, e.Decrypted)
				}
				plains, ciphers, decrypted = append(plains, e.Plain), append(ciphers, e.Cipher), append(decrypted, e.Decrypted)
			}
			// Garbage: an error answer, and the connection keeps serving.
			for _, junk := range []string{"\x00\xff garbage", "{", `{"EncryptPath":5}`, "[]"} {
				if got := ask(t, c, r, junk); got.ErrNo != -1 || !strings.Contains(got.ErrText, "JSON") {
					t.Errorf("garbage %q: %+v", junk, got)
				}
			}
			for _, x := range testvault.Transcript(t, name) {
				c.SetDeadline(time.Now().Add(10 * time.Second))
				c.Write([]byte(x.Request))
				line, err := r.ReadString('\n')
				if err != nil || line != x.Response {
					t.Errorf("request %s: got %q (%v), gocryptfs answered %q", x.Request, line, err, x.Response)
				}
			}
			// A request too big for one read ends that connection only.
			c2, err := net.Dial("unix", sock)
			if err != nil {
				t.Fatal(err)
			}
			c2.Write(bytes.Repeat([]byte("x"), 6000))
			c2.SetReadDeadline(time.Now().Add(10 * time.Second))
			if n, _ := c2.Read(make([]byte, 10)); n != 0 {
				t.Error("oversized request answered")
			}
			c2.Close()
			if got := ask(t, c, r, jsonReq("EncryptPath", cmap[0].Plain)); got.Result != cmap[0].Cipher {
				t.Errorf("after garbage: %+v", got)
			}

			if xerr != nil {
				t.Fatalf("gocryptfs-xray is needed (test.sh installs it): %v", xerr)
			}
			for _, mode := range []struct {
				flag    string
				in, out []string
			}{{"-encrypt-paths", plains, ciphers}, {"-decrypt-paths", ciphers, decrypted}} {
				cmd := exec.Command(xray, mode.flag, sock)
				cmd.Stdin = strings.NewReader(strings.Join(mode.in, "\n") + "\n")
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				out, err := cmd.Output()
				if err != nil {
					t.Fatalf("gocryptfs-xray %s: %v: %s", mode.flag, err, stderr.String())
				}
				if got, want := string(out), strings.Join(mode.out, "\n")+"\n"; got != want {
					t.Errorf("gocryptfs-xray %s printed\n%s\nwant\n%s", mode.flag, got, want)
				}
			}
		})
	}
}

func devOf(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev)
	}
	return 0
}
