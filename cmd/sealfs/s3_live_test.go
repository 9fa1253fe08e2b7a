//go:build linux

package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sealfs/sealfs/internal/testweed"
)

// TestS3Vault: vaults in a bucket of a real SeaweedFS cluster (three
// volume servers), through the command line, a FUSE mount, gocryptfs and
// rclone.
func TestS3Vault(t *testing.T) {
	c := testweed.Start(t, 3)
	cl := s3.New(s3.Options{Region: testweed.Region, BaseEndpoint: aws.String(c.Endpoint), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, "")})
	if _, err := cl.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String("vaults")}); err != nil {
		t.Fatal(err)
	}
	// The standard AWS variables are all the configuration there is.
	t.Setenv("AWS_ENDPOINT_URL", c.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", c.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", c.SecretKey)
	t.Setenv("AWS_REGION", testweed.Region)
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	// rclone's remote "sw:" is the same cluster.
	t.Setenv("RCLONE_CONFIG_SW_TYPE", "s3")
	t.Setenv("RCLONE_CONFIG_SW_PROVIDER", "Other")
	t.Setenv("RCLONE_CONFIG_SW_ENDPOINT", c.Endpoint)
	t.Setenv("RCLONE_CONFIG_SW_ACCESS_KEY_ID", c.AccessKey)
	t.Setenv("RCLONE_CONFIG_SW_SECRET_ACCESS_KEY", c.SecretKey)
	t.Setenv("RCLONE_CONFIG_SW_FORCE_PATH_STYLE", "true")
	t.Setenv("RCLONE_CONFIG", filepath.Join(t.TempDir(), "rclone.conf"))
	// rclone 1.60 (AWS SDK v1) fails on any AWS_CA_BUNDLE with its own
	// HTTP transport; the cluster is plain http on loopback anyway.
	t.Setenv("AWS_CA_BUNDLE", "")
	os.Unsetenv("AWS_CA_BUNDLE")

	t.Run("CommandLine", testS3CommandLine)
	t.Run("Errors", func(t *testing.T) { testS3Errors(t, c) })
	t.Run("Mount", testS3Mount)
	t.Run("FromGocryptfs", testS3FromGocryptfs)
	t.Run("KillMount", testS3KillMount)
	t.Run("Export", testS3Export)
	t.Run("Passwd", testS3Passwd)
	t.Run("TwoMounts", testS3TwoMounts)
	t.Run("ServeWebDAV", testS3Serve)
}

// testS3Serve: a bucket vault served over WebDAV; what rclone writes
// through it is in the bucket, for sealfs decrypt to find.
func testS3Serve(t *testing.T) {
	pw := writePassfile(t)
	v := "s3://vaults/dav"
	sh(t, "", "sealfs", "init", "-q", "-scryptn", "10", "-passfile", pw, v)
	srv := startServe(t, "-q", "-passfile", pw, "-cache-dir", t.TempDir(), v)
	src := davTree(t)
	sh(t, "", "rclone", append(rcloneArgs(srv.url), "copy", "--create-empty-src-dirs", src, ":webdav:")...)
	sh(t, "", "rclone", append(rcloneArgs(srv.url), "check", src, ":webdav:")...)
	if code := srv.stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, srv.stderr)
	}
	out := t.TempDir()
	sh(t, "", "sealfs", "decrypt", "-q", "-passfile", pw, "-cache-dir", t.TempDir(), v, out)
	sameTree(t, src, out)
}

