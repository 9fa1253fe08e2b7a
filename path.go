package sealfs

import (
	"errors"
	"io/fs"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sealfs/sealfs/internal/layout"
	"github.com/sealfs/sealfs/names"
)

// dirLoc is a plaintext directory located in the store: its ciphertext
// path and the IV that encrypts the names of its children.
type dirLoc struct {
	cpath string
	iv    []byte
}

// entryLoc is a plaintext path located in the store.
type entryLoc struct {
	dir    dirLoc
	plain  string // plaintext path
	stored string // name in the ciphertext directory (hashed if long)
	full   string // full encrypted name (== stored unless long)
	long   bool
	cpath  string // ciphertext path
}

// longNameFile is the ciphertext path of the .name file of a long entry.
func (l *entryLoc) longNameFile() string { return layout.LongNamePath(l.cpath) }

// dirCache maps plaintext directory paths to their locations. Only vaults
// with per-directory IVs need it (it saves one diriv read per path
// component); without DirIV, locations are a pure function of the path and
// are computed directly. Entries live dirCacheTTL (as gocryptfs' directory
// cache does), so that a directory replaced behind our back (a new IV) is
// seen soon; changes made through this FS drop them at once (forget).
type dirCache struct {
	enabled bool
	mu      sync.RWMutex
	m       map[string]cachedDir
}

type cachedDir struct {
	loc  dirLoc
	born time.Time
}

const (
	dirCacheMax = 8192
	dirCacheTTL = time.Second
)

func (c *dirCache) init(enabled bool) {
	c.enabled = enabled
	c.m = make(map[string]cachedDir)
}

func (c *dirCache) get(p string) (dirLoc, bool) {
	if !c.enabled {
		return dirLoc{}, false
	}
	c.mu.RLock()
	e, ok := c.m[p]
	c.mu.RUnlock()
	if !ok || time.Since(e.born) >= dirCacheTTL {
		return dirLoc{}, false
	}
	return e.loc, true
}

func (c *dirCache) put(p string, d dirLoc) {
	if !c.enabled {
		return
	}
	now := time.Now()
	c.mu.Lock()
	if len(c.m) >= dirCacheMax {
		clear(c.m)
	}
	c.m[p] = cachedDir{loc: d, born: now}
	c.mu.Unlock()
}

// forget drops p and everything below it.
func (c *dirCache) forget(p string) {
	if !c.enabled {
		return
	}
	c.mu.Lock()
	if p == "." {
		clear(c.m)
	} else {
		delete(c.m, p)
		prefix := p + "/"
		for k := range c.m {
			if strings.HasPrefix(k, prefix) {
				delete(c.m, k)
			}
		}
	}
	c.mu.Unlock()
}

var zeroIV = make([]byte, names.DirIVSize)

// nameCache remembers encrypted names. Where a plaintext name is stored in
// a ciphertext directory is a pure function of the directory's path, its
// IV and the name, so an entry never goes stale: a directory replaced
// behind our back has another IV. Most FUSE requests name an entry that a
// listing or an earlier request has just encrypted or decrypted.
type nameCache struct {
	mu sync.Mutex
	m  map[nameKey]nameVal
}

type nameKey struct {
	iv   [names.DirIVSize]byte
	dir  string // ciphertext path of the directory
	name string // plaintext name
}

type nameVal struct {
	stored, full, cpath string
	long                bool
}

const nameCacheMax = 8192

func newNameKey(d dirLoc, name string) nameKey {
	k := nameKey{dir: d.cpath, name: name}
	copy(k.iv[:], d.iv)
	return k
}

func (c *nameCache) get(k nameKey) (nameVal, bool) {
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	return v, ok
}

func (c *nameCache) put(k nameKey, v nameVal) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[nameKey]nameVal, 256)
	} else if len(c.m) >= nameCacheMax {
		clear(c.m) // keeps the table: no new allocation when it fills again
	}
	c.m[k] = v
	c.mu.Unlock()
}

