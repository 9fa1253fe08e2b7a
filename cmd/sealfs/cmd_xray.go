package main

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"

	"github.com/sealfs/sealfs/content"
	"github.com/sealfs/sealfs/vault"
)

type xrayOptions struct {
	open          openFlags
	dumpMasterKey bool
	decrypt       bool
}

var cmdXray = &command{
	name:    "xray",
	args:    "FILE",
	summary: "show the structure of a ciphertext file (like gocryptfs-xray)",
	help: `
Prints the header (file ID) of the ciphertext file FILE and, for every
block, its nonce, tag, offset and length, in the format of gocryptfs-xray.
No key is needed. The content cipher, which decides the layout, comes from
-aessiv or -xchacha if given, else from the config (-config FILE, or the
gocryptfs.conf of the nearest directory above FILE that has one), else
AES-GCM-256 is assumed, as gocryptfs-xray does. Hole blocks show all-zero
nonces and tags.

-dumpmasterkey: FILE is a config file; unlock it with the password (or
-passfile/-extpass) and print the master key as 64 hex digits.

-decrypt: decrypt FILE to stdout; the key comes from the config found as
above, unlocked with the password, or from -masterkey.

A file that cannot be read, a directory, a header shorter than 18 bytes or
a truncated block give exit code 11 (gocryptfs-xray uses 1); a wrong
password gives 12.`,
	flags: func(fs *flag.FlagSet) any {
		o := &xrayOptions{}
		o.open.register(fs)
		fs.BoolVar(&o.dumpMasterKey, "dumpmasterkey", false, "FILE is a config: print its master key")
		fs.BoolVar(&o.decrypt, "decrypt", false, "decrypt FILE to stdout")
		return o
	},
	run: runXray,
}

// findConfig returns the config that governs ciphertext file p: the
// -config file, or gocryptfs.conf in the nearest directory above p.
func findConfig(p, custom string) string {
	if custom != "" {
		return custom
	}
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		c := filepath.Join(d, vault.DefaultFile)
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() {
			return c
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// openRegular opens a file that must be a regular file.
func openRegular(p string) (*os.File, os.FileInfo, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, nil, &os.PathError{Op: "read", Path: p, Err: syscall.EISDIR}
	}
	return f, fi, nil
}

func runXray(ctx context.Context, e *env, opts any, args []string) error {
	o := opts.(*xrayOptions)
	e.infow = e.stderr
	e.quiet = e.quiet || o.open.quiet
	if err := exactArgs(args, "FILE"); err != nil {
		return err
	}
	if o.dumpMasterKey && o.decrypt {
		return usageErrorf("-dumpmasterkey and -decrypt cannot be used together")
	}
	if o.open.format.aessiv && o.open.format.xchacha {
		return usageErrorf("-aessiv and -xchacha cannot be used together")
	}
	if err := o.open.secret.validate(); err != nil {
		return err
	}
	p := args[0]
	if o.dumpMasterKey {
		return xrayDumpKey(ctx, e, o, p)
	}
	f, fi, err := openRegular(p)
	if err != nil {
		return err
	}
	defer f.Close()
	cfgPath := findConfig(p, o.open.config)
	suite := o.open.format.suite()
	explicit := o.open.format.aessiv || o.open.format.xchacha
	var cfg *vault.Config
	if cfgPath != "" {
		c, err := loadConfig(cfgPath)
		if err != nil && (o.open.config != "" || o.decrypt) {
			return err
		}
		cfg = c
		switch {
		case c == nil:
		case !explicit:
			suite = c.Suite()
		case c.Suite() != suite:
			e.warnf("the option overrides the content cipher of %s (%s): assuming %s\n", cfgPath, c.Suite(), suite)
		}
	}
	if o.decrypt {
		return xrayDecrypt(ctx, e, o, f, cfg)
	}
	return xrayDump(e, f, fi.Size(), suite)
}

// xrayDump prints the header and block table of a ciphertext file
// (FORMAT.md §15).
func xrayDump(e *env, f *os.File, size int64, suite content.Suite) error {
	if size == 0 {
		fmt.Fprintln(e.stdout, "empty file")
		return nil
	}
	hb := make([]byte, content.HeaderSize)
	n, err := f.ReadAt(hb, 0)
	if n < content.HeaderSize {
		if err == nil || errors.Is(err, io.EOF) {
			err = fmt.Errorf("incomplete file header: read %d bytes, want %d", n, content.HeaderSize)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "Header: Version: %d, Id: %x, assuming %s mode\n", binary.BigEndian.Uint16(hb), hb[2:], suite)
	nonceLen, tagLen := suite.NonceSize(), 16
	cbs := int64(content.PlainBlockSize + nonceLen + tagLen)
	buf := make([]byte, cbs)
	for blk, off := int64(0), int64(content.HeaderSize); off < size; blk, off = blk+1, off+cbs {
		n, err := f.ReadAt(buf, off)
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		b := buf[:n]
		if n <= nonceLen+tagLen {
			return fmt.Errorf("corrupt block %d: truncated data, len=%d", blk, n)
		}
		var tag []byte
		if suite == content.AESSIV {
			tag = b[nonceLen : nonceLen+tagLen] // the synthetic IV follows the nonce
		} else {
			tag = b[n-tagLen:]
		}
		fmt.Fprintf(e.stdout, "Block %2d: IV: %x, Tag: %x, Offset: %5d Len: %d\n", blk, b[:nonceLen], tag, off, n)
	}
	return nil
}

// xrayDumpKey unlocks a config file and prints the master key.
func xrayDumpKey(ctx context.Context, e *env, o *xrayOptions, p string) error {
	f, _, err := openRegular(p)
	if err != nil {
		return mark(errLoadConf, err)
	}
	f.Close()
	cfg, err := vault.Load(p)
	if err != nil {
		return mark(errLoadConf, fmt.Errorf("loading config file failed: %w", err))
	}
	key, err := e.unlockConfig(ctx, cfg, &o.open.secret)
	if err != nil {
		return err
	}
	defer key.Destroy()
	fmt.Fprintln(e.stdout, key.Hex())
	return nil
}

// xrayDecrypt writes the plaintext of one ciphertext file to stdout.
func xrayDecrypt(ctx context.Context, e *env, o *xrayOptions, f *os.File, cfg *vault.Config) error {
	key, err := e.masterKey(ctx, &o.open.secret)
	if err != nil {
		return err
	}
	if key == nil {
		if cfg == nil {
			return mark(errOpenConf, errors.New("no config file found for the file: give -config or -masterkey"))
		}
		if key, err = e.unlockConfig(ctx, cfg, &o.open.secret); err != nil {
			return err
		}
	}
	defer key.Destroy()
	if cfg == nil {
		if cfg, err = vault.FormatOnly(o.open.format.options()); err != nil {
			return err
		}
	}
	codec, _, err := cfg.Ciphers(key, nil)
	if err != nil {
		return err
	}
	cf := codec.NewFile(f)
	size, err := cf.Size()
	if err != nil {
		return err
	}
	_, err = io.Copy(e.stdout, ctxReader{ctx, io.NewSectionReader(cf, 0, size)})
	return err
}
