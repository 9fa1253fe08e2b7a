package main

import (
	"archive/tar"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/reverse"
	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/store/s3store"
	"github.com/sealfs/sealfs/vault"
)

type exportOptions struct {
	secret  secretFlags
	config  string
	tar     bool
	quiet   bool
	exclude excludeFlags
	oneFS   bool
	s3      s3Flags
	stats   bool
}

var cmdExport = &command{
	name:    "export",
	args:    "PLAINDIR OUTDIR|-",
	summary: "write the encrypted reverse-mode view of a directory, without FUSE",
	help: `
Writes the encrypted view of PLAINDIR that "sealfs mount -reverse" (and
gocryptfs -reverse) would show to OUTDIR, without a FUSE mount: for
backups from containers, CI or hosts without /dev/fuse. PLAINDIR needs a
reverse config (sealfs init -reverse PLAINDIR). A copy of OUTDIR is an
ordinary vault: sealfs decrypt, sealfs mount or gocryptfs open it with the
same password or master key.

The export is incremental: a second run writes only files whose
ciphertext changed, deletes what disappeared from PLAINDIR, and keeps
modification times, so rsync and cloud sync tools see no change for
unchanged files. Files are replaced atomically. FIFOs, sockets and
device nodes are recreated as the reverse mount shows them (device nodes
need root, as with rsync).

With -tar, the view is written as a tar archive to OUTDIR, or to stdout
when OUTDIR is "-".

OUTDIR may be s3://BUCKET/PREFIX: the view is written to the bucket in
the layout sealfs and rclone use for vaults there (see "sealfs help
mount"), incrementally as to a directory; FIFOs, sockets and device
nodes are reported and skipped.

-exclude PATH (-e), -exclude-wildcard PATTERN (-ew), -exclude-from FILE
and -one-file-system leave objects out as for "sealfs mount -reverse"
(gitignore patterns; see "sealfs help mount"); what an earlier export
wrote for them is deleted.

Plaintext files that cannot be read are reported and skipped; the exit
code is then 11. A progress line is shown when stderr is a terminal.`,
	flags: func(fs *flag.FlagSet) any {
		o := &exportOptions{}
		o.secret.register(fs, masterKeyUnlockUsage)
		fs.StringVar(&o.config, "config", "", "use the reverse config `FILE` instead of PLAINDIR/.gocryptfs.reverse.conf")
		o.exclude.register(fs)
		fs.BoolVar(&o.oneFS, "one-file-system", false, "leave out the contents of directories on other file systems (mount points)")
		fs.BoolVar(&o.tar, "tar", false, "write a tar archive (to stdout with OUTDIR \"-\")")
		fs.BoolVar(&o.quiet, "q", false, "quiet: no informational messages or progress line")
		fs.BoolVar(&o.quiet, "quiet", false, "same as -q")
		fs.BoolVar(&o.stats, "stats", false, statsUsage)
		o.s3.register(fs)
		return o
	},
	run: runExport,
}

