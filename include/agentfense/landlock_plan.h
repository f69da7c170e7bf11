/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Landlock plan: what the daemon (src/enforce/landlock.c) computes from
 * a sandbox's policy and tree, and the sandbox init applies (it opens each
 * path inside the sandbox's mount namespace, since Landlock rules attach to
 * the inodes of the sandbox's own view). Passed as a sealed memfd:
 *
 *   struct ll_plan_header
 *   n_rules x { struct ll_plan_rule; char path[path_len] }   (no NUL)
 *
 * Access-right values are Landlock's ABI (defined here: the system's
 * <linux/landlock.h> may predate the ABI the kernel offers).
 */
#ifndef AGENTFENSE_LANDLOCK_PLAN_H
#define AGENTFENSE_LANDLOCK_PLAN_H

#include <stdint.h>

#define LL_FS_EXECUTE	  (1ull << 0)
#define LL_FS_WRITE_FILE  (1ull << 1)
#define LL_FS_READ_FILE	  (1ull << 2)
#define LL_FS_READ_DIR	  (1ull << 3)
#define LL_FS_REMOVE_DIR  (1ull << 4)
#define LL_FS_REMOVE_FILE (1ull << 5)
#define LL_FS_MAKE_CHAR	  (1ull << 6)
#define LL_FS_MAKE_DIR	  (1ull << 7)
#define LL_FS_MAKE_REG	  (1ull << 8)
#define LL_FS_MAKE_SOCK	  (1ull << 9)
#define LL_FS_MAKE_FIFO	  (1ull << 10)
#define LL_FS_MAKE_BLOCK  (1ull << 11)
#define LL_FS_MAKE_SYM	  (1ull << 12)
#define LL_FS_REFER	  (1ull << 13) /* ABI 2 */
#define LL_FS_TRUNCATE	  (1ull << 14) /* ABI 3 */
#define LL_FS_IOCTL_DEV	  (1ull << 15) /* ABI 5 */

#define LL_SCOPE_ABSTRACT_UNIX_SOCKET (1ull << 0) /* ABI 6 */
#define LL_SCOPE_SIGNAL		      (1ull << 1) /* ABI 6 */

/* Rights that may be granted on a regular file (the rest are directory's). */
#define LL_FS_FILE_RIGHTS                                                      \
	(LL_FS_EXECUTE | LL_FS_WRITE_FILE | LL_FS_READ_FILE | LL_FS_TRUNCATE | \
	 LL_FS_IOCTL_DEV)

#define LL_PLAN_MAGIC	  "AFLLPLN1"
#define LL_PLAN_MAX_RULES (1u << 20)

struct ll_plan_header {
	char magic[8];
	uint32_t abi; /* the ABI the plan was made for */
	uint32_t n_rules;
	uint64_t handled_fs;
	uint64_t scoped;
};

struct ll_plan_rule {
	uint64_t access;
	uint16_t path_len; /* bytes of path following this struct */
	uint16_t pad[3];
};

/* The kernel's ruleset attributes, sized by ABI (8, 16 or 24 bytes). */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net; /* ABI 4 */
	uint64_t scoped;	     /* ABI 6 */
};

#endif
