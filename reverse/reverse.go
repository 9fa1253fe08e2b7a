// Package reverse presents a plaintext directory tree as the read-only,
// deterministic ciphertext view of gocryptfs' reverse mode (FORMAT.md
// §10): every name, file and symlink target encrypted with IVs derived
// from the ciphertext path, plus virtual gocryptfs.diriv, long-name .name
// and gocryptfs.conf files. A copy of the view is an ordinary vault that
// forward mode (sealfs.Open, sealfs decrypt, sealfs mount, gocryptfs)
// decrypts with the same password or master key.
//
// The view is lazy: listing a directory encrypts the names of that
// directory only, and reading a file encrypts only the blocks read.
//
// Unlike gocryptfs, the view does not forward SEEK_DATA/SEEK_HOLE to the
// plaintext: there are no holes in the ciphertext of a reverse view, and
// answering with the plaintext's holes makes sparse-aware copies corrupt.
// Files implement io.ReaderAt and io.Seeker (SeekStart/Current/End).
package reverse

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/names"
	"github.com/sealfs/sealfs/vault"
)

// Options configure a view.
type Options struct {
	// Exclude hides plaintext paths (io/fs form) from the view; lookups
	// of them fail with fs.ErrNotExist. The root is never excluded.
	Exclude func(plainPath string) bool
	// ConfigName is the plaintext file in the root shown as
	// gocryptfs.conf: "" means vault.ReverseFile, "-" shows no config
	// (a custom -config path).
	ConfigName string
	// OneFileSystem shows directories on another device as empty.
	OneFileSystem bool
	// Logger receives diagnostics; nil means silent.
	Logger *slog.Logger
}

// ErrNotSIV is returned by New for a config whose content cipher is not
// AES-SIV (reverse mode needs deterministic encryption).
var ErrNotSIV = errors.New("reverse: the config does not use AES-SIV (create it with init -reverse)")

// FS is the encrypted view. It implements fs.FS, fs.ReadDirFS,
// fs.StatFS and fs.ReadLinkFS, and is safe for concurrent use.
type FS struct {
	plain      fs.FS
	cfg        *vault.Config
	codec      *content.Codec
	nt         *names.Transform
	plainNames bool
	dirIV      bool
	opts       Options
	log        *slog.Logger
	rootDev    uint64
	rootDevSet bool

	mu    sync.Mutex
	links map[[2]uint64]string // hard links: (dev, ino) -> ciphertext path that fixes their IVs
	longs map[string]map[string]string
}

// New returns the view of plain for the reverse-mode config cfg.
func New(plain fs.FS, cfg *vault.Config, key *vault.Key, opts *Options) (*FS, error) {
	if cfg.Suite() != content.AESSIV {
		return nil, ErrNotSIV
	}
	codec, nt, err := cfg.Ciphers(key, nil)
	if err != nil {
		return nil, err
	}
	f := &FS{plain: plain, cfg: cfg, codec: codec, nt: nt, plainNames: cfg.PlaintextNames(), dirIV: cfg.DirIV(),
		links: map[[2]uint64]string{}, longs: map[string]map[string]string{}}
	if opts != nil {
		f.opts = *opts
	}
	if f.opts.ConfigName == "" {
		f.opts.ConfigName = vault.ReverseFile
	}
	f.log = f.opts.Logger
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	if fi, err := fs.Stat(plain, "."); err == nil {
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			f.rootDev, f.rootDevSet = st.Dev, true
		}
	}
	return f, nil
}

// PathIV is the path-derived IV of FORMAT.md §10.3.
func PathIV(cpath, purpose string) []byte {
	h := sha256.New()
	h.Write([]byte(cpath))
	h.Write([]byte{0})
	h.Write([]byte(purpose))
	return h.Sum(nil)[:16]
}

func cjoin(dir, name string) string {
	if dir == "" || dir == "." {
		return name
	}
	return dir + "/" + name
}

// dirIVOf returns the IV for the names in ciphertext directory cdir ("" for
// the root).
func (f *FS) dirIVOf(cdir string) []byte {
	if !f.dirIV {
		return make([]byte, names.DirIVSize)
	}
	return PathIV(cdir, "DIRIV")
}

