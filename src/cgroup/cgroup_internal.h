/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the cgroup module's files; not part of its interface. */
#ifndef AF_CGROUP_INTERNAL_H
#define AF_CGROUP_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentfense/cgroup.h"

#define CG_SUBTREE "agentfense"

/* The controllers that carry limits. */
enum cg_ctrl { CG_MEMORY, CG_PIDS, CG_CPU, CG_N_CTRL };

struct cg_ctx {
	char v2_mount[PATH_MAX];
	bool hybrid;
	int mount_fd;		 /* the v2 mount; sandboxes under agentfense/ */
	bool v2_ctrl[CG_N_CTRL]; /* enabled for sandboxes on the v2 hierarchy */
	/* v1 hierarchy mounts, used for controllers v2 lacks; -1 if absent. */
	int v1_fd[CG_N_CTRL];
	char v1_mount[CG_N_CTRL][PATH_MAX];
	char prefix[40]; /* "<instance>-" or "" */
	int root_depth;	 /* of the v2 mount's root; -1: unknown */
};

#define CG_EXEC_SPARES 4

struct cg_sandbox {
	struct cg_ctx *ctx;
	char name[NAME_MAX + 1];
	int dirfd;
	uint64_t id;
	int v1_fd[CG_N_CTRL]; /* MNT/agentfense/<name> per v1 controller */
	/*
	 * Emptied exec cgroups kept for the next command: a mkdir and rmdir
	 * of a cgroup cost more than running `true` on a small host.
	 */
	pthread_mutex_t spare_lock;
	uint64_t spare[CG_EXEC_SPARES];
	size_t n_spare;
};

const char *cg_ctrl_name(enum cg_ctrl k);

/* limits.c */
/* Enable the controllers v2 offers in the agentfense subtree. */
void cg_v2_enable(struct cg_ctx *c);
int cg_apply_limits(struct cg_sandbox *s, const struct cg_limits *l);
/* Read a small cgroup file below dirfd into buf (NUL-terminated). */
int cg_read_at(int dirfd, const char *name, char *buf, size_t len);

/* v1.c: the v1 hierarchies of a hybrid host. */
int cg_v1_discover(struct cg_ctx *c, const struct cg_config *cfg);
void cg_v1_close(struct cg_ctx *c);
int cg_v1_create(struct cg_sandbox *s);
/* Remove the sandbox's v1 cgroups, killing stragglers first. */
int cg_v1_remove(struct cg_sandbox *s, int timeout_ms);
int cg_v1_reap(struct cg_ctx *c, bool (*keep)(const char *name, void *ud),
	       void *ud);
/* Is name one of this instance's sandbox cgroups, and not kept? */
bool cg_reapable(const struct cg_ctx *c, const char *name,
		 bool (*keep)(const char *name, void *ud), void *ud);

#endif
