//go:build linux

// Package testweed runs SeaweedFS, a distributed object store with an S3
// gateway, for the tests of sealfs' S3 support: a master, several volume
// servers, a filer and the S3 gateway, each a process of its own on
// loopback with random ports and a temporary directory, stopped when the
// test ends.
//
// The weed binary is built once from the Go module proxy (the module's
// go.mod has replace directives, so go install refuses it: the module is
// downloaded, copied and built with go build inside the copy) and cached
// in the user's cache directory, outside the repository; SEALFS_WEED
// names a binary to use instead.
package testweed

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Module and Version are the SeaweedFS source the tests use.
const (
	Module  = "github.com/seaweedfs/seaweedfs"
	Version = "v0.0.0-20261109003541-7506e5f91cd6"
)

// TB is what the cluster needs of a test: testing.TB has it, and so has
// the cluster command the benchmarks run (./internal/testweed/weedcluster).
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Skipf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// Region is the region the gateway answers for (SeaweedFS accepts any).
const Region = "us-east-1"

// require fails the test where SeaweedFS must be there (CI, or
// SEALFS_REQUIRE_WEED set) and skips it elsewhere.
func require(t TB, err error) {
	t.Helper()
	if os.Getenv("CI") != "" || os.Getenv("SEALFS_REQUIRE_WEED") != "" {
		t.Fatalf("SeaweedFS: %v", err)
	}
	t.Skipf("SeaweedFS not available: %v", err)
}

// Binary returns the path of the weed binary, building it on first use.
func Binary(t TB) string {
	t.Helper()
	if p := os.Getenv("SEALFS_WEED"); p != "" {
		return p
	}
	p, err := Build()
	if err != nil {
		require(t, err)
	}
	return p
}

// Build finds weed in the cache or builds it there, one builder at a
// time (test processes of several packages may ask at once), and returns
// its path. test.sh calls it (through ./internal/testweed/buildweed)
// before the tests, so that a first build, which takes many minutes,
// does not count against a test binary's timeout.
func Build() (string, error) {
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "sealfs", "weed-"+Version[len(Version)-12:])
	bin := filepath.Join(dir, "weed")
	if fi, err := os.Stat(bin); err == nil && fi.Mode().IsRegular() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil // another process built it meanwhile
	}
	if err := build(dir, bin); err != nil {
		return "", fmt.Errorf("building weed %s: %w", Version, err)
	}
	return bin, nil
}

// build downloads the module, copies it to a writable directory and
// builds ./weed into bin.
func build(dir, bin string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Minute)
	defer cancel()
	goTool := filepath.Join(runtimeGOROOT(), "bin", "go")
	env := append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	dl := exec.CommandContext(ctx, goTool, "mod", "download", "-json", Module+"@"+Version)
	dl.Env = env
	out, err := dl.Output()
	if err != nil {
		return fmt.Errorf("go mod download: %w", err)
	}
	var info struct{ Dir string }
	if err := json.Unmarshal(out, &info); err != nil || info.Dir == "" {
		return fmt.Errorf("go mod download: no module directory in %q", out)
	}
	src := filepath.Join(dir, "src")
	os.RemoveAll(src)
	if err := copyTree(info.Dir, src); err != nil {
		return err
	}
	defer os.RemoveAll(src)
	tmp := bin + ".tmp"
	b := exec.CommandContext(ctx, goTool, "build", "-o", tmp, "./weed")
	b.Dir = src
	b.Env = env
	var stderr bytes.Buffer
	b.Stderr = &stderr
	if err := b.Run(); err != nil {
		return fmt.Errorf("go build ./weed: %w\n%s", err, stderr.String())
	}
	return os.Rename(tmp, bin)
}

func runtimeGOROOT() string {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// copyTree copies the module tree (read-only in the module cache) to dst,
// writable.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// Cluster is a running SeaweedFS with its S3 gateway.
type Cluster struct {
	// Endpoint is the S3 gateway's URL (http://127.0.0.1:PORT).
	Endpoint string
	// AccessKey and SecretKey are the credentials of its one identity,
	// which may do everything.
	AccessKey, SecretKey string

	dir   string
	procs []*proc
}

type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
}

