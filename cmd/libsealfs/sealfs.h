/*
 * sealfs.h: the C interface of libsealfs beyond libgocryptfs' gcf_* calls.
 *
 * Build: go build -buildmode=c-shared -o libsealfs.so ./cmd/libsealfs
 * (scripts/build-libsealfs.sh DIR also copies this header beside the
 * generated libsealfs.h, which includes it). Include "libsealfs.h".
 *
 * Conventions:
 *  - A volume (an unlocked vault) and an open file or directory are
 *    int64_t handles >= 0.
 *  - Functions return >= 0 on success and a negative error code on
 *    failure: -errno (-ENOENT, -EEXIST, -EACCES, -EBADF for an unknown
 *    handle or a closed volume, -EFAULT for a NULL pointer, ...) or one of
 *    the SEALFS_E* codes below. sealfs_strerror describes any of them.
 *  - Paths are UTF-8 C strings relative to the root of the vault ("a/b",
 *    a leading "/" is allowed; "" and "/" are the root). Symlinks inside
 *    the vault are followed where POSIX follows them; one that leaves the
 *    vault gives -EXDEV.
 *  - Passwords are (pointer, length) pairs and are wiped (set to zero)
 *    before the call returns.
 *  - Every function is safe to call from many threads at once, on one
 *    volume and on one file.
 */
#ifndef SEALFS_H
#define SEALFS_H

#include <stddef.h>
#include <stdint.h>

/* Constant pointers as cgo can name them (the same types as const char *,
 * const void * and const struct sealfs_create_opts *). */
typedef const char sealfs_cchar;
typedef const void sealfs_cvoid;
typedef const struct sealfs_create_opts sealfs_ccreate_opts;

/* Errors beyond errno. */
#define SEALFS_EPASSWORD (-10001) /* wrong password or master key */
#define SEALFS_ECORRUPT (-10002)  /* ciphertext failed authentication */
#define SEALFS_ECONFIG (-10003)   /* the config file is missing or invalid */

/* sealfs_create_opts.cipher */
#define SEALFS_AES_GCM 0
#define SEALFS_AES_SIV 1
#define SEALFS_XCHACHA 2

struct sealfs_create_opts {
	int cipher;              /* SEALFS_AES_GCM (default), SEALFS_AES_SIV, SEALFS_XCHACHA */
	int plaintext_names;     /* do not encrypt names */
	int deterministic_names; /* no per-directory IVs */
	int longnamemax;         /* hash encrypted names longer than this (62..255; 0 = 255) */
	int scrypt_logn;         /* scrypt cost (10..28; 0 = 16) */
	const char *creator;     /* written into the config; NULL = "sealfs" */
	const char *config_path; /* config file elsewhere than DIR/gocryptfs.conf; NULL = there */
};

/* sealfs_open flags */
#define SEALFS_RDONLY 1

struct sealfs_stat {
	uint64_t dev, ino, nlink;
	uint32_t mode; /* st_mode: type and permissions */
	uint32_t uid, gid;
	uint64_t rdev;
	int64_t size;   /* plaintext size */
	int64_t blocks; /* 512-byte blocks of the ciphertext */
	int64_t atime_sec, atime_nsec;
	int64_t mtime_sec, mtime_nsec;
	int64_t ctime_sec, ctime_nsec;
};

struct sealfs_statfs {
	uint64_t bsize, blocks, bfree, bavail, files, ffree;
	uint64_t namelen;
};

/* Describes an error code of this library (a static string). */
const char *sealfs_strerror(int64_t err);

/* Makes a new vault in the empty directory dir; returns the open volume. */
int64_t sealfs_create(const char *dir, char *password, size_t password_len, const struct sealfs_create_opts *opts);
/* Unlocks the vault in dir (config_path NULL = dir/gocryptfs.conf). */
int64_t sealfs_open(const char *dir, char *password, size_t password_len, const char *config_path, int flags);
/* Unlocks with the master key (hex, dashes allowed) instead of the password. */
int64_t sealfs_open_masterkey(const char *dir, const char *masterkey_hex, const char *config_path, int flags);
/* Closes the volume and its open files and wipes its keys. */
int64_t sealfs_close(int64_t vol);
/* Re-wraps the master key with a new password; no data is rewritten. */
int64_t sealfs_change_password(const char *dir, const char *config_path, char *old_password, size_t old_len, char *new_password, size_t new_len);

/* Files: flags are open(2)'s (O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND). */
int64_t sealfs_file_open(int64_t vol, const char *path, int flags, uint32_t mode);
/* Reads up to n bytes at off; returns the number read (0 at the end). */
int64_t sealfs_pread(int64_t vol, int64_t file, void *buf, size_t n, int64_t off);
/* Writes n bytes at off (at the end with O_APPEND); returns the number written. */
int64_t sealfs_pwrite(int64_t vol, int64_t file, const void *buf, size_t n, int64_t off);
int64_t sealfs_ftruncate(int64_t vol, int64_t file, int64_t size);
int64_t sealfs_fsync(int64_t vol, int64_t file);
int64_t sealfs_fstat(int64_t vol, int64_t file, struct sealfs_stat *st);
int64_t sealfs_file_close(int64_t vol, int64_t file);

