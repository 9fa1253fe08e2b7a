package webdavfs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/webdav"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/store"
)

// UploadPrefix starts the names of the temporary files of uploads in
// progress. Such names are never listed, and requests for them are refused.
const UploadPrefix = ".~sealfs-upload."

// statfser is a file system that reports its usage (*sealfs.FS does).
type statfser interface {
	Statfs() (store.Statfs, error)
}

// lstater is a read-only source that can describe symlinks themselves
// (reverse.FS): its symlinks are not followed.
type lstater interface {
	Lstat(name string) (fs.FileInfo, error)
}

// davFS adapts a vault (v) or a read-only fs.FS (src) to webdav.FileSystem.
type davFS struct {
	v     *sealfs.FS // nil when serving src
	src   fs.FS
	ro    bool
	sync  bool // SyncUploads
	umask fs.FileMode

	mu      sync.Mutex
	uploads map[string]bool // temporary files of uploads in progress
}

// staleUpload is the age (since its last write) at which a listing removes
// the temporary file of an upload that is not in progress here: one a
// killed server left behind.
const staleUpload = time.Hour

// vaultPath turns a WebDAV name ("/a/b", already stripped of the prefix)
// into a vault path ("a/b", "." for the root).
func vaultPath(name string) (string, error) {
	p := path.Clean("/" + name)
	if p == "/" {
		return ".", nil
	}
	p = p[1:]
	for _, el := range strings.Split(p, "/") {
		if strings.HasPrefix(el, UploadPrefix) {
			return "", &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
		}
	}
	if !fs.ValidPath(p) || strings.ContainsRune(p, 0) {
		return "", &fs.PathError{Op: "open", Path: p, Err: fs.ErrInvalid}
	}
	return p, nil
}

// stat describes p as WebDAV shows it: symlinks in a vault are followed
// (one that leaves the vault is a permission error), a reverse view's are
// not.
func (d *davFS) stat(ctx context.Context, p string) (fs.FileInfo, error) {
	st := stateOf(ctx)
	if st != nil && st.infos != nil {
		if fi, ok := st.infos[p]; ok {
			return fi, nil
		}
	}
	var fi fs.FileInfo
	var err error
	switch {
	case d.v != nil:
		fi, err = d.v.Stat(p)
		if errors.Is(err, sealfs.ErrEscapes) {
			err = &fs.PathError{Op: "stat", Path: p, Err: fs.ErrPermission}
		}
	default:
		if ls, ok := d.src.(lstater); ok {
			fi, err = ls.Lstat(p)
		} else {
			fi, err = fs.Stat(d.src, p)
		}
	}
	if err != nil {
		return nil, note(ctx, err)
	}
	return &fileInfo{FileInfo: fi}, nil
}

// servable reports whether WebDAV shows an object of this type: only
// directories and regular files (a FIFO would block a reader forever).
func servable(fi fs.FileInfo) bool {
	return fi.IsDir() || fi.Mode().IsRegular()
}

func (d *davFS) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	p, err := vaultPath(name)
	if err != nil {
		return nil, note(ctx, err)
	}
	return d.stat(ctx, p)
}

func (d *davFS) writable(ctx context.Context, op, p string) error {
	if d.ro {
		return note(ctx, &fs.PathError{Op: op, Path: p, Err: sealfs.ErrReadOnly})
	}
	return nil
}

func (d *davFS) Mkdir(ctx context.Context, name string, perm os.FileMode) error {
	p, err := vaultPath(name)
	if err == nil {
		err = d.writable(ctx, "mkdir", p)
	}
	if err == nil {
		err = d.v.Mkdir(p, perm&fs.ModePerm&^d.umask)
	}
	return note(ctx, err)
}