// testS3Export: export of a reverse view to a bucket is the same, byte
// for byte, as an export to a directory (rclone copies the bucket down),
// decrypts to the plaintext tree, and is incremental.
func testS3Export(t *testing.T) {
	pw := writePassfile(t)
	plain := smallTree(t)
	sh(t, "", "sealfs", "init", "-reverse", "-q", "-scryptn", "10", "-passfile", pw, plain)
	v := "s3://vaults/export"
	if out := sh(t, "", "sealfs", "export", "-stats", "-passfile", pw, plain, v); !strings.Contains(out, "removed)") ||
		!regexp.MustCompile(`; bucket: \d+ requests \(.*PutObject=[1-9]`).MatchString(out) {
		t.Fatalf("export -stats: %s", out)
	}
	local := filepath.Join(t.TempDir(), "local")
	sh(t, "", "sealfs", "export", "-q", "-passfile", pw, plain, local)
	down := t.TempDir()
	sh(t, "", "rclone", "copy", "--links", "sw:vaults/export", down)
	sameTree(t, local, down)
	dec := filepath.Join(t.TempDir(), "dec")
	sh(t, "", "sealfs", "decrypt", "-q", "-passfile", pw, v, dec)
	sameTree(t, plain, dec, ".gocryptfs.reverse.conf")
	// Change one file, remove another: the bucket export writes and
	// removes exactly what the directory export does.
	os.WriteFile(filepath.Join(plain, "hello.txt"), []byte("changed\n"), 0o644)
	os.Remove(filepath.Join(plain, "link"))
	summary := func(out string) string { return out[strings.Index(out, "exported"):] }
	toBucket := summary(sh(t, "", "sealfs", "export", "-passfile", pw, plain, v))
	toDir := summary(sh(t, "", "sealfs", "export", "-passfile", pw, plain, local))
	if toBucket != toDir || !strings.Contains(toBucket, "1 removed") {
		t.Fatalf("second export: to the bucket %q, to a directory %q", toBucket, toDir)
	}
	dec2 := filepath.Join(t.TempDir(), "dec")
	sh(t, "", "sealfs", "decrypt", "-q", "-passfile", pw, v, dec2)
	sameTree(t, plain, dec2, ".gocryptfs.reverse.conf")
	down2 := t.TempDir()
	sh(t, "", "rclone", "copy", "--links", "sw:vaults/export", down2)
	sameTree(t, local, down2)
}

// testS3Passwd: passwd on a bucket vault; the new password opens it, the
// old one does not, and no temporary object is left.
func testS3Passwd(t *testing.T) {
	pw := writePassfile(t)
	v := "s3://vaults/passwd"
	sh(t, "", "sealfs", "init", "-q", "-scryptn", "10", "-passfile", pw, v)
	newPw := filepath.Join(t.TempDir(), "new")
	os.WriteFile(newPw, []byte("new password\n"), 0o600)
	sh(t, "new password\nnew password\n", "sealfs", "passwd", "-q", "-passfile", pw, v)
	if _, err := shErr("", "sealfs", "ls", "-passfile", pw, v); exitStatus(t, err) != exitPasswordIncorrect {
		t.Fatalf("old password after passwd: %v", err)
	}
	sh(t, "", "sealfs", "ls", "-passfile", newPw, v)
	if o := sh(t, "", "rclone", "lsf", "sw:vaults/passwd"); strings.Contains(o, ".tmp") {
		t.Fatalf("leftover after passwd:\n%s", o)
	}
}

// smallTree writes a plaintext tree with files, a subdirectory, an empty
// directory and a symlink.
func smallTree(t *testing.T) string {
	d := t.TempDir()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(d, "sub", "deeper"), 0o755))
	must(os.Mkdir(filepath.Join(d, "empty"), 0o700))
	must(os.WriteFile(filepath.Join(d, "hello.txt"), []byte("hello, bucket\n"), 0o644))
	must(os.WriteFile(filepath.Join(d, "sub", "deeper", "big.bin"), []byte(strings.Repeat("0123456789abcdef", 70000)), 0o600))
	must(os.WriteFile(filepath.Join(d, "sub", "a name that is rather long "+strings.Repeat("x", 200)), []byte("long"), 0o644))
	must(os.Symlink("sub/deeper/big.bin", filepath.Join(d, "link")))
	return d
}

