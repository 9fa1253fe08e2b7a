package webdavfs_test

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/store/memstore"
	"github.com/sealfs/sealfs/vault"
	"github.com/sealfs/sealfs/webdavfs"
)

var fast = &sealfs.CreateOptions{Options: vault.Options{ScryptLogN: 10}}

// newServer serves a new vault in a directory over loopback HTTP.
func newServer(t *testing.T, opts *webdavfs.Options) (*sealfs.FS, *httptest.Server, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "vault")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	v, err := sealfs.Create(dir, []byte("pw"), fast)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(webdavfs.New(v, opts))
	t.Cleanup(func() { srv.Close(); v.Close() })
	return v, srv, dir
}

// do sends a request and returns the response with its body read.
func do(t *testing.T, method, url string, body io.Reader, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, url, err)
	}
	return resp, string(b)
}

// expect fails the test unless the response has the status.
func expect(t *testing.T, resp *http.Response, body string, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d\n%s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, body)
	}
}

func put(t *testing.T, url, content string, hdr ...string) *http.Response {
	t.Helper()
	resp, body := do(t, "PUT", url, strings.NewReader(content), hdr...)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT %s: %d\n%s", url, resp.StatusCode, body)
	}
	return resp
}

func readVault(t *testing.T, v *sealfs.FS, name string) string {
	t.Helper()
	b, err := v.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPutGet(t *testing.T) {
	v, srv, _ := newServer(t, nil)
	content := strings.Repeat("sealed ", 5000)
	resp := put(t, srv.URL+"/a.txt", content)
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("PUT gave no ETag")
	}
	if got := readVault(t, v, "a.txt"); got != content {
		t.Fatalf("vault has %d bytes, want %d", len(got), len(content))
	}
	resp, body := do(t, "GET", srv.URL+"/a.txt", nil)
	expect(t, resp, body, 200)
	if body != content || resp.Header.Get("ETag") != etag {
		t.Fatalf("GET: %d bytes, ETag %s (PUT gave %s)", len(body), resp.Header.Get("ETag"), etag)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q", ct)
	}
	if resp.Header.Get("Last-Modified") == "" {
		t.Error("no Last-Modified")
	}
	// Ranges, for video players seeking.
	resp, body = do(t, "GET", srv.URL+"/a.txt", nil, "Range", "bytes=7-13")
	expect(t, resp, body, http.StatusPartialContent)
	if body != "sealed " {
		t.Fatalf("range: %q", body)
	}
	resp, body = do(t, "GET", srv.URL+"/a.txt", nil, "Range", "bytes=40000-")
	expect(t, resp, body, http.StatusRequestedRangeNotSatisfiable)
	// A new upload replaces the file: new content, new ETag, mode kept.
	if err := v.Chmod("a.txt", 0o600); err != nil {
		t.Fatal(err)
	}
	resp = put(t, srv.URL+"/a.txt", "short")
	if resp.Header.Get("ETag") == etag {
		t.Error("the ETag did not change")
	}
	if fi, err := v.Stat("a.txt"); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 5 {
		t.Errorf("after the second PUT: %v %v", fi, err)
	}
	// New files get 0666 less the umask.
	put(t, srv.URL+"/b", "b")
	if fi, _ := v.Stat("b"); fi.Mode().Perm() != 0o644 {
		t.Errorf("new file mode %v", fi.Mode())
	}
	resp, body = do(t, "PUT", srv.URL+"/missing/dir/c", strings.NewReader("c"))
	expect(t, resp, body, http.StatusConflict)
}

