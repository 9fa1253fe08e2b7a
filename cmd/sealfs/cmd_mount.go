//go:build linux

package main

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"log/syslog"
	"os"
	"os/exec"
	"os/signal"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sealfs/sealfs/fusefs"
)

type mountOptions struct {
	open        openFlags
	fg          bool
	ro          bool
	allowOther  bool
	acl         bool
	badname     stringList
	forceOwner  string
	ko          string
	fsname      string
	fstype      string
	remount     bool
	idle        time.Duration
	shared      bool
	noprealloc  bool
	nosyslog    bool
	debug       bool
	kernelCache bool
	nonempty    bool
	iouring     setBool // -iouring, on unless -iouring=false or -noiouring
	noiouring   bool
	goReaders   bool
	notifypid   int // user's -notifypid
	readypid    int // internal: the parent waiting for the background child
	configfd    int // internal: the config the parent read (from a pipe)
	passfd      int // internal: the password comes on this descriptor
	keyfd       int // internal: the master key (hex) comes on this descriptor
	fido2fd     int // internal: the FIDO2 hmac-secret (base64) comes on this descriptor
	kernel      kernelFlags
	prof        profileFlags
	extra       mountExtraFlags // cmd_mount_reverse.go
}

// setBool is a boolean option that remembers whether it was given.
type setBool struct{ v, set bool }

func (b *setBool) String() string   { return strconv.FormatBool(b.v) }
func (b *setBool) IsBoolFlag() bool { return true }
func (b *setBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	b.v, b.set = v, true
	return nil
}

// kernelFlags are the generic mount options gocryptfs accepts as its own
// (-dev, -nosuid, ...; also through "-o" from fstab) plus the atime and
// sync options mount.fuse3 passes on; they go to the kernel.
type kernelFlags struct {
	rw, dev, nodev, suid, nosuid, exec, noexec bool
	passthrough                                map[string]*bool
}

// kernelPassthrough are kernel mount options accepted as they are.
// noatime also keeps the ciphertext's access times still (atimeMode).
var kernelPassthrough = []string{"noatime", "sync", "async", "dirsync"}

// atimeOptions are the access-time options sealfs carries out itself: the
// kernel leaves a FUSE file system's access times to the server (and
// fusermount3 refuses these), so they decide how reads move the access
// times the mount reports (atimeMode).
var atimeOptions = []string{"atime", "relatime", "norelatime", "strictatime", "nodiratime", "diratime"}

func (k *kernelFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&k.rw, "rw", false, "mount read-write (the default; -ro wins)")
	fs.BoolVar(&k.dev, "dev", false, "allow device files (root only; -nodev wins)")
	fs.BoolVar(&k.nodev, "nodev", false, "no device files (the default)")
	fs.BoolVar(&k.suid, "suid", false, "allow setuid and setgid executables (root only; -nosuid wins)")
	fs.BoolVar(&k.nosuid, "nosuid", false, "no setuid and setgid executables (the default)")
	fs.BoolVar(&k.exec, "exec", false, "allow executables (the default; -noexec wins)")
	fs.BoolVar(&k.noexec, "noexec", false, "no executables")
	k.passthrough = map[string]*bool{}
	for _, name := range kernelPassthrough {
		k.passthrough[name] = fs.Bool(name, false, "kernel mount option "+name)
	}
	for _, name := range atimeOptions {
		k.passthrough[name] = fs.Bool(name, false, "access times: "+name+" (as the mount option)")
	}
}

// atimeMode returns what the access-time options ask for: noatime and
// nodiratime keep reads from moving the access times of files and
// directories (the ciphertext is opened with O_NOATIME); strictatime
// has every read move them; otherwise (relatime, the default) they move
// as the ciphertext file system moves them.
func (k *kernelFlags) atimeMode() (noAtime, noDirAtime, strict bool) {
	on := func(n string) bool { return *k.passthrough[n] }
	noAtime = on("noatime") && !on("atime") && !on("strictatime") && !on("relatime")
	noDirAtime = on("nodiratime") && !on("diratime")
	strict = on("strictatime") && !noAtime
	return
}

