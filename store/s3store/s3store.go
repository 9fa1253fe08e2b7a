// Package s3store keeps a vault in an S3 bucket: one object per
// ciphertext file under a prefix, directories as marker objects
// ("NAME/"), symlinks as "NAME.rclonelink" objects holding the target
// (rclone's convention, so that "rclone copy --links" of the prefix gives
// an ordinary gocryptfs vault), the modification time in the "Mtime"
// metadata rclone uses and the mode in "Mode". Buckets have no hard
// links, owners or extended attributes: Link fails with
// errors.ErrUnsupported, Lchown accepts only the current owner.
//
// Files are read with ranged GETs (with read-ahead for sequential
// reads) and written through a write-back cache on local disk: a write
// makes its part of the object (Options.PartSize) local, and the object
// is uploaded whole on Sync, and on Close or a little later
// (Options.WriteBack). Large objects go up as multipart uploads in which
// the parts nobody wrote are copied server-side. Every upload is
// conditional (If-Match on the ETag the local copy started from,
// If-None-Match for a new object): a change another client made in
// between is never overwritten; the upload fails with a *ConflictError
// and the local content is kept in the cache's "conflicts" folder.
// What was written and not yet uploaded survives the process: a Store
// opened later on the same cache directory uploads it.
package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/sealfs/sealfs/store"
)

const (
	linkSuffix = ".rclonelink"
	metaMtime  = "Mtime"
	metaMode   = "Mode"
	metaUpload = "Sealfs-Upload"
)

// Defaults of Options.
const (
	DefaultPartSize     = 8 << 20
	DefaultCacheMaxSize = 1 << 30
	DefaultMetaTTL      = 10 * time.Second
	minPartSize         = 5 << 20 // S3's smallest multipart part but the last
)

// Options configure a Store.
type Options struct {
	Client *s3.Client // configured by the caller: endpoint, credentials, region
	Bucket string
	Prefix string // "" or a path inside the bucket ("vaults/mine")

	// CacheDir holds the write-back cache: the local parts of files
	// being written and what waits for its upload, in a folder of its
	// own per bucket and prefix. A Store opened on it uploads what an
	// earlier one left there. "" = a private temporary folder under
	// TempDir, removed by Close: nothing then survives the process.
	CacheDir string
	// TempDir is where the private cache goes when CacheDir is "".
	TempDir string
	// CacheMaxSize bounds the data waiting for a deferred upload; beyond
	// it, Close uploads at once. Files still open may exceed it. It also
	// bounds the clean copies kept of uploaded files (see cleanCopies).
	// 0 = DefaultCacheMaxSize.
	CacheMaxSize int64
	// PartSize is the unit of multipart uploads, of fetching for writes
	// and of server-side copies (at least 5 MiB). 0 = DefaultPartSize.
	PartSize int64
	// WriteBack delays the upload of a file after its last Close, so
	// that a file written again soon is uploaded once; its data waits in
	// the cache meanwhile. 0 uploads in Close, which then reports a
	// failed upload.
	WriteBack time.Duration
	// MetaTTL is how long a lookup's answer is reused; changes by other
	// clients show after at most this long. 0 = DefaultMetaTTL, < 0 = no
	// reuse.
	MetaTTL time.Duration
	// ReadAhead < 0 turns streaming reads off: every read is then one
	// GET of its own size. Otherwise sequential reads go on reading one
	// GET to the end of the object.
	ReadAhead int64
	// SyncUpload makes Sync upload at once also with WriteBack. Without
	// it, Sync with WriteBack makes the change durable in the cache and
	// uploads it WriteBack later, as rclone's cache does; a conflict
	// found then is logged instead of returned.
	SyncUpload bool
	// UploadConcurrency is how many parts go up at once. 0 = 4.
	UploadConcurrency int
	// Logger gets the outcome of uploads that no caller waits for
	// (deferred and recovered ones); nil discards it.
	Logger *slog.Logger
}

// Store is a store.Store in an S3 bucket.
type Store struct {
	c                 *s3.Client
	bucket            string
	prefix            string // "" or ending in "/"
	partSize          int64
	readAhead         int64
	syncUpload        bool
	writeBack         time.Duration
	maxPending        int64
	uploadConcurrency int
	log               *slog.Logger
	cache             cacheDir
	meta              metaCache
	clean             cleanCopies
	deletes           deleter
	dirMetas          dirMetas
	counters          counters

	// mu serialises namespace changes of this client.
	mu sync.Mutex

	// emu guards entries: the open or not yet uploaded files by key.
	emu     sync.Mutex
	entries map[string]*entry
	uploads sync.WaitGroup
	closed  bool
	// queued is the size of the closed entries waiting for a deferred
	// upload; sem bounds the deferred uploads that run at once.
	queued atomic.Int64
	sem    chan struct{}
	// lookSem bounds the prefetching lookups that run at once.
	lookSem    chan struct{}
	prefetches sync.WaitGroup
}

var _ store.Store = (*Store)(nil)

// cacheDir is the folder of one bucket and prefix in the cache.
type cacheDir struct {
	dir     string
	private bool // made by New, removed by Close
	lock    *os.File
}

// New returns a Store for the bucket, which must exist. Changes an
// earlier Store left in the cache are uploaded in the background.
func New(ctx context.Context, o *Options) (*Store, error) {
	if o == nil || o.Client == nil || o.Bucket == "" {
		return nil, errors.New("s3store: a client and a bucket are needed")
	}
	p := strings.Trim(o.Prefix, "/")
	if p != "" {
		p += "/"
	}
	s := &Store{c: o.Client, bucket: o.Bucket, prefix: p, partSize: o.PartSize, readAhead: o.ReadAhead,
		writeBack: o.WriteBack, syncUpload: o.SyncUpload, maxPending: o.CacheMaxSize, uploadConcurrency: o.UploadConcurrency, log: o.Logger,
		entries: map[string]*entry{}, sem: make(chan struct{}, 16), lookSem: make(chan struct{}, 16)}
	s.c = s.counters.instrument(o.Client)
	if s.partSize == 0 {
		s.partSize = DefaultPartSize
	}
	if s.partSize < minPartSize {
		return nil, fmt.Errorf("s3store: part size %d is below S3's minimum of %d", s.partSize, minPartSize)
	}
	if s.maxPending == 0 {
		s.maxPending = DefaultCacheMaxSize
	}
	if s.uploadConcurrency <= 0 {
		s.uploadConcurrency = 4
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.meta.ttl = o.MetaTTL
	if s.meta.ttl == 0 {
		s.meta.ttl = DefaultMetaTTL
	}
	if _, err := s.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &o.Bucket}); err != nil {
		return nil, bucketError(o.Bucket, err)
	}
	if err := s.openCache(o); err != nil {
		return nil, err
	}
	s.clean.dir, s.clean.max = filepath.Join(s.cache.dir, "files"), s.maxPending
	// Recovered uploads start at once, and wait for deletions.
	s.startDeleter()
	if err := s.recover(); err != nil {
		s.closeDeleter()
		s.cache.close()
		return nil, err
	}
	return s, nil
}

