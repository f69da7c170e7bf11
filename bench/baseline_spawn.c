// SPDX-License-Identifier: Apache-2.0
/*
 * Baseline for command benchmarks: run `/bin/sh -c CMD` N times with
 * posix_spawn (vfork-style, like the sandbox init) and print one duration
 * in nanoseconds per line.
 *   baseline_spawn N [CMD]
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	char *args[] = { "sh", "-c", argc > 2 ? argv[2] : "true", NULL };

	for (int i = 0; i < n; i++) {
		long long t = now_ns();
		pid_t pid;
		int st;

		if (posix_spawn(&pid, "/bin/sh", NULL, NULL, args, environ) !=
			    0 ||
		    waitpid(pid, &st, 0) < 0)
			return 1;
		printf("%lld\n", now_ns() - t);
	}
	return 0;
}
