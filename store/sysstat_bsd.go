//go:build darwin || freebsd

package store

import (
	"io/fs"
	"syscall"
	"time"
)

func SysStat(fi fs.FileInfo) (Stat, bool) {
	if st, ok := fi.Sys().(*Stat); ok {
		return *st, true
	}
	s, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Stat{}, false
	}
	ts := func(t syscall.Timespec) time.Time { return time.Unix(t.Sec, t.Nsec) }
	return Stat{
		Dev: uint64(s.Dev), Ino: s.Ino, Nlink: uint64(s.Nlink), Mode: uint32(s.Mode),
		Uid: s.Uid, Gid: s.Gid, Rdev: uint64(s.Rdev), Size: s.Size,
		Blksize: int64(s.Blksize), Blocks: s.Blocks,
		Atime: ts(s.Atimespec), Mtime: ts(s.Mtimespec), Ctime: ts(s.Ctimespec), Btime: ts(s.Birthtimespec),
	}, true
}
