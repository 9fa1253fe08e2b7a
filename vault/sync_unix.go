//go:build unix

package vault

import "syscall"

// syncAll flushes every file system (sync(2)), for when fsync fails.
func syncAll() { syscall.Sync() }
