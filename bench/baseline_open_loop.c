// SPDX-License-Identifier: Apache-2.0
/*
 * open_loop PATH N [RATE [CPU]]: N times open(PATH, O_RDONLY) and close, as
 * fast as possible (RATE 0) or paced at RATE opens per second, on CPU only
 * when given (so that compared runs share one core: a VM's cores need not
 * be alike); prints the elapsed nanoseconds and the opens that failed.
 * bench/b_audit.py runs it inside a sandbox (uploaded into the workspace) to
 * price the audit trail, so it is self-contained and links nothing of ours.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "pin_cpu.h"

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ull +
	       (unsigned long long)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	unsigned long long n, rate = 0, t0, failed = 0;

	if (argc < 3 || argc > 5) {
		fprintf(stderr, "usage: %s PATH N [RATE [CPU]]\n", argv[0]);
		return 2;
	}
	n = strtoull(argv[2], NULL, 10);
	if (argc >= 4)
		rate = strtoull(argv[3], NULL, 10);
	if (argc == 5 && pin_cpu(argv[4]) < 0)
		return 1;
	t0 = now_ns();
	for (unsigned long long i = 0; i < n; i++) {
		int fd;

		/* Paced: wait for this open's slot (a busy wait is exact). */
		if (rate)
			while (now_ns() - t0 < i * 1000000000ull / rate)
				;
		fd = open(argv[1], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			failed++;
		else
			close(fd);
	}
	printf("%llu %llu\n", now_ns() - t0, failed);
	return 0;
}
