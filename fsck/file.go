package fsck

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/store"
)

// chunkBlocks is how many ciphertext blocks a worker reads at once.
const chunkBlocks = 32

func (c *checker) worker(ctx context.Context) {
	defer c.wg.Done()
	buf := make([]byte, chunkBlocks*c.codec.CipherBlockSize())
	plain := make([]byte, 0, content.PlainBlockSize)
	for j := range c.jobs {
		if ctx.Err() != nil {
			continue // drain
		}
		c.checkFile(j, buf, plain)
	}
}

// checkFile checks one regular file: size, header, every block, xattrs.
func (c *checker) checkFile(j fileJob, buf, plain []byte) {
	q := j.quarantined
	f, err := c.s.OpenFile(j.cpath, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		c.report(Finding{Kind: KindIO, CipherPath: j.cpath, PlainPath: j.plain, Err: err, Warning: q})
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		c.report(Finding{Kind: KindIO, CipherPath: j.cpath, PlainPath: j.plain, Err: err, Warning: q})
		return
	}
	size := fi.Size()
	c.mu.Lock()
	c.stats.Files++
	c.prog.Files++
	if st, ok := fi.Sys().(*store.Stat); ok && st.Nlink > 1 {
		k := [2]uint64{st.Dev, st.Ino}
		if c.inodes[k] {
			c.mu.Unlock()
			return // content and xattrs belong to the inode: checked once
		}
		c.inodes[k] = true
	}
	c.stats.CipherBytes += size
	c.stats.PlainBytes += c.codec.PlainSize(size)
	c.mu.Unlock()

	c.checkXattrs(j.cpath, j.plain, f, q)
	switch {
	case size == 0:
		return
	case size < content.HeaderSize:
		c.report(Finding{Kind: KindShortFile, CipherPath: j.cpath, PlainPath: j.plain, Warning: true,
			Err: fmt.Errorf("%w: %d bytes, shorter than a header: reads as empty", ErrCorrupt, size),
			fix: &fix{truncate: true}})
		return
	}
	hb := make([]byte, content.HeaderSize)
	if _, err := f.ReadAt(hb, 0); err != nil {
		c.report(Finding{Kind: KindIO, CipherPath: j.cpath, PlainPath: j.plain, Err: err, Warning: q})
		return
	}
	h, herr := content.ParseHeader(hb)
	if herr != nil {
		fd := Finding{Kind: KindHeader, CipherPath: j.cpath, PlainPath: j.plain, Warning: q,
			Err: fmt.Errorf("%w: header: %w", ErrCorrupt, herr)}
		if !q {
			fd.fix = &fix{search: true, lfName: lostName(j.plain)}
		}
		c.report(fd)
		return
	}
	if c.opts.SkipContent {
		return
	}
	runs, firstErr, err := c.checkBlocks(f, size, h.FileID[:], buf, plain)
	if err != nil {
		c.report(Finding{Kind: KindIO, CipherPath: j.cpath, PlainPath: j.plain, Err: err, Warning: q})
		return
	}
	if len(runs) == 0 {
		return
	}
	bad, first := countBlocks(runs), runs[0].First
	fd := Finding{Kind: KindBlock, CipherPath: j.cpath, PlainPath: j.plain, Block: first, Warning: q}
	cbs := int64(c.codec.CipherBlockSize())
	nblocks := (size - content.HeaderSize + cbs - 1) / cbs
	msg := fmt.Sprintf("block %d (ciphertext offset %d): %v", first, content.HeaderSize+first*cbs, firstErr)
	if bad > 1 {
		msg += fmt.Sprintf(" (and %d more corrupt blocks)", bad-1)
	}
	switch {
	case q:
	case bad == nblocks:
		// Every block fails: maybe the file ID is what is damaged.
		// Repair looks for it (too slow to do for every such file here)
		// and salvages the file if there is none.
		msg += "; no block authenticates: the file ID may be damaged"
		fd.fix = &fix{search: true, salvage: true, runs: runs, lfName: lostName(j.plain)}
	default:
		fd.fix = &fix{salvage: true, runs: runs, lfName: lostName(j.plain)}
	}
	fd.Err = fmt.Errorf("%w: %s", ErrCorrupt, msg)
	c.report(fd)
}

// BlockRun is a run of consecutive content blocks.
type BlockRun struct{ First, N int64 }

func countBlocks(runs []BlockRun) int64 {
	var n int64
	for _, r := range runs {
		n += r.N
	}
	return n
}

