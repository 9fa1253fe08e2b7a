package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/sealfs/sealfs"
)

type decryptOptions struct {
	open  openFlags
	force bool
	stats bool
}

var cmdDecrypt = &command{
	name:    "decrypt",
	args:    "CIPHERDIR OUTDIR",
	summary: "write the whole decrypted tree of a vault to a directory",
	help: `
Copies every file, directory, symlink, FIFO and device node of the vault to
OUTDIR, decrypted, with permission bits (including setuid, setgid and
sticky), modification and access times, extended attributes and hard links.
Ownership is kept when running as root. Holes in files stay holes, and
4 KiB blocks of zeros are written as holes too.

OUTDIR is created if it does not exist. An existing OUTDIR must be empty
(exit code 10) unless -force is given; with -force, existing files are
replaced and existing directories are merged. OUTDIR must not be inside
CIPHERDIR or contain it.

Objects that cannot be decrypted (corrupt ciphertext) or written are
reported on stderr and skipped (no partial files are left); the exit code is then 11. A progress line is
shown when stderr is a terminal. The vault is opened read-only.`,
	flags: func(fs *flag.FlagSet) any {
		o := &decryptOptions{}
		o.open.register(fs)
		fs.BoolVar(&o.force, "force", false, "write into a non-empty OUTDIR, replacing existing files")
		fs.BoolVar(&o.stats, "stats", false, statsUsage)
		return o
	},
	run: runDecrypt,
}

func runDecrypt(ctx context.Context, e *env, opts any, args []string) error {
	o := opts.(*decryptOptions)
	e.quiet = o.open.quiet
	e.infow = e.stderr
	if err := exactArgs(args, "CIPHERDIR", "OUTDIR"); err != nil {
		return err
	}
	cipherDir, out := args[0], args[1]
	if err := checkCipherDir(cipherDir); err != nil {
		return err
	}
	create, err := checkOutDir(cipherDir, out, o.force)
	if err != nil {
		return err
	}
	prog := newProgress(e)
	prob := &problems{e: e, prog: prog}
	f, err := e.openVault(ctx, cipherDir, &o.open, true, prob.corrupt)
	if err != nil {
		return err
	}
	defer f.Close()
	if create {
		if err := os.Mkdir(out, 0o700); err != nil {
			return mark(errTargetDir, err)
		}
	}

	d := &decrypter{
		ctx:   ctx,
		f:     f,
		out:   out,
		force: o.force,
		root:  os.Geteuid() == 0,
		prog:  prog,
		prob:  prob,
		links: map[inodeKey]string{},
		buf:   make([]byte, copyChunk),
	}
	err = d.run()
	prog.done()
	if o.stats {
		prog.summary(o.open.bucket)
	}
	if err != nil {
		return err
	}
	return prob.err()
}

