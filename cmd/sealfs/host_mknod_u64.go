//go:build freebsd

package main

import "golang.org/x/sys/unix"

// mknod creates a device node, FIFO or socket.
func mknod(p string, mode uint32, rdev uint64) error { return unix.Mknod(p, mode, rdev) }