// openCache makes and locks the cache folder of the bucket and prefix: one
// Store at a time may use it.
func (s *Store) openCache(o *Options) error {
	if o.CacheDir == "" {
		d, err := os.MkdirTemp(o.TempDir, "sealfs-s3-cache-")
		if err != nil {
			return err
		}
		s.cache = cacheDir{dir: d, private: true}
	} else {
		h := sha256.Sum256([]byte(s.bucket + "\x00" + s.prefix))
		s.cache = cacheDir{dir: filepath.Join(o.CacheDir, hex.EncodeToString(h[:12]))}
	}
	for _, sub := range []string{"files", "conflicts"} {
		if err := os.MkdirAll(filepath.Join(s.cache.dir, sub), 0o700); err != nil {
			return fmt.Errorf("s3store: cache: %w", err)
		}
	}
	about, _ := json.Marshal(map[string]string{"bucket": s.bucket, "prefix": s.prefix})
	os.WriteFile(filepath.Join(s.cache.dir, "about.json"), about, 0o600)
	lock, err := os.OpenFile(filepath.Join(s.cache.dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("s3store: cache: %w", err)
	}
	if err := lockFile(lock); err != nil {
		lock.Close()
		return fmt.Errorf("s3store: cache %s is in use by another process: %w", s.cache.dir, ErrCacheBusy)
	}
	s.cache.lock = lock
	return nil
}

// Errors of New, telling apart what a user must fix.
var (
	// ErrNoBucket: the bucket does not exist (matches fs.ErrNotExist).
	ErrNoBucket = fmt.Errorf("no such bucket: %w", fs.ErrNotExist)
	// ErrAccessDenied: the endpoint refused the credentials or the
	// access (matches fs.ErrPermission).
	ErrAccessDenied = fmt.Errorf("access denied (check the credentials): %w", fs.ErrPermission)
	// ErrUnreachable: no answer from the endpoint.
	ErrUnreachable = errors.New("endpoint unreachable")
)

// bucketError classifies the failure of the first request to a bucket.
func bucketError(bucket string, err error) error {
	var re *awshttp.ResponseError
	var ne net.Error
	if errors.As(err, &re) && re.HTTPStatusCode() == 0 || errors.As(err, &ne) {
		// No HTTP answer at all: connection refused, DNS, timeout.
		return fmt.Errorf("s3store: bucket %s: %w: %w", bucket, ErrUnreachable, err)
	}
	if errors.As(err, &re) {
		switch re.HTTPStatusCode() {
		case 404:
			return fmt.Errorf("s3store: bucket %s: %w", bucket, ErrNoBucket)
		case 401, 403:
			return fmt.Errorf("s3store: bucket %s: %w", bucket, ErrAccessDenied)
		}
		return fmt.Errorf("s3store: bucket %s: %w", bucket, mapErr(err))
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return fmt.Errorf("s3store: bucket %s: %w", bucket, mapErr(err))
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	return fmt.Errorf("s3store: bucket %s: %w: %w", bucket, ErrUnreachable, err)
}

// ErrCacheBusy: another Store (in this or another process) uses the
// cache folder of the bucket and prefix.
var ErrCacheBusy = errors.New("cache in use")

func (c *cacheDir) close() {
	if c.lock != nil {
		c.lock.Close()
		c.lock = nil
	}
	if c.private {
		os.RemoveAll(c.dir)
	}
}

// recover takes up the entries an earlier Store left with changes not
// uploaded, and schedules their upload.
func (s *Store) recover() error {
	dir := filepath.Join(s.cache.dir, "files")
	names, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, de := range names {
		n := de.Name()
		if strings.HasSuffix(n, ".tmp") {
			os.Remove(filepath.Join(dir, n))
			continue
		}
		if !strings.HasSuffix(n, ".json") {
			if _, err := os.Stat(filepath.Join(dir, n+".json")); errors.Is(err, fs.ErrNotExist) {
				os.Remove(filepath.Join(dir, n)) // a clean local copy
			}
			continue
		}
		e, err := s.loadEntry(strings.TrimSuffix(n, ".json"))
		if err != nil {
			return fmt.Errorf("s3store: cache %s: %w", filepath.Join(dir, n), err)
		}
		if old := s.entries[e.key]; old != nil {
			// Two states for one key cannot both be right: the
			// later upload would lose the earlier. Keep both aside.
			old.mu.Lock()
			old.setConflict()
			old.mu.Unlock()
			e.setConflict()
			delete(s.entries, e.key)
			continue
		}
		s.entries[e.key] = e
		s.log.Info("s3store: uploading a change left by an earlier run", "key", e.key, "size", e.size)
		e.mu.Lock()
		s.schedule(e, 0)
		e.mu.Unlock()
	}
	return nil
}

func (s *Store) loadEntry(id string) (*entry, error) {
	e := &entry{s: s, id: id, parts: map[int64]partState{}}
	b, err := os.ReadFile(e.statePath())
	if err != nil {
		return nil, err
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, err
	}
	if !strings.HasPrefix(p.Key, s.prefix) {
		return nil, fmt.Errorf("key %q is outside the prefix %q", p.Key, s.prefix)
	}
	e.key, e.base, e.baseSize, e.valid, e.token = p.Key, p.Base, p.BaseSize, p.Valid, p.Token
	e.ino = inoOf(e.key, e.id)
	e.mode, e.mtime = fs.FileMode(p.Mode).Perm(), time.Unix(0, p.Mtime)
	f, err := os.OpenFile(e.localPath(), os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	e.local, e.size, e.dirty, e.saved = f, fi.Size(), true, true
	for _, i := range p.Dirty {
		e.parts[i] = partDirty
	}
	return e, nil
}

// Close uploads what waits for its upload and releases the cache. It
// reports uploads that failed; their data stays in the cache for the
// next Store.
func (s *Store) Close() error {
	s.emu.Lock()
	if s.closed {
		s.emu.Unlock()
		return nil
	}
	s.closed = true
	var waiting []*entry
	for _, e := range s.entries {
		waiting = append(waiting, e)
	}
	s.emu.Unlock()
	var errs []error
	for _, e := range waiting {
		e.mu.Lock()
		e.cancelPending()
		if e.refs == 0 && e.dirty && !e.gone {
			if err := e.upload(s.ctx()); err != nil {
				errs = append(errs, err)
				e.mu.Unlock()
				continue
			}
		}
		e.mu.Unlock()
	}
	s.uploads.Wait()
	s.prefetches.Wait()
	s.mu.Lock()
	if err := s.flushDirMetas("", false); err != nil {
		errs = append(errs, err)
	}
	s.mu.Unlock()
	s.dirMetas.wg.Wait()
	s.closeDeleter()
	for _, e := range waiting {
		e.mu.Lock()
		if !e.dirty && e.refs == 0 {
			e.drop()
		} else if e.local != nil {
			e.local.Close()
			e.local = nil
		}
		e.mu.Unlock()
	}
	s.clean.removeAll()
	if len(errs) > 0 && s.cache.private {
		// Nothing would find the data again: keep the folder.
		s.cache.private = false
	}
	s.cache.close()
	st := s.Stats()
	s.log.Info("bucket requests", "total", st.Total(), "by-operation", st.String(), "sent", st.Sent, "received", st.Received)
	return errors.Join(errs...)
}

// schedule uploads a closed entry after delay, in the background (e.mu
// held).
func (s *Store) schedule(e *entry, delay time.Duration) {
	if e.queued == 0 {
		e.queued = max(e.size, 1)
		s.queued.Add(e.queued)
	}
	s.after(e, delay)
}

// after starts the timer of a deferred upload (e.mu held). Each timer
// has its number: one that a later timer or cancelPending replaced
// while it waited for e.mu does nothing (it would clear the pointer to
// its successor, which then could never be stopped).
func (s *Store) after(e *entry, delay time.Duration) {
	s.uploads.Add(1)
	e.timerSeq++
	seq := e.timerSeq
	e.pending = time.AfterFunc(delay, func() {
		defer s.uploads.Done()
		s.backgroundUpload(e, seq)
	})
}

func (s *Store) backgroundUpload(e *entry, seq uint64) {
	// A few at a time: a tar extraction leaves thousands waiting.
	s.sem <- struct{}{}
	defer func() { <-s.sem }()
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.timerSeq != seq {
		return
	}
	e.pending = nil
	if s.isClosed() {
		return // Close uploads it
	}
	err := e.upload(s.ctx())
	var ce *ConflictError
	switch {
	case errors.As(err, &ce):
		s.log.Error("s3store: upload refused: another client changed the object", "key", e.key, "kept", ce.Kept)
	case err != nil:
		s.log.Warn("s3store: upload failed, retrying in 10s", "key", e.key, "err", err)
		s.after(e, 10*time.Second)
		return
	default:
		s.log.Debug("s3store: uploaded", "key", e.key, "size", e.size)
	}
	e.unqueue()
	if e.refs == 0 {
		s.release(e)
	}
}

func (s *Store) isClosed() bool {
	s.emu.Lock()
	defer s.emu.Unlock()
	return s.closed
}

// release forgets a closed entry that has nothing left to upload (e.mu
// held).
func (s *Store) release(e *entry) {
	s.emu.Lock()
	if s.entries[e.key] == e {
		delete(s.entries, e.key)
	}
	s.emu.Unlock()
	if !s.clean.keep(e) {
		e.drop()
	}
}

// entry returns the entry of key, or nil.
func (s *Store) entry(key string) *entry {
	s.emu.Lock()
	defer s.emu.Unlock()
	return s.entries[key]
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// metaCache keeps lookups, and the listings of directories, for a short
// time. A fresh listing answers lookups of names that are not in it
// without a request, which is what creating many files needs; changes
// made through the Store keep the listings up to date.
type metaCache struct {
	ttl   time.Duration
	mu    sync.Mutex
	m     map[string]metaItem
	lists map[string]*listing // by directory key ("" or ending in "/")
	// changed numbers the last change made through the Store in each
	// directory (from seq): a listing taken while one happened there may
	// miss it and is not kept. Changes elsewhere (the uploads that go on
	// in the background while a tree is written) do not matter to it.
	changed map[string]uint64
	// keys numbers the last change of each key in the same way: a lookup
	// that a change overtook is not kept.
	keys map[string]uint64
	seq  uint64
	// epoch counts the times changed and keys were emptied to bound
	// their size.
	epoch uint64
	// inflight holds the lookups under way, which others wait for
	// instead of asking the same again.
	inflight map[string]chan struct{}
	// heads holds the first bytes of objects that lookups read, for the
	// first read of an open file of them (at most headsMax bytes, the
	// oldest dropped first). headsOrder is the order they came in; keys
	// taken since stay in it until they reach its front.
	heads      map[string]headBytes
	headsOrder []headRef
	headsSize  int
	headsSeq   uint64
}

// headBytes are the first bytes of one version of an object.
type headBytes struct {
	etag string
	data []byte
	seq  uint64 // its place in headsOrder
}

type headRef struct {
	key string
	seq uint64
}

const (
	// firstBytes is what a lookup that is not a prefetch reads of a
	// file: a GET of this much costs the bucket what a HEAD does, and
	// holds all of most small files, whose reading then needs no
	// request of its own.
	firstBytes = 32 << 10
	headsMax   = 8 << 20
)

// putHead keeps the first bytes of the version etag of the object at key.
func (c *metaCache) putHead(key, etag string, data []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.heads == nil {
		c.heads = map[string]headBytes{}
	}
	if old, ok := c.heads[key]; ok {
		c.headsSize -= len(old.data)
	}
	c.headsSeq++
	c.headsOrder = append(c.headsOrder, headRef{key, c.headsSeq})
	c.heads[key] = headBytes{etag, data, c.headsSeq}
	c.headsSize += len(data)
	// Drop the oldest while over the bound, and the references of what
	// was taken or replaced once they outnumber the rest.
	for len(c.headsOrder) > 0 && (c.headsSize > headsMax || len(c.headsOrder) > 2*len(c.heads)+64) {
		r := c.headsOrder[0]
		c.headsOrder = c.headsOrder[1:]
		if h, ok := c.heads[r.key]; ok && h.seq == r.seq {
			c.headsSize -= len(h.data)
			delete(c.heads, r.key)
		}
	}
}

// takeHead returns and forgets the first bytes kept of the version etag
// of the object at key, if any.
func (c *metaCache) takeHead(key, etag string) []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	h, ok := c.heads[key]
	if !ok {
		return nil
	}
	delete(c.heads, key) // its reference in headsOrder goes later
	c.headsSize -= len(h.data)
	if h.etag != etag {
		return nil
	}
	return h.data
}

type listing struct {
	names   map[string]bool // "file", "dir/", "link.rclonelink"
	expires time.Time
}

// listVersion tells whether a directory changed while it was listed.
type listVersion struct{ epoch, seq uint64 }

// splitKey cuts a key into its directory's key and its last name
// ("dir/" for a marker).
func splitKey(key string) (dir, base string) {
	i := strings.LastIndex(strings.TrimSuffix(key, "/"), "/")
	return key[:i+1], key[i+1:]
}

// version is the state of the directory at dirKey, for setListing.
func (c *metaCache) version(dirKey string) listVersion {
	c.mu.Lock()
	defer c.mu.Unlock()
	return listVersion{c.epoch, c.changed[dirKey]}
}

// localNames adds to the names listed in the directory at pfx the
// directories and files new there, which the bucket may not have yet.
func (s *Store) localNames(pfx string, names []string) []string {
	names = s.newDirs(pfx, names)
	s.emu.Lock()
	defer s.emu.Unlock()
	for k := range s.entries {
		if rest, ok := strings.CutPrefix(k, pfx); ok && rest != "" && !strings.Contains(rest, "/") && !slices.Contains(names, rest) {
			names = append(names, rest)
		}
	}
	return names
}

// now is the state of every directory, for setListingSince.
func (c *metaCache) now() (epoch, seq uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch, c.seq
}

// setListingSince is setListing for a listing taken when now() was
// (epoch, seq): kept unless the directory changed since.
func (c *metaCache) setListingSince(dirKey string, names []string, epoch, seq uint64) {
	c.mu.Lock()
	v := listVersion{epoch, c.changed[dirKey]}
	ok := c.epoch == epoch && c.changed[dirKey] <= seq
	c.mu.Unlock()
	if ok {
		c.setListing(dirKey, names, v)
	}
}

// setListing records the complete listing of the directory at dirKey,
// taken when version(dirKey) was v.
func (c *metaCache) setListing(dirKey string, names []string, v listVersion) {
	if c.ttl < 0 {
		return
	}
	l := &listing{names: make(map[string]bool, len(names)), expires: time.Now().Add(c.ttl)}
	for _, n := range names {
		l.names[n] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if (listVersion{c.epoch, c.changed[dirKey]}) != v {
		return
	}
	if c.lists == nil || len(c.lists) > 10000 {
		c.lists = map[string]*listing{}
	}
	c.lists[dirKey] = l
}

// absent reports whether a fresh listing of dirKey says that name is
// neither a file, a directory nor a symlink there.
func (c *metaCache) absent(dirKey, name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.lists[dirKey]
	if l == nil || time.Now().After(l.expires) {
		return false
	}
	return !l.names[name] && !l.names[name+"/"] && !l.names[name+linkSuffix]
}

// listed notes that key now exists (or, with gone, no longer does) in the
// listing of its directory.
func (c *metaCache) listed(key string, gone bool) {
	dir, base := splitKey(key)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.changedLocked(key)
	c.changed[dir] = c.seq
	if l := c.lists[dir]; l != nil {
		if gone {
			delete(l.names, base)
		} else {
			l.names[base] = true
		}
	}
	if gone && strings.HasSuffix(key, "/") {
		delete(c.lists, key)
	}
}

// A metaItem is kept past its expiry: a listing that shows the same
// version of the object (see validate) makes it fresh again.
type metaItem struct {
	oi      objInfo
	expires time.Time
	// seen is when the answer was asked for (for an object this Store
	// wrote, when the write ended); own is when that write began (zero
	// for answers from the bucket).
	seen, own time.Time
}

func (c *metaCache) get(key string) (objInfo, bool) {
	if c.ttl < 0 {
		return objInfo{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	it, ok := c.m[key]
	if !ok || time.Now().After(it.expires) {
		return objInfo{}, false
	}
	return it.oi, true
}

// put keeps the answer of a lookup asked for at seen.
func (c *metaCache) put(key string, oi objInfo, seen time.Time) {
	c.keep(key, metaItem{oi: oi, seen: seen})
}

// putOwn keeps what this Store wrote at key, in a write that began at
// start: the bucket does not say the LastModified it gave (see validate).
func (c *metaCache) putOwn(key string, oi objInfo, start time.Time) {
	c.keep(key, metaItem{oi: oi, seen: time.Now(), own: start})
}

func (c *metaCache) keep(key string, it metaItem) {
	if c.ttl < 0 {
		return
	}
	it.expires = time.Now().Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) > 100000 {
		c.m = map[string]metaItem{}
	}
	c.m[key] = it
}

// forget drops what is known of key (a change to an object says nothing
// new about its directory: a bucket keeps no directory times).
func (c *metaCache) forget(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.changedLocked(key)
	delete(c.m, lookupKey(key))
}

// lookupKey is the key a lookup of the object at key is cached under:
// its name's, without a marker's "/" or a symlink's suffix.
func lookupKey(key string) string {
	return strings.TrimSuffix(strings.TrimSuffix(key, "/"), linkSuffix)
}

// changedLocked numbers a change of the object at key (c.mu held).
func (c *metaCache) changedLocked(key string) {
	if c.keys == nil || len(c.keys) > 100000 || len(c.changed) > 10000 {
		c.keys = map[string]uint64{}
		c.changed = map[string]uint64{}
		c.epoch++
	}
	c.seq++
	c.keys[lookupKey(key)] = c.seq
}

// keyVersion is the state of the lookup key, for putIf.
func (c *metaCache) keyVersion(key string) listVersion {
	c.mu.Lock()
	defer c.mu.Unlock()
	return listVersion{c.epoch, c.keys[key]}
}

// putIf keeps a lookup's answer unless the object changed through the
// Store since keyVersion(key) was v, which the answer may predate.
func (c *metaCache) putIf(key string, oi objInfo, v listVersion, seen time.Time) {
	c.mu.Lock()
	ok := listVersion{c.epoch, c.keys[key]} == v
	c.mu.Unlock()
	if ok {
		c.put(key, oi, seen)
	}
}

// begin registers a lookup of key about to be asked, and done ends it.
// If the answer is known (both nil) or already asked for (wait, which
// is closed when it comes), nothing is registered.
func (c *metaCache) begin(key string) (done func(), wait <-chan struct{}) {
	return c.beginLocked(key, func() bool {
		it, ok := c.m[key]
		return ok && time.Now().Before(it.expires)
	})
}

// beginLocked is begin with known telling whether the answer is known
// (known is called with c.mu held).
func (c *metaCache) beginLocked(key string, known func() bool) (done func(), wait <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if known() {
		return nil, nil
	}
	if ch, ok := c.inflight[key]; ok {
		return nil, ch
	}
	if c.inflight == nil {
		c.inflight = map[string]chan struct{}{}
	}
	ch := make(chan struct{})
	c.inflight[key] = ch
	return func() {
		c.mu.Lock()
		delete(c.inflight, key)
		c.mu.Unlock()
		close(ch)
	}, nil
}

// listedKind tells what a fresh listing says name is in the directory
// at dirKey: a file, a directory or a symlink (ok = false: no fresh
// listing says). A name that is a file and a directory at once, which
// a bucket allows, is the file, as for a lookup.
func (c *metaCache) listedKind(dirKey, name string) (k kind, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.lists[dirKey]
	if l == nil || time.Now().After(l.expires) {
		return kNone, false
	}
	switch {
	case l.names[name]:
		return kFile, true
	case l.names[name+"/"]:
		return kDir, true
	case l.names[name+linkSuffix]:
		return kLink, true
	}
	return kNone, false
}

// forgetAll drops everything (after a directory moved).
func (c *metaCache) forgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.m = nil
	c.lists = nil
}

func (s *Store) ctx() context.Context { return context.Background() }

func (s *Store) key(name string) string {
	if name == "." {
		return s.prefix
	}
	return s.prefix + name
}

func (s *Store) dirKey(name string) string {
	if name == "." {
		return s.prefix
	}
	return s.prefix + name + "/"
}

// mapErr turns S3 errors into the errors the Store contract names.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var nk *types.NoSuchKey
	var nb *types.NoSuchBucket
	var nf *types.NotFound
	if errors.As(err, &nk) || errors.As(err, &nf) {
		return fs.ErrNotExist
	}
	if errors.As(err, &nb) {
		return fmt.Errorf("no such bucket: %w", fs.ErrNotExist)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFound", "NoSuchKey":
			return fs.ErrNotExist
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
			return fmt.Errorf("%s: %w", ae.ErrorCode(), fs.ErrPermission)
		case "PreconditionFailed":
			return fmt.Errorf("%s: %w", ae.ErrorCode(), fs.ErrExist)
		}
	}
	return err
}

func pathErr(op, name string, err error) error {
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

func checkName(name string) error {
	if name == "." || fs.ValidPath(name) && !strings.HasSuffix(name, linkSuffix) {
		return nil
	}
	return syscall.EINVAL
}

// kind is what a name is in the bucket.
type kind int

const (
	kNone kind = iota
	kFile
	kDir
	kLink
)

// objInfo is what lookup found.
type objInfo struct {
	kind  kind
	size  int64
	mtime time.Time
	mode  fs.FileMode // permission bits
	etag  string
	ino   uint64 // 0: from the key and ETag (see inoOf)
	// lastMod is the bucket's LastModified of the object (whole
	// seconds; zero when not known), which listings show too.
	lastMod time.Time
	// inBody: a directory marker whose body holds its metadata, so
	// that its ETag names them too.
	inBody bool
}

func parseMeta(m map[string]string, lastMod *time.Time, def fs.FileMode) (time.Time, fs.FileMode) {
	mt := time.Unix(0, 0)
	if lastMod != nil {
		mt = *lastMod
	}
	mode := def
	for k, v := range m {
		switch strings.ToLower(k) {
		case strings.ToLower(metaMtime):
			if t, ok := parseMtime(v); ok {
				mt = t
			}
		case strings.ToLower(metaMode):
			if n, err := strconv.ParseUint(v, 8, 32); err == nil {
				mode = store.ModeFromUnix(uint32(n)).Perm() | store.ModeFromUnix(uint32(n))&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
			}
		}
	}
	return mt, mode
}

// parseMtime reads rclone's Mtime ("SECONDS.FRACTION", up to nanoseconds)
// without going through a float, which would lose the nanoseconds; RFC
// 3339 is accepted too.
func parseMtime(v string) (time.Time, bool) {
	sec, frac, _ := strings.Cut(v, ".")
	s, err := strconv.ParseInt(sec, 10, 64)
	if err != nil {
		t, err := time.Parse(time.RFC3339Nano, v)
		return t, err == nil
	}
	var ns int64
	if frac != "" {
		frac = (frac + "000000000")[:9]
		if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
			return time.Time{}, false
		}
	}
	return time.Unix(s, ns), true
}

func meta(mtime time.Time, mode fs.FileMode) map[string]string {
	return map[string]string{
		metaMtime: strconv.FormatInt(mtime.Unix(), 10) + "." + fmt.Sprintf("%09d", mtime.Nanosecond()),
		metaMode:  strconv.FormatUint(uint64(store.Perm(mode)), 8),
	}
}

// Some engines (SeaweedFS) keep no metadata on directory markers but do
// keep a small body: a marker carries its directory's metadata in both,
// as "Key: value" lines in the body.
func markerBody(md map[string]string) []byte {
	return []byte(metaMtime + ": " + md[metaMtime] + "\n" + metaMode + ": " + md[metaMode] + "\n")
}

// parseMarkerBody reads the metadata a marker's body repeats
// ("Key: value" lines).
func parseMarkerBody(b []byte) map[string]string {
	md := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ": "); ok {
			md[k] = v
		}
	}
	return md
}

