package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/store/s3store"
)

// Helpers shared by decrypt and encrypt: sparse copying, progress output,
// metadata and directory bookkeeping.

const (
	// copyChunk is the size of one read/write while copying file contents
	// (a multiple of the 4 KiB plaintext block size).
	copyChunk = 256 << 10
	// zeroBlock is the granularity at which decrypt leaves all-zero runs
	// as holes in its output.
	zeroBlock = 4096
	seekData  = 3 // SEEK_DATA, as in lseek(2)
	seekHole  = 4 // SEEK_HOLE
)

// dataSeeker finds the data regions of a file: SEEK_DATA/SEEK_HOLE as in
// lseek(2). ok is false when the file cannot tell, and the rest of the file
// is then treated as data.
type dataSeeker func(off int64, whence int) (pos int64, ok bool, err error)

// extentFunc is called for each data region [off, off+n) of a file.
type extentFunc func(off, n int64) error

// forEachData calls fn for every data region of a file of the given size,
// as far as seek can tell; holes are skipped.
func forEachData(size int64, seek dataSeeker, fn extentFunc) error {
	off := int64(0)
	for off < size {
		data, ok, err := seek(off, seekData)
		if err != nil {
			if errors.Is(err, syscall.ENXIO) {
				return nil // no data after off
			}
			return err
		}
		if !ok {
			return fn(off, size-off)
		}
		if data >= size {
			return nil
		}
		hole, ok, err := seek(data, seekHole)
		if err != nil {
			return err
		}
		if !ok || hole > size {
			hole = size
		}
		if hole <= data {
			// A file that changed under us, or a seeker that does not
			// make progress: copy the rest.
			return fn(data, size-data)
		}
		if err := fn(data, hole-data); err != nil {
			return err
		}
		off = hole
	}
	return nil
}