// cipherName returns the stored and the full ciphertext name of plaintext
// name in ciphertext directory cdir.
func (f *FS) cipherName(cdir, name string) (stored, full string, long bool, err error) {
	if f.plainNames {
		return name, name, false, nil
	}
	full, err = f.nt.EncryptName(name, f.dirIVOf(cdir))
	if err != nil {
		return "", "", false, err
	}
	stored, long = f.nt.Shorten(full)
	return stored, full, long, nil
}

func (f *FS) excluded(plainPath string) bool {
	return plainPath != "." && f.opts.Exclude != nil && f.opts.Exclude(plainPath)
}

func (f *FS) isConfig(plainDir, name string) bool {
	return plainDir == "." && f.opts.ConfigName != "-" && name == f.opts.ConfigName
}

// kind of a view object.
type kind int

const (
	kReal   kind = iota // a plaintext object
	kDirIV              // virtual gocryptfs.diriv
	kName               // virtual gocryptfs.longname.X.name
	kConfig             // the reverse config shown as gocryptfs.conf
)

// obj is a resolved view path.
type obj struct {
	kind  kind
	cpath string // ciphertext path ("" for the root)
	cname string // last ciphertext element as stored
	plain string // plaintext path of the object (kReal, kConfig) or of the target (kName) or directory (kDirIV)
	data  []byte // contents of virtual files
}

// plainEntries lists a plaintext directory minus excluded entries.
func (f *FS) plainEntries(plainDir string) ([]fs.DirEntry, error) {
	ents, err := fs.ReadDir(f.plain, plainDir)
	if err != nil {
		return nil, err
	}
	out := ents[:0]
	for _, e := range ents {
		if !f.excluded(cjoin(plainDir, e.Name())) {
			out = append(out, e)
		}
	}
	return out, nil
}

// longNames maps the hashed names of ciphertext directory cdir to
// plaintext names (cached: hashed names cannot be decrypted).
func (f *FS) longNames(cdir, plainDir string) (map[string]string, error) {
	f.mu.Lock()
	m, ok := f.longs[cdir]
	f.mu.Unlock()
	if ok {
		return m, nil
	}
	ents, err := f.plainEntries(plainDir)
	if err != nil {
		return nil, err
	}
	m = map[string]string{}
	for _, e := range ents {
		if f.isConfig(plainDir, e.Name()) {
			continue
		}
		if stored, _, long, err := f.cipherName(cdir, e.Name()); err == nil && long {
			m[stored] = e.Name()
		}
	}
	f.mu.Lock()
	if len(f.longs) > 1024 {
		clear(f.longs)
	}
	f.longs[cdir] = m
	f.mu.Unlock()
	return m, nil
}

// resolve maps a view path to the object it names.
func (f *FS) resolve(op, name string) (*obj, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	o := &obj{kind: kReal, plain: "."}
	if name == "." {
		return o, nil
	}
	elems := strings.Split(name, "/")
	for i, c := range elems {
		last := i == len(elems)-1
		if o.kind != kReal {
			return nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
		}
		cdir, pdir := o.cpath, o.plain
		next := &obj{kind: kReal, cpath: cjoin(cdir, c), cname: c}
		switch {
		case cdir == "" && c == names.ConfigFile && f.opts.ConfigName != "-":
			next.kind, next.plain = kConfig, f.opts.ConfigName
		case !f.plainNames && f.dirIV && c == names.DirIVFile:
			next.kind, next.plain, next.data = kDirIV, pdir, f.dirIVOf(cdir)
		case !f.plainNames && names.IsLongNameFile(c):
			h := strings.TrimSuffix(c, names.LongNameSuffix)
			m, err := f.longNames(cdir, pdir)
			if err != nil {
				return nil, &fs.PathError{Op: op, Path: name, Err: err}
			}
			pn, ok := m[h]
			if !ok {
				return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
			}
			_, full, _, _ := f.cipherName(cdir, pn)
			next.kind, next.plain, next.data = kName, cjoin(pdir, pn), []byte(full)
		case !f.plainNames && names.IsLongName(c):
			m, err := f.longNames(cdir, pdir)
			if err != nil {
				return nil, &fs.PathError{Op: op, Path: name, Err: err}
			}
			pn, ok := m[c]
			if !ok {
				return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
			}
			next.plain = cjoin(pdir, pn)
		case f.plainNames:
			if f.isConfig(pdir, c) {
				return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
			}
			next.plain = cjoin(pdir, c)
		default:
			pn, err := f.nt.DecryptName(c, f.dirIVOf(cdir))
			if err != nil || f.isConfig(pdir, pn) {
				return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
			}
			if stored, _, _, _ := f.cipherName(cdir, pn); stored != c {
				// A long name must be looked up in its hashed form.
				return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
			}
			next.plain = cjoin(pdir, pn)
		}
		if next.kind == kReal && f.excluded(next.plain) {
			return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
		}
		if !last && next.kind == kReal {
			fi, err := fs.Lstat(f.plain, next.plain)
			if err != nil {
				return nil, &fs.PathError{Op: op, Path: name, Err: unwrap(err)}
			}
			if !fi.IsDir() {
				return nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
			}
		}
		o = next
	}
	return o, nil
}

