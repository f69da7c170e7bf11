/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit: BPF event streams from sandboxed processes. For now the sandbox
 * exec tracer (bpf/exec_trace.bpf.c): one event per execve inside a
 * sandbox, logged at debug level. Loading is best effort: without BPF the
 * daemon runs on and says why once.
 */
#ifndef AGENTFENSE_AUDIT_H
#define AGENTFENSE_AUDIT_H

#include <stdint.h>

struct audit;

/* sandbox_level: depth of sandbox cgroups in the v2 hierarchy. */
int audit_start(int sandbox_level, struct audit **out);
void audit_stop(struct audit *a);
/* Start / stop tracing a sandbox (no-ops when a is NULL). */
int audit_sandbox_add(struct audit *a, uint64_t cgroup_id, const char *id);
int audit_sandbox_remove(struct audit *a, uint64_t cgroup_id);

#endif