// options returns the kernel mount options the flags ask for.
func (k *kernelFlags) options() []string {
	var out []string
	pick := func(yes, no bool, on, off string) {
		switch {
		case no:
			out = append(out, off)
		case yes:
			out = append(out, on)
		}
	}
	pick(k.dev, k.nodev, "dev", "nodev")
	pick(k.suid, k.nosuid, "suid", "nosuid")
	pick(k.exec, k.noexec, "exec", "noexec")
	for _, name := range kernelPassthrough {
		if *k.passthrough[name] {
			out = append(out, name)
		}
	}
	return out
}

var cmdMount = &command{
	name:    "mount",
	args:    "CIPHERDIR MOUNTPOINT",
	summary: "mount a vault as a directory (FUSE)",
	help: `
Mounts the vault in CIPHERDIR on MOUNTPOINT, which must be an empty
directory, and returns once the file system is ready; it keeps being
served in the background (logging to syslog) until "sealfs unmount
MOUNTPOINT" or "fusermount -u MOUNTPOINT". With -fg it stays in the
foreground and logs to stderr; SIGINT and SIGTERM unmount it.

The password is asked for before going to the background and is handed
to the background process through a pipe, never on its command line.

"-o a,b=c" is the same as "-a -b=c" (as in gocryptfs, for /etc/fstab and
mount.fuse3); mount(8) and systemd options in it (nofail, _netdev, auto,
noauto, user, users, defaults, x-*) are ignored. "sealfs [options]
CIPHERDIR MOUNTPOINT" is the same as "sealfs mount".`,
	flags: func(fs *flag.FlagSet) any {
		o := &mountOptions{}
		o.open.register(fs)
		o.extra.register(fs)
		fs.BoolVar(&o.fg, "fg", false, "stay in the foreground")
		fs.BoolVar(&o.fg, "f", false, "same as -fg")
		fs.BoolVar(&o.ro, "ro", false, "mount read-only")
		fs.BoolVar(&o.allowOther, "allow_other", false, "let other users access the mount (adds default_permissions)")
		fs.Var(&o.badname, "badname", "list undecryptable entries whose ciphertext name matches `PATTERN` (shell glob, repeatable) as NAME\" GOCRYPTFS_BAD_NAME\", to read, rename or remove them")
		fs.BoolVar(&o.acl, "acl", false, "enforce POSIX ACLs (adds default_permissions; ACLs are stored unencrypted, as by gocryptfs)")
		fs.StringVar(&o.forceOwner, "force_owner", "", "show every object as owned by `UID:GID` (implies -allow_other)")
		fs.StringVar(&o.ko, "ko", "", "extra kernel mount `OPTIONS`, comma-separated")
		fs.StringVar(&o.fsname, "fsname", "", "file system `NAME` shown by df (default: CIPHERDIR)")
		fs.BoolVar(&o.remount, "remount", false, "change the mount on MOUNTPOINT between -ro and -rw in place (mount -o remount,ro MOUNTPOINT runs this through mount.fuse3; root only)")
		fs.StringVar(&o.fstype, "fstype", "sealfs", "file system `TYPE` in /proc/self/mountinfo, as fuse.TYPE (fuse.TYPE-reverse with -reverse); \"gocryptfs\" for scripts and GUIs that look for gocryptfs mounts")
		fs.DurationVar(&o.open.s3.writeBack, "write-back", 5*time.Second, "s3:// vaults: upload a file `DURATION` after its last close (0: in the close)")
		fs.BoolVar(&o.open.s3.syncUpload, "sync-upload", false, "s3:// vaults: fsync uploads at once (default: fsync makes the data durable in the cache, uploaded -write-back later)")
		fs.DurationVar(&o.idle, "idle", 0, "unmount after `DURATION` without activity")
		fs.DurationVar(&o.idle, "i", 0, "same as -idle")
		fs.BoolVar(&o.shared, "sharedstorage", false, "other instances or programs change CIPHERDIR while mounted: no kernel caching (otherwise such changes show within 1 s)")
		fs.BoolVar(&o.noprealloc, "noprealloc", false, "do not reserve space before writes")
		fs.BoolVar(&o.nosyslog, "nosyslog", false, "keep logging to stderr in the background")
		fs.BoolVar(&o.debug, "d", false, "debug output")
		fs.BoolVar(&o.debug, "debug", false, "same as -d")
		fs.BoolVar(&o.debug, "fusedebug", false, "same as -d")
		fs.Bool("nofail", false, "ignored (an /etc/fstab option for systemd)")
		fs.BoolVar(&o.kernelCache, "kernel_cache", false, "keep the kernel page cache across opens, and entries and attributes for 10 s (nothing changes CIPHERDIR behind the mount)")
		fs.BoolVar(&o.nonempty, "nonempty", false, "allow a non-empty mount point")
		o.iouring.v = true
		fs.Var(&o.iouring, "iouring", "serve over FUSE-over-io_uring where the kernel offers it (Linux 6.14+, fuse module parameter enable_uring=Y): a queue per CPU")
		fs.BoolVar(&o.noiouring, "noiouring", false, "serve over /dev/fuse even where the kernel offers FUSE-over-io_uring")
		fs.BoolVar(&o.goReaders, "gofusereaders", false, "read /dev/fuse with go-fuse's reader threads instead of sealfs' single reader (for comparisons; -d does too)")
		fs.IntVar(&o.notifypid, "notifypid", 0, "send SIGUSR1 to `PID` once the file system is mounted")
		fs.IntVar(&o.readypid, "sealfs-ready-pid", 0, internalUsage+"the parent to send SIGUSR1 to when mounted")
		fs.IntVar(&o.passfd, "passfd", 0, internalUsage+"read the password from file descriptor `N`")
		fs.IntVar(&o.configfd, "sealfs-config-fd", 0, internalUsage+"read the -config file's content from file descriptor `N`")
		fs.IntVar(&o.keyfd, "keyfd", 0, internalUsage+"read the master key from file descriptor `N`")
		fs.IntVar(&o.fido2fd, "fido2fd", 0, internalUsage+"read the FIDO2 hmac-secret from file descriptor `N`")
		o.kernel.register(fs)
		o.prof.register(fs)
		return o
	},
	run: runMount,
}