// putMarker writes the marker of a directory (at key, "dir/") with its
// metadata and keeps what it wrote for lookups.
func (s *Store) putMarker(key string, mt time.Time, mode fs.FileMode) error {
	start := time.Now()
	md := meta(mt, mode)
	etag, err := s.put(key, bytes.NewReader(markerBody(md)), md)
	if err != nil {
		return err
	}
	s.meta.putOwn(lookupKey(key), objInfo{kind: kDir, mode: mode.Perm(), mtime: time.Unix(0, mt.UnixNano()), etag: etag, inBody: true}, start)
	return nil
}

// head returns the object at key, or kNone.
func (s *Store) head(ctx context.Context, key string) (objInfo, map[string]string, error) {
	out, err := s.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		if errors.Is(mapErr(err), fs.ErrNotExist) {
			return objInfo{}, nil, nil
		}
		return objInfo{}, nil, mapErr(err)
	}
	mt, mode := parseMeta(out.Metadata, out.LastModified, 0o644)
	return objInfo{kind: kFile, size: aws.ToInt64(out.ContentLength), mtime: mt, mode: mode, etag: aws.ToString(out.ETag),
		lastMod: seconds(out.LastModified)}, out.Metadata, nil
}

// headFirst is head by a GET of the first bytes, which it keeps for
// the first read of the object (see firstBytes).
func (s *Store) headFirst(ctx context.Context, key string) (objInfo, map[string]string, error) {
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key,
		Range: aws.String(fmt.Sprintf("bytes=0-%d", firstBytes-1))})
	if err != nil {
		var ae smithy.APIError
		if errors.As(err, &ae) && ae.ErrorCode() == "InvalidRange" {
			return s.head(ctx, key) // an empty object has no first byte
		}
		if errors.Is(mapErr(err), fs.ErrNotExist) {
			return objInfo{}, nil, nil
		}
		return objInfo{}, nil, mapErr(err)
	}
	defer out.Body.Close()
	size := aws.ToInt64(out.ContentLength)
	if cr := aws.ToString(out.ContentRange); cr != "" { // "bytes 0-99/1234"
		if _, total, ok := strings.Cut(cr, "/"); ok {
			if n, err := strconv.ParseInt(total, 10, 64); err == nil {
				size = n
			}
		}
	}
	data, err := io.ReadAll(io.LimitReader(out.Body, firstBytes))
	if err != nil {
		return objInfo{}, nil, err
	}
	etag := aws.ToString(out.ETag)
	if int64(len(data)) == min(size, firstBytes) {
		s.meta.putHead(key, etag, data)
	}
	mt, mode := parseMeta(out.Metadata, out.LastModified, 0o644)
	return objInfo{kind: kFile, size: size, mtime: mt, mode: mode, etag: etag, lastMod: seconds(out.LastModified)}, out.Metadata, nil
}

