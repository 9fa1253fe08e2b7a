package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/sealfs/sealfs"
	"github.com/sealfs/sealfs/vault"
)

// maxScryptLogN is the largest -scryptn accepted (gocryptfs documents
// 10..28; more runs out of memory).
const maxScryptLogN = 28

type initOptions struct {
	format    formatFlags
	secret    secretFlags
	scryptN   int
	config    string
	quiet     bool
	reverse   bool
	devrandom bool
	s3        s3Flags
	// fido2Assert are -fido2-assert-option values: "-t X" for fido2-assert,
	// stored in the config (gocryptfs 2.5+).
	fido2Assert stringList
}

var cmdInit = &command{
	name:    "init",
	args:    "CIPHERDIR",
	summary: "create a new vault in an empty directory",
	help: `
Creates gocryptfs.conf and the root gocryptfs.diriv in CIPHERDIR, which
must exist and be empty (exit code 6). The new password is read like any
password (-passfile, -extpass, a line on stdin, or twice on the terminal).
A random master key is generated unless -masterkey gives one. When stdout is
a terminal and -q is not given, the generated master key is printed once:
keep it somewhere safe, it is the only way back into the vault if the
config file is lost or the password forgotten.

With -reverse, PLAINDIR/.gocryptfs.reverse.conf is written instead, for
presenting PLAINDIR as an encrypted view; PLAINDIR need not be empty, the
config must not exist yet (exit code 7), and the content cipher is always
AES-SIV.

-raw64=false, -hkdf=false and -devrandom are accepted and ignored, as by
gocryptfs 2.x. -xchacha together with -aessiv or -reverse, and -scryptn
outside 10..28, fail with exit code 24; -longnamemax outside 62..255 with 1.`,
	flags: func(fs *flag.FlagSet) any {
		o := &initOptions{}
		o.format.register(fs, true)
		o.secret.register(fs, masterKeyInitUsage)
		fs.Var(&o.fido2Assert, "fido2-assert-option", "with -fido2, pass \"-t `OPTION`\" to fido2-assert whenever the vault is unlocked (repeatable; stored in the config)")
		fs.IntVar(&o.scryptN, "scryptn", vault.DefaultScryptLogN, "scrypt cost: N = 2^`LOGN` (10..28); lower is faster to unlock and weaker")
		fs.StringVar(&o.config, "config", "", "write the config to `FILE` instead of CIPHERDIR/gocryptfs.conf")
		fs.BoolVar(&o.quiet, "q", false, "quiet: no informational messages (and no master key display)")
		fs.BoolVar(&o.quiet, "quiet", false, "same as -q")
		fs.BoolVar(&o.reverse, "reverse", false, "create .gocryptfs.reverse.conf in a plaintext directory for reverse mode (implies -aessiv)")
		fs.BoolVar(&o.devrandom, "devrandom", false, "obsolete, ignored")
		o.s3.register(fs)
		return o
	},
	run: runInit,
}

