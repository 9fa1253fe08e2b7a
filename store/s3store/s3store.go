// Package s3store keeps a vault in an S3 bucket (work in progress, issue
// 17): one object per ciphertext file under a prefix, directories as
// marker objects ("NAME/"), symlinks as "NAME.rclonelink" objects holding
// the target (rclone's convention), the modification time in the "Mtime"
// metadata rclone uses and the mode in "Mode". Hard links and xattrs are
// not supported.
//
// This first version stages a file opened for writing in a local
// temporary file and uploads it whole on Sync and Close; reads of files
// not open for writing are ranged GETs.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/sealfs/sealfs/store"
)

const (
	linkSuffix = ".rclonelink"
	metaMtime  = "Mtime"
	metaMode   = "Mode"
)

// Options configure a Store.
type Options struct {
	Client *s3.Client // configured by the caller: endpoint, credentials, region
	Bucket string
	Prefix string // "" or a path inside the bucket ("vaults/mine")
	// TempDir stages files open for writing; "" = os.TempDir().
	TempDir string
}

// Store is a store.Store in an S3 bucket.
type Store struct {
	c       *s3.Client
	bucket  string
	prefix  string // "" or ending in "/"
	tempDir string
	mu      sync.Mutex // serialises namespace changes of this client

	// handles are the open files by object key, so that a remove or a
	// rename through this Store can keep them working as POSIX does: a
	// reader of a removed object goes on reading a local copy, a writer
	// of a removed object no longer uploads it, and both follow a rename.
	handles map[string]map[handle]struct{}
}

// handle is an open file that follows its object.
type handle interface {
	// moved tells the handle that its object is now at key.
	moved(key string)
	// unlinked tells the handle that its object is gone.
	unlinked()
}

func (s *Store) track(key string, h handle) {
	if s.handles == nil {
		s.handles = map[string]map[handle]struct{}{}
	}
	if s.handles[key] == nil {
		s.handles[key] = map[handle]struct{}{}
	}
	s.handles[key][h] = struct{}{}
}

func (s *Store) untrack(key string, h handle) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.handles[key], h)
	if len(s.handles[key]) == 0 {
		delete(s.handles, key)
	}
}

// keyMoved and keyGone tell the open handles of key (s.mu held).
func (s *Store) keyMoved(from, to string) {
	for h := range s.handles[from] {
		h.moved(to)
		s.track(to, h)
	}
	delete(s.handles, from)
}

func (s *Store) keyGone(key string) {
	for h := range s.handles[key] {
		h.unlinked()
	}
	delete(s.handles, key)
}

var _ store.Store = (*Store)(nil)

// New returns a Store for the bucket, which must exist.
func New(ctx context.Context, o *Options) (*Store, error) {
	if o == nil || o.Client == nil || o.Bucket == "" {
		return nil, errors.New("s3store: a client and a bucket are needed")
	}
	p := strings.Trim(o.Prefix, "/")
	if p != "" {
		p += "/"
	}
	if _, err := o.Client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &o.Bucket}); err != nil {
		return nil, fmt.Errorf("s3store: bucket %s: %w", o.Bucket, mapErr(err))
	}
	return &Store{c: o.Client, bucket: o.Bucket, prefix: p, tempDir: o.TempDir}, nil
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

// dirInfo completes the description of the directory whose marker is at
// key (found by head as oi with metadata md).
func (s *Store) dirInfo(key string, oi objInfo, md map[string]string) objInfo {
	oi.kind = kDir
	if len(md) == 0 && oi.size > 0 && oi.size <= 1024 {
		out, err := s.c.GetObject(s.ctx(), &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(out.Body, 1024))
			out.Body.Close()
			md = map[string]string{}
			for _, line := range strings.Split(string(b), "\n") {
				if k, v, ok := strings.Cut(line, ": "); ok {
					md[k] = v
				}
			}
		}
	}
	oi.mtime, oi.mode = parseMeta(md, &oi.mtime, 0o755)
	oi.size = 0
	return oi
}

// putMarker writes the marker of a directory with its metadata.
func (s *Store) putMarker(key string, md map[string]string) error {
	return s.put(key, bytes.NewReader(markerBody(md)), md)
}

// head returns the object at key, or kNone.
func (s *Store) head(key string) (objInfo, map[string]string, error) {
	out, err := s.c.HeadObject(s.ctx(), &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		if errors.Is(mapErr(err), fs.ErrNotExist) {
			return objInfo{}, nil, nil
		}
		return objInfo{}, nil, mapErr(err)
	}
	mt, mode := parseMeta(out.Metadata, out.LastModified, 0o644)
	return objInfo{kind: kFile, size: aws.ToInt64(out.ContentLength), mtime: mt, mode: mode, etag: aws.ToString(out.ETag)}, out.Metadata, nil
}

// lookup finds what name is: a file, a directory (marker or implied by
// objects under it), a symlink, or nothing.
func (s *Store) lookup(name string) (objInfo, error) {
	if name == "." {
		return objInfo{kind: kDir, mode: 0o755, mtime: time.Unix(0, 0)}, nil
	}
	if oi, _, err := s.head(s.key(name)); err != nil || oi.kind != kNone {
		return oi, err
	}
	if oi, md, err := s.head(s.dirKey(name)); err != nil || oi.kind != kNone {
		if oi.kind != kNone {
			oi = s.dirInfo(s.dirKey(name), oi, md)
		}
		return oi, err
	}
	if oi, _, err := s.head(s.key(name) + linkSuffix); err != nil || oi.kind != kNone {
		if oi.kind != kNone {
			oi.kind = kLink
		}
		return oi, err
	}
	out, err := s.c.ListObjectsV2(s.ctx(), &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(s.dirKey(name)), MaxKeys: aws.Int32(1)})
	if err != nil {
		return objInfo{}, mapErr(err)
	}
	if len(out.Contents) > 0 {
		return objInfo{kind: kDir, mode: 0o755, mtime: time.Unix(0, 0)}, nil
	}
	return objInfo{}, nil
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

