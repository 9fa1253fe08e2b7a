package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/sealfs/sealfs/fsck"
	"github.com/sealfs/sealfs/vault"
)

type infoOptions struct {
	open    openFlags
	reverse bool
	stats   bool
}

var cmdInfo = &command{
	name:    "info",
	args:    "CIPHERDIR",
	summary: "show the config of a vault (no password needed; -stats: its contents)",
	help: `
Parses and validates the config file and prints its fields in the format
of gocryptfs -info; no password is asked for. A config that cannot be
loaded gives exit code 8.

With -stats, the vault is also unlocked (password, -passfile, -extpass or
-masterkey) and walked without mounting, and these lines follow: the
number of files (hard links counted per name), directories (the root
included), symlinks and other objects, and the bytes of plaintext and of
ciphertext (hard-linked content counted once). Content blocks are not
read; "sealfs fsck" checks them. -stats is for forward vaults.`,
	flags: func(fs *flag.FlagSet) any {
		o := &infoOptions{}
		o.open.register(fs)
		fs.BoolVar(&o.reverse, "reverse", false, "read PLAINDIR/.gocryptfs.reverse.conf")
		fs.BoolVar(&o.stats, "stats", false, "unlock the vault and print statistics of its contents")
		return o
	},
	run: runInfo,
}

func runInfo(ctx context.Context, e *env, opts any, args []string) error {
	o := opts.(*infoOptions)
	if err := exactArgs(args, "CIPHERDIR"); err != nil {
		return err
	}
	name := vault.DefaultFile
	if o.reverse {
		name = vault.ReverseFile
		if o.stats {
			return usageErrorf("-stats is for forward vaults")
		}
	}
	var cfg *vault.Config
	var err error
	if isS3(args[0]) && o.open.config == "" && !o.reverse {
		cfg, err = e.peekConfig(ctx, args[0], &o.open, name)
		if errors.Is(err, errS3Bucket) || errors.Is(err, errS3Access) || errors.Is(err, errS3Endpoint) || errors.Is(err, errUsage) {
			return err
		}
	} else {
		cfg, err = vault.Load(configPath(args[0], o.open.config, name))
	}
	if err != nil {
		return mark(errLoadConf, fmt.Errorf("loading config file failed: %w", err))
	}
	fmt.Fprint(e.stdout, formatInfo(cfg))
	if !o.stats {
		return nil
	}
	e.infow = e.stderr
	loc, cfg, key, err := e.openKey(ctx, args[0], &o.open)
	if err != nil {
		return err
	}
	defer loc.close()
	defer key.Destroy()
	rep, err := loc.check(ctx, cfg, key, &fsck.Options{SkipContent: true})
	if err != nil {
		return err
	}
	st := rep.Stats
	fmt.Fprintf(e.stdout, "Files:             %d\n", st.Files)
	fmt.Fprintf(e.stdout, "Directories:       %d\n", st.Dirs)
	fmt.Fprintf(e.stdout, "Symlinks:          %d\n", st.Symlinks)
	fmt.Fprintf(e.stdout, "Other objects:     %d\n", st.Others)
	fmt.Fprintf(e.stdout, "Plaintext bytes:   %d\n", st.PlainBytes)
	fmt.Fprintf(e.stdout, "Ciphertext bytes:  %d\n", st.CipherBytes)
	if n := rep.Errors(); n > 0 {
		e.warnf("%d problems found while walking the vault; run sealfs fsck\n", n)
	}
	return nil
}

// formatInfo renders a config like gocryptfs -info (FORMAT.md §14.5).
func formatInfo(cfg *vault.Config) string {
	var b strings.Builder
	s := cfg.ScryptObject
	fmt.Fprintf(&b, "Creator:           %s\n", cfg.Creator)
	fmt.Fprintf(&b, "FeatureFlags:      %s\n", strings.Join(cfg.FeatureFlags, " "))
	fmt.Fprintf(&b, "EncryptedKey:      %dB\n", len(cfg.EncryptedKey))
	fmt.Fprintf(&b, "ScryptObject:      Salt=%dB N=%d R=%d P=%d KeyLen=%d\n", len(s.Salt), s.N, s.R, s.P, s.KeyLen)
	fmt.Fprintf(&b, "contentEncryption: %s\n", cfg.Suite())
	return b.String()
}
