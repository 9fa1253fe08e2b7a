package reverse

import (
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"syscall"

	"github.com/sealfs/sealfs/internal/layout"
	"github.com/sealfs/sealfs/names"
)

// symlinkTarget encrypts a symlink target (§10.5, including gocryptfs'
// doubled last element in the nonce path).
func (f *FS) symlinkTarget(o *obj, target string) string {
	if f.plainNames {
		return target
	}
	nonce := pathIV(o.cpath+"/"+o.cname, "SYMLINKIV")
	return layout.EncryptTargetNonce(f.codec, f.nt, target, nonce[:])
}

// Lstat describes a view path without following a symlink.
func (f *FS) Lstat(name string) (fs.FileInfo, error) {
	o, err := f.resolve("lstat", name)
	if err != nil {
		return nil, err
	}
	fi, err := f.info(o)
	if err != nil {
		return nil, &fs.PathError{Op: "lstat", Path: name, Err: err}
	}
	return fi, nil
}

// Stat describes a view path, following symlinks inside the view.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	o, src, err := f.follow("stat", name)
	if err != nil {
		return nil, err
	}
	var fi fs.FileInfo
	if src != nil {
		fi, err = f.realInfo(o, src)
	} else {
		fi, err = f.info(o)
	}
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return fi, nil
}

// follow resolves name, following symlinks of the view within the view.
// For a real object it also returns its plaintext Lstat.
func (f *FS) follow(op, name string) (*obj, fs.FileInfo, error) {
	cur := name
	for range 40 {
		o, err := f.resolve(op, cur)
		if err != nil {
			return nil, nil, &fs.PathError{Op: op, Path: name, Err: unwrap(err)}
		}
		if o.kind != kReal {
			return o, nil, nil
		}
		src, err := fs.Lstat(f.plain, o.plain)
		if err != nil {
			return nil, nil, &fs.PathError{Op: op, Path: name, Err: unwrap(err)}
		}
		if src.Mode()&fs.ModeSymlink == 0 {
			return o, src, nil
		}
		t, err := fs.ReadLink(f.plain, o.plain)
		if err != nil {
			return nil, nil, &fs.PathError{Op: op, Path: name, Err: unwrap(err)}
		}
		t = f.symlinkTarget(o, t)
		if path.IsAbs(t) {
			return nil, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		cur = path.Join(path.Dir(cur), t)
		if !fs.ValidPath(cur) {
			return nil, nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
	}
	return nil, nil, &fs.PathError{Op: op, Path: name, Err: syscall.ELOOP}
}

// ReadLink returns the (encrypted) target of a symlink of the view.
func (f *FS) ReadLink(name string) (string, error) {
	o, err := f.resolve("readlink", name)
	if err != nil {
		return "", err
	}
	if o.kind != kReal {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: syscall.EINVAL}
	}
	t, err := fs.ReadLink(f.plain, o.plain)
	if err != nil {
		return "", &fs.PathError{Op: "readlink", Path: name, Err: unwrap(err)}
	}
	return f.symlinkTarget(o, t), nil
}

// ReadDir lists a view directory (following symlinks inside the view),
// sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	o, _, err := f.follow("readdir", name)
	if err != nil {
		return nil, err
	}
	ents, err := f.readDir(o)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return ents, nil
}