// freePorts returns n distinct free TCP ports on loopback.
func freePorts(t TB, n int) []int {
	t.Helper()
	var ls []net.Listener
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

// Start runs a cluster with the given number of volume servers (at least
// one) and waits until its S3 gateway answers. It is stopped when the
// test ends.
func Start(t TB, volumes int) *Cluster {
	t.Helper()
	bin := Binary(t)
	volumes = max(volumes, 1)
	c := &Cluster{dir: t.TempDir(), AccessKey: "sealfs" + randHex(6), SecretKey: randHex(20)}
	t.Cleanup(c.stop)
	ports := freePorts(t, 2*(3+volumes))
	next := func() (int, int) {
		p, g := ports[0], ports[1]
		ports = ports[2:]
		return p, g
	}
	t0 := time.Now()
	var phases []string
	phase := func(what string) { phases = append(phases, fmt.Sprintf("%s %.1fs", what, time.Since(t0).Seconds())) }
	mp, mg := next()
	master := "127.0.0.1:" + strconv.Itoa(mp) + "." + strconv.Itoa(mg)
	mdir := c.mkdir(t, "master")
	c.run(t, bin, "master", "master", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-port="+strconv.Itoa(mp),
		"-port.grpc="+strconv.Itoa(mg), "-mdir="+mdir, "-peers=none", "-volumeSizeLimitMB=64")
	c.waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/cluster/status", mp))
	phase("master")
	for i := range volumes {
		vp, vg := next()
		vdir := c.mkdir(t, "volume"+strconv.Itoa(i))
		c.run(t, bin, "volume"+strconv.Itoa(i), "volume", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
			"-port="+strconv.Itoa(vp), "-port.grpc="+strconv.Itoa(vg), "-dir="+vdir, "-max=16",
			"-master="+master, "-rack=rack"+strconv.Itoa(i))
		c.waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/status", vp))
	}
	phase("volumes")
	fp, fg := next()
	fdir := c.mkdir(t, "filer")
	c.run(t, bin, "filer", "filer", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-port="+strconv.Itoa(fp),
		"-port.grpc="+strconv.Itoa(fg), "-master="+master, "-defaultStoreDir="+fdir,
		"-localSocket="+filepath.Join(fdir, "filer.sock"))
	c.waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", fp))
	phase("filer")
	sp, sg := next()
	cfg := filepath.Join(c.dir, "s3.json")
	identities := map[string]any{"identities": []any{map[string]any{
		"name":        "sealfs",
		"credentials": []any{map[string]string{"accessKey": c.AccessKey, "secretKey": c.SecretKey}},
		"actions":     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}}
	b, _ := json.Marshal(identities)
	if err := os.WriteFile(cfg, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c.run(t, bin, "s3", "s3", "-ip.bind=127.0.0.1", "-port="+strconv.Itoa(sp), "-port.grpc="+strconv.Itoa(sg),
		"-port.iceberg=0", "-port.lance=0", "-filer=127.0.0.1:"+strconv.Itoa(fp)+"."+strconv.Itoa(fg), "-config="+cfg)
	c.Endpoint = "http://127.0.0.1:" + strconv.Itoa(sp)
	// Any HTTP answer (an S3 error for an unsigned request) means it is up.
	c.waitHTTPAny(t, c.Endpoint+"/")
	phase("s3")
	t.Logf("SeaweedFS up: %s", strings.Join(phases, ", "))
	return c
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (c *Cluster) mkdir(t TB, name string) string {
	d := filepath.Join(c.dir, name)
	if err := os.Mkdir(d, 0o700); err != nil {
		t.Fatal(err)
	}
	return d
}

// run starts one server process with its log in the cluster directory.
func (c *Cluster) run(t TB, bin, name string, args ...string) {
	t.Helper()
	logPath := filepath.Join(c.dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = c.dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting weed %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	c.procs = append(c.procs, p)
}

// waitHTTP waits until url answers 200.
func (c *Cluster) waitHTTP(t TB, url string) {
	t.Helper()
	c.wait(t, url, func(code int) bool { return code == http.StatusOK })
}

// waitHTTPAny waits until url answers at all.
func (c *Cluster) waitHTTPAny(t TB, url string) {
	t.Helper()
	c.wait(t, url, func(int) bool { return true })
}

func (c *Cluster) wait(t TB, url string, ok func(int) bool) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if ok(resp.StatusCode) {
				return
			}
		}
		for _, p := range c.procs {
			select {
			case <-p.done:
				t.Fatalf("weed %s exited while starting:\n%s", p.name, c.tail(p))
			default:
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer after 90 s (%v)\n%s", url, err, c.tail(c.procs[len(c.procs)-1]))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// tail is the end of a process' log.
func (c *Cluster) tail(p *proc) string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// stop ends the processes: all get SIGTERM at once, and SIGKILL after
// 3 s (weed servers wait for their peers on a graceful stop; a test
// cluster's data does not matter).
func (c *Cluster) stop() {
	for _, p := range c.procs {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	}
	deadline := time.After(3 * time.Second)
	for _, p := range c.procs {
		select {
		case <-p.done:
		case <-deadline:
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
}

// Kill stops the cluster at once (SIGKILL), as a crash would.
func (c *Cluster) Kill() {
	for _, p := range c.procs {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	for _, p := range c.procs {
		<-p.done
	}
}
