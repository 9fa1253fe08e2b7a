package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/store/s3store"
	"github.com/sealfs/sealfs/vault"
)

// formatFlags choose the on-disk format: at init, and when a vault is
// opened with -masterkey and has no config file (FORMAT.md §14.3).
type formatFlags struct {
	plaintextNames     bool
	aessiv             bool
	xchacha            bool
	deterministicNames bool
	longNameMax        int
	raw64              bool
	hkdf               bool
	longNames          bool
}

// register adds the format options. At init, -raw64, -hkdf and -longnames are
// accepted and ignored, as by gocryptfs 2.x.
func (f *formatFlags) register(fs *flag.FlagSet, atInit bool) {
	compat := "(only used with -masterkey when there is no config file)"
	if atInit {
		compat = "(accepted and ignored at init, as by gocryptfs 2.x)"
	}
	fs.BoolVar(&f.plaintextNames, "plaintextnames", false, "do not encrypt file names and symlink targets")
	fs.BoolVar(&f.aessiv, "aessiv", false, "encrypt contents with AES-SIV-512 instead of AES-GCM-256")
	fs.BoolVar(&f.xchacha, "xchacha", false, "encrypt contents with XChaCha20-Poly1305 instead of AES-GCM-256")
	fs.BoolVar(&f.deterministicNames, "deterministic-names", false, "no per-directory IVs: a name encrypts the same in every directory")
	fs.IntVar(&f.longNameMax, "longnamemax", 255, "hash encrypted names longer than `N` bytes (62..255)")
	fs.BoolVar(&f.raw64, "raw64", true, "unpadded base64 for encrypted names "+compat)
	fs.BoolVar(&f.hkdf, "hkdf", true, "derive subkeys with HKDF "+compat)
	longNames := "(=false: refuse such names and hide hashed entries, for recovering vaults older than gocryptfs 0.9)"
	if atInit {
		longNames = compat
	}
	fs.BoolVar(&f.longNames, "longnames", true, "hash encrypted names that are too long into gocryptfs.longname.* files "+longNames)
}

// check validates the option values (exit code 1 for -longnamemax, as in
// gocryptfs).
func (f *formatFlags) check() error {
	if f.longNameMax < 62 || f.longNameMax > 255 {
		return usageErrorf("-longnamemax: %d is out of range 62..255", f.longNameMax)
	}
	return nil
}

// suite returns the content cipher.
func (f *formatFlags) suite() content.Suite {
	switch {
	case f.xchacha:
		return content.XChaCha20Poly1305
	case f.aessiv:
		return content.AESSIV
	}
	return content.AESGCM
}

// options returns the vault format the flags describe.
func (f *formatFlags) options() *vault.Options {
	o := &vault.Options{
		Suite:              f.suite(),
		PlaintextNames:     f.plaintextNames,
		DeterministicNames: f.deterministicNames,
		NoHKDF:             !f.hkdf,
		NoRaw64:            !f.raw64,
	}
	if f.longNameMax != 255 {
		o.LongNameMax = f.longNameMax
	}
	return o
}

// openFlags are the options of the commands that unlock a vault.
type openFlags struct {
	secret secretFlags
	format formatFlags
	config string
	quiet  bool
	s3     s3Flags
	// Library options set by the command, not by flags of their own here.
	noPrealloc, sharedStorage bool
	noAtime, noDirAtime       bool
	badNames                  []string
	logger                    *slog.Logger
	// Set by openVault: the store of a vault in a bucket (for -stats).
	bucket *s3store.Store
}

func (o *openFlags) register(fs *flag.FlagSet) {
	o.secret.register(fs, masterKeyUnlockUsage)
	o.format.register(fs, false)
	fs.StringVar(&o.config, "config", "", "use the config `FILE` instead of CIPHERDIR/gocryptfs.conf")
	fs.BoolVar(&o.quiet, "q", false, "quiet: no informational messages or progress line")
	fs.BoolVar(&o.quiet, "quiet", false, "same as -q")
	o.s3.register(fs)
}

// checkCipherDir checks that dir is an existing directory (exit code 6).
// An s3:// location is checked when it is opened (see locate).
func checkCipherDir(dir string) error {
	if isS3(dir) {
		_, _, err := parseS3(dir)
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return mark(errCipherDir, fmt.Errorf("invalid cipherdir: %w", err))
	}
	if !fi.IsDir() {
		return mark(errCipherDir, fmt.Errorf("invalid cipherdir: %s: %w", dir, syscall.ENOTDIR))
	}
	return nil
}

// configPath returns the config file of a vault.
func configPath(dir, custom, defaultName string) string {
	if custom != "" {
		return custom
	}
	return filepath.Join(dir, defaultName)
}