// lookup finds what name is: a file (open here, or an object), a
// directory (marker or implied by objects under it), a symlink, or
// nothing. Answers from the bucket are reused for Options.MetaTTL.
func (s *Store) lookup(name string) (objInfo, error) {
	if name == "." {
		return objInfo{kind: kDir, mode: 0o755, mtime: time.Unix(0, 0)}, nil
	}
	key := s.key(name)
	if e := s.entry(key); e != nil {
		return e.info(), nil
	}
	if oi, ok := s.pendingDirMeta(key); ok {
		return oi, nil
	}
	s.waitDeleted("", key, key+"/", key+linkSuffix)
	dirKey := s.dirKey(path.Dir(name))
	if s.meta.absent(dirKey, path.Base(name)) {
		return objInfo{}, nil
	}
	if s.meta.stale(key) && s.meta.smallDir(dirKey) {
		// One listing revalidates this answer and its neighbours'.
		if _, err := s.list(path.Dir(name)); err != nil {
			return objInfo{}, err
		}
		if s.meta.absent(dirKey, path.Base(name)) {
			return objInfo{}, nil
		}
	}
	// One lookup of a key at a time (a prefetch's or another caller's):
	// the others take its answer.
	var oi objInfo
	known := func() (ok bool) { oi, ok = s.meta.get(key); return ok }
	if s.meta.ttl >= 0 {
		if done := await(known, func() (func(), <-chan struct{}) { return s.meta.begin(key) }); done != nil {
			defer done()
		} else {
			return oi, nil
		}
	}
	return s.ask(name, true)
}

