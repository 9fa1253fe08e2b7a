//go:build !linux

package main

import (
	"io/fs"

	"context"
	"errors"
	"fmt"
	"github.com/sealfs/sealfs/reverse"
	"runtime"
)

// errNoFUSE says why mount and unmount do nothing here.
var errNoFUSE = fmt.Errorf("mounting needs FUSE, which sealfs supports on Linux only (this is %s); "+
	"the other commands work here: ls, cat, decrypt, encrypt, export, fsck, info: %w", runtime.GOOS, errors.ErrUnsupported)

// Mounting needs Linux FUSE; elsewhere the commands exist and say so.
var (
	cmdMount = &command{name: "mount", args: "CIPHERDIR MOUNTPOINT", summary: "mount a vault as a directory (FUSE, Linux only)",
		run: func(context.Context, *env, any, []string) error { return errNoFUSE }}
	cmdUnmount = &command{name: "unmount", args: "MOUNTPOINT", summary: "unmount a mounted vault (Linux only)",
		run: func(context.Context, *env, any, []string) error { return errNoFUSE }}
)

// statfsView is v: the usage of the plaintext directory is known on Linux
// only.
func statfsView(v *reverse.FS, dir string) fs.FS { return v }
