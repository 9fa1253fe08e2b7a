// Package reverse presents a plaintext directory tree as the read-only,
// deterministic ciphertext view of gocryptfs' reverse mode (FORMAT.md
// §10): every name, file and symlink target encrypted with IVs derived
// from the ciphertext path, plus virtual gocryptfs.diriv, long-name .name
// and gocryptfs.conf files. A copy of the view is an ordinary vault that
// forward mode (sealfs.Open, sealfs mount, gocryptfs) decrypts with the
// same password or master key.
//
// The view is lazy: listing a directory encrypts the names of that
// directory only, looking up a path decrypts its elements (hashed long
// names are found by listing their plaintext directory once; the answers
// are cached per directory), and reading a file encrypts only the blocks
// read (large reads encrypt blocks in parallel).
//
// Differences from gocryptfs 2.3, all deliberate:
//
//   - Virtual files (gocryptfs.diriv, .name) have their mtime and ctime
//     10 seconds after those of their directory or target, as gocryptfs
//     2.5+ does (2.3 copied them unchanged). Contents are identical.
//   - Excluded objects are missing (fs.ErrNotExist), where gocryptfs
//     answers EPERM; the config file can never be excluded (as in 2.5+).
//   - With plaintext names, a real root file named gocryptfs.conf is left
//     out of the listing (gocryptfs lists it under an unusable
//     gocryptfs.conf_NAME_COLLISION_<random> name).
//   - The view does not forward SEEK_DATA/SEEK_HOLE to the plaintext: the
//     ciphertext of a reverse view has no holes, and answering with the
//     plaintext's holes (as gocryptfs does) makes sparse-aware copies
//     corrupt. Files implement io.ReaderAt and io.Seeker with
//     io.SeekStart, io.SeekCurrent and io.SeekEnd only; a caller that
//     must answer SEEK_DATA/SEEK_HOLE says "all data".
//   - .name files of hard-linked targets get inode numbers of their own
//     (as 2.5+), so that two different .name files never share one.
//
// Hard links: when a plaintext file has more than one link, the IVs of the
// first path through which it is opened in this FS are remembered by
// (device, inode) and used for every other path, so all links show the
// same ciphertext within one FS instance. Which path wins depends on the
// order of access (as in gocryptfs); a new FS instance may choose
// differently.
package reverse

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"syscall"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/internal/layout"
	"github.com/sealfs/sealfs/names"
	"github.com/sealfs/sealfs/vault"
)

// Options configure a view.
type Options struct {
	// Exclude hides plaintext paths (io/fs form, e.g. "dir/file") from
	// the view; lookups of them and of everything below them fail with
	// fs.ErrNotExist. It is called with paths of existing objects and of
	// looked-up names. The root and the config file are never excluded.
	Exclude func(plainPath string) bool
	// ConfigName is the plaintext file in the root shown as
	// gocryptfs.conf (content passed through, mode 0400) instead of
	// under its encrypted name: "" means vault.ReverseFile, "-" shows no
	// config (a config stored elsewhere, gocryptfs' -config).
	ConfigName string
	// OneFileSystem shows directories on another device than the root
	// (mount points) as empty, apart from their virtual gocryptfs.diriv.
	OneFileSystem bool
	// Logger receives diagnostics (names that cannot be shown); nil
	// means silent.
	Logger *slog.Logger
	// Xattrs reads the extended attributes of the plaintext tree (io/fs
	// has no API for them); nil shows none (gocryptfs -noxattr).
	Xattrs XattrSource
}

// ErrNotSIV is returned by New for a config whose content cipher is not
// AES-SIV (reverse mode needs deterministic encryption).
var ErrNotSIV = errors.New("reverse: the config does not use AES-SIV (create it with init -reverse)")

// ErrFileChanged is returned (wrapped in an *fs.PathError) by reads of a
// view file whose plaintext became shorter than it was when the file was
// opened. errors.Is(err, io.ErrUnexpectedEOF) is true as well.
var ErrFileChanged = fmt.Errorf("reverse: plaintext file shrank while being read: %w", io.ErrUnexpectedEOF)