// dir locates the plaintext directory p.
func (f *FS) dir(p string) (dirLoc, error) {
	if f.plainNames {
		return dirLoc{cpath: p}, nil
	}
	if d, ok := f.dirs.get(p); ok {
		return d, nil
	}
	var d dirLoc
	if p == "." {
		d.cpath = "."
	} else {
		parent, base := splitPath(p)
		pd, err := f.dir(parent)
		if err != nil {
			return dirLoc{}, err
		}
		stored, _, _, err := f.encryptName(pd, base)
		if err != nil {
			return dirLoc{}, err
		}
		d.cpath = layout.Join(pd.cpath, stored)
	}
	if !f.dirIV {
		d.iv = zeroIV
		return d, nil
	}
	iv, err := f.readDirIV(d.cpath)
	if err != nil {
		return dirLoc{}, err
	}
	d.iv = iv
	f.dirs.put(p, d)
	return d, nil
}

// splitPath splits a clean io/fs path into its parent ("." for top-level
// names) and its last element.
func splitPath(p string) (string, string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ".", p
	}
	return p[:i], p[i+1:]
}

// encryptName returns the stored and full ciphertext names of the child
// plain of directory d.
func (f *FS) encryptName(d dirLoc, plain string) (stored, full string, long bool, err error) {
	if err := names.CheckPlain(plain); err != nil {
		return "", "", false, err
	}
	if f.plainNames {
		if d.cpath == "." && plain == names.ConfigFile {
			return "", "", false, syscall.EPERM
		}
		return plain, plain, false, nil
	}
	full, err = f.nt.EncryptName(plain, d.iv)
	if err != nil {
		return "", "", false, err
	}
	stored, long = f.nt.Shorten(full)
	return stored, full, long, nil
}

// locate finds the plaintext path p (not following a final symlink).
func (f *FS) locate(p string) (entryLoc, error) {
	if p == "." {
		d, err := f.dir(".")
		if err != nil {
			return entryLoc{}, err
		}
		return entryLoc{dir: d, plain: ".", stored: ".", full: ".", cpath: "."}, nil
	}
	parent, base := splitPath(p)
	d, err := f.dir(parent)
	if err != nil {
		return entryLoc{}, err
	}
	if f.isBadNameCandidate(base) {
		if l, ok := f.locateBadName(d, p, base); ok {
			return l, nil
		}
	}
	// Plaintext names need no cache: nothing is encrypted.
	var k nameKey
	var v nameVal
	ok := false
	if !f.plainNames {
		k = newNameKey(d, base)
		v, ok = f.names.get(k)
	}
	if !ok {
		if v.stored, v.full, v.long, err = f.encryptName(d, base); err != nil {
			return entryLoc{}, err
		}
		v.cpath = layout.Join(d.cpath, v.stored)
		if !f.plainNames {
			f.names.put(k, v)
		}
	}
	return entryLoc{dir: d, plain: p, stored: v.stored, full: v.full, long: v.long, cpath: v.cpath}, nil
}

// readDirIV reads and checks the gocryptfs.diriv of ciphertext directory
// cdir.
func (f *FS) readDirIV(cdir string) ([]byte, error) { return layout.ReadDirIV(f.store, cdir) }

// writeDirIV creates a new random gocryptfs.diriv in ciphertext directory
// cdir.
func (f *FS) writeDirIV(cdir string) error {
	_, err := layout.WriteDirIV(f.store, cdir, nil)
	return err
}

// createEntry creates the object of plaintext path p with create, which
// gets its location (l.cpath is its ciphertext path): the .name file of a
// long name goes first and is removed again when create fails.
func (f *FS) createEntry(p string, create func(l *entryLoc) error) error {
	l, err := f.locate(p)
	if err != nil {
		return err
	}
	undo, err := f.createLongName(&l)
	if err != nil {
		return err
	}
	if err := create(&l); err != nil {
		undo()
		return err
	}
	return nil
}

