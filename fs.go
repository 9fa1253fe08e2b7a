package sealfs

import (
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/internal/layout"
	"github.com/sealfs/sealfs/names"
	"github.com/sealfs/sealfs/store/dirstore"
	"github.com/sealfs/sealfs/vault"
)

// CreateOptions configures a new vault. The embedded vault.Options choose
// the format (content cipher, name mode, long-name threshold, scrypt cost).
type CreateOptions struct {
	vault.Options
	// ConfigPath is where the config file goes; "" means
	// DIR/gocryptfs.conf.
	ConfigPath string
	// MasterKey is the key to use; nil generates a random one. The caller
	// keeps ownership: Create copies it.
	MasterKey *vault.Key
}

// Options configures an opened vault. The zero value (or nil) opens the
// vault read-write with the password.
type Options struct {
	// ReadOnly refuses every change with ErrReadOnly.
	ReadOnly bool
	// CloseStore makes Close close the store too, when it has a Close
	// method (Open and Create always close the store they made).
	CloseStore bool
	// ConfigPath is the config file; "" means DIR/gocryptfs.conf.
	ConfigPath string
	// Config is the vault's config when the caller has loaded it already
	// (for example from a pipe, which reads only once); ConfigPath is
	// then not read.
	Config *vault.Config
	// MasterKey unlocks the vault with the master key instead of the
	// password. The format is taken from the config file when it exists;
	// otherwise from Format.
	MasterKey *vault.Key
	// Format gives the format flags when MasterKey is set and there is no
	// config file (nil means the gocryptfs 2.x defaults).
	Format *vault.Options
	// NoPrealloc skips reserving ciphertext space before writes.
	NoPrealloc bool
	// NoLongNames disables long-name hashing (only for recovering very old
	// vaults).
	NoLongNames bool
	// BadNames are shell patterns (path.Match) on ciphertext names, as
	// gocryptfs' -badname: an entry whose name cannot be decrypted and
	// matches one is listed instead of left out, as the plaintext of its
	// longest decryptable prefix plus the rest of the ciphertext name (or
	// the ciphertext name alone), followed by BadNameSuffix. Under that name
	// it can be read, renamed (to recover it) and removed.
	BadNames []string
	// NoAtime keeps reads from moving the access times of the ciphertext,
	// which the vault reports as its objects' (noatime); NoDirAtime does
	// it for directories only (nodiratime). Stores that are not local
	// directories ignore them.
	NoAtime, NoDirAtime bool
	// SharedStorage disables caches that would go stale when another
	// instance changes the same vault concurrently.
	SharedStorage bool
	// Logger receives diagnostics; nil means silent.
	Logger *slog.Logger
	// OnCorrupt, when set, is called for every corruption the FS finds:
	// both what it works around (an undecryptable name left out of a
	// listing) and what it returns as an error (a block that fails
	// authentication, reported once per failing call). path is the
	// plaintext path of the directory or object.
	OnCorrupt func(path string, err error)
}

// FS is an unlocked vault. Its methods are safe for concurrent use.
//
// Paths are io/fs paths: slash-separated, relative to the vault root, "."
// for the root itself, no "." or ".." elements and no leading slash.
type FS struct {
	store      Store
	cfg        *vault.Config
	codec      *content.Codec
	nt         *names.Transform
	plainNames bool
	dirIV      bool
	layout     layout.Format
	opts       Options
	log        *slog.Logger
	dirs       dirCache
	names      nameCache
	nodes      nodeTable
	closed     atomic.Bool
	closeStore bool
}

// Create makes a new vault in dir, which must be an existing empty
// directory, and returns it opened. The config file is written with mode
// 0400; the root directory IV is created when the format uses one.
func Create(dir string, password []byte, opts *CreateOptions) (*FS, error) {
	if err := checkEmptyDir(dir); err != nil {
		return nil, err
	}
	ds, err := dirstore.New(dir, nil)
	if err != nil {
		return nil, err
	}
	f, err := CreateStore(ds, password, opts)
	if err != nil {
		ds.Close()
		return nil, err
	}
	f.closeStore = true
	return f, nil
}

