//go:build unix

package store

import "syscall"

// Open flags beyond the os package's, for Store.OpenFile.
const (
	// ODirectory makes OpenFile fail unless the object is a directory.
	ODirectory = syscall.O_DIRECTORY
	// ONoFollow is implied by every Store.OpenFile; callers use it to
	// ask the FS not to follow a final plaintext symlink.
	ONoFollow = syscall.O_NOFOLLOW
)
