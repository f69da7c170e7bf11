/* SPDX-License-Identifier: Apache-2.0 */
/* Layouts shared by lsm_test.bpf.c and its user-space callers. */
#ifndef AGENTFENSE_LSM_TEST_H
#define AGENTFENSE_LSM_TEST_H

#include "lsm.h"

/*
 * ctx of the test_* programs, one per hook: fd's struct file or dentry,
 * fd2's for link and rename (-1: none), op where the hook takes one, arg1
 * and arg2 as the hook's other arguments (ioctl cmd; mmap prot, flags;
 * mprotect vm_flags, prot; rename flags and the verdict of the program
 * that ran before).
 */
struct af_lsm_test_args {
	__s32 fd;
	__s32 fd2;
	__u32 op;
	__u32 pad;
	__u64 arg1;
	__u64 arg2;
	__u64 cgid;  /* out: the task's cgroup id at sandbox_cg_level */
	__s32 ret;   /* out: 0 or -errno, as the LSM program would return */
	__s32 found; /* out: the objects' files were found */
};

/* ctx of path_of: the workspace path of fd's dentry goes to test_out. */
struct af_lsm_test_path {
	__s32 fd;
	__s32 ret; /* out: index of the path's first byte, or -errno */
	__u32 len; /* out: bytes */
	__u32 pad;
};

struct af_lsm_test_out {
	__u8 path[AF_PM_PATH_MAX];
};

#endif