// Init makes the empty store s a vault of format cfg and returns it
// opened: it writes the root directory IV when the format uses one. The
// config itself is not stored in s; the caller keeps it (Create writes it
// to the config file).
func Init(s Store, cfg *vault.Config, key *vault.Key, opts *Options) (*FS, error) {
	f, err := New(s, cfg, key, opts)
	if err != nil {
		return nil, err
	}
	if f.dirIV {
		if err := f.writeDirIV("."); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func checkEmptyDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	fi, err := d.Stat()
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return &fs.PathError{Op: "create", Path: dir, Err: syscall.ENOTDIR}
	}
	names, err := d.Readdirnames(1)
	if len(names) > 0 {
		return &fs.PathError{Op: "create", Path: dir, Err: ErrNotEmpty}
	}
	if err != nil && err != io.EOF {
		return err
	}
	return nil
}

// Open unlocks the vault in dir with password (or with opts.MasterKey).
// A wrong password gives an error that is errors.Is(err,
// vault.ErrWrongPassword); a missing config file one that is
// errors.Is(err, fs.ErrNotExist).
func Open(dir string, password []byte, opts *Options) (*FS, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &fs.PathError{Op: "open", Path: dir, Err: syscall.ENOTDIR}
	}
	if o.ConfigPath == "" && o.Config == nil {
		// Read here, not through the store, so that errors name the
		// file as the user knows it.
		o.ConfigPath = filepath.Join(dir, vault.DefaultFile)
	}
	ds, err := dirstore.New(dir, &dirstore.Options{NoAtime: o.NoAtime, NoDirAtime: o.NoDirAtime, NoCache: o.SharedStorage})
	if err != nil {
		return nil, err
	}
	f, err := OpenStore(ds, password, &o)
	if err != nil {
		ds.Close()
		return nil, err
	}
	f.closeStore = true
	return f, nil
}

// New opens the vault held by store, with an already parsed config and the
// master key. The key is not retained: New derives the subkeys it needs,
// and the caller may Destroy the key afterwards.
func New(s Store, cfg *vault.Config, key *vault.Key, opts *Options) (*FS, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	if s == nil || cfg == nil || key == nil {
		return nil, errors.New("sealfs: New needs a store, a config and a key")
	}
	codec, nt, err := cfg.Ciphers(key, &names.Options{NoLongNames: o.NoLongNames})
	if err != nil {
		return nil, err
	}
	store := s
	f := &FS{
		store:      store,
		cfg:        cfg,
		codec:      codec,
		nt:         nt,
		plainNames: cfg.PlaintextNames(),
		dirIV:      cfg.DirIV(),
		layout:     layout.Format{PlainNames: cfg.PlaintextNames(), DirIV: cfg.DirIV()},
		opts:       o,
		log:        o.Logger,
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	f.closeStore = o.CloseStore
	f.dirs.init(f.dirIV && !o.SharedStorage)
	// Handles of one inode share a node (its lock and content engine)
	// also with SharedStorage: a read must never see another handle's
	// block half written. Only the size is then never cached
	// (contentFile).
	f.nodes.init(true)
	return f, nil
}

// Config returns the vault's configuration. It must not be modified.
func (f *FS) Config() *vault.Config { return f.cfg }

// Store returns the ciphertext store the FS works on.
func (f *FS) Store() Store { return f.store }

// Codec returns the content codec (for tools that inspect ciphertext).
func (f *FS) Codec() *content.Codec { return f.codec }

// ReadOnly reports whether the FS refuses changes.
func (f *FS) ReadOnly() bool { return f.opts.ReadOnly }

// Close releases the FS. Open files stay usable until they are closed;
// new operations fail with fs.ErrClosed.
func (f *FS) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	if f.closeStore {
		if c, ok := f.store.(io.Closer); ok {
			return c.Close()
		}
	}
	return nil
}

func (f *FS) reportCorrupt(p string, err error) {
	f.log.Warn("corrupt ciphertext", "path", p, "err", err)
	if f.opts.OnCorrupt != nil {
		f.opts.OnCorrupt(p, err)
	}
}

// checkPath validates an io/fs path for operation op.
func (f *FS) checkPath(op, name string) error {
	if f.closed.Load() {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrClosed}
	}
	if !fs.ValidPath(name) {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrInvalid}
	}
	return nil
}

// checkWrite is checkPath for operations that change the vault.
func (f *FS) checkWrite(op, name string) error {
	if err := f.checkPath(op, name); err != nil {
		return err
	}
	if f.opts.ReadOnly {
		return &fs.PathError{Op: op, Path: name, Err: ErrReadOnly}
	}
	return nil
}

func isErrno(err error, errnos ...syscall.Errno) bool {
	for _, e := range errnos {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
