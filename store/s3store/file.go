package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/sealfs/sealfs/store"
)

func (s *Store) OpenFile(name string, flag int, perm fs.FileMode) (store.File, error) {
	if err := checkName(name); err != nil {
		return nil, pathErr("open", name, err)
	}
	write := flag&(os.O_WRONLY|os.O_RDWR) != 0
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		f, err := s.openFile(name, flag, perm, write)
		if err != errReleased {
			return f, err
		}
	}
}

func (s *Store) openFile(name string, flag int, perm fs.FileMode, write bool) (store.File, error) {
	key := s.key(name)
	// A lookup reused from the cache may name a version another client
	// replaced within MetaTTL: reads then fail with ESTALE, and writes
	// with a conflict, never mixing versions.
	oi, err := s.lookup(name)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	created := false
	switch oi.kind {
	case kDir:
		switch {
		case flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
			return nil, pathErr("open", name, fs.ErrExist)
		case write:
			return nil, pathErr("open", name, syscall.EISDIR)
		}
		return &dirFile{s: s, name: name, oi: oi}, nil
	case kLink:
		if flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0 {
			return nil, pathErr("open", name, fs.ErrExist)
		}
		return nil, pathErr("open", name, syscall.ELOOP)
	case kNone:
		if flag&os.O_CREATE == 0 {
			return nil, pathErr("open", name, fs.ErrNotExist)
		}
		if err := s.parentDir(name); err != nil {
			return nil, pathErr("open", name, err)
		}
		if store.ODirectory != 0 && flag&store.ODirectory != 0 {
			return nil, pathErr("open", name, syscall.ENOTDIR)
		}
		oi = objInfo{kind: kFile, mode: perm.Perm(), mtime: time.Now()}
		created = true
	case kFile:
		if flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0 {
			return nil, pathErr("open", name, fs.ErrExist)
		}
		if store.ODirectory != 0 && flag&store.ODirectory != 0 {
			return nil, pathErr("open", name, syscall.ENOTDIR)
		}
	}
	e, err := s.openEntry(key, oi, created)
	if err == errReleased {
		return nil, err
	}
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	f := &file{s: s, e: e, name: name, read: !write || flag&os.O_RDWR != 0, write: write}
	f.rd.s = s
	if write && flag&os.O_TRUNC != 0 && oi.size > 0 {
		if err := e.truncate(s.ctx(), 0); err != nil {
			f.Close()
			return nil, pathErr("open", name, err)
		}
	}
	return f, nil
}

var errReleased = errors.New("entry released")

// openEntry returns the entry of key for one more open file, making it
// from what lookup found (a new, empty object if created).
func (s *Store) openEntry(key string, oi objInfo, created bool) (*entry, error) {
	s.emu.Lock()
	e := s.entries[key]
	fresh := e == nil
	if fresh {
		e = &entry{s: s, id: randHex(8), key: key, base: oi.etag, baseSize: oi.size, valid: oi.size, size: oi.size,
			mode: oi.mode, mtime: oi.mtime}
		e.ino = inoOf(key, oi.etag)
		switch {
		case created:
			e.ino = inoOf(key, e.id)
		case oi.ino != 0:
			e.ino = oi.ino
		}
		s.entries[key] = e
	}
	s.emu.Unlock()
	e.mu.Lock()
	if fresh && !created && oi.etag != "" {
		e.fromCopy(oi) // outside emu: it opens a file
	}
	if e.released {
		// Its upload finished meanwhile and let it go: what
		// lookup saw is out of date.
		e.mu.Unlock()
		return nil, errReleased
	}
	defer e.mu.Unlock()
	e.refs++
	e.cancelPending()
	if created {
		s.meta.listed(key, false)
		// The new file is an entry only until its first upload: saved
		// at its last close (see entry.changed), so that it is
		// uploaded even if this process dies before that.
		e.dirty = true
		err := e.ensureLocal()
		if err == nil {
			err = e.changed(false)
		}
		if err != nil {
			e.refs--
			return nil, err
		}
	}
	return e, nil
}

