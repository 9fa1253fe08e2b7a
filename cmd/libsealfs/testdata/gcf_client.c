/*
 * A libgocryptfs client, the way DroidFS uses the library: create a
 * volume, unlock it (and by the cached scrypt hash), work with files and
 * directories, change the password. Built by libsealfs_test.go against the
 * header cgo writes; argv[1] is an empty directory. It leaves a vault with
 * the password "new password" holding keep.txt and final/data.bin.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "libsealfs.h"

static GoString gs(const char *s) { GoString g = {s, (ptrdiff_t)strlen(s)}; return g; }
static GoSlice sl(void *p, size_t n) { GoSlice s = {p, (GoInt)n, (GoInt)n}; return s; }
static GoSlice none(void) { GoSlice s = {NULL, 0, 0}; return s; }


static int zeros(const unsigned char *p, size_t n) {
	for (size_t i = 0; i < n; i++)
		if (p[i]) return 0;
	return 1;
}

/* write_file writes data to path through a new handle. */
static void write_file(GoInt v, const char *path, const void *data, size_t n, GoUint64 off) {
	GoInt h = gcf_open_write_mode(v, gs(path), 0644);
	CHECK(h >= 0);
	CHECK(gcf_write_file(v, h, off, sl((void *)data, n)) == n);
	gcf_close_file(v, h);
}

/* listing returns the names of a directory as "a,b," and checks the types. */
static char *listing(GoInt v, const char *dir, int want_dirs) {
	struct gcf_list_dir_return l = gcf_list_dir(v, gs(dir));
	CHECK(l.r0 != NULL && l.r1 != NULL);
	static char out[4096];
	out[0] = 0;
	const char *p = l.r0;
	int dirs = 0;
	for (int i = 0; i < l.r2; i++) {
		strcat(out, p);
		strcat(out, ",");
		p += strlen(p) + 1;
		if (S_ISDIR(l.r1[i])) dirs++;
	}
	CHECK(dirs == want_dirs);
	free(l.r0);
	free(l.r1);
	return out;
}

