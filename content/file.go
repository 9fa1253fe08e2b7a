package content

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
)

// Backing is the ciphertext side of one file; *os.File satisfies it.
type Backing interface {
	io.ReaderAt
	io.WriterAt
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
}

// Allocator is an optional Backing capability: reserve space without
// changing the size (fallocate FALLOC_FL_KEEP_SIZE). WriteAt uses it so
// that running out of space cannot leave a torn block.
type Allocator interface {
	Allocate(off, length int64) error
}

// Seeker is an optional Backing capability: lseek SEEK_DATA/SEEK_HOLE on
// the ciphertext.
type Seeker interface {
	SeekData(off int64) (int64, error)
	SeekHole(off int64) (int64, error)
}

// File reads and writes the plaintext of one ciphertext file.
//
// ReadAt, Size, SeekData and SeekHole may run concurrently with each
// other; WriteAt, Truncate and Allocate must be serialised against every
// other call by the caller (sealfs holds a per-inode RWMutex).
type File struct {
	c          *Codec
	b          Backing
	hdr        atomic.Pointer[Header]
	serial     bool // no goroutines (benchmarks of the single-core path)
	NoPrealloc bool // do not reserve space before writes
	// NoSizeCache makes every call ask the backing for its size, for
	// backings that others change too (shared storage). Otherwise the
	// size is learnt once and then tracked through this File's writes.
	NoSizeCache bool
	csize       atomic.Int64 // cached ciphertext size + 1; 0 = unknown
}

// NewFile returns the plaintext view of backing b.
func (c *Codec) NewFile(b Backing) *File {
	return &File{c: c, b: b}
}

// ResetCache forgets the cached header (another writer may have replaced
// the file).
func (f *File) ResetCache() {
	f.hdr.Store(nil)
	f.csize.Store(0)
}

// bwrite writes ciphertext, keeping the cached size right.
func (f *File) bwrite(buf []byte, off int64) error {
	_, err := f.b.WriteAt(buf, off)
	if err != nil {
		f.csize.Store(0)
		return err
	}
	if c := f.csize.Load(); c > 0 && off+int64(len(buf)) > c-1 {
		f.csize.Store(off + int64(len(buf)) + 1)
	}
	return nil
}

// btrunc truncates the ciphertext, keeping the cached size right.
func (f *File) btrunc(size int64) error {
	if err := f.b.Truncate(size); err != nil {
		f.csize.Store(0)
		return err
	}
	if f.csize.Load() > 0 {
		f.csize.Store(size + 1)
	}
	return nil
}

// SetCipherSize tells the File the ciphertext size, as just learnt from
// the backing (an fstat at open), to spare it asking again. It does
// nothing with NoSizeCache.
func (f *File) SetCipherSize(size int64) {
	if !f.NoSizeCache && size >= 0 {
		f.csize.Store(size + 1)
	}
}

func (f *File) cipherSize() (int64, error) {
	if !f.NoSizeCache {
		if c := f.csize.Load(); c > 0 {
			return c - 1, nil
		}
	}
	fi, err := f.b.Stat()
	if err != nil {
		return 0, err
	}
	if !f.NoSizeCache {
		f.csize.Store(fi.Size() + 1)
	}
	return fi.Size(), nil
}

// Size returns the plaintext size.
func (f *File) Size() (int64, error) {
	cs, err := f.cipherSize()
	if err != nil {
		return 0, err
	}
	return f.c.PlainSize(cs), nil
}

// header returns the (cached) header of a file with ciphertext size cs.
func (f *File) header(cs int64) (*Header, error) {
	if h := f.hdr.Load(); h != nil {
		return h, nil
	}
	if cs < HeaderSize {
		return nil, &CorruptError{Block: -1, Reason: fmt.Sprintf("file of %d bytes", cs)}
	}
	buf := make([]byte, HeaderSize)
	if _, err := f.b.ReadAt(buf, 0); err != nil && err != io.EOF {
		return nil, err
	}
	h, err := ParseHeader(buf)
	if err != nil {
		return nil, err
	}
	f.hdr.Store(&h)
	return &h, nil
}

const parallelMin = 32 // blocks; below this, one goroutine is faster

func (f *File) workers(nblocks int) int {
	if f.serial || nblocks < parallelMin {
		return 1
	}
	w := runtime.GOMAXPROCS(0)
	if w > nblocks/(parallelMin/2) {
		w = nblocks / (parallelMin / 2)
	}
	if w < 1 {
		w = 1
	}
	return w
}

