package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"io/fs"
)

type catOptions struct {
	open openFlags
}

var cmdCat = &command{
	name:    "cat",
	args:    "CIPHERDIR PATH...",
	summary: "print decrypted files of a vault without mounting it",
	help: `
Writes the decrypted contents of each PATH (a plaintext path inside the
vault; symlinks inside the vault are followed) to stdout. A file that fails
is reported on stderr and the others are still printed; the exit code is
then 11. Corrupt data is never printed: output stops at the first block
that fails authentication. The vault is opened read-only.`,
	flags: func(fs *flag.FlagSet) any {
		o := &catOptions{}
		o.open.register(fs)
		return o
	},
	run: runCat,
}

func runCat(ctx context.Context, e *env, opts any, args []string) error {
	o := opts.(*catOptions)
	e.infow = e.stderr
	if len(args) < 2 {
		return usageErrorf("expected CIPHERDIR PATH..., got %d argument(s)", len(args))
	}
	var paths []string
	for _, a := range args[1:] {
		p, err := vaultPath(a)
		if err != nil {
			return err
		}
		paths = append(paths, p)
	}
	prob := &problems{e: e}
	f, err := e.openVault(ctx, args[0], &o.open, true, prob.corrupt)
	if err != nil {
		return err
	}
	defer f.Close()
	for _, p := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := catFile(ctx, e, f, p); err != nil {
			prob.failed(err)
		}
	}
	return prob.err()
}

func catFile(ctx context.Context, e *env, fsys fs.FS, p string) error {
	file, err := fsys.Open(p)
	if err != nil {
		return err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return fmt.Errorf("%s: is a directory", p)
	}
	_, err = io.Copy(e.stdout, ctxReader{ctx, file})
	return err
}

// ctxReader stops reading once the context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
