package reverse

import (
	"io/fs"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sealfs/sealfs/names"
)

// kind of a view object.
type kind uint8

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
	cname string // last ciphertext element as shown
	// plain is the plaintext path of the object (kReal, kConfig), of the
	// hashed target (kName) or of the directory (kDirIV).
	plain string
	data  []byte // contents of virtual files
}

// resolve maps a view path to the object it names. Every directory on the
// way is checked with Lstat (so plaintext symlinks are never followed);
// the last element is not checked for existence unless it is virtual.
func (f *FS) resolve(op, name string) (*obj, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	o := &obj{kind: kReal, plain: "."}
	if name == "." {
		return o, nil
	}
	var dirFi fs.FileInfo // of o while it is a directory; nil for the root
	rest := name
	for {
		c, after, more := strings.Cut(rest, "/")
		next, err := f.lookup(o, dirFi, c)
		if err != nil {
			return nil, &fs.PathError{Op: op, Path: name, Err: err}
		}
		if more {
			if next.kind != kReal {
				return nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
			}
			fi, err := fs.Lstat(f.plain, next.plain)
			if err != nil {
				return nil, &fs.PathError{Op: op, Path: name, Err: unwrap(err)}
			}
			if !fi.IsDir() {
				return nil, &fs.PathError{Op: op, Path: name, Err: syscall.ENOTDIR}
			}
			dirFi = fi
		}
		o = next
		if !more {
			return o, nil
		}
		rest = after
	}
}

// lookup finds view name c in directory dir (a kReal directory; dirFi is
// its plaintext FileInfo, nil for the root).
func (f *FS) lookup(dir *obj, dirFi fs.FileInfo, c string) (*obj, error) {
	cdir, pdir := dir.cpath, dir.plain
	next := &obj{kind: kReal, cpath: join(cdir, c), cname: c}
	root := cdir == ""
	switch {
	case root && c == names.ConfigFile && f.configName != "":
		next.kind, next.plain = kConfig, f.configName
		return next, nil
	case !f.plainNames && f.dirIV && c == names.DirIVFile:
		next.kind, next.plain, next.data = kDirIV, pdir, f.dirIVOf(cdir)
		return next, nil
	case f.oneFS && dirFi != nil && f.otherDevice(dirFi):
		return nil, fs.ErrNotExist // shown empty
	case f.plainNames:
		if root && f.isConfig(c) {
			return nil, fs.ErrNotExist // shown as gocryptfs.conf only
		}
		next.plain = join(pdir, c)
	case names.IsLongNameFile(c):
		pn, err := f.longName(cdir, pdir, dirFi, strings.TrimSuffix(c, names.LongNameSuffix))
		if err != nil {
			return nil, err
		}
		_, full, _, err := f.cipherName(cdir, pn)
		if err != nil {
			return nil, err
		}
		next.kind, next.plain, next.data = kName, join(pdir, pn), []byte(full)
	case names.IsLongName(c):
		pn, err := f.longName(cdir, pdir, dirFi, c)
		if err != nil {
			return nil, err
		}
		next.plain = join(pdir, pn)
	default:
		pn, err := f.nt.DecryptName(c, f.dirIVOf(cdir))
		if err != nil {
			return nil, fs.ErrNotExist
		}
		if root && f.isConfig(pn) {
			return nil, fs.ErrNotExist // shown as gocryptfs.conf only
		}
		if stored, _, _, err := f.cipherName(cdir, pn); err != nil || stored != c {
			// A long name exists only in its hashed form.
			return nil, fs.ErrNotExist
		}
		next.plain = join(pdir, pn)
	}
	if f.excluded(next.plain) {
		return nil, fs.ErrNotExist
	}
	return next, nil
}

// plainEntries lists a plaintext directory minus excluded entries.
func (f *FS) plainEntries(plainDir string) ([]fs.DirEntry, error) {
	ents, err := fs.ReadDir(f.plain, plainDir)
	if err != nil {
		return nil, unwrap(err)
	}
	out := ents[:0]
	for _, e := range ents {
		if !f.excluded(join(plainDir, e.Name())) {
			out = append(out, e)
		}
	}
	return out, nil
}

