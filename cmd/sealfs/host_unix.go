//go:build linux || darwin || freebsd

package main

import (
	"time"

	"golang.org/x/sys/unix"
)

// hostSeek maps the vault's SEEK_DATA/SEEK_HOLE numbers (seekData,
// seekHole, as on Linux) to this system's.
func hostWhence(whence int) int {
	switch whence {
	case seekData:
		return unix.SEEK_DATA
	case seekHole:
		return unix.SEEK_HOLE
	}
	return whence
}

// setFileTimes sets the access and modification times of p, of a
// symlink itself with nofollow.
func setFileTimes(p string, atime, mtime time.Time, nofollow bool) error {
	flags := 0
	if nofollow {
		flags = unix.AT_SYMLINK_NOFOLLOW
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, flags)
}

func llistxattr(p string, buf []byte) (int, error)          { return unix.Llistxattr(p, buf) }
func lgetxattrInto(p, name string, buf []byte) (int, error) { return unix.Lgetxattr(p, name, buf) }
func lsetxattr(p, name string, val []byte) error            { return unix.Lsetxattr(p, name, val, 0) }