// FS is the encrypted view. It implements fs.FS, fs.ReadDirFS,
// fs.StatFS and fs.ReadLinkFS (ReadLink and Lstat), and is safe for
// concurrent use.
//
// Paths are io/fs paths of the view ("." is the root). Open follows the
// view's symlinks inside the view (their targets are ciphertext, so this
// rarely leads anywhere); nothing ever follows a plaintext symlink in the
// middle of a path. Open files implement fs.File, io.ReaderAt and
// io.Seeker; directories implement fs.ReadDirFile.
//
// FileInfo.Sys() is a *syscall.Stat_t when the plaintext file system
// provides one (os.DirFS, os.Root.FS): a copy of the plaintext's with the
// view's size, mode and inode number (§10.7: real objects on the root's
// device keep their inode numbers, virtual files and objects on other
// devices get (namespace << 48) | inode, numbers that do not fit get
// 1<<63 | a sequence number), link count 1 and shifted times for virtual
// files, and Blocks = ceil(size/512) for regular and virtual files (the
// view has no holes). Otherwise Sys() is nil, and hard links cannot be
// recognised.
type FS struct {
	plain      fs.FS
	codec      *content.Codec
	nt         *names.Transform
	plainNames bool
	dirIV      bool
	exclude    func(string) bool
	configName string // "" = no config shown
	oneFS      bool
	log        *slog.Logger
	xattrs     XattrSource
	rootDev    uint64
	rootDevOK  bool
	workers    int

	links links
	longs longCache
	inos  inoMap
}

