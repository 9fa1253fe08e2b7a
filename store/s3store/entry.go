package s3store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// An entry is the local side of one object while files of it are open,
// or while its changes wait for their upload: the object it started from
// (the base: its ETag and size), a sparse local file holding the parts
// written or fetched, and which parts those are.
//
// The object is cut into parts of Options.PartSize bytes, the unit of a
// multipart upload. A part nobody wrote stays in the bucket: reads fetch
// it with ranged GETs, and an upload copies it server-side
// (UploadPartCopy) from the base. A write first fetches the rest of its
// part, so that the local file holds the whole part from then on.
//
// What was written survives the process: the entry's state (key, base,
// written parts) is kept in a JSON file beside its local file in the
// cache directory, written before the first write to a part, and a new
// Store uploads what an earlier one left behind.
type entry struct {
	s   *Store
	id  string // names the local file and state file in the cache
	ino uint64 // kept through renames (see inoOf)

	mu sync.Mutex
	// key is where the object is (it follows renames).
	key string
	// base is the ETag of the object the local file started from, ""
	// when there was none; baseSize its size. An upload replaces the
	// object only if it is still the base (If-Match; If-None-Match: *
	// when there was none).
	base     string
	baseSize int64
	// token is the random id of the last upload tried, kept in the
	// object's metadata: after a crash, an upload that the bucket refuses
	// because the object changed is recognised as this Store's own.
	token string
	// valid: bytes of the base below it are still the file's content
	// where no part was fetched (a truncation lowers it).
	valid int64
	size  int64
	// parts holds the state of each part the local file has.
	parts map[int64]partState
	local *os.File // nil until something is written or truncated
	mode  fs.FileMode
	mtime time.Time

	refs     int  // open files
	released bool // no longer in the Store's map: not to be opened again
	dirty    bool // content or metadata differ from the object
	gone     bool // removed: never uploaded again
	conflict error
	// saved: the state file exists (it may be behind: unsaved).
	saved, unsaved bool
	pending        *time.Timer // a deferred upload after the last close
	timerSeq       uint64      // numbers pending (see Store.after)
	queued         int64       // counted in Store.queued while waiting
}

type partState uint8

const (
	partLocal partState = iota + 1 // fetched, equal to the base
	partDirty                      // written
)

// persisted is the state file of an entry.
type persisted struct {
	Key      string  `json:"key"`
	Base     string  `json:"base,omitempty"`
	BaseSize int64   `json:"base_size"`
	Token    string  `json:"token,omitempty"`
	Valid    int64   `json:"valid"`
	Dirty    []int64 `json:"dirty_parts"`
	Mode     uint32  `json:"mode"`
	Mtime    int64   `json:"mtime_ns"`
}

func (e *entry) localPath() string { return filepath.Join(e.s.cache.dir, "files", e.id) }
func (e *entry) statePath() string { return e.localPath() + ".json" }

// save writes the entry's state file (e.mu held): write then rename, so
// that a crash leaves the old or the new state. Each state names the
// token of the upload that may follow it, so that an upload that
// completed before a crash is recognised by the next Store.
func (e *entry) save() error {
	e.token = randHex(12)
	p := persisted{Key: e.key, Base: e.base, BaseSize: e.baseSize, Token: e.token, Valid: e.valid,
		Mode: uint32(e.mode.Perm()), Mtime: e.mtime.UnixNano()}
	for i, st := range e.parts {
		if st == partDirty {
			p.Dirty = append(p.Dirty, i)
		}
	}
	sort.Slice(p.Dirty, func(i, j int) bool { return p.Dirty[i] < p.Dirty[j] })
	b, err := json.Marshal(&p)
	if err != nil {
		return err
	}
	tmp := e.statePath() + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, e.statePath()); err != nil {
		return err
	}
	e.saved, e.unsaved = true, false
	return nil
}

// changed notes a change the state file does not have yet (e.mu held).
// When parts (the parts an upload takes from the local file) or the size
// change, the state is saved at once, before the write, so that an
// upload after a crash never mixes parts of two versions; but a new file
// (no object yet, no state file) is saved at its last close or sync:
// one that is still open when the process dies is lost whole, as if it
// had never been created, and an extraction of many small files writes
// one state file each instead of several. Mode and times follow at the
// next save.
func (e *entry) changed(parts bool) error {
	e.unsaved = true
	if parts && (e.saved || e.base != "") {
		return e.save()
	}
	return nil
}

// forgetState removes the state file (e.mu held).
func (e *entry) forgetState() {
	os.Remove(e.statePath())
	e.saved, e.unsaved = false, false
}

