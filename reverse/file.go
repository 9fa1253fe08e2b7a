package reverse

import (
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/sealfs/sealfs/content"
)

// offset is the Read/Seek position of an open file.
type offset struct {
	mu  sync.Mutex
	off int64
}

func (o *offset) read(ra io.ReaderAt, b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := ra.ReadAt(b, o.off)
	o.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil // io.Reader: data now, EOF on the next call
	}
	return n, err
}

// seek implements io.Seeker for a file of the given size. SEEK_DATA and
// SEEK_HOLE are not offered: the view has no holes.
func (o *offset) seek(name string, off int64, whence int, size int64) (int64, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += o.off
	case io.SeekEnd:
		off += size
	default:
		return 0, &fs.PathError{Op: "seek", Path: name, Err: syscall.EINVAL}
	}
	if off < 0 {
		return 0, &fs.PathError{Op: "seek", Path: name, Err: syscall.EINVAL}
	}
	o.off = off
	return off, nil
}

// passFile passes the config file through.
type passFile struct {
	name string
	fi   fs.FileInfo
	f    fs.File
	ra   io.ReaderAt
	off  offset
}

func newPassFile(name string, pf fs.File, fi fs.FileInfo) (fs.File, error) {
	ra, ok := pf.(io.ReaderAt)
	if !ok {
		data, err := io.ReadAll(pf)
		pf.Close()
		if err != nil {
			return nil, err
		}
		return &memFile{name: name, fi: fi, data: data}, nil
	}
	return &passFile{name: name, fi: fi, f: pf, ra: ra}, nil
}

func (p *passFile) Stat() (fs.FileInfo, error) { return p.fi, nil }
func (p *passFile) Close() error               { return p.f.Close() }

// ReadAt implements io.ReaderAt.
func (p *passFile) ReadAt(b []byte, off int64) (int, error) {
	n, err := p.ra.ReadAt(b, off)
	if err != nil && err != io.EOF {
		err = &fs.PathError{Op: "read", Path: p.name, Err: unwrap(err)}
	}
	return n, err
}

func (p *passFile) Read(b []byte) (int, error) { return p.off.read(p, b) }

// Seek implements io.Seeker (io.SeekStart, io.SeekCurrent, io.SeekEnd).
func (p *passFile) Seek(off int64, whence int) (int64, error) {
	return p.off.seek(p.name, off, whence, p.fi.Size())
}

// file is an open view file: its ciphertext (§10.4) is computed on the
// fly from the plaintext file opened with it. Its size is fixed when it is
// opened: later growth of the plaintext is not shown, shrinking makes
// reads fail with ErrFileChanged. Each block is a valid encryption of the
// plaintext bytes read for it; a file rewritten while being read may
// therefore show blocks of different versions.
type file struct {
	f      *FS
	name   string
	pf     fs.File
	ra     io.ReaderAt
	fi     fs.FileInfo
	psize  int64
	csize  int64
	cbs    int64
	header [content.HeaderSize]byte
	fileID []byte // in header
	b0     [16]byte
	off    offset
	// last is the most recently sealed partial read block, so that
	// small sequential reads do not seal one block per call.
	last atomic.Pointer[sealedBlock]
}

// sealedBlock is one ciphertext block (nonce included) of a file.
type sealedBlock struct {
	blk  int64
	data []byte
}

func (f *FS) newFile(name string, o *obj, pf fs.File) (*file, error) {
	ra, ok := pf.(io.ReaderAt)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	src, err := pf.Stat()
	if err != nil {
		return nil, err
	}
	if !src.Mode().IsRegular() {
		return nil, syscall.EINVAL // replaced since the lookup
	}
	fi, err := f.realInfo(o, src)
	if err != nil {
		return nil, err
	}
	ivPath := f.links.ivPath(o.cpath, src)
	fl := &file{f: f, name: name, pf: pf, ra: ra, fi: fi, psize: src.Size(), csize: fi.Size(),
		cbs: int64(f.codec.CipherBlockSize()), b0: pathIV(ivPath, "BLOCK0IV")}
	binary.BigEndian.PutUint16(fl.header[:2], content.HeaderVersion)
	id := pathIV(ivPath, "FILEID")
	copy(fl.header[2:], id[:])
	fl.fileID = fl.header[2:]
	return fl, nil
}

func (fl *file) Stat() (fs.FileInfo, error) { return fl.fi, nil }
func (fl *file) Close() error               { return fl.pf.Close() }
func (fl *file) Read(p []byte) (int, error) { return fl.off.read(fl, p) }