func TestConditional(t *testing.T) {
	_, srv, _ := newServer(t, nil)
	etag := put(t, srv.URL+"/f", "one").Header.Get("ETag")
	resp, body := do(t, "GET", srv.URL+"/f", nil, "If-None-Match", etag)
	expect(t, resp, body, http.StatusNotModified)
	resp, body = do(t, "GET", srv.URL+"/f", nil, "If-Match", `"other"`)
	expect(t, resp, body, http.StatusPreconditionFailed)
	// Lost-update protection: a PUT with an old ETag fails.
	resp, body = do(t, "PUT", srv.URL+"/f", strings.NewReader("two"), "If-Match", `"stale"`)
	expect(t, resp, body, http.StatusPreconditionFailed)
	resp, body = do(t, "PUT", srv.URL+"/f", strings.NewReader("two"), "If-Match", etag)
	expect(t, resp, body, http.StatusCreated)
	// Create-only.
	resp, body = do(t, "PUT", srv.URL+"/f", strings.NewReader("three"), "If-None-Match", "*")
	expect(t, resp, body, http.StatusPreconditionFailed)
	resp, body = do(t, "PUT", srv.URL+"/g", strings.NewReader("three"), "If-None-Match", "*")
	expect(t, resp, body, http.StatusCreated)
	resp, body = do(t, "DELETE", srv.URL+"/g", nil, "If-Match", etag)
	expect(t, resp, body, http.StatusPreconditionFailed)
	resp, body = do(t, "GET", srv.URL+"/f", nil)
	if body != "two" {
		t.Fatalf("content %q", body)
	}
}

// propfind lists a collection (Depth 1) and returns the hrefs.
func propfind(t *testing.T, url, depth, xmlBody string) (*http.Response, string) {
	t.Helper()
	return do(t, "PROPFIND", url, strings.NewReader(xmlBody), "Depth", depth, "Content-Type", "application/xml")
}

var hrefRE = regexp.MustCompile(`<D:href>([^<]*)</D:href>`)

