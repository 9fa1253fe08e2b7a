package webdavfs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/webdav"

	"github.com/sealfs/sealfs"
)

// Options configures a Handler. The zero value (or nil) serves at the root
// of the URL space with in-memory locks and umask 022.
type Options struct {
	// Prefix is the URL path the vault appears under ("/dav"); requests
	// outside it get 404.
	Prefix string
	// ReadOnly refuses every change (403) and advertises WebDAV class 1
	// only, so that clients mount the share read-only. A Handler of a
	// read-only FS or of NewReadOnly is always read-only.
	ReadOnly bool
	// Umask is cleared from the permissions of new files and directories
	// (0 means 022; use a umask with other bits, such as 0o077, to set
	// another).
	Umask fs.FileMode
	// MaxRequestBody limits the bodies of requests other than PUT
	// (PROPFIND, PROPPATCH, LOCK): 0 means 1 MiB. A larger body gets 413.
	MaxRequestBody int64
	// SyncUploads makes an upload reach stable storage (fsync of the file
	// and then of its directory, after the rename) before its 201 goes
	// out, so that a client that deletes its own copy on success loses
	// nothing to a crash of the server's machine. Off by default, as in
	// other WebDAV servers: it costs two flushes per file.
	SyncUploads bool
	// LockSystem holds the WebDAV locks; nil means webdav.NewMemLS().
	LockSystem webdav.LockSystem
	// Logger receives one record per request that failed (Warn for
	// server-side failures, Info for refused ones: 400, 403, 413, 507)
	// and, at Debug level, every request: method, path, status and error. Credentials
	// and request bodies are never logged. nil means silent.
	Logger *slog.Logger
}

// Handler serves a vault over WebDAV. It is an http.Handler; its methods
// are safe for concurrent use.
type Handler struct {
	d      *davFS
	dav    *webdav.Handler
	prefix string
	ro     bool
	maxReq int64
	log    *slog.Logger
}

// New serves the plaintext view of v, read-write unless v or opts say
// read-only. Closing v is the caller's business, after the server using
// the handler has stopped.
func New(v *sealfs.FS, opts *Options) *Handler {
	return newHandler(&davFS{v: v, ro: v.ReadOnly(), uploads: map[string]bool{}}, opts)
}

// NewReadOnly serves fsys read-only, for example the encrypted view of a
// plaintext tree (reverse.FS). Its files must implement io.Seeker. When
// fsys has an Lstat method, its symlinks are not followed (and not shown);
// when it has a Statfs method like *sealfs.FS's, directories report quota
// properties.
func NewReadOnly(fsys fs.FS, opts *Options) *Handler {
	return newHandler(&davFS{src: fsys, ro: true}, opts)
}

func newHandler(d *davFS, opts *Options) *Handler {
	var o Options
	if opts != nil {
		o = *opts
	}
	d.ro = d.ro || o.ReadOnly
	d.sync = o.SyncUploads
	d.umask = o.Umask & fs.ModePerm
	if o.Umask == 0 {
		d.umask = 0o022
	}
	if o.MaxRequestBody <= 0 {
		o.MaxRequestBody = 1 << 20
	}
	if o.LockSystem == nil {
		o.LockSystem = webdav.NewMemLS()
	}
	h := &Handler{d: d, prefix: strings.TrimSuffix(o.Prefix, "/"), ro: d.ro, maxReq: o.MaxRequestBody, log: o.Logger}
	h.dav = &webdav.Handler{Prefix: h.prefix, FileSystem: d, LockSystem: o.LockSystem}
	return h
}

// reqState is what one request's file system calls share: the last error
// worth a status of its own, the upload's body, and for PROPFIND the infos
// a listing found (so that the entries are not looked up again).
type reqState struct {
	method    string
	err       error
	body      *bodyWatch
	wantQuota bool
	infos     map[string]fs.FileInfo
}

type stateKey struct{}

