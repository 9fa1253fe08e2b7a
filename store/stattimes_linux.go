package store

import (
	"syscall"
	"time"
)

// statTimes: Linux's stat has no birth time (statx has; dirstore uses it).
func statTimes(s *syscall.Stat_t) (a, m, c, b time.Time) {
	return timespec(s.Atim), timespec(s.Mtim), timespec(s.Ctim), time.Time{}
}
