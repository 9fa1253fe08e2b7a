/*
 * sealfs_fsck from C: a new vault checks clean; after a byte of a file's
 * ciphertext is flipped the check reports it through the callback (with
 * the plaintext path) and counts it; a repair leaves no error. argv[1] is
 * an empty directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "libsealfs.h"

struct seen {
	int findings;
	char plain[256];
	char message[512];
};

static void on_finding(void *ctx, const struct sealfs_finding *f) {
	struct seen *s = ctx;
	s->findings++;
	if (f->plain_path) snprintf(s->plain, sizeof s->plain, "%s", f->plain_path);
	snprintf(s->message, sizeof s->message, "%s", f->message);
}

static char pw[32];
static char *password(void) { strcpy(pw, "fsck password"); return pw; }

int main(int argc, char **argv) {
	CHECK(argc == 2);
	struct sealfs_create_opts o = {.scrypt_logn = 10};
	int64_t vol = sealfs_create(argv[1], password(), 13, &o);
	CHECK(vol >= 0);
	int64_t f = sealfs_file_open(vol, "victim.txt", O_RDWR | O_CREAT, 0600);
	CHECK(f >= 0);
	static char data[10000];
	memset(data, 'v', sizeof data);
	CHECK(sealfs_pwrite(vol, f, data, sizeof data, 0) == sizeof data);
	CHECK(sealfs_close(vol) == 0);

	struct seen s = {0};
	CHECK(sealfs_fsck(argv[1], password(), 13, NULL, 0, on_finding, &s) == 0);
	CHECK(s.findings == 0);
	CHECK(sealfs_fsck(argv[1], password(), 5, NULL, 0, on_finding, &s) == SEALFS_EPASSWORD);

	/* Flip a byte in the content of the only encrypted file. */
	DIR *d = opendir(argv[1]);
	CHECK(d != NULL);
	struct dirent *e;
	char victim[4096] = "";
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && strncmp(e->d_name, "gocryptfs.", 10) != 0)
			snprintf(victim, sizeof victim, "%s/%s", argv[1], e->d_name);
	closedir(d);
	CHECK(victim[0] != 0);
	int fd = open(victim, O_RDWR);
	CHECK(fd >= 0);
	char b;
	CHECK(pread(fd, &b, 1, 18 + 16 + 100) == 1);
	b ^= 0x55;
	CHECK(pwrite(fd, &b, 1, 18 + 16 + 100) == 1);
	close(fd);

	CHECK(sealfs_fsck(argv[1], password(), 13, NULL, 0, on_finding, &s) == 1);
	CHECK(s.findings == 1);
	CHECK(strcmp(s.plain, "victim.txt") == 0);
	CHECK(strlen(s.message) > 0);
	CHECK(sealfs_fsck(argv[1], password(), 13, NULL, 0, NULL, NULL) == 1); /* no callback */
	CHECK(sealfs_fsck(argv[1], password(), 13, NULL, SEALFS_FSCK_REPAIR, NULL, NULL) == 0);
	printf("ok\n");
	return 0;
}