// file is an open file of an object: reads and writes go through its
// entry, shared with the other files of the same object.
type file struct {
	s           *Store
	e           *entry
	name        string
	read, write bool
	rd          reader

	mu     sync.Mutex
	closed bool
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if !f.read {
		return 0, pathErr("read", f.name, syscall.EBADF)
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := f.e.readAt(f.s.ctx(), &f.rd, p, off)
	if err != nil && err != io.EOF {
		err = pathErr("read", f.name, err)
	}
	return n, err
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if !f.write {
		return 0, pathErr("write", f.name, syscall.EBADF)
	}
	if off < 0 {
		return 0, pathErr("write", f.name, syscall.EINVAL)
	}
	n, err := f.e.writeAt(f.s.ctx(), p, off)
	return n, pathErr("write", f.name, err)
}

func (f *file) Truncate(size int64) error {
	if !f.write {
		return pathErr("truncate", f.name, syscall.EBADF)
	}
	if size < 0 {
		return pathErr("truncate", f.name, syscall.EINVAL)
	}
	return pathErr("truncate", f.name, f.e.truncate(f.s.ctx(), size))
}

func (f *file) Stat() (fs.FileInfo, error) {
	f.e.mu.Lock()
	key := f.e.key
	f.e.mu.Unlock()
	return f.s.info(strings.TrimPrefix(key, f.s.prefix), f.e.info()), nil
}

// Sync uploads the object if it changed. With Options.WriteBack (and
// not SyncUpload) it makes the change durable in the cache instead (the
// local file and its state are synced to disk, and a later Store uploads
// them if this one cannot) and uploads it WriteBack later.
func (f *file) Sync() error {
	e := f.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if f.s.writeBack <= 0 || f.s.syncUpload || e.conflict != nil || !e.dirty || e.gone {
		return pathErr("sync", f.name, e.upload(f.s.ctx()))
	}
	if err := e.persist(); err != nil {
		return pathErr("sync", f.name, err)
	}
	if e.pending == nil {
		f.s.schedule(e, f.s.writeBack)
	}
	return nil
}

// Close ends the file. The last Close of a changed object uploads it, at
// once or, with Options.WriteBack, a little later (at once when the data
// waiting for upload would exceed Options.CacheMaxSize).
func (f *file) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	f.mu.Unlock()
	f.rd.close()
	e := f.e
	e.mu.Lock()
	defer e.mu.Unlock()
	e.refs--
	if e.refs > 0 {
		return nil
	}
	if e.gone {
		e.drop()
		return nil
	}
	if e.conflict != nil {
		err := e.conflict
		f.s.release(e)
		return pathErr("close", f.name, err)
	}
	if !e.dirty {
		f.s.release(e)
		return nil
	}
	if e.unsaved {
		if err := e.save(); err != nil {
			return pathErr("close", f.name, err)
		}
	}
	if f.s.writeBack > 0 && f.s.queued.Load()+e.size <= f.s.maxPending && !f.s.isClosed() {
		f.s.schedule(e, f.s.writeBack)
		return nil
	}
	if err := e.upload(f.s.ctx()); err != nil {
		if errors.Is(err, ErrConflict) {
			f.s.release(e)
		}
		// Otherwise the data stays in the cache, and a later Store
		// uploads it.
		return pathErr("close", f.name, err)
	}
	f.s.release(e)
	return nil
}

func (f *file) ReadDir(int) ([]fs.DirEntry, error) {
	return nil, pathErr("readdir", f.name, syscall.ENOTDIR)
}

// reader reads the parts of an object that are not local, with ranged
// GETs. A read that follows the one before it (or comes a little ahead
// of it: the kernel sends several reads of a stream at once) goes on
// reading one open GET to the end of the object, so that a stream costs
// one request and TCP does the read-ahead; the last pieces read are kept
// for reads that come a little late. A read elsewhere costs one GET of
// its own size.
type reader struct {
	s       *Store
	mu      sync.Mutex
	tag     string // key and ETag of what is read
	lastEnd int64  // where the previous read ended
	// The open GET, positioned at bodyOff.
	body    io.ReadCloser
	bodyOff int64
	// Pieces read from the stream, newest last, for reads that come
	// late (at most recentMax bytes).
	recent []piece
}

// sliceWriter writes into a byte slice, and fails past its end.
type sliceWriter struct {
	b []byte
	n int
}

func (w *sliceWriter) Write(p []byte) (int, error) {
	if len(p) > len(w.b)-w.n {
		return 0, io.ErrShortWrite
	}
	w.n += copy(w.b[w.n:], p)
	return len(p), nil
}

type piece struct {
	off  int64
	data []byte
}

const (
	streamPiece = 1 << 20 // read from the stream at a time
	recentMax   = 8 << 20 // kept for late reads
	skipMax     = 4 << 20 // a read this far ahead of the stream skips to it
)

// read fills p from the object's bytes at off; limit is where the bytes
// that may be read from the bucket end.
func (r *reader) read(ctx context.Context, key, etag string, limit int64, p []byte, off int64) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if tag := key + "\x00" + etag; r.tag != tag {
		r.closeBody()
		r.recent, r.tag = nil, tag
		if b := r.s.meta.takeHead(key, etag); b != nil {
			r.recent = []piece{{off: 0, data: b}}
		}
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= limit {
			return n, io.EOF
		}
		if m := r.fromRecent(p[n:], at); m > 0 {
			n += m
			continue
		}
		if r.body != nil && r.bodyOff >= limit {
			r.closeBody() // the readable part shrank (a truncation)
		}
		sequential := at == r.lastEnd && at > 0 || r.body != nil && at >= r.bodyOff && at-r.bodyOff <= skipMax
		if !sequential || r.s.readAhead < 0 {
			// One GET of just this read.
			r.closeBody()
			end := min(at+int64(len(p)-n), limit)
			if err := r.s.getRange(ctx, key, etag, at, end, &sliceWriter{b: p[n:]}); err != nil {
				return n, err
			}
			n += int(end - at)
			continue
		}
		if r.body == nil || at < r.bodyOff || at-r.bodyOff > skipMax {
			if err := r.open(ctx, key, etag, at, limit); err != nil {
				return n, err
			}
		}
		if err := r.advance(at, limit); err != nil {
			r.closeBody()
			return n, err
		}
	}
	r.lastEnd = off + int64(n)
	return n, nil
}