// New returns the view of plain for the reverse-mode config cfg, whose
// master key is key (the caller may destroy key afterwards). The config
// must use AES-SIV (ErrNotSIV otherwise).
//
// plain is normally os.DirFS(dir) or, better, the FS of an os.Root
// (which also keeps lookups inside dir). It should implement
// fs.ReadLinkFS for symlinks and return files implementing io.ReaderAt.
func New(plain fs.FS, cfg *vault.Config, key *vault.Key, opts *Options) (*FS, error) {
	if plain == nil || cfg == nil || key == nil {
		return nil, errors.New("reverse: New needs a file system, a config and a key")
	}
	if cfg.Suite() != content.AESSIV {
		return nil, ErrNotSIV
	}
	codec, nt, err := cfg.Ciphers(key, nil)
	if err != nil {
		return nil, err
	}
	f := &FS{plain: plain, codec: codec, nt: nt, plainNames: cfg.PlaintextNames(), dirIV: cfg.DirIV(),
		workers: min(runtime.GOMAXPROCS(0), 8)}
	var o Options
	if opts != nil {
		o = *opts
	}
	switch o.ConfigName {
	case "":
		f.configName = vault.ReverseFile
	case "-":
	default:
		if !fs.ValidPath(o.ConfigName) || strings.Contains(o.ConfigName, "/") || o.ConfigName == "." {
			return nil, fmt.Errorf("reverse: config name %q is not a file name: %w", o.ConfigName, fs.ErrInvalid)
		}
		f.configName = o.ConfigName
	}
	f.exclude, f.oneFS, f.log, f.xattrs = o.Exclude, o.OneFileSystem, o.Logger, o.Xattrs
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	fi, err := fs.Stat(plain, ".")
	if err != nil {
		return nil, fmt.Errorf("reverse: plaintext root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("reverse: plaintext root is not a directory: %w", syscall.ENOTDIR)
	}
	if st, ok := statOf(fi); ok {
		f.rootDev, f.rootDevOK = st.dev, true
	}
	f.inos.init(f.rootDev)
	return f, nil
}

// PathIV is the path-derived IV of FORMAT.md §10.3: the first 16 bytes of
// SHA-256(cpath || 0x00 || purpose), cpath being a ciphertext path ("" for
// the root) and purpose "DIRIV", "FILEID", "BLOCK0IV" or "SYMLINKIV".
func PathIV(cpath, purpose string) []byte {
	iv := pathIV(cpath, purpose)
	return iv[:]
}

func pathIV(cpath, purpose string) [16]byte {
	h := sha256.New()
	h.Write([]byte(cpath))
	h.Write([]byte{0})
	h.Write([]byte(purpose))
	var sum [sha256.Size]byte
	var iv [16]byte
	copy(iv[:], h.Sum(sum[:0]))
	return iv
}

// join joins a directory path ("" or "." for the root) and a name.
func join(dir, name string) string {
	if dir == "" || dir == "." {
		return name
	}
	return dir + "/" + name
}

// dirIVOf returns the IV for the names in ciphertext directory cdir ("" for
// the root): pathIV(cdir, "DIRIV"), or zeros for deterministic names.
func (f *FS) dirIVOf(cdir string) []byte {
	if !f.dirIV {
		return make([]byte, names.DirIVSize)
	}
	return PathIV(cdir, "DIRIV")
}

// cipherName returns the stored and the full ciphertext name of plaintext
// name in ciphertext directory cdir.
func (f *FS) cipherName(cdir, name string) (stored, full string, long bool, err error) {
	if f.plainNames {
		if err := names.CheckPlain(name); err != nil {
			return "", "", false, err
		}
		return name, name, false, nil
	}
	full, err = f.nt.EncryptName(name, f.dirIVOf(cdir))
	if err != nil {
		return "", "", false, err
	}
	stored, long = f.nt.Shorten(full)
	return stored, full, long, nil
}

// excluded reports whether the plaintext path is hidden.
func (f *FS) excluded(plainPath string) bool {
	return f.exclude != nil && plainPath != "." && !f.isConfig(plainPath) && f.exclude(plainPath)
}

// isConfig reports whether a plaintext path is the config file shown as
// gocryptfs.conf.
func (f *FS) isConfig(plainPath string) bool {
	return f.configName != "" && plainPath == f.configName
}

// otherDevice reports whether fi lives on another device than the root.
func (f *FS) otherDevice(fi fs.FileInfo) bool {
	st, ok := statOf(fi)
	return ok && f.rootDevOK && st.dev != f.rootDev
}

// EncryptPath returns the view path of a plaintext path ("." gives "").
// It is pure computation: the path need not exist, and exclusions are not
// consulted. Long elements come back hashed.
func (f *FS) EncryptPath(plain string) (string, error) {
	if !fs.ValidPath(plain) {
		return "", &fs.PathError{Op: "encryptpath", Path: plain, Err: fs.ErrInvalid}
	}
	if plain == "." {
		return "", nil
	}
	cdir := ""
	for e := range strings.SplitSeq(plain, "/") {
		stored, _, _, err := f.cipherName(cdir, e)
		if err != nil {
			return "", &fs.PathError{Op: "encryptpath", Path: plain, Err: err}
		}
		cdir = join(cdir, stored)
	}
	return cdir, nil
}

// DecryptPath returns the plaintext path of a view path ("." gives "").
// A path that names nothing in the view is decrypted anyway where that
// is possible, as gocryptfs does (see decryptPure). Elements that cannot
// be decrypted (not decryptable, hashed names without a plaintext object,
// excluded objects, virtual files) give an error matching
// fs.ErrNotExist. With plaintext names the input comes
// back unchanged, as gocryptfs gives it, unless it is excluded.
func (f *FS) DecryptPath(cipher string) (string, error) {
	if !fs.ValidPath(cipher) {
		return "", &fs.PathError{Op: "decryptpath", Path: cipher, Err: fs.ErrInvalid}
	}
	if cipher == "." {
		return "", nil
	}
	if f.plainNames {
		p := ""
		for e := range strings.SplitSeq(cipher, "/") {
			p = join(p, e)
			if f.excluded(p) {
				return "", &fs.PathError{Op: "decryptpath", Path: cipher, Err: fs.ErrNotExist}
			}
		}
		return cipher, nil
	}
	o, err := f.resolve("decryptpath", cipher)
	if err == nil && o.kind == kReal {
		if _, err = fs.Lstat(f.plain, o.plain); err == nil {
			return o.plain, nil
		}
		err = &fs.PathError{Op: "decryptpath", Path: cipher, Err: unwrap(err)}
	}
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		// Not in the view: decrypted by computation alone, as gocryptfs
		// decrypts such a path, where that is possible.
		if p, perr := f.decryptMissing(cipher); perr == nil {
			return p, nil
		}
		if err == nil {
			err = &fs.PathError{Op: "decryptpath", Path: cipher, Err: fs.ErrNotExist}
		}
	}
	return "", err
}

