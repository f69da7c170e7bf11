/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup: sandbox identity and resource limits.
 *
 * Every sandbox owns CG2/agentfense/<sandbox-id> on the cgroup v2 hierarchy
 * (its inode number is the cgroup id the BPF programs key on), and each
 * command runs in a child CG2/agentfense/<sandbox-id>/e<N> so that a timeout
 * can kill exactly the command's process tree with cgroup.kill. Nothing is
 * created outside the agentfense subtree.
 *
 * Resource limits go on the sandbox cgroup: on the v2 hierarchy when it has
 * the memory/pids/cpu controllers (they are enabled in the agentfense
 * subtree), otherwise on the v1 hierarchies of a hybrid host, where the
 * sandbox owns MNT/agentfense/<sandbox-id> in each of the memory, pids and
 * cpu hierarchies. The sandbox init joins those v1 cgroups itself (see
 * cg_sandbox_v1_dirfds) and every command inherits them.
 */
#ifndef AGENTFENSE_CGROUP_H
#define AGENTFENSE_CGROUP_H

#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>

struct cg_ctx;
struct cg_sandbox;

/* Limits of one sandbox; 0 means none (the kernel's default). */
struct cg_limits {
	uint64_t memory_bytes; /* RAM and swap together */
	uint64_t cpu_quota_us; /* CPU time per 100 ms period (can exceed it) */
	uint64_t cpu_shares;   /* relative weight on the v1 scale 2..262144 */
	uint64_t pids_max;     /* tasks, the sandbox init and shells included */
};

#define CG_CPU_PERIOD_US 100000
#define CG_V1_MAX	 3 /* v1 hierarchies a sandbox may have to join */

/*
 * Where the hierarchies are. A NULL config (or v2_mount) finds them all in
 * /proc/self/mountinfo; with v2_mount set, the v1 members alone say which
 * v1 hierarchies exist. Tests point them at plain directories laid out
 * like cgroup mounts.
 */
struct cg_config {
	const char *v2_mount;
	const char *v1_memory, *v1_pids, *v1_cpu;
	/*
	 * Sandbox cgroups are named "<instance>-<sandbox id>": daemons with
	 * different state dirs on one host never reap each other's.
	 */
	const char *instance;
};

/* Finds the hierarchies (unified or hybrid layout), creates the subtrees. */
int cg_ctx_new(const struct cg_config *cfg, struct cg_ctx **out);
void cg_ctx_free(struct cg_ctx *c);
/* "unified" or "hybrid". */
const char *cg_layout(const struct cg_ctx *c);
/*
 * Absolute depth of sandbox cgroups in the v2 hierarchy (for
 * bpf_get_current_ancestor_cgroup_id), or -1 when it cannot be known (the
 * daemon runs in a cgroup namespace): BPF programs must then not be used.
 */
int cg_sandbox_level(const struct cg_ctx *c);
/* The sandbox cgroup's directory name ("<instance>-<id>"). */
const char *cg_sandbox_name(const struct cg_sandbox *s);
/*
 * Kill and remove leftovers of an earlier daemon of this instance
 * (reconciliation); other instances' cgroups are never touched.
 */
int cg_reap_stale(struct cg_ctx *c, bool (*keep)(const char *name, void *ud),
		  void *ud);

/*
 * 0 when the host can enforce every non-zero limit in l; otherwise
 * -EOPNOTSUPP and err names the missing controller.
 */
int cg_check_limits(const struct cg_ctx *c, const struct cg_limits *l,
		    char *err, size_t errlen);

/* Creates the sandbox's cgroups with the limits applied (l may be NULL). */
int cg_sandbox_create(struct cg_ctx *c, const char *name,
		      const struct cg_limits *l, struct cg_sandbox **out);
uint64_t cg_sandbox_id(const struct cg_sandbox *s);
/* O_DIRECTORY fd of the sandbox's v2 cgroup (to write into cgroup.procs). */
int cg_sandbox_dirfd(const struct cg_sandbox *s);
/*
 * O_DIRECTORY fds of the sandbox's v1 cgroups (hybrid hosts), at most
 * CG_V1_MAX, owned by the handle. The sandbox init writes itself into each
 * one's cgroup.procs before it unshares its cgroup namespace.
 */
size_t cg_sandbox_v1_dirfds(const struct cg_sandbox *s, int *fds);
/*
 * How many processes the kernel's OOM killer has killed in the sandbox
 * (v2 memory.events or v1 memory.oom_control "oom_kill"); 0 without a
 * memory limit.
 */
uint64_t cg_sandbox_oom_kills(const struct cg_sandbox *s);
/*
 * An empty child cgroup e<n> for one command: a spare one when there is
 * one (*n is set to its number), else a new one named by *n. Returns its
 * directory fd (caller closes).
 */
int cg_exec_create(struct cg_sandbox *s, uint64_t *n, int *dirfd);
/*
 * Kill every process in e<n> (and below), waiting up to timeout_ms for it
 * to empty; then keep it as a spare, or remove it when spares are full or
 * it did not empty cleanly.
 */
int cg_exec_destroy(struct cg_sandbox *s, uint64_t n, int timeout_ms);
/* Kill every process of the sandbox; wait until empty; remove all cgroups. */
int cg_sandbox_destroy(struct cg_sandbox *s, int timeout_ms);
/* Frees the handle only (after cg_sandbox_destroy, or at daemon exit). */
void cg_sandbox_free(struct cg_sandbox *s);

#endif
