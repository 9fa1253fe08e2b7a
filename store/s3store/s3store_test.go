//go:build linux

package s3store_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sealfs/sealfs/internal/testweed"
	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/store/s3store"
	"github.com/sealfs/sealfs/store/storetest"
)

// counter counts the requests and the body bytes sent through a client.
type counter struct {
	gets, puts, copies atomic.Int64
	sent               atomic.Int64
	next               http.RoundTripper
}

func (c *counter) RoundTrip(r *http.Request) (*http.Response, error) {
	switch {
	case r.Method == http.MethodGet && r.Header.Get("Range") != "":
		c.gets.Add(1)
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") != "":
		c.copies.Add(1)
	case r.Method == http.MethodPut:
		c.puts.Add(1)
	}
	if r.ContentLength > 0 {
		c.sent.Add(r.ContentLength)
	}
	return c.next.RoundTrip(r)
}

func client(c *testweed.Cluster, cnt *counter) *s3.Client {
	o := s3.Options{
		Region:       testweed.Region,
		BaseEndpoint: aws.String(c.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(c.AccessKey, c.SecretKey, ""),
	}
	// A stuck request fails the test instead of hanging it.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = time.Minute
	o.HTTPClient = &http.Client{Transport: tr}
	if cnt != nil {
		cnt.next = tr
		o.HTTPClient = &http.Client{Transport: cnt}
	}
	return s3.New(o)
}

func randName(p string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return p + hex.EncodeToString(b)
}

// env is the cluster and bucket the tests share (SeaweedFS makes every
// bucket a collection with volumes of its own: one bucket is quicker).
type env struct {
	c      *testweed.Cluster
	bucket string
}

func (v *env) open(t *testing.T, o s3store.Options) *s3store.Store {
	t.Helper()
	if o.Client == nil {
		o.Client = client(v.c, nil)
	}
	o.Bucket = v.bucket
	if o.TempDir == "" {
		o.TempDir = t.TempDir()
	}
	s, err := s3store.New(context.Background(), &o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestS3 runs everything against one SeaweedFS cluster with three volume
// servers.
func TestS3(t *testing.T) {
	c := testweed.Start(t, 3)
	v := &env{c: c, bucket: "tests"}
	if _, err := client(c, nil).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: &v.bucket}); err != nil {
		t.Fatal(err)
	}
	t.Run("Conformance", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) store.Store {
			s := v.open(t, s3store.Options{Prefix: randName("conf-")})
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("Model", v.testModel)
	t.Run("PartialUpload", v.testPartialUpload)
	t.Run("ReadAhead", v.testReadAhead)
	t.Run("Conflict", v.testConflict)
	t.Run("Stale", v.testStale)
	t.Run("WriteBack", v.testWriteBack)
	t.Run("CrashRecovery", v.testCrashRecovery)
	t.Run("CacheBusy", v.testCacheBusy)
	t.Run("Prefetch", v.testPrefetch)
	t.Run("CleanCopy", v.testCleanCopy)
	t.Run("Revalidate", v.testRevalidate)
	t.Run("Deletes", v.testDeletes)
	t.Run("DirMeta", v.testDirMeta)
}

const part = 5 << 20

// testModel: random writes, truncations and reads at part edges, checked
// against a byte slice; now and then the file is synced, and another
// client, with nothing cached, must read exactly the model.
func (v *env) testModel(t *testing.T) {
	prefix := randName("model-")
	s := v.open(t, s3store.Options{Prefix: prefix, PartSize: part})
	defer s.Close()
	other := v.open(t, s3store.Options{Prefix: prefix, PartSize: part, MetaTTL: -1})
	defer other.Close()
	r := mrand.New(mrand.NewSource(7))
	f, err := s.OpenFile("m", os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	edge := func() int64 {
		return max(0, int64(r.Intn(5))*part+int64(r.Intn(2001))-1000)
	}
	verify := func(g store.File, what string) {
		t.Helper()
		all := make([]byte, len(want)+10)
		n, err := g.ReadAt(all, 0)
		if err != nil && err != io.EOF {
			t.Fatalf("%s: read: %v", what, err)
		}
		if !bytes.Equal(all[:n], want) {
			t.Fatalf("%s: content differs (%d bytes, want %d)", what, n, len(want))
		}
	}
	for i := range 120 {
		switch op := r.Intn(10); {
		case op < 5:
			off := edge()
			data := make([]byte, r.Intn(3000)+1)
			if r.Intn(8) == 0 {
				data = make([]byte, part+r.Intn(1000))
			}
			r.Read(data)
			if _, err := f.WriteAt(data, off); err != nil {
				t.Fatalf("op %d write: %v", i, err)
			}
			if end := off + int64(len(data)); end > int64(len(want)) {
				want = append(want, make([]byte, end-int64(len(want)))...)
			}
			copy(want[off:], data)
		case op == 5:
			size := edge()
			if err := f.Truncate(size); err != nil {
				t.Fatalf("op %d truncate: %v", i, err)
			}
			if size < int64(len(want)) {
				want = want[:size]
			} else {
				want = append(want, make([]byte, size-int64(len(want)))...)
			}
		case op == 6:
			if err := f.Sync(); err != nil {
				t.Fatalf("op %d sync: %v", i, err)
			}
			g, err := other.OpenFile("m", os.O_RDONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			verify(g, fmt.Sprintf("op %d, other client", i))
			g.Close()
		case op == 7:
			if err := f.Close(); err != nil {
				t.Fatalf("op %d close: %v", i, err)
			}
			if f, err = s.OpenFile("m", os.O_RDWR, 0); err != nil {
				t.Fatal(err)
			}
		default:
			off, n := edge(), r.Intn(20000)
			buf := make([]byte, n)
			got, err := f.ReadAt(buf, off)
			wantN := max(0, min(int64(n), int64(len(want))-off))
			if int64(got) != wantN || err != nil && err != io.EOF || !bytes.Equal(buf[:got], want[off:off+wantN]) {
				t.Fatalf("op %d: ReadAt(%d, %d) = %d, %v; want %d bytes", i, n, off, got, err, wantN)
			}
		}
		if fi, err := f.Stat(); err != nil || fi.Size() != int64(len(want)) {
			t.Fatalf("op %d: Stat size %v, %v; want %d", i, fi.Size(), err, len(want))
		}
	}
	verify(f, "end")
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	g, err := other.OpenFile("m", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	verify(g, "after close, other client")
}

// testPartialUpload: a patch of a few bytes in a large object uploads its
// part, and the other parts are copied in the bucket.
func (v *env) testPartialUpload(t *testing.T) {
	cnt := &counter{}
	prefix := randName("partial-")
	s := v.open(t, s3store.Options{Client: client(v.c, cnt), Prefix: prefix, PartSize: part})
	defer s.Close()
	data := make([]byte, 4*part+123)
	rand.Read(data)
	f, err := s.OpenFile("big", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	cnt.sent.Store(0)
	cnt.copies.Store(0)
	f, err = s.OpenFile("big", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	copy(data[2*part+10:], "patch")
	if _, err := f.WriteAt([]byte("patch"), 2*part+10); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if sent := cnt.sent.Load(); sent > part+part/10 {
		t.Errorf("a 5-byte patch sent %d bytes; want about one part (%d)", sent, part)
	}
	if n := cnt.copies.Load(); n != 4 {
		t.Errorf("%d server-side part copies, want 4", n)
	}
	other := v.open(t, s3store.Options{Prefix: prefix})
	defer other.Close()
	g, err := other.OpenFile("big", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	got := make([]byte, len(data))
	if n, err := g.ReadAt(got, 0); n != len(data) || err != nil && err != io.EOF || !bytes.Equal(got, data) {
		t.Fatalf("content after the patch differs (%d bytes, %v)", n, err)
	}
}

// testReadAhead: a sequential read in small pieces is one streaming GET
// (after a GET of the first piece), and a random read takes one GET of
// its own. (The object comes from another client: what a Store wrote
// itself it reads from its clean copy, see testCleanCopy.)
func (v *env) testReadAhead(t *testing.T) {
	cnt := &counter{}
	prefix := randName("ra-")
	s := v.open(t, s3store.Options{Client: client(v.c, cnt), Prefix: prefix, ReadAhead: 4 << 20})
	defer s.Close()
	data := make([]byte, 16<<20)
	rand.Read(data)
	w := v.open(t, s3store.Options{Prefix: prefix})
	f, _ := w.OpenFile("stream", os.O_RDWR|os.O_CREATE, 0o600)
	f.WriteAt(data, 0)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f, err := s.OpenFile("stream", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cnt.gets.Store(0)
	buf := make([]byte, 128<<10)
	for off := 0; off < len(data); off += len(buf) {
		n, err := f.ReadAt(buf, int64(off))
		if n != len(buf) || err != nil && err != io.EOF || !bytes.Equal(buf, data[off:off+n]) {
			t.Fatalf("read at %d: %d, %v", off, n, err)
		}
	}
	pieces := len(data) / len(buf)
	if g := cnt.gets.Load(); g > 2 {
		t.Errorf("sequential read of %d pieces took %d GETs, want one stream (and one GET for the first piece)", pieces, g)
	}
	f.Close()
	if f, err = s.OpenFile("stream", os.O_RDONLY, 0); err != nil {
		t.Fatal(err)
	}
	cnt.gets.Store(0)
	for _, off := range []int64{9 << 20, 1 << 20, 13 << 20} {
		if n, _ := f.ReadAt(buf[:100], off); n != 100 || !bytes.Equal(buf[:100], data[off:off+100]) {
			t.Fatalf("random read at %d", off)
		}
	}
	if g := cnt.gets.Load(); g != 3 {
		t.Errorf("3 random reads took %d GETs", g)
	}
}

// testConflict: two clients change one object; the one that uploads
// second gets a ConflictError (EIO) and the first one's content stays;
// the loser's content is kept in its cache's conflicts folder.
func (v *env) testConflict(t *testing.T) {
	prefix := randName("conflict-")
	a := v.open(t, s3store.Options{Prefix: prefix})
	defer a.Close()
	cacheB := t.TempDir()
	b := v.open(t, s3store.Options{Prefix: prefix, CacheDir: cacheB})
	defer b.Close()
	writeObj(t, a, "f", "original")
	fa, err := a.OpenFile("f", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := b.OpenFile("f", os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fa.WriteAt([]byte("AAAA"), 0)
	fb.WriteAt([]byte("BBBB"), 0)
	if err := fa.Close(); err != nil {
		t.Fatalf("first upload: %v", err)
	}
	err = fb.Sync()
	var ce *s3store.ConflictError
	if !errors.As(err, &ce) || !errors.Is(err, s3store.ErrConflict) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("second upload: %v, want a ConflictError", err)
	}
	if ce.Kept == "" || !strings.HasPrefix(ce.Kept, cacheB) {
		t.Fatalf("conflict copy kept at %q", ce.Kept)
	}
	if kept, err := os.ReadFile(ce.Kept); err != nil || string(kept) != "BBBBinal" {
		t.Fatalf("conflict copy %q, %v", kept, err)
	}
	if err := fb.Close(); !errors.Is(err, s3store.ErrConflict) {
		t.Fatalf("close after the conflict: %v", err)
	}
	if got := readObj(t, b, "f"); got != "AAAAinal" {
		t.Fatalf("object is %q after the conflict", got)
	}
	// Two creations of one new name: the second is refused too.
	c1, _ := a.OpenFile("new", os.O_RDWR|os.O_CREATE, 0o600)
	c2, _ := b.OpenFile("new", os.O_RDWR|os.O_CREATE, 0o600)
	c1.WriteAt([]byte("one"), 0)
	c2.WriteAt([]byte("two"), 0)
	if err := c1.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c2.Close(); !errors.Is(err, s3store.ErrConflict) {
		t.Fatalf("second creation: %v", err)
	}
	if got := readObj(t, a, "new"); got != "one" {
		t.Fatalf("new is %q", got)
	}
}

func writeObj(t *testing.T, s store.Store, name, data string) {
	t.Helper()
	f, err := s.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte(data), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func readObj(t *testing.T, s store.Store, name string) string {
	t.Helper()
	f, err := s.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	b := make([]byte, fi.Size())
	if n, err := f.ReadAt(b, 0); n != len(b) || err != nil && err != io.EOF {
		t.Fatalf("read %s: %d, %v", name, n, err)
	}
	return string(b)
}

// testStale: a reader whose object another client replaces gets ESTALE,
// never a mix of the two versions; one that has the version it opened
// whole (the clean copy of its own upload) goes on reading it.
func (v *env) testStale(t *testing.T) {
	prefix := randName("stale-")
	a := v.open(t, s3store.Options{Prefix: prefix})
	defer a.Close()
	b := v.open(t, s3store.Options{Prefix: prefix})
	defer b.Close()
	// Larger than what a lookup reads ahead, which a reader may use:
	// that is the version it opened, whole.
	writeObj(t, b, "f", strings.Repeat("1", 100000))
	writeObj(t, a, "own", strings.Repeat("1", 100000))
	r, err := a.OpenFile("f", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	own, err := a.OpenFile("own", os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	buf := make([]byte, 10)
	for _, f := range []store.File{r, own} {
		if _, err := f.ReadAt(buf, 500); err != nil {
			t.Fatal(err)
		}
	}
	writeObj(t, b, "f", strings.Repeat("2", 100000))
	writeObj(t, b, "own", strings.Repeat("2", 100000))
	if _, err := r.ReadAt(buf, 90000); !errors.Is(err, syscall.ESTALE) {
		t.Fatalf("read after another client replaced the object: %v (%q)", err, buf)
	}
	if _, err := own.ReadAt(buf, 90000); err != nil || string(buf) != strings.Repeat("1", 10) {
		t.Fatalf("read of the local copy after another client replaced the object: %v (%q)", err, buf)
	}
}

// testWriteBack: with WriteBack, Close returns before the upload; the
// file reads back meanwhile, and Close of the Store uploads it.
func (v *env) testWriteBack(t *testing.T) {
	prefix := randName("wb-")
	s := v.open(t, s3store.Options{Prefix: prefix, WriteBack: time.Hour})
	other := v.open(t, s3store.Options{Prefix: prefix, MetaTTL: -1})
	defer other.Close()
	writeObj(t, s, "f", "later")
	if _, err := other.Lstat("f"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("uploaded before its time: %v", err)
	}
	if got := readObj(t, s, "f"); got != "later" {
		t.Fatalf("read back %q before the upload", got)
	}
	if ents, err := readDir(s, "."); err != nil || !slicesContains(ents, "f") {
		t.Fatalf("listing before the upload: %v %v", ents, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readObj(t, other, "f"); got != "later" {
		t.Fatalf("after Close: %q", got)
	}
}

func readDir(s store.Store, name string) ([]string, error) {
	d, err := s.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	ents, err := d.ReadDir(-1)
	var out []string
	for _, e := range ents {
		out = append(out, e.Name())
	}
	return out, err
}

func slicesContains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// testCrashRecovery: a process writes through a write-back cache and is
// killed (SIGKILL) before any upload; a Store opened later on the same
// cache uploads what it wrote, and a file the dead process had synced is
// there as synced.
func (v *env) testCrashRecovery(t *testing.T) {
	prefix := randName("crash-")
	cache := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), "S3STORE_CHILD="+strings.Join([]string{v.c.Endpoint, v.c.AccessKey, v.c.SecretKey, v.bucket, prefix, cache}, " "))
	cmd.Stderr = cmd.Stdout
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The child prints "ready" once it has written; then it is killed.
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	var out strings.Builder
	sc := bufio.NewScanner(pipe)
	for sc.Scan() && sc.Text() != "ready" {
		out.WriteString(sc.Text() + "\n")
	}
	timer.Stop()
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if sc.Text() != "ready" {
		t.Fatalf("child ended before it was ready:\n%s", out.String())
	}
	probe := v.open(t, s3store.Options{Prefix: prefix, MetaTTL: -1})
	defer probe.Close()
	if got := readObj(t, probe, "synced"); got != "synced content" {
		t.Fatalf("synced file: %q", got)
	}
	if _, err := probe.Lstat("pending"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("pending file uploaded by a killed process: %v", err)
	}
	s := v.open(t, s3store.Options{Prefix: prefix, CacheDir: cache, WriteBack: time.Hour})
	if got := readObj(t, s, "pending"); got != "written, never synced" {
		t.Fatalf("pending file through the recovering store: %q", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readObj(t, probe, "pending"); got != "written, never synced" {
		t.Fatalf("pending file after recovery: %q", got)
	}
	if got := readObj(t, probe, "synced"); got != "synced content, then more" {
		t.Fatalf("synced file after recovery: %q", got)
	}
	// A new file still open when the process died is lost whole.
	if _, err := probe.Lstat("unclosed"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("new file never closed nor synced, after recovery: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(cache)); len(ents) != 1 {
		t.Fatalf("cache folders: %v", ents)
	}
}

// TestCrashChild is the process testCrashRecovery kills.
func TestCrashChild(t *testing.T) {
	arg := os.Getenv("S3STORE_CHILD")
	if arg == "" {
		return // only as testCrashRecovery's child
	}
	p := strings.Split(arg, " ")
	cl := s3.New(s3.Options{Region: testweed.Region, BaseEndpoint: aws.String(p[0]), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(p[1], p[2], "")})
	s, err := s3store.New(context.Background(), &s3store.Options{Client: cl, Bucket: p[3], Prefix: p[4], CacheDir: p[5], WriteBack: time.Hour,
		SyncUpload: true})
	if err != nil {
		t.Fatal(err)
	}
	f, _ := s.OpenFile("synced", os.O_RDWR|os.O_CREATE, 0o600)
	f.WriteAt([]byte("synced content"), 0)
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte(", then more"), 14)
	g, _ := s.OpenFile("pending", os.O_RDWR|os.O_CREATE, 0o600)
	g.WriteAt([]byte("written, never synced"), 0)
	g.Close() // deferred by WriteBack
	h, _ := s.OpenFile("unclosed", os.O_RDWR|os.O_CREATE, 0o600)
	h.WriteAt([]byte("never closed nor synced"), 0)
	fmt.Println("ready")
	time.Sleep(time.Minute)
}

// testCacheBusy: two Stores may not share a cache folder.
func (v *env) testCacheBusy(t *testing.T) {
	prefix := randName("busy-")
	cache := t.TempDir()
	a := v.open(t, s3store.Options{Prefix: prefix, CacheDir: cache})
	defer a.Close()
	_, err := s3store.New(context.Background(), &s3store.Options{Client: client(v.c, nil), Bucket: v.bucket, Prefix: prefix, CacheDir: cache})
	if !errors.Is(err, s3store.ErrCacheBusy) {
		t.Fatalf("second Store on one cache: %v", err)
	}
	// Another prefix has a folder of its own.
	b := v.open(t, s3store.Options{Prefix: prefix + "-other", CacheDir: cache})
	b.Close()
}

// testPrefetch: a listing looks its entries up in the background, so
// the stats that follow take no request each; every kind of entry gets
// its own metadata, and removals while the lookups run are not undone
// by a late answer.
func (v *env) testPrefetch(t *testing.T) {
	prefix := randName("pf-")
	w := v.open(t, s3store.Options{Prefix: prefix})
	defer w.Close()
	if err := w.Mkdir("d", 0o700); err != nil {
		t.Fatal(err)
	}
	const n = 40
	mtime := time.Unix(1700000000, 5)
	for i := range n {
		name := fmt.Sprintf("d/f%02d", i)
		writeObj(t, w, name, strings.Repeat("x", i))
		if err := w.Chmod(name, fs.FileMode(0o600|i%2*0o100)); err != nil {
			t.Fatal(err)
		}
		if err := w.Lchtimes(name, mtime, mtime.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Mkdir("d/sub", 0o710); err != nil {
		t.Fatal(err)
	}
	if err := w.Symlink("f01", "d/link"); err != nil {
		t.Fatal(err)
	}
	syncDir(t, w, "d/sub") // a new directory's marker waits a little

	r := v.open(t, s3store.Options{Prefix: prefix})
	defer r.Close()
	names, err := readDir(r, "d")
	if err != nil || len(names) != n+2 {
		t.Fatalf("listing: %v %v", names, err)
	}
	// The listing alone looks every entry up, in the background.
	deadline := time.Now().Add(10 * time.Second)
	for r.Stats().Requests["HeadObject"] < n+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	for last := int64(-1); last != r.Stats().Total(); time.Sleep(300 * time.Millisecond) {
		last = r.Stats().Total() // the last lookups (the directory's) end
	}
	before := r.Stats()
	for i := range n {
		fi, err := r.Lstat(fmt.Sprintf("d/f%02d", i))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != int64(i) || fi.Mode() != fs.FileMode(0o600|i%2*0o100) || !fi.ModTime().Equal(mtime.Add(time.Duration(i)*time.Second)) {
			t.Errorf("f%02d: size %d, mode %v, mtime %v", i, fi.Size(), fi.Mode(), fi.ModTime())
		}
	}
	if fi, err := r.Lstat("d/sub"); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o710 {
		t.Errorf("sub: %v %v", fi, err)
	}
	if fi, err := r.Lstat("d/link"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("link: %v %v", fi, err)
	}
	// What is left is reading the symlink's target.
	if after := r.Stats(); after.Total()-before.Total() > 1 {
		t.Errorf("%d lookups after a listing and its prefetch took %d requests (before: %s; after: %s)", n+2, after.Total()-before.Total(), before, after)
	}

	// Removals race with a prefetch; what is removed stays removed.
	q := v.open(t, s3store.Options{Prefix: prefix})
	defer q.Close()
	if _, err := readDir(q, "d"); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := q.Remove(fmt.Sprintf("d/f%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		name := fmt.Sprintf("d/f%02d", i)
		if _, err := q.Lstat(name); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("%s after its removal: %v", name, err)
		}
		f, err := q.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			t.Fatalf("create %s again: %v", name, err)
		}
		f.Close()
	}
}

// quiet waits until the Store's background lookups and listings end.
func quiet(s *s3store.Store) {
	for last := int64(-1); last != s.Stats().Total(); time.Sleep(300 * time.Millisecond) {
		last = s.Stats().Total()
	}
}

// testCleanCopy: what a Store uploaded it reads back from its cache
// while the bucket has that version, and from the bucket once another
// client replaced it; a write to it copies the untouched parts in the
// bucket.
func (v *env) testCleanCopy(t *testing.T) {
	prefix := randName("clean-")
	s := v.open(t, s3store.Options{Prefix: prefix, PartSize: part, CacheMaxSize: 3 * part, MetaTTL: time.Second})
	defer s.Close()
	data := make([]byte, 2*part+10)
	rand.Read(data)
	writeObj(t, s, "f", string(data))
	before := s.Stats()
	if got := readObj(t, s, "f"); got != string(data) {
		t.Fatal("read back differs")
	}
	if d := s.Stats().Requests["GetObject"] - before.Requests["GetObject"]; d != 0 {
		t.Errorf("reading back what was uploaded took %d GETs", d)
	}
	// Beyond CacheMaxSize the oldest copy goes.
	writeObj(t, s, "g", string(data))
	before = s.Stats()
	if got := readObj(t, s, "f"); got != string(data) {
		t.Fatal("read back differs")
	}
	if d := s.Stats().Requests["GetObject"] - before.Requests["GetObject"]; d == 0 {
		t.Errorf("a copy past CacheMaxSize was kept")
	}
	other := v.open(t, s3store.Options{Prefix: prefix})
	defer other.Close()
	writeObj(t, other, "g", "replaced")
	time.Sleep(1100 * time.Millisecond) // past MetaTTL
	if got := readObj(t, s, "g"); got != "replaced" {
		t.Fatalf("read after another client replaced the object: %q", got)
	}
}

// testRevalidate: expired lookups are made fresh by a listing that shows
// the same version, so walking a tree again costs one LIST per
// directory; a change by another client, even of metadata only, is seen.
func (v *env) testRevalidate(t *testing.T) {
	prefix := randName("reval-")
	s := v.open(t, s3store.Options{Prefix: prefix, MetaTTL: time.Second})
	defer s.Close()
	if err := s.Mkdir("d", 0o750); err != nil {
		t.Fatal(err)
	}
	names := []string{"a", "b", "d/x", "d/y"}
	for _, n := range names {
		writeObj(t, s, n, "content of "+n)
	}
	if err := s.Symlink("a", "l"); err != nil {
		t.Fatal(err)
	}
	// Past the lookups' expiry, and past the slack a LastModified needs
	// (whole seconds, clocks apart).
	time.Sleep(3 * time.Second)
	walk := func() (s3store.Stats, []fs.FileInfo) {
		before := s.Stats()
		var fis []fs.FileInfo
		for _, dir := range []string{".", "d"} {
			if _, err := readDir(s, dir); err != nil {
				t.Fatal(err)
			}
			quiet(s)
		}
		for _, n := range append([]string{"d", "l"}, names...) {
			fi, err := s.Lstat(n)
			if err != nil {
				t.Fatal(err)
			}
			fis = append(fis, fi)
			if n != "l" && n != "d" {
				if got := readObj(t, s, n); got != "content of "+n {
					t.Fatalf("%s: %q", n, got)
				}
			}
		}
		after := s.Stats()
		d := s3store.Stats{Requests: map[string]int64{}}
		for k, c := range after.Requests {
			if c -= before.Requests[k]; c != 0 {
				d.Requests[k] = c
			}
		}
		return d, fis
	}
	// The first walk adopts the bucket's LastModified of what this
	// Store wrote; the second finds nothing to ask but the listings
	// (and the symlink's target).
	walk()
	time.Sleep(1100 * time.Millisecond)
	d, _ := walk()
	t.Logf("second walk: %s", d)
	if d.Total() != d.Requests["ListObjectsV2"]+1 || d.Requests["ListObjectsV2"] != 2 {
		t.Errorf("a walk of 2 directories with expired lookups took %s, want 2 listings and a symlink's read", d)
	}
	// Another client changes a file's mode only, which keeps its ETag,
	// and a directory's.
	other := v.open(t, s3store.Options{Prefix: prefix})
	defer other.Close()
	if err := other.Chmod("b", 0o640); err != nil {
		t.Fatal(err)
	}
	if err := other.Chmod("d", 0o700); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	_, fis := walk()
	if fis[0].Mode().Perm() != 0o700 {
		t.Errorf("d after another client's chmod: %v", fis[0].Mode())
	}
	if fis[3].Mode().Perm() != 0o640 {
		t.Errorf("b after another client's chmod: %v", fis[3].Mode())
	}
}

// testDeletes: removals reach the bucket in batches, in the background;
// a name removed and written again at once keeps its new object, rmdir
// of a directory whose content is on its way out works, and Sync of a
// directory waits until the bucket has the removals.
func (v *env) testDeletes(t *testing.T) {
	s, probe := v.storeAndProbe(t, "del-")
	if err := s.Mkdir("d", 0o700); err != nil {
		t.Fatal(err)
	}
	if err := s.Mkdir("d/sub", 0o700); err != nil {
		t.Fatal(err)
	}
	const n = 30
	for i := range n {
		writeObj(t, s, fmt.Sprintf("d/sub/f%02d", i), "x")
	}
	writeObj(t, s, "again", "old")
	before := s.Stats()
	for i := range n {
		if err := s.Remove(fmt.Sprintf("d/sub/f%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Remove("d/sub"); err != nil {
		t.Fatalf("rmdir of a directory whose files are being deleted: %v", err)
	}
	if err := s.Remove("d"); err != nil {
		t.Fatalf("rmdir of a directory whose subdirectory is being deleted: %v", err)
	}
	if err := s.Remove("again"); err != nil {
		t.Fatal(err)
	}
	writeObj(t, s, "again", "new")
	// rmdir of a directory with its IV alone (store.DirWithRemover).
	if err := s.Mkdir("iv", 0o700); err != nil {
		t.Fatal(err)
	}
	writeObj(t, s, "iv/gocryptfs.diriv", "0123456789abcdef")
	writeObj(t, s, "iv/other", "x")
	if err := s.RemoveDirWith("iv", "gocryptfs.diriv"); !errors.Is(err, syscall.ENOTEMPTY) {
		t.Fatalf("RemoveDirWith of a directory with another file: %v", err)
	}
	if err := s.RemoveDirWith("again", "gocryptfs.diriv"); !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("RemoveDirWith of a file: %v", err)
	}
	if err := s.Remove("iv/other"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveDirWith("iv", "gocryptfs.diriv"); err != nil {
		t.Fatalf("RemoveDirWith of a directory with its IV alone: %v", err)
	}
	if _, err := s.Lstat("d"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("removed directory: %v", err)
	}
	syncDir(t, s, ".")
	st := s.Stats()
	if d := st.Requests["DeleteObjects"] - before.Requests["DeleteObjects"]; d < 1 || d > n/4 || st.Requests["DeleteObject"] != 0 {
		t.Errorf("%d removals took %d DeleteObjects and %d DeleteObject requests", n+3, d, st.Requests["DeleteObject"])
	}
	if names, err := readDir(probe, "."); err != nil || len(names) != 1 || names[0] != "again" {
		t.Fatalf("bucket after the removals: %v %v", names, err)
	}
	if got := readObj(t, probe, "again"); got != "new" {
		t.Fatalf("a name removed and written again: %q", got)
	}
}

// testDirMeta: a directory's mode and times reach its marker in one PUT
// a little later (lookups see them at once), or at its Sync; a directory
// removed meanwhile stays removed.
func (v *env) testDirMeta(t *testing.T) {
	s, probe := v.storeAndProbe(t, "dm-")
	for _, d := range []string{"d", "gone"} {
		if err := s.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mt := time.Unix(1600000000, 7)
	before := s.Stats()
	for _, d := range []string{"d", "gone"} {
		if err := s.Chmod(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := s.Lchtimes(d, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	if fi, err := s.Lstat("d"); err != nil || fi.Mode().Perm() != 0o700 || !fi.ModTime().Equal(mt) {
		t.Fatalf("lookup after chmod and utimens: %v %v", fi, err)
	}
	if err := s.Remove("gone"); err != nil {
		t.Fatal(err)
	}
	syncDir(t, s, "d")
	if n := s.Stats().Requests["PutObject"] - before.Requests["PutObject"]; n != 1 {
		t.Errorf("two changes of a directory and a removed one took %d PUTs, want 1", n)
	}
	if fi, err := probe.Lstat("d"); err != nil || fi.Mode().Perm() != 0o700 || !fi.ModTime().Equal(mt) {
		t.Fatalf("another client after Sync: %v %v", fi, err)
	}
	time.Sleep(1500 * time.Millisecond) // past the delay
	if _, err := probe.Lstat("gone"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("directory removed while its change waited: %v", err)
	}
}

func syncDir(t *testing.T, s store.Store, name string) {
	t.Helper()
	d, err := s.OpenFile(name, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		t.Fatal(err)
	}
}

// storeAndProbe opens a Store on a new prefix, and a second one there
// that caches nothing, to see what the bucket has; both are closed with
// the test.
func (v *env) storeAndProbe(t *testing.T, name string) (s, probe *s3store.Store) {
	prefix := randName(name)
	s = v.open(t, s3store.Options{Prefix: prefix})
	t.Cleanup(func() { s.Close() })
	probe = v.open(t, s3store.Options{Prefix: prefix, MetaTTL: -1})
	t.Cleanup(func() { probe.Close() })
	return s, probe
}
