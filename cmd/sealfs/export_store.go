package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"

	"github.com/sealfs/sealfs/store"
)

// toStore brings the store st (an s3:// OUTDIR) in line with the view, as
// tree does for a local directory: unchanged files (same size and
// modification time) are left alone, what left the view is deleted, and
// a file is replaced only once its new content is complete. FIFOs,
// sockets and device nodes cannot live in a bucket: they are reported and
// skipped.
func (x *exporter) toStore(ctx context.Context, st store.Store) error {
	seen, unlisted, dirs, err := x.walk(ctx, &exportSink{
		dir: func(p string, fi fs.FileInfo) error {
			if err := storeDir(st, p, fi); err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			return nil
		},
		symlink: func(p string, fi fs.FileInfo) error { return x.storeSymlink(st, p, fi) },
		special: func(p string, fi fs.FileInfo) error {
			return fmt.Errorf("%w: a bucket holds no %s", errors.ErrUnsupported, fi.Mode().Type())
		},
		file: func(p string, fi fs.FileInfo) error { return x.storeFile(st, p, fi) },
	})
	if err != nil {
		return err
	}
	x.pruneStore(st, ".", seen, unlisted)
	// Directory times last: writing inside changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		if fi, err := x.v.Lstat(dirs[i]); err == nil {
			st.Lchtimes(dirs[i], fi.ModTime(), fi.ModTime())
		}
	}
	return nil
}

func storeDir(st store.Store, p string, fi fs.FileInfo) error {
	cur, err := st.Lstat(p)
	if err == nil && !cur.IsDir() {
		if err := removeAllStore(st, p); err != nil {
			return err
		}
		err = fs.ErrNotExist
	}
	if errors.Is(err, fs.ErrNotExist) {
		return st.Mkdir(p, fi.Mode().Perm()|0o700)
	}
	return err
}

func (x *exporter) storeSymlink(st store.Store, p string, fi fs.FileInfo) error {
	target, err := x.v.ReadLink(p)
	if err != nil {
		return err
	}
	if old, err := st.Readlink(p); err == nil && old == target {
		x.unchanged++
		return nil
	}
	if err := removeAllStore(st, p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := st.Symlink(target, p); err != nil {
		return err
	}
	x.written++
	return st.Lchtimes(p, fi.ModTime(), fi.ModTime())
}

// storeFile copies a file of the view into st. The ciphertext is read in
// full into a local temporary file first: a read error half-way must not
// leave a truncated object in the bucket.
func (x *exporter) storeFile(st store.Store, p string, fi fs.FileInfo) error {
	cur, err := st.Lstat(p)
	if err == nil && cur.Mode().IsRegular() && cur.Size() == fi.Size() && cur.ModTime().Equal(fi.ModTime()) {
		x.unchanged++
		if cur.Mode().Perm() != fi.Mode().Perm() {
			return st.Chmod(p, fi.Mode().Perm())
		}
		return nil
	}
	if err == nil && !cur.Mode().IsRegular() {
		if err := removeAllStore(st, p); err != nil {
			return err
		}
	}
	in, err := x.v.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp("", "sealfs-export-*")
	if err != nil {
		return err
	}
	defer tmp.Close()
	os.Remove(tmp.Name())
	n, err := io.Copy(tmp, in)
	x.prog.addBytes(n)
	if err == nil && n != fi.Size() {
		err = fmt.Errorf("%w: read %d of %d bytes", io.ErrUnexpectedEOF, n, fi.Size())
	}
	if err != nil {
		return err
	}
	out, err := st.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fi.Mode().Perm())
	if err != nil {
		return err
	}
	_, err = io.Copy(io.NewOffsetWriter(out, 0), io.NewSectionReader(tmp, 0, n))
	if err == nil {
		// Set while the file is open: the upload in Close carries it.
		err = st.Lchtimes(p, fi.ModTime(), fi.ModTime())
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	x.written++
	return nil
}

// pruneStore deletes what is in st under dir but not in the view.
func (x *exporter) pruneStore(st store.Store, dir string, seen, unlisted map[string]bool) {
	if unlisted[dir] {
		return
	}
	d, err := st.OpenFile(dir, os.O_RDONLY, 0)
	if err != nil {
		x.fail(dir, err)
		return
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		x.fail(dir, err)
		return
	}
	for _, e := range ents {
		p := path.Join(dir, e.Name())
		switch {
		case !seen[p]:
			if err := removeAllStore(st, p); err != nil {
				x.fail(p, err)
				continue
			}
			x.removed++
		case e.IsDir():
			x.pruneStore(st, p, seen, unlisted)
		}
	}
}

// removeAllStore removes p and, for a directory, all below it.
func removeAllStore(st store.Store, p string) error {
	fi, err := st.Lstat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		d, err := st.OpenFile(p, os.O_RDONLY, 0)
		if err != nil {
			return err
		}
		ents, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return err
		}
		for _, e := range ents {
			if err := removeAllStore(st, path.Join(p, e.Name())); err != nil {
				return err
			}
		}
	}
	return st.Remove(p)
}