func (d *davFS) RemoveAll(ctx context.Context, name string) error {
	p, err := vaultPath(name)
	if err == nil {
		err = d.writable(ctx, "remove", p)
	}
	if err == nil && p == "." {
		err = &fs.PathError{Op: "remove", Path: p, Err: fs.ErrPermission}
	}
	if err == nil {
		err = d.v.RemoveAll(p)
	}
	return note(ctx, err)
}

func (d *davFS) Rename(ctx context.Context, oldName, newName string) error {
	op, err := vaultPath(oldName)
	var np string
	if err == nil {
		np, err = vaultPath(newName)
	}
	if err == nil {
		err = d.writable(ctx, "rename", op)
	}
	if err == nil && (op == "." || np == ".") {
		err = &fs.PathError{Op: "rename", Path: op, Err: fs.ErrPermission}
	}
	if err == nil {
		err = d.v.Rename(op, np)
	}
	return note(ctx, err)
}

func (d *davFS) OpenFile(ctx context.Context, name string, flag int, perm os.FileMode) (webdav.File, error) {
	p, err := vaultPath(name)
	if err != nil {
		return nil, note(ctx, err)
	}
	st := stateOf(ctx)
	if flag&(os.O_WRONLY|os.O_RDWR) == 0 {
		fi, err := d.stat(ctx, p)
		if err != nil {
			return nil, err
		}
		if !servable(fi) {
			return nil, note(ctx, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission})
		}
		return &davFile{d: d, p: p, info: fi, st: st}, nil
	}
	if err := d.writable(ctx, "open", p); err != nil {
		return nil, err
	}
	perm = perm & fs.ModePerm &^ d.umask
	if st != nil && st.body != nil && flag&os.O_CREATE != 0 && flag&os.O_TRUNC != 0 {
		f, err := d.openUpload(p, perm, st)
		return f, note(ctx, err)
	}
	w, err := d.v.OpenFile(p, flag, perm)
	if err != nil {
		return nil, note(ctx, err)
	}
	return &davFile{d: d, p: p, w: w, st: st}, nil
}

// openUpload opens the temporary file a PUT writes, beside its target p.
// A PUT to a symlink or to a file with other hard links writes in place
// instead (a rename would replace the link, or split the file from its
// other names), and a PUT to a directory fails as it would in place.
func (d *davFS) openUpload(p string, perm fs.FileMode, st *reqState) (webdav.File, error) {
	if p == "." {
		return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EISDIR}
	}
	old, err := d.v.Lstat(p)
	switch {
	case err == nil && (old.Mode()&fs.ModeSymlink != 0 || linked(old)):
		w, err := d.v.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_TRUNC, perm)
		if err != nil {
			return nil, err
		}
		return &davFile{d: d, p: p, w: w, st: st}, nil
	case err == nil && old.IsDir():
		return nil, &fs.PathError{Op: "open", Path: p, Err: syscall.EISDIR}
	case err == nil:
		perm = old.Mode() & fs.ModePerm
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := path.Join(path.Dir(p), UploadPrefix+hex.EncodeToString(rnd[:]))
	w, err := d.v.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			// The parent is missing: report the target, not the
			// temporary name.
			err = &fs.PathError{Op: "open", Path: p, Err: fs.ErrNotExist}
		}
		return nil, err
	}
	d.mu.Lock()
	d.uploads[tmp] = true
	d.mu.Unlock()
	return &davFile{d: d, p: p, w: w, tmp: tmp, st: st}, nil
}

// linked reports whether fi has other hard links.
func linked(fi fs.FileInfo) bool {
	st, ok := store.SysStat(fi)
	return ok && st.Nlink > 1 && !fi.IsDir()
}

// syncDir flushes a directory (a rename in it) to stable storage.
func (d *davFS) syncDir(dir string) error {
	f, err := d.v.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.(*sealfs.File).Sync()
}