// longName returns the plaintext name behind hashed name h in ciphertext
// directory cdir (plaintext pdir, described by dirFi or nil for the root).
// Hashes cannot be inverted, so the plaintext directory is listed and its
// long names are encrypted; the answer is cached per directory. A hit is
// always right while the plaintext name exists (the hash is a function of
// the name); a miss lists the directory again when it has changed since.
func (f *FS) longName(cdir, pdir string, dirFi fs.FileInfo, h string) (string, error) {
	if dirFi == nil {
		var err error
		if dirFi, err = fs.Stat(f.plain, pdir); err != nil {
			return "", unwrap(err)
		}
	}
	id := identityOf(dirFi)
	if pn, ok, fresh := f.longs.get(cdir, id, h); ok {
		return pn, nil
	} else if fresh {
		return "", fs.ErrNotExist
	}
	ents, err := f.plainEntries(pdir)
	if err != nil {
		return "", err
	}
	m := map[string]string{}
	for _, e := range ents {
		if cdir == "" && f.isConfig(e.Name()) {
			continue
		}
		if stored, _, long, err := f.cipherName(cdir, e.Name()); err == nil && long {
			m[stored] = e.Name()
		}
	}
	f.longs.put(cdir, id, m)
	if pn, ok := m[h]; ok {
		return pn, nil
	}
	return "", fs.ErrNotExist
}

// dirIdentity says whether a directory may have changed.
type dirIdentity struct {
	mtime    int64 // ns
	ino, dev uint64
	ctime    int64
}

func identityOf(fi fs.FileInfo) dirIdentity {
	id := dirIdentity{mtime: fi.ModTime().UnixNano()}
	if st, ok := statOf(fi); ok {
		id.ino, id.dev = st.ino, st.dev
		id.ctime = st.ctime.UnixNano()
	}
	return id
}

// Bounds of the long-name cache.
const (
	longCacheDirs  = 256     // directories
	longCacheNames = 1 << 16 // names over all directories (one big directory may exceed it alone)
	// racyWindow: a listing taken less than this after the directory's
	// mtime may miss entries added within the same timestamp tick, so a
	// miss in it lists again.
	racyWindow = 2 * time.Second
)

// longCache maps ciphertext directories to their hashed names (LRU).
type longCache struct {
	mu    sync.Mutex
	dirs  map[string]*longDir
	names int
	clock uint64
}

type longDir struct {
	id    dirIdentity
	racy  bool
	m     map[string]string // hashed name -> plaintext name
	stamp uint64
}

// get looks up hashed name h of directory cdir. fresh reports that the
// cached listing is current for identity id, so a miss is final.
func (c *longCache) get(cdir string, id dirIdentity, h string) (pn string, ok, fresh bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.dirs[cdir]
	if d == nil {
		return "", false, false
	}
	c.clock++
	d.stamp = c.clock
	pn, ok = d.m[h]
	return pn, ok, d.id == id && !d.racy
}

// put stores the long names of directory cdir listed at identity id.
func (c *longCache) put(cdir string, id dirIdentity, m map[string]string) {
	racy := time.Since(time.Unix(0, id.mtime)) < racyWindow
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dirs == nil {
		c.dirs = map[string]*longDir{}
	}
	if old := c.dirs[cdir]; old != nil {
		c.names -= len(old.m)
	}
	c.clock++
	c.dirs[cdir] = &longDir{id: id, racy: racy, m: m, stamp: c.clock}
	c.names += len(m)
	for len(c.dirs) > 1 && (len(c.dirs) > longCacheDirs || c.names > longCacheNames) {
		var oldest string
		var st uint64 = ^uint64(0)
		for k, d := range c.dirs {
			if k != cdir && d.stamp < st {
				oldest, st = k, d.stamp
			}
		}
		c.names -= len(c.dirs[oldest].m)
		delete(c.dirs, oldest)
	}
}