var cmdUnmount = &command{
	name:    "unmount",
	args:    "MOUNTPOINT",
	summary: "unmount a mounted vault",
	help: `
Unmounts MOUNTPOINT with fusermount3 -u (fusermount -u where there is no
fusermount3), which ends the sealfs process serving it.`,
	run: func(ctx context.Context, e *env, _ any, args []string) error {
		if err := exactArgs(args, "MOUNTPOINT"); err != nil {
			return err
		}
		return unmountDir(args[0])
	},
}

// unmountDir unmounts dir. A mount stays busy for a moment after the
// last file on it is closed (the kernel holds it until the server has
// answered the RELEASE), so "busy" is retried for up to two seconds.
func unmountDir(dir string) error {
	var last error
	for try := 0; try < 20; try++ {
		busy := false
		for _, bin := range []string{"fusermount3", "fusermount"} {
			out, err := exec.Command(bin, "-u", dir).CombinedOutput()
			if err == nil {
				return nil
			}
			msg := strings.TrimSpace(string(out))
			busy = busy || strings.Contains(msg, "busy")
			last = fmt.Errorf("%s -u %s: %v: %s", bin, dir, err, msg)
			if _, lerr := exec.LookPath(bin); lerr == nil {
				break // the tool is there and has answered: not the older one too
			}
		}
		if !busy {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return mark(errTargetDir, last)
}

// checkMountpoint: an existing empty directory that does not overlap
// CIPHERDIR (exit code 10 otherwise).
// With reverse, a mount point inside the plaintext directory is allowed
// (as gocryptfs allows it; the view hides it, see hideMountpoint).
func checkMountpoint(cipherDir, mnt string, nonempty, reverse bool) error {
	fi, err := os.Stat(mnt)
	if err != nil {
		return mark(errTargetDir, fmt.Errorf("invalid mountpoint: %w", err))
	}
	if !fi.IsDir() {
		return mark(errTargetDir, fmt.Errorf("invalid mountpoint %s: %w", mnt, syscall.ENOTDIR))
	}
	if !nonempty {
		d, err := os.Open(mnt)
		if err != nil {
			return mark(errTargetDir, err)
		}
		names, _ := d.Readdirnames(1)
		d.Close()
		if len(names) > 0 {
			return mark(errTargetDir, fmt.Errorf("invalid mountpoint: directory %s not empty", mnt))
		}
	}
	if ov, err := overlap(cipherDir, mnt); err != nil || ov {
		if err == nil && reverse {
			if rel, _ := within(cipherDir, mnt); rel != "" {
				return nil
			}
		}
		if err == nil {
			err = fmt.Errorf("mountpoint %s and CIPHERDIR %s overlap", mnt, cipherDir)
		}
		return mark(errTargetDir, err)
	}
	return nil
}

// within returns the path of mnt relative to dir when mnt lies strictly
// inside dir ("" otherwise), both resolved to real absolute paths.
func within(dir, mnt string) (string, error) {
	rd, err := realAbs(dir)
	if err != nil {
		return "", err
	}
	rm, err := realAbs(mnt)
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(rd, rm)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", err
	}
	return filepath.ToSlash(rel), nil
}

func runMount(ctx context.Context, e *env, opts any, args []string) error {
	o := opts.(*mountOptions)
	e.quiet = o.open.quiet
	if err := exactArgs(args, "CIPHERDIR", "MOUNTPOINT"); err != nil {
		return err
	}
	cipherDir, mnt := args[0], args[1]
	if o.remount {
		// mount.fuse3 passes the mount's present options first and the
		// new ones after "remount": the last of -ro and -rw counts.
		ro := o.ro
		for _, a := range e.argv {
			switch strings.TrimLeft(a, "-") {
			case "ro", "ro=true", "rw=false":
				ro = true
			case "rw", "rw=true", "ro=false":
				ro = false
			}
		}
		return remount(mnt, ro)
	}
	if err := checkCipherDir(cipherDir); err != nil {
		return err
	}
	if isS3(cipherDir) && o.extra.reverse {
		return usageErrorf("-reverse reads a local plaintext directory; to put its encrypted view in a bucket, use sealfs export PLAINDIR %s", cipherDir)
	}
	if err := checkMountpoint(cipherDir, mnt, o.nonempty, o.extra.reverse); err != nil {
		return err
	}
	if o.extra.reverse {
		// A mount point inside the plaintext directory is hidden from the
		// view, as gocryptfs hides it: the view would otherwise contain
		// itself.
		if rel, err := within(cipherDir, mnt); err == nil && rel != "" {
			o.extra.exclude.paths = append(o.extra.exclude.paths, rel)
		}
	}
	if err := o.prof.absolute(); err != nil {
		return err
	}
	if !o.fg {
		return e.daemonize(ctx, o, cipherDir)
	}
	if o.configfd > 0 {
		f := os.NewFile(uintptr(o.configfd), "config")
		data, err := io.ReadAll(io.LimitReader(f, 1<<20))
		f.Close()
		if err != nil {
			return mark(errOpenConf, fmt.Errorf("reading the config from the parent: %w", err))
		}
		rememberConfig(configPath(cipherDir, o.open.config, o.configName()), data)
	}
	if o.passfd > 0 {
		o.open.secret.passfile = stringList{"/proc/self/fd/" + strconv.Itoa(o.passfd)}
		o.open.secret.extpass = nil
	}
	if o.keyfd > 0 {
		key, err := readSecretFd(o.keyfd, "the master key")
		if err != nil {
			return err
		}
		o.open.secret.masterkey = string(key)
		clear(key)
	}
	if o.fido2fd > 0 {
		enc, err := readSecretFd(o.fido2fd, "the FIDO2 secret")
		if err != nil {
			return err
		}
		secret := make([]byte, base64.StdEncoding.DecodedLen(len(enc)))
		n, err := base64.StdEncoding.Decode(secret, enc)
		clear(enc)
		if err != nil || n == 0 {
			return mark(errPassword, errors.New("the FIDO2 secret from the parent is not base64"))
		}
		o.open.secret.fido2Secret = secret[:n]
	}
	o.open.noPrealloc, o.open.sharedStorage = o.noprealloc, o.shared
	o.open.noAtime, o.open.noDirAtime, _ = o.kernel.atimeMode()
	for _, p := range o.badname {
		if _, err := path.Match(p, ""); err != nil {
			return usageErrorf("-badname %q: %v", p, err)
		}
	}
	o.open.badNames = o.badname
	quiet := e.quiet
	if o.passfd > 0 || o.keyfd > 0 || o.fido2fd > 0 {
		e.quiet = true // the parent has said where the password comes from
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: logLevel(o.debug)}))
	mountFS, closeFS, err := e.openMountFS(ctx, o, cipherDir, logger)
	e.quiet = quiet || o.open.quiet
	if err != nil {
		return err
	}
	defer closeFS()
	ring := o.useRing()
	serverProcs(ring)
	_, _, strictAtime := o.kernel.atimeMode()
	mo := &fusefs.Options{
		IOURing:       ring,
		ReadOnly:      o.ro,
		AllowOther:    o.allowOther || o.forceOwner != "",
		ACL:           o.acl,
		KernelCache:   o.kernelCache,
		GoFuseReaders: o.goReaders,
		StrictAtime:   strictAtime,
		SharedStorage: o.shared,
		FSName:        o.fsname,
		Name:          o.fstype,
		Logger:        logger,
		Debug:         o.debug,
		IdleTimeout:   o.idle,
	}
	if !validFSType(o.fstype) {
		return usageErrorf("-fstype %q: want letters, digits, '.', '_' or '-'", o.fstype)
	}
	if mo.FSName == "" && isS3(cipherDir) {
		mo.FSName = strings.ReplaceAll(cipherDir, ",", "_")
	} else if mo.FSName == "" {
		if abs, err := filepath.Abs(cipherDir); err == nil {
			mo.FSName = strings.ReplaceAll(abs, ",", "_")
		}
	}
	mo.MountOptions = o.kernel.options()
	if o.ko != "" {
		mo.MountOptions = append(mo.MountOptions, strings.Split(o.ko, ",")...)
	}
	if o.forceOwner != "" {
		var u, g uint32
		if _, err := fmt.Sscanf(o.forceOwner, "%d:%d", &u, &g); err != nil {
			return usageErrorf("-force_owner %q: want UID:GID", o.forceOwner)
		}
		mo.ForceOwner = &fusefs.Owner{Uid: u, Gid: g}
	}
	if os.Geteuid() == 0 && mo.AllowOther {
		mo.PreserveOwner = true
	}
	stopProfiles, err := o.prof.start()
	if err != nil {
		return err
	}
	// Every create and mkdir the kernel sends carries the mode with the
	// caller's umask already applied; this process' own umask must not
	// take more bits away (a caller with umask 0 asking for 0770 gets
	// 0770, as gocryptfs gives it).
	syscall.Umask(0)
	srv, err := mountFS(mnt, mo)
	if err != nil {
		stopProfiles()
		return mark(errMount, err)
	}
	e.infof("Filesystem mounted and ready.\n")
	if o.notifypid > 0 {
		syscall.Kill(o.notifypid, syscall.SIGUSR1)
	}
	if o.readypid > 0 {
		// Background child: tell the parent, then leave the terminal.
		syscall.Kill(o.readypid, syscall.SIGUSR1)
		os.Chdir("/") // relative paths were resolved; keep no directory busy
		if !o.nosyslog {
			if w, err := syslog.New(syslog.LOG_INFO|syslog.LOG_USER, "sealfs"); err == nil {
				*logger = *slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: logLevel(o.debug)}))
			}
			// Let go of the caller's terminal or pipes, as a daemon does.
			if null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0); err == nil {
				for _, fd := range []int{0, 1, 2} {
					unix.Dup2(int(null.Fd()), fd)
				}
				null.Close()
			}
		}
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	interrupted := make(chan struct{})
	go func() {
		if _, ok := <-sig; ok {
			close(interrupted)
			if err := srv.Unmount(); err != nil {
				exec.Command("fusermount3", "-u", "-z", mnt).Run()
			}
		}
	}()
	srv.Wait()
	signal.Stop(sig)
	if err := stopProfiles(); err != nil {
		return fmt.Errorf("writing profiles: %w", err)
	}
	select {
	case <-interrupted:
		return errInterrupted
	default:
		return nil
	}
}

