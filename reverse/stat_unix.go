//go:build linux || darwin || freebsd

package reverse

import (
	"io/fs"
	"syscall"
	"time"

	"github.com/sealfs/sealfs/store"
)

// statFields are the parts of the plaintext's stat data the view uses.
type statFields struct {
	dev, ino, nlink uint64
	ctime           time.Time
}

func statOf(fi fs.FileInfo) (statFields, bool) {
	st, ok := store.SysStat(fi)
	return statFields{dev: st.Dev, ino: st.Ino, nlink: st.Nlink, ctime: st.Ctime}, ok
}

// viewStat returns a copy of the plaintext's stat data (*syscall.Stat_t)
// changed as e says, or nil if there is none.
func viewStat(fi fs.FileInfo, e *statEdit) any {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	c := *st
	setUint(&c.Ino, e.ino)
	if e.mode != 0 {
		setUint(&c.Mode, uint64(e.mode))
	}
	if e.setSize {
		c.Size = e.size
	}
	if e.setBlocks {
		c.Blocks = e.blocks
	}
	if e.nlink != 0 {
		setUint(&c.Nlink, e.nlink)
	}
	if e.zeroRdev {
		c.Rdev = 0
	}
	setTimes(&c, e.mtime, e.ctime)
	return &c
}

// setUint stores v in a stat field whose width differs between systems.
func setUint[T ~uint16 | ~uint32 | ~uint64](p *T, v uint64) { *p = T(v) }