// persist makes the entry's local file and state durable on disk (e.mu
// held).
func (e *entry) persist() error {
	if err := e.ensureLocal(); err != nil {
		return err
	}
	if err := e.local.Sync(); err != nil {
		return err
	}
	if err := e.save(); err != nil {
		return err
	}
	for _, p := range []string{e.statePath(), filepath.Dir(e.statePath())} {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// drop removes the entry's files from the cache (e.mu held).
func (e *entry) drop() {
	e.released = true
	e.parts = nil
	if e.local != nil {
		e.local.Close()
		e.local = nil
	}
	os.Remove(e.localPath())
	e.forgetState()
}

func (e *entry) partSize() int64 { return e.s.partSize }

// ensureLocal creates the local file (e.mu held).
func (e *entry) ensureLocal() error {
	if e.local != nil {
		return nil
	}
	f, err := os.OpenFile(e.localPath(), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := f.Truncate(e.size); err != nil {
		f.Close()
		return err
	}
	e.local = f
	if e.parts == nil {
		e.parts = map[int64]partState{}
	}
	return nil
}

// remoteEnd is where the base's bytes that are still content end.
func (e *entry) remoteEnd() int64 { return min(e.valid, e.baseSize, e.size) }

// fetchPart makes part i local (e.mu held): the base's bytes of it that
// are still content are read into the local file.
func (e *entry) fetchPart(ctx context.Context, i int64) error {
	if e.parts[i] != 0 {
		return nil
	}
	if err := e.ensureLocal(); err != nil {
		return err
	}
	start := i * e.partSize()
	end := min(start+e.partSize(), e.remoteEnd())
	if end > start {
		if err := e.s.getRange(ctx, e.key, e.base, start, end, io.NewOffsetWriter(e.local, start)); err != nil {
			return err
		}
	}
	e.parts[i] = partLocal
	return nil
}

// markDirty makes the parts of [off, end) local and written, saving the
// state before anything is written (e.mu held).
func (e *entry) markDirty(ctx context.Context, off, end int64) error {
	if e.conflict != nil {
		return e.conflict
	}
	if err := e.ensureLocal(); err != nil {
		return err
	}
	changed := !e.dirty
	for i := off / e.partSize(); i*e.partSize() < end; i++ {
		if e.parts[i] == partDirty {
			continue
		}
		if err := e.fetchPart(ctx, i); err != nil {
			return err
		}
		e.parts[i] = partDirty
		changed = true
	}
	e.dirty = true
	e.mtime = time.Now()
	return e.changed(changed)
}

func (e *entry) writeAt(ctx context.Context, p []byte, off int64) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(p) == 0 {
		return 0, nil
	}
	end := off + int64(len(p))
	if err := e.markDirty(ctx, off, end); err != nil {
		return 0, err
	}
	n, err := e.local.WriteAt(p, off)
	if end := off + int64(n); end > e.size {
		e.size = end
	}
	if ps := e.partSize(); (off+int64(n))/ps > off/ps {
		// A part was written to its end: the stream has left it.
		startWriteback(e.local, off/ps*ps, ps)
	}
	return n, err
}

func (e *entry) truncate(ctx context.Context, size int64) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conflict != nil {
		return e.conflict
	}
	if err := e.ensureLocal(); err != nil {
		return err
	}
	if size < e.size {
		// The part the cut falls in keeps its head: it becomes local
		// and written; parts wholly behind the cut are dropped.
		if size%e.partSize() != 0 {
			if err := e.markDirty(ctx, size-1, size); err != nil {
				return err
			}
		}
		for j := range e.parts {
			if j*e.partSize() >= size {
				delete(e.parts, j)
			}
		}
	}
	e.valid = min(e.valid, size)
	if err := e.local.Truncate(size); err != nil {
		return err
	}
	e.size = size
	e.dirty = true
	e.mtime = time.Now()
	return e.changed(true)
}

// readAt reads from the local file where the parts are local and from the
// bucket elsewhere (through rd, the reading file's read-ahead).
func (e *entry) readAt(ctx context.Context, rd *reader, p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, syscall.EINVAL
	}
	n := 0
	for n < len(p) {
		e.mu.Lock()
		size := e.size
		if off >= size {
			e.mu.Unlock()
			return n, io.EOF
		}
		i := off / e.partSize()
		segEnd := min((i+1)*e.partSize(), size, off+int64(len(p)-n))
		local := e.local != nil && (e.parts[i] != 0 || off >= e.remoteEnd())
		if !local && segEnd > e.remoteEnd() {
			segEnd = e.remoteEnd()
		}
		key, base, remoteEnd, lf := e.key, e.base, e.remoteEnd(), e.local
		e.mu.Unlock()
		seg := p[n : n+int(segEnd-off)]
		var m int
		var err error
		if local {
			m, err = lf.ReadAt(seg, off)
			if err == io.EOF && m == len(seg) {
				err = nil
			}
		} else {
			m, err = rd.read(ctx, key, base, remoteEnd, seg, off)
		}
		n += m
		off += int64(m)
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// info is the entry's size and metadata (for lookups and Stat).
func (e *entry) info() objInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	return objInfo{kind: kFile, size: e.size, mtime: e.mtime, mode: e.mode, etag: e.base, ino: e.ino}
}

// ConflictError is the error of an upload that would have replaced a
// change another client made to the object meanwhile (the bucket refused
// the conditional write). The local content is kept in the cache
// directory's "conflicts" folder.
type ConflictError struct {
	Key  string // the object
	Kept string // where the local content was kept ("" if it was not)
}

func (e *ConflictError) Error() string {
	s := "s3store: " + e.Key + " was changed by another client; this change was not uploaded"
	if e.Kept != "" {
		s += " (kept in " + e.Kept + ")"
	}
	return s
}

// Unwrap makes a ConflictError match ErrConflict and syscall.EIO, the
// errno a mount reports.
func (e *ConflictError) Unwrap() []error { return []error{ErrConflict, syscall.EIO} }

// ErrConflict matches every ConflictError.
var ErrConflict = errors.New("s3store: conflicting change by another client")

// upload writes the entry's content to its key, replacing the base and
// nothing else (e.mu held). Parts nobody wrote are copied
// server-side from the base.
func (e *entry) upload(ctx context.Context) error {
	if e.conflict != nil {
		return e.conflict
	}
	if !e.dirty || e.gone {
		return nil
	}
	e.s.waitDeleted("", e.key)
	start := time.Now()
	if e.unsaved || !e.saved {
		if err := e.save(); err != nil {
			return err
		}
	}
	md := meta(e.mtime, e.mode)
	md[metaUpload] = e.token
	cond := func(match, noneMatch **string) {
		if e.base != "" {
			*match = aws.String(e.base)
		} else {
			*noneMatch = aws.String("*")
		}
	}
	var etag string
	var err error
	if e.size <= e.partSize() {
		etag, err = e.putWhole(ctx, md, cond)
	} else {
		etag, err = e.putParts(ctx, md, cond)
	}
	if errors.Is(err, errPrecondition) {
		// Refused: unless the object is this very upload (one that
		// completed before a crash), another client changed it.
		oi, hmd, herr := e.s.head(ctx, e.key)
		if herr != nil || oi.kind == kNone || metaGet(hmd, metaUpload) != e.token {
			return e.setConflict()
		}
		etag, err = oi.etag, nil
	}
	if err != nil {
		return err
	}
	e.base, e.baseSize, e.valid = etag, e.size, e.size
	for i, st := range e.parts {
		if st == partDirty {
			e.parts[i] = partLocal
		}
	}
	e.dirty = false
	e.forgetState()
	e.s.meta.forget(e.key)
	e.s.meta.putOwn(e.key, objInfo{kind: kFile, size: e.size, mtime: e.mtime, mode: e.mode, etag: etag, ino: e.ino}, start)
	// The name now has an object: a listing taken while it had only
	// an entry (which may be let go at any time now) must not be kept.
	e.s.meta.listed(e.key, false)
	return nil
}

var errPrecondition = errors.New("precondition failed")

// setConflict keeps the local content in the conflicts folder and makes
// the entry fail from now on (e.mu held).
func (e *entry) setConflict() error {
	ce := &ConflictError{Key: e.key}
	for i := int64(0); i*e.partSize() < e.size; i++ {
		if e.fetchPart(context.Background(), i) != nil {
			break
		}
	}
	if e.local != nil {
		dst := filepath.Join(e.s.cache.dir, "conflicts", time.Now().UTC().Format("20060102T150405.000000000Z")+"-"+e.id)
		if os.Link(e.localPath(), dst) == nil {
			ce.Kept = dst
			b, _ := json.Marshal(map[string]any{"key": e.key, "size": e.size, "expected_etag": e.base})
			os.WriteFile(dst+".json", b, 0o600)
		}
	}
	e.conflict = ce
	e.dirty = false
	e.forgetState()
	e.s.meta.forget(e.key) // the object is another client's now
	return ce
}

// putWhole uploads the entry in one PutObject.
func (e *entry) putWhole(ctx context.Context, md map[string]string, cond func(**string, **string)) (string, error) {
	for i := int64(0); i*e.partSize() < e.size; i++ {
		if err := e.fetchPart(ctx, i); err != nil {
			return "", err
		}
	}
	var body io.ReadSeeker = bytes.NewReader(nil)
	if e.local != nil {
		body = io.NewSectionReader(e.local, 0, e.size)
	}
	in := &s3.PutObjectInput{Bucket: &e.s.bucket, Key: aws.String(e.key), Body: body, Metadata: md,
		ContentLength: aws.Int64(e.size)}
	cond(&in.IfMatch, &in.IfNoneMatch)
	out, err := e.s.c.PutObject(ctx, in)
	if err != nil {
		return "", mapCondErr(err)
	}
	return aws.ToString(out.ETag), nil
}

func mapCondErr(err error) error {
	if isPrecondition(err) {
		return errPrecondition
	}
	return mapErr(err)
}

// putParts uploads the entry as a multipart upload: written parts from
// the local file, the others copied from the base.
func (e *entry) putParts(ctx context.Context, md map[string]string, cond func(**string, **string)) (string, error) {
	cm, err := e.s.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &e.s.bucket, Key: aws.String(e.key), Metadata: md})
	if err != nil {
		return "", mapErr(err)
	}
	ok := false
	defer func() {
		if !ok {
			e.s.c.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &e.s.bucket, Key: aws.String(e.key), UploadId: cm.UploadId})
		}
	}()
	n := (e.size + e.partSize() - 1) / e.partSize()
	done := make([]types.CompletedPart, n)
	errs := make([]error, n)
	sem := make(chan struct{}, e.s.uploadConcurrency)
	var wg sync.WaitGroup
	src := e.s.bucket + "/" + e.key
	for i := range n {
		start := i * e.partSize()
		end := min(start+e.partSize(), e.size)
		copyable := e.parts[i] != partDirty && e.base != "" && end <= e.remoteEnd()
		if !copyable {
			if err := e.fetchPart(ctx, i); err != nil {
				return "", err
			}
		}
		num := aws.Int32(int32(i + 1))
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if copyable {
				out, err := e.s.c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: &e.s.bucket, Key: aws.String(e.key),
					UploadId: cm.UploadId, PartNumber: num, CopySource: aws.String(src), CopySourceIfMatch: aws.String(e.base),
					CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", start, end-1))})
				if err != nil {
					errs[i] = mapCondErr(err)
					return
				}
				done[i] = types.CompletedPart{PartNumber: num, ETag: out.CopyPartResult.ETag}
				return
			}
			out, err := e.s.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &e.s.bucket, Key: aws.String(e.key),
				UploadId: cm.UploadId, PartNumber: num, Body: io.NewSectionReader(e.local, start, end-start),
				ContentLength: aws.Int64(end - start)})
			if err != nil {
				errs[i] = mapErr(err)
				return
			}
			done[i] = types.CompletedPart{PartNumber: num, ETag: out.ETag}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		if errors.Is(err, errPrecondition) {
			return "", errPrecondition
		}
		return "", err
	}
	in := &s3.CompleteMultipartUploadInput{Bucket: &e.s.bucket, Key: aws.String(e.key), UploadId: cm.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done}}
	cond(&in.IfMatch, &in.IfNoneMatch)
	out, err := e.s.c.CompleteMultipartUpload(ctx, in)
	if err != nil {
		return "", mapCondErr(err)
	}
	ok = true
	return aws.ToString(out.ETag), nil
}

// cancelPending stops a deferred upload that has not started (e.mu held).
func (e *entry) cancelPending() {
	if e.pending != nil && e.pending.Stop() {
		e.s.uploads.Done()
	}
	e.pending = nil
	e.timerSeq++ // a timer that fired already does nothing
	e.unqueue()
}

// unqueue takes the entry out of the count of deferred uploads (e.mu
// held).
func (e *entry) unqueue() {
	if e.queued != 0 {
		e.s.queued.Add(-e.queued)
		e.queued = 0
	}
}

// setMeta changes the mode or times: carried by the next upload when
// there is one to come, else written to the object in place.
func (e *entry) setMeta(fn func(mt time.Time, mode fs.FileMode) (time.Time, fs.FileMode, error)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	mt, mode, err := fn(e.mtime, e.mode)
	if err != nil {
		return err
	}
	e.mtime, e.mode = mt, mode.Perm()
	if e.dirty || e.base == "" {
		e.dirty = true
		return e.changed(false)
	}
	etag, err := e.s.copyObj(e.key, e.key, meta(mt, mode), e.base)
	if err != nil {
		return err
	}
	e.base = etag
	return nil
}
