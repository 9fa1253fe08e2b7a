package reverse

import (
	"syscall"
	"time"
)

// setTimes sets the modification and change times of c where not zero.
func setTimes(c *syscall.Stat_t, mtime, ctime time.Time) {
	if !mtime.IsZero() {
		c.Mtim = syscall.NsecToTimespec(mtime.UnixNano())
	}
	if !ctime.IsZero() {
		c.Ctim = syscall.NsecToTimespec(ctime.UnixNano())
	}
}
