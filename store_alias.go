package sealfs

import "github.com/sealfs/sealfs/store"

// The ciphertext store types live in package store; these are the names
// the sealfs API uses for them.
type (
	// Store is the ciphertext side of a vault: see [store.Store].
	Store = store.Store
	// StoreFile is an open ciphertext file or directory: see [store.File].
	StoreFile = store.File
	// XattrStore is a Store with extended attributes: see
	// [store.XattrStore].
	XattrStore = store.XattrStore
	// Stat is what FileInfo.Sys returns for the objects of a vault: the
	// metadata of the ciphertext object, with Size translated to the
	// plaintext size. See [store.Stat].
	Stat = store.Stat
	// Statfs describes the file system that holds the vault: see
	// [store.Statfs].
	Statfs = store.Statfs
	// InoDirEntry is a directory entry that knows its inode number: see
	// [store.InoDirEntry].
	InoDirEntry = store.InoDirEntry
)