func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// linkPath returns the ciphertext path whose IVs a file uses: its own, or
// for hard links the first path through which the inode was seen.
func (f *FS) linkPath(cpath string, fi fs.FileInfo) string {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Nlink < 2 || fi.IsDir() {
		return cpath
	}
	key := [2]uint64{st.Dev, st.Ino}
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.links[key]; ok {
		return p
	}
	f.links[key] = cpath
	return cpath
}

// symlinkTarget encrypts a symlink target (§10.5, including gocryptfs'
// doubled last element in the nonce path).
func (f *FS) symlinkTarget(o *obj, target string) string {
	if f.plainNames {
		return target
	}
	nonce := PathIV(o.cpath+"/"+o.cname, "SYMLINKIV")
	return f.nt.Encoding().EncodeToString(f.codec.EncryptBlobNonce([]byte(target), nonce))
}

// Namespaces of virtual inode numbers (§10.7).
const (
	nsDirIV = 1
	nsName  = 2
)

// info builds the FileInfo of a resolved object.
func (f *FS) info(o *obj) (fs.FileInfo, error) {
	base := path.Base(o.cpath)
	if o.cpath == "" {
		base = "."
	}
	switch o.kind {
	case kDirIV, kName:
		src, err := fs.Lstat(f.plain, o.plain)
		if err != nil {
			return nil, unwrap(err)
		}
		ns := uint64(nsDirIV)
		if o.kind == kName {
			ns = nsName
		}
		return f.virtualInfo(base, src, int64(len(o.data)), ns), nil
	case kConfig:
		src, err := fs.Lstat(f.plain, o.plain)
		if err != nil {
			return nil, unwrap(err)
		}
		return &fileInfo{name: base, size: src.Size(), mode: 0o400, mtime: src.ModTime(), sys: copyStat(src.Sys(), src.Size(), 0)}, nil
	}
	src, err := fs.Lstat(f.plain, o.plain)
	if err != nil {
		return nil, unwrap(err)
	}
	size := src.Size()
	switch {
	case src.Mode().IsRegular():
		size = f.codec.CipherSize(size)
	case src.Mode()&fs.ModeSymlink != 0:
		t, err := fs.ReadLink(f.plain, o.plain)
		if err != nil {
			return nil, unwrap(err)
		}
		size = int64(len(f.symlinkTarget(o, t)))
	}
	return &fileInfo{name: base, size: size, mode: src.Mode(), mtime: src.ModTime(), sys: copyStat(src.Sys(), size, 0)}, nil
}

// virtualInfo describes a virtual file: mode 0444, owner and times of src,
// mtime 10 s later (as gocryptfs 2.5+ does), inode number in namespace ns.
func (f *FS) virtualInfo(name string, src fs.FileInfo, size int64, ns uint64) fs.FileInfo {
	mt := src.ModTime().Add(10 * time.Second)
	sys := copyStat(src.Sys(), size, ns)
	if st, ok := sys.(*syscall.Stat_t); ok {
		st.Mode = syscall.S_IFREG | 0o444
		st.Nlink = 1
		st.Mtim = syscall.NsecToTimespec(mt.UnixNano())
		st.Ctim = st.Mtim
		st.Blocks = (size + 511) / 512
	}
	return &fileInfo{name: name, size: size, mode: 0o444, mtime: mt, sys: sys}
}