// openReverse unlocks the reverse config of plainDir and returns the view.
// x are the exclusions; opts the other view options (Exclude and
// ConfigName are set here).
// format, if not nil, gives the view's format when the master key is
// given and there is no config file (gocryptfs -reverse -zerokey or
// -masterkey with no .gocryptfs.reverse.conf): AES-SIV with the names the
// flags ask for, and no gocryptfs.conf in the view.
func (e *env) openReverse(ctx context.Context, plainDir string, s *secretFlags, config string, x *excludeFlags, format *formatFlags, opts reverse.Options) (*reverse.FS, func(), error) {
	if err := s.validate(); err != nil {
		return nil, nil, err
	}
	if err := checkCipherDir(plainDir); err != nil {
		return nil, nil, err
	}
	excl, err := x.matcher()
	if err != nil {
		return nil, nil, err
	}
	cfgPath := configPath(plainDir, config, vault.ReverseFile)
	cfg, err := loadConfig(cfgPath)
	formatOnly := false
	if err != nil && errors.Is(err, fs.ErrNotExist) && format != nil && s.keyGiven() {
		fo := format.options()
		fo.Suite = content.AESSIV
		cfg, err = vault.FormatOnly(fo)
		formatOnly = true
	}
	if err != nil {
		return nil, nil, err
	}
	if err := s.forConfig(cfg); err != nil {
		return nil, nil, err
	}
	key, err := e.masterKey(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	if key == nil {
		pw, err := e.readPassword(ctx, s, false)
		if err != nil {
			return nil, nil, err
		}
		key, err = cfg.Unlock(pw)
		clear(pw)
		if err != nil {
			return nil, nil, err
		}
	}
	defer key.Destroy()
	root, err := os.OpenRoot(plainDir)
	if err != nil {
		return nil, nil, mark(errCipherDir, err)
	}
	plain := root.FS()
	if config != "" || formatOnly {
		opts.ConfigName = "-"
	}
	if excl != nil {
		excl.isDir = func(p string) bool {
			fi, err := fs.Lstat(plain, p)
			return err == nil && fi.IsDir()
		}
		opts.Exclude = excl.hide
	}
	v, err := reverse.New(plain, cfg, key, &opts)
	if err != nil {
		root.Close()
		if errors.Is(err, reverse.ErrNotSIV) {
			return nil, nil, usageErrorf("%s is not a reverse-mode config: %v", cfgPath, err)
		}
		return nil, nil, err
	}
	return v, func() { root.Close() }, nil
}

func runExport(ctx context.Context, e *env, opts any, args []string) error {
	o := opts.(*exportOptions)
	e.quiet = o.quiet
	e.infow = e.stderr
	if err := exactArgs(args, "PLAINDIR", "OUTDIR"); err != nil {
		return err
	}
	plainDir, out := args[0], args[1]
	if out != "-" {
		if ov, err := overlap(plainDir, out); err != nil || ov {
			if err == nil {
				err = fmt.Errorf("OUTDIR %s and PLAINDIR %s overlap", out, plainDir)
			}
			return mark(errTargetDir, err)
		}
	}
	v, done, err := e.openReverse(ctx, plainDir, &o.secret, o.config, &o.exclude, nil, reverse.Options{OneFileSystem: o.oneFS})
	if err != nil {
		return err
	}
	defer done()
	x := &exporter{e: e, v: v, prog: newProgress(e)}
	var bucket *s3store.Store
	if isS3(out) {
		if o.tar {
			return usageErrorf("-tar writes a file or stdout, not a bucket")
		}
		loc, lerr := e.locate(ctx, out, &o.s3, nil)
		if lerr != nil {
			return lerr
		}
		err = x.toStore(ctx, loc.s3)
		if cerr := loc.close(); err == nil {
			err = cerr
		}
		bucket = loc.s3
	} else if o.tar || out == "-" {
		w := e.stdout
		if out != "-" {
			f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return mark(errTargetDir, err)
			}
			defer f.Close()
			w = f
		}
		err = x.tar(ctx, w)
	} else {
		if err := os.MkdirAll(out, 0o700); err != nil {
			return mark(errTargetDir, err)
		}
		err = x.tree(ctx, out)
	}
	x.prog.done()
	if o.stats {
		x.prog.summary(bucket)
	}
	if err != nil {
		return err
	}
	e.infof("exported %d objects (%d written, %d unchanged, %d removed)\n", x.objects, x.written, x.unchanged, x.removed)
	if x.failed > 0 {
		return fmt.Errorf("%d objects could not be exported", x.failed)
	}
	return nil
}

type exporter struct {
	e                                            *env
	v                                            *reverse.FS
	prog                                         *progress
	objects, written, unchanged, removed, failed int
}

// fail reports an object that cannot be exported, by its plaintext path
// where it is known and its path in the view.
func (x *exporter) fail(p string, err error) {
	x.failed++
	x.prog.clearLine()
	if plain, derr := x.v.DecryptPath(p); derr == nil && plain != "" {
		x.e.warnf("export: skipped %s (%s): %v\n", plain, p, err)
		return
	}
	x.e.warnf("export: skipped %s: %v\n", p, err)
}

// exportSink is where an export writes: a local directory or a store.
// Each method brings the object at p in line with fi; an error of dir
// ends the export.
type exportSink struct {
	dir, symlink, special, file func(p string, fi fs.FileInfo) error
}

