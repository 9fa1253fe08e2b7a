// Package sealfs is an encrypted overlay filesystem as a library: a
// directory of ciphertext (a "vault") used like package os and io/fs,
// without FUSE and without root.
//
// Vaults are on-disk compatible with gocryptfs v2: gocryptfs can open
// vaults that sealfs creates and sealfs opens gocryptfs vaults, for every
// content cipher (AES-256-GCM, AES-SIV-512, XChaCha20-Poly1305) and name
// mode (random per-directory IVs, deterministic names, plaintext names,
// long names with any threshold).
//
// # Opening and creating
//
// [Create] makes a new vault in an empty directory; [Open] unlocks an
// existing one with its password, or with the master key
// ([Options].MasterKey), in which case the format is read from the config
// file if there is one.
//
// A vault can live in any [Store] (package [github.com/sealfs/sealfs/store]):
// [CreateStore] and [OpenStore] keep the whole vault, config included, in
// one ([ReadConfig] and [WriteConfig] handle gocryptfs.conf there). The
// stores in this module are [github.com/sealfs/sealfs/store/dirstore] (a
// local directory, on every OS; what Create and Open use) and
// [github.com/sealfs/sealfs/store/memstore] (memory);
// [github.com/sealfs/sealfs/store/storetest] is the conformance suite a new
// store must pass. [New] opens a vault whose config and key the caller
// already holds; [Init] makes an empty store a vault.
//
// Related packages: [github.com/sealfs/sealfs/fsck] checks and repairs a
// vault in any store, [github.com/sealfs/sealfs/reverse] is the encrypted
// view of a plaintext tree (gocryptfs -reverse),
// [github.com/sealfs/sealfs/fusefs] mounts a vault (Linux), and
// [github.com/sealfs/sealfs/vault] reads and writes the config.
//
// # Reading and writing
//
// [*FS] implements [fs.FS], [fs.ReadDirFS], [fs.ReadFileFS], [fs.StatFS] and
// [fs.ReadLinkFS], so [fs.WalkDir], [fs.Glob] and testing/fstest work on a
// vault. The write side has the names and meanings of package os:
// [FS.OpenFile] (with O_CREATE, O_EXCL, O_TRUNC, O_APPEND), [FS.Mkdir],
// [FS.MkdirAll], [FS.Remove], [FS.RemoveAll], [FS.Unlink] and [FS.Rmdir]
// (which remove only their own kind, as unlink(2) and rmdir(2) do),
// [FS.Rename] and [FS.Rename2], [FS.Symlink], [FS.Link], [FS.Chmod],
// [FS.Chown], [FS.Lchown], [FS.Chtimes], [FS.Truncate], and extended
// attributes ([FS.Getxattr] and the rest). A [*File] supports Read, Write,
// [File.ReadAt] and [File.WriteAt] at any offset (sparse files stay
// sparse), [File.Seek] (also SEEK_DATA and SEEK_HOLE), Truncate, Sync, Stat
// and ReadDir.
//
// All methods are safe for concurrent use. Handles of the same file (also
// through hard links) share one read-modify-write engine and lock, so
// concurrent writers never tear a block.
//
// Paths are io/fs paths: slash-separated, relative to the root of the
// vault, "." for the root. Symlinks are followed inside the vault; one that
// points outside gives ErrEscapes.
//
// # Errors
//
// Errors are [*fs.PathError] values naming the plaintext path. Test them
// with [errors.Is]: [fs.ErrNotExist], [fs.ErrExist], [ErrCorrupt]
// (ciphertext that failed authentication: wrong bytes are never returned;
// the same value as fsck.ErrCorrupt and content.ErrCorrupt), [ErrReadOnly],
// [ErrNameTooLong], [github.com/sealfs/sealfs/vault.ErrWrongPassword], and the underlying
// [syscall.Errno]. A [*CorruptError] ([errors.As]) gives the offset of a
// corrupt block.
//
// Damage that the FS can work around, such as a name in a directory that
// does not decrypt, is left out of the result and reported to
// [Options].OnCorrupt.
//
// The library never prints, exits, or reads the environment; diagnostics go
// to [Options].Logger when one is set.
package sealfs