func (s *Store) info(name string, oi objInfo) fs.FileInfo {
	h := fnv.New64a()
	h.Write([]byte(s.key(name)))
	ino := h.Sum64() | 1<<63 // an object has no inode: a number from its key, never 0
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
	return &fileInfo{name: path.Base(name), st: st}
}

type fileInfo struct {
	name string
	st   store.Stat
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.st.Size }
func (fi *fileInfo) Mode() fs.FileMode  { return store.ModeFromUnix(fi.st.Mode) }
func (fi *fileInfo) ModTime() time.Time { return fi.st.Mtime }
func (fi *fileInfo) IsDir() bool        { return fi.st.Mode&syscall.S_IFMT == syscall.S_IFDIR }
func (fi *fileInfo) Sys() any           { st := fi.st; return &st }

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

func (s *Store) put(key string, body io.ReadSeeker, md map[string]string) error {
	_, err := s.c.PutObject(s.ctx(), &s3.PutObjectInput{Bucket: &s.bucket, Key: &key, Body: body, Metadata: md})
	return mapErr(err)
}

func (s *Store) del(key string) error {
	_, err := s.c.DeleteObject(s.ctx(), &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
	return mapErr(err)
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
	oi, err := s.lookup(name)
	if err == nil && oi.kind != kNone {
		err = fs.ErrExist
	}
	if err == nil {
		err = s.putMarker(s.dirKey(name), meta(time.Now(), perm))
	}
	return pathErr("mkdir", name, err)
}

// children lists the entries of directory name (one level).
func (s *Store) children(name string, limit int32) ([]string, error) {
	pfx := s.dirKey(name)
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
			k := strings.TrimPrefix(aws.ToString(o.Key), pfx)
			if k != "" {
				out = append(out, k)
			}
		}
		for _, p := range res.CommonPrefixes {
			k := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(p.Prefix), pfx), "/")
			if k != "" {
				out = append(out, k+"/")
			}
		}
		if limit > 0 || !aws.ToBool(res.IsTruncated) {
			return out, nil
		}
		token = res.NextContinuationToken
	}
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
		s.keyGone(s.key(name))
		return pathErr("remove", name, s.del(s.key(name)))
	case kLink:
		return pathErr("remove", name, s.del(s.key(name)+linkSuffix))
	}
	kids, err := s.children(name, 2)
	if err != nil {
		return pathErr("remove", name, err)
	}
	if len(kids) > 0 {
		return pathErr("remove", name, syscall.ENOTEMPTY)
	}
	return pathErr("remove", name, s.del(s.dirKey(name)))
}

func (s *Store) copyObj(from, to string, md map[string]string) error {
	src := s.bucket + "/" + from
	in := &s3.CopyObjectInput{Bucket: &s.bucket, Key: &to, CopySource: &src}
	if md != nil {
		in.Metadata = md
		in.MetadataDirective = types.MetadataDirectiveReplace
	}
	_, err := s.c.CopyObject(s.ctx(), in)
	return mapErr(err)
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
		kids, err := s.children(newname, 2)
		if err != nil {
			return err
		}
		if len(kids) > 0 {
			return syscall.ENOTEMPTY
		}
		if err := s.del(s.dirKey(newname)); err != nil {
			return err
		}
	case dst.kind == kLink:
		if err := s.del(s.key(newname) + linkSuffix); err != nil {
			return err
		}
	case dst.kind == kFile && src.kind == kLink:
		s.keyGone(s.key(newname))
		if err := s.del(s.key(newname)); err != nil {
			return err
		}
	case dst.kind == kFile:
		s.keyGone(s.key(newname))
	}
	switch src.kind {
	case kFile:
		if err := s.copyObj(s.key(oldname), s.key(newname), nil); err != nil {
			return err
		}
		s.keyMoved(s.key(oldname), s.key(newname))
		return s.del(s.key(oldname))
	case kLink:
		if err := s.copyObj(s.key(oldname)+linkSuffix, s.key(newname)+linkSuffix, nil); err != nil {
			return err
		}
		return s.del(s.key(oldname) + linkSuffix)
	}
	// A directory: every object under it (not atomic).
	pfx := s.dirKey(oldname)
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
	// The new directory's marker first, then the content; the old
	// marker (the key equal to the prefix) is not copied.
	if err := s.putMarker(npfx, meta(src.mtime, src.mode)); err != nil {
		return err
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == pfx {
			continue
		}
		nk := npfx + strings.TrimPrefix(k, pfx)
		if err := s.copyObj(k, nk, nil); err != nil {
			return err
		}
		s.keyMoved(k, nk)
	}
	// Deepest first, so that no directory marker goes before its content.
	sort.Sort(sort.Reverse(sort.StringSlice(keys)))
	for _, k := range keys {
		if err := s.del(k); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
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
		err = s.put(s.key(name)+linkSuffix, strings.NewReader(target), meta(time.Now(), 0o777))
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
		// on markers, nor copy them).
		return pathErr(op, name, s.putMarker(s.dirKey(name), meta(mt, mode)))
	}
	mt, mode, err := fn(oi.mtime, oi.mode)
	if err != nil {
		return pathErr(op, name, err)
	}
	return pathErr(op, name, s.copyObj(key, key, meta(mt, mode)))
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
