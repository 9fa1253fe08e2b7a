package reverse

import (
	"io/fs"
	"path"
	"sync"
	"syscall"
	"time"
)

// virtualTimeShift is added to the mtime and ctime of virtual files, as
// gocryptfs 2.5+ does (2.3 did not).
const virtualTimeShift = 10 * time.Second

// info describes a resolved object.
func (f *FS) info(o *obj) (fs.FileInfo, error) {
	switch o.kind {
	case kDirIV, kName:
		src, err := fs.Lstat(f.plain, o.plain)
		if err != nil {
			return nil, unwrap(err)
		}
		return f.virtualInfo(o, src), nil
	case kConfig:
		src, err := fs.Stat(f.plain, o.plain)
		if err != nil {
			return nil, unwrap(err)
		}
		return f.configInfo(src)
	}
	src, err := fs.Lstat(f.plain, o.plain)
	if err != nil {
		return nil, unwrap(err)
	}
	return f.realInfo(o, src)
}

// baseName is the FileInfo name of a view object.
func baseName(o *obj) string {
	if o.cpath == "" {
		return "."
	}
	return path.Base(o.cpath)
}

// realInfo describes a plaintext object (src is its Lstat) in the view.
func (f *FS) realInfo(o *obj, src fs.FileInfo) (fs.FileInfo, error) {
	size := src.Size()
	mode := src.Mode()
	switch {
	case mode.IsRegular():
		size = f.codec.CipherSize(size)
	case mode&fs.ModeSymlink != 0:
		t, err := fs.ReadLink(f.plain, o.plain)
		if err != nil {
			return nil, unwrap(err)
		}
		size = int64(len(f.symlinkTarget(o, t)))
	}
	fi := &fileInfo{name: baseName(o), size: size, mode: mode, mtime: src.ModTime()}
	if st, ok := statOf(src); ok {
		e := &statEdit{ino: f.inos.ino(st.dev, st.ino, kReal, ""), size: size, setSize: true}
		if mode.IsRegular() {
			e.blocks, e.setBlocks = (size+511)/512, true
		}
		fi.sys = viewStat(src, e)
	}
	return fi, nil
}

// configInfo describes the config file: its own attributes, mode 0400.
func (f *FS) configInfo(src fs.FileInfo) (fs.FileInfo, error) {
	if !src.Mode().IsRegular() {
		return nil, fs.ErrNotExist
	}
	fi := &fileInfo{name: "gocryptfs.conf", size: src.Size(), mode: 0o400, mtime: src.ModTime()}
	if st, ok := statOf(src); ok {
		fi.sys = viewStat(src, &statEdit{ino: f.inos.ino(st.dev, st.ino, kReal, ""), mode: syscall.S_IFREG | 0o400})
	}
	return fi, nil
}

// virtualInfo describes a virtual file: mode 0444, link count 1, owner
// and times of src (the directory or the hashed target), mtime and ctime
// shifted like 2.5+, inode number in the namespace of its kind.
func (f *FS) virtualInfo(o *obj, src fs.FileInfo) fs.FileInfo {
	size := int64(len(o.data))
	mt := src.ModTime().Add(virtualTimeShift)
	fi := &fileInfo{name: baseName(o), size: size, mode: 0o444, mtime: mt}
	if st, ok := statOf(src); ok {
		distinct := ""
		if o.kind == kName && st.nlink > 1 {
			// Several names of one inode have different .name files.
			distinct = o.cpath
		}
		fi.sys = viewStat(src, &statEdit{
			ino: f.inos.ino(st.dev, st.ino, o.kind, distinct), mode: syscall.S_IFREG | 0o444, nlink: 1,
			size: size, setSize: true, blocks: (size + 511) / 512, setBlocks: true, zeroRdev: true,
			mtime: mt, ctime: st.ctime.Add(virtualTimeShift),
		})
	}
	return fi
}

// inoMap hands out the view's inode numbers (§10.7).
type inoMap struct {
	mu        sync.Mutex
	rootDev   uint64
	ns        map[nsKey]uint64
	nextNS    uint64
	spill     map[spillKey]uint64
	nextSpill uint64
}

type nsKey struct {
	dev  uint64
	kind kind
}

type spillKey struct {
	dev, ino uint64
	kind     kind
	name     string
}

const (
	inoBits  = 48
	maxNS    = 1<<15 - 1 // bit 63 marks spilled numbers
	spillBit = 1 << 63
)

func (m *inoMap) init(rootDev uint64) {
	m.rootDev = rootDev
	// As observed with gocryptfs: diriv files in namespace 1, .name
	// files in namespace 2 (on the root device).
	m.ns = map[nsKey]uint64{{rootDev, kReal}: 0, {rootDev, kDirIV}: 1, {rootDev, kName}: 2}
	m.nextNS = 3
	m.spill = map[spillKey]uint64{}
}

// ino returns the view inode number of plaintext inode (dev, ino) shown as
// kind k (kReal for real objects and the config). A non-empty distinct
// gives the object a number of its own.
func (m *inoMap) ino(dev, ino uint64, k kind, distinct string) uint64 {
	if k == kConfig {
		k = kReal
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if distinct == "" && ino < 1<<inoBits {
		ns, ok := m.ns[nsKey{dev, k}]
		if !ok && m.nextNS <= maxNS {
			ns, ok = m.nextNS, true
			m.ns[nsKey{dev, k}] = ns
			m.nextNS++
		}
		if ok {
			return ns<<inoBits | ino
		}
	}
	key := spillKey{dev, ino, k, distinct}
	n, ok := m.spill[key]
	if !ok {
		m.nextSpill++
		n = spillBit | m.nextSpill
		m.spill[key] = n
	}
	return n
}

// fileInfo is the FileInfo of view objects.
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

// dirEntry is a listed view object.
type dirEntry struct {
	f   *FS
	o   *obj
	typ fs.FileMode
}

func (e *dirEntry) Name() string               { return e.o.cname }
func (e *dirEntry) IsDir() bool                { return e.typ.IsDir() }
func (e *dirEntry) Type() fs.FileMode          { return e.typ.Type() }
func (e *dirEntry) Info() (fs.FileInfo, error) { return e.f.info(e.o) }
func (e *dirEntry) String() string             { return fs.FormatDirEntry(e) }