// sameTree compares two trees with diff -r (content, names, symlinks),
// leaving out the names in except.
func sameTree(t *testing.T, a, b string, except ...string) {
	t.Helper()
	args := []string{"-r", "--no-dereference"}
	for _, x := range except {
		args = append(args, "-x", x)
	}
	if out, err := exec.Command("diff", append(args, a, b)...).CombinedOutput(); err != nil {
		t.Errorf("trees %s and %s differ: %v\n%s", a, b, err, out)
	}
}

func testS3CommandLine(t *testing.T) {
	pw := writePassfile(t)
	v := "s3://vaults/cli/one"
	sh(t, "", "sealfs", "init", "-q", "-scryptn", "10", "-passfile", pw, v)
	if out, err := shErr("", "sealfs", "init", "-q", "-scryptn", "10", "-passfile", pw, v); exitStatus(t, err) != exitCipherDir {
		t.Fatalf("init of a vault that exists: %v\n%s", err, out)
	}
	if out := sh(t, "", "sealfs", "info", v); !strings.Contains(out, "AES-GCM") && !strings.Contains(out, "GCM") {
		t.Fatalf("info: %s", out)
	}
	tree := smallTree(t)
	// -stats ends with what was copied and what the bucket was asked.
	statsLine := regexp.MustCompile(`(?m)^\d+ objects, .* in [0-9.]+ s \(.*/s\); bucket: \d+ requests \((.*)\), .* sent, .* received$`)
	checkStats := func(out, op string) {
		t.Helper()
		m := statsLine.FindStringSubmatch(out)
		if m == nil || !regexp.MustCompile(`\b`+op+`=[1-9]`).MatchString(m[1]) {
			t.Fatalf("-stats line with %s requests: %q", op, out)
		}
	}
	checkStats(sh(t, "", "sealfs", "encrypt", "-q", "-stats", "-passfile", pw, tree, v), "PutObject")
	if out := sh(t, "", "sealfs", "ls", "-passfile", pw, v); !strings.Contains(out, "hello.txt") || !strings.Contains(out, "sub") {
		t.Fatalf("ls: %s", out)
	}
	if out := sh(t, "", "sealfs", "cat", "-passfile", pw, v, "hello.txt"); !strings.HasSuffix(out, "\nhello, bucket\n") {
		t.Fatalf("cat: %q", out)
	}
	out := filepath.Join(t.TempDir(), "out")
	checkStats(sh(t, "", "sealfs", "decrypt", "-q", "-stats", "-passfile", pw, v, out), "GetObject")
	sameTree(t, tree, out)
	if o := sh(t, "", "sealfs", "fsck", "-passfile", pw, v); !strings.Contains(o, "no problems found") {
		t.Fatalf("fsck: %s", o)
	}
	// The bucket holds a gocryptfs vault: rclone copies it down with its
	// symlinks, and gocryptfs reads it.
	local := t.TempDir()
	sh(t, "", "rclone", "copy", "--links", "sw:vaults/cli/one", local)
	plain := filepath.Join(t.TempDir(), "plain")
	os.Mkdir(plain, 0o755)
	sh(t, "", "gocryptfs", "-q", "-passfile", pw, local, plain)
	lazyUnmountAtEnd(t, plain)
	sameTree(t, tree, plain)
	sh(t, "", "fusermount3", "-u", plain)
	if o := sh(t, "", "gocryptfs", "-fsck", "-passfile", pw, local); !strings.Contains(o, "fsck summary: no problems found") {
		t.Fatalf("gocryptfs -fsck: %s", o)
	}
}

