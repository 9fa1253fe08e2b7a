package fsck

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/names"
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

func fileSize(p string) (int64, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return 0, err
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("%s: not a regular file", p)
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
	err := withWritable(c.abs(cpath), os.O_RDWR, func(f *os.File) error {
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

// zeroRange makes n bytes at off zero, as a hole where the file system
// can punch one.
func zeroRange(f *os.File, off, n int64) error {
	err := unix.Fallocate(int(f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
	if err == nil {
		return nil
	}
	_, err = f.WriteAt(make([]byte, n), off)
	return err
}

// copyToLostFound copies the file at cpath, byte for byte, to a new file
// at pl (writing its long-name file first), with the original's mode
// and, where permitted, owner, and syncs it and lost+found.
func (c *checker) copyToLostFound(cpath string, pl placement) (err error) {
	src, fi, err := openRegular(c.abs(cpath))
	if err != nil {
		return err
	}
	defer src.Close()
	dst := c.abs(pl.dst)
	if pl.long {
		if err := writeNew(dst+names.LongNameSuffix, []byte(pl.full), 0o444); err != nil {
			return err
		}
		defer func() {
			if err != nil {
				os.Remove(dst + names.LongNameSuffix)
			}
		}()
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(dst)
		}
	}()
	if _, err = io.Copy(out, src); err != nil {
		return err
	}
	if st, ok := statOwner(fi); ok {
		// Only root may give a file away; others keep it as theirs.
		if cerr := out.Chown(st[0], st[1]); cerr != nil && !errors.Is(cerr, os.ErrPermission) {
			return cerr
		}
	}
	if err = out.Chmod(fi.Mode().Perm()); err != nil {
		return err
	}
	if err = out.Sync(); err != nil {
		return err
	}
	if err = out.Close(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

func statOwner(fi os.FileInfo) ([2]int, bool) {
	st, ok := fi.Sys().(*unix.Stat_t)
	if !ok {
		return [2]int{}, false
	}
	return [2]int{int(st.Uid), int(st.Gid)}, true
}

func syncDir(p string) error {
	d, err := os.Open(p)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
