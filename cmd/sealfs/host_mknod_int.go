//go:build linux || darwin

package main

import "golang.org/x/sys/unix"

// mknod creates a device node, FIFO or socket.
func mknod(p string, mode uint32, rdev uint64) error { return unix.Mknod(p, mode, int(rdev)) }