// loadConfig loads a config file. A missing or unreadable file is marked
// errOpenConf (exit code 23); a file that fails validation keeps the vault
// sentinel (exit code 27).
func loadConfig(path string) (*vault.Config, error) {
	data, err := readConfigFile(path)
	var cfg *vault.Config
	if err == nil {
		cfg, err = vault.Parse(data)
		if err != nil {
			err = fmt.Errorf("%s: %w", path, err)
		}
	}
	if err != nil {
		return nil, mark(errOpenConf, fmt.Errorf("loading config file: %w", err))
	}
	return cfg, nil
}

// onceConfigs holds the bytes of config files that can be read only once,
// by path: -config <(cat gocryptfs.conf) names a pipe, which the command
// reads once and then serves from memory (and a mount hands to its
// background process, see daemonize).
var onceConfigs = struct {
	sync.Mutex
	m map[string][]byte
}{m: map[string][]byte{}}

// readConfigFile reads a config file, a pipe's only once.
func readConfigFile(path string) ([]byte, error) {
	onceConfigs.Lock()
	defer onceConfigs.Unlock()
	if data, ok := onceConfigs.m[path]; ok {
		return data, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		onceConfigs.m[path] = data
	}
	return data, nil
}

// rememberConfig makes data the content of the config file path for the
// rest of the process (the background process of a mount gets the bytes
// its parent read).
func rememberConfig(path string, data []byte) {
	onceConfigs.Lock()
	onceConfigs.m[path] = data
	onceConfigs.Unlock()
}

// onceConfig returns the bytes of path if they were read once already.
func onceConfig(path string) ([]byte, bool) {
	onceConfigs.Lock()
	defer onceConfigs.Unlock()
	data, ok := onceConfigs.m[path]
	return data, ok
}

// openVault unlocks the vault in dir with the password or master key the
// options name. onCorrupt, if not nil, hears about corrupt entries the FS
// skips.
func (e *env) openVault(ctx context.Context, dir string, o *openFlags, readOnly bool, onCorrupt func(string, error)) (*sealfs.FS, error) {
	e.quiet = e.quiet || o.quiet
	if err := o.secret.validate(); err != nil {
		return nil, err
	}
	if err := o.format.check(); err != nil {
		return nil, err
	}
	if o.format.aessiv && o.format.xchacha {
		return nil, usageErrorf("-aessiv and -xchacha cannot be used together")
	}
	if o.sharedStorage {
		o.s3.metaTTL = -1 // other clients' changes show at once
	}
	loc, err := e.locate(ctx, dir, &o.s3, o.logger)
	if err != nil {
		return nil, err
	}
	f, err := e.openAt(ctx, loc, o, readOnly, onCorrupt)
	if err != nil {
		loc.close()
	}
	o.bucket = loc.s3
	return f, err
}

// openAt unlocks the vault at loc.
func (e *env) openAt(ctx context.Context, loc *location, o *openFlags, readOnly bool, onCorrupt func(string, error)) (*sealfs.FS, error) {
	opts := &sealfs.Options{
		ReadOnly:   readOnly,
		ConfigPath: loc.configPath(o.config, vault.DefaultFile),
		OnCorrupt:  onCorrupt,
		// Set by mount (-noprealloc, -sharedstorage).
		NoPrealloc:    o.noPrealloc,
		SharedStorage: o.sharedStorage,
		NoAtime:       o.noAtime,
		NoDirAtime:    o.noDirAtime,
		Logger:        o.logger,
		NoLongNames:   !o.format.longNames,
		BadNames:      o.badNames,
	}
	key, err := e.masterKey(ctx, &o.secret)
	if err != nil {
		return nil, err
	}
	if key != nil {
		defer key.Destroy()
		opts.MasterKey = key
		opts.Format = o.format.options()
		if data, ok := onceConfig(opts.ConfigPath); ok && opts.ConfigPath != "" {
			if opts.Config, err = vault.Parse(data); err != nil {
				return nil, mark(errOpenConf, err)
			}
		}
		f, err := loc.open(nil, opts)
		if err != nil {
			return nil, openError(err)
		}
		return f, nil
	}
	// Load the config first so that a missing one is reported before the
	// password is asked for.
	cfg, err := loc.loadConfig(o.config, vault.DefaultFile)
	if err != nil {
		return nil, err
	}
	if err := o.secret.forConfig(cfg); err != nil {
		return nil, err
	}
	pw, err := e.readPassword(ctx, &o.secret, false)
	if err != nil {
		return nil, err
	}
	defer clear(pw)
	opts.Config = cfg // read once: -config may be a pipe
	f, err := loc.open(pw, opts)
	if err != nil {
		return nil, openError(err)
	}
	if err := ctx.Err(); err != nil {
		// Interrupted during the key derivation.
		f.Close()
		return nil, err
	}
	return f, nil
}

// openError marks config trouble found by sealfs.Open.
func openError(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
		return mark(errOpenConf, err)
	}
	return err
}