func withState(ctx context.Context, st *reqState) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

func stateOf(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// note remembers err if it calls for a status of its own and is the
// request's first such error (the cause; later ones are consequences), and
// returns it.
func (st *reqState) note(err error) error {
	if st != nil && err != nil && st.err == nil && statusFor(err) != 0 {
		st.err = err
	}
	return err
}

func note(ctx context.Context, err error) error {
	return stateOf(ctx).note(err)
}

// statusFor is the HTTP status of a file system error, where x/net/webdav
// answers with a generic one; 0 keeps webdav's.
func statusFor(err error) int {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return http.StatusInsufficientStorage
	case errors.Is(err, sealfs.ErrReadOnly), errors.Is(err, syscall.EROFS),
		errors.Is(err, fs.ErrPermission), errors.Is(err, sealfs.ErrEscapes):
		return http.StatusForbidden
	case errors.Is(err, syscall.ENOTEMPTY), errors.Is(err, syscall.ENOTDIR):
		return http.StatusConflict
	case errors.Is(err, sealfs.ErrNameTooLong), errors.Is(err, syscall.ENAMETOOLONG),
		errors.Is(err, fs.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, sealfs.ErrCorrupt), errors.Is(err, syscall.EIO):
		return http.StatusInternalServerError
	case errors.Is(err, errIncomplete):
		return http.StatusBadRequest
	}
	return 0
}

// bodyWatch tells whether a PUT's body arrived whole.
type bodyWatch struct {
	r      io.ReadCloser
	done   bool
	failed bool
}

func (b *bodyWatch) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.done = true
	} else if err != nil {
		b.failed = true
	}
	return n, err
}

func (b *bodyWatch) Close() error { return b.r.Close() }

func (b *bodyWatch) complete() bool { return b != nil && b.done && !b.failed }

// writeMethods change the vault.
var writeMethods = map[string]bool{
	"PUT": true, "DELETE": true, "MKCOL": true, "COPY": true, "MOVE": true,
	"PROPPATCH": true, "LOCK": true, "UNLOCK": true,
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := &reqState{method: r.Method}
	sw := &statusWriter{ResponseWriter: w, h: h, r: r, st: st}
	start := time.Now()
	err := h.serve(sw, r, st)
	if !sw.wrote && err != nil {
		sw.fail(err)
	}
	h.logRequest(r, sw, st, err, start)
}