// useRing reports whether the mount asks for FUSE-over-io_uring: by
// default where the kernel offers it, so that a kernel without it mounts
// quietly over /dev/fuse; an explicit -iouring also where it does not, so
// that the mount logs why the ring is not used.
func (o *mountOptions) useRing() bool {
	if !o.iouring.v || o.noiouring {
		return false
	}
	return o.iouring.set || fusefs.IOURingOffered()
}

// serverProcs sizes the Go scheduler of the process that serves a mount:
// one core fewer than the machine has (at least one), unless GOMAXPROCS
// is set. Every FUSE request is a round trip with the client waiting and
// the kernel's FUSE work running on another core; Go Ps on every core
// make the runtime hand requests between threads (futex wake-ups) far
// more than it saves. On 2 cores, measured with bench/compare.sh's
// workload: untar, ls -lR and rm -rf 30-50% faster with one P, streaming
// reads about 20% slower (less parallel decryption).
//
// Over io_uring every CPU's queue has its own thread, which must not wait
// for another's P: one P per core.
func serverProcs(iouring bool) {
	if os.Getenv("GOMAXPROCS") != "" || iouring {
		return
	}
	runtime.GOMAXPROCS(max(1, runtime.NumCPU()-1))
}

// withoutFlag returns args without the option name and its value, in any
// of the forms parseArgs accepts (-name V, -name=V, --name V, --name=V),
// up to "--".
func withoutFlag(args []string, name string) []string {
	var out []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return append(out, args[i:]...)
		}
		if len(a) >= 2 && a[0] == '-' {
			n := strings.TrimLeft(a, "-")
			if n == name {
				i++ // and its value
				continue
			}
			if strings.HasPrefix(n, name+"=") {
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// readSecretFd reads the line the parent sent on descriptor fd (what
// names it, for the error message).
func readSecretFd(fd int, what string) ([]byte, error) {
	f := os.NewFile(uintptr(fd), "secretfd")
	defer f.Close()
	line, err := readLine(f, maxPasswordLen)
	if err != nil {
		return nil, mark(errPassword, fmt.Errorf("reading %s from the parent: %w", what, err))
	}
	return line, nil
}

func logLevel(debug bool) slog.Level {
	if debug {
		return slog.LevelDebug
	}
	return slog.LevelInfo
}

// daemonize reads the password here (where the terminal is), starts
// "sealfs mount -fg" in a new session with the password on a pipe, and
// returns when it reports the mount ready, or with its exit code.
func (e *env) daemonize(ctx context.Context, o *mountOptions, cipherDir string) error {
	// The secret goes to the child on a pipe, never in its arguments,
	// where every user could read it for as long as the mount lives.
	args := append([]string{}, e.argv...)
	var secret []byte
	defer func() { clear(secret) }()
	secretFlag := "-passfd"
	switch {
	case o.open.secret.masterkey != "":
		key, err := e.masterKey(ctx, &o.open.secret) // reads it here with -masterkey=stdin
		if err != nil {
			return err
		}
		b := key.Bytes()
		key.Destroy()
		secret = make([]byte, hex.EncodedLen(len(b)))
		hex.Encode(secret, b)
		clear(b)
		args, secretFlag = withoutFlag(args, "masterkey"), "-keyfd"
	case !o.open.secret.keyGiven():
		if err := o.open.secret.validate(); err != nil {
			return err
		}
		cfg, err := e.peekConfig(ctx, cipherDir, &o.open, o.configName())
		if err != nil {
			return err
		}
		if err := o.open.secret.forConfig(cfg); err != nil {
			return err
		}
		if secret, err = e.readPassword(ctx, &o.open.secret, false); err != nil {
			return err
		}
		if cfg.FIDO2 != nil {
			// The hmac-secret is binary: it goes as base64.
			enc := make([]byte, base64.StdEncoding.EncodedLen(len(secret)))
			base64.StdEncoding.Encode(enc, secret)
			clear(secret)
			secret, secretFlag = enc, "-fido2fd"
		}
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	ready := make(chan os.Signal, 1)
	signal.Notify(ready, syscall.SIGUSR1)
	defer signal.Stop(ready)
	args = append(args, "-fg", "-sealfs-ready-pid", strconv.Itoa(os.Getpid()))
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = e.stdout, e.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// What the child reads from its parent, each on a pipe of its own: the
	// secret, and a config that could be read only once (a pipe given as
	// -config, which the child could not read again).
	type handoff struct {
		w    *os.File
		data []byte
	}
	var handoffs []handoff
	giveChild := func(flag string, data []byte) error {
		r, w, err := os.Pipe()
		if err != nil {
			return err
		}
		cmd.ExtraFiles = append(cmd.ExtraFiles, r)
		cmd.Args = append(cmd.Args, flag, strconv.Itoa(2+len(cmd.ExtraFiles)))
		handoffs = append(handoffs, handoff{w, data})
		return nil
	}
	defer func() {
		for _, f := range cmd.ExtraFiles {
			f.Close()
		}
		for _, h := range handoffs {
			h.w.Close()
		}
	}()
	if secret != nil {
		line := make([]byte, len(secret)+1)
		copy(line, secret)
		line[len(secret)] = '\n'
		defer clear(line)
		if err := giveChild(secretFlag, line); err != nil {
			return err
		}
	}
	if data, ok := onceConfig(configPath(cipherDir, o.open.config, o.configName())); ok {
		if err := giveChild("-sealfs-config-fd", data); err != nil {
			return err
		}
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	// Written before waiting: the pipes hold what the child needs (a
	// config and a password line are far below the pipe's 64 KiB).
	for _, h := range handoffs {
		h.w.Write(h.data)
		h.w.Close()
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-ready:
		cmd.Process.Release()
		return nil
	case err := <-exited:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return exitCodeError(ee.ExitCode())
		}
		if err == nil {
			return errors.New("the background process ended before mounting")
		}
		return err
	}
}

// validFSType reports whether t can name a FUSE file system type
// (fuse.TYPE): the kernel takes the subtype up to a comma, and mount
// tools split on white space.
func validFSType(t string) bool {
	if t == "" || len(t) > 64 {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// remount switches the mount on mnt between read-only and read-write in
// place. The kernel carries it out (FUSE supports remounting); the
// mount's other flags (nosuid, nodev, noexec, atime) are kept, as
// mount(8) keeps them, since a remount replaces them all.
func remount(mnt string, ro bool) error {
	var st unix.Statfs_t
	if err := unix.Statfs(mnt, &st); err != nil {
		return mark(errTargetDir, fmt.Errorf("remount: %w", err))
	}
	const fuseMagic = 0x65735546 // FUSE_SUPER_MAGIC
	if st.Type != fuseMagic {
		return mark(errTargetDir, fmt.Errorf("remount: %s is not a FUSE mount", mnt))
	}
	const keep = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_SYNCHRONOUS | unix.MS_MANDLOCK
	flags := uintptr(st.Flags)&keep | unix.MS_REMOUNT
	if ro {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("", mnt, "", flags, ""); err != nil {
		return fmt.Errorf("remount %s: %w", mnt, err)
	}
	return nil
}
