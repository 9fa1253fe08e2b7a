//go:build linux

package main

import (
	"context"
	"flag"
	"github.com/sealfs/sealfs"
	"golang.org/x/sys/unix"
	"io"
	"io/fs"
	"log/slog"

	"github.com/sealfs/sealfs/ctlsock"
	"github.com/sealfs/sealfs/fusefs"
	"github.com/sealfs/sealfs/reverse"
	"github.com/sealfs/sealfs/store"
	"github.com/sealfs/sealfs/store/dirstore"
	"github.com/sealfs/sealfs/vault"
)

// mountExtraFlags are the options of mount for reverse mode and the
// control socket (registered by cmdMount with one line).
type mountExtraFlags struct {
	reverse bool
	oneFS   bool
	noXattr bool
	exclude excludeFlags
	ctlsock string
}

func (x *mountExtraFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&x.reverse, "reverse", false, "reverse mode: mount the encrypted view of the plaintext directory given as CIPHERDIR\n(read-only; config PLAINDIR/.gocryptfs.reverse.conf, see init -reverse)")
	fs.BoolVar(&x.oneFS, "one-file-system", false, "reverse mode: show directories on other file systems (mount points) as empty")
	fs.BoolVar(&x.noXattr, "noxattr", false, "reverse mode: show no extended attributes of the plaintext files (by default they are shown encrypted)")
	x.exclude.register(fs)
	fs.StringVar(&x.ctlsock, "ctlsock", "", "serve the gocryptfs control socket (path encryption and decryption) at `PATH`;\nput it in a directory only you can access")
}

// configName is the default config file name of the mount.
func (o *mountOptions) configName() string {
	if o.extra.reverse {
		return vault.ReverseFile
	}
	return vault.DefaultFile
}

// openMountFS unlocks what runMount mounts: the vault in dir, or with
// -reverse the encrypted view of the plaintext directory dir, and starts
// the control socket (-ctlsock) on it. mount mounts it on a directory;
// closeFS stops the socket (removing it) and closes the file system.
func (e *env) openMountFS(ctx context.Context, o *mountOptions, dir string, logger *slog.Logger) (mount func(mnt string, mo *fusefs.Options) (*fusefs.Server, error), closeFS func(), err error) {
	if !o.extra.reverse && !o.extra.exclude.empty() {
		return nil, nil, mark(errExclude, usageErrorf("-exclude, -exclude-wildcard and -exclude-from need -reverse"))
	}
	var m ctlsock.Mapper
	if o.extra.reverse {
		e.quiet = e.quiet || o.open.quiet
		ropts := reverse.Options{OneFileSystem: o.extra.oneFS, Logger: logger}
		var xattrs io.Closer
		if !o.extra.noXattr {
			// The plaintext files' attributes, read without following
			// symlinks beneath the plaintext directory (a dirstore does).
			st, err := dirstore.New(dir, nil)
			if err != nil {
				return nil, nil, mark(errCipherDir, err)
			}
			if xs, ok := store.Store(st).(reverse.XattrSource); ok {
				ropts.Xattrs = xs
			}
			xattrs = st
		}
		v, done, err := e.openReverse(ctx, dir, &o.open.secret, o.open.config, &o.extra.exclude, &o.open.format, ropts)
		if err != nil {
			if xattrs != nil {
				xattrs.Close()
			}
			return nil, nil, err
		}
		m, closeFS = v, done
		if xattrs != nil {
			closeFS = func() { done(); xattrs.Close() }
		}
		mount = func(mnt string, mo *fusefs.Options) (*fusefs.Server, error) {
			mo.Name += "-reverse" // as gocryptfs: fuse.gocryptfs-reverse
			return fusefs.MountFS(mnt, reverseView{v, dir}, mo)
		}
	} else {
		if o.extra.oneFS {
			return nil, nil, usageErrorf("-one-file-system needs -reverse")
		}
		// Damage the file system works around (an undecryptable name left
		// out of a listing) or reports as EIO gets a log line naming the
		// object.
		o.open.logger = logger
		f, err := e.openVault(ctx, dir, &o.open, o.ro, func(p string, err error) {
			logger.Warn("corrupt ciphertext", "path", "/"+p, "err", err)
		})
		if err != nil {
			return nil, nil, err
		}
		m, closeFS = f, func() { f.Close() }
		mount = func(mnt string, mo *fusefs.Options) (*fusefs.Server, error) {
			return fusefs.Mount(mnt, f, mo)
		}
	}
	if o.extra.ctlsock != "" {
		stop, err := serveCtlsock(o.extra.ctlsock, m)
		if err != nil {
			closeFS()
			return nil, nil, err
		}
		closeFn := closeFS
		closeFS = func() { stop(); closeFn() }
	}
	return mount, closeFS, nil
}

func init() {
	cmdMount.help += `

With -reverse, CIPHERDIR is a plaintext directory with a reverse config
(sealfs init -reverse) and MOUNTPOINT shows its encrypted view, read-only,
as gocryptfs -reverse does; a copy of the view is an ordinary vault.
-exclude PATH (-e) hides a path relative to the plaintext root (no
wildcards), -exclude-wildcard PATTERN (-ew) hides what a gitignore pattern
matches (anywhere unless it starts with /; ! shows again), -exclude-from
FILE reads gitignore patterns from a file; all three can be repeated.
-one-file-system shows directories on other file systems as empty.

-ctlsock PATH serves the gocryptfs control socket (forward and reverse), so
that gocryptfs-xray -encrypt-paths/-decrypt-paths PATH map paths; it is
removed at unmount. An unusable PATH is exit code 20; bad exclusions 29.`
}

// statfsView is the reverse view v of dir with the usage of dir's file
// system (for WebDAV's quota properties).
func statfsView(v *reverse.FS, dir string) fs.FS { return reverseView{v, dir} }

// reverseView is a reverse view that reports the usage of its plaintext
// directory's file system (fusefs.StatfsFS), as gocryptfs' reverse
// mounts do.
type reverseView struct {
	*reverse.FS
	dir string
}

func (v reverseView) Statfs() (sealfs.Statfs, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(v.dir, &st); err != nil {
		return sealfs.Statfs{}, &fs.PathError{Op: "statfs", Path: v.dir, Err: err}
	}
	return sealfs.Statfs{
		BlockSize: st.Bsize, Blocks: st.Blocks, BlocksFree: st.Bfree, BlocksAvail: st.Bavail,
		Files: st.Files, FilesFree: st.Ffree, NameLen: st.Namelen,
	}, nil
}