// sweep removes the temporary file tmp if it is stale.
func (d *davFS) sweep(tmp string, de fs.DirEntry) {
	if d.ro || d.v == nil {
		return
	}
	d.mu.Lock()
	active := d.uploads[tmp]
	d.mu.Unlock()
	if fi, err := de.Info(); err == nil && !active && time.Since(fi.ModTime()) > staleUpload {
		d.v.Remove(tmp)
	}
}

// davFile is an open WebDAV resource. A file opened for reading opens the
// vault's file only when it is read (a PROPFIND opens every entry it
// lists, only to stat it).
type davFile struct {
	d    *davFS
	p    string      // vault path
	info fs.FileInfo // for reads: at open
	st   *reqState

	r       fs.File       // read side, opened on first use
	w       *sealfs.File  // write side
	tmp     string        // the upload's temporary file, renamed to p at Close
	failed  bool          // a write failed: the upload is not kept
	entries []fs.FileInfo // directory listing, read on first Readdir
	listed  bool
	pos     int
}

func (f *davFile) reader() (fs.File, error) {
	if f.w != nil {
		return f.w, nil
	}
	if f.r == nil {
		var err error
		if f.d.v != nil {
			f.r, err = f.d.v.Open(f.p)
		} else {
			f.r, err = f.d.src.Open(f.p)
		}
		if err != nil {
			return nil, f.st.note(err)
		}
	}
	return f.r, nil
}

func (f *davFile) Read(p []byte) (int, error) {
	r, err := f.reader()
	if err != nil {
		return 0, err
	}
	n, err := r.Read(p)
	if err != nil && err != io.EOF {
		f.st.note(err)
	}
	return n, err
}

func (f *davFile) Seek(offset int64, whence int) (int64, error) {
	r, err := f.reader()
	if err != nil {
		return 0, err
	}
	s, ok := r.(io.Seeker)
	if !ok {
		return 0, &fs.PathError{Op: "seek", Path: f.p, Err: errors.ErrUnsupported}
	}
	return s.Seek(offset, whence)
}

func (f *davFile) Write(p []byte) (int, error) {
	if f.w == nil {
		return 0, &fs.PathError{Op: "write", Path: f.p, Err: fs.ErrPermission}
	}
	n, err := f.w.Write(p)
	if err != nil {
		f.failed = true
		f.st.note(err)
	}
	return n, err
}

// uploadChunk is the size of the writes an upload makes: whole blocks,
// many of them, whatever sizes the client's body arrives in.
const uploadChunk = 1 << 20

// ReadFrom writes what r gives in large chunks (io.Copy of a request body
// would write 32 KiB at a time).
func (f *davFile) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, uploadChunk)
	var total int64
	for {
		n, rerr := 0, error(nil)
		for n < len(buf) && rerr == nil {
			var m int
			m, rerr = r.Read(buf[n:])
			n += m
		}
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return total, err
			}
			total += int64(n)
		}
		if rerr == io.EOF {
			return total, nil
		}
		if rerr != nil {
			f.failed = true
			return total, rerr
		}
	}
}

func (f *davFile) Readdir(count int) ([]fs.FileInfo, error) {
	if !f.listed {
		if err := f.list(); err != nil {
			return nil, err
		}
	}
	rest := f.entries[f.pos:]
	if count <= 0 {
		f.pos = len(f.entries)
		return rest, nil
	}
	if len(rest) == 0 {
		return nil, io.EOF
	}
	rest = rest[:min(count, len(rest))]
	f.pos += len(rest)
	return rest, nil
}

