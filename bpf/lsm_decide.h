/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The permission table (ARCHITECTURE §4) as code: from the matcher's answer
 * for a path (its info word, bpf/policy_match.h) and the operation, the
 * errno the operation gets. Pure functions, compiled into the BPF programs
 * and into user space, so tests can hold them against the table directly.
 *
 *   existing object, level none        ENOENT (it should not be there)
 *   existing object, level too low     EACCES
 *   moving a directory, floor < write  EACCES (something below is not write)
 *   new entry, level < write           EACCES, or ENOENT when its parent
 *                                      directory is itself hidden (none)
 */
#ifndef AGENTFENSE_LSM_DECIDE_H
#define AGENTFENSE_LSM_DECIDE_H

#include "lsm.h"

#define AF_LSM_ENOENT 2
#define AF_LSM_EACCES 13

#define AF_LEVEL_VIEW  2u
#define AF_LEVEL_READ  3u
#define AF_LEVEL_WRITE 4u

/* The level an operation needs on its path. */
AF_PM_INLINE __u32 af_lsm_op_need(__u32 op)
{
	switch (op) {
	case AF_OP_STAT:
	case AF_OP_OPEN_DIR:
		return AF_LEVEL_VIEW;
	case AF_OP_OPEN_READ:
	case AF_OP_EXEC:
	case AF_OP_MMAP:
		return AF_LEVEL_READ;
	default:
		/* Everything that changes something, and anything unknown. */
		return AF_LEVEL_WRITE;
	}
}

/* Operations that make a new entry at their path. */
AF_PM_INLINE int af_lsm_op_creates(__u32 op)
{
	return op == AF_OP_CREATE || op == AF_OP_MKDIR || op == AF_OP_SYMLINK ||
	       op == AF_OP_LINK_DST || op == AF_OP_RENAME_DST;
}

/*
 * Negative errno for op on a path whose walk ended in info, 0 to allow.
 * is_dir: the object is (or the new entry will be) a directory.
 * parent_hidden: for a new entry, its parent directory's level is none.
 */
AF_PM_INLINE int af_lsm_decide(__u32 info, int is_dir, __u32 op,
			       int parent_hidden)
{
	__u32 level = af_pm_level(info, is_dir);

	if (op == AF_OP_NONE || op >= AF_OP_COUNT)
		return -AF_LSM_EACCES;
	if (af_lsm_op_creates(op)) {
		if (level >= AF_LEVEL_WRITE)
			return 0;
		return parent_hidden ? -AF_LSM_ENOENT : -AF_LSM_EACCES;
	}
	if (level == AF_PM_LEVEL_NONE)
		return -AF_LSM_ENOENT;
	if (level < af_lsm_op_need(op))
		return -AF_LSM_EACCES;
	if (op == AF_OP_RENAME_SRC && is_dir &&
	    af_pm_floor(info) < AF_LEVEL_WRITE)
		return -AF_LSM_EACCES;
	return 0;
}

#endif
