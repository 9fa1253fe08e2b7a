package store

import (
	"io/fs"
	"syscall"
	"time"
)

// SysStat returns the stat data of fi: its Sys() if that is a *Stat, else
// converted from the system's (*syscall.Stat_t), where there is one.
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
		Dev: s.Dev, Ino: s.Ino, Nlink: uint64(s.Nlink), Mode: s.Mode,
		Uid: s.Uid, Gid: s.Gid, Rdev: s.Rdev, Size: s.Size,
		Blksize: int64(s.Blksize), Blocks: s.Blocks,
		Atime: ts(s.Atim), Mtime: ts(s.Mtim), Ctime: ts(s.Ctim),
	}, true
}
