/*
 * Sequential throughput through the C ABI: makes a vault in argv[1],
 * writes argv[2] MiB to one file in 1 MiB pwrites, reads it back in 1 MiB
 * preads, and prints "WRITE_MBps READ_MBps".
 */
#include <fcntl.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "libsealfs.h"

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
	CHECK(argc == 3);
	long mib = atol(argv[2]);
	char pw[] = "bench";
	struct sealfs_create_opts o = {.scrypt_logn = 10};
	int64_t vol = sealfs_create(argv[1], pw, strlen(pw), &o);
	CHECK(vol >= 0);
	static char buf[1 << 20];
	memset(buf, 'x', sizeof buf);
	int64_t f = sealfs_file_open(vol, "seq.bin", O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(f >= 0);
	/* Warm up the library's runtime (its heap and buffer pools), as the Go
	 * side's benchmark process is. */
	for (int round = 0; round < 2; round++)
		for (long i = 0; i < 32; i++) {
			CHECK(sealfs_pwrite(vol, f, buf, sizeof buf, (int64_t)i << 20) == sizeof buf);
			CHECK(sealfs_pread(vol, f, buf, sizeof buf, (int64_t)i << 20) == sizeof buf);
		}
	CHECK(sealfs_ftruncate(vol, f, 0) == 0);
	double t0 = now();
	for (long i = 0; i < mib; i++) CHECK(sealfs_pwrite(vol, f, buf, sizeof buf, (int64_t)i << 20) == sizeof buf);
	CHECK(sealfs_fsync(vol, f) == 0);
	double t1 = now();
	for (long i = 0; i < mib; i++) CHECK(sealfs_pread(vol, f, buf, sizeof buf, (int64_t)i << 20) == sizeof buf);
	double t2 = now();
	CHECK(sealfs_file_close(vol, f) == 0);
	CHECK(sealfs_close(vol) == 0);
	printf("%.1f %.1f\n", mib / (t1 - t0), mib / (t2 - t1));
	return 0;
}