// parallel runs fn over [0, n) split into contiguous chunks.
func (f *File) parallel(n int, fn func(lo, hi int) error) error {
	w := f.workers(n)
	if w == 1 {
		return fn(0, n)
	}
	errs := make([]error, w)
	var wg sync.WaitGroup
	for i := 0; i < w; i++ {
		lo, hi := n*i/w, n*(i+1)/w
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(lo, hi)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

func (f *File) corrupt(blk int64, err error) error {
	reason := "authentication failed"
	if err != nil && err != ErrCorrupt {
		reason = err.Error()
	}
	return &CorruptError{Block: blk, Offset: blk * PlainBlockSize, Reason: reason}
}

// ReadAt reads plaintext (io.ReaderAt). A block that fails authentication
// fails the whole call with a *CorruptError; no bytes are returned for it.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, syscall.EINVAL
	}
	cs, err := f.cipherSize()
	if err != nil {
		return 0, err
	}
	if cs > 0 && cs < HeaderSize {
		return 0, &CorruptError{Block: -1, Reason: fmt.Sprintf("file of %d bytes", cs)}
	}
	if len(p) == 0 {
		return 0, nil
	}
	ps := f.c.PlainSize(cs)
	if off >= ps {
		return 0, io.EOF
	}
	// The first read of a file that starts in block 0 reads the header
	// along with the blocks.
	h := f.hdr.Load()
	if h == nil && off >= PlainBlockSize {
		if h, err = f.header(cs); err != nil {
			return 0, err
		}
	}
	end := min(off+int64(len(p)), ps)
	n, err := f.readRange(p[:end-off], off, cs, h)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, err
}