// createLongName writes the .name file of a long entry before the entry is
// created. It returns a function that removes the file again if it was
// created here (for when creating the entry fails).
func (f *FS) createLongName(l *entryLoc) (undo func(), err error) {
	if !l.long {
		return func() {}, nil
	}
	err = layout.WriteLongName(f.store, l.cpath, l.full)
	if errors.Is(err, fs.ErrExist) {
		// Another link of the same name already wrote it.
		return func() {}, nil
	}
	if err != nil {
		return nil, err
	}
	p := l.longNameFile()
	return func() { f.store.Remove(p) }, nil
}

// removeLongName deletes the .name file of a removed long entry.
func (f *FS) removeLongName(l *entryLoc) {
	if !l.long {
		return
	}
	if err := f.store.Remove(l.longNameFile()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		f.log.Warn("could not remove long-name file", "path", l.plain, "err", err)
	}
}

// readLongName reads the full encrypted name of hashed entry stored in
// ciphertext directory cdir.
func (f *FS) readLongName(cdir, stored string) (string, error) {
	return layout.ReadLongName(f.store, f.nt, cdir, stored)
}

// hidden reports whether a ciphertext directory entry is internal and not
// shown in plaintext listings.
func (f *FS) hidden(cdir, stored string) bool { return f.layout.Hidden(cdir, stored) }

const maxSymlinkHops = 40

// realPath resolves the symlinks in plaintext path p: in every element but
// the last, and in the last one too when followLast is set. Symlinks are
// resolved inside the vault; an absolute target or one that climbs above
// the root gives ErrEscapes.
func (f *FS) realPath(p string, followLast bool) (string, error) {
	hops := 0
	done := "." // resolved prefix
	rest := p
	if p == "." {
		return ".", nil
	}
	for rest != "" {
		var elem string
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			elem, rest = rest[:i], rest[i+1:]
		} else {
			elem, rest = rest, ""
		}
		next := elem
		if done != "." {
			next = done + "/" + elem
		}
		if rest == "" && !followLast {
			return next, nil
		}
		l, err := f.locate(next)
		if err != nil {
			return "", err
		}
		fi, err := f.store.Lstat(l.cpath)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			if rest != "" && !fi.IsDir() {
				return "", syscall.ENOTDIR
			}
			done = next
			continue
		}
		hops++
		if hops > maxSymlinkHops {
			return "", syscall.ELOOP
		}
		target, err := f.readlinkLoc(&l)
		if err != nil {
			return "", err
		}
		if path.IsAbs(target) {
			return "", ErrEscapes
		}
		joined := path.Join(done, target)
		if joined == ".." || strings.HasPrefix(joined, "../") {
			return "", ErrEscapes
		}
		if rest != "" {
			joined = path.Join(joined, rest)
		}
		done, rest = ".", joined
		if joined == "." {
			return ".", nil
		}
	}
	return done, nil
}

// follow returns the real plaintext path of p following all symlinks.
// The common case (no symlink anywhere) costs one lookup; the element by
// element walk runs only when that lookup meets a symlink or fails.
func (f *FS) follow(p string) (string, error) {
	if l, err := f.locate(p); err == nil {
		if fi, err := f.store.Lstat(l.cpath); err == nil && fi.Mode()&fs.ModeSymlink == 0 {
			return p, nil
		}
	}
	return f.realPath(p, true)
}

// retryNotDir runs op on p; if it fails with ENOTDIR or ELOOP (a symlink in
// the middle of the path), it resolves the intermediate symlinks and runs
// op once more on the real path.
func (f *FS) retryNotDir(p string, op func(p string) error) error {
	err := op(p)
	if err == nil || !isErrno(err, syscall.ENOTDIR, syscall.ELOOP) || !strings.Contains(p, "/") {
		return err
	}
	real, rerr := f.realPath(p, false)
	if rerr != nil || real == p {
		return err
	}
	return op(real)
}
