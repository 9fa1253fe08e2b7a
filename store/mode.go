package store

import (
	"io/fs"
	"syscall"
)

// ModeToUnix converts an fs.FileMode to unix mode bits (file type,
// permissions, setuid, setgid, sticky).
func ModeToUnix(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	switch {
	case m.IsDir():
		u |= syscall.S_IFDIR
	case m&fs.ModeSymlink != 0:
		u |= syscall.S_IFLNK
	case m&fs.ModeNamedPipe != 0:
		u |= syscall.S_IFIFO
	case m&fs.ModeSocket != 0:
		u |= syscall.S_IFSOCK
	case m&fs.ModeCharDevice != 0:
		u |= syscall.S_IFCHR
	case m&fs.ModeDevice != 0:
		u |= syscall.S_IFBLK
	default:
		u |= syscall.S_IFREG
	}
	if m&fs.ModeSetuid != 0 {
		u |= syscall.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		u |= syscall.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		u |= syscall.S_ISVTX
	}
	return u
}

// ModeFromUnix converts unix mode bits to an fs.FileMode.
func ModeFromUnix(u uint32) fs.FileMode {
	m := fs.FileMode(u & 0o777)
	switch u & syscall.S_IFMT {
	case syscall.S_IFDIR:
		m |= fs.ModeDir
	case syscall.S_IFLNK:
		m |= fs.ModeSymlink
	case syscall.S_IFIFO:
		m |= fs.ModeNamedPipe
	case syscall.S_IFSOCK:
		m |= fs.ModeSocket
	case syscall.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case syscall.S_IFBLK:
		m |= fs.ModeDevice
	}
	if u&syscall.S_ISUID != 0 {
		m |= fs.ModeSetuid
	}
	if u&syscall.S_ISGID != 0 {
		m |= fs.ModeSetgid
	}
	if u&syscall.S_ISVTX != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// Perm is ModeToUnix without the file type bits (for mode arguments).
func Perm(m fs.FileMode) uint32 { return ModeToUnix(m) &^ syscall.S_IFMT }
