// Package webdavfs serves a vault over WebDAV (RFC 4918, classes 1 and 2),
// so that every OS can use it with its own client (Finder, Explorer,
// davfs2, rclone, phone file managers) without FUSE.
//
// New serves the plaintext view of an unlocked *sealfs.FS read-write;
// NewReadOnly serves any fs.FS read-only (for example the encrypted view of
// github.com/sealfs/sealfs/reverse). The result is an http.Handler that Go
// programs mount in their own servers; BasicAuth puts HTTP basic
// authentication in front of it. The protocol itself is
// golang.org/x/net/webdav; this package adapts the vault to it and adds
// what that package leaves to its users:
//
//   - Uploads replace a file only when complete: a PUT writes a hidden
//     temporary file beside its target (named with UploadPrefix, never
//     listed and never reachable by a request) and renames it over the
//     target once the whole body has arrived. A PUT that is cut off, or
//     whose write fails (the disk is full), leaves the old file as it was.
//     The new file keeps the permissions of the file it replaces (not its
//     extended attributes). A PUT to a symlink, or to a file with other hard
//     links, writes in place. A temporary file that a killed
//     server left behind is removed by the first listing of its directory
//     an hour after its last write.
//   - Conditional requests: If-Match and If-None-Match on every method (GET
//     and HEAD also If-Modified-Since, If-Range and ranges, by net/http).
//     ETags name the inode, size, mtime and ctime of a file.
//   - Modification times: PROPPATCH of DAV:lastmodified (Unix seconds, as
//     ownCloud and rclone send it), of Win32LastModifiedTime and
//     Win32LastAccessTime (Windows' WebDAV client), and the X-OC-Mtime
//     header on PUT. Win32CreationTime and Win32FileAttributes are accepted
//     and not kept (a vault has no birth time or DOS attributes to set).
//     Other properties cannot be set (403).
//   - Quota: DAV:quota-available-bytes and DAV:quota-used-bytes (RFC 4331)
//     of a directory, from the statfs of the vault's file system, when a
//     PROPFIND names them.
//   - Limits: PROPFIND needs Depth 0 or 1 (Depth infinity, also implied by
//     a missing header, is refused with 403 and the propfind-finite-depth
//     precondition); request bodies other than PUT's are limited to
//     Options.MaxRequestBody; a COPY or MOVE of a directory into itself is
//     refused (403); the root cannot be deleted or moved.
//   - Errors carry the status a client can act on: 403 for permissions, a
//     read-only vault and symlinks that leave the vault, 507 when the disk is
//     full, 409 for a directory that is not empty, 400 for a name too long
//     for the vault, 500 for ciphertext that fails authentication (its
//     bytes are never sent: a GET whose data turns out corrupt is cut off).
//
// Paths are resolved inside the vault: a request path is cleaned as an
// absolute path ("/../x" is "/x"; percent-encoded slashes are slashes), and
// symlinks are followed only while they stay inside the vault. Symlinks that
// point outside or nowhere, FIFOs, sockets and devices are left out of
// listings and cannot be opened. Reverse views (NewReadOnly on a source
// with an Lstat method) show symlinks not at all.
//
// macOS: Finder stores extended attributes and resource forks of files on
// WebDAV servers as AppleDouble files ("._NAME") and folder view settings
// as ".DS_Store". They are stored like any other file, encrypted, so that
// a Mac gets its metadata back; other systems see them as ordinary hidden
// files (as they would on a gocryptfs mount written by a Mac).
//
// Locks are kept in memory (webdav.NewMemLS) unless Options.LockSystem
// names another lock system; they are advisory among WebDAV clients and do
// not reach other users of the vault.
package webdavfs
