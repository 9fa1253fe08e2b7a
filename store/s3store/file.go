package s3store

import (
	"bytes"
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
	oi, err := s.lookup(name)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
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
		// The object exists from now on, empty, as a created file does.
		if err := s.put(s.key(name), bytes.NewReader(nil), meta(time.Now(), perm)); err != nil {
			return nil, pathErr("open", name, err)
		}
		oi = objInfo{kind: kFile, mode: perm.Perm(), mtime: time.Now()}
	case kFile:
		if flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0 {
			return nil, pathErr("open", name, fs.ErrExist)
		}
		if store.ODirectory != 0 && flag&store.ODirectory != 0 {
			return nil, pathErr("open", name, syscall.ENOTDIR)
		}
	}
	if !write {
		f := &readFile{s: s, name: name, key: s.key(name), size: oi.size, oi: oi}
		s.track(f.key, f)
		return f, nil
	}
	tmp, err := os.CreateTemp(s.tempDir, "sealfs-s3-*")
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	os.Remove(tmp.Name()) // staged data lives only as long as the handle
	f := &writeFile{s: s, name: name, key: s.key(name), tmp: tmp, mode: oi.mode, readable: flag&os.O_RDWR != 0}
	if flag&os.O_TRUNC != 0 {
		f.dirty = oi.size > 0
	} else if oi.size > 0 {
		if err := s.download(f.key, tmp); err != nil {
			tmp.Close()
			return nil, pathErr("open", name, err)
		}
	}
	s.track(f.key, f)
	return f, nil
}

// download copies the object at key into w.
func (s *Store) download(key string, w io.Writer) error {
	out, err := s.c.GetObject(s.ctx(), &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return mapErr(err)
	}
	defer out.Body.Close()
	_, err = io.Copy(w, out.Body)
	return err
}

// readFile reads an object with ranged GETs; once the object is removed
// through the Store, from a local copy made at that moment.
type readFile struct {
	s    *Store
	name string
	size int64
	oi   objInfo

	mu    sync.Mutex
	key   string
	local *os.File // the copy after the object was removed
}

func (f *readFile) moved(key string) {
	f.mu.Lock()
	f.key = key
	f.mu.Unlock()
}

func (f *readFile) unlinked() {
	f.mu.Lock()
	defer f.mu.Unlock()
	tmp, err := os.CreateTemp(f.s.tempDir, "sealfs-s3-*")
	if err != nil {
		return
	}
	os.Remove(tmp.Name())
	if f.s.download(f.key, tmp) != nil {
		tmp.Close()
		return
	}
	f.local = tmp
}

func (f *readFile) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, pathErr("read", f.name, syscall.EINVAL)
	}
	f.mu.Lock()
	local, key := f.local, f.key
	f.mu.Unlock()
	if local != nil {
		return local.ReadAt(p, off)
	}
	if off >= f.size || len(p) == 0 {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), f.size) - 1
	rng := fmt.Sprintf("bytes=%d-%d", off, end)
	out, err := f.s.c.GetObject(f.s.ctx(), &s3.GetObjectInput{Bucket: &f.s.bucket, Key: &key, Range: &rng})
	if err != nil {
		return 0, pathErr("read", f.name, mapErr(err))
	}
	defer out.Body.Close()
	n, err := io.ReadFull(out.Body, p[:end-off+1])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return n, pathErr("read", f.name, err)
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *readFile) WriteAt([]byte, int64) (int, error) {
	return 0, pathErr("write", f.name, syscall.EBADF)
}
func (f *readFile) Truncate(int64) error { return pathErr("truncate", f.name, syscall.EBADF) }
func (f *readFile) Stat() (fs.FileInfo, error) {
	return f.s.info(f.name, f.oi), nil
}
func (f *readFile) Sync() error { return nil }
func (f *readFile) Close() error {
	f.mu.Lock()
	key := f.key
	if f.local != nil {
		f.local.Close()
		f.local = nil
	}
	f.mu.Unlock()
	f.s.untrack(key, f)
	return nil
}
func (f *readFile) ReadDir(int) ([]fs.DirEntry, error) {
	return nil, pathErr("readdir", f.name, syscall.ENOTDIR)
}

// writeFile stages the object in a local temporary file and uploads it on
// Sync and Close.
type writeFile struct {
	s        *Store
	name     string
	key      string
	mode     fs.FileMode
	readable bool

	mu     sync.Mutex
	tmp    *os.File
	dirty  bool
	closed bool
	gone   bool // the object was removed: nothing more is uploaded
}

func (f *writeFile) moved(key string) {
	f.mu.Lock()
	f.key = key
	f.mu.Unlock()
}

func (f *writeFile) unlinked() {
	f.mu.Lock()
	f.gone = true
	f.mu.Unlock()
}

func (f *writeFile) ReadAt(p []byte, off int64) (int, error) {
	if !f.readable {
		return 0, pathErr("read", f.name, syscall.EBADF)
	}
	return f.tmp.ReadAt(p, off)
}

func (f *writeFile) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	f.dirty = true
	f.mu.Unlock()
	return f.tmp.WriteAt(p, off)
}

func (f *writeFile) Truncate(size int64) error {
	f.mu.Lock()
	f.dirty = true
	f.mu.Unlock()
	return f.tmp.Truncate(size)
}

func (f *writeFile) Stat() (fs.FileInfo, error) {
	fi, err := f.tmp.Stat()
	if err != nil {
		return nil, err
	}
	return f.s.info(f.name, objInfo{kind: kFile, size: fi.Size(), mode: f.mode, mtime: fi.ModTime()}), nil
}

// Sync uploads the staged content if it changed.
func (f *writeFile) Sync() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.dirty || f.gone {
		return nil
	}
	fi, err := f.tmp.Stat()
	if err != nil {
		return err
	}
	if err := f.s.put(f.key, io.NewSectionReader(f.tmp, 0, fi.Size()), meta(time.Now(), f.mode)); err != nil {
		return pathErr("sync", f.name, err)
	}
	f.dirty = false
	return nil
}

func (f *writeFile) Close() error {
	err := f.Sync()
	f.mu.Lock()
	key := f.key
	first := !f.closed
	if first {
		f.closed = true
		f.tmp.Close()
	}
	f.mu.Unlock()
	if first {
		f.s.untrack(key, f)
	}
	return err
}

func (f *writeFile) ReadDir(int) ([]fs.DirEntry, error) {
	return nil, pathErr("readdir", f.name, syscall.ENOTDIR)
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
		kids, err := d.s.children(d.name, 0)
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
func (d *dirFile) Sync() error                { return nil }
func (d *dirFile) Close() error               { return nil }
