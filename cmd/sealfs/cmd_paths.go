package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sealfs/sealfs/reverse"
	"github.com/sealfs/sealfs/vault"
)

type pathsOptions struct {
	open    openFlags
	reverse bool
}

// pathMapper is what sealfs.FS and reverse.FS have in common.
type pathMapper interface {
	EncryptPath(string) (string, error)
	DecryptPath(string) (string, error)
}

func pathsCommand(name, args, summary, what string, decrypt bool) *command {
	return &command{
		name:    name,
		args:    args,
		summary: summary,
		help: `
Prints, one line per argument, the ` + what + ` path that corresponds to
each given path, as the gocryptfs control socket would, without a mount.
For a forward vault CIPHERDIR is the encrypted directory; for a reverse
vault (a plaintext directory with .gocryptfs.reverse.conf, detected
automatically, or -reverse) the paths are those of its encrypted view.
Paths are relative to the vault root (a leading "/" is ignored). Long
names appear in their hashed gocryptfs.longname.* form. An argument that
cannot be mapped is reported on stderr and the others are still printed;
the exit code is then 11. Put "--" before paths that start with "-".`,
		flags: func(fs *flag.FlagSet) any {
			o := &pathsOptions{}
			o.open.register(fs)
			fs.BoolVar(&o.reverse, "reverse", false, "CIPHERDIR is a reverse-mode plaintext directory")
			return o
		},
		run: func(ctx context.Context, e *env, opts any, args []string) error {
			return runPaths(ctx, e, opts.(*pathsOptions), args, decrypt)
		},
	}
}

var (
	cmdEncryptPath = pathsCommand("encrypt-path", "CIPHERDIR PLAINPATH...", "print the ciphertext path of plaintext paths", "ciphertext", false)
	cmdDecryptPath = pathsCommand("decrypt-path", "CIPHERDIR CIPHERPATH...", "print the plaintext path of ciphertext paths", "plaintext", true)
)

// isReverseDir reports whether dir looks like a reverse-mode plaintext
// directory: a reverse config and no forward one.
func isReverseDir(dir, config string) bool {
	if config != "" {
		return false
	}
	if _, err := os.Stat(filepath.Join(dir, vault.DefaultFile)); err == nil {
		return false
	}
	_, err := os.Stat(filepath.Join(dir, vault.ReverseFile))
	return err == nil
}

func runPaths(ctx context.Context, e *env, o *pathsOptions, args []string, decrypt bool) error {
	e.infow = e.stderr
	if len(args) < 2 {
		return usageErrorf("expected CIPHERDIR PATH..., got %d argument(s)", len(args))
	}
	dir := args[0]
	var m pathMapper
	if o.reverse || isReverseDir(dir, o.open.config) {
		e.quiet = e.quiet || o.open.quiet
		v, done, err := e.openReverse(ctx, dir, &o.open.secret, o.open.config, nil, &o.open.format, reverse.Options{})
		if err != nil {
			return err
		}
		defer done()
		m = v
	} else {
		f, err := e.openVault(ctx, dir, &o.open, true, nil)
		if err != nil {
			return err
		}
		defer f.Close()
		m = f
	}
	prob := &problems{e: e}
	for _, a := range args[1:] {
		p, err := vaultPath(a)
		if err != nil {
			prob.failed(err)
			continue
		}
		var out string
		if decrypt {
			out, err = m.DecryptPath(p)
		} else {
			out, err = m.EncryptPath(p)
		}
		if err != nil {
			prob.failed(err)
			continue
		}
		if out == "" {
			out = "."
		}
		fmt.Fprintln(e.stdout, out)
	}
	return prob.err()
}
