/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The trace audit source: what bpf/audit_trace.bpf.c and its loader
 * (src/audit/trace.c) agree on. It reports the file operations of
 * sandboxed tasks where the bpf-lsm enforcer (which reports its own
 * decisions) does not run, from tracepoints: the exit of the file system
 * calls, with their errno, and sched_process_exec.
 *
 * Maps
 * ----
 *   audit_sandboxes  HASH, sandbox cgroup id -> struct af_audit_sandbox;
 *                    the one lookup a file system call of a task pays.
 *   audit_trace_rb   RINGBUF of variable-size struct af_audit_event
 *                    (bpf/audit_event.h); its size is set by the loader.
 *   audit_scratch    PERCPU_ARRAY, one event under construction per CPU
 *                    and program.
 *   audit_tasks      TASK_STORAGE, a sandboxed task's copy of its entry in
 *                    audit_sandboxes (valid while .bss sandboxes_gen, which
 *                    the loader bumps at every removal, is unchanged).
 * .bss allowed_wanted counts the sandboxes that record allowed operations:
 * at 0 a successful call is done with after its number is decoded.
 */
#ifndef AGENTFENSE_AUDIT_TRACE_H
#define AGENTFENSE_AUDIT_TRACE_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define AF_AUDIT_SANDBOXES_MAX 4096
/* Default ring buffer bytes (a power of two, at least a page). */
#define AF_AUDIT_RINGBUF_BYTES (8u << 20)

/* Where the loader pins programs and maps: AF_LSM_PIN_ROOT/audit-PID-START */
#define AF_AUDIT_PIN_PREFIX "audit-"

struct af_audit_sandbox {
	/*
	 * The kernel dev_t (major << 20 | minor) of the sandbox's /workspace:
	 * objects on that file system are the workspace's.
	 */
	__u64 ws_dev;
	__u32 mode; /* enum af_audit_mode */
	__u32 reserved;
	/* This sandbox's events lost to a full ring buffer. */
	__u64 dropped;
};

#endif