// checkBlocks authenticates every block of a file and returns the runs of
// corrupt blocks and the first one's error. Runs of full all-zero blocks
// found with SEEK_DATA are holes and are skipped.
func (c *checker) checkBlocks(f store.File, size int64, fileID, buf, plain []byte) (runs []BlockRun, firstErr error, err error) {
	cbs := int64(c.codec.CipherBlockSize())
	seeker, _ := f.(store.Seeker)
	off := int64(content.HeaderSize)
	blk := int64(0)
	dataAt := int64(-1) // next data offset as told by SEEK_DATA
	for off < size {
		if dataAt < off {
			dataAt = off // no SEEK_DATA: read everything
			if seeker != nil {
				d, err := seeker.SeekData(off)
				switch {
				case err == nil:
					dataAt = d
				case errors.Is(err, syscall.ENXIO):
					dataAt = size
				}
			}
		}
		// Skip whole blocks that lie entirely in a hole.
		if dataAt > off {
			skip := (dataAt - off) / cbs
			if off+skip*cbs >= size { // keep a final block to read
				skip = (size - off - 1) / cbs
			}
			if skip > 0 {
				off += skip * cbs
				blk += skip
				continue
			}
		}
		n := min(int64(len(buf)), size-off)
		m, rerr := f.ReadAt(buf[:n], off)
		if rerr != nil && !(errors.Is(rerr, io.EOF) && int64(m) == n) {
			return nil, nil, rerr
		}
		c.mu.Lock()
		c.prog.Bytes += int64(m)
		c.mu.Unlock()
		for p := int64(0); p < int64(m); p += cbs {
			b := buf[p:min(p+cbs, int64(m))]
			_, oerr := c.codec.Open(plain[:0], b, uint64(blk), fileID)
			if oerr == nil && !c.authOK.Load() && !allZero(b[:c.codec.NonceSize()]) {
				c.authOK.Store(true) // a real block, not a hole
			}
			if oerr != nil {
				if len(runs) == 0 {
					firstErr = oerr
					if int64(len(b)) <= int64(c.codec.Overhead()) {
						firstErr = fmt.Errorf("truncated block of %d bytes", len(b))
					}
				}
				if k := len(runs) - 1; k >= 0 && runs[k].First+runs[k].N == blk {
					runs[k].N++
				} else {
					runs = append(runs, BlockRun{First: blk, N: 1})
				}
			}
			blk++
		}
		off += int64(m)
	}
	return runs, firstErr, nil
}

// scanFile returns the runs of corrupt blocks of an open ciphertext file
// of the given size, authenticated with the file ID in its header, or
// with fileID if that is not nil.
func (c *checker) scanFile(f store.File, size int64, fileID []byte) ([]BlockRun, error) {
	if size < content.HeaderSize {
		return nil, fmt.Errorf("%w: %d bytes, shorter than a header", ErrCorrupt, size)
	}
	if fileID == nil {
		hb := make([]byte, content.HeaderSize)
		if _, err := f.ReadAt(hb, 0); err != nil {
			return nil, err
		}
		h, err := content.ParseHeader(hb)
		if err != nil {
			return nil, fmt.Errorf("%w: header: %w", ErrCorrupt, err)
		}
		fileID = h.FileID[:]
	}
	buf := make([]byte, chunkBlocks*c.codec.CipherBlockSize())
	runs, _, err := c.checkBlocks(f, size, fileID, buf, make([]byte, 0, content.PlainBlockSize))
	return runs, err
}

// scanPath is scanFile for the file at cpath.
func (c *checker) scanPath(cpath string, fileID []byte) ([]BlockRun, error) {
	f, fi, err := c.openRegular(cpath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return c.scanFile(f, fi.Size(), fileID)
}

// findHeader looks for the header that makes the first non-hole block of
// the file at cpath authenticate: the stored one with the version fixed, or
// one with a single damaged byte of the file ID restored. It returns nil
// if there is none.
func (c *checker) findHeader(cpath string) ([]byte, error) {
	f, fi, err := c.openRegular(cpath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := fi.Size()
	hb := make([]byte, content.HeaderSize)
	if _, err := f.ReadAt(hb, 0); err != nil {
		return nil, err
	}
	cbs := int64(c.codec.CipherBlockSize())
	blk := make([]byte, cbs)
	var bn int64 = -1
	for off := int64(content.HeaderSize); off < size; off += cbs {
		n, err := f.ReadAt(blk, off)
		if err != nil && !errors.Is(err, io.EOF) {
			break
		}
		if n == int(cbs) && allZero(blk) {
			continue
		}
		blk = blk[:n]
		bn = (off - content.HeaderSize) / cbs
		break
	}
	if bn < 0 {
		return nil, nil // only holes: nothing to authenticate with
	}
	id := make([]byte, content.FileIDSize)
	copy(id, hb[2:])
	works := func() bool {
		if allZero(id) {
			return false
		}
		_, err := c.codec.Open(nil, blk, uint64(bn), id)
		return err == nil
	}
	found := works()
	for i := 0; i < len(id) && !found; i++ {
		orig := id[i]
		for v := 0; v < 256 && !found; v++ {
			if byte(v) == orig {
				continue
			}
			id[i] = byte(v)
			found = works()
		}
		if !found {
			id[i] = orig
		}
	}
	if !found {
		return nil, nil
	}
	var h content.Header
	copy(h.FileID[:], id)
	return h.Bytes(), nil
}
