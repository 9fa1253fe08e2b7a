//go:build darwin || freebsd

package store

import (
	"syscall"
	"time"
)

func statTimes(s *syscall.Stat_t) (a, m, c, b time.Time) {
	return timespec(s.Atimespec), timespec(s.Mtimespec), timespec(s.Ctimespec), timespec(s.Birthtimespec)
}
