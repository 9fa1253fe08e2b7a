package dirstore

import (
	"encoding/binary"
	"io"
	"io/fs"
	"path"
	"sync"

	"golang.org/x/sys/unix"
)

// storeDirent is one entry of a Store listing.
type storeDirent struct {
	s    *Store
	dir  string // the directory's path in the store
	name string
	typ  fs.FileMode
	ino  uint64
}

func (e *storeDirent) Name() string      { return e.name }
func (e *storeDirent) IsDir() bool       { return e.typ.IsDir() }
func (e *storeDirent) Type() fs.FileMode { return e.typ }
func (e *storeDirent) Ino() uint64       { return e.ino }
func (e *storeDirent) Info() (fs.FileInfo, error) {
	return e.s.Lstat(path.Join(e.dir, e.name))
}
func (e *storeDirent) String() string { return fs.FormatDirEntry(e) }

// direntType maps a dirent d_type to the type bits of fs.FileMode; ok is
// false for DT_UNKNOWN (some file systems leave the type to a stat).
func direntType(t uint8) (m fs.FileMode, ok bool) {
	switch t {
	case unix.DT_REG:
		return 0, true
	case unix.DT_DIR:
		return fs.ModeDir, true
	case unix.DT_LNK:
		return fs.ModeSymlink, true
	case unix.DT_FIFO:
		return fs.ModeNamedPipe, true
	case unix.DT_SOCK:
		return fs.ModeSocket, true
	case unix.DT_CHR:
		return fs.ModeDevice | fs.ModeCharDevice, true
	case unix.DT_BLK:
		return fs.ModeDevice, true
	}
	return 0, false
}

// direntBuf is the size of a getdents64 buffer.
const direntBuf = 32 << 10

// direntBufs are getdents64 buffers, taken by a listing and given back when
// it reaches the end of its directory (a 32 KiB allocation per listing
// was most of the garbage a WebDAV PROPFIND made).
var direntBufs = sync.Pool{New: func() any { return new([direntBuf]byte) }}

// ReadDir lists the directory with getdents64 itself: os.File.ReadDir
// drops the inode number of each entry, which a mounted vault reports as
// d_ino (x/sys has no parser that keeps it). n as in os.File.ReadDir.
func (f *dirFile) ReadDir(n int) ([]fs.DirEntry, error) {
	var out []fs.DirEntry
	for n <= 0 || len(out) < n {
		if len(f.dents) == 0 {
			if f.dbuf == nil {
				f.dbuf = direntBufs.Get().(*[direntBuf]byte)[:]
			}
			m, err := unix.Getdents(f.fd, f.dbuf)
			if err != nil {
				return out, &fs.PathError{Op: "readdirent", Path: f.Name(), Err: err}
			}
			if m <= 0 {
				// The end: the names are copies, the buffer can go.
				direntBufs.Put((*[direntBuf]byte)(f.dbuf))
				f.dbuf = nil
				break
			}
			f.dents = f.dbuf[:m]
		}
		// struct linux_dirent64: u64 d_ino, s64 d_off, u16 d_reclen,
		// u8 d_type, then the NUL-terminated name.
		b := f.dents
		const hdr = 19
		if len(b) < hdr {
			f.dents = nil
			continue
		}
		reclen := int(binary.NativeEndian.Uint16(b[16:18]))
		if reclen < hdr || reclen > len(b) {
			f.dents = nil
			continue
		}
		rec := b[:reclen]
		f.dents = b[reclen:]
		name := rec[hdr:]
		for i, c := range name {
			if c == 0 {
				name = name[:i]
				break
			}
		}
		if s := string(name); s != "." && s != ".." {
			e := &storeDirent{s: f.s, dir: f.Name(), name: s, ino: binary.NativeEndian.Uint64(rec[0:8])}
			typ, ok := direntType(rec[18])
			if !ok {
				fi, err := e.Info()
				if err != nil {
					continue // gone since the listing was read
				}
				typ = fi.Mode().Type()
			}
			e.typ = typ
			out = append(out, e)
		}
	}
	if n > 0 && len(out) == 0 {
		return nil, io.EOF
	}
	return out, nil
}
