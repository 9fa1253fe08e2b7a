// Package store defines the ciphertext side of a vault: the Store a
// [github.com/sealfs/sealfs.FS] keeps its encrypted objects in, the open
// File it reads and writes blocks through, and the optional capabilities
// (extended attributes, hard links, renameat2 flags, device nodes, file
// system usage) a Store may have. The sealfs package re-exports these
// types under its own names (sealfs.Store, sealfs.StoreFile, ...).
//
// Implementations live in the sub-packages: dirstore (a local
// directory), memstore (memory). storetest is the conformance suite
// every implementation must pass.
package store

import (
	"io"
	"io/fs"
	"time"
)

// Store is the ciphertext side of a vault: a directory tree addressed with
// slash-separated relative paths ("." is the root). Paths given to a Store
// are always ciphertext paths produced by the FS; a Store never
// interprets names.
//
// A Store must never follow a symbolic link in any component of a path:
// the FS resolves plaintext symlinks itself, and a hostile vault must not be
// able to redirect an operation outside the store. dirstore enforces this
// with the kernel's RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS on Linux.
//
// Errors wrap fs.ErrNotExist, fs.ErrExist and, where there is one, the
// underlying syscall.Errno (ENOTEMPTY, ENOTDIR, EISDIR, ...), so that the
// FS can pass them through to callers. Operations a store cannot do at all
// (hard links on a store without them) fail with an error that
// errors.Is(err, errors.ErrUnsupported).
type Store interface {
	// OpenFile opens a file or directory (flag as in os.OpenFile; O_NOFOLLOW
	// is implied).
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
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

// File is an open ciphertext file or directory. *os.File satisfies it.
type File interface {
	io.ReaderAt
	io.WriterAt
	io.Closer
	Truncate(size int64) error
	Stat() (fs.FileInfo, error)
	Sync() error
	ReadDir(n int) ([]fs.DirEntry, error)
}

// Prefetcher is implemented by store files that can start reading their
// first n bytes from the disk without waiting for them.
type Prefetcher interface {
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

// FileRemover is implemented by stores that can remove an object
// only if it is not a directory (unlink(2)), failing with EISDIR (or
// EPERM, as some systems say) for a directory, in one step.
type FileRemover interface {
	RemoveFile(name string) error
}

// DirRemover is implemented by stores that can remove an object
// only if it is an empty directory (rmdir(2)), failing with ENOTDIR for
// anything else, in one step.
type DirRemover interface {
	RemoveDir(name string) error
}

// DirWithRemover is implemented by stores that remove a directory
// together with the named files in it, failing with ENOTEMPTY when it
// holds anything else. A directory IV then needs no rename out of the
// way and back: in a bucket, where no rmdir is atomic anyway, that saves
// a copy and a deletion per directory.
type DirWithRemover interface {
	RemoveDirWith(name string, files ...string) error
}

// Renamer2 is implemented by stores that support renameat2 flags
// (RENAME_NOREPLACE, RENAME_EXCHANGE, RENAME_WHITEOUT).
type Renamer2 interface {
	Rename2(oldname, newname string, flags uint) error
}

// Mknoder is implemented by stores that can create device nodes, FIFOs
// and sockets.
type Mknoder interface {
	Mknod(name string, mode uint32, dev uint64) error
}

// Statfser is implemented by stores that can report file system usage.
type Statfser interface {
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

// Stat is what FileInfo.Sys returns for the objects of a store (and, with
// Size translated to the plaintext size, for the objects of a vault). Ino
// and Nlink are stable, so front ends can present hard links.
type Stat struct {
	Dev, Ino, Nlink uint64
	Mode            uint32 // unix mode bits including the file type
	Uid, Gid        uint32
	Rdev            uint64
	Size            int64
	Blksize         int64
	Blocks          int64 // 512-byte blocks actually stored
	Atime           time.Time
	Mtime           time.Time
	Ctime           time.Time
	// Btime is the birth time where the store knows it (else zero). With
	// Ino it tells a new object from an old one with a reused number.
	Btime time.Time
}

// InoDirEntry is implemented by the directory entries of stores that know
// each entry's inode number without a stat (d_ino of getdents). A mounted
// vault reports it as the entry's d_ino; the FS's listings implement it
// too.
type InoDirEntry interface {
	fs.DirEntry
	Ino() uint64
}

// Allocator is implemented by store files that can reserve space without
// changing the size (fallocate FALLOC_FL_KEEP_SIZE).
type Allocator interface {
	Allocate(off, length int64) error
}

// Seeker is implemented by store files that can find data and holes
// (lseek SEEK_DATA/SEEK_HOLE). Both return an error wrapping ENXIO past
// the last data.
type Seeker interface {
	SeekData(off int64) (int64, error)
	SeekHole(off int64) (int64, error)
}

// HolePuncher is implemented by store files that can deallocate a range,
// which then reads as zeros, without changing the size.
type HolePuncher interface {
	PunchHole(off, length int64) error
}

// FileXattrer is implemented by open store files that read their own
// extended attributes through the open file (flistxattr, fgetxattr),
// without resolving the path again.
type FileXattrer interface {
	Listxattr() ([]string, error)
	Getxattr(attr string) ([]byte, error)
}