/* Directories: sealfs_readdir copies the next name (NUL-terminated) into
 * name and its type (st_mode type bits) into *type; returns 1, or 0 at the
 * end, or -ERANGE when cap is too small for the name. */
int64_t sealfs_opendir(int64_t vol, const char *path);
int64_t sealfs_readdir(int64_t vol, int64_t dir, char *name, size_t cap, uint32_t *type);
int64_t sealfs_closedir(int64_t vol, int64_t dir);

/* Objects. sealfs_rename flags: 1 = RENAME_NOREPLACE, 2 = RENAME_EXCHANGE. */
int64_t sealfs_stat(int64_t vol, const char *path, struct sealfs_stat *st);
int64_t sealfs_lstat(int64_t vol, const char *path, struct sealfs_stat *st);
int64_t sealfs_mkdir(int64_t vol, const char *path, uint32_t mode);
int64_t sealfs_rmdir(int64_t vol, const char *path);
int64_t sealfs_unlink(int64_t vol, const char *path);
int64_t sealfs_rename(int64_t vol, const char *from, const char *to, unsigned int flags);
int64_t sealfs_symlink(int64_t vol, const char *target, const char *path);
/* Copies the target (NUL-terminated) into buf; returns its length, or -ERANGE. */
int64_t sealfs_readlink(int64_t vol, const char *path, char *buf, size_t cap);
int64_t sealfs_link(int64_t vol, const char *from, const char *to);
int64_t sealfs_chmod(int64_t vol, const char *path, uint32_t mode);
int64_t sealfs_chown(int64_t vol, const char *path, int64_t uid, int64_t gid);
/* Times in nanoseconds since 1970; -1 leaves that time unchanged. */
int64_t sealfs_utimens(int64_t vol, const char *path, int64_t atime_ns, int64_t mtime_ns);
int64_t sealfs_truncate(int64_t vol, const char *path, int64_t size);
int64_t sealfs_statfs(int64_t vol, struct sealfs_statfs *st);

/* Reverse mode: the encrypted view of a plaintext directory (gocryptfs
 * -reverse), read-only; a copy of it is a vault. sealfs_create_reverse
 * writes plaindir/.gocryptfs.reverse.conf (AES-SIV; of opts only
 * scrypt_logn, creator and config_path count). The volume
 * sealfs_open_reverse returns takes the read calls; changes give -EROFS. */
int64_t sealfs_create_reverse(const char *plaindir, char *password, size_t password_len, const struct sealfs_create_opts *opts);
int64_t sealfs_open_reverse(const char *plaindir, char *password, size_t password_len, const char *config_path);

/* Checking a vault (gocryptfs -fsck). The callback hears of each problem
 * as it is found, from one thread at a time; the strings are valid during
 * the call only, and plain_path is NULL when the name does not decrypt.
 * flags: SEALFS_FSCK_REPAIR applies the safe repairs (see the README),
 * with SEALFS_FSCK_DRY_RUN only plans them. Returns the number of errors
 * found (warnings not counted), after a repair those left, or a negative
 * error code when the check could not run. */
struct sealfs_finding {
	const char *cipher_path;
	const char *plain_path;
	int warning;
	int64_t block; /* first corrupt block of a file, or -1 */
	const char *message;
};
typedef void (*sealfs_fsck_cb)(void *ctx, const struct sealfs_finding *finding);
#define SEALFS_FSCK_REPAIR 1
#define SEALFS_FSCK_DRY_RUN 2
int64_t sealfs_fsck(const char *dir, char *password, size_t password_len, const char *config_path, int flags,
		    sealfs_fsck_cb callback, void *ctx);

/* Extended attributes (encrypted in the vault, as gocryptfs stores them).
 * sealfs_getxattr copies the value into buf and returns its size; with cap
 * 0 it only returns the size; -ERANGE if cap is too small; -ENODATA if
 * there is no such attribute. sealfs_listxattr writes the names, each
 * followed by a NUL byte, the same way. flags: XATTR_CREATE, XATTR_REPLACE. */
int64_t sealfs_getxattr(int64_t vol, const char *path, const char *name, void *buf, size_t cap);
int64_t sealfs_setxattr(int64_t vol, const char *path, const char *name, const void *value, size_t size, int flags);
int64_t sealfs_listxattr(int64_t vol, const char *path, char *buf, size_t cap);
int64_t sealfs_removexattr(int64_t vol, const char *path, const char *name);

#endif
