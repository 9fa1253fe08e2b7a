//go:build darwin || freebsd

package dirstore

import (
	"io/fs"
	"syscall"
	"time"

	"github.com/sealfs/sealfs/store"
)

func sysStat(fi fs.FileInfo) (store.Stat, bool) {
	s, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return store.Stat{}, false
	}
	ts := func(t syscall.Timespec) time.Time { return time.Unix(t.Sec, t.Nsec) }
	return store.Stat{
		Dev: uint64(s.Dev), Ino: s.Ino, Nlink: uint64(s.Nlink), Mode: uint32(s.Mode),
		Uid: s.Uid, Gid: s.Gid, Rdev: uint64(s.Rdev), Size: s.Size,
		Blksize: int64(s.Blksize), Blocks: s.Blocks,
		Atime: ts(s.Atimespec), Mtime: ts(s.Mtimespec), Ctime: ts(s.Ctimespec), Btime: ts(s.Birthtimespec),
	}, true
}
