package sealfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/sealfs/sealfs/names"
	"github.com/sealfs/sealfs/vault"
)

// maxConfigSize bounds what ReadConfig reads: a config is about 1 KiB,
// more is not a config.
const maxConfigSize = 1 << 20

// ReadConfig reads and parses the config file (gocryptfs.conf) in the
// root of store s. A missing file gives an error that is errors.Is(err,
// fs.ErrNotExist), a damaged one errors.Is(err, vault.ErrInvalidConfig).
func ReadConfig(s Store) (*vault.Config, error) {
	f, err := s.OpenFile(names.ConfigFile, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(io.NewSectionReader(f, 0, maxConfigSize+1), maxConfigSize+1))
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: names.ConfigFile, Err: err}
	}
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("%s: %w: larger than %d bytes", names.ConfigFile, vault.ErrInvalidConfig, maxConfigSize)
	}
	cfg, err := vault.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", names.ConfigFile, err)
	}
	return cfg, nil
}

// WriteConfig writes cfg as the config file (gocryptfs.conf) in the root
// of store s, atomically as gocryptfs does: to gocryptfs.conf.tmp,
// created exclusively with mode 0400 and synced, then renamed over the
// config. A leftover gocryptfs.conf.tmp makes it fail (fs.ErrExist)
// without touching the config. Only a valid config with a wrapped key is
// written.
func WriteConfig(s Store, cfg *vault.Config) error {
	data, err := cfg.Encode()
	if err != nil {
		return err
	}
	tmp := names.ConfigFile + ".tmp"
	f, err := s.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o400)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(data, 0)
	if err == nil {
		// Some file systems cannot fsync; the rename still orders the
		// write on most, and nothing better is possible there.
		_ = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = s.Rename(tmp, names.ConfigFile)
	}
	if err != nil {
		s.Remove(tmp)
		return err
	}
	if d, err := s.OpenFile(".", os.O_RDONLY, 0); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// OpenStore unlocks the vault held by store s with password (or with
// opts.MasterKey). The config is opts.Config if set, else the file at
// opts.ConfigPath if set, else gocryptfs.conf in the root of s. Errors are
// those of Open. The FS does not close s.
func OpenStore(s Store, password []byte, opts *Options) (*FS, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	cfg := o.Config
	if cfg == nil {
		var err error
		if o.ConfigPath != "" {
			cfg, err = vault.Load(o.ConfigPath)
		} else {
			cfg, err = ReadConfig(s)
		}
		if o.MasterKey != nil && errors.Is(err, fs.ErrNotExist) {
			cfg, err = vault.FormatOnly(o.Format)
		}
		if err != nil {
			return nil, err
		}
	}
	key := o.MasterKey
	if key == nil {
		var err error
		if key, err = cfg.Unlock(password); err != nil {
			return nil, err
		}
		defer key.Destroy()
	}
	return New(s, cfg, key, &o)
}

// CreateStore makes a new vault in store s, which must be empty, and
// returns it opened: it writes the config (to opts.ConfigPath if set, else
// as gocryptfs.conf in the root of s, with mode 0400) and the root
// directory IV when the format uses one. The FS does not close s.
func CreateStore(s Store, password []byte, opts *CreateOptions) (*FS, error) {
	if opts == nil {
		opts = &CreateOptions{}
	}
	if err := checkEmptyStore(s); err != nil {
		return nil, err
	}
	key := opts.MasterKey
	if key == nil {
		k, err := vault.GenerateKey()
		if err != nil {
			return nil, err
		}
		defer k.Destroy()
		key = k
	}
	cfg, err := vault.New(key, password, &opts.Options)
	if err != nil {
		return nil, err
	}
	if opts.ConfigPath != "" {
		err = cfg.WriteFile(opts.ConfigPath)
	} else {
		err = WriteConfig(s, cfg)
	}
	if err != nil {
		return nil, err
	}
	return Init(s, cfg, key, &Options{ConfigPath: opts.ConfigPath, Config: cfg})
}

// checkEmptyStore fails with ErrNotEmpty unless the root of s is empty.
func checkEmptyStore(s Store) error {
	d, err := s.OpenFile(".", os.O_RDONLY, 0)
	if err != nil {
		return err
	}
	defer d.Close()
	des, err := d.ReadDir(1)
	if len(des) > 0 {
		return &fs.PathError{Op: "create", Path: ".", Err: ErrNotEmpty}
	}
	if err != nil && err != io.EOF {
		return err
	}
	return nil
}