// copyStat copies a *syscall.Stat_t with the view's size and, for virtual
// files, an inode number in namespace ns.
func copyStat(sys any, size int64, ns uint64) any {
	st, ok := sys.(*syscall.Stat_t)
	if !ok {
		return nil
	}
	c := *st
	c.Size = size
	if ns != 0 {
		c.Ino = ns<<48 | c.Ino&(1<<48-1)
	}
	return &c
}

type fileInfo struct {
	name  string
	size  int64
	mode  fs.FileMode
	mtime time.Time
	sys   any
}

func (fi *fileInfo) Name() string       { return fi.name }
func (fi *fileInfo) Size() int64        { return fi.size }
func (fi *fileInfo) Mode() fs.FileMode  { return fi.mode }
func (fi *fileInfo) ModTime() time.Time { return fi.mtime }
func (fi *fileInfo) IsDir() bool        { return fi.mode.IsDir() }
func (fi *fileInfo) Sys() any           { return fi.sys }

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

// Stat is Lstat, following symlinks inside the view.
func (f *FS) Stat(name string) (fs.FileInfo, error) {
	real, err := f.follow(name)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: unwrap(err)}
	}
	return f.Lstat(real)
}

// follow resolves symlinks of the view within the view (their targets are
// ciphertext, so this rarely leads anywhere).
func (f *FS) follow(name string) (string, error) {
	for hops := 0; hops < 40; hops++ {
		fi, err := f.Lstat(name)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return name, nil
		}
		t, err := f.ReadLink(name)
		if err != nil {
			return "", err
		}
		if path.IsAbs(t) {
			return "", fs.ErrNotExist
		}
		name = path.Join(path.Dir(name), t)
		if !fs.ValidPath(name) {
			return "", fs.ErrNotExist
		}
	}
	return "", syscall.ELOOP
}

// ReadLink returns the encrypted target of a symlink.
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

// ReadDir lists a view directory, sorted by name.
func (f *FS) ReadDir(name string) ([]fs.DirEntry, error) {
	o, err := f.resolve("readdir", name)
	if err != nil {
		return nil, err
	}
	ents, err := f.readDir(o)
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	return ents, nil
}

