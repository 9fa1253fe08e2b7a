/*
 * Reverse mode through the C API: argv[1] is a plaintext tree; this makes
 * its reverse config, opens the encrypted view and copies it, file by
 * file, into the empty directory argv[2] (which is then a vault with the
 * password "reverse password"). Changes to the view must fail with EROFS.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "libsealfs.h"

static int64_t vol;

static void copy_tree(const char *vpath, const char *out) {
	int64_t d = sealfs_opendir(vol, vpath);
	CHECK(d >= 0);
	char name[1024], vchild[4096], ochild[4096];
	uint32_t type;
	int64_t r;
	while ((r = sealfs_readdir(vol, d, name, sizeof name, &type)) == 1) {
		snprintf(vchild, sizeof vchild, "%s/%s", vpath, name);
		snprintf(ochild, sizeof ochild, "%s/%s", out, name);
		if (S_ISDIR(type)) {
			CHECK(mkdir(ochild, 0700) == 0);
			copy_tree(vchild, ochild);
			continue;
		}
		CHECK(S_ISREG(type));
		int64_t f = sealfs_file_open(vol, vchild, O_RDONLY, 0);
		CHECK(f >= 0);
		FILE *w = fopen(ochild, "wb");
		CHECK(w != NULL);
		static char buf[1 << 16];
		int64_t off = 0, n;
		while ((n = sealfs_pread(vol, f, buf, sizeof buf, off)) > 0) {
			CHECK(fwrite(buf, 1, (size_t)n, w) == (size_t)n);
			off += n;
		}
		CHECK(n == 0);
		CHECK(fclose(w) == 0);
		CHECK(sealfs_file_close(vol, f) == 0);
	}
	CHECK(r == 0);
	CHECK(sealfs_closedir(vol, d) == 0);
}

int main(int argc, char **argv) {
	CHECK(argc == 3);
	char pw[] = "reverse password";
	struct sealfs_create_opts o = {.scrypt_logn = 10};
	CHECK(sealfs_create_reverse(argv[1], pw, strlen(pw), &o) == 0);
	char pw2[] = "reverse password";
	CHECK(sealfs_create_reverse(argv[1], pw2, strlen(pw2), &o) == -EEXIST);
	char wrong[] = "wrong";
	CHECK(sealfs_open_reverse(argv[1], wrong, strlen(wrong), NULL) == SEALFS_EPASSWORD);
	char pw3[] = "reverse password";
	vol = sealfs_open_reverse(argv[1], pw3, strlen(pw3), NULL);
	CHECK(vol >= 0);
	struct sealfs_stat st;
	CHECK(sealfs_stat(vol, "gocryptfs.conf", &st) == 0 && S_ISREG(st.mode));
	CHECK(sealfs_mkdir(vol, "x", 0700) == -EROFS);
	CHECK(sealfs_file_open(vol, "new", O_WRONLY | O_CREAT, 0600) == -EROFS);
	CHECK(sealfs_unlink(vol, "gocryptfs.conf") == -EROFS);
	copy_tree("", argv[2]);
	CHECK(sealfs_close(vol) == 0);
	printf("ok\n");
	return 0;
}
