//go:build linux

package fusefs

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/fstest"

	"golang.org/x/sys/unix"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/vault"
)

// nobody is the second user of the POSIX tests: root mounts with
// -allow_other, and nobody acts on the mount as any other user would.
const nobody = 65534

// posixMount is a vault mounted by root with AllowOther and PreserveOwner
// (as `sealfs mount -allow_other` run as root mounts it), beside a plain
// directory of the host file system (host) on which the same steps show
// what plain POSIX gives. Both are writable by everybody, as /tmp is.
type posixMount struct {
	mnt, cipher, host string
	f                 *sealfs.FS
	srv               *Server
}

// mountPOSIX mounts a fresh vault for the POSIX tests; mo adds options
// (AllowOther and PreserveOwner are always set).
func mountPOSIX(t *testing.T, mo *Options) *posixMount {
	t.Helper()
	requireRoot(t)
	o := Options{}
	if mo != nil {
		o = *mo
	}
	o.AllowOther, o.PreserveOwner = true, true
	pm := &posixMount{}
	pm.mnt, pm.cipher, pm.f, pm.srv = mountVaultServer(t, vault.Options{}, &o)
	pm.host = t.TempDir()
	for _, d := range []string{pm.mnt, pm.cipher, pm.host} {
		openPath(t, d)
	}
	// The steps run with umask 0, and so does the server (the sealfs
	// command serves with umask 0; see Mount).
	old := syscall.Umask(0)
	t.Cleanup(func() { syscall.Umask(old) })
	// The vault's root is the ciphertext directory: world-writable and
	// sticky, as the host directory.
	for _, d := range []string{pm.cipher, pm.host} {
		if err := os.Chmod(d, 0o777|os.ModeSticky); err != nil {
			t.Fatal(err)
		}
	}
	return pm
}

// openPath lets every user traverse the directories above dir (t.TempDir
// makes them 0700).
func openPath(t *testing.T, dir string) {
	t.Helper()
	for d := filepath.Dir(dir); d != "/"; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o011); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// runAs runs the shell script in dir as uid (with gid == uid and no
// supplementary groups; uid 0 runs as root) and returns its combined
// output.
func runAs(uid uint32, dir, script string) (string, error) {
	// The shell changes into dir, not the forked child: a child that
	// touches a mount this process serves before it execs holds its
	// parent thread suspended (vfork), and a garbage collection waiting
	// for that thread stops the goroutines that would answer (the test
	// process then hangs, one thread spinning).
	cmd := exec.Command("sh", "-c", "cd "+shellQuote(dir)+" && "+script)
	cmd.Dir = "/"
	if uid != 0 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: uid, Groups: []uint32{}}}
	}
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// sameAsHost runs script as uid in the mount and in the host directory
// and fails unless both print the same and agree on success. It returns
// the mount's output.
func (pm *posixMount) sameAsHost(t *testing.T, uid uint32, script string) string {
	t.Helper()
	got, gerr := runAs(uid, pm.mnt, script)
	want, werr := runAs(uid, pm.host, script)
	if got != want || (gerr == nil) != (werr == nil) {
		t.Fatalf("uid %d: %s\n mount: %q (%v)\n host:  %q (%v)", uid, script, got, gerr, want, werr)
	}
	return got
}

