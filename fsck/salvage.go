package fsck

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/internal/layout"
	"github.com/sealfs/sealfs/store"
)

// ByteRange is a range of plaintext bytes.
type ByteRange struct{ Off, Len int64 }

func (r ByteRange) String() string { return fmt.Sprintf("%d-%d", r.Off, r.Off+r.Len-1) }

// lostRanges converts runs of corrupt blocks into the plaintext byte
// ranges they held in a file of plainSize bytes.
func lostRanges(runs []BlockRun, plainSize int64) []ByteRange {
	out := make([]ByteRange, 0, len(runs))
	for _, r := range runs {
		off := r.First * content.PlainBlockSize
		end := min((r.First+r.N)*content.PlainBlockSize, plainSize)
		if end > off {
			out = append(out, ByteRange{Off: off, Len: end - off})
		}
	}
	return out
}

// salvageDetail describes a salvage for people.
func salvageDetail(lost []ByteRange, plainSize int64, lfPath string) string {
	var total int64
	var parts []string
	for i, r := range lost {
		total += r.Len
		if i < 8 {
			parts = append(parts, r.String())
		}
	}
	if len(lost) > 8 {
		parts = append(parts, fmt.Sprintf("and %d more ranges", len(lost)-8))
	}
	return fmt.Sprintf("%d of %d bytes lost and now zero (bytes %s); the damaged original is kept as %s",
		total, plainSize, strings.Join(parts, ", "), lfPath)
}

func (c *checker) fileSize(cpath string) (int64, error) {
	fi, err := c.s.Lstat(cpath)
	if err != nil {
		return 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%s: not a regular file", cpath)
	}
	return fi.Size(), nil
}

// salvage copies the file at cpath to pl in lost+found and then replaces
// each of its corrupt blocks with zeros: a full block with a hole (an
// all-zero ciphertext block, §5.5), the last, partial block with zeros
// sealed under the file's ID and block number (at least one byte, so
// that the plaintext size stays). The file is changed in place, so its
// inode, owner, mode, xattrs and other hard links stay. It returns the
// file's ciphertext size and the runs of blocks it replaced.
//
// The copy is complete and synced before the file is touched: if the
// salvage stops half-way, the damaged original is in lost+found and the
// file has only lost blocks that were unreadable anyway.
func (c *checker) salvage(cpath string, pl placement) (int64, []BlockRun, error) {
	if err := c.copyToLostFound(cpath, pl); err != nil {
		return 0, nil, fmt.Errorf("copying to %s: %w", pl.plain, err)
	}
	var size int64
	var runs []BlockRun
	err := c.withWritable(cpath, os.O_RDWR, func(f store.File) error {
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		size = fi.Size()
		hb := make([]byte, content.HeaderSize)
		if _, err := f.ReadAt(hb, 0); err != nil {
			return err
		}
		h, err := content.ParseHeader(hb)
		if err != nil {
			return fmt.Errorf("%w: header: %w", ErrCorrupt, err)
		}
		if runs, err = c.scanFile(f, size, h.FileID[:]); err != nil {
			return err
		}
		cbs := int64(c.codec.CipherBlockSize())
		for _, r := range runs {
			for b := r.First; b < r.First+r.N; b++ {
				off := content.HeaderSize + b*cbs
				n := min(cbs, size-off)
				if n == cbs {
					err = zeroRange(f, off, cbs)
				} else {
					zeros := make([]byte, max(1, n-int64(c.codec.Overhead())))
					_, err = f.WriteAt(c.codec.SealRandom(nil, zeros, uint64(b), h.FileID[:]), off)
				}
				if err != nil {
					return err
				}
			}
		}
		if err := f.Sync(); err != nil {
			return err
		}
		fi, err = f.Stat()
		if err != nil {
			return err
		}
		left, err := c.scanFile(f, fi.Size(), h.FileID[:])
		if err != nil {
			return err
		}
		if len(left) > 0 {
			return fmt.Errorf("%w: %d blocks still corrupt after the salvage", ErrCorrupt, countBlocks(left))
		}
		size = fi.Size()
		return nil
	})
	return size, runs, err
}

// zeroRange makes n bytes at off zero, as a hole where the store can
// punch one.
func zeroRange(f store.File, off, n int64) error {
	if hp, ok := f.(store.HolePuncher); ok && hp.PunchHole(off, n) == nil {
		return nil
	}
	_, err := f.WriteAt(make([]byte, n), off)
	return err
}

// copyToLostFound copies the file at cpath, byte for byte, to a new file
// at pl (writing its long-name file first), with the original's mode
// and, where permitted, owner, and syncs it and lost+found.
func (c *checker) copyToLostFound(cpath string, pl placement) (err error) {
	src, fi, err := c.openRegular(cpath)
	if err != nil {
		return err
	}
	defer src.Close()
	dst := pl.dst
	if pl.long {
		if err := layout.WriteNew(c.s, layout.LongNamePath(dst), []byte(pl.full), true); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				c.s.Remove(layout.LongNamePath(dst))
			}
		}()
	}
	out, err := c.s.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			c.s.Remove(dst)
		}
	}()
	if _, err = io.Copy(io.NewOffsetWriter(out, 0), io.NewSectionReader(src, 0, fi.Size())); err != nil {
		return err
	}
	if err = out.Sync(); err != nil {
		return err
	}
	if err = out.Close(); err != nil {
		return err
	}
	if st, ok := fi.Sys().(*store.Stat); ok {
		// Only root may give a file away; others keep it as theirs.
		if cerr := c.s.Lchown(dst, int(st.Uid), int(st.Gid)); cerr != nil && !errors.Is(cerr, fs.ErrPermission) {
			return cerr
		}
	}
	if err = c.s.Chmod(dst, fi.Mode().Perm()); err != nil {
		return err
	}
	if d, derr := c.s.OpenFile(path.Dir(dst), os.O_RDONLY|store.ODirectory, 0); derr == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
