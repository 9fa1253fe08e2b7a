package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/store"
)

type encryptOptions struct {
	open  openFlags
	force bool
	stats bool
}

var cmdEncrypt = &command{
	name:    "encrypt",
	args:    "PLAINDIR CIPHERDIR",
	summary: "copy a plaintext tree into an existing vault",
	help: `
Copies every file, directory, symlink, FIFO, socket and device node below
PLAINDIR into the root of the vault in CIPHERDIR, encrypted, with
permission bits, modification and access times, user.* extended
attributes and hard links. Ownership is kept when running as root. Holes in
the source files stay holes in the vault (only those: blocks of zeros that
were written are encrypted like any data).

Directories that already exist in the vault are merged. Any other object
that already exists is an error unless -force is given, which replaces it.
PLAINDIR must not be inside CIPHERDIR or contain it.

Objects that cannot be read or written are reported on stderr and skipped;
the exit code is then 11. A progress line is shown when stderr is a
terminal.`,
	flags: func(fs *flag.FlagSet) any {
		o := &encryptOptions{}
		o.open.register(fs)
		fs.BoolVar(&o.force, "force", false, "replace objects that already exist in the vault")
		fs.BoolVar(&o.stats, "stats", false, statsUsage)
		return o
	},
	run: runEncrypt,
}

func runEncrypt(ctx context.Context, e *env, opts any, args []string) error {
	o := opts.(*encryptOptions)
	e.quiet = o.open.quiet
	e.infow = e.stderr
	if err := exactArgs(args, "PLAINDIR", "CIPHERDIR"); err != nil {
		return err
	}
	src, cipherDir := args[0], args[1]
	if real, err := filepath.EvalSymlinks(src); err == nil {
		src = real // walk the directory a symlink names, not the link
	}
	fi, err := os.Stat(src)
	if err != nil {
		return mark(errTargetDir, err)
	}
	if !fi.IsDir() {
		return mark(errTargetDir, fmt.Errorf("%s: %w", src, syscall.ENOTDIR))
	}
	if err := checkCipherDir(cipherDir); err != nil {
		return err
	}
	if ov, err := overlap(src, cipherDir); err != nil {
		return mark(errTargetDir, err)
	} else if ov {
		return mark(errTargetDir, fmt.Errorf("%s and %s overlap", src, cipherDir))
	}
	prog := newProgress(e)
	prob := &problems{e: e, prog: prog}
	f, err := e.openVault(ctx, cipherDir, &o.open, false, prob.corrupt)
	if err != nil {
		return err
	}
	c := &encrypter{
		ctx:   ctx,
		f:     f,
		src:   src,
		force: o.force,
		root:  os.Geteuid() == 0,
		prog:  prog,
		prob:  prob,
		links: map[inodeKey]string{},
		buf:   make([]byte, copyChunk),
	}
	err = c.run()
	prog.done()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if o.stats {
		prog.summary(o.open.bucket) // after Close, which uploads what waits
	}
	if err != nil {
		return err
	}
	return prob.err()
}

type encrypter struct {
	ctx   context.Context
	f     *sealfs.FS
	src   string
	force bool
	root  bool
	prog  *progress
	prob  *problems
	links map[inodeKey]string // first vault path of each multiply-linked file
	dirs  []pendingDir
	buf   []byte
}

func (c *encrypter) run() error {
	err := filepath.WalkDir(c.src, func(p string, de fs.DirEntry, err error) error {
		if cerr := c.ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			c.prob.failed(err)
			if de != nil && de.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(c.src, p)
		if err != nil {
			return err
		}
		vp := filepath.ToSlash(rel)
		c.prog.object()
		err = c.object(p, vp, de)
		if err == nil {
			return nil
		}
		if fatalWriteError(err) || errors.Is(err, context.Canceled) {
			return err
		}
		c.prob.failed(err)
		if de.IsDir() && vp != "." {
			return fs.SkipDir
		}
		return nil
	})
	for _, dir := range slices.Backward(c.dirs) {
		if cerr := c.f.Chmod(dir.path, fs.FileMode(dir.perm&0o777)|modeBits(dir.perm)); cerr != nil {
			c.prob.failed(cerr)
		}
		if cerr := c.f.Lchtimes(dir.path, dir.atime, dir.mtime); cerr != nil {
			c.prob.failed(cerr)
		}
	}
	return err
}

