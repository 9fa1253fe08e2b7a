package reverse

import (
	"io/fs"
	"syscall"
	"time"
)

// statFields are the parts of the plaintext's stat data the view uses.
type statFields struct {
	dev, ino, nlink uint64
	ctime           time.Time
}

func statOf(fi fs.FileInfo) (statFields, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return statFields{}, false
	}
	return statFields{dev: uint64(st.Dev), ino: uint64(st.Ino), nlink: uint64(st.Nlink),
		ctime: time.Unix(int64(st.Ctimespec.Sec), int64(st.Ctimespec.Nsec))}, true
}

// viewStat returns a copy of the plaintext's stat data (*syscall.Stat_t)
// changed as e says, or nil if there is none.
func viewStat(fi fs.FileInfo, e *statEdit) any {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	c := *st
	c.Ino = e.ino
	if e.mode != 0 {
		c.Mode = uint16(e.mode)
	}
	if e.setSize {
		c.Size = e.size
	}
	if e.setBlocks {
		c.Blocks = e.blocks
	}
	if e.nlink != 0 {
		c.Nlink = uint64(e.nlink)
	}
	if e.zeroRdev {
		c.Rdev = 0
	}
	if !e.mtime.IsZero() {
		c.Mtimespec = syscall.NsecToTimespec(e.mtime.UnixNano())
	}
	if !e.ctime.IsZero() {
		c.Ctimespec = syscall.NsecToTimespec(e.ctime.UnixNano())
	}
	return &c
}