// fromRecent copies what the kept pieces hold of [at, ...) into p.
func (r *reader) fromRecent(p []byte, at int64) int {
	for i := len(r.recent) - 1; i >= 0; i-- {
		pc := r.recent[i]
		if at >= pc.off && at < pc.off+int64(len(pc.data)) {
			return copy(p, pc.data[at-pc.off:])
		}
	}
	return 0
}

// open starts a GET from at to the end of what may be read.
func (r *reader) open(ctx context.Context, key, etag string, at, limit int64) error {
	r.closeBody()
	in := &s3.GetObjectInput{Bucket: &r.s.bucket, Key: &key, Range: aws.String(fmt.Sprintf("bytes=%d-%d", at, limit-1))}
	if etag != "" {
		in.IfMatch = aws.String(etag)
	}
	out, err := r.s.c.GetObject(ctx, in)
	if err != nil {
		if isPrecondition(err) || etag != "" && errors.Is(mapErr(err), fs.ErrNotExist) {
			return ErrStale
		}
		return mapErr(err)
	}
	r.body, r.bodyOff = out.Body, at
	return nil
}

// advance reads the stream on to cover at: one piece past it.
func (r *reader) advance(at, limit int64) error {
	for r.bodyOff <= at {
		size := min(int64(streamPiece), limit-r.bodyOff)
		buf := make([]byte, size)
		if _, err := io.ReadFull(r.body, buf); err != nil {
			return err
		}
		r.recent = append(r.recent, piece{off: r.bodyOff, data: buf})
		r.bodyOff += size
		for kept := int64(len(r.recent)) * streamPiece; kept > recentMax; kept -= streamPiece {
			r.recent = r.recent[1:]
		}
		if r.bodyOff >= limit {
			r.closeBody()
			break
		}
	}
	return nil
}

func (r *reader) closeBody() {
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
}

// close ends the open GET.
func (r *reader) close() {
	r.mu.Lock()
	r.closeBody()
	r.recent = nil
	r.mu.Unlock()
}

// dirFile lists a directory.
type dirFile struct {
	s       *Store
	name    string
	oi      objInfo
	entries []fs.DirEntry
	listed  bool
}

type dirEntry struct {
	s    *Store
	dir  string
	name string
	typ  fs.FileMode
}

func (e *dirEntry) Name() string      { return e.name }
func (e *dirEntry) IsDir() bool       { return e.typ.IsDir() }
func (e *dirEntry) Type() fs.FileMode { return e.typ }
func (e *dirEntry) Info() (fs.FileInfo, error) {
	p := e.name
	if e.dir != "." {
		p = path.Join(e.dir, e.name)
	}
	return e.s.Lstat(p)
}

func (d *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.listed {
		kids, err := d.s.list(d.name)
		if err != nil {
			return nil, pathErr("readdir", d.name, err)
		}
		sort.Strings(kids)
		for _, k := range kids {
			e := &dirEntry{s: d.s, dir: d.name, name: k}
			switch {
			case strings.HasSuffix(k, "/"):
				e.name, e.typ = strings.TrimSuffix(k, "/"), fs.ModeDir
			case strings.HasSuffix(k, linkSuffix):
				e.name, e.typ = strings.TrimSuffix(k, linkSuffix), fs.ModeSymlink
			}
			d.entries = append(d.entries, e)
		}
		d.listed = true
		d.s.prefetch(d.name, kids)
	}
	if n <= 0 {
		out := d.entries
		d.entries = nil
		return out, nil
	}
	if len(d.entries) == 0 {
		return nil, io.EOF
	}
	k := min(n, len(d.entries))
	out := d.entries[:k]
	d.entries = d.entries[k:]
	return out, nil
}

func (d *dirFile) ReadAt([]byte, int64) (int, error) {
	return 0, pathErr("read", d.name, syscall.EISDIR)
}
func (d *dirFile) WriteAt([]byte, int64) (int, error) {
	return 0, pathErr("write", d.name, syscall.EISDIR)
}
func (d *dirFile) Truncate(int64) error       { return pathErr("truncate", d.name, syscall.EISDIR) }
func (d *dirFile) Stat() (fs.FileInfo, error) { return d.s.info(d.name, d.oi), nil }
func (d *dirFile) Sync() error {
	// What waits for the bucket here: the directory's own metadata, and
	// deletions (everywhere, to keep it simple).
	d.s.mu.Lock()
	err := d.s.flushDirMetas(d.s.key(d.name), false)
	d.s.mu.Unlock()
	d.s.waitDeleted("")
	return pathErr("sync", d.name, err)
}
func (d *dirFile) Close() error { return nil }
