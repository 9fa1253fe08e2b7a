/* CHECK(cond): the test programs' assertion: prints the failed condition
 * with its line and exits 1. */
#ifndef CHECK_H
#define CHECK_H
#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                                          \
	do {                                                                              \
		if (!(c)) {                                                               \
			fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c); \
			exit(1);                                                          \
		}                                                                         \
	} while (0)

#endif