func runInit(ctx context.Context, e *env, opts any, args []string) error {
	o := opts.(*initOptions)
	e.quiet = o.quiet
	if err := exactArgs(args, "CIPHERDIR"); err != nil {
		return err
	}
	dir := args[0]
	// At init, -masterkey is the new vault's key and a password is still
	// needed, so it combines with -passfile and -extpass.
	if len(o.secret.passfile) > 0 && len(o.secret.extpass) > 0 {
		return usageErrorf("-passfile and -extpass cannot be used together")
	}
	if o.secret.fido2 != "" && (len(o.secret.passfile) > 0 || len(o.secret.extpass) > 0) {
		return usageErrorf("-fido2 cannot be used together with -passfile or -extpass")
	}
	if len(o.fido2Assert) > 0 && o.secret.fido2 == "" {
		return usageErrorf("-fido2-assert-option needs -fido2")
	}
	if err := o.format.check(); err != nil {
		return err
	}
	if o.format.xchacha && o.format.aessiv {
		return mark(errWriteConf, errors.New("-xchacha and -aessiv cannot be used together"))
	}
	if o.reverse && o.format.xchacha {
		return mark(errWriteConf, errors.New("-reverse requires AES-SIV and cannot be used with -xchacha"))
	}
	if o.scryptN < vault.MinScryptLogN || o.scryptN > maxScryptLogN {
		return mark(errWriteConf, fmt.Errorf("-scryptn %d is out of range %d..%d", o.scryptN, vault.MinScryptLogN, maxScryptLogN))
	}
	if o.reverse {
		o.format.aessiv = true
	}
	// The format of a new vault is always the gocryptfs 2.x one:
	// -raw64=false and -hkdf=false are ignored at init, as by gocryptfs.
	o.format.raw64, o.format.hkdf = true, true
	vopts := o.format.options()
	vopts.ScryptLogN = o.scryptN
	vopts.Creator = "sealfs"
	if v := programVersion(); v != "" {
		vopts.Creator += " " + v
	}

	if err := checkCipherDir(dir); err != nil {
		return err
	}
	if isS3(dir) && o.reverse {
		return usageErrorf("-reverse configures a local plaintext directory, not a bucket")
	}
	cfgName := vault.DefaultFile
	if o.reverse {
		cfgName = vault.ReverseFile
	}
	cfgPath := configPath(dir, o.config, cfgName)
	if !o.reverse && !isS3(dir) {
		if err := checkEmpty(dir); err != nil {
			return err
		}
	}
	if isS3(dir) && o.config == "" {
		cfgPath = "" // in the bucket, which must be empty
	} else if _, err := os.Lstat(cfgPath); err == nil {
		return mark(errInit, fmt.Errorf("config file %q already exists", cfgPath))
	}

	key, err := e.masterKey(ctx, &o.secret)
	if err != nil {
		return err
	}
	givenKey := key != nil
	if key == nil {
		if key, err = vault.GenerateKey(); err != nil {
			return err
		}
	}
	defer key.Destroy()

	var pw []byte
	if o.secret.fido2 != "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		if isS3(dir) {
			abs = dir
		}
		cred, err := e.fido2Register(ctx, o.secret.fido2, filepath.Base(abs))
		if err != nil {
			return err
		}
		vopts.FIDO2 = &vault.FIDO2Params{CredentialID: cred, HMACSalt: random32(), AssertOptions: o.fido2Assert}
		if pw, err = e.fido2Secret(ctx, o.secret.fido2, vopts.FIDO2); err != nil {
			return err
		}
	} else {
		e.infof("Choose a password for protecting your files.\n")
		if pw, err = e.readPassword(ctx, &o.secret, true); err != nil {
			return err
		}
	}
	defer clear(pw)

	if o.reverse {
		cfg, err := vault.New(key, pw, vopts)
		if err != nil {
			return mark(errWriteConf, err)
		}
		if err := cfg.WriteFile(cfgPath); err != nil {
			return mark(errWriteConf, err)
		}
	} else if isS3(dir) {
		if err := e.createInBucket(ctx, dir, &o.s3, pw, &sealfs.CreateOptions{Options: *vopts, ConfigPath: cfgPath, MasterKey: key}); err != nil {
			return err
		}
	} else {
		f, err := sealfs.Create(dir, pw, &sealfs.CreateOptions{Options: *vopts, ConfigPath: cfgPath, MasterKey: key})
		if err != nil {
			if errors.Is(err, sealfs.ErrNotEmpty) {
				return mark(errCipherDir, err)
			}
			if _, serr := os.Lstat(cfgPath); serr == nil {
				// The config was written; what failed came after it
				// (the root directory IV).
				return mark(errInit, err)
			}
			return mark(errWriteConf, err)
		}
		if err := f.Close(); err != nil {
			return mark(errInit, err)
		}
	}

	if !givenKey {
		e.printMasterKey(key)
	}
	name := "filesystem"
	hint := "sealfs mount"
	if o.reverse {
		name = "reverse config"
		hint += " -reverse"
	}
	if o.config != "" {
		hint += " -config " + strconv.Quote(o.config)
	}
	e.infof("The sealfs %s has been created successfully.\n", name)
	e.infof("You can now mount it using: %s %s MOUNTPOINT\n", hint, dir)
	return nil
}

// checkEmpty checks that dir is an empty directory (exit code 6).
func checkEmpty(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return mark(errCipherDir, fmt.Errorf("invalid cipherdir: %w", err))
	}
	defer d.Close()
	names, err := d.Readdirnames(1)
	if len(names) > 0 {
		return mark(errCipherDir, fmt.Errorf("invalid cipherdir: %s is not empty", dir))
	}
	if err != nil && err != io.EOF {
		return mark(errCipherDir, fmt.Errorf("invalid cipherdir: %w", err))
	}
	return nil
}

// printMasterKey shows a newly generated master key, as gocryptfs -init
// does: only when stdout is a terminal (and not -q).
func (e *env) printMasterKey(key *vault.Key) {
	if !e.stdoutTerm {
		e.infof("Not running on a terminal, suppressing master key display\n")
		return
	}
	if e.quiet {
		return
	}
	fmt.Fprintf(e.stdout, "\nYour master key is:\n\n%s\n", formatMasterKey(key.Hex()))
	fmt.Fprintf(e.stdout, "If the gocryptfs.conf file becomes corrupted or you ever forget your password,\n"+
		"there is only one hope for recovery: The master key. Print it to a piece of\n"+
		"paper and store it in a drawer. This message is only printed once.\n")
}

// createInBucket makes a new vault in an empty bucket prefix.
func (e *env) createInBucket(ctx context.Context, arg string, s3f *s3Flags, pw []byte, co *sealfs.CreateOptions) error {
	loc, err := e.locate(ctx, arg, s3f, nil)
	if err != nil {
		return err
	}
	f, err := sealfs.CreateStore(loc.s3, pw, co)
	if err != nil {
		loc.close()
		if errors.Is(err, sealfs.ErrNotEmpty) {
			return mark(errCipherDir, err)
		}
		return mark(errWriteConf, err)
	}
	err = f.Close()
	if cerr := loc.close(); err == nil {
		err = cerr
	}
	return mark(errInit, err)
}