func (f *FS) readDir(o *obj) ([]fs.DirEntry, error) {
	if o.kind != kReal {
		return nil, syscall.ENOTDIR
	}
	dfi, err := fs.Stat(f.plain, o.plain)
	if err != nil {
		return nil, unwrap(err)
	}
	if !dfi.IsDir() {
		return nil, syscall.ENOTDIR
	}
	var ents []fs.DirEntry
	if !f.opts.OneFileSystem || !f.otherDevice(dfi) {
		if ents, err = f.plainEntries(o.plain); err != nil {
			return nil, unwrap(err)
		}
	}
	out := make([]fs.DirEntry, 0, len(ents)+2)
	add := func(c *obj, typ fs.FileMode) {
		out = append(out, &dirEntry{f: f, o: c, typ: typ})
	}
	if !f.plainNames && f.dirIV {
		add(&obj{kind: kDirIV, cpath: cjoin(o.cpath, names.DirIVFile), cname: names.DirIVFile, plain: o.plain, data: f.dirIVOf(o.cpath)}, 0)
	}
	for _, e := range ents {
		if f.isConfig(o.plain, e.Name()) {
			add(&obj{kind: kConfig, cpath: names.ConfigFile, cname: names.ConfigFile, plain: e.Name()}, 0)
			continue
		}
		if f.plainNames && o.plain == "." && e.Name() == names.ConfigFile && f.opts.ConfigName != "-" {
			f.log.Warn("plaintext gocryptfs.conf hidden by the reverse config", "path", e.Name())
			continue
		}
		stored, full, long, err := f.cipherName(o.cpath, e.Name())
		if err != nil {
			f.log.Warn("name not encryptable", "path", cjoin(o.plain, e.Name()), "err", err)
			continue
		}
		p := cjoin(o.plain, e.Name())
		add(&obj{kind: kReal, cpath: cjoin(o.cpath, stored), cname: stored, plain: p}, e.Type())
		if long {
			nf := stored + names.LongNameSuffix
			add(&obj{kind: kName, cpath: cjoin(o.cpath, nf), cname: nf, plain: p, data: []byte(full)}, 0)
		}
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

func (f *FS) otherDevice(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && f.rootDevSet && st.Dev != f.rootDev
}

type dirEntry struct {
	f   *FS
	o   *obj
	typ fs.FileMode
}

func (e *dirEntry) Name() string               { return e.o.cname }
func (e *dirEntry) IsDir() bool                { return e.typ.IsDir() }
func (e *dirEntry) Type() fs.FileMode          { return e.typ.Type() }
func (e *dirEntry) Info() (fs.FileInfo, error) { return e.f.info(e.o) }

// Open opens a view file or directory (following symlinks).
func (f *FS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	real, err := f.follow(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: unwrap(err)}
	}
	o, err := f.resolve("open", real)
	if err != nil {
		return nil, err
	}
	fi, err := f.info(o)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	switch {
	case o.kind == kDirIV || o.kind == kName:
		return &memFile{fi: fi, data: o.data}, nil
	case fi.IsDir():
		return &dir{f: f, o: o, fi: fi, name: name}, nil
	case !fi.Mode().IsRegular():
		return nil, &fs.PathError{Op: "open", Path: name, Err: syscall.EINVAL}
	}
	pf, err := f.plain.Open(o.plain)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: unwrap(err)}
	}
	if o.kind == kConfig {
		ra, ok := pf.(io.ReaderAt)
		if !ok {
			data, err := io.ReadAll(pf)
			pf.Close()
			if err != nil {
				return nil, &fs.PathError{Op: "open", Path: name, Err: err}
			}
			return &memFile{fi: fi, data: data}, nil
		}
		return &passFile{fi: fi, f: pf, ra: ra}, nil
	}
	ra, ok := pf.(io.ReaderAt)
	if !ok {
		pf.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.ErrUnsupported}
	}
	pfi, err := pf.Stat()
	if err != nil {
		pf.Close()
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	ivPath := f.linkPath(o.cpath, pfi)
	file := &file{f: f, name: name, pf: pf, ra: ra, fi: fi, psize: pfi.Size(),
		b0: PathIV(ivPath, "BLOCK0IV")}
	copy(file.fileID[:], PathIV(ivPath, "FILEID"))
	return file, nil
}

// EncryptPath returns the view path of a plaintext path (pure
// computation: the path need not exist).
func (f *FS) EncryptPath(plain string) (string, error) {
	if !fs.ValidPath(plain) {
		return "", &fs.PathError{Op: "encryptpath", Path: plain, Err: fs.ErrInvalid}
	}
	if plain == "." {
		return "", nil
	}
	cdir := ""
	for _, e := range strings.Split(plain, "/") {
		stored, _, _, err := f.cipherName(cdir, e)
		if err != nil {
			return "", &fs.PathError{Op: "encryptpath", Path: plain, Err: err}
		}
		cdir = cjoin(cdir, stored)
	}
	return cdir, nil
}

// DecryptPath returns the plaintext path of a view path; unknown elements
// give fs.ErrNotExist (with plaintext names, the input comes back as it is).
func (f *FS) DecryptPath(cipher string) (string, error) {
	if f.plainNames && fs.ValidPath(cipher) && cipher != "." {
		// Names are not encrypted: the answer is the input (as gocryptfs
		// gives it, also for paths that do not exist).
		return cipher, nil
	}
	o, err := f.resolve("decryptpath", cipher)
	if err != nil {
		return "", err
	}
	if o.kind != kReal {
		return "", &fs.PathError{Op: "decryptpath", Path: cipher, Err: fs.ErrInvalid}
	}
	if _, err := fs.Lstat(f.plain, o.plain); err != nil {
		return "", &fs.PathError{Op: "decryptpath", Path: cipher, Err: unwrap(err)}
	}
	if o.plain == "." {
		return "", nil
	}
	return o.plain, nil
}