// readRange decrypts plaintext [off, off+len(p)) that lies within the file.
// With h nil (header not read yet; off in block 0) it reads and parses the
// header in the same backing read.
func (f *File) readRange(p []byte, off, cs int64, h *Header) (int, error) {
	cbs := int64(f.c.cbs)
	first := off / PlainBlockSize
	last := (off + int64(len(p)) - 1) / PlainBlockSize
	cstart := HeaderSize + first*cbs
	hdrLen := 0
	if h == nil {
		cstart, hdrLen = 0, HeaderSize
	}
	cend := min(HeaderSize+(last+1)*cbs, cs)
	whole := f.c.getBuf(int(cend - cstart))
	defer f.c.putBuf(whole)
	cbuf := whole
	n, err := f.b.ReadAt(cbuf, cstart)
	if err != nil && !(err == io.EOF && n == len(cbuf)) {
		if err == io.EOF {
			if n < hdrLen {
				return 0, &CorruptError{Block: -1, Reason: "file shrank while reading"}
			}
			return 0, f.corrupt(first+int64(n-hdrLen)/cbs, errors.New("file shrank while reading"))
		}
		return 0, err
	}
	if h == nil {
		hdr, err := ParseHeader(cbuf[:HeaderSize])
		if err != nil {
			return 0, err
		}
		f.hdr.Store(&hdr)
		h = &hdr
		cbuf = cbuf[hdrLen:]
	}
	nblocks := int(last - first + 1)
	err = f.parallel(nblocks, func(lo, hi int) error {
		var tmp []byte
		for i := lo; i < hi; i++ {
			blk := first + int64(i)
			cb := cbuf[int64(i)*cbs : min(int64(i+1)*cbs, int64(len(cbuf)))]
			bstart := blk * PlainBlockSize // plaintext offset of the block
			// Where the block's bytes go in p.
			a := max(bstart, off)
			z := min(bstart+PlainBlockSize, off+int64(len(p)))
			if a == bstart && z-a == PlainBlockSize {
				// Whole block wanted: decrypt straight into p.
				dst := p[a-off : a-off : z-off]
				out, err := f.c.Open(dst, cb, uint64(blk), h.FileID[:])
				if err != nil {
					return f.corrupt(blk, err)
				}
				if len(out) != PlainBlockSize {
					return f.corrupt(blk, errors.New("short block in the middle of the file"))
				}
				continue
			}
			out, err := f.c.Open(tmp[:0], cb, uint64(blk), h.FileID[:])
			if err != nil {
				return f.corrupt(blk, err)
			}
			tmp = out
			if int64(len(out)) < z-bstart {
				return f.corrupt(blk, errors.New("block shorter than the file size says"))
			}
			copy(p[a-off:z-off], out[a-bstart:z-bstart])
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// readBlock returns the plaintext of block blk (nil if it does not exist).
func (f *File) readBlock(blk, cs int64, h *Header) ([]byte, error) {
	ps := f.c.PlainSize(cs)
	if blk*PlainBlockSize >= ps {
		return nil, nil
	}
	n := min(PlainBlockSize, ps-blk*PlainBlockSize)
	buf := make([]byte, n)
	if _, err := f.readRange(buf, blk*PlainBlockSize, cs, h); err != nil {
		return nil, err
	}
	return buf, nil
}

func (f *File) nonces(n int) ([]byte, error) {
	b := make([]byte, n*f.c.nonceSize)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return b, nil
}

// sealBlocks encrypts plaintext blocks (each up to 4096 bytes, all but the
// last full) starting at block first into one contiguous ciphertext buffer,
// prefixed with prefix.
func (f *File) sealBlocks(prefix []byte, blocks [][]byte, first int64, h *Header) ([]byte, error) {
	nonces, err := f.nonces(len(blocks))
	if err != nil {
		return nil, err
	}
	cbs := f.c.cbs
	size := len(prefix)
	for _, b := range blocks {
		size += len(b) + f.c.overhead
	}
	out := f.c.getBuf(size)
	copy(out, prefix)
	ns := f.c.nonceSize
	err = f.parallel(len(blocks), func(lo, hi int) error {
		for i := lo; i < hi; i++ {
			pos := len(prefix) + i*cbs
			dst := out[pos:pos:len(out)]
			f.c.Seal(dst, blocks[i], nonces[i*ns:(i+1)*ns], uint64(first+int64(i)), h.FileID[:])
		}
		return nil
	})
	return out, err
}

// writeCipher writes ciphertext at coff, reserving the space first.
func (f *File) writeCipher(buf []byte, coff int64) error {
	if a, ok := f.b.(Allocator); ok && !f.NoPrealloc {
		if err := a.Allocate(coff, int64(len(buf))); err != nil && !isUnsupported(err) {
			return err
		}
	}
	return f.bwrite(buf, coff)
}

func isUnsupported(err error) bool {
	return errors.Is(err, syscall.EOPNOTSUPP) || errors.Is(err, syscall.ENOTSUP) ||
		errors.Is(err, syscall.ENOSYS) || errors.Is(err, errors.ErrUnsupported)
}

// prepare returns the header for a write and whether it is new (the file
// is empty or header-only and gets a new file ID).
func (f *File) prepare(cs int64) (*Header, bool, error) {
	if cs == 0 || cs == HeaderSize {
		h, err := NewHeader()
		if err != nil {
			return nil, false, err
		}
		return &h, true, nil
	}
	h, err := f.header(cs)
	return h, false, err
}

// WriteAt writes plaintext at any offset (io.WriterAt), encrypting whole
// blocks (read-modify-write for partial ones). Writing past the end leaves
// a sparse hole (§5.5).
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, syscall.EINVAL
	}
	if len(p) == 0 {
		return 0, nil
	}
	if off > f.c.MaxPlainSize()-int64(len(p)) {
		return 0, syscall.EFBIG
	}
	cs, err := f.cipherSize()
	if err != nil {
		return 0, err
	}
	if cs > 0 && cs < HeaderSize {
		return 0, &CorruptError{Block: -1, Reason: fmt.Sprintf("file of %d bytes", cs)}
	}
	h, fresh, err := f.prepare(cs)
	if err != nil {
		return 0, err
	}
	if fresh {
		cs = 0
	}
	ps := f.c.PlainSize(cs)
	first := off / PlainBlockSize
	end := off + int64(len(p))
	last := (end - 1) / PlainBlockSize

	// Writing beyond the last block: pad the old partial last block to a
	// full one first, so that the blocks in between can be holes.
	if ps%PlainBlockSize != 0 && first > (ps-1)/PlainBlockSize {
		lb := (ps - 1) / PlainBlockSize
		old, err := f.readBlock(lb, cs, h)
		if err != nil {
			return 0, err
		}
		full := make([]byte, PlainBlockSize)
		copy(full, old)
		buf, err := f.sealBlocks(nil, [][]byte{full}, lb, h)
		if err != nil {
			return 0, err
		}
		err = f.writeCipher(buf, HeaderSize+lb*int64(f.c.cbs))
		f.c.putBuf(buf)
		if err != nil {
			return 0, err
		}
		ps = (lb + 1) * PlainBlockSize
		cs = f.c.CipherSize(ps)
	}

	nblocks := int(last - first + 1)
	blocks := make([][]byte, nblocks)
	for i := range blocks {
		blk := first + int64(i)
		bstart := blk * PlainBlockSize
		lo := max(bstart, off)
		hi := min(bstart+PlainBlockSize, end)
		if lo == bstart && hi-lo == PlainBlockSize {
			blocks[i] = p[lo-off : hi-off]
			continue
		}
		// Partial block: merge with what is there.
		old, err := f.readBlock(blk, cs, h)
		if err != nil {
			return 0, err
		}
		size := max(int64(len(old)), hi-bstart)
		nb := make([]byte, size)
		copy(nb, old)
		copy(nb[lo-bstart:], p[lo-off:hi-off])
		blocks[i] = nb
	}
	var prefix []byte
	coff := HeaderSize + first*int64(f.c.cbs)
	if fresh {
		if first == 0 {
			prefix, coff = h.Bytes(), 0
		} else if err := f.writeCipher(h.Bytes(), 0); err != nil {
			f.btrunc(0)
			return 0, err
		}
	}
	buf, err := f.sealBlocks(prefix, blocks, first, h)
	if err != nil {
		return 0, err
	}
	err = f.writeCipher(buf, coff)
	f.c.putBuf(buf)
	if err != nil {
		if fresh {
			// Nothing was there before: do not leave a torn file.
			f.btrunc(0)
		}
		return 0, err
	}
	if fresh {
		f.hdr.Store(h)
	}
	return len(p), nil
}

// Truncate changes the plaintext size: to 0 drops everything (the next
// write gets a new file ID); shrinking re-encrypts the new last block;
// growing leaves a sparse hole (§5.5, §5.6).
func (f *File) Truncate(size int64) error {
	if size < 0 {
		return syscall.EINVAL
	}
	if size > f.c.MaxPlainSize() {
		return syscall.EFBIG
	}
	cs, err := f.cipherSize()
	if err != nil {
		return err
	}
	if size == 0 {
		f.hdr.Store(nil)
		return f.btrunc(0)
	}
	if cs > 0 && cs < HeaderSize {
		return &CorruptError{Block: -1, Reason: fmt.Sprintf("file of %d bytes", cs)}
	}
	ps := f.c.PlainSize(cs)
	switch {
	case size == ps:
		return nil
	case size < ps:
		h, err := f.header(cs)
		if err != nil {
			return err
		}
		blk := size / PlainBlockSize
		if size%PlainBlockSize == 0 {
			return f.btrunc(HeaderSize + blk*int64(f.c.cbs))
		}
		old, err := f.readBlock(blk, cs, h)
		if err != nil {
			return err
		}
		buf, err := f.sealBlocks(nil, [][]byte{old[:size%PlainBlockSize]}, blk, h)
		if err != nil {
			return err
		}
		coff := HeaderSize + blk*int64(f.c.cbs)
		if err := f.btrunc(coff); err != nil {
			return err
		}
		return f.bwrite(buf, coff)
	default:
		if size%PlainBlockSize != 0 {
			// One zero byte at the new end makes a real final block.
			_, err := f.WriteAt([]byte{0}, size-1)
			return err
		}
		h, fresh, err := f.prepare(cs)
		if err != nil {
			return err
		}
		if fresh {
			if err := f.bwrite(h.Bytes(), 0); err != nil {
				f.btrunc(0)
				return err
			}
			f.hdr.Store(h)
			cs = HeaderSize
			ps = 0
		}
		if ps%PlainBlockSize != 0 {
			lb := (ps - 1) / PlainBlockSize
			old, err := f.readBlock(lb, cs, h)
			if err != nil {
				return err
			}
			full := make([]byte, PlainBlockSize)
			copy(full, old)
			buf, err := f.sealBlocks(nil, [][]byte{full}, lb, h)
			if err != nil {
				return err
			}
			if err := f.writeCipher(buf, HeaderSize+lb*int64(f.c.cbs)); err != nil {
				return err
			}
		}
		return f.btrunc(f.c.CipherSize(size))
	}
}

// Allocate reserves space for plaintext [off, off+length): with keepSize
// only the ciphertext space (when the Backing can), else it also grows the
// file to off+length like a growing Truncate.
func (f *File) Allocate(off, length int64, keepSize bool) error {
	if off < 0 || length <= 0 {
		return syscall.EINVAL
	}
	if off > f.c.MaxPlainSize()-length {
		return syscall.EFBIG
	}
	if a, ok := f.b.(Allocator); ok {
		coff := HeaderSize + off/PlainBlockSize*int64(f.c.cbs)
		cend := f.c.CipherSize(off + length)
		if err := a.Allocate(coff, cend-coff); err != nil && !isUnsupported(err) {
			return err
		}
	}
	if keepSize {
		return nil
	}
	size, err := f.Size()
	if err != nil {
		return err
	}
	if off+length > size {
		return f.Truncate(off + length)
	}
	return nil
}

// isHole reports whether ciphertext block blk is a hole.
func (f *File) isHole(blk, cs int64) (bool, error) {
	cbs := int64(f.c.cbs)
	coff := HeaderSize + blk*cbs
	if coff+cbs > cs {
		return false, nil
	}
	buf := make([]byte, cbs)
	if _, err := f.b.ReadAt(buf, coff); err != nil && err != io.EOF {
		return false, err
	}
	return allZero(buf), nil
}

// seekStart returns the ciphertext and plaintext sizes for a SEEK_DATA or
// SEEK_HOLE from off, with lseek's errors for offsets outside the file
// (ENXIO for a negative one too, as ext4 and tmpfs answer).
func (f *File) seekStart(off int64) (cs, ps int64, err error) {
	if off < 0 {
		return 0, 0, syscall.ENXIO
	}
	if cs, err = f.cipherSize(); err != nil {
		return 0, 0, err
	}
	ps = f.c.PlainSize(cs)
	if off >= ps {
		return 0, 0, syscall.ENXIO
	}
	return cs, ps, nil
}

// The backing file's own SEEK_DATA and SEEK_HOLE only hint: its
// allocation unit (the file system block) does not line up with
// ciphertext blocks (4128 or 4136 bytes), so the file system block that
// holds the tail of a data block also covers the start of the next one,
// which may be a hole. A plaintext block is a hole exactly when its whole
// ciphertext block reads as zeros (§5.5), so every block a hint points at
// is checked by reading it: SEEK_DATA never points into a hole, SEEK_HOLE
// never into data, and a walk over the data segments ends. (A hole the
// backing file system sees no hole in may be reported as data, which
// lseek allows: finding it would mean reading all data.)

// SeekData returns the first plaintext offset >= off that holds data
// (lseek SEEK_DATA). Offsets at or past the end give ENXIO.
func (f *File) SeekData(off int64) (int64, error) {
	cs, ps, err := f.seekStart(off)
	if err != nil {
		return 0, err
	}
	cbs := int64(f.c.cbs)
	s, hints := f.b.(Seeker)
	for blk := off / PlainBlockSize; blk*PlainBlockSize < ps; blk++ {
		if hints {
			d, err := s.SeekData(HeaderSize + blk*cbs)
			if err != nil {
				if errors.Is(err, syscall.ENXIO) {
					return 0, syscall.ENXIO
				}
				return 0, err
			}
			if d >= HeaderSize {
				blk = max(blk, (d-HeaderSize)/cbs)
			}
			if blk*PlainBlockSize >= ps {
				break
			}
		}
		hole, err := f.isHole(blk, cs)
		if err != nil {
			return 0, err
		}
		if !hole {
			return max(off, blk*PlainBlockSize), nil
		}
	}
	return 0, syscall.ENXIO
}

// SeekHole returns the first plaintext offset >= off in a hole (lseek
// SEEK_HOLE); the end of the file counts as a hole.
func (f *File) SeekHole(off int64) (int64, error) {
	cs, ps, err := f.seekStart(off)
	if err != nil {
		return 0, err
	}
	cbs := int64(f.c.cbs)
	s, hints := f.b.(Seeker)
	for blk := off / PlainBlockSize; blk*PlainBlockSize < ps; blk++ {
		if hints {
			hc, err := s.SeekHole(HeaderSize + blk*cbs)
			if err != nil {
				return 0, err
			}
			if hc >= cs {
				break
			}
			// The first block that starts in the backing hole, or the
			// one before it, which straddles the hole's start: after a
			// run of data that is the usual first hole block, its start
			// sharing a file system block with the data's tail.
			hb := max(blk, (hc-HeaderSize+cbs-1)/cbs)
			if hb > blk && (hb-1)*PlainBlockSize < ps {
				hole, err := f.isHole(hb-1, cs)
				if err != nil {
					return 0, err
				}
				if hole {
					return max(off, (hb-1)*PlainBlockSize), nil
				}
			}
			blk = hb
			if blk*PlainBlockSize >= ps {
				break
			}
		}
		hole, err := f.isHole(blk, cs)
		if err != nil {
			return 0, err
		}
		if hole {
			return max(off, blk*PlainBlockSize), nil
		}
	}
	return ps, nil
}
