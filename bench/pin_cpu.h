/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bench loops' CPU pinning: compared runs share one core (a VM's cores
 * need not be alike). Header-only: the loops link nothing of ours.
 */
#ifndef AGENTFENSE_BENCH_PIN_CPU_H
#define AGENTFENSE_BENCH_PIN_CPU_H

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

/* 0, or -1 after saying why. */
static inline int pin_cpu(const char *arg)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(atoi(arg), &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0) {
		perror("sched_setaffinity");
		return -1;
	}
	return 0;
}

#endif