// await returns nil once known says the answer is known, or the done of
// a turn to ask for it (begin's), waiting for those under way.
func await(known func() bool, begin func() (done func(), wait <-chan struct{})) func() {
	for !known() {
		done, wait := begin()
		if done != nil {
			return done
		}
		if wait != nil {
			<-wait
		}
	}
	return nil
}

// ask looks name up in the bucket and caches the answer, unless a change
// through the Store overtook it.
func (s *Store) ask(name string, first bool) (objInfo, error) {
	key := s.key(name)
	v := s.meta.keyVersion(key)
	seen := time.Now()
	oi, err := s.lookupRemote(name, first)
	if err == nil {
		s.meta.putIf(key, oi, v, seen)
	}
	return oi, err
}

// lookupRemote asks the bucket. Where a fresh listing of the directory
// says what name is, one request reads its metadata; otherwise a HEAD
// (with first, a GET of the first bytes, kept for a read that may
// follow) finds a file (the common case), else one listing of the names
// that start with the key tells a directory (its marker or objects
// under it), a symlink and nothing apart.
func (s *Store) lookupRemote(name string, first bool) (objInfo, error) {
	ctx := s.ctx()
	key := s.key(name)
	if k, ok := s.meta.listedKind(s.dirKey(path.Dir(name)), path.Base(name)); ok {
		switch k {
		case kDir:
			return s.dirLookup(ctx, key+"/")
		case kLink:
			if oi, err := s.linkLookup(ctx, key); err != nil || oi.kind != kNone {
				return oi, err
			}
		}
	}
	head := s.head
	if first {
		head = s.headFirst
	}
	if oi, _, err := head(ctx, key); err != nil || oi.kind != kNone {
		return oi, err
	}
	var token *string
	for {
		out, err := s.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(key),
			Delimiter: aws.String("/"), ContinuationToken: token})
		if err != nil {
			return objInfo{}, mapErr(err)
		}
		for _, p := range out.CommonPrefixes {
			if aws.ToString(p.Prefix) == key+"/" {
				return s.dirLookup(ctx, key+"/")
			}
		}
		for _, o := range out.Contents {
			if aws.ToString(o.Key) == key+linkSuffix {
				return s.linkLookup(ctx, key)
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return objInfo{}, nil
		}
		token = out.NextContinuationToken
	}
}