func testS3Errors(t *testing.T, c *testweed.Cluster) {
	pw := writePassfile(t)
	cases := []struct {
		name string
		env  []string
		arg  string
		code int
	}{
		{"no bucket", nil, "s3://nosuchbucket/x", exitS3Bucket},
		{"wrong secret", []string{"AWS_SECRET_ACCESS_KEY=wrong"}, "s3://vaults/cli/one", exitS3Access},
		{"unknown key id", []string{"AWS_ACCESS_KEY_ID=nobody"}, "s3://vaults/cli/one", exitS3Access},
		{"nothing listens", []string{"AWS_ENDPOINT_URL=http://127.0.0.1:1"}, "s3://vaults/cli/one", exitS3Endpoint},
		{"plain http far away", []string{"AWS_ENDPOINT_URL=http://192.0.2.1:8333"}, "s3://vaults/cli/one", exitS3Endpoint},
		{"no config in the prefix", nil, "s3://vaults/cli/nothing-here", exitOpenConf},
		{"bad location", nil, "s3:///x", exitUsage},
	}
	for _, tc := range cases {
		cmd := exec.Command("sealfs", "ls", "-passfile", pw, tc.arg)
		cmd.Env = append(append(os.Environ(), "GORACE="+goRace()), tc.env...)
		out, err := cmd.CombinedOutput()
		if got := exitStatus(t, err); got != tc.code {
			t.Errorf("%s: exit code %d, want %d\n%s", tc.name, got, tc.code, out)
			continue
		}
		if lines := strings.Count(strings.TrimSpace(string(out)), "\n"); lines > 0 && tc.code != exitUsage || strings.Contains(string(out), "panic") {
			t.Errorf("%s: want one line of error, got:\n%s", tc.name, out)
		}
		if strings.Contains(string(out), c.SecretKey) {
			t.Errorf("%s: the secret key is in the output", tc.name)
		}
	}
}