// Seek implements io.Seeker (io.SeekStart, io.SeekCurrent, io.SeekEnd).
func (fl *file) Seek(off int64, whence int) (int64, error) {
	return fl.off.seek(fl.name, off, whence, fl.csize)
}

// nonce returns the nonce of block n: the BLOCK0IV with its last 8 bytes,
// as a big-endian number, increased by n (mod 2^64).
func (fl *file) nonce(n uint64) [16]byte {
	iv := fl.b0
	binary.BigEndian.PutUint64(iv[8:], binary.BigEndian.Uint64(iv[8:])+n)
	return iv
}

// Reads encrypt at most chunkBlocks blocks at a time (bounded memory);
// a chunk of at least parallelBlocks blocks is spread over the CPUs.
const (
	chunkBlocks    = 64
	parallelBlocks = 8
)

var chunkPool = sync.Pool{New: func() any {
	b := make([]byte, chunkBlocks*content.PlainBlockSize)
	return &b
}}

// ReadAt reads ciphertext of the view file, encrypting the plaintext
// blocks it covers. It is safe for concurrent use.
func (fl *file) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, &fs.PathError{Op: "read", Path: fl.name, Err: syscall.EINVAL}
	}
	if off >= fl.csize {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), fl.csize)
	n := 0
	if off < content.HeaderSize {
		n = copy(p[:end-off], fl.header[off:])
	}
	const H = content.HeaderSize
	for pos := off + int64(n); pos < end; pos = off + int64(n) {
		first := (pos - H) / fl.cbs
		if sb := fl.last.Load(); sb != nil && sb.blk == first {
			n += copy(p[pos-off:end-off], sb.data[pos-H-first*fl.cbs:])
			continue
		}
		last := min((end-1-H)/fl.cbs, first+chunkBlocks-1)
		c, err := fl.encryptChunk(p[:end-off], off, first, last)
		n += c
		if err != nil {
			return n, &fs.PathError{Op: "read", Path: fl.name, Err: err}
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// encryptChunk fills the part of out (the ciphertext from offset off on)
// covered by blocks first..last and returns the number of bytes filled.
func (fl *file) encryptChunk(out []byte, off, first, last int64) (int, error) {
	bufp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bufp)
	pstart := first * content.PlainBlockSize
	plen := min(fl.psize, (last+1)*content.PlainBlockSize) - pstart
	plain := (*bufp)[:plen]
	got, err := fl.ra.ReadAt(plain, pstart)
	if int64(got) < plen {
		if err == nil || err == io.EOF {
			err = ErrFileChanged
		}
		return 0, unwrap(err)
	}
	nb := int(last - first + 1)
	work := func(from, to int) {
		for i := from; i < to; i++ {
			blk := first + int64(i)
			pb := plain[int64(i)*content.PlainBlockSize : min(int64(i+1)*content.PlainBlockSize, plen)]
			cstart := content.HeaderSize + blk*fl.cbs
			clen := int64(len(pb)) + int64(fl.f.codec.Overhead())
			lo := max(cstart, off) - off
			hi := min(cstart+clen, off+int64(len(out))) - off
			nonce := fl.nonce(uint64(blk))
			if cstart >= off && cstart+clen <= off+int64(len(out)) {
				// Whole block: seal in place.
				fl.f.codec.Seal(out[lo:lo:hi], pb, nonce[:], uint64(blk), fl.fileID)
				continue
			}
			sealed := fl.f.codec.Seal(make([]byte, 0, clen), pb, nonce[:], uint64(blk), fl.fileID)
			copy(out[lo:hi], sealed[lo+off-cstart:])
			if blk == last {
				// Where a sequential reader continues.
				fl.last.Store(&sealedBlock{blk: blk, data: sealed})
			}
		}
	}
	if w := min(fl.f.workers, nb/(parallelBlocks/2)); nb >= parallelBlocks && w > 1 {
		var wg sync.WaitGroup
		for k := range w {
			wg.Go(func() { work(k*nb/w, (k+1)*nb/w) })
		}
		wg.Wait()
	} else {
		work(0, nb)
	}
	cfirst := max(content.HeaderSize+first*fl.cbs, off)
	clast := min(content.HeaderSize+last*fl.cbs+int64(len(plain))-(last-first)*content.PlainBlockSize+int64(fl.f.codec.Overhead()), off+int64(len(out)))
	return int(clast - cfirst), nil
}
