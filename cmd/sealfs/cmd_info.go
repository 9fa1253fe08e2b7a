package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/sealfs/sealfs/vault"
)

type infoOptions struct {
	config  string
	reverse bool
}

var cmdInfo = &command{
	name:    "info",
	args:    "CIPHERDIR",
	summary: "show the config of a vault (no password needed)",
	help: `
Parses and validates the config file and prints its fields in the format
of gocryptfs -info. A config that cannot be loaded gives exit code 8.`,
	flags: func(fs *flag.FlagSet) any {
		o := &infoOptions{}
		fs.StringVar(&o.config, "config", "", "read the config `FILE` instead of CIPHERDIR/gocryptfs.conf")
		fs.BoolVar(&o.reverse, "reverse", false, "read PLAINDIR/.gocryptfs.reverse.conf")
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
	}
	cfg, err := vault.Load(configPath(args[0], o.config, name))
	if err != nil {
		return mark(errLoadConf, fmt.Errorf("loading config file failed: %w", err))
	}
	fmt.Fprint(e.stdout, formatInfo(cfg))
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
