/* SPDX-License-Identifier: Apache-2.0 */
/*
 * cgroup: sandbox identity and resource limits.
 *
 * Every sandbox owns CG2/agentfense/<sandbox-id> on the cgroup v2 hierarchy
 * (its inode number is the cgroup id the BPF programs key on), and each
 * command runs in a child CG2/agentfense/<sandbox-id>/e<N> so that a timeout
 * can kill exactly the command's process tree with cgroup.kill. Nothing is
 * created outside the agentfense subtree.
 */
#ifndef AGENTFENSE_CGROUP_H
#define AGENTFENSE_CGROUP_H

#include <stdbool.h>
#include <stdint.h>

struct cg_ctx;
struct cg_sandbox;

/* Finds the cgroup v2 mount (unified or hybrid layout), creates the subtree. */
int cg_ctx_new(struct cg_ctx **out);
void cg_ctx_free(struct cg_ctx *c);
/* "unified" or "hybrid". */
const char *cg_layout(const struct cg_ctx *c);
/* Depth of sandbox cgroups below the v2 root (for bpf_get_current_ancestor_cgroup_id). */
int cg_sandbox_level(const struct cg_ctx *c);
/* Kill and remove leftovers of an earlier daemon (reconciliation). */
int cg_reap_stale(struct cg_ctx *c, bool (*keep)(const char *name, void *ud),
		  void *ud);

int cg_sandbox_create(struct cg_ctx *c, const char *name,
		      struct cg_sandbox **out);
uint64_t cg_sandbox_id(const struct cg_sandbox *s);
/* O_DIRECTORY fd of the sandbox's v2 cgroup (to write into cgroup.procs). */
int cg_sandbox_dirfd(const struct cg_sandbox *s);
/* Create the child cgroup e<n>; returns its directory fd (caller closes). */
int cg_exec_create(struct cg_sandbox *s, uint64_t n, int *dirfd);
/*
 * Kill every process in e<n> (and below) and remove the cgroup, waiting up
 * to timeout_ms for it to empty.
 */
int cg_exec_destroy(struct cg_sandbox *s, uint64_t n, int timeout_ms);
/* Kill every process of the sandbox; wait until empty; remove all cgroups. */
int cg_sandbox_destroy(struct cg_sandbox *s, int timeout_ms);
/* Frees the handle only (after cg_sandbox_destroy, or at daemon exit). */
void cg_sandbox_free(struct cg_sandbox *s);

#endif