// serve checks what x/net/webdav leaves to its users, then lets it answer.
// It returns an error only when it answered the request itself with a
// failure (through sw.fail) or wants one.
func (h *Handler) serve(sw *statusWriter, r *http.Request, st *reqState) error {
	if h.ro && writeMethods[r.Method] {
		return statusError{http.StatusForbidden, "read-only"}
	}
	if h.ro && r.Method == "OPTIONS" {
		sw.Header().Set("Allow", "OPTIONS, GET, HEAD, PROPFIND")
		sw.Header().Set("DAV", "1")
		sw.WriteHeader(http.StatusOK)
		return nil
	}
	reqPath, ok := h.strip(r.URL.Path)
	if !ok {
		return statusError{http.StatusNotFound, "outside the prefix"}
	}
	if r.Method != "PUT" && r.Body != nil {
		r.Body = http.MaxBytesReader(sw, r.Body, h.maxReq)
	}
	switch r.Method {
	case "PROPFIND":
		if d := r.Header.Get("Depth"); d != "0" && d != "1" {
			sw.Header().Set("Content-Type", "application/xml; charset=utf-8")
			sw.WriteHeader(http.StatusForbidden)
			io.WriteString(sw, `<?xml version="1.0" encoding="utf-8"?>`+
				`<D:error xmlns:D="DAV:"><D:propfind-finite-depth/></D:error>`)
			return nil
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return bodyError(err)
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		st.wantQuota = bytes.Contains(body, []byte("quota-"))
		st.infos = map[string]fs.FileInfo{}
		if err := h.checkPreconditions(r, reqPath); err != nil {
			return err
		}
		names, all, ok := parsePropfind(body)
		if p, err := vaultPath(reqPath); ok && err == nil {
			depth := 0
			if r.Header.Get("Depth") == "1" {
				depth = 1
			}
			if h.propfind(sw, st, reqPath, p, depth, names, all) {
				return nil
			}
		}
	case "COPY", "MOVE":
		if err := h.checkDestination(r, reqPath); err != nil {
			return err
		}
	case "PUT":
		st.body = &bodyWatch{r: r.Body}
		r.Body = st.body
	case "GET", "HEAD":
		// Set here, ServeContent would sniff it from the first 512
		// bytes: a read and a decryption before the response starts.
		sw.Header().Set("Content-Type", contentType(reqPath))
	}
	if err := h.checkPreconditions(r, reqPath); err != nil {
		return err
	}
	h.dav.ServeHTTP(sw, r.WithContext(withState(r.Context(), st)))
	return nil
}

// strip removes the prefix from a request path.
func (h *Handler) strip(p string) (string, bool) {
	if h.prefix == "" {
		return p, true
	}
	if p == h.prefix {
		return "/", true
	}
	if rest, ok := strings.CutPrefix(p, h.prefix+"/"); ok {
		return "/" + rest, true
	}
	return "", false
}

// checkDestination refuses a COPY or MOVE of something into itself (an
// infinite-depth COPY of /a into /a/b would copy until the depth limit).
func (h *Handler) checkDestination(r *http.Request, src string) error {
	u, err := url.Parse(r.Header.Get("Destination"))
	if err != nil {
		return statusError{http.StatusBadRequest, "bad Destination"}
	}
	dst, ok := h.strip(u.Path)
	if !ok {
		return nil // webdav answers 404
	}
	s, d := path.Clean("/"+src), path.Clean("/"+dst)
	if s != d && strings.HasPrefix(d, strings.TrimSuffix(s, "/")+"/") {
		return statusError{http.StatusForbidden, "destination inside the source"}
	}
	return nil
}

// checkPreconditions evaluates If-Match and If-None-Match for the methods
// x/net/webdav does not (GET and HEAD get them from http.ServeContent).
func (h *Handler) checkPreconditions(r *http.Request, reqPath string) error {
	im, inm := r.Header.Get("If-Match"), r.Header.Get("If-None-Match")
	if im == "" && inm == "" || r.Method == "GET" || r.Method == "HEAD" {
		return nil
	}
	etag := ""
	if p, err := vaultPath(reqPath); err == nil {
		if fi, err := h.d.stat(context.Background(), p); err == nil {
			etag = etagOf(fi.(*fileInfo).FileInfo)
		}
	}
	if im != "" && !etagMatch(im, etag, false) {
		return statusError{http.StatusPreconditionFailed, "If-Match"}
	}
	if inm != "" && etagMatch(inm, etag, true) {
		return statusError{http.StatusPreconditionFailed, "If-None-Match"}
	}
	return nil
}

// etagMatch reports whether the list of entity tags in hdr matches etag
// ("" for a missing resource), weakly (If-None-Match) or strongly.
func etagMatch(hdr, etag string, weak bool) bool {
	if etag == "" {
		return false
	}
	for _, t := range strings.Split(hdr, ",") {
		t = strings.TrimSpace(t)
		if t == "*" {
			return true
		}
		if w, ok := strings.CutPrefix(t, "W/"); ok {
			if !weak {
				continue
			}
			t = w
		}
		if t == etag {
			return true
		}
	}
	return false
}

// statusError is a request the Handler answers itself.
type statusError struct {
	status int
	reason string
}

func (e statusError) Error() string { return http.StatusText(e.status) + ": " + e.reason }

func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return statusError{http.StatusRequestEntityTooLarge, "request body too large"}
	}
	return statusError{http.StatusBadRequest, "reading the request body: " + err.Error()}
}

