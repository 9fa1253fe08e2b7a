//go:build linux

package main

import (
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Tests that run the sealfs binary (the test binary that testscript
// installs as "sealfs" on PATH) against real FUSE mounts, next to the
// gocryptfs binary and ordinary tools.

// needFUSE skips a test where FUSE mounts are impossible; CI (root,
// /dev/fuse) runs them.
func needFUSE(t *testing.T, tools ...string) {
	t.Helper()
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("needs /dev/fuse: %v", err)
	}
	f.Close()
	for _, tool := range append(tools, "sealfs", "fusermount3") {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s (test.sh installs it): %v", tool, err)
		}
	}
}

// sh runs a command and fails the test if it fails; it returns the
// combined output.
func sh(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	out, err := shErr(stdin, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func shErr(stdin string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), "GORACE="+goRace(), "GIT_CONFIG_NOSYSTEM=1", "LC_ALL=C")
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// exitStatus returns the exit code of a failed command (0 for success).
func exitStatus(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

// lazyUnmountAtEnd makes sure mnt is not left mounted by a failing test.
func lazyUnmountAtEnd(t *testing.T, mnt string) {
	t.Cleanup(func() {
		if mounted(mnt) {
			exec.Command("fusermount3", "-u", "-z", mnt).Run()
		}
	})
}

// mounted reports whether dir is a mount point in /proc/self/mounts.
func mounted(dir string) bool {
	return mountLine(dir) != ""
}

// mountLine returns the /proc/self/mounts line of the mount on dir.
func mountLine(dir string) string {
	data, _ := os.ReadFile("/proc/self/mounts")
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[1] == dir {
			return l
		}
	}
	return ""
}

// newDirs makes fresh directories under a temporary directory.
func newDirs(t *testing.T, names ...string) []string {
	base := t.TempDir()
	var out []string
	for _, n := range names {
		p := filepath.Join(base, n)
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// newVaultDirs makes an empty mount point and a new vault (made by
// "sealfs -init") with the password in the returned password file.
func newVaultDirs(t *testing.T) (cipher, mnt, pw string) {
	d := newDirs(t, "cipher", "mnt")
	pw = writePassfile(t)
	sh(t, "", "sealfs", "-init", "-q", "-scryptn", "10", "-passfile", pw, d[0])
	return d[0], d[1], pw
}

func writePassfile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(p, []byte("test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFstabMount mounts through mount(8) and mount.fuse3 as an /etc/fstab
// line "CIPHERDIR MNT fuse./path/to/sealfs passfile=...,allow_other,nofail"
// does, reads and writes through it, and unmounts with umount(8).
func TestFstabMount(t *testing.T) {
	needFUSE(t, "mount", "umount", "mount.fuse3")
	if os.Geteuid() != 0 {
		t.Skip("mount(8) with a fuse. type needs root")
	}
	bin, _ := exec.LookPath("sealfs")
	if strings.Contains(bin, ".") {
		// mount(8) takes what follows the first dot of the type as the
		// program; keep the path free of other dots.
		dst := filepath.Join(t.TempDir(), "sealfs")
		sh(t, "", "cp", bin, dst)
		bin = dst
	}
	cipher, mnt, pw := newVaultDirs(t)
	lazyUnmountAtEnd(t, mnt)
	out := sh(t, "", "mount", "-t", "fuse."+bin, cipher, mnt, "-o", "passfile="+pw+",allow_other,nofail,_netdev,noatime")
	if !strings.Contains(out, "Filesystem mounted and ready.") {
		t.Errorf("mount output %q lacks the ready line", out)
	}
	line := mountLine(mnt)
	if !strings.Contains(line, " fuse.sealfs ") || !strings.Contains(line, "allow_other") || !strings.Contains(line, "noatime") {
		t.Errorf("mount line %q: want fuse.sealfs with allow_other and noatime", line)
	}
	if err := os.WriteFile(filepath.Join(mnt, "via-fstab"), []byte("fstab works\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh(t, "", "umount", mnt)
	if mounted(mnt) {
		t.Fatal("still mounted after umount")
	}
	if got := sh(t, "", "sealfs", "cat", "-q", "-passfile", pw, cipher, "via-fstab"); got != "fstab works\n" {
		t.Errorf("after umount the vault has %q", got)
	}

	// pam_mount's way: mount.fuse3 PROG#CIPHERDIR MNT -o ..., with the
	// password on stdin.
	if out := sh(t, "test\n", "mount.fuse3", bin+"#"+cipher, mnt, "-o", "nodev,nosuid,quiet"); out != "" {
		t.Errorf("quiet mount printed %q", out)
	}
	if line := mountLine(mnt); !strings.Contains(line, "nosuid,nodev") {
		t.Errorf("mount line %q: want nosuid,nodev", line)
	}
	if got, err := os.ReadFile(filepath.Join(mnt, "via-fstab")); err != nil || string(got) != "fstab works\n" {
		t.Errorf("through the pam_mount-style mount: %q, %v", got, err)
	}
	sh(t, "", "fusermount3", "-u", mnt)
}

// TestNotifyPid: -notifypid PID sends SIGUSR1 to PID once the file system
// is mounted, in the foreground and from the background process.
func TestNotifyPid(t *testing.T) {
	needFUSE(t)
	cipher, mnt, pw := newVaultDirs(t)
	lazyUnmountAtEnd(t, mnt)

	// The receiver is a shell that waits for SIGUSR1 and then checks the
	// mount is there.
	for _, fg := range []bool{true, false} {
		tmp := t.TempDir()
		marker, ready := filepath.Join(tmp, "got-usr1"), filepath.Join(tmp, "trap-set")
		waiter := exec.Command("sh", "-c", `trap 'grep -q " $1 fuse.sealfs " /proc/self/mounts && touch "$2"; exit 0' USR1; touch "$3"; i=0; while [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; exit 1`, "sh", mnt, marker, ready)
		if err := waiter.Start(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if _, err := os.Stat(ready); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the waiting shell did not start")
			}
		}
		args := []string{"-q", "-passfile", pw, "-notifypid", strconv.Itoa(waiter.Process.Pid), cipher, mnt}
		var server *exec.Cmd
		if fg {
			server = exec.Command("sealfs", append([]string{"-fg"}, args...)...)
			server.Env = append(os.Environ(), "GORACE="+goRace())
			if err := server.Start(); err != nil {
				t.Fatal(err)
			}
		} else {
			sh(t, "", "sealfs", args...)
		}
		if err := waiter.Wait(); err != nil {
			t.Errorf("fg=%v: the notified process did not get SIGUSR1 with the mount in place: %v", fg, err)
		}
		if _, err := os.Stat(marker); err != nil {
			t.Errorf("fg=%v: SIGUSR1 came before the mount was there", fg)
		}
		sh(t, "", "fusermount3", "-u", mnt)
		if server != nil {
			if err := server.Wait(); err != nil {
				t.Errorf("foreground mount ended with %v after fusermount3 -u", err)
			}
		}
	}
}

// The formats the live interop runs: gocryptfs' init flags.
var interopFormats = []struct {
	name  string
	flags []string
}{
	{"gcm", nil},
	{"aessiv", []string{"-aessiv"}},
	{"xchacha", []string{"-xchacha"}},
	{"deterministic", []string{"-deterministic-names"}},
	{"plaintextnames", []string{"-plaintextnames"}},
	{"longnamemax62", []string{"-longnamemax", "62"}},
	{"xchacha-det-62", []string{"-xchacha", "-deterministic-names", "-longnamemax", "62"}},
}

// interopFixture is what the interop test copies into the mounts: a tree
// with every kind of object (mktree's), a tarball of it, and a git
// repository; ref holds the result of the same tools on a local directory.
type interopFixture struct {
	src, tarball, repo, ref string
	sealfsMount             []string // extra flags for sealfs mounts
}

func newInteropFixture(t *testing.T) *interopFixture {
	base := t.TempDir()
	fx := &interopFixture{
		src:     filepath.Join(base, "src"),
		tarball: filepath.Join(base, "tree.tar"),
		repo:    filepath.Join(base, "repo"),
		ref:     filepath.Join(base, "ref"),
	}
	makeTree(fx.src, func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	})
	sh(t, "", "tar", "-C", fx.src, "--xattrs", "--xattrs-include=user.*", "-S", "-cf", fx.tarball, ".")
	git := func(args ...string) {
		sh(t, "", "git", append([]string{"-C", fx.repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "init.defaultBranch=main"}, args...)...)
	}
	if err := os.MkdirAll(filepath.Join(fx.repo, "dir/sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	git("init", "-q")
	for i, name := range []string{"README", "dir/a.go", "dir/sub/b.txt", "run.sh"} {
		if err := os.WriteFile(filepath.Join(fx.repo, name), []byte(strings.Repeat(name+" line\n", 50*(i+1))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(fx.repo, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("dir/a.go", filepath.Join(fx.repo, "link")); err != nil {
		t.Fatal(err)
	}
	git("add", "-A")
	git("commit", "-q", "-m", "first")
	if err := os.WriteFile(filepath.Join(fx.repo, "dir/a.go"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git("commit", "-q", "-a", "-m", "second")
	if err := os.Mkdir(fx.ref, 0o755); err != nil {
		t.Fatal(err)
	}
	fx.fill(t, fx.ref)
	return fx
}

// fill copies the fixture into dir with cp -a, tar x, git clone and
// rsync -a.
func (fx *interopFixture) fill(t *testing.T, dir string) {
	t.Helper()
	sh(t, "", "cp", "-a", fx.src, filepath.Join(dir, "cp"))
	if err := os.Mkdir(filepath.Join(dir, "tar"), 0o755); err != nil {
		t.Fatal(err)
	}
	sh(t, "", "tar", "-C", filepath.Join(dir, "tar"), "--xattrs", "--xattrs-include=user.*", "-xpf", fx.tarball)
	sh(t, "", "git", "clone", "-q", fx.repo, filepath.Join(dir, "git"))
	sh(t, "", "rsync", "-a", fx.src+"/", filepath.Join(dir, "rsync"))
}

// check compares what dir (a mount of a filled vault) shows with the
// reference: the copies by cp -a, tar and rsync object by object (cp -a
// also keeps access times), and the git clone passes git fsck, has a clean
// status and the same work tree.
func (fx *interopFixture) check(t *testing.T, dir string) {
	t.Helper()
	for _, tool := range []string{"cp", "tar", "rsync", "git"} {
		want, err := snapshotDir(filepath.Join(fx.ref, tool))
		if err != nil {
			t.Fatal(err)
		}
		got, err := snapshotDir(filepath.Join(dir, tool))
		if err != nil {
			t.Fatal(err)
		}
		if len(want) < 7 {
			t.Fatalf("the %s reference has only %d objects", tool, len(want))
		}
		for _, snap := range []map[string]*treeObject{want, got} {
			for p, o := range snap {
				if tool == "git" && (p == ".git" || strings.HasPrefix(p, ".git/")) {
					delete(snap, p) // git's own files differ by clone
					continue
				}
				if tool != "cp" || o.Mode&unix.S_IFMT == unix.S_IFDIR {
					o.Atime = 0
				}
				if tool == "git" {
					o.Mtime = 0 // checkout time
				}
			}
		}
		if problems := diffTrees(want, got, "reference", tool); len(problems) > 0 {
			slices.Sort(problems)
			t.Errorf("%s copy differs:\n%s", tool, strings.Join(problems, "\n"))
		}
	}
	repo := filepath.Join(dir, "git")
	sh(t, "", "git", "-C", repo, "fsck", "--full", "--no-progress")
	if st := sh(t, "", "git", "-C", repo, "status", "--porcelain"); st != "" {
		t.Errorf("git status in the clone is not clean:\n%s", st)
	}
	if log := sh(t, "", "git", "-C", repo, "log", "--format=%s"); log != "second\nfirst\n" {
		t.Errorf("git log in the clone: %q", log)
	}
}

// TestMountInterop fills a vault through a sealfs mount with cp -a, tar,
// git clone and rsync -a and reads it through a gocryptfs mount, and the
// other way round, for every format.
func TestMountInterop(t *testing.T) {
	needFUSE(t, "gocryptfs", "git", "rsync", "tar", "cp")
	fx := newInteropFixture(t)
	pw := writePassfile(t)
	for _, f := range interopFormats {
		t.Run(f.name, func(t *testing.T) {
			t.Run("sealfs-to-gocryptfs", func(t *testing.T) { fx.roundTrip(t, pw, f.flags, "sealfs", "gocryptfs") })
			t.Run("gocryptfs-to-sealfs", func(t *testing.T) { fx.roundTrip(t, pw, f.flags, "gocryptfs", "sealfs") })
		})
	}
}

// roundTrip makes a vault with writer (sealfs or gocryptfs, with the same
// command line), fills it through writer's mount, and checks it through
// reader's mount.
func (fx *interopFixture) roundTrip(t *testing.T, pw string, flags []string, writer, reader string) {
	d := newDirs(t, "cipher", "mnt")
	cipher, mnt := d[0], d[1]
	lazyUnmountAtEnd(t, mnt)
	sh(t, "", writer, slices.Concat([]string{"-init", "-q", "-scryptn", "10", "-passfile", pw}, flags, []string{cipher})...)
	mount := func(tool string) {
		var extra []string
		if tool == "sealfs" {
			extra = fx.sealfsMount
		}
		sh(t, "", tool, slices.Concat(extra, []string{"-q", "-passfile", pw, cipher, mnt})...)
	}
	mount(writer)
	fx.fill(t, mnt)
	sh(t, "", "fusermount3", "-u", mnt)
	mount(reader)
	fx.check(t, mnt)
	sh(t, "", "fusermount3", "-u", mnt)
}

func TestKernelFlags(t *testing.T) {
	c := cmdMount
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"-rw -exec", []string{"exec"}},
		{"-dev -suid", []string{"dev", "suid"}},
		{"-dev -nodev -suid -nosuid -exec -noexec", []string{"nodev", "nosuid", "noexec"}},
		{"-noatime -dirsync", []string{"noatime", "dirsync"}},
	} {
		fs := flag.NewFlagSet("mount", flag.ContinueOnError)
		opts := c.flags(fs)
		if _, err := parseArgs(fs, strings.Fields(tc.in)); err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		if got := opts.(*mountOptions).kernel.options(); !slices.Equal(got, tc.want) {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestReverseCommandLine: "sealfs -init -reverse PLAIN" and "sealfs
// -reverse PLAIN CIPHER" (gocryptfs' command lines) give an encrypted view
// that gocryptfs mounts back to the plaintext tree. The mount part runs
// once the mount command has -reverse (the revcli helper adds it).
func TestReverseCommandLine(t *testing.T) {
	needFUSE(t, "gocryptfs")
	d := newDirs(t, "plain", "cipher", "back")
	plain, cipher, back := d[0], d[1], d[2]
	makeTree(plain, func(err error) {
		if err != nil {
			t.Helper()
			t.Fatal(err)
		}
	})
	pw := writePassfile(t)
	sh(t, "", "sealfs", "-init", "-reverse", "-q", "-scryptn", "10", "-passfile", pw, plain)
	if _, err := os.Stat(filepath.Join(plain, ".gocryptfs.reverse.conf")); err != nil {
		t.Fatal(err)
	}
	fs := flag.NewFlagSet("mount", flag.ContinueOnError)
	cmdMount.flags(fs)
	if fs.Lookup("reverse") == nil {
		t.Skip("TODO(lead): enable after merging revcli's mount -reverse; -init -reverse passed")
	}
	lazyUnmountAtEnd(t, cipher)
	lazyUnmountAtEnd(t, back)
	sh(t, "", "sealfs", "-reverse", "-q", "-passfile", pw, plain, cipher)
	sh(t, "", "gocryptfs", "-q", "-ro", "-passfile", pw, cipher, back)
	want, err := snapshotDir(plain)
	if err != nil {
		t.Fatal(err)
	}
	got, err := snapshotDir(back)
	if err != nil {
		t.Fatal(err)
	}
	delete(want, ".gocryptfs.reverse.conf")
	for _, snap := range []map[string]*treeObject{want, got} {
		for _, o := range snap {
			// The reverse view carries no xattrs (as in gocryptfs).
			o.Atime, o.Blocks, o.Xattrs = 0, 0, nil
		}
	}
	if problems := diffTrees(want, got, "plain", "gocryptfs view of sealfs -reverse"); len(problems) > 0 {
		slices.Sort(problems)
		t.Errorf("%s", strings.Join(problems, "\n"))
	}
	sh(t, "", "fusermount3", "-u", back)
	// gocryptfs lets go of the view a moment after its unmount.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, err := shErr("", "fusermount3", "-u", cipher)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fusermount3 -u %s: %v\n%s", cipher, err, out)
		}
	}
}

// TestMasterKeyNotInArguments mounts in the background with -masterkey
// KEY and with -masterkey=stdin: the mount works, and the key is in the
// arguments of no process while it serves (the background child gets it
// on a pipe).
func TestMasterKeyNotInArguments(t *testing.T) {
	needFUSE(t)
	cipher, mnt, pw := newVaultDirs(t)
	lazyUnmountAtEnd(t, mnt)
	key := strings.TrimSpace(sh(t, "", "sealfs", "xray", "-q", "-dumpmasterkey", "-passfile", pw, filepath.Join(cipher, "gocryptfs.conf")))
	if len(key) != 64 {
		t.Fatalf("dumpmasterkey printed %q", key)
	}
	// The form people copy from the init output: dashed groups.
	var groups []string
	for i := 0; i < 64; i += 8 {
		groups = append(groups, key[i:i+8])
	}
	dashed := strings.Join(groups, "-")

	for _, c := range []struct {
		name  string
		stdin string
		args  []string
	}{
		{"argument", "", []string{"-q", "-masterkey", dashed, cipher, mnt}},
		{"argument=", "", []string{"-q", "-masterkey=" + key, cipher, mnt}},
		{"stdin", key + "\n", []string{"-q", "-masterkey=stdin", cipher, mnt}},
	} {
		sh(t, c.stdin, "sealfs", c.args...)
		if !mounted(mnt) {
			t.Fatalf("%s: not mounted", c.name)
		}
		want := []byte("unlocked with the master key, " + c.name)
		if err := os.WriteFile(filepath.Join(mnt, "f"), want, 0o600); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		servers := 0
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			b, err := os.ReadFile(p)
			if err != nil {
				continue
			}
			cmdline := strings.ReplaceAll(string(b), "\x00", " ")
			if strings.Contains(cmdline, cipher) && strings.Contains(cmdline, " -fg") {
				servers++
			}
			low := strings.ToLower(strings.ReplaceAll(cmdline, "-", ""))
			if strings.Contains(low, key) {
				t.Errorf("%s: the master key is in the arguments of %s: %q", c.name, p, cmdline)
			}
		}
		if servers != 1 {
			t.Errorf("%s: found %d serving processes of %s, want 1", c.name, servers, cipher)
		}
		sh(t, "", "fusermount3", "-u", mnt)
		got := sh(t, "", "sealfs", "cat", "-q", "-passfile", pw, cipher, "f")
		if got != string(want) {
			t.Errorf("%s: after unmounting, f holds %q, want %q", c.name, got, want)
		}
	}
}
