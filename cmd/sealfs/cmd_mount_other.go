//go:build !linux

package main

import (
	"context"
	"errors"
)

// Mounting needs Linux FUSE; elsewhere the commands exist and say so.
var (
	cmdMount = &command{name: "mount", args: "CIPHERDIR MOUNTPOINT", summary: "mount a vault as a directory (FUSE, Linux only)",
		run: func(context.Context, *env, any, []string) error { return errors.ErrUnsupported }}
	cmdUnmount = &command{name: "unmount", args: "MOUNTPOINT", summary: "unmount a mounted vault (Linux only)",
		run: func(context.Context, *env, any, []string) error { return errors.ErrUnsupported }}
)