// readDir lists the directory o.
func (f *FS) readDir(o *obj) ([]fs.DirEntry, error) {
	if o.kind != kReal {
		return nil, syscall.ENOTDIR
	}
	dfi, err := fs.Lstat(f.plain, o.plain)
	if err != nil {
		return nil, unwrap(err)
	}
	if !dfi.IsDir() {
		return nil, syscall.ENOTDIR
	}
	var ents []fs.DirEntry
	if !f.oneFS || o.plain == "." || !f.otherDevice(dfi) {
		if ents, err = f.plainEntries(o.plain); err != nil {
			return nil, err
		}
	}
	out := make([]fs.DirEntry, 0, len(ents)+2)
	add := func(c *obj, typ fs.FileMode) {
		out = append(out, &dirEntry{f: f, o: c, typ: typ})
	}
	if !f.plainNames && f.dirIV {
		add(&obj{kind: kDirIV, cpath: join(o.cpath, names.DirIVFile), cname: names.DirIVFile,
			plain: o.plain, data: f.dirIVOf(o.cpath)}, 0)
	}
	root := o.cpath == ""
	for _, e := range ents {
		if root && f.isConfig(e.Name()) {
			if t := e.Type(); t.IsRegular() || t&fs.ModeSymlink != 0 {
				add(&obj{kind: kConfig, cpath: names.ConfigFile, cname: names.ConfigFile, plain: e.Name()}, 0)
			}
			continue
		}
		if f.plainNames && root && e.Name() == names.ConfigFile && f.configName != "" {
			f.log.Warn("reverse: a plaintext gocryptfs.conf in the root is hidden by the config shown under that name")
			continue
		}
		stored, full, long, err := f.cipherName(o.cpath, e.Name())
		if err != nil {
			f.log.Warn("reverse: name cannot be encrypted, left out", "dir", o.plain, "err", err)
			continue
		}
		p := join(o.plain, e.Name())
		add(&obj{kind: kReal, cpath: join(o.cpath, stored), cname: stored, plain: p}, e.Type())
		if long {
			nf := stored + names.LongNameSuffix
			add(&obj{kind: kName, cpath: join(o.cpath, nf), cname: nf, plain: p, data: []byte(full)}, 0)
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

// Open opens a view file or directory (following symlinks inside the
// view). Regular files and virtual files implement io.ReaderAt and
// io.Seeker; directories implement fs.ReadDirFile. Other objects
// (devices, FIFOs, sockets) cannot be opened (syscall.EINVAL).
func (f *FS) Open(name string) (fs.File, error) {
	o, src, err := f.follow("open", name)
	if err != nil {
		return nil, err
	}
	perr := func(err error) error { return &fs.PathError{Op: "open", Path: name, Err: unwrap(err)} }
	switch o.kind {
	case kDirIV, kName:
		fi, err := f.info(o)
		if err != nil {
			return nil, perr(err)
		}
		return &memFile{name: name, fi: fi, data: o.data}, nil
	case kConfig:
		pf, err := f.plain.Open(o.plain)
		if err != nil {
			return nil, perr(err)
		}
		src, err := pf.Stat()
		if err == nil {
			var fi fs.FileInfo
			if fi, err = f.configInfo(src); err == nil {
				return newPassFile(name, pf, fi)
			}
		}
		pf.Close()
		return nil, perr(err)
	}
	switch {
	case src.IsDir():
		fi, err := f.realInfo(o, src)
		if err != nil {
			return nil, perr(err)
		}
		return &dir{f: f, o: o, fi: fi, name: name}, nil
	case !src.Mode().IsRegular():
		return nil, perr(syscall.EINVAL)
	}
	pf, err := f.plain.Open(o.plain)
	if err != nil {
		return nil, perr(err)
	}
	fl, err := f.newFile(name, o, pf)
	if err != nil {
		pf.Close()
		return nil, perr(err)
	}
	return fl, nil
}

// memFile is an open virtual file.
type memFile struct {
	name string
	fi   fs.FileInfo
	data []byte
	off  offset
}

func (m *memFile) Stat() (fs.FileInfo, error) { return m.fi, nil }
func (m *memFile) Close() error               { return nil }

// ReadAt implements io.ReaderAt.
func (m *memFile) ReadAt(b []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: m.name, Err: syscall.EINVAL}
	}
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(b, m.data[off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memFile) Read(b []byte) (int, error) { return m.off.read(m, b) }

// Seek implements io.Seeker (io.SeekStart, io.SeekCurrent, io.SeekEnd).
func (m *memFile) Seek(off int64, whence int) (int64, error) {
	return m.off.seek(m.name, off, whence, int64(len(m.data)))
}

// dir is an open view directory.
type dir struct {
	f    *FS
	o    *obj
	fi   fs.FileInfo
	name string
	ents []fs.DirEntry
	read bool
}

func (d *dir) Stat() (fs.FileInfo, error) { return d.fi, nil }
func (d *dir) Close() error               { return nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: d.name, Err: syscall.EISDIR}
}

// ReadDir implements fs.ReadDirFile. The directory is listed on the first
// call.
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	if !d.read {
		ents, err := d.f.readDir(d.o)
		if err != nil {
			return nil, &fs.PathError{Op: "readdir", Path: d.name, Err: err}
		}
		d.ents, d.read = ents, true
	}
	if n <= 0 {
		e := d.ents
		d.ents = nil
		if e == nil {
			e = []fs.DirEntry{}
		}
		return e, nil
	}
	if len(d.ents) == 0 {
		return nil, io.EOF
	}
	k := min(n, len(d.ents))
	e := d.ents[:k:k]
	d.ents = d.ents[k:]
	return e, nil
}