// copyRange copies [off, off+n) from r to w at the same offsets. With
// skipZeros, 4 KiB-aligned all-zero blocks are not written (they stay
// holes in w). buf is the copy buffer; onBytes is told about progress.
func copyRange(w io.WriterAt, r io.ReaderAt, off, n int64, skipZeros bool, buf []byte, onBytes func(int64)) error {
	end := off + n
	for off < end {
		chunk := buf[:min(int64(len(buf)), end-off)]
		got, err := r.ReadAt(chunk, off)
		if got < len(chunk) {
			if err == nil || err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		chunk = chunk[:got]
		if err := writeChunk(w, chunk, off, skipZeros); err != nil {
			return err
		}
		off += int64(got)
		if onBytes != nil {
			onBytes(int64(got))
		}
	}
	return nil
}

// writeChunk writes chunk at off, leaving out aligned all-zero blocks when
// skipZeros is set.
func writeChunk(w io.WriterAt, chunk []byte, off int64, skipZeros bool) error {
	if !skipZeros {
		_, err := w.WriteAt(chunk, off)
		return err
	}
	start := -1 // start of the pending run of bytes to write
	for i := 0; i < len(chunk); {
		// Block boundaries are aligned to the file offset.
		next := i + zeroBlock - int((off+int64(i))%zeroBlock)
		next = min(next, len(chunk))
		zero := next-i == zeroBlock && allZero(chunk[i:next])
		if zero && start >= 0 {
			if _, err := w.WriteAt(chunk[start:i], off+int64(start)); err != nil {
				return err
			}
			start = -1
		}
		if !zero && start < 0 {
			start = i
		}
		i = next
	}
	if start >= 0 {
		_, err := w.WriteAt(chunk[start:], off+int64(start))
		return err
	}
	return nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// progress prints a status line on stderr when stderr is a terminal.
type progress struct {
	e       *env
	enabled bool
	objects int64
	bytes   int64
	start   time.Time
	last    time.Time
	shown   bool
}

func newProgress(e *env) *progress {
	return &progress{e: e, enabled: e.stderrTerm && !e.quiet, start: time.Now()}
}

const statsUsage = "print a statistics line at the end: objects, bytes, time and, for a bucket, its requests"

// summary prints the statistics line of -stats: what was copied, how
// fast, and what the bucket (if one took part) was asked.
func (p *progress) summary(bucket *s3store.Store) {
	d := time.Since(p.start)
	fmt.Fprintf(p.e.stderr, "%d objects, %s in %.1f s (%s/s)", p.objects, humanBytes(p.bytes), d.Seconds(),
		humanBytes(int64(float64(p.bytes)/max(d.Seconds(), 0.001))))
	if bucket != nil {
		st := bucket.Stats()
		fmt.Fprintf(p.e.stderr, "; bucket: %d requests (%s), %s sent, %s received", st.Total(), st, humanBytes(st.Sent), humanBytes(st.Received))
	}
	fmt.Fprintln(p.e.stderr)
}

func (p *progress) object() {
	p.objects++
	p.show(false)
}

func (p *progress) addBytes(n int64) {
	p.bytes += n
	p.show(false)
}

func (p *progress) show(final bool) {
	if !p.enabled {
		return
	}
	now := time.Now()
	if !final && now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	fmt.Fprintf(p.e.stderr, "\r\033[K%d objects, %s", p.objects, humanBytes(p.bytes))
	p.shown = true
}

// done ends the status line.
func (p *progress) done() {
	if !p.enabled {
		return
	}
	p.show(true)
	fmt.Fprintln(p.e.stderr)
}

// clearLine erases the status line so that a warning can be printed.
func (p *progress) clearLine() {
	if p != nil && p.enabled && p.shown {
		fmt.Fprint(p.e.stderr, "\r\033[K")
	}
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// inodeKey identifies a file for hard-link detection.
type inodeKey struct{ dev, ino uint64 }

// pendingDir is a directory whose mode and times are set after everything
// inside it has been written.
type pendingDir struct {
	path         string
	perm         uint32
	atime, mtime time.Time
}

// fatalWriteError reports errors that make continuing pointless.
func fatalWriteError(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) || errors.Is(err, syscall.EROFS)
}

// hostStat is the stat data of a local object: the system's, or on
// systems whose os.FileInfo has none, what the FileInfo tells (no inode
// identity, so hard links are copied as separate files there).
func hostStat(fi fs.FileInfo) *store.Stat {
	if st, ok := store.SysStat(fi); ok {
		return &st
	}
	return &store.Stat{Mode: store.ModeToUnix(fi.Mode()), Nlink: 1, Size: fi.Size(),
		Atime: fi.ModTime(), Mtime: fi.ModTime(), Ctime: fi.ModTime()}
}

// overlap reports whether one of the directories contains the other.
func overlap(a, b string) (bool, error) {
	if isS3(a) || isS3(b) {
		return false, nil // a bucket never overlaps a local directory
	}
	ra, err := realAbs(a)
	if err != nil {
		return false, err
	}
	rb, err := realAbs(b)
	if err != nil {
		return false, err
	}
	within := func(x, y string) bool {
		return x == y || strings.HasPrefix(x, strings.TrimSuffix(y, "/")+"/")
	}
	return within(ra, rb) || within(rb, ra), nil
}

func realAbs(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", err
	}
	r, err := filepath.EvalSymlinks(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return abs, nil
		}
		return "", err
	}
	return r, nil
}

// localXattrs lists and reads the extended attributes of a local object
// without following symlinks.
func localXattrs(p string) (map[string][]byte, error) {
	size, err := llistxattr(p, nil)
	if errors.Is(err, syscall.ENOTSUP) {
		return nil, nil // a file system without extended attributes has none
	}
	if err != nil {
		return nil, err
	}
	if size == 0 {
		return nil, nil
	}
	buf := make([]byte, size)
	size, err = llistxattr(p, buf)
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, name := range strings.Split(string(buf[:size]), "\x00") {
		if name == "" {
			continue
		}
		val, err := lgetxattr(p, name)
		if err != nil {
			return nil, fmt.Errorf("%s: xattr %s: %w", p, name, err)
		}
		out[name] = val
	}
	return out, nil
}

func lgetxattr(p, name string) ([]byte, error) {
	for {
		size, err := lgetxattrInto(p, name, nil)
		if err != nil {
			return nil, err
		}
		buf := make([]byte, size)
		n, err := lgetxattrInto(p, name, buf)
		if errors.Is(err, syscall.ERANGE) {
			continue // grew in between
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
}