// statusWriter lets the Handler correct the status x/net/webdav gives a
// failure, and finish a PUT (times, ETag) before the response goes out.
type statusWriter struct {
	http.ResponseWriter
	h       *Handler
	r       *http.Request
	st      *reqState
	status  int
	wrote   bool
	swallow bool // the body webdav writes belongs to the status replaced
}

func (w *statusWriter) fail(err error) {
	status := http.StatusInternalServerError
	var se statusError
	if errors.As(err, &se) {
		status = se.status
	}
	w.WriteHeader(status)
	io.WriteString(w, http.StatusText(status)+"\n")
}

// replaceable are the statuses x/net/webdav gives any file system error.
var replaceable = map[int]bool{
	http.StatusNotFound: true, http.StatusMethodNotAllowed: true, http.StatusForbidden: true,
	http.StatusConflict: true, http.StatusInternalServerError: true,
}

func (w *statusWriter) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	if replaceable[code] && w.st.err != nil {
		if c := statusFor(w.st.err); c != 0 && c != code {
			code, w.swallow = c, true
		}
	}
	if w.st.method == "PUT" && code >= 200 && code < 300 {
		w.h.finishPut(w)
	}
	w.status = code
	w.ResponseWriter.WriteHeader(code)
	if w.swallow {
		io.WriteString(w.ResponseWriter, http.StatusText(code)+"\n")
	}
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom sends what r gives in large writes: a GET's body comes here
// from http.ServeContent, which would otherwise read and write it 32 KiB at
// a time (a system call and a decryption call each).
func (w *statusWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.swallow {
		return io.Copy(io.Discard, r)
	}
	buf := copyBufs.Get().(*[copyBuf]byte)
	defer copyBufs.Put(buf)
	return io.CopyBuffer(writerOnly{w.ResponseWriter}, r, buf[:])
}

// copyBuf is the size of the reads and writes of a download.
const copyBuf = 256 << 10

var copyBufs = sync.Pool{New: func() any { return new([copyBuf]byte) }}

// writerOnly hides the ReadFrom of a ResponseWriter, which would copy with
// a small buffer of its own.
type writerOnly struct{ io.Writer }

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// finishPut sets the mtime an X-OC-Mtime header asks for (ownCloud's
// convention, which rclone follows) and the ETag of what now is stored.
func (h *Handler) finishPut(w *statusWriter) {
	reqPath, _ := h.strip(w.r.URL.Path)
	p, err := vaultPath(reqPath)
	if err != nil {
		return
	}
	if v := w.r.Header.Get("X-OC-Mtime"); v != "" {
		if sec, err := strconv.ParseFloat(v, 64); err == nil && h.d.setTimes(p, time.Time{}, time.Unix(0, int64(sec*1e9))) == nil {
			w.Header().Set("X-OC-Mtime", "accepted")
		}
	}
	if fi, err := h.d.stat(context.Background(), p); err == nil {
		w.Header().Set("ETag", etagOf(fi.(*fileInfo).FileInfo))
	}
}

func (h *Handler) logRequest(r *http.Request, sw *statusWriter, st *reqState, err error, start time.Time) {
	if h.log == nil {
		return
	}
	if err == nil {
		err = st.err
	}
	// Statuses clients meet in their normal course (a MKCOL of a
	// directory that exists, a lock held by another) are Debug.
	level := slog.LevelDebug
	switch sw.status {
	case http.StatusForbidden, http.StatusRequestEntityTooLarge, http.StatusBadRequest, http.StatusInsufficientStorage:
		level = slog.LevelInfo
	}
	if sw.status >= 500 {
		level = slog.LevelWarn
	}
	attrs := []any{"method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", time.Since(start)}
	if err != nil {
		attrs = append(attrs, "err", err.Error())
	}
	h.log.Log(context.Background(), level, "webdav", attrs...)
}
