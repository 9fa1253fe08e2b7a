// Package dirstore keeps a vault's ciphertext in a local directory: the
// [store.Store] behind sealfs.Open and sealfs.Create.
//
// On Linux every operation resolves its path beneath the root with
// openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) through a small cache of
// directory descriptors and acts with an *at system call; xattrs, hard
// links, device nodes, renameat2 flags, SEEK_DATA/SEEK_HOLE, fallocate and
// statfs are supported. On other systems the Store works through os.Root,
// checking each path component with Lstat so that no symlink is followed,
// and offers what the portable os package can do.
package dirstore

import "github.com/sealfs/sealfs/store"

// Options configure a Store. The zero value (or nil) is the default.
type Options struct {
	// NoAtime opens files and directories so that reading them does not
	// move their access times (O_NOATIME, where the kernel allows it:
	// the caller must own the file or have CAP_FOWNER); NoDirAtime does
	// it for directories only. Linux only; ignored elsewhere.
	NoAtime, NoDirAtime bool
	// NoCache disables the cache of directory handles, for directories
	// that other processes change concurrently (-sharedstorage).
	NoCache bool
}

var _ store.Store = (*Store)(nil)
