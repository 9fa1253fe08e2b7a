package dirstore

import (
	"io/fs"
	"syscall"
	"time"

	"github.com/sealfs/sealfs/store"
)

// sysStat converts the os package's stat data (rootStore on Linux, which
// only the tests use).
func sysStat(fi fs.FileInfo) (store.Stat, bool) {
	s, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return store.Stat{}, false
	}
	ts := func(t syscall.Timespec) time.Time { return time.Unix(t.Sec, t.Nsec) }
	return store.Stat{
		Dev: s.Dev, Ino: s.Ino, Nlink: uint64(s.Nlink), Mode: s.Mode,
		Uid: s.Uid, Gid: s.Gid, Rdev: s.Rdev, Size: s.Size,
		Blksize: int64(s.Blksize), Blocks: s.Blocks,
		Atime: ts(s.Atim), Mtime: ts(s.Mtim), Ctime: ts(s.Ctim),
	}, true
}
