//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package store

import "syscall"

// ErrNoAttr is the error of a missing extended attribute on this system
// (ENODATA on Linux, ENOATTR on the BSDs).
const ErrNoAttr = syscall.ENOATTR