// walk walks the view and hands every object to the sink. It returns the
// paths seen, the directories that could not be listed (what an earlier
// export wrote inside them is kept) and the directories, in walk order.
func (x *exporter) walk(ctx context.Context, k *exportSink) (seen, unlisted map[string]bool, dirs []string, err error) {
	seen = map[string]bool{}
	unlisted = map[string]bool{}
	err = fs.WalkDir(x.v, ".", func(p string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if err != nil {
			x.fail(p, err)
			if d != nil && d.IsDir() {
				unlisted[p] = true
				return fs.SkipDir
			}
			return nil
		}
		seen[p] = true
		if p == "." {
			return nil
		}
		x.objects++
		x.prog.object()
		fi, err := d.Info()
		if err != nil {
			x.fail(p, err)
			return nil
		}
		switch {
		case fi.IsDir():
			if err := k.dir(p, fi); err != nil {
				return err
			}
			dirs = append(dirs, p)
		case fi.Mode()&fs.ModeSymlink != 0:
			err = k.symlink(p, fi)
		case fi.Mode()&(fs.ModeNamedPipe|fs.ModeSocket|fs.ModeDevice) != 0:
			err = k.special(p, fi)
		default:
			err = k.file(p, fi)
		}
		if err != nil {
			if fatalWriteError(err) {
				return err
			}
			x.fail(p, err)
		}
		return nil
	})
	return seen, unlisted, dirs, err
}

// tree brings directory out in line with the view.
func (x *exporter) tree(ctx context.Context, out string) error {
	seen, unlisted, dirs, err := x.walk(ctx, &exportSink{
		dir: func(p string, fi fs.FileInfo) error {
			if err := ensureDir(filepath.Join(out, p), fi); err != nil {
				return fmt.Errorf("%s: %w", filepath.Join(out, p), err)
			}
			return nil
		},
		symlink: func(p string, fi fs.FileInfo) error { return x.symlink(p, filepath.Join(out, p), fi) },
		special: func(p string, fi fs.FileInfo) error { return x.special(filepath.Join(out, p), fi) },
		file:    func(p string, fi fs.FileInfo) error { return x.file(p, filepath.Join(out, p), fi) },
	})
	if err != nil {
		return err
	}
	// Remove what is not in the view any more (deepest first).
	var gone []string
	filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(out, p)
		if rel == "." && unlisted["."] {
			return fs.SkipDir
		}
		if err != nil || rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if !seen[rel] {
			gone = append(gone, p)
			if d.IsDir() {
				return fs.SkipDir
			}
		}
		if unlisted[rel] {
			return fs.SkipDir
		}
		return nil
	})
	for _, p := range gone {
		if err := os.RemoveAll(p); err != nil {
			x.fail(p, err)
			continue
		}
		x.removed++
	}
	// Directory times last: writing inside changed them.
	for i := len(dirs) - 1; i >= 0; i-- {
		if fi, err := x.v.Lstat(dirs[i]); err == nil {
			setTimesIfChanged(filepath.Join(out, dirs[i]), fi, false)
		}
	}
	return nil
}

func ensureDir(dst string, fi fs.FileInfo) error {
	st, err := os.Lstat(dst)
	if err == nil && !st.IsDir() {
		if err := os.RemoveAll(dst); err != nil {
			return err
		}
		err = fs.ErrNotExist
	}
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(dst, 0o700); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	return chmodIfChanged(dst, fi.Mode().Perm()|0o700)
}

// chmodIfChanged sets the permission bits of dst unless they are set
// already: a chmod changes the ctime even when the mode stays, and backup
// tools (restic, borg) read again every file whose ctime moved.
func chmodIfChanged(dst string, perm fs.FileMode) error {
	if st, err := os.Lstat(dst); err == nil && st.Mode().Perm() == perm && st.Mode()&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) == 0 {
		return nil
	}
	return os.Chmod(dst, perm)
}

// setTimesIfChanged is setTimes unless dst has that modification time
// already (see chmodIfChanged; the access time moves by itself whenever
// the export reads the directory).
func setTimesIfChanged(dst string, fi fs.FileInfo, symlink bool) error {
	if st, err := os.Lstat(dst); err == nil && st.ModTime().Equal(fi.ModTime()) {
		return nil
	}
	return setTimes(dst, fi, symlink)
}

// unchanged reports whether dst already holds an object of the same type,
// size and modification time.
func unchanged(dst string, fi fs.FileInfo) bool {
	st, err := os.Lstat(dst)
	return err == nil && st.Mode().Type() == fi.Mode().Type() && st.Size() == fi.Size() && st.ModTime().Equal(fi.ModTime())
}

func setTimes(dst string, fi fs.FileInfo, symlink bool) error {
	return setFileTimes(dst, fi.ModTime(), fi.ModTime(), symlink)
}

func (x *exporter) symlink(p, dst string, fi fs.FileInfo) error {
	target, err := x.v.ReadLink(p)
	if err != nil {
		return err
	}
	if old, err := os.Readlink(dst); err == nil && old == target {
		x.unchanged++
		return nil
	}
	os.RemoveAll(dst)
	if err := os.Symlink(target, dst); err != nil {
		return err
	}
	x.written++
	return setTimes(dst, fi, true)
}

