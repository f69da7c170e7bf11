/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit event: one record in the `audit_events` ring buffer per
 * decision an enforcer program reports (denials). Shared by the BPF
 * programs, the daemon (src/enforce, src/audit) and afctl.
 *
 * Records are fixed-size; path is NUL-terminated and path_len bytes long.
 * Events that do not fit in the ring buffer are counted (the programs'
 * `audit_dropped` counter), never silently lost.
 */
#ifndef AGENTFENSE_AUDIT_EVENT_H
#define AGENTFENSE_AUDIT_EVENT_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define AF_AUDIT_COMM_LEN 16
/* "/workspace" + a path of up to AF_PM_PATH_MAX bytes + NUL, rounded up */
#define AF_AUDIT_PATH_MAX 4112

enum af_audit_decision {
	AF_AUDIT_ALLOW = 1,
	AF_AUDIT_DENY = 2,
};

/* flags */
#define AF_AUDIT_F_UNRESOLVED 0x1u /* path could not be walked: fail closed */

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

#endif