func hrefs(body string) []string {
	var out []string
	for _, m := range hrefRE.FindAllStringSubmatch(body, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestPropfind(t *testing.T) {
	v, srv, _ := newServer(t, nil)
	if err := v.MkdirAll("d/e", 0o755); err != nil {
		t.Fatal(err)
	}
	put(t, srv.URL+"/d/x.bin", "xyz")
	resp, body := propfind(t, srv.URL+"/d/", "1", "")
	expect(t, resp, body, 207)
	got := strings.Join(hrefs(body), " ")
	if got != "/d/ /d/e/ /d/x.bin" && got != "/d/ /d/x.bin /d/e/" {
		t.Fatalf("listing %q\n%s", got, body)
	}
	if !strings.Contains(body, "<D:getcontentlength>3</D:getcontentlength>") || !strings.Contains(body, "application/octet-stream") {
		t.Errorf("properties missing:\n%s", body)
	}
	// Depth infinity, also implied by a missing header, is refused.
	for _, depth := range []string{"infinity", ""} {
		resp, body = do(t, "PROPFIND", srv.URL+"/", nil, "Depth", depth)
		expect(t, resp, body, http.StatusForbidden)
		if !strings.Contains(body, "propfind-finite-depth") {
			t.Errorf("Depth %q: %s", depth, body)
		}
	}
	// A huge body is refused before it is parsed.
	huge := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>` + strings.Repeat("<D:x/>", 400000) + `</D:prop></D:propfind>`
	resp, body = propfind(t, srv.URL+"/", "1", huge)
	expect(t, resp, body, http.StatusRequestEntityTooLarge)
	// Quota, when asked for.
	q := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-available-bytes/><D:quota-used-bytes/></D:prop></D:propfind>`
	resp, body = propfind(t, srv.URL+"/", "0", q)
	expect(t, resp, body, 207)
	if m := regexp.MustCompile(`<D:quota-available-bytes>([0-9]+)<`).FindStringSubmatch(body); m == nil || m[1] == "0" {
		t.Errorf("quota:\n%s", body)
	}
	// Named properties: the ones a file does not have are 404, in any
	// namespace; the answer is well-formed XML.
	named := `<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:Z="urn:x"><D:prop><D:getetag/><D:getcontentlength/><Z:color/></D:prop></D:propfind>`
	resp, body = propfind(t, srv.URL+"/d/", "1", named)
	expect(t, resp, body, 207)
	var ms struct {
		Responses []struct {
			Href     string `xml:"href"`
			Propstat []struct {
				Status string `xml:"status"`
			} `xml:"propstat"`
		} `xml:"response"`
	}
	if err := xml.Unmarshal([]byte(body), &ms); err != nil || len(ms.Responses) != 3 {
		t.Fatalf("named PROPFIND: %v, %d responses\n%s", err, len(ms.Responses), body)
	}
	if !strings.Contains(body, `<X:color xmlns:X="urn:x"/>`) || !strings.Contains(body, "404 Not Found") || !strings.Contains(body, `<D:getcontentlength>3</D:getcontentlength>`) {
		t.Errorf("named PROPFIND:\n%s", body)
	}
	// propname is x/net/webdav's.
	resp, body = propfind(t, srv.URL+"/d/", "1", `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>`)
	expect(t, resp, body, 207)
	if !strings.Contains(body, "getetag") || strings.Contains(body, "3</D:getcontentlength>") {
		t.Errorf("propname:\n%s", body)
	}
	resp, body = propfind(t, srv.URL+"/", "0", "")
	if strings.Contains(body, "quota") {
		t.Errorf("allprop lists quota (RFC 4331 says it must not):\n%s", body)
	}
}

func TestCollections(t *testing.T) {
	v, srv, _ := newServer(t, nil)
	resp, body := do(t, "MKCOL", srv.URL+"/a", nil)
	expect(t, resp, body, http.StatusCreated)
	resp, body = do(t, "MKCOL", srv.URL+"/a", nil)
	expect(t, resp, body, http.StatusMethodNotAllowed)
	if fi, _ := v.Stat("a"); fi.Mode().Perm() != 0o755 {
		t.Errorf("MKCOL mode %v", fi.Mode())
	}
	put(t, srv.URL+"/a/f", "f")
	put(t, srv.URL+"/a/g", "g")
	resp, body = do(t, "MKCOL", srv.URL+"/a/b", nil)
	expect(t, resp, body, http.StatusCreated)
	put(t, srv.URL+"/a/b/h", "h")
	// COPY of a tree, MOVE of a file with and without Overwrite.
	resp, body = do(t, "COPY", srv.URL+"/a", nil, "Destination", srv.URL+"/c")
	expect(t, resp, body, http.StatusCreated)
	if readVault(t, v, "c/b/h") != "h" {
		t.Fatal("copy incomplete")
	}
	resp, body = do(t, "MOVE", srv.URL+"/c/f", nil, "Destination", srv.URL+"/c/g", "Overwrite", "F")
	expect(t, resp, body, http.StatusPreconditionFailed)
	resp, body = do(t, "MOVE", srv.URL+"/c/f", nil, "Destination", srv.URL+"/c/g", "Overwrite", "T")
	expect(t, resp, body, http.StatusNoContent)
	if readVault(t, v, "c/g") != "f" {
		t.Fatal("move did not replace")
	}
	resp, body = do(t, "MOVE", srv.URL+"/c", nil, "Destination", srv.URL+"/a/b/c")
	expect(t, resp, body, http.StatusCreated)
	// Into itself: refused, nothing copied.
	resp, body = do(t, "COPY", srv.URL+"/a", nil, "Destination", srv.URL+"/a/b/copy")
	expect(t, resp, body, http.StatusForbidden)
	resp, body = do(t, "MOVE", srv.URL+"/a", nil, "Destination", srv.URL+"/a/x")
	expect(t, resp, body, http.StatusForbidden)
	if _, err := v.Stat("a/b/copy"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("copy into itself left %v", err)
	}
	// DELETE of a tree; of the root: refused.
	resp, body = do(t, "DELETE", srv.URL+"/a", nil)
	expect(t, resp, body, http.StatusNoContent)
	if _, err := v.Stat("a"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("tree not deleted")
	}
	resp, body = do(t, "DELETE", srv.URL+"/", nil)
	expect(t, resp, body, http.StatusForbidden)
	resp, body = do(t, "MOVE", srv.URL+"/", nil, "Destination", srv.URL+"/z")
	expect(t, resp, body, http.StatusForbidden)
	resp, body = do(t, "DELETE", srv.URL+"/nothing", nil)
	expect(t, resp, body, http.StatusNotFound)
}

func TestTimes(t *testing.T) {
	v, srv, _ := newServer(t, nil)
	when := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	resp := put(t, srv.URL+"/f", "x", "X-OC-Mtime", fmt.Sprint(when.Unix()))
	if resp.Header.Get("X-OC-Mtime") != "accepted" {
		t.Error("X-OC-Mtime not accepted")
	}
	mtime := func() time.Time {
		fi, err := v.Stat("f")
		if err != nil {
			t.Fatal(err)
		}
		return fi.ModTime().UTC()
	}
	if !mtime().Equal(when) {
		t.Fatalf("X-OC-Mtime: mtime %v", mtime())
	}
	// The ETag of the response is that of the file with its new mtime.
	r2, _ := do(t, "GET", srv.URL+"/f", nil)
	if r2.Header.Get("ETag") != resp.Header.Get("ETag") {
		t.Errorf("ETag of PUT %s, of GET %s", resp.Header.Get("ETag"), r2.Header.Get("ETag"))
	}
	patch := func(props string) (*http.Response, string) {
		return do(t, "PROPPATCH", srv.URL+"/f", strings.NewReader(`<?xml version="1.0"?>`+
			`<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:schemas-microsoft-com:"><D:set><D:prop>`+
			props+`</D:prop></D:set></D:propertyupdate>`))
	}
	// ownCloud / rclone style.
	resp, body := patch(`<D:lastmodified>1000000000</D:lastmodified>`)
	expect(t, resp, body, 207)
	if !strings.Contains(body, "200 OK") || !mtime().Equal(time.Unix(1000000000, 0).UTC()) {
		t.Fatalf("lastmodified: %v\n%s", mtime(), body)
	}
	// Windows style, with the properties it is content not to keep.
	resp, body = patch(`<Z:Win32LastModifiedTime>Sat, 01 Jan 2011 10:00:00 GMT</Z:Win32LastModifiedTime>` +
		`<Z:Win32CreationTime>Sat, 01 Jan 2011 09:00:00 GMT</Z:Win32CreationTime><Z:Win32FileAttributes>00000020</Z:Win32FileAttributes>`)
	if !strings.Contains(body, "200 OK") || strings.Contains(body, "403") || !mtime().Equal(time.Date(2011, 1, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatalf("Win32LastModifiedTime: %v\n%s", mtime(), body)
	}
	// All or nothing: an unknown property fails the whole PROPPATCH.
	resp, body = patch(`<D:lastmodified>5</D:lastmodified><D:author>me</D:author>`)
	if !strings.Contains(body, "403 Forbidden") || !strings.Contains(body, "424 Failed Dependency") {
		t.Fatalf("mixed PROPPATCH:\n%s", body)
	}
	if !mtime().Equal(time.Date(2011, 1, 1, 10, 0, 0, 0, time.UTC)) {
		t.Fatal("a failed PROPPATCH changed the mtime")
	}
	// The live property cannot be set.
	resp, body = patch(`<D:getlastmodified>Sat, 01 Jan 2000 10:00:00 GMT</D:getlastmodified>`)
	if !strings.Contains(body, "403") {
		t.Fatalf("getlastmodified:\n%s", body)
	}
}

func TestLocks(t *testing.T) {
	_, srv, _ := newServer(t, nil)
	put(t, srv.URL+"/f", "x")
	lock := `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>` +
		`<D:locktype><D:write/></D:locktype><D:owner>test</D:owner></D:lockinfo>`
	resp, body := do(t, "LOCK", srv.URL+"/f", strings.NewReader(lock), "Timeout", "Second-60")
	expect(t, resp, body, http.StatusOK)
	token := resp.Header.Get("Lock-Token")
	if token == "" {
		t.Fatal("no Lock-Token")
	}
	resp, body = do(t, "PUT", srv.URL+"/f", strings.NewReader("y"))
	expect(t, resp, body, webdavStatusLocked)
	resp, body = do(t, "PUT", srv.URL+"/f", strings.NewReader("y"), "If", "("+token+")")
	expect(t, resp, body, http.StatusCreated)
	resp, body = do(t, "UNLOCK", srv.URL+"/f", nil, "Lock-Token", token)
	expect(t, resp, body, http.StatusNoContent)
	put(t, srv.URL+"/f", "z")
	// A LOCK of a new name creates an empty file (Windows, macOS).
	resp, body = do(t, "LOCK", srv.URL+"/new", strings.NewReader(lock))
	expect(t, resp, body, http.StatusCreated)
}

const webdavStatusLocked = 423

// rawRequest sends bytes on a fresh connection and returns the status line.
func rawRequest(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, req)
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("%q: %v", req, err)
	}
	return strings.TrimSpace(line)
}

// TestEscapes: no request reaches outside the vault, whatever its path or
// the symlinks inside.
func TestEscapes(t *testing.T) {
	v, srv, dir := newServer(t, nil)
	secret := filepath.Join(filepath.Dir(dir), "secret")
	if err := os.WriteFile(secret, []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := v.Symlink(secret, "abs"); err != nil {
		t.Fatal(err)
	}
	if err := v.Symlink("../../secret", "rel"); err != nil {
		t.Fatal(err)
	}
	if err := v.Symlink("nowhere", "dangling"); err != nil {
		t.Fatal(err)
	}
	if err := v.Mknod("fifo", syscall.S_IFIFO|0o644, 0); err != nil {
		t.Fatal(err)
	}
	put(t, srv.URL+"/inside", "in")
	if err := v.Symlink("inside", "good"); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(srv.URL, "http://")
	for _, p := range []string{"/../secret", "/../../secret", "/%2e%2e/secret", "/..%2fsecret", "/%2e%2e%2f%2e%2e%2fsecret", "/abs", "/rel", "/fifo", "/dangling"} {
		status := rawRequest(t, addr, "GET "+p+" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		if !strings.Contains(status, " 404 ") && !strings.Contains(status, " 403 ") && !strings.Contains(status, " 400 ") {
			t.Errorf("GET %s: %s", p, status)
		}
	}
	for _, p := range []string{"/abs", "/rel", "/fifo"} {
		resp, body := do(t, "GET", srv.URL+p, nil)
		expect(t, resp, body, http.StatusForbidden)
	}
	resp, body := do(t, "GET", srv.URL+"/good", nil)
	expect(t, resp, body, 200)
	if body != "in" {
		t.Fatalf("symlink inside: %q", body)
	}
	// A PUT through an escaping symlink does not write outside.
	resp, body = do(t, "PUT", srv.URL+"/abs", strings.NewReader("overwritten"))
	if resp.StatusCode < 400 {
		t.Errorf("PUT through an escaping symlink: %d", resp.StatusCode)
	}
	if b, _ := os.ReadFile(secret); string(b) != "SECRET" {
		t.Fatalf("outside file changed: %q", b)
	}
	resp, body = propfind(t, srv.URL+"/", "1", "")
	for _, h := range hrefs(body) {
		if h == "/abs" || h == "/rel" || h == "/fifo" || h == "/dangling" || strings.Contains(h, "secret") {
			t.Errorf("listed %s", h)
		}
	}
	if !strings.Contains(body, "<D:href>/good</D:href>") {
		t.Errorf("the good symlink is not listed:\n%s", body)
	}
	// Temporary upload names are out of reach.
	resp, body = do(t, "PUT", srv.URL+"/"+webdavfs.UploadPrefix+"x", strings.NewReader("x"))
	expect(t, resp, body, http.StatusForbidden)
}

// TestInterruptedPut: a client that goes away halfway leaves the old file
// whole, and the server goes on serving.
func TestInterruptedPut(t *testing.T) {
	v, srv, _ := newServer(t, nil)
	put(t, srv.URL+"/f", "old content")
	c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "PUT /f HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", 1<<22)
	c.Write(bytes.Repeat([]byte("n"), 1<<21))
	time.Sleep(100 * time.Millisecond)
	c.Close()
	// Chunked, cut off before the last chunk.
	c, err = net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "PUT /f HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n10000\r\n%s\r\n", bytes.Repeat([]byte("m"), 0x10000))
	time.Sleep(100 * time.Millisecond)
	c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		names, err := v.ReadDir(".")
		if err != nil {
			t.Fatal(err)
		}
		left := 0
		for _, n := range names {
			if strings.HasPrefix(n.Name(), webdavfs.UploadPrefix) {
				left++
			}
		}
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d temporary files left", left)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := readVault(t, v, "f"); got != "old content" {
		t.Fatalf("after interrupted PUTs: %d bytes %.20q", len(got), got)
	}
	resp, body := do(t, "GET", srv.URL+"/f", nil)
	expect(t, resp, body, 200)

	// What a killed server left is removed by a listing once stale; a
	// recent one may be another server's upload in progress.
	stale, fresh := webdavfs.UploadPrefix+"stale", webdavfs.UploadPrefix+"fresh"
	for _, n := range []string{stale, fresh} {
		if err := v.WriteFile(n, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	if err := v.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	resp, body = propfind(t, srv.URL+"/", "1", "")
	if strings.Contains(body, webdavfs.UploadPrefix) {
		t.Errorf("temporary files listed:\n%s", body)
	}
	if _, err := v.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary file: %v", err)
	}
	if _, err := v.Stat(fresh); err != nil {
		t.Errorf("recent temporary file: %v", err)
	}
}