func (x *exporter) file(p, dst string, fi fs.FileInfo) error {
	if unchanged(dst, fi) {
		x.unchanged++
		return chmodIfChanged(dst, fi.Mode().Perm())
	}
	in, err := x.v.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	// A short temporary name: dst's own name may already be 255 bytes.
	outf, err := os.CreateTemp(filepath.Dir(dst), ".sealfs-export-*")
	if err != nil {
		return err
	}
	tmp := outf.Name()
	n, err := io.Copy(outf, in)
	x.prog.addBytes(n)
	if cerr := outf.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != fi.Size() {
		err = fmt.Errorf("%w: read %d of %d bytes", io.ErrUnexpectedEOF, n, fi.Size())
	}
	return x.install(tmp, dst, fi, err)
}

// install gives the new object tmp the mode and times of fi and moves it
// over dst (a directory there goes first); with err, or when that fails,
// tmp is removed.
func (x *exporter) install(tmp, dst string, fi fs.FileInfo, err error) error {
	if err == nil {
		err = os.Chmod(tmp, fi.Mode().Perm())
	}
	if err == nil {
		err = setTimes(tmp, fi, false)
	}
	if err == nil {
		if st, serr := os.Lstat(dst); serr == nil && st.IsDir() {
			os.RemoveAll(dst)
		}
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	x.written++
	return nil
}

// special recreates a FIFO, socket or device node of the view at dst,
// as rsync -a of a reverse mount does (device nodes need CAP_MKNOD), under
// a temporary name that then replaces dst.
func (x *exporter) special(dst string, fi fs.FileInfo) error {
	st, ok := store.SysStat(fi)
	if !ok {
		return fmt.Errorf("%w: no device number for a special file", errors.ErrUnsupported)
	}
	var typ uint32
	switch m := fi.Mode(); {
	case m&fs.ModeNamedPipe != 0:
		typ = syscall.S_IFIFO
	case m&fs.ModeSocket != 0:
		typ = syscall.S_IFSOCK
	case m&fs.ModeCharDevice != 0:
		typ = syscall.S_IFCHR
	default:
		typ = syscall.S_IFBLK
	}
	if old, err := os.Lstat(dst); err == nil {
		if ost, ok := store.SysStat(old); ok && ost.Mode&syscall.S_IFMT == typ && ost.Rdev == st.Rdev {
			x.unchanged++
			if err := chmodIfChanged(dst, fi.Mode().Perm()); err != nil {
				return err
			}
			return setTimesIfChanged(dst, fi, false)
		}
	}
	var tmp string
	for i := 0; ; i++ {
		tmp = filepath.Join(filepath.Dir(dst), fmt.Sprintf(".sealfs-export-%d-%d", os.Getpid(), i))
		err := mknod(tmp, typ|0o600, st.Rdev)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrExist) || i == 100 {
			return &fs.PathError{Op: "mknod", Path: dst, Err: err}
		}
	}
	return x.install(tmp, dst, fi, nil)
}

// tar writes the view as a tar archive.
func (x *exporter) tar(ctx context.Context, w io.Writer) error {
	tw := tar.NewWriter(w)
	err := fs.WalkDir(x.v, ".", func(p string, d fs.DirEntry, err error) error {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return ctxErr
		}
		if err != nil {
			x.fail(p, err)
			return nil
		}
		if p == "." {
			return nil
		}
		x.objects++
		x.prog.object()
		fi, err := d.Info()
		if err != nil {
			x.fail(p, err)
			return nil
		}
		link := ""
		if fi.Mode()&fs.ModeSymlink != 0 {
			if link, err = x.v.ReadLink(p); err != nil {
				x.fail(p, err)
				return nil
			}
		}
		hdr, err := tar.FileInfoHeader(fi, link)
		if err != nil {
			x.fail(p, err)
			return nil
		}
		hdr.Name = p
		if fi.IsDir() {
			hdr.Name += "/"
		}
		if st, ok := store.SysStat(fi); ok {
			hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
		}
		hdr.ModTime = fi.ModTime().Truncate(time.Second)
		if !fi.Mode().IsRegular() {
			return tw.WriteHeader(hdr)
		}
		in, err := x.v.Open(p)
		if err != nil {
			x.fail(p, err)
			return nil
		}
		defer in.Close()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		n, err := io.Copy(tw, in)
		x.prog.addBytes(n)
		if err != nil {
			// The archive is unusable from here on.
			return fmt.Errorf("%s: %w", p, err)
		}
		x.written++
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
