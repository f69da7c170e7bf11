/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bpf-lsm enforcer: what bpf/lsm.bpf.c and its loader
 * (src/enforce/bpf_lsm.c) agree on. Map values, operation codes, limits,
 * pin names. Compiled into BPF programs and into user space.
 *
 * Maps
 * ----
 *   af_sandboxes  HASH, sandbox cgroup id -> struct af_lsm_sandbox. The one
 *                 lookup every hooked operation of every task pays; absent
 *                 means "not sandboxed, allow".
 *   af_policies   HASH_OF_MAPS, sandbox cgroup id -> one-entry ARRAY whose
 *                 value is the sandbox's matcher blob (bpf/policy_match.h).
 *   audit_events  RINGBUF of struct af_audit_event (bpf/audit_event.h).
 *   af_scratch    TASK_STORAGE, the path buffer of one check (per task, so
 *                 a preempted check never shares it with another).
 */
#ifndef AGENTFENSE_LSM_H
#define AGENTFENSE_LSM_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#include "policy_match.h"

#define AF_LSM_SANDBOXES_MAX 4096
/* Bytes of the ring buffer (a power of two): ~1000 full-size events. */
#define AF_LSM_RINGBUF_BYTES (4u << 20)
/* A name longer than this cannot exist (NAME_MAX); the walk refuses it. */
#define AF_LSM_NAME_MAX 255u
/*
 * Components a path walk follows at most: a path of AF_PM_PATH_MAX bytes
 * has at most half as many, so the length limit always trips first.
 */
#define AF_LSM_DEPTH_MAX (AF_PM_PATH_MAX / 2)
/*
 * The path buffer: a path is built right-aligned, ending at AF_PM_PATH_MAX;
 * the slack behind it keeps every name copy provably in bounds.
 */
#define AF_LSM_BUF_BYTES (AF_PM_PATH_MAX + AF_LSM_NAME_MAX + 1)
/* How often a walk torn by a concurrent rename is retried. */
#define AF_LSM_WALK_TRIES 3

/* The prefix the sandbox sees its workspace under (audit paths). */
#define AF_LSM_WORKSPACE     "/workspace"
#define AF_LSM_WORKSPACE_LEN 10

/*
 * Where the loader pins links and maps: AF_LSM_PIN_ROOT/bpf-lsm-PID-START,
 * holding link-PROG and map-MAP (bpffs refuses names with dots).
 */
#define AF_LSM_BPFFS	  "/sys/fs/bpf"
#define AF_LSM_PIN_ROOT	  "/sys/fs/bpf/agentfense"
#define AF_LSM_PIN_PREFIX "bpf-lsm-"

struct af_lsm_sandbox {
	/*
	 * The kernel dev_t (major << 20 | minor) of the sandbox's /workspace
	 * overlay. 0 until the sandbox init reported it: during init's own
	 * set-up, before any untrusted code runs, nothing is checked.
	 */
	__u64 ws_dev;
	/* enum af_audit_mode: which allowed operations are reported too. */
	__u32 audit_mode;
	__u32 reserved;
	/* This sandbox's audit events lost to a full ring buffer. */
	__u64 audit_dropped;
};

/*
 * What is being done to a path. The level an operation needs and whether
 * it makes a new entry are in af_lsm_op_need() (bpf/lsm_decide.h).
 */
enum af_lsm_op {
	AF_OP_NONE = 0,
	AF_OP_STAT,	  /* stat, lstat (inode_getattr) */
	AF_OP_OPEN_DIR,	  /* opendir */
	AF_OP_OPEN_READ,  /* open O_RDONLY */
	AF_OP_EXEC,	  /* execve (open with FMODE_EXEC) */
	AF_OP_MMAP,	  /* mmap / mprotect, read or exec */
	AF_OP_OPEN_WRITE, /* open for write or with O_TRUNC */
	AF_OP_MMAP_WRITE, /* shared writable mapping */
	AF_OP_TRUNCATE,	  /* truncate(2) */
	AF_OP_CHMOD,
	AF_OP_CHOWN,
	AF_OP_SETATTR,	/* utimes and other attribute changes */
	AF_OP_XATTR,	/* setxattr, removexattr, POSIX ACLs */
	AF_OP_FILEATTR, /* FS_IOC_SETFLAGS, FS_IOC_FSSETXATTR */
	AF_OP_UNLINK,
	AF_OP_RMDIR,
	AF_OP_LINK_SRC,	  /* the existing file of link(2) */
	AF_OP_RENAME_SRC, /* what is moved (a directory with its subtree) */
	AF_OP_CREATE,	  /* creat, open O_CREAT, mknod */
	AF_OP_MKDIR,
	AF_OP_SYMLINK,
	AF_OP_LINK_DST,	  /* the new name of link(2) */
	AF_OP_RENAME_DST, /* the new name of rename(2) */
	AF_OP_COUNT,
};

#endif