// prefetchMax bounds the lookups one listing starts.
const prefetchMax = 10000

// prefetch looks up the entries of a directory just listed, a few at a
// time in the background, and lists its subtree: what usually
// follows a listing (ls -l, find, rm -r, the kernel's READDIRPLUS, a
// walk into the subdirectories) then finds them answered, or under way,
// instead of asking the bucket about one entry after the other. A
// subdirectory whose expired answer is kept is not looked up: its
// listing shows its marker, which revalidates it (as it does the entries
// of the subdirectory).
func (s *Store) prefetch(dir string, kids []string) {
	if s.meta.ttl < 0 || len(kids) == 0 {
		return
	}
	kids = kids[:min(len(kids), prefetchMax)]
	s.emu.Lock()
	if s.closed {
		s.emu.Unlock()
		return
	}
	s.prefetches.Add(1)
	s.emu.Unlock()
	go func() {
		defer s.prefetches.Done()
		// Subdirectories not listed yet: the whole subtree in a few
		// pages (see listTree) rather than a listing each.
		for _, k := range kids {
			if _, fresh := s.meta.listing(s.dirKey(path.Join(dir, k))); strings.HasSuffix(k, "/") && !fresh {
				s.listTree(dir)
				break
			}
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		for _, k := range kids {
			name := path.Join(dir, lookupKey(k))
			key := s.key(name)
			isDir := strings.HasSuffix(k, "/")
			if s.entry(key) != nil {
				continue
			}
			s.lookSem <- struct{}{}
			done, _ := s.meta.begin(key)
			if done == nil && !isDir || s.isClosed() {
				<-s.lookSem
				if done != nil {
					done()
				}
				continue
			}
			wg.Add(1)
			go func() {
				defer func() { <-s.lookSem; wg.Done() }()
				if done != nil {
					if !isDir || !s.meta.stale(key) {
						s.ask(name, false)
					} else {
						s.list(name)
					}
					done()
				}
				if isDir {
					s.list(name)
				}
			}()
		}
	}()
}

// linkLookup reads the metadata of the symlink at key.
func (s *Store) linkLookup(ctx context.Context, key string) (objInfo, error) {
	oi, _, err := s.head(ctx, key+linkSuffix)
	if oi.kind == kFile {
		oi.kind = kLink
	}
	return oi, err
}

// dirLookup reads the marker of the directory at key ("dir/") with one
// GET: its metadata, or for engines that keep none on markers
// (SeaweedFS) its body, which holds the same. A directory without a
// marker exists by what is under it.
func (s *Store) dirLookup(ctx context.Context, key string) (objInfo, error) {
	implied := objInfo{kind: kDir, mode: 0o755, mtime: time.Unix(0, 0)}
	out, err := s.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		if errors.Is(mapErr(err), fs.ErrNotExist) {
			return implied, nil
		}
		return objInfo{}, mapErr(err)
	}
	defer out.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(out.Body, 1024))
	body := parseMarkerBody(b)
	md := out.Metadata
	if len(md) == 0 {
		md = body
	}
	mt, mode := parseMeta(md, out.LastModified, 0o755)
	return objInfo{kind: kDir, mode: mode, mtime: mt, etag: aws.ToString(out.ETag), lastMod: seconds(out.LastModified),
		inBody: body[metaMtime] != "" && body[metaMode] != ""}, nil
}

// parentDir checks that the parent of name is an existing directory.
func (s *Store) parentDir(name string) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	oi, err := s.lookup(dir)
	if err != nil {
		return err
	}
	switch oi.kind {
	case kNone:
		return fs.ErrNotExist
	case kDir:
		return nil
	}
	return syscall.ENOTDIR
}

// inoOf numbers a file: objects have no inodes. A directory's number
// comes from its key; a file's from its key and its version (ETag), or
// from the entry that holds it, which keeps its number through renames:
// a name that is written anew, or that another file is renamed onto,
// must not get the number of the file it replaced, which a kernel may
// still remember.
func inoOf(parts ...string) uint64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum64() | 1<<63 // never 0
}

func (s *Store) info(name string, oi objInfo) fs.FileInfo {
	ino := oi.ino
	if ino == 0 {
		ino = inoOf(s.key(name), oi.etag)
		if oi.kind == kDir {
			ino = inoOf(s.key(name))
		}
	}
	st := store.Stat{Ino: ino, Nlink: 1, Size: oi.size, Mtime: oi.mtime, Atime: oi.mtime, Ctime: oi.mtime, Blksize: 4096,
		Uid: uint32(os.Getuid()), Gid: uint32(os.Getgid())}
	switch oi.kind {
	case kDir:
		st.Mode = syscall.S_IFDIR | store.Perm(oi.mode)
		st.Nlink = 2
		st.Size = 0
	case kLink:
		st.Mode = syscall.S_IFLNK | 0o777
	default:
		st.Mode = syscall.S_IFREG | store.Perm(oi.mode)
	}
	st.Blocks = (st.Size + 511) / 512
	return store.NewFileInfo(path.Base(name), st)
}

func (s *Store) Lstat(name string) (fs.FileInfo, error) {
	if err := checkName(name); err != nil {
		return nil, pathErr("lstat", name, err)
	}
	oi, err := s.lookup(name)
	if err == nil && oi.kind == kNone {
		err = fs.ErrNotExist
	}
	if err != nil {
		return nil, pathErr("lstat", name, err)
	}
	if oi.kind == kLink {
		if t, err := s.readlink(name); err == nil {
			oi.size = int64(len(t))
		}
	}
	return s.info(name, oi), nil
}

// put writes the object at key and returns its ETag.
func (s *Store) put(key string, body io.ReadSeeker, md map[string]string) (string, error) {
	s.waitDeleted("", key)
	defer s.meta.forget(key)
	out, err := s.c.PutObject(s.ctx(), &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, Body: body, Metadata: md})
	if err != nil {
		return "", mapErr(err)
	}
	s.meta.listed(key, false)
	return aws.ToString(out.ETag), nil
}

// isPrecondition tells a refused conditional request (412).
func isPrecondition(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && (ae.ErrorCode() == "PreconditionFailed" || ae.ErrorCode() == "412")
}

// metaGet reads user metadata whatever the case of its key.
func metaGet(md map[string]string, k string) string {
	for mk, v := range md {
		if strings.EqualFold(mk, k) {
			return v
		}
	}
	return ""
}

// ErrStale: the object changed in the bucket (another client replaced
// it) while a file of it was open; it matches syscall.ESTALE.
var ErrStale = fmt.Errorf("s3store: object replaced by another client: %w", syscall.ESTALE)