// hookStore is a memstore whose files call hooks: write before each
// WriteAt (its error fails the write), sync at each Sync.
type hookStore struct {
	*memstore.Store
	write func(n int) error
	sync  func()
}

func (s hookStore) OpenFile(name string, flag int, perm fs.FileMode) (store.File, error) {
	f, err := s.Store.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return hookFile{f, s}, nil
}

type hookFile struct {
	store.File
	s hookStore
}

func (f hookFile) WriteAt(p []byte, off int64) (int, error) {
	if f.s.write != nil {
		if err := f.s.write(len(p)); err != nil {
			return 0, err
		}
	}
	return f.File.WriteAt(p, off)
}

func (f hookFile) Sync() error {
	if f.s.sync != nil {
		f.s.sync()
	}
	return f.File.Sync()
}

func TestDiskFull(t *testing.T) {
	// Writes fail with ENOSPC once limit bytes have been written.
	limit := int64(1 << 40)
	st := hookStore{Store: memstore.New(), write: func(n int) error {
		if limit < int64(n) {
			return &fs.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}
		}
		limit -= int64(n)
		return nil
	}}
	v, err := sealfs.CreateStore(st, []byte("pw"), fast)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	srv := httptest.NewServer(webdavfs.New(v, nil))
	defer srv.Close()
	put(t, srv.URL+"/f", "old")
	limit = 100 << 10
	resp, body := do(t, "PUT", srv.URL+"/f", bytes.NewReader(make([]byte, 1<<20)))
	expect(t, resp, body, http.StatusInsufficientStorage)
	limit = 1 << 40
	if got := readVault(t, v, "f"); got != "old" {
		t.Fatalf("after a full disk: %d bytes", len(got))
	}
	resp, body = do(t, "GET", srv.URL+"/f", nil)
	if body != "old" {
		t.Fatalf("GET after a full disk: %d %q", resp.StatusCode, body)
	}
}

