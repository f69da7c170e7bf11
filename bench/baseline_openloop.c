// SPDX-License-Identifier: Apache-2.0
/*
 * The open-heavy workload: N open+close pairs cycling over the files
 * DIR/f0 .. DIR/f<count-1>; prints nanoseconds per pair. Static, so it
 * runs the same inside a sandbox and on the host.
 *   baseline_openloop DIR COUNT N [CPU]
 * With CPU, it runs on that CPU only: the configurations a bench compares
 * then share one core (the cores of a VM need not be alike).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "pin_cpu.h"

int main(int argc, char **argv)
{
	struct timespec a, b;
	char path[4096];
	long count, n;

	if (argc != 4 && argc != 5)
		return 2;
	count = atol(argv[2]);
	n = atol(argv[3]);
	if (count <= 0 || n <= 0)
		return 2;
	if (argc == 5 && pin_cpu(argv[4]) < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/f%ld", argv[1], i % count);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			perror(path);
			return 1;
		}
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("%.1f\n", ((double)(b.tv_sec - a.tv_sec) * 1e9 +
			  (double)(b.tv_nsec - a.tv_nsec)) /
				 (double)n);
	return 0;
}