// getRange copies bytes [start, end) of the object at key to w; etag, if
// not "", is the version the caller expects.
func (s *Store) getRange(ctx context.Context, key, etag string, start, end int64, w io.Writer) error {
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key, Range: aws.String(fmt.Sprintf("bytes=%d-%d", start, end-1))}
	if etag != "" {
		in.IfMatch = aws.String(etag)
	}
	out, err := s.c.GetObject(ctx, in)
	if err != nil {
		if isPrecondition(err) {
			return ErrStale
		}
		if errors.Is(mapErr(err), fs.ErrNotExist) && etag != "" {
			return ErrStale
		}
		return mapErr(err)
	}
	defer out.Body.Close()
	n, err := io.Copy(w, io.LimitReader(out.Body, end-start))
	if err == nil && n < end-start {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (s *Store) Mkdir(name string, perm fs.FileMode) error {
	if err := checkName(name); err != nil || name == "." {
		if name == "." {
			err = fs.ErrExist
		}
		return pathErr("mkdir", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.parentDir(name); err != nil {
		return pathErr("mkdir", name, err)
	}
	v := s.meta.version(s.dirKey(name))
	oi, err := s.lookup(name)
	if err == nil && oi.kind != kNone {
		err = fs.ErrExist
	}
	if err == nil {
		s.setDirMeta(s.key(name), time.Now(), perm)
		s.meta.listed(s.dirKey(name), false)
		s.meta.setListing(s.dirKey(name), nil, v) // nothing was under it
	}
	return pathErr("mkdir", name, err)
}

// children lists the entries of directory name (one level).
func (s *Store) children(name string, limit int32) ([]string, error) {
	pfx := s.dirKey(name)
	v := s.meta.version(pfx)
	listed := time.Now()
	gone := s.deleting(pfx)
	var out []string
	var token *string
	for {
		in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(pfx), Delimiter: aws.String("/"), ContinuationToken: token}
		if limit > 0 {
			in.MaxKeys = aws.Int32(limit)
		}
		res, err := s.c.ListObjectsV2(s.ctx(), in)
		if err != nil {
			return nil, mapErr(err)
		}
		for _, o := range res.Contents {
			if gone[aws.ToString(o.Key)] {
				continue
			}
			k := strings.TrimPrefix(aws.ToString(o.Key), pfx)
			if k != "" {
				out = append(out, k)
			}
			if limit == 0 {
				kd := kFile
				switch {
				case k == "":
					kd = kDir // the directory's own marker
				case strings.HasSuffix(k, linkSuffix):
					kd = kLink
				}
				s.meta.validate(lookupKey(aws.ToString(o.Key)), kd, aws.ToString(o.ETag), aws.ToInt64(o.Size), seconds(o.LastModified), listed)
			}
		}
		for _, p := range res.CommonPrefixes {
			if gone[aws.ToString(p.Prefix)] {
				continue // a directory removed, its marker on the way
			}
			k := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(p.Prefix), pfx), "/")
			if k != "" {
				out = append(out, k+"/")
			}
		}
		if limit > 0 && len(out) > 0 || !aws.ToBool(res.IsTruncated) {
			break
		}
		token = res.NextContinuationToken
	}
	out = s.localNames(pfx, out)
	if limit == 0 {
		s.meta.setListing(pfx, out, v)
	}
	return out, nil
}