// TestMain lets the test binary act as a small tool in the steps of the
// POSIX tests (see helperCmd), for system calls the shell cannot make.
func TestMain(m *testing.M) {
	if op := os.Getenv("SEALFS_FUSEFS_HELPER"); op != "" {
		if err := helper(op, os.Args[1:]); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if helperDir != "" {
		os.RemoveAll(helperDir)
	}
	os.Exit(code)
}

// helperDir holds a copy of the test binary that every user may run (the
// go tool builds it in a directory only its owner may enter).
var (
	helperDir  string
	helperOnce sync.Once
)

func helperPath() string {
	helperOnce.Do(func() {
		d, err := os.MkdirTemp("", "sealfs-helper")
		if err != nil {
			panic(err)
		}
		helperDir = d
		data, err := os.ReadFile(os.Args[0])
		if err == nil {
			err = os.WriteFile(filepath.Join(d, "helper"), data, 0o755)
		}
		if err == nil {
			err = os.Chmod(d, 0o755)
		}
		if err != nil {
			panic(err)
		}
	})
	return filepath.Join(helperDir, "helper")
}

// helperCmd is the shell command that runs helper op with args: put it in
// a script given to runAs or sameAsHost.
func helperCmd(op string, args ...string) string {
	s := "SEALFS_FUSEFS_HELPER=" + op + " " + strconv.Quote(helperPath())
	for _, a := range args {
		s += " " + strconv.Quote(a)
	}
	return s
}

// helper runs one operation of helperCmd and prints what it found:
//   - create PATH MODE: open(O_CREAT|O_EXCL|O_WRONLY) with the octal MODE,
//     prints the permission bits fstat sees.
//   - copyrange SRC DST OFF: copy_file_range of all of SRC to DST at the
//     decimal offset OFF, prints the count or the errno's name.
//   - mountfs DIR TEXT: mounts a view with one file, "who", holding TEXT
//     on DIR, reads it back through the mount, unmounts, prints what it
//     read.
//   - segments PATH: the data segments lseek's SEEK_DATA and SEEK_HOLE
//     walk finds (one "START END" line each, at most 64), then what
//     SEEK_DATA from -1 and from the size answer.
func helper(op string, args []string) error {
	switch op {
	case "mountfs":
		srv, err := MountFS(args[0], fstest.MapFS{"who": {Data: []byte(args[1]), Mode: 0o644}}, nil)
		if err != nil {
			return err
		}
		b, rerr := os.ReadFile(filepath.Join(args[0], "who"))
		if err := srv.Unmount(); err != nil {
			return err
		}
		if rerr != nil {
			return rerr
		}
		fmt.Println(string(b))
		return nil
	case "segments":
		f, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer f.Close()
		fd := int(f.Fd())
		for pos, i := int64(0), 0; i < 64; i++ {
			d, err := unix.Seek(fd, pos, unix.SEEK_DATA)
			if err != nil {
				break
			}
			e, err := unix.Seek(fd, d, unix.SEEK_HOLE)
			if err != nil {
				return err
			}
			fmt.Println(d, e)
			pos = e
		}
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		for _, off := range []int64{-1, fi.Size()} {
			_, err := unix.Seek(fd, off, unix.SEEK_DATA)
			fmt.Println("SEEK_DATA", off, err)
		}
		return nil
	case "copyrange":
		off, err := strconv.ParseInt(args[2], 10, 64)
		if err != nil {
			return err
		}
		src, err := os.Open(args[0])
		if err != nil {
			return err
		}
		defer src.Close()
		dst, err := os.OpenFile(args[1], os.O_WRONLY|os.O_CREATE, 0o644)
		if err != nil {
			return err
		}
		defer dst.Close()
		var soff int64
		n, err := unix.CopyFileRange(int(src.Fd()), &soff, int(dst.Fd()), &off, 1<<20, 0)
		if err != nil {
			fmt.Println(unix.ErrnoName(err.(syscall.Errno)))
			return nil
		}
		fmt.Println(n)
		return nil
	case "create":
		mode, err := strconv.ParseUint(args[1], 8, 32)
		if err != nil {
			return err
		}
		fd, err := syscall.Open(args[0], syscall.O_CREAT|syscall.O_EXCL|syscall.O_WRONLY, uint32(mode))
		if err != nil {
			return err
		}
		defer syscall.Close(fd)
		var st syscall.Stat_t
		if err := syscall.Fstat(fd, &st); err != nil {
			return err
		}
		fmt.Printf("%o\n", st.Mode&0o7777)
		return nil
	}
	return fmt.Errorf("unknown helper %q", op)
}