// checkOutDir checks that OUTDIR may be written to. create reports that
// it does not exist yet (its parent does).
func checkOutDir(cipherDir, out string, force bool) (create bool, err error) {
	if o, err := overlap(cipherDir, out); err != nil {
		return false, mark(errTargetDir, err)
	} else if o {
		return false, mark(errTargetDir, fmt.Errorf("%s and %s overlap", cipherDir, out))
	}
	fi, err := os.Stat(out)
	if errors.Is(err, fs.ErrNotExist) {
		parent, perr := os.Stat(filepath.Dir(out))
		if perr != nil {
			return false, mark(errTargetDir, perr)
		}
		if !parent.IsDir() {
			return false, mark(errTargetDir, fmt.Errorf("%s: %w", filepath.Dir(out), syscall.ENOTDIR))
		}
		return true, nil
	}
	if err != nil {
		return false, mark(errTargetDir, err)
	}
	if !fi.IsDir() {
		return false, mark(errTargetDir, fmt.Errorf("%s: %w", out, syscall.ENOTDIR))
	}
	if force {
		return false, nil
	}
	d, err := os.Open(out)
	if err != nil {
		return false, mark(errTargetDir, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if len(names) > 0 {
		return false, mark(errTargetDir, fmt.Errorf("%s is not empty (use -force to write into it)", out))
	}
	if err != nil && err != io.EOF {
		return false, mark(errTargetDir, err)
	}
	return false, nil
}

type decrypter struct {
	ctx   context.Context
	f     *sealfs.FS
	out   string
	force bool
	root  bool // running as root: keep ownership
	prog  *progress
	prob  *problems
	links map[inodeKey]string // first output path of each multiply-linked file
	dirs  []pendingDir
	buf   []byte
}

func (d *decrypter) run() error {
	// The root directory's own metadata goes to OUTDIR itself.
	if fi, err := d.f.Lstat("."); err == nil {
		if err := d.xattrs(".", d.out); err != nil {
			d.prob.failed(err)
		}
		d.dirs = append(d.dirs, pendingDir{path: d.out, perm: perm(fi), atime: atime(fi), mtime: fi.ModTime()})
	} else {
		return err
	}
	err := fs.WalkDir(d.f, ".", func(p string, de fs.DirEntry, err error) error {
		if cerr := d.ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			d.prob.failed(err)
			if de != nil && de.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if p == "." {
			return nil
		}
		d.prog.object()
		err = d.object(p, de)
		if err == nil {
			return nil
		}
		if fatalWriteError(err) || errors.Is(err, context.Canceled) {
			return err
		}
		d.prob.failed(err)
		if de.IsDir() {
			return fs.SkipDir
		}
		return nil
	})
	// Set directory modes and times deepest first, also after an error,
	// so that read-only directories do not stay writable.
	for _, dir := range slices.Backward(d.dirs) {
		if cerr := os.Chmod(dir.path, fs.FileMode(dir.perm&0o777)|modeBits(dir.perm)); cerr != nil {
			d.prob.failed(cerr)
		}
		if cerr := setFileTimes(dir.path, dir.atime, dir.mtime, true); cerr != nil {
			d.prob.failed(&fs.PathError{Op: "utimes", Path: dir.path, Err: cerr})
		}
	}
	return err
}

// object writes one object of the vault.
func (d *decrypter) object(p string, de fs.DirEntry) (err error) {
	fi, err := de.Info()
	if err != nil {
		return err
	}
	dst := filepath.Join(d.out, filepath.FromSlash(p))
	if d.force {
		if err := d.clear(dst, fi.IsDir()); err != nil {
			return err
		}
	}
	st, _ := fi.Sys().(*sealfs.Stat)
	mode := fi.Mode()
	switch {
	case mode.IsDir():
		if err := os.Mkdir(dst, 0o700); err != nil && !(d.force && errors.Is(err, fs.ErrExist)) {
			return err
		}
		if err := d.owner(dst, st); err != nil {
			return err
		}
		if err := d.xattrs(p, dst); err != nil {
			return err
		}
		d.dirs = append(d.dirs, pendingDir{path: dst, perm: perm(fi), atime: atime(fi), mtime: fi.ModTime()})
		return nil
	case mode.IsRegular():
		if st != nil && st.Nlink > 1 {
			k := inodeKey{st.Dev, st.Ino}
			if first, ok := d.links[k]; ok {
				return os.Link(first, dst)
			}
			defer func() {
				if err == nil {
					d.links[k] = dst
				}
			}()
		}
		if err := d.file(p, dst, fi); err != nil {
			return err
		}
	case mode&fs.ModeSymlink != 0:
		target, err := d.f.ReadLink(p)
		if err != nil {
			return err
		}
		if err := os.Symlink(target, dst); err != nil {
			return err
		}
		if err := d.owner(dst, st); err != nil {
			return err
		}
		return d.times(dst, fi)
	default:
		if st == nil {
			return fmt.Errorf("%s: unsupported file type %v", p, mode.Type())
		}
		if err := mknod(dst, st.Mode, st.Rdev); err != nil {
			return &fs.PathError{Op: "mknod", Path: dst, Err: err}
		}
	}
	if err := d.owner(dst, st); err != nil {
		return err
	}
	if err := os.Chmod(dst, fs.FileMode(perm(fi)&0o777)|modeBits(perm(fi))); err != nil {
		return err
	}
	if err := d.xattrs(p, dst); err != nil {
		return err
	}
	return d.times(dst, fi)
}

// clear removes what is in the way at dst (with -force). A directory is
// kept when a directory is to be written there.
func (d *decrypter) clear(dst string, isDir bool) error {
	fi, err := os.Lstat(dst)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if isDir {
			return nil
		}
		return os.RemoveAll(dst)
	}
	return os.Remove(dst)
}

// file copies the contents of a regular file, keeping holes.
func (d *decrypter) file(p, dst string, fi fs.FileInfo) error {
	src, err := d.f.OpenFile(p, os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer src.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	size := fi.Size()
	seek := func(off int64, whence int) (int64, bool, error) {
		pos, err := src.Seek(off, whence)
		if err != nil && !errors.Is(err, syscall.ENXIO) {
			return 0, false, nil // the FS cannot tell: treat as data
		}
		return pos, true, err
	}
	err = forEachData(size, seek, func(off, n int64) error {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		return copyRange(out, src, off, n, true, d.buf, d.prog.addBytes)
	})
	if err == nil {
		err = out.Truncate(size)
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst) // never leave a partial file behind
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// owner keeps the owner when running as root.
func (d *decrypter) owner(dst string, st *sealfs.Stat) error {
	if !d.root || st == nil {
		return nil
	}
	return os.Lchown(dst, int(st.Uid), int(st.Gid))
}

// xattrs copies the extended attributes of a file or directory.
func (d *decrypter) xattrs(p, dst string) error {
	names, err := d.f.Listxattr(p)
	if err != nil {
		if errors.Is(err, errors.ErrUnsupported) || errors.Is(err, syscall.ENOTSUP) {
			return nil // the vault's store has no xattrs
		}
		return err
	}
	for _, name := range names {
		val, err := d.f.Getxattr(p, name)
		if err != nil {
			return err
		}
		if err := lsetxattr(dst, name, val); err != nil {
			return &fs.PathError{Op: "setxattr " + name, Path: dst, Err: err}
		}
	}
	return nil
}

func (d *decrypter) times(dst string, fi fs.FileInfo) error {
	if err := setFileTimes(dst, atime(fi), fi.ModTime(), true); err != nil {
		return &fs.PathError{Op: "utimes", Path: dst, Err: err}
	}
	return nil
}

// perm returns the unix permission bits of a vault object, including
// setuid, setgid and sticky.
func perm(fi fs.FileInfo) uint32 {
	if st, ok := fi.Sys().(*sealfs.Stat); ok {
		return st.Mode & 0o7777
	}
	m := uint32(fi.Mode().Perm())
	if fi.Mode()&fs.ModeSetuid != 0 {
		m |= 0o4000
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		m |= 0o2000
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		m |= 0o1000
	}
	return m
}

// modeBits converts the setuid, setgid and sticky bits of a unix mode to
// os.FileMode bits.
func modeBits(m uint32) fs.FileMode {
	var fm fs.FileMode
	if m&0o4000 != 0 {
		fm |= fs.ModeSetuid
	}
	if m&0o2000 != 0 {
		fm |= fs.ModeSetgid
	}
	if m&0o1000 != 0 {
		fm |= fs.ModeSticky
	}
	return fm
}

// atime returns the access time of a vault object (the modification time
// when the FS does not know it).
func atime(fi fs.FileInfo) time.Time {
	if st, ok := fi.Sys().(*sealfs.Stat); ok && !st.Atime.IsZero() {
		return st.Atime
	}
	return fi.ModTime()
}
