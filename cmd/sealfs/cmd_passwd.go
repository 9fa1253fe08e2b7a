package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/sealfs/sealfs"

	"github.com/sealfs/sealfs/vault"
)

type passwdOptions struct {
	secret  secretFlags
	scryptN int
	config  string
	quiet   bool
	reverse bool
	s3      s3Flags
}

var cmdPasswd = &command{
	name:    "passwd",
	args:    "CIPHERDIR",
	summary: "change the password of a vault",
	help: `
Unlocks the master key with the old password (or takes it from -masterkey),
reads the new password and rewrites the config file with the same master
key wrapped under the new password and a new random salt. Nothing else in
the config changes, and no file in the vault is touched.

-passfile and -extpass give the OLD password only (as in gocryptfs 2.5);
the new one is read from stdin or the terminal. With piped stdin and no
-passfile/-extpass, the first line is the old password and the second the
new one. With -masterkey, the old config is first kept as a hard link
CONFIG.bak (exit code 7 if that fails).`,
	flags: func(fs *flag.FlagSet) any {
		o := &passwdOptions{}
		o.secret.register(fs, "use the master `KEY` (64 hex digits, dashes and spaces ignored) instead of the old password; \"stdin\" reads it like a password")
		fs.IntVar(&o.scryptN, "scryptn", 0, "scrypt cost of the new password: N = 2^`LOGN` (10..28; default: keep the old N)")
		fs.StringVar(&o.config, "config", "", "use the config `FILE` instead of CIPHERDIR/gocryptfs.conf")
		fs.BoolVar(&o.quiet, "q", false, "quiet: no informational messages")
		fs.BoolVar(&o.quiet, "quiet", false, "same as -q")
		fs.BoolVar(&o.reverse, "reverse", false, "change the password of PLAINDIR/.gocryptfs.reverse.conf")
		o.s3.register(fs)
		return o
	},
	run: runPasswd,
}

func runPasswd(ctx context.Context, e *env, opts any, args []string) error {
	o := opts.(*passwdOptions)
	e.quiet = o.quiet
	if err := exactArgs(args, "CIPHERDIR"); err != nil {
		return err
	}
	dir := args[0]
	if err := o.secret.validate(); err != nil {
		return err
	}
	if o.scryptN != 0 && (o.scryptN < vault.MinScryptLogN || o.scryptN > maxScryptLogN) {
		return mark(errWriteConf, fmt.Errorf("-scryptn %d is out of range %d..%d", o.scryptN, vault.MinScryptLogN, maxScryptLogN))
	}
	name := vault.DefaultFile
	if o.reverse {
		name = vault.ReverseFile
	}
	if isS3(dir) && o.reverse {
		return usageErrorf("-reverse is for local plaintext directories")
	}
	loc, err := e.locate(ctx, dir, &o.s3, nil)
	if err != nil {
		return err
	}
	defer loc.close()
	cfgPath := loc.configPath(o.config, name)
	cfg, err := loc.loadConfig(o.config, name)
	if err != nil {
		return err
	}
	if cfg.FIDO2 != nil {
		return errors.New("password change is not supported on FIDO2-enabled vaults")
	}

	key, err := e.masterKey(ctx, &o.secret)
	if err != nil {
		return err
	}
	givenKey := key != nil
	if !givenKey {
		old, err := e.readPassword(ctx, &o.secret, false)
		if err != nil {
			return err
		}
		key, err = cfg.Unlock(old)
		clear(old)
		if err != nil {
			return err
		}
	}
	defer key.Destroy()

	e.infof("Please enter your new password.\n")
	pw, err := e.readPassword(ctx, &secretFlags{}, true)
	if err != nil {
		return err
	}
	defer clear(pw)
	if err := cfg.SetPassword(key, pw, o.scryptN); err != nil {
		return mark(errWriteConf, err)
	}
	if givenKey {
		bak := cfgPath + ".bak"
		if cfgPath == "" {
			bak = strings.TrimSuffix(dir, "/") + "/" + name + ".bak"
			err = backupStoreConfig(loc.s3, name)
		} else {
			err = vault.BackupFile(cfgPath)
		}
		if err != nil {
			return mark(errInit, fmt.Errorf("backing up the config: %w", err))
		}
		e.infof("A copy of the old config file has been created at %q.\n"+
			"Delete it after you have verified that you can access your files with the new password.\n", bak)
	}
	if cfgPath == "" {
		err = sealfs.WriteConfig(loc.s3, cfg)
	} else {
		err = cfg.WriteFile(cfgPath)
	}
	if err != nil {
		return mark(errWriteConf, err)
	}
	e.infof("Password changed.\n")
	return nil
}