// file is an open view file: its ciphertext is computed on the fly.
type file struct {
	f      *FS
	name   string
	pf     fs.File
	ra     io.ReaderAt
	fi     fs.FileInfo
	psize  int64
	fileID [content.FileIDSize]byte
	b0     []byte
	mu     sync.Mutex
	off    int64
}

func (fl *file) Stat() (fs.FileInfo, error) { return fl.fi, nil }
func (fl *file) Close() error               { return fl.pf.Close() }

func (fl *file) Read(p []byte) (int, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	n, err := fl.ReadAt(p, fl.off)
	fl.off += int64(n)
	return n, err
}

func (fl *file) Seek(off int64, whence int) (int64, error) {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += fl.off
	case io.SeekEnd:
		off += fl.fi.Size()
	default:
		// SEEK_DATA/SEEK_HOLE are not offered: the view has no holes.
		return 0, &fs.PathError{Op: "seek", Path: fl.name, Err: syscall.EINVAL}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "seek", Path: fl.name, Err: syscall.EINVAL}
	}
	fl.off = off
	return off, nil
}

func (fl *file) blockNonce(n uint64) []byte {
	nonce := slices.Clone(fl.b0)
	binary.BigEndian.PutUint64(nonce[8:], binary.BigEndian.Uint64(fl.b0[8:])+n)
	return nonce
}

// ReadAt reads ciphertext of the view file, encrypting the plaintext
// blocks it covers.
func (fl *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: fl.name, Err: syscall.EINVAL}
	}
	size := fl.fi.Size()
	if off >= size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), size)
	n := 0
	if off < content.HeaderSize {
		h := content.Header{FileID: fl.fileID}
		n += copy(p[:end-off], h.Bytes()[off:])
	}
	cbs := int64(fl.f.codec.CipherBlockSize())
	pos := off + int64(n)
	plain := make([]byte, content.PlainBlockSize)
	var sealed []byte
	for pos < end {
		blk := (pos - content.HeaderSize) / cbs
		pstart := blk * content.PlainBlockSize
		plen := min(content.PlainBlockSize, fl.psize-pstart)
		got, err := fl.ra.ReadAt(plain[:plen], pstart)
		if int64(got) < plen {
			if err == nil || err == io.EOF {
				err = fmt.Errorf("%w: plaintext file shrank while being read", io.ErrUnexpectedEOF)
			}
			return n, &fs.PathError{Op: "read", Path: fl.name, Err: err}
		}
		sealed = fl.f.codec.Seal(sealed[:0], plain[:plen], fl.blockNonce(uint64(blk)), uint64(blk), fl.fileID[:])
		cstart := content.HeaderSize + blk*cbs
		c := copy(p[pos-off:end-off], sealed[pos-cstart:])
		pos += int64(c)
		n += c
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// passFile passes the config file through.
type passFile struct {
	fi fs.FileInfo
	f  fs.File
	ra io.ReaderAt
	mu sync.Mutex
	o  int64
}

func (p *passFile) Stat() (fs.FileInfo, error)              { return p.fi, nil }
func (p *passFile) Close() error                            { return p.f.Close() }
func (p *passFile) ReadAt(b []byte, off int64) (int, error) { return p.ra.ReadAt(b, off) }
func (p *passFile) Read(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n, err := p.ra.ReadAt(b, p.o)
	p.o += int64(n)
	return n, err
}

// memFile is a virtual file.
type memFile struct {
	fi   fs.FileInfo
	data []byte
	mu   sync.Mutex
	o    int64
}

func (m *memFile) Stat() (fs.FileInfo, error) { return m.fi, nil }
func (m *memFile) Close() error               { return nil }
func (m *memFile) ReadAt(b []byte, off int64) (int, error) {
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	n := copy(b, m.data[off:])
	if n < len(b) {
		return n, io.EOF
	}
	return n, nil
}
func (m *memFile) Read(b []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n, err := m.ReadAt(b, m.o)
	m.o += int64(n)
	return n, err
}
func (m *memFile) Seek(off int64, whence int) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch whence {
	case io.SeekCurrent:
		off += m.o
	case io.SeekEnd:
		off += int64(len(m.data))
	}
	if off < 0 {
		return 0, syscall.EINVAL
	}
	m.o = off
	return off, nil
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