// TestCorrupt: data that fails authentication is never sent.
func TestCorrupt(t *testing.T) {
	v, srv, dir := newServer(t, nil)
	content := strings.Repeat("A", 3*4096)
	put(t, srv.URL+"/f", content)
	cpath, err := v.EncryptPath("f")
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.OpenFile(filepath.Join(dir, cpath), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteAt([]byte{0xff}, 18+4096+32+100) // inside block 1
	fh.Close()
	req, _ := http.NewRequest("GET", srv.URL+"/f", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return // refused outright
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err == nil && resp.StatusCode == 200 {
		t.Fatalf("a corrupt file was sent whole (%d bytes)", len(b))
	}
	if bytes.Count(b, []byte("A")) > 4096 {
		t.Fatalf("%d bytes of the file were sent, more than the good block", len(b))
	}
}

func TestReadOnly(t *testing.T) {
	v, srv, _ := newServer(t, &webdavfs.Options{ReadOnly: true})
	if err := v.WriteFile("f", []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"PUT", "DELETE", "MKCOL", "PROPPATCH", "LOCK"} {
		resp, body := do(t, m, srv.URL+"/f", nil)
		expect(t, resp, body, http.StatusForbidden)
	}
	resp, body := do(t, "COPY", srv.URL+"/f", nil, "Destination", srv.URL+"/g")
	expect(t, resp, body, http.StatusForbidden)
	resp, body = do(t, "OPTIONS", srv.URL+"/", nil)
	if resp.Header.Get("DAV") != "1" {
		t.Errorf("read-only OPTIONS: DAV %q", resp.Header.Get("DAV"))
	}
	resp, body = do(t, "GET", srv.URL+"/f", nil)
	if body != "x" {
		t.Fatal(body)
	}
	if readVault(t, v, "f") != "x" {
		t.Fatal("changed")
	}
}

func TestPrefix(t *testing.T) {
	_, srv, _ := newServer(t, &webdavfs.Options{Prefix: "/dav/"})
	put(t, srv.URL+"/dav/f", "x")
	resp, body := do(t, "GET", srv.URL+"/f", nil)
	expect(t, resp, body, http.StatusNotFound)
	resp, body = propfind(t, srv.URL+"/dav/", "1", "")
	if !strings.Contains(body, "<D:href>/dav/f</D:href>") {
		t.Fatalf("%d\n%s", resp.StatusCode, body)
	}
}

func TestBasicAuth(t *testing.T) {
	dir := t.TempDir()
	v, err := sealfs.Create(dir, []byte("pw"), fast)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	users := webdavfs.NewUsers()
	users.AddPassword("alice", []byte("wonderland"))
	hash, _ := bcrypt.GenerateFromPassword([]byte("builder"), 4)
	if err := users.ReadHtpasswd(strings.NewReader("# users\nbob:" + string(hash) + "\n")); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(webdavfs.BasicAuth(webdavfs.New(v, nil), users, "vault"))
	defer srv.Close()
	get := func(user, pw string) int {
		req, _ := http.NewRequest("PROPFIND", srv.URL+"/", nil)
		req.Header.Set("Depth", "0")
		if user != "" {
			req.SetBasicAuth(user, pw)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 401 && !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic realm=") {
			t.Errorf("401 without a challenge")
		}
		return resp.StatusCode
	}
	for _, c := range []struct {
		user, pw string
		want     int
	}{
		{"", "", 401}, {"alice", "wonderland", 207}, {"alice", "Wonderland", 401}, {"alice", "", 401},
		{"bob", "builder", 207}, {"bob", "builder", 207}, {"bob", "wonderland", 401}, {"eve", "builder", 401},
	} {
		if got := get(c.user, c.pw); got != c.want {
			t.Errorf("%q/%q: %d, want %d", c.user, c.pw, got, c.want)
		}
	}
	for _, bad := range []string{"carol:{SHA}abc", "dave:$apr1$x$y", "nocolon", "eve:$2y$31$" + strings.Repeat("a", 53)} {
		if err := webdavfs.NewUsers().ReadHtpasswd(strings.NewReader(bad)); !errors.Is(err, webdavfs.ErrHtpasswd) {
			t.Errorf("htpasswd %q: %v", bad, err)
		}
	}
}

// TestReverse serves a read-only fs.FS without symlinks.
func TestReverse(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("plain"), 0o644)
	os.Symlink("f", filepath.Join(dir, "l"))
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	srv := httptest.NewServer(webdavfs.NewReadOnly(lstatFS{root.FS(), dir}, nil))
	defer srv.Close()
	resp, body := do(t, "GET", srv.URL+"/f", nil)
	if body != "plain" {
		t.Fatalf("%d %q", resp.StatusCode, body)
	}
	resp, body = propfind(t, srv.URL+"/", "1", "")
	if strings.Contains(body, "/l<") {
		t.Errorf("symlink listed:\n%s", body)
	}
	resp, body = do(t, "PUT", srv.URL+"/g", strings.NewReader("x"))
	expect(t, resp, body, http.StatusForbidden)
}

type lstatFS struct {
	fs.FS
	dir string
}

func (l lstatFS) Lstat(name string) (fs.FileInfo, error) {
	return os.Lstat(filepath.Join(l.dir, name))
}

// BenchmarkPropfind lists a directory of 20 files (Depth 1), as a client
// browsing a vault does.
func BenchmarkPropfind(b *testing.B) {
	dir := b.TempDir()
	v, err := sealfs.Create(dir, []byte("pw"), fast)
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	v.Mkdir("d", 0o755)
	for i := range 20 {
		v.WriteFile(fmt.Sprintf("d/file%02d.go", i), []byte("package x\n"), 0o644)
	}
	h := webdavfs.New(v, nil)
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest("PROPFIND", "/d/", nil)
		req.Header.Set("Depth", "1")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != 207 {
			b.Fatal(w.Code)
		}
	}
}