func (s *Store) Remove(name string) error {
	if err := checkName(name); err != nil || name == "." {
		if name == "." {
			err = syscall.EBUSY
		}
		return pathErr("remove", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	oi, err := s.lookup(name)
	if err != nil {
		return pathErr("remove", name, err)
	}
	switch oi.kind {
	case kNone:
		return pathErr("remove", name, fs.ErrNotExist)
	case kFile:
		s.unlinkKey(s.key(name))
		return pathErr("remove", name, s.del(s.key(name)))
	case kLink:
		return pathErr("remove", name, s.del(s.key(name)+linkSuffix))
	}
	return pathErr("remove", name, s.rmdir(name))
}

// RemoveDirWith removes the directory name and the files in it, if it
// holds nothing else (store.DirWithRemover).
func (s *Store) RemoveDirWith(name string, files ...string) error {
	if err := checkName(name); err != nil || name == "." {
		if name == "." {
			err = syscall.EBUSY
		}
		return pathErr("rmdir", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	oi, err := s.lookup(name)
	if err == nil && oi.kind != kDir {
		err = syscall.ENOTDIR
		if oi.kind == kNone {
			err = fs.ErrNotExist
		}
	}
	if err == nil {
		err = s.rmdir(name, files...)
	}
	return pathErr("rmdir", name, err)
}

// rmdir removes the directory name, which holds nothing but files, and
// those (s.mu held).
func (s *Store) rmdir(name string, files ...string) error {
	kids, err := s.dirEntries(name, len(files)+1)
	if err != nil {
		return err
	}
	for _, k := range kids {
		if !slices.Contains(files, k) {
			return syscall.ENOTEMPTY
		}
	}
	for _, k := range kids {
		s.unlinkKey(s.key(path.Join(name, k)))
		s.del(s.key(path.Join(name, k)))
	}
	s.dropDirMetas(s.key(name))
	return s.del(s.dirKey(name))
}

// dirEntries returns the entries of directory name, or at least atLeast
// of them if it has more: a fresh listing's, or a listing's of the first
// names, or of all of them while some are being deleted (a listing leaves
// those out).
func (s *Store) dirEntries(name string, atLeast int) ([]string, error) {
	if kids, ok := s.meta.listing(s.dirKey(name)); ok {
		return kids, nil
	}
	limit := int32(atLeast + 1) // the marker may come first
	if len(s.deleting(s.dirKey(name))) > 0 {
		limit = 0
	}
	return s.children(name, limit)
}

// copyObj copies the object at from to to, with new metadata if md is
// not nil, and returns the copy's ETag. With etag not "", the source must
// still be that version (or the copy fails with ErrStale).
func (s *Store) copyObj(from, to string, md map[string]string, etag string) (string, error) {
	s.waitDeleted("", to)
	defer s.meta.forget(to)
	src := s.bucket + "/" + from
	in := &s3.CopyObjectInput{Bucket: &s.bucket, Key: &to, CopySource: &src}
	if md != nil {
		in.Metadata = md
		in.MetadataDirective = types.MetadataDirectiveReplace
	}
	if etag != "" {
		in.CopySourceIfMatch = aws.String(etag)
	}
	out, err := s.c.CopyObject(s.ctx(), in)
	if err == nil {
		s.meta.listed(to, false)
	}
	if err != nil {
		if etag != "" && isPrecondition(err) {
			return "", ErrStale
		}
		return "", mapErr(err)
	}
	if out.CopyObjectResult == nil {
		return "", nil
	}
	return aws.ToString(out.CopyObjectResult.ETag), nil
}

// unlinkKey ends the entry of key, if there is one (s.mu held): nothing
// is uploaded any more, and files still open keep reading the content,
// all fetched now, as files of an unlinked inode do.
func (s *Store) unlinkKey(key string) {
	s.emu.Lock()
	e := s.entries[key]
	delete(s.entries, key)
	s.emu.Unlock()
	s.clean.remove(key)
	if e == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cancelPending()
	if e.refs > 0 && e.ensureLocal() == nil {
		for i := int64(0); i*e.partSize() < e.size; i++ {
			if e.fetchPart(s.ctx(), i) != nil {
				break
			}
		}
	}
	e.gone, e.dirty = true, false
	e.forgetState()
	if e.refs == 0 {
		e.drop()
	}
}

// moveKey moves the file at from (an object, an entry, or both) to to,
// which is free (s.mu held).
func (s *Store) moveKey(from, to string) error {
	s.clean.remove(from)
	e := s.entry(from)
	if e == nil {
		if _, err := s.copyObj(from, to, nil, ""); err != nil {
			return err
		}
		return s.del(from)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	hadObject := e.base != ""
	if hadObject {
		etag, err := s.copyObj(from, to, nil, e.base)
		if err != nil {
			return err
		}
		e.base = etag
	}
	s.emu.Lock()
	delete(s.entries, from)
	s.entries[to] = e
	s.emu.Unlock()
	e.key = to
	if e.dirty {
		if err := e.save(); err != nil {
			return err
		}
	}
	s.meta.forget(from)
	s.meta.forget(to)
	s.meta.listed(to, false)
	if !hadObject {
		s.meta.listed(from, true)
	}
	if hadObject {
		return s.del(from)
	}
	return nil
}

func (s *Store) Rename(oldname, newname string) error {
	if err := checkName(oldname); err != nil {
		return pathErr("rename", oldname, err)
	}
	if err := checkName(newname); err != nil {
		return pathErr("rename", newname, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return pathErr("rename", oldname, s.rename(oldname, newname))
}

func (s *Store) rename(oldname, newname string) error {
	src, err := s.lookup(oldname)
	if err != nil {
		return err
	}
	if src.kind == kNone {
		return fs.ErrNotExist
	}
	if oldname == newname {
		return nil
	}
	if strings.HasPrefix(newname, oldname+"/") {
		return syscall.EINVAL
	}
	if err := s.parentDir(newname); err != nil {
		return err
	}
	dst, err := s.lookup(newname)
	if err != nil {
		return err
	}
	switch {
	case dst.kind == kDir && src.kind != kDir:
		return syscall.EISDIR
	case dst.kind != kNone && dst.kind != kDir && src.kind == kDir:
		return syscall.ENOTDIR
	case dst.kind == kDir:
		s.waitDeleted(s.dirKey(newname))
		kids, err := s.children(newname, 2)
		if err != nil {
			return err
		}
		if len(kids) > 0 {
			return syscall.ENOTEMPTY
		}
		s.dropDirMetas(s.key(newname))
		if err := s.del(s.dirKey(newname)); err != nil {
			return err
		}
	case dst.kind == kLink:
		if err := s.del(s.key(newname) + linkSuffix); err != nil {
			return err
		}
	case dst.kind == kFile:
		s.unlinkKey(s.key(newname))
		if err := s.del(s.key(newname)); err != nil {
			return err
		}
	}
	switch src.kind {
	case kFile:
		return s.moveKey(s.key(oldname), s.key(newname))
	case kLink:
		if _, err := s.copyObj(s.key(oldname)+linkSuffix, s.key(newname)+linkSuffix, nil, ""); err != nil {
			return err
		}
		return s.del(s.key(oldname) + linkSuffix)
	}
	// A directory: every object under it (not atomic).
	pfx := s.dirKey(oldname)
	s.waitDeleted(pfx)
	if err := s.flushDirMetas(s.key(oldname), true); err != nil {
		return err
	}
	var keys []string
	var token *string
	for {
		res, err := s.c.ListObjectsV2(s.ctx(), &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &pfx, ContinuationToken: token})
		if err != nil {
			return mapErr(err)
		}
		for _, o := range res.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		if !aws.ToBool(res.IsTruncated) {
			break
		}
		token = res.NextContinuationToken
	}
	npfx := s.dirKey(newname)
	// The new directory's marker first, then the content (files open or
	// waiting here too), the old marker last.
	if err := s.putMarker(npfx, src.mtime, src.mode); err != nil {
		return err
	}
	s.emu.Lock()
	for k := range s.entries {
		if strings.HasPrefix(k, pfx) && !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	s.emu.Unlock()
	sort.Strings(keys)
	defer s.meta.forgetAll()
	for _, k := range keys {
		if k == pfx {
			continue
		}
		nk := npfx + strings.TrimPrefix(k, pfx)
		var err error
		if strings.HasSuffix(k, "/") || strings.HasSuffix(k, linkSuffix) {
			if _, err = s.copyObj(k, nk, nil, ""); err == nil {
				err = s.del(k)
			}
		} else {
			err = s.moveKey(k, nk)
		}
		if err != nil {
			return err
		}
	}
	return s.del(pfx)
}

func (s *Store) Symlink(target, name string) error {
	if err := checkName(name); err != nil || name == "." {
		if name == "." {
			err = fs.ErrExist
		}
		return pathErr("symlink", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.parentDir(name); err != nil {
		return pathErr("symlink", name, err)
	}
	oi, err := s.lookup(name)
	if err == nil && oi.kind != kNone {
		err = fs.ErrExist
	}
	if err == nil {
		_, err = s.put(s.key(name)+linkSuffix, strings.NewReader(target), meta(time.Now(), 0o777))
	}
	return pathErr("symlink", name, err)
}

func (s *Store) readlink(name string) (string, error) {
	k := s.key(name) + linkSuffix
	out, err := s.c.GetObject(s.ctx(), &s3.GetObjectInput{Bucket: &s.bucket, Key: &k})
	if err != nil {
		return "", mapErr(err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, 1<<16))
	return string(b), err
}

func (s *Store) Readlink(name string) (string, error) {
	if err := checkName(name); err != nil {
		return "", pathErr("readlink", name, err)
	}
	oi, err := s.lookup(name)
	if err != nil {
		return "", pathErr("readlink", name, err)
	}
	switch oi.kind {
	case kNone:
		return "", pathErr("readlink", name, fs.ErrNotExist)
	case kLink:
		t, err := s.readlink(name)
		return t, pathErr("readlink", name, err)
	}
	return "", pathErr("readlink", name, syscall.EINVAL)
}

// Link: buckets have no hard links.
func (s *Store) Link(oldname, newname string) error {
	return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: errors.ErrUnsupported}
}

// setMeta rewrites the metadata of name's object in place.
func (s *Store) setMeta(op, name string, fn func(mt time.Time, mode fs.FileMode) (time.Time, fs.FileMode, error)) error {
	if err := checkName(name); err != nil {
		return pathErr(op, name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	oi, err := s.lookup(name)
	if err != nil {
		return pathErr(op, name, err)
	}
	var key string
	switch oi.kind {
	case kNone:
		return pathErr(op, name, fs.ErrNotExist)
	case kFile:
		key = s.key(name)
	case kLink:
		key = s.key(name) + linkSuffix
	case kDir:
		if name == "." {
			return nil
		}
		mt, mode, err := fn(oi.mtime, oi.mode)
		if err != nil {
			return pathErr(op, name, err)
		}
		// The marker is written again (engines may keep no metadata
		// on markers, nor copy them), a little later.
		s.setDirMeta(s.key(name), mt, mode)
		return nil
	}
	if e := s.entry(key); e != nil && oi.kind == kFile {
		return pathErr(op, name, e.setMeta(fn))
	}
	mt, mode, err := fn(oi.mtime, oi.mode)
	if err != nil {
		return pathErr(op, name, err)
	}
	_, err = s.copyObj(key, key, meta(mt, mode), "")
	return pathErr(op, name, err)
}

func (s *Store) Chmod(name string, mode fs.FileMode) error {
	return s.setMeta("chmod", name, func(mt time.Time, _ fs.FileMode) (time.Time, fs.FileMode, error) {
		return mt, mode, nil
	})
}

// Lchown: a bucket keeps no owners; changing to the owner every object
// has (the caller's) is accepted, anything else is refused.
func (s *Store) Lchown(name string, uid, gid int) error {
	if _, err := s.Lstat(name); err != nil {
		return err
	}
	if (uid == -1 || uid == os.Getuid()) && (gid == -1 || gid == os.Getgid()) {
		return nil
	}
	return pathErr("lchown", name, syscall.EPERM)
}

func (s *Store) Lchtimes(name string, atime, mtime time.Time) error {
	return s.setMeta("lchtimes", name, func(mt time.Time, mode fs.FileMode) (time.Time, fs.FileMode, error) {
		if !mtime.IsZero() {
			mt = mtime
		}
		return mt, mode, nil
	})
}