// testS3Mount mounts a bucket vault and puts real work on it: cp -a,
// tar x, rsync, git clone; after the unmount, gocryptfs sees the same
// tree in rclone's copy of the bucket.
func testS3Mount(t *testing.T) {
	needFUSE(t, "rsync", "git", "tar")
	pw := writePassfile(t)
	v := "s3://vaults/mount"
	sh(t, "", "sealfs", "init", "-q", "-scryptn", "10", "-passfile", pw, v)
	mnt := t.TempDir()
	// In the foreground, to wait for the process after the unmount:
	// it uploads what waits before it exits.
	mc := startFg(t, "-passfile", pw, v, mnt)
	tree := smallTree(t)
	if f := strings.Fields(mountLine(mnt)); len(f) < 1 || f[0] != v {
		t.Errorf("mount source %q, want %s", mountLine(mnt), v)
	}
	sh(t, "", "cp", "-a", tree, filepath.Join(mnt, "cp"))
	sh(t, "", "tar", "-C", tree, "-cf", filepath.Join(t.TempDir(), "t.tar"), ".")
	tarDir := filepath.Join(mnt, "tar")
	os.Mkdir(tarDir, 0o755)
	tarball := filepath.Join(t.TempDir(), "t.tar")
	sh(t, "", "tar", "-C", tree, "-cf", tarball, ".")
	sh(t, "", "tar", "-C", tarDir, "-xf", tarball)
	sh(t, "", "rsync", "-a", tree+"/", filepath.Join(mnt, "rsync")+"/")
	repo := t.TempDir()
	sh(t, "", "git", "-C", repo, "init", "-q")
	os.WriteFile(filepath.Join(repo, "f"), []byte("tracked\n"), 0o644)
	sh(t, "", "git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", "add", "f")
	sh(t, "", "git", "-C", repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
	sh(t, "", "git", "clone", "-q", repo, filepath.Join(mnt, "clone"))
	sh(t, "", "git", "-C", filepath.Join(mnt, "clone"), "fsck", "--strict")
	for _, d := range []string{"cp", "tar", "rsync"} {
		sameTree(t, tree, filepath.Join(mnt, d))
	}
	sh(t, "", "fusermount3", "-u", mnt)
	if err := mc.Wait(); err != nil {
		t.Fatalf("mount process: %v", err)
	}
	// Every upload is done. rclone's copy mounts with gocryptfs.
	local := t.TempDir()
	sh(t, "", "rclone", "copy", "--links", "sw:vaults/mount", local)
	plain := t.TempDir()
	sh(t, "", "gocryptfs", "-q", "-passfile", pw, local, plain)
	lazyUnmountAtEnd(t, plain)
	for _, d := range []string{"cp", "tar", "rsync"} {
		sameTree(t, tree, filepath.Join(plain, d))
	}
	if b, err := os.ReadFile(filepath.Join(plain, "clone", "f")); err != nil || string(b) != "tracked\n" {
		t.Fatalf("clone/f through gocryptfs: %q, %v", b, err)
	}
	sh(t, "", "fusermount3", "-u", plain)
}

// testS3FromGocryptfs: a vault gocryptfs made, uploaded with rclone copy
// --links, reads back through sealfs.
func testS3FromGocryptfs(t *testing.T) {
	needFUSE(t)
	pw := writePassfile(t)
	cipher, plain := t.TempDir(), t.TempDir()
	sh(t, "", "gocryptfs", "-init", "-q", "-scryptn", "10", "-passfile", pw, cipher)
	sh(t, "", "gocryptfs", "-q", "-passfile", pw, cipher, plain)
	lazyUnmountAtEnd(t, plain)
	tree := smallTree(t)
	sh(t, "", "cp", "-a", tree+"/.", plain)
	sh(t, "", "fusermount3", "-u", plain)
	sh(t, "", "rclone", "copy", "--links", cipher, "sw:vaults/from-gocryptfs")
	out := filepath.Join(t.TempDir(), "out")
	sh(t, "", "sealfs", "decrypt", "-q", "-passfile", pw, "s3://vaults/from-gocryptfs", out)
	sameTree(t, tree, out)
}

// testS3KillMount: a mount is killed (SIGKILL) while files it wrote and
// closed wait for their deferred upload, and one written with fsync is
// open; mounted again, everything is there, and fsck finds nothing.
func testS3KillMount(t *testing.T) {
	needFUSE(t)
	pw := writePassfile(t)
	v := "s3://vaults/kill"
	sh(t, "", "sealfs", "init", "-q", "-scryptn", "10", "-passfile", pw, v)
	cache := t.TempDir()
	mnt := t.TempDir()
	cmd := startFg(t, "-write-back", "1h", "-cache-dir", cache, "-passfile", pw, v, mnt)
	want := map[string]string{}
	for i := range 5 {
		name := "closed" + strconv.Itoa(i)
		want[name] = strings.Repeat(name, 1000+i)
		if err := os.WriteFile(filepath.Join(mnt, name), []byte(want[name]), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Create(filepath.Join(mnt, "synced"))
	if err != nil {
		t.Fatal(err)
	}
	want["synced"] = "fsync'ed before the kill"
	f.WriteString(want["synced"])
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	f.Close()
	exec.Command("fusermount3", "-u", "-z", mnt).Run()
	// Mounted again on the same cache: the closed files are uploaded.
	again := startFg(t, "-cache-dir", cache, "-passfile", pw, v, mnt)
	for name, content := range want {
		if b, err := os.ReadFile(filepath.Join(mnt, name)); err != nil || string(b) != content {
			t.Errorf("%s after the kill: %d bytes, %v", name, len(b), err)
		}
	}
	sh(t, "", "fusermount3", "-u", mnt)
	if err := again.Wait(); err != nil {
		t.Fatalf("second mount: %v", err)
	}
	if o := sh(t, "", "sealfs", "fsck", "-passfile", pw, v); !strings.Contains(o, "no problems found") {
		t.Fatalf("fsck: %s", o)
	}
	// And without the cache: the bucket itself has it all.
	out := filepath.Join(t.TempDir(), "out")
	sh(t, "", "sealfs", "decrypt", "-q", "-cache-dir", t.TempDir(), "-passfile", pw, v, out)
	for name, content := range want {
		if b, err := os.ReadFile(filepath.Join(out, name)); err != nil || string(b) != content {
			t.Errorf("%s in the bucket: %d bytes, %v", name, len(b), err)
		}
	}
}

// startFg runs "sealfs mount -fg -q ARGS" (the last argument is the
// mount point) and waits until it is mounted.
func startFg(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd, _ := startFgOut(t, args...)
	return cmd
}

// startFgOut is startFg that also gives the mount's output, to read
// after the process has ended.
func startFgOut(t *testing.T, args ...string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	mnt := args[len(args)-1]
	cmd := exec.Command("sealfs", append([]string{"mount", "-fg", "-q"}, args...)...)
	cmd.Env = append(os.Environ(), "GORACE="+goRace())
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lazyUnmountAtEnd(t, mnt)
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for !mounted(mnt) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("mount did not come up:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return cmd, out
}

// testS3TwoMounts: two machines (two mounts with caches of their own)
// write one file of a bucket vault. The write that reaches the bucket
// second fails its fsync with EIO and a log line naming the file; the
// first one's content stays, and the loser's is kept in its cache.
func testS3TwoMounts(t *testing.T) {
	needFUSE(t)
	pw := writePassfile(t)
	v := "s3://vaults/two"
	sh(t, "", "sealfs", "init", "-q", "-scryptn", "10", "-passfile", pw, v)
	cacheA, cacheB := t.TempDir(), t.TempDir()
	mntA, mntB := t.TempDir(), t.TempDir()
	ma, _ := startFgOut(t, "-passfile", pw, "-sync-upload", "-cache-dir", cacheA, v, mntA)
	mb, logB := startFgOut(t, "-passfile", pw, "-sync-upload", "-cache-dir", cacheB, v, mntB)
	write := func(f *os.File, s string) error {
		if _, err := f.WriteAt([]byte(s), 0); err != nil {
			return err
		}
		return f.Sync()
	}
	fa, err := os.Create(filepath.Join(mntA, "shared.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := write(fa, "A, first\n"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(mntB, "shared.txt")); err != nil || string(b) != "A, first\n" {
		t.Fatalf("B reads %q, %v", b, err)
	}
	// Both have the first version open; A's change is uploaded first.
	// (B rewrites the file whole: a partial block would be read from
	// the bucket first, and that read fails already, with ESTALE.)
	fb, err := os.OpenFile(filepath.Join(mntB, "shared.txt"), os.O_RDWR|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(fa, "A, second\n"); err != nil {
		t.Fatal(err)
	}
	if err := write(fb, "B, lost?\n"); !errors.Is(err, syscall.EIO) {
		t.Fatalf("fsync of the write that came second: %v, want EIO", err)
	}
	fb.Close()
	fa.Close()
	for _, m := range []string{mntA, mntB} {
		sh(t, "", "fusermount3", "-u", m)
	}
	if err := ma.Wait(); err != nil {
		t.Fatalf("mount A: %v", err)
	}
	mb.Wait() // its exit status tells of the conflict too; the log says which file
	if !strings.Contains(logB.String(), "op=fsync path=shared.txt") {
		t.Errorf("mount B's log does not name the file:\n%s", logB)
	}
	if out := sh(t, "", "sealfs", "cat", "-passfile", pw, v, "shared.txt"); !strings.HasSuffix(out, "A, second\n") {
		t.Errorf("the bucket holds %q, want A's second version", out)
	}
	// B's content is in its cache's conflicts folder, encrypted as it
	// was written: one file, with a note naming the object.
	var kept []string
	filepath.WalkDir(cacheB, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Base(filepath.Dir(p)) == "conflicts" {
			kept = append(kept, p)
		}
		return nil
	})
	if len(kept) == 0 {
		t.Fatalf("no conflict copy in B's cache %s", cacheB)
	}
}