// TestDownloadCutOff: a client that goes away in the middle of a download
// leaves a server that serves the next one whole.
func TestDownloadCutOff(t *testing.T) {
	_, srv, _ := newServer(t, nil)
	content := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	put(t, srv.URL+"/big", string(content))
	for range 3 {
		c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
		buf := make([]byte, 64<<10)
		if _, err := io.ReadFull(c, buf); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
	resp, body := do(t, "GET", srv.URL+"/big", nil)
	expect(t, resp, body, 200)
	if body != string(content) {
		t.Fatalf("got %d bytes", len(body))
	}
}

func TestLocalNames(t *testing.T) {
	h := webdavfs.LocalNames(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	for host, want := range map[string]int{
		"localhost:8080": 200, "LOCALHOST": 200, "127.0.0.1:1": 200, "[::1]:80": 200, "192.0.2.7": 200,
		"evil.example": 403, "evil.example:8080": 403, "127.0.0.1.nip.io": 403, "localhost.evil.example": 403,
	} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != want {
			t.Errorf("Host %q: %d, want %d", host, w.Code, want)
		}
	}
}

// BenchmarkGet downloads a 64 MiB file.
func BenchmarkGet(b *testing.B) {
	v, err := sealfs.Create(b.TempDir(), []byte("pw"), fast)
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close()
	if err := v.WriteFile("big", make([]byte, 64<<20), 0o644); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(webdavfs.New(v, nil))
	defer srv.Close()
	b.SetBytes(64 << 20)
	for b.Loop() {
		resp, err := http.Get(srv.URL + "/big")
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if n != 64<<20 {
			b.Fatal(n)
		}
	}
}

// TestSyncUploads: with SyncUploads, an upload is flushed (file and
// directory) before it is acknowledged; without, nothing is.
func TestSyncUploads(t *testing.T) {
	for _, sync := range []bool{false, true} {
		var n atomic.Int32
		v, err := sealfs.CreateStore(hookStore{Store: memstore.New(), sync: func() { n.Add(1) }}, []byte("pw"), fast)
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(webdavfs.New(v, &webdavfs.Options{SyncUploads: sync}))
		n.Store(0)
		put(t, srv.URL+"/f", "data")
		got := n.Load()
		srv.Close()
		v.Close()
		if sync && got < 2 || !sync && got != 0 {
			t.Errorf("SyncUploads %v: %d syncs", sync, got)
		}
	}
}

// TestPutLinks: a PUT to a hard-linked file keeps the link (both names see
// the new content); a PUT to a symlink keeps the symlink.
func TestPutLinks(t *testing.T) {
	v, srv, _ := newServer(t, nil)
	put(t, srv.URL+"/a", "old")
	if err := v.Link("a", "b"); err != nil {
		t.Fatal(err)
	}
	if err := v.Symlink("a", "s"); err != nil {
		t.Fatal(err)
	}
	put(t, srv.URL+"/b", "via b")
	if got := readVault(t, v, "a"); got != "via b" {
		t.Errorf("hard link: a has %q", got)
	}
	put(t, srv.URL+"/s", "via s")
	if got := readVault(t, v, "b"); got != "via s" {
		t.Errorf("symlink: b has %q", got)
	}
	if fi, err := v.Lstat("s"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v %v", fi, err)
	}
}