// decryptMissing decrypts a view path that names nothing in the view:
// the longest leading part that names a directory of the view resolves
// as usual (hashed long names included), the rest by computation
// (decryptPure).
func (f *FS) decryptMissing(cipher string) (string, error) {
	elems := strings.Split(cipher, "/")
	for i := len(elems) - 1; i > 0; i-- {
		o, err := f.resolve("decryptpath", strings.Join(elems[:i], "/"))
		if err != nil || o.kind != kReal {
			continue
		}
		if fi, err := fs.Lstat(f.plain, o.plain); err == nil && fi.IsDir() {
			plain := o.plain
			if plain == "." {
				plain = ""
			}
			return f.decryptPure(o.cpath, plain, strings.Join(elems[i:], "/"))
		}
	}
	return f.decryptPure("", "", cipher)
}

// decryptPure decrypts rest, a view path relative to the ciphertext
// directory cdir (whose plaintext path is p), that names nothing in the
// view: the
// directory IVs of a view depend only on the encrypted path (§10.3), so
// every element decrypts without the plaintext tree, but for a hashed
// long name, whose plaintext only a listing of its directory can tell, a
// virtual file (diriv, .name, config), and what decrypts to an excluded
// path.
// encryptedView classifies the names of a view with encrypted names: its
// directory IVs, .name files and config are virtual.
var encryptedView = layout.Format{DirIV: true}

// cdirOrRoot is a view directory path as layout wants it ("." for the
// root, which the view calls "").
func cdirOrRoot(cdir string) string {
	if cdir == "" {
		return "."
	}
	return cdir
}

func (f *FS) decryptPure(cdir, p, rest string) (string, error) {
	for e := range strings.SplitSeq(rest, "/") {
		if names.IsLongName(e) || encryptedView.Hidden(cdirOrRoot(cdir), e) {
			return "", fs.ErrNotExist
		}
		name, err := f.nt.DecryptName(e, f.dirIVOf(cdir))
		if err != nil {
			return "", err
		}
		cdir, p = join(cdir, e), join(p, name)
		if f.excluded(p) || p == vault.ReverseFile || f.isConfig(p) {
			return "", fs.ErrNotExist // hidden (the config shows as gocryptfs.conf)
		}
	}
	return p, nil
}

// unwrap strips the *fs.PathError of the plaintext file system, whose
// path is a plaintext path that must not leak into the view's errors.
func unwrap(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// links remembers the IV path of hard-linked files (§10.4).
type links struct {
	mu sync.Mutex
	m  map[[2]uint64]string // (dev, ino) -> ciphertext path that fixes the IVs
}

// ivPath returns the ciphertext path whose IVs a file uses: its own, or
// for a file with several links the first path through which the inode
// was opened in this FS.
func (l *links) ivPath(cpath string, fi fs.FileInfo) string {
	st, ok := statOf(fi)
	if !ok || st.nlink < 2 || fi.IsDir() {
		return cpath
	}
	key := [2]uint64{st.dev, st.ino}
	l.mu.Lock()
	defer l.mu.Unlock()
	if p, ok := l.m[key]; ok {
		return p
	}
	if l.m == nil {
		l.m = map[[2]uint64]string{}
	}
	l.m[key] = cpath
	return cpath
}

var (
	_ fs.ReadDirFS  = (*FS)(nil)
	_ fs.StatFS     = (*FS)(nil)
	_ fs.ReadLinkFS = (*FS)(nil)

	_ io.ReaderAt    = (*file)(nil)
	_ io.Seeker      = (*file)(nil)
	_ io.ReaderAt    = (*memFile)(nil)
	_ io.Seeker      = (*memFile)(nil)
	_ io.ReaderAt    = (*passFile)(nil)
	_ io.Seeker      = (*passFile)(nil)
	_ fs.ReadDirFile = (*dir)(nil)
)