// list reads the directory: the entries WebDAV can serve, symlinks in a
// vault described by their targets. The infos are remembered for the
// rest of the request, which stats each entry again.
func (f *davFile) list() error {
	r, err := f.reader()
	if err != nil {
		return err
	}
	rd, ok := r.(fs.ReadDirFile)
	if !ok {
		return f.st.note(&fs.PathError{Op: "readdir", Path: f.p, Err: syscall.ENOTDIR})
	}
	des, err := rd.ReadDir(-1)
	if err != nil {
		return f.st.note(err)
	}
	f.listed = true
	for _, de := range des {
		name := de.Name()
		p := path.Join(f.p, name)
		if strings.HasPrefix(name, UploadPrefix) {
			f.d.sweep(p, de)
			continue
		}
		var fi fs.FileInfo
		if de.Type()&fs.ModeSymlink != 0 && f.d.v != nil {
			fi, err = f.d.v.Stat(p)
		} else {
			fi, err = de.Info()
		}
		if err != nil || !servable(fi) {
			continue
		}
		fi = &fileInfo{FileInfo: fi}
		if f.st != nil && f.st.infos != nil {
			f.st.infos[p] = fi
		}
		f.entries = append(f.entries, fi)
	}
	return nil
}

func (f *davFile) Stat() (fs.FileInfo, error) {
	if f.w == nil {
		return f.info, nil
	}
	fi, err := f.w.Stat()
	if err != nil {
		return nil, f.st.note(err)
	}
	return &fileInfo{FileInfo: fi, name: path.Base(f.p)}, nil
}

// Close closes the file. An upload's temporary file replaces its target
// only if the whole request body was written; otherwise it is removed.
func (f *davFile) Close() error {
	var err error
	if f.r != nil {
		err = f.r.Close()
	}
	if f.w == nil {
		return err
	}
	if f.tmp != "" && f.d.sync && !f.failed && f.st.body.complete() {
		err = f.w.Sync()
	}
	if cerr := f.w.Close(); err == nil {
		err = cerr
	}
	if f.tmp == "" {
		return f.st.note(err)
	}
	if err == nil && (f.failed || !f.st.body.complete()) {
		err = &fs.PathError{Op: "put", Path: f.p, Err: errIncomplete}
	}
	if err == nil {
		err = f.d.v.Rename(f.tmp, f.p)
	}
	if err == nil && f.d.sync {
		err = f.d.syncDir(path.Dir(f.p))
	}
	if err != nil {
		f.d.v.Remove(f.tmp)
	}
	f.d.mu.Lock()
	delete(f.d.uploads, f.tmp)
	f.d.mu.Unlock()
	return f.st.note(err)
}

// errIncomplete: an upload's body did not arrive whole.
var errIncomplete = errors.New("request body incomplete")

// fileInfo adds WebDAV's ETag and content type to a vault's FileInfo.
type fileInfo struct {
	fs.FileInfo
	name string // if set, replaces FileInfo.Name (an upload's temporary file)
}

func (fi *fileInfo) Name() string {
	if fi.name != "" {
		return fi.name
	}
	return fi.FileInfo.Name()
}

// ETag names the object (inode), its size and its mtime and ctime: an
// upload (a new inode), a write (size, ctime) or a touch (mtime) each give
// a new ETag.
func (fi *fileInfo) ETag(context.Context) (string, error) {
	return etagOf(fi.FileInfo), nil
}

func etagOf(fi fs.FileInfo) string {
	if st, ok := store.SysStat(fi); ok {
		return fmt.Sprintf(`"%x-%x-%x-%x"`, st.Ino, fi.Size(), fi.ModTime().UnixNano(), st.Ctime.UnixNano())
	}
	return fmt.Sprintf(`"%x-%x"`, fi.Size(), fi.ModTime().UnixNano())
}

// ContentType is taken from the name's extension only: sniffing the
// content would read and decrypt the start of every file a PROPFIND lists.
func (fi *fileInfo) ContentType(context.Context) (string, error) {
	return contentType(fi.Name()), nil
}

func contentType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// setTimes sets the times of p; a zero time leaves that time as it is.
func (d *davFS) setTimes(p string, atime, mtime time.Time) error {
	if d.ro {
		return &fs.PathError{Op: "chtimes", Path: p, Err: sealfs.ErrReadOnly}
	}
	return d.v.Chtimes(p, atime, mtime)
}
