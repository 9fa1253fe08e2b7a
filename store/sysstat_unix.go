//go:build linux || darwin || freebsd

package store

import (
	"io/fs"
	"syscall"
	"time"
)

// SysStat returns the stat data of fi: its Sys() if that is a *Stat, else
// converted from the system's *syscall.Stat_t, where there is one.
func SysStat(fi fs.FileInfo) (Stat, bool) {
	if st, ok := fi.Sys().(*Stat); ok {
		return *st, true
	}
	s, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Stat{}, false
	}
	st := Stat{
		Dev: uint64(s.Dev), Ino: uint64(s.Ino), Nlink: uint64(s.Nlink), Mode: uint32(s.Mode),
		Uid: s.Uid, Gid: s.Gid, Rdev: uint64(s.Rdev), Size: s.Size,
		Blksize: int64(s.Blksize), Blocks: s.Blocks,
	}
	st.Atime, st.Mtime, st.Ctime, st.Btime = statTimes(s)
	return st, true
}

func timespec(t syscall.Timespec) time.Time { return time.Unix(int64(t.Sec), int64(t.Nsec)) }
