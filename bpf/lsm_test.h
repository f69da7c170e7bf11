/* SPDX-License-Identifier: Apache-2.0 */
/* Layouts shared by lsm_test.bpf.c and its user-space callers. */
#ifndef AGENTFENSE_LSM_TEST_H
#define AGENTFENSE_LSM_TEST_H

#include "lsm.h"

/* Which of lsm_hooks.h's decisions to run. */
enum af_lsm_test_hook {
	AF_T_FILE_OPEN = 1, /* the struct file of fd */
	AF_T_FILE_IOCTL,    /* fd; arg1 = cmd */
	AF_T_MMAP,	    /* fd; arg1 = prot, arg2 = flags */
	AF_T_MPROTECT,	    /* fd; arg1 = vm_flags, arg2 = prot */
	AF_T_OBJECT,	    /* fd's dentry; op */
	AF_T_NEW_ENTRY,	    /* fd's dentry stands for the new one; op */
	AF_T_LINK,	    /* fd linked as fd2's name */
	AF_T_RENAME,	    /* fd renamed to fd2's name; arg1 = flags */
};

/* ctx of run_hook. */
struct af_lsm_test_args {
	__s32 fd;
	__s32 fd2;
	__u32 hook;
	__u32 op;
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
