package sealfs

import (
	"io"
	"io/fs"
	"time"
)

// Store is the ciphertext side of a vault: a directory tree addressed with
// slash-separated relative paths ("." is the root). Paths given to a Store
// are always ciphertext paths produced by FS; a Store never interprets
// names.
//
// A Store must never follow a symbolic link in any component of a path:
// FS resolves plaintext symlinks itself, and a hostile vault must not be able
// to redirect an operation outside the store. DirStore enforces this with
// the kernel's RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS.
//
// Errors should wrap the underlying syscall.Errno where there is one, so
// that FS can pass it through to callers.
type Store interface {
	// OpenFile opens a file or directory (flag as in os.OpenFile; O_NOFOLLOW
	// is implied).
	OpenFile(name string, flag int, perm fs.FileMode) (StoreFile, error)
	Lstat(name string) (fs.FileInfo, error)
	Mkdir(name string, perm fs.FileMode) error
	// Remove removes a file, symlink or empty directory.
	Remove(name string) error
	Rename(oldname, newname string) error
	Symlink(target, name string) error
	Readlink(name string) (string, error)
	Link(oldname, newname string) error
	// Chmod changes the mode of a non-symlink object.
	Chmod(name string, mode fs.FileMode) error
	Lchown(name string, uid, gid int) error
	// Lchtimes sets the times of an object without following a symlink.
	// A zero time leaves that time unchanged.
	Lchtimes(name string, atime, mtime time.Time) error
}

// StoreFile is an open ciphertext file or directory. *os.File satisfies it.
type StoreFile interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
	Sync() error
	ReadDir(n int) ([]fs.DirEntry, error)
}

// PrefetchFile is implemented by store files that can start reading their
// first n bytes from the disk without waiting for them.
type PrefetchFile interface {
	Prefetch(n int64)
}

// XattrStore is implemented by stores that support extended attributes.
// The methods never follow symlinks.
type XattrStore interface {
	Getxattr(name, attr string) ([]byte, error)
	Setxattr(name, attr string, value []byte, flags int) error
	Listxattr(name string) ([]string, error)
	Removexattr(name, attr string) error
}

// FileRemoverStore is implemented by stores that can remove an object
// only if it is not a directory (unlink(2)), failing with EISDIR (or
// EPERM, as some systems say) for a directory, in one step.
type FileRemoverStore interface {
	RemoveFile(name string) error
}

// DirRemoverStore is implemented by stores that can remove an object
// only if it is an empty directory (rmdir(2)), failing with ENOTDIR for
// anything else, in one step.
type DirRemoverStore interface {
	RemoveDir(name string) error
}

// RenameFlagsStore is implemented by stores that support renameat2 flags
// (RENAME_NOREPLACE, RENAME_EXCHANGE).
type RenameFlagsStore interface {
	Rename2(oldname, newname string, flags uint) error
}

// MknodStore is implemented by stores that can create device nodes, FIFOs
// and sockets.
type MknodStore interface {
	Mknod(name string, mode uint32, dev uint64) error
}

// StatfsStore is implemented by stores that can report file system usage.
type StatfsStore interface {
	Statfs() (Statfs, error)
}

// Statfs describes the file system that holds the vault (statfs(2)). Sizes
// are those of the ciphertext file system.
type Statfs struct {
	BlockSize   int64  // fundamental block size
	Blocks      uint64 // total blocks
	BlocksFree  uint64 // free blocks
	BlocksAvail uint64 // free blocks for unprivileged users
	Files       uint64 // total inodes
	FilesFree   uint64 // free inodes
	NameLen     int64  // maximum plaintext name length
}
