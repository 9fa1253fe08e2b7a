/*
 * The sealfs_* API from C: every call, its error paths (wrong password,
 * missing files, bad handles, closed volumes, NULL pointers), and many
 * threads writing and reading one volume and one file at once. argv[1] is
 * an empty directory; the vault is left with the password "api password".
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "check.h"
#include "libsealfs.h"

#define OK(call)                                                                                  \
	do {                                                                                      \
		int64_t r_ = (call);                                                              \
		if (r_ < 0) {                                                                     \
			fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, sealfs_strerror(r_)); \
			exit(1);                                                                  \
		}                                                                                 \
	} while (0)

enum { THREADS = 16, CHUNK = 10000 };
static int64_t vol, shared;

/* Each thread writes its own file and its own range of the shared file,
 * then reads both back. */
static void *worker(void *arg) {
	long id = (long)arg;
	unsigned char buf[CHUNK], back[CHUNK];
	memset(buf, 'a' + (int)id, sizeof buf);
	char path[64];
	snprintf(path, sizeof path, "threads/t%ld", id);
	for (int round = 0; round < 20; round++) {
		int64_t f = sealfs_file_open(vol, path, O_RDWR | O_CREAT, 0600);
		CHECK(f >= 0);
		CHECK(sealfs_pwrite(vol, f, buf, sizeof buf, (int64_t)round * CHUNK) == CHUNK);
		CHECK(sealfs_pread(vol, f, back, sizeof back, (int64_t)round * CHUNK) == CHUNK);
		CHECK(memcmp(buf, back, CHUNK) == 0);
		OK(sealfs_file_close(vol, f));
		CHECK(sealfs_pwrite(vol, shared, buf, sizeof buf, id * CHUNK) == CHUNK);
		CHECK(sealfs_pread(vol, shared, back, sizeof back, id * CHUNK) == CHUNK);
		CHECK(memcmp(buf, back, CHUNK) == 0);
		struct sealfs_stat st;
		OK(sealfs_stat(vol, path, &st));
	}
	return NULL;
}

