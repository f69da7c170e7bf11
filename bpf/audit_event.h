/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit event: one record per file operation an audit source reports.
 * Shared by the BPF programs (the bpf-lsm enforcer, bpf/lsm_core.h; the
 * trace source, bpf/audit_trace.bpf.c), the daemon (src/audit) and afctl.
 *
 * The bpf-lsm programs write fixed-size records; the trace source writes
 * only the header and the path with its NUL (AF_AUDIT_EVENT_SIZE(len)), so
 * a consumer reads path_len bytes and never past the record it was given.
 * Events that do not fit in a ring buffer are counted (globally and per
 * sandbox), never silently lost.
 */
#ifndef AGENTFENSE_AUDIT_EVENT_H
#define AGENTFENSE_AUDIT_EVENT_H

#ifndef __bpf__
#include <linux/types.h>
#include <stddef.h>
#endif

#define AF_AUDIT_COMM_LEN 16

/*
 * Ring buffer submit flags (BPF_RB_*, spelled here so user space need not
 * include the BPF UAPI). Waking the reader for every record costs the
 * producer more than the record: sources submit without a wakeup until a
 * buffer is an eighth full, and their readers drain on a short timer.
 */
#define AF_BPF_RB_NO_WAKEUP  1
#define AF_BPF_RB_FORCE_WAKE 2

#ifdef __bpf__
/* The submit flag for a record going into rb. */
#define AF_RB_WAKE_FLAG(rb, wake_bytes)                            \
	(bpf_ringbuf_query((rb), BPF_RB_AVAIL_DATA) > (wake_bytes) \
		 ? AF_BPF_RB_FORCE_WAKE                            \
		 : AF_BPF_RB_NO_WAKEUP)
#endif
/* "/workspace" + a path of up to AF_PM_PATH_MAX bytes + NUL, rounded up */
#define AF_AUDIT_PATH_MAX 4112

enum af_audit_decision {
	AF_AUDIT_ALLOW = 1,
	AF_AUDIT_DENY = 2,
};

/*
 * What a sandbox's audit records besides denials, which are always
 * recorded: the value in the sources' per-sandbox map entries.
 */
enum af_audit_mode {
	AF_AUDIT_MODE_DENIED = 0, /* denials only */
	AF_AUDIT_MODE_WRITES = 1, /* and allowed operations that change files */
	AF_AUDIT_MODE_ALL = 2,	  /* and every allowed operation */
};

/* flags */
#define AF_AUDIT_F_UNRESOLVED 0x1u /* path could not be walked: fail closed */
/*
 * Trace source: the path is the name the process passed, joined to the
 * directory it was relative to; "." and ".." are resolved by name, symbolic
 * links are not. Without this flag the path was read from the kernel's own
 * dentry of the object (exact).
 */
#define AF_AUDIT_F_AS_PASSED 0x2u
/* Trace source: relative to a directory outside /workspace; kept as passed. */
#define AF_AUDIT_F_BASE_UNKNOWN 0x4u
/* The path was longer than AF_AUDIT_PATH_MAX - 1 bytes and is cut there. */
#define AF_AUDIT_F_TRUNCATED 0x8u

struct af_audit_event {
	__u64 ts_ns;	 /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u64 cgroup_id; /* the sandbox's cgroup (v2 id) */
	__u32 pid;	 /* host pid (thread group id) */
	__u32 tid;
	__u32 uid;	/* host uid */
	__u16 op;	/* enum af_lsm_op (bpf/lsm.h) */
	__u8 decision;	/* enum af_audit_decision */
	__u8 flags;	/* AF_AUDIT_F_* */
	__s32 err;	/* errno returned (positive), 0 when allowed */
	__u32 path_len; /* bytes in path, NUL excluded */
	char comm[AF_AUDIT_COMM_LEN];
	/* As the sandbox sees it: "/workspace/src/a.py"; "?" if unresolved. */
	char path[AF_AUDIT_PATH_MAX];
};

/* Bytes of a record whose path has len bytes (its NUL included). */
#define AF_AUDIT_EVENT_SIZE(len) \
	(__builtin_offsetof(struct af_audit_event, path) + (len) + 1)

/* Is an event worth a record under mode? Denials always are. */
static inline __attribute__((always_inline)) int
af_audit_wanted(__u32 mode, int denied, int writes)
{
	return denied || mode == AF_AUDIT_MODE_ALL ||
	       (mode == AF_AUDIT_MODE_WRITES && writes);
}

#endif