int main(int argc, char **argv) {
	CHECK(argc == 2);
	const char *dir = argv[1];
	unsigned char hash[32], hash2[32];

	char pw[] = "droid password";
	CHECK(gcf_create_volume(gs(dir), sl(pw, strlen(pw)), 0, 0, 10, gs("gcf client"), sl(hash, 32)));
	CHECK(zeros((unsigned char *)pw, strlen("droid password"))); /* wiped */
	CHECK(!zeros(hash, 32));
	char pw1[] = "droid password";
	CHECK(!gcf_create_volume(gs(dir), sl(pw1, strlen(pw1)), 0, 0, 10, gs("again"), none())); /* not empty */

	char pw2[] = "droid password";
	GoInt v = gcf_init(gs(dir), sl(pw2, strlen(pw2)), none(), sl(hash2, 32));
	CHECK(v >= 0);
	CHECK(zeros((unsigned char *)pw2, strlen("droid password")));
	CHECK(memcmp(hash, hash2, 32) == 0);
	CHECK(!gcf_is_closed(v));

	/* Files and directories. */
	CHECK(gcf_mkdir(v, gs("/docs"), 0755));
	CHECK(!gcf_mkdir(v, gs("/docs"), 0755));
	const char *text = "written through the C ABI\n";
	write_file(v, "/docs/note.txt", text, strlen(text), 0);
	static unsigned char big[300000], back[300000];
	for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7 + (i >> 12));
	write_file(v, "/docs/note.txt", big, sizeof big, 100000);
	GoInt h = gcf_open_read_mode(v, gs("/docs/note.txt"));
	CHECK(h >= 0);
	char buf[64];
	CHECK(gcf_read_file(v, h, 0, sl(buf, strlen(text))) == strlen(text));
	CHECK(memcmp(buf, text, strlen(text)) == 0);
	CHECK(gcf_read_file(v, h, 100000, sl(back, sizeof back)) == sizeof back);
	CHECK(memcmp(back, big, sizeof big) == 0);
	CHECK(gcf_read_file(v, h, 50000, sl(buf, 16)) == 16 && zeros((unsigned char *)buf, 16)); /* the hole */
	CHECK(gcf_read_file(v, h, 100000 + sizeof big, sl(buf, 16)) == 0);                      /* the end */
	CHECK(gcf_write_file(v, h, 0, sl(buf, 1)) == 0);                                         /* read-only */
	gcf_close_file(v, h);

	struct gcf_get_attrs_return a = gcf_get_attrs(v, gs("/docs/note.txt"));
	CHECK(a.r3 && S_ISREG(a.r0) && (a.r0 & 0777) == 0644 && a.r1 == 100000 + sizeof big && a.r2 > 1600000000);
	a = gcf_get_attrs(v, gs("/docs"));
	CHECK(a.r3 && S_ISDIR(a.r0));
	CHECK(strcmp(listing(v, "/docs", 0), "note.txt,") == 0);
	CHECK(strcmp(listing(v, "/", 1), "docs,") == 0); /* no gocryptfs.conf, no diriv */

	CHECK(gcf_rename(v, gs("/docs/note.txt"), gs("/docs/renamed.txt")));
	CHECK(!gcf_get_attrs(v, gs("/docs/note.txt")).r3);
	CHECK(gcf_truncate(v, gs("/docs/renamed.txt"), 10));
	CHECK(gcf_get_attrs(v, gs("docs/renamed.txt")).r1 == 10);
	CHECK(!gcf_rmdir(v, gs("/docs"))); /* not empty */
	CHECK(gcf_remove_file(v, gs("/docs/renamed.txt")));
	CHECK(!gcf_remove_file(v, gs("/docs/renamed.txt")));
	CHECK(gcf_rmdir(v, gs("/docs")));
	write_file(v, "/keep.txt", "kept\n", 5, 0);
	CHECK(gcf_mkdir(v, gs("/final"), 0700));
	write_file(v, "/final/data.bin", big, sizeof big, 0);

	/* Bad input: a clear failure, no crash. */
	CHECK(gcf_open_read_mode(v, gs("/missing")) == -1);
	CHECK(gcf_open_read_mode(v, gs("/../outside")) == -1);
	CHECK(gcf_read_file(v, 99, 0, sl(buf, 8)) == 0);
	CHECK(gcf_write_file(v, 99, 0, sl(buf, 8)) == 0);
	gcf_close_file(v, 99);
	CHECK(!gcf_get_attrs(v, gs("/missing")).r3);
	CHECK(gcf_list_dir(v, gs("/missing")).r0 == NULL);
	CHECK(gcf_open_read_mode(12345, gs("/keep.txt")) == -1);

	gcf_close(v);
	CHECK(gcf_is_closed(v));
	CHECK(gcf_open_read_mode(v, gs("/keep.txt")) == -1);
	gcf_close(v); /* twice: nothing happens */

	/* Unlock by the cached hash (DroidFS' fingerprint unlock). */
	memcpy(hash2, hash, 32);
	v = gcf_init(gs(dir), none(), sl(hash2, 32), none());
	CHECK(v >= 0);
	h = gcf_open_read_mode(v, gs("/keep.txt"));
	CHECK(h >= 0 && gcf_read_file(v, h, 0, sl(buf, 5)) == 5 && memcmp(buf, "kept\n", 5) == 0);
	gcf_close(v); /* closes the handle too */

	char wrong[] = "wrong";
	CHECK(gcf_init(gs(dir), sl(wrong, strlen(wrong)), none(), none()) == -2);
	hash2[0] ^= 1;
	CHECK(gcf_init(gs(dir), none(), sl(hash2, 32), none()) == -2);
	char pw3[] = "droid password";
	CHECK(gcf_init(gs("/nonexistent/dir"), sl(pw3, strlen(pw3)), none(), none()) == -1);

	/* Change the password; the new hash comes back. */
	char oldpw[] = "droid password", newpw[] = "new password";
	unsigned char newhash[32] = {0};
	CHECK(gcf_change_password(gs(dir), sl(oldpw, strlen(oldpw)), none(), sl(newpw, strlen(newpw)), sl(newhash, 32)));
	CHECK(!zeros(newhash, 32) && memcmp(newhash, hash, 32) != 0);
	char oldpw2[] = "droid password";
	CHECK(gcf_init(gs(dir), sl(oldpw2, strlen(oldpw2)), none(), none()) == -2);
	memcpy(hash2, hash, 32);
	CHECK(gcf_init(gs(dir), none(), sl(hash2, 32), none()) == -2);
	v = gcf_init(gs(dir), none(), sl(newhash, 32), none());
	CHECK(v >= 0);
	gcf_close(v);
	char newpw2[] = "new password";
	v = gcf_init(gs(dir), sl(newpw2, strlen(newpw2)), none(), none());
	CHECK(v >= 0);
	gcf_close(v);

	printf("ok\n");
	return 0;
}