// object copies one local object to vault path vp.
func (c *encrypter) object(p, vp string, de fs.DirEntry) (err error) {
	fi, err := de.Info()
	if err != nil {
		return err
	}
	st := hostStat(fi)
	if vp != "." {
		if err := c.makeRoom(vp, fi.IsDir()); err != nil {
			return err
		}
	}
	mode := fi.Mode()
	at := st.Atime
	switch {
	case mode.IsDir():
		if vp != "." {
			if err := c.f.Mkdir(vp, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		}
		if err := c.owner(vp, st); err != nil {
			return err
		}
		if err := c.xattrs(p, vp); err != nil {
			return err
		}
		c.dirs = append(c.dirs, pendingDir{path: vp, perm: st.Mode & 0o7777, atime: at, mtime: fi.ModTime()})
		return nil
	case mode.IsRegular():
		if st.Nlink > 1 {
			k := inodeKey{st.Dev, st.Ino}
			if first, ok := c.links[k]; ok {
				return c.f.Link(first, vp)
			}
			defer func() {
				if err == nil {
					c.links[k] = vp
				}
			}()
		}
		if err := c.file(p, vp, fi.Size()); err != nil {
			return err
		}
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(p)
		if err != nil {
			return err
		}
		if err := c.f.Symlink(target, vp); err != nil {
			return err
		}
		if err := c.owner(vp, st); err != nil {
			return err
		}
		return c.f.Lchtimes(vp, at, fi.ModTime())
	default:
		if err := c.f.Mknod(vp, st.Mode, st.Rdev); err != nil {
			return err
		}
	}
	if err := c.owner(vp, st); err != nil {
		return err
	}
	if err := c.f.Chmod(vp, fs.FileMode(st.Mode&0o777)|modeBits(st.Mode)); err != nil {
		return err
	}
	if err := c.xattrs(p, vp); err != nil {
		return err
	}
	return c.f.Lchtimes(vp, at, fi.ModTime())
}

// makeRoom checks what already exists at vp in the vault: a directory is
// kept for a directory; anything else is an error, or is removed with
// -force.
func (c *encrypter) makeRoom(vp string, isDir bool) error {
	fi, err := c.f.Lstat(vp)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() && isDir {
		return nil
	}
	if !c.force {
		return &fs.PathError{Op: "encrypt", Path: vp, Err: fmt.Errorf("already exists in the vault (use -force to replace it): %w", fs.ErrExist)}
	}
	if fi.IsDir() {
		return c.f.RemoveAll(vp)
	}
	return c.f.Remove(vp)
}

// file copies the contents of a regular file, keeping its holes.
func (c *encrypter) file(p, vp string, size int64) error {
	src, err := os.Open(p)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := c.f.OpenFile(vp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	seek := func(off int64, whence int) (int64, bool, error) {
		pos, err := src.Seek(off, hostWhence(whence))
		if err != nil && !errors.Is(err, syscall.ENXIO) {
			return 0, false, nil // the file system cannot tell: treat as data
		}
		return pos, true, err
	}
	err = forEachData(size, seek, func(off, n int64) error {
		if err := c.ctx.Err(); err != nil {
			return err
		}
		return copyRange(dst, src, off, n, false, c.buf, c.prog.addBytes)
	})
	if err == nil {
		err = dst.Truncate(size)
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		c.f.Remove(vp) // never leave a partial file behind
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

func (c *encrypter) owner(vp string, st *store.Stat) error {
	if !c.root {
		return nil
	}
	return c.f.Lchown(vp, int(st.Uid), int(st.Gid))
}

// xattrs copies the user.* extended attributes of a local object.
func (c *encrypter) xattrs(p, vp string) error {
	attrs, err := localXattrs(p)
	if err != nil {
		if errors.Is(err, syscall.ENOTSUP) {
			return nil
		}
		return fmt.Errorf("%s: listing xattrs: %w", p, err)
	}
	names := make([]string, 0, len(attrs))
	for name := range attrs {
		if strings.HasPrefix(name, "user.") {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		if err := c.f.Setxattr(vp, name, attrs[name], 0); err != nil {
			return err
		}
	}
	return nil
}
