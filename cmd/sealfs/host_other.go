//go:build !linux && !darwin && !freebsd

package main

import (
	"errors"
	"os"
	"syscall"
	"time"
)

// hostWhence: this system cannot find data and holes; the callers then
// treat the whole file as data.
func hostWhence(whence int) int {
	if whence == seekData || whence == seekHole {
		return -1
	}
	return whence
}

// setFileTimes sets the times of p; a symlink's own times cannot be set
// here, so with nofollow a symlink keeps its times.
func setFileTimes(p string, atime, mtime time.Time, nofollow bool) error {
	if nofollow {
		if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			return nil
		}
	}
	return os.Chtimes(p, atime, mtime)
}

// Extended attributes and special files are not supported here.
func llistxattr(string, []byte) (int, error)            { return 0, syscall.ENOTSUP }
func lgetxattrInto(string, string, []byte) (int, error) { return 0, syscall.ENOTSUP }
func lsetxattr(string, string, []byte) error            { return syscall.ENOTSUP }
func mknod(string, uint32, uint64) error                { return errors.ErrUnsupported }