int main(int argc, char **argv) {
	CHECK(argc == 2);
	const char *dir = argv[1];
	char pw[] = "api password";
	struct sealfs_create_opts o = {.cipher = SEALFS_XCHACHA, .scrypt_logn = 10, .creator = "api client"};
	vol = sealfs_create(dir, pw, strlen(pw), &o);
	CHECK(vol >= 0);
	CHECK(pw[0] == 0); /* wiped */

	/* Files. */
	int64_t f = sealfs_file_open(vol, "/hello.txt", O_RDWR | O_CREAT | O_EXCL, 0640);
	CHECK(f >= 0);
	CHECK(sealfs_pwrite(vol, f, "hello, C\n", 9, 0) == 9);
	CHECK(sealfs_pwrite(vol, f, "tail", 4, 1 << 20) == 4); /* sparse */
	struct sealfs_stat st;
	OK(sealfs_fstat(vol, f, &st));
	CHECK(st.size == (1 << 20) + 4 && S_ISREG(st.mode) && (st.mode & 0777) == 0640 && st.nlink == 1);
	char buf[64];
	CHECK(sealfs_pread(vol, f, buf, 9, 0) == 9 && memcmp(buf, "hello, C\n", 9) == 0);
	CHECK(sealfs_pread(vol, f, buf, 16, 4096) == 16);
	for (int i = 0; i < 16; i++) CHECK(buf[i] == 0);
	CHECK(sealfs_pread(vol, f, buf, 16, (1 << 20) + 4) == 0); /* end */
	OK(sealfs_ftruncate(vol, f, 9));
	OK(sealfs_fsync(vol, f));
	OK(sealfs_file_close(vol, f));
	CHECK(sealfs_file_close(vol, f) == -EBADF);
	CHECK(sealfs_file_open(vol, "hello.txt", O_RDWR | O_CREAT | O_EXCL, 0600) == -EEXIST);
	f = sealfs_file_open(vol, "hello.txt", O_WRONLY | O_APPEND, 0);
	CHECK(f >= 0);
	CHECK(sealfs_pwrite(vol, f, "more\n", 5, 0) == 5); /* appended */
	OK(sealfs_file_close(vol, f));
	OK(sealfs_stat(vol, "hello.txt", &st));
	CHECK(st.size == 14);

	/* Directories and names. */
	OK(sealfs_mkdir(vol, "d", 0755));
	CHECK(sealfs_mkdir(vol, "d", 0755) == -EEXIST);
	OK(sealfs_symlink(vol, "../hello.txt", "d/link"));
	CHECK(sealfs_readlink(vol, "d/link", buf, sizeof buf) == 12 && strcmp(buf, "../hello.txt") == 0);
	CHECK(sealfs_readlink(vol, "d/link", buf, 5) == -ERANGE);
	OK(sealfs_stat(vol, "d/link", &st));
	CHECK(S_ISREG(st.mode));
	OK(sealfs_lstat(vol, "d/link", &st));
	CHECK(S_ISLNK(st.mode));
	OK(sealfs_link(vol, "hello.txt", "d/hard"));
	OK(sealfs_stat(vol, "hello.txt", &st));
	CHECK(st.nlink == 2);
	OK(sealfs_chmod(vol, "d/hard", 0600));
	OK(sealfs_utimens(vol, "d/hard", -1, 1000000000LL * 1234567890));
	OK(sealfs_stat(vol, "hello.txt", &st));
	CHECK((st.mode & 0777) == 0600 && st.mtime_sec == 1234567890);
	OK(sealfs_rename(vol, "d/hard", "d/renamed", 0));
	OK(sealfs_file_close(vol, sealfs_file_open(vol, "d/other", O_CREAT | O_WRONLY, 0600)));
	CHECK(sealfs_rename(vol, "d/renamed", "d/other", 1) == -EEXIST); /* RENAME_NOREPLACE */
	OK(sealfs_truncate(vol, "d/other", 100));
	int64_t dh = sealfs_opendir(vol, "d");
	CHECK(dh >= 0);
	char name[256];
	uint32_t type;
	int n = 0, links = 0;
	int64_t r;
	CHECK(sealfs_readdir(vol, dh, name, 2, &type) == -ERANGE); /* kept for the next call */
	while ((r = sealfs_readdir(vol, dh, name, sizeof name, &type)) == 1) {
		n++;
		if (S_ISLNK(type)) links++;
	}
	CHECK(r == 0 && n == 3 && links == 1);
	OK(sealfs_closedir(vol, dh));
	CHECK(sealfs_closedir(vol, dh) == -EBADF);
	CHECK(sealfs_rmdir(vol, "d") == -ENOTEMPTY);
	OK(sealfs_unlink(vol, "d/link"));
	OK(sealfs_unlink(vol, "d/renamed"));
	OK(sealfs_unlink(vol, "d/other"));
	OK(sealfs_rmdir(vol, "d"));
	/* Extended attributes. */
	OK(sealfs_setxattr(vol, "hello.txt", "user.color", "blue", 4, 0));
	CHECK(sealfs_setxattr(vol, "hello.txt", "user.color", "red", 3, XATTR_CREATE) == -EEXIST);
	CHECK(sealfs_getxattr(vol, "hello.txt", "user.color", NULL, 0) == 4);
	CHECK(sealfs_getxattr(vol, "hello.txt", "user.color", buf, 2) == -ERANGE);
	CHECK(sealfs_getxattr(vol, "hello.txt", "user.color", buf, sizeof buf) == 4 && memcmp(buf, "blue", 4) == 0);
	CHECK(sealfs_listxattr(vol, "hello.txt", buf, sizeof buf) == 11 && strcmp(buf, "user.color") == 0);
	CHECK(sealfs_getxattr(vol, "hello.txt", "user.none", buf, sizeof buf) == -ENODATA);
	OK(sealfs_removexattr(vol, "hello.txt", "user.color"));
	CHECK(sealfs_listxattr(vol, "hello.txt", NULL, 0) == 0);
	struct sealfs_statfs sf;
	OK(sealfs_statfs(vol, &sf));
	CHECK(sf.bsize > 0 && sf.blocks > 0);

	/* Errors: a clear code, no crash. */
	CHECK(sealfs_stat(vol, "missing", &st) == -ENOENT);
	CHECK(sealfs_file_open(vol, "missing/x", O_RDONLY, 0) == -ENOENT);
	CHECK(sealfs_file_open(vol, "../escape", O_RDONLY, 0) < 0);
	CHECK(sealfs_pread(vol, 999, buf, 1, 0) == -EBADF);
	CHECK(sealfs_stat(vol, NULL, &st) == -EFAULT);
	CHECK(sealfs_stat(vol, "hello.txt", NULL) == -EFAULT);
	CHECK(sealfs_readdir(vol, 42, name, sizeof name, &type) == -EBADF);
	CHECK(sealfs_stat(777, "hello.txt", &st) == -EBADF);
	CHECK(strcmp(sealfs_strerror(-ENOENT), "no such file or directory") == 0);
	CHECK(strlen(sealfs_strerror(SEALFS_EPASSWORD)) > 0);

	/* Many threads on one volume and one file. */
	OK(sealfs_mkdir(vol, "threads", 0700));
	shared = sealfs_file_open(vol, "threads/shared", O_RDWR | O_CREAT, 0600);
	CHECK(shared >= 0);
	pthread_t th[THREADS];
	for (long i = 0; i < THREADS; i++) CHECK(pthread_create(&th[i], NULL, worker, (void *)i) == 0);
	for (int i = 0; i < THREADS; i++) CHECK(pthread_join(th[i], NULL) == 0);
	OK(sealfs_fstat(vol, shared, &st));
	CHECK(st.size == THREADS * CHUNK);
	OK(sealfs_file_close(vol, shared));

	int64_t held = sealfs_file_open(vol, "hello.txt", O_RDONLY, 0);
	CHECK(held >= 0);
	OK(sealfs_close(vol));
	CHECK(sealfs_close(vol) == -EBADF);
	CHECK(sealfs_pread(vol, held, buf, 1, 0) == -EBADF); /* closed with the volume */
	CHECK(sealfs_stat(vol, "hello.txt", &st) == -EBADF);

	/* Unlocking. */
	char wrong[] = "wrong";
	CHECK(sealfs_open(dir, wrong, strlen(wrong), NULL, 0) == SEALFS_EPASSWORD);
	CHECK(sealfs_open("/nonexistent", wrong, 5, NULL, 0) < 0);
	CHECK(sealfs_open(NULL, wrong, 5, NULL, 0) == -EFAULT);
	char old[] = "api password", nw[] = "new api password";
	OK(sealfs_change_password(dir, NULL, old, strlen(old), nw, strlen(nw)));
	char old2[] = "api password";
	CHECK(sealfs_open(dir, old2, strlen(old2), NULL, 0) == SEALFS_EPASSWORD);
	char nw2[] = "new api password";
	vol = sealfs_open(dir, nw2, strlen(nw2), NULL, SEALFS_RDONLY);
	CHECK(vol >= 0);
	CHECK(sealfs_mkdir(vol, "ro", 0700) == -EROFS);
	f = sealfs_file_open(vol, "hello.txt", O_RDONLY, 0);
	CHECK(f >= 0 && sealfs_pread(vol, f, buf, 14, 0) == 14 && memcmp(buf, "hello, C\nmore\n", 14) == 0);
	OK(sealfs_close(vol));
	char back[] = "new api password", again[] = "api password";
	OK(sealfs_change_password(dir, NULL, back, strlen(back), again, strlen(again)));
	printf("ok\n");
	return 0;
}
