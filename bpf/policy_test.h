/* SPDX-License-Identifier: Apache-2.0 */
/* Layouts shared by policy_test.bpf.c and its user-space callers. */
#ifndef AGENTFENSE_POLICY_TEST_H
#define AGENTFENSE_POLICY_TEST_H

#include "policy_match.h"

#define AF_PM_TEST_SANDBOXES 16
#define AF_PM_TEST_CASES     64

/* One path to walk; the program writes info. */
struct af_pm_test_case {
	__u32 len;
	__u32 info;
	__u8 path[AF_PM_BUF_SIZE]; /* AF_PM_PATH_MAX + slack, see policy_match.h
				    */
};

/* ctx of run_cases: walk cases [0, ncases) under sandbox's blob. */
struct af_pm_test_args {
	__u64 sandbox;
	__u32 ncases;
	__u32 done;
};

/* ctx of bench_walk: walk case `index` reps times, report nanoseconds. */
struct af_pm_bench_args {
	__u64 sandbox;
	__u32 index;
	__u32 reps;
	__u64 walk_ns;	/* reps walks */
	__u64 empty_ns; /* reps empty iterations, the loop's own cost */
	__u32 info;
	__u32 pad;
};

#endif
