// SPDX-License-Identifier: Apache-2.0
/*
 * Resource limits on a sandbox cgroup, in the v2 or the v1 dialect, and the
 * OOM-kill counter that tells a memory-limit kill from any other SIGKILL.
 *
 * The memory limit bounds RAM and swap together (v1 memory.memsw, v2
 * memory.swap.max = 0): with swap allowed on top, a sandbox at its limit
 * would page out instead of being stopped, and the limit would not mean
 * what the client asked for.
 */
#define LOG_MOD "cgroup"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/util.h"
#include "cgroup_internal.h"

#define V1_SHARES_MIN 2
#define V1_SHARES_MAX 262144

int cg_read_at(int dirfd, const char *name, char *buf, size_t len)
{
	_cleanup_close_ int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = af_read_full(fd, buf, len - 1);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	return 0;
}

/* Is `word` one of the space-separated words of `list`? */
static bool has_word(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') &&
		    (p[n] == '\0' || p[n] == ' ' || p[n] == '\n'))
			return true;
	return false;
}

/*
 * The root offers a controller to agentfense/ through its own
 * subtree_control (systemd hosts have that already); agentfense/ offers it
 * to the sandbox cgroups through its subtree_control. The sandbox cgroups
 * enable nothing below themselves, so init and e<N> children may share them.
 */
void cg_v2_enable(struct cg_ctx *c)
{
	char avail[512], below[512], knob[64];

	if (cg_read_at(c->mount_fd, "cgroup.controllers", avail,
		       sizeof(avail)) < 0)
		return;
	if (cg_read_at(c->mount_fd, CG_SUBTREE "/cgroup.controllers", below,
		       sizeof(below)) < 0)
		below[0] = '\0';
	for (int k = 0; k < CG_N_CTRL; k++) {
		const char *name = cg_ctrl_name(k);
		int r = 0;

		if (!has_word(avail, name))
			continue;
		snprintf(knob, sizeof(knob), "+%s", name);
		if (!has_word(below, name))
			r = af_write_file_at(c->mount_fd,
					     "cgroup.subtree_control", knob);
		if (r == 0)
			r = af_write_file_at(
				c->mount_fd,
				CG_SUBTREE "/cgroup.subtree_control", knob);
		c->v2_ctrl[k] = r == 0;
		if (r < 0)
			log_errno(r,
				  "cannot enable the %s controller for "
				  "sandboxes",
				  name);
	}
}

static int set_u64(int dirfd, const char *knob, uint64_t v)
{
	char buf[32];
	int r;

	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	r = af_write_file_at(dirfd, knob, buf);
	if (r < 0)
		log_errno(r, "cannot set %s to %s", knob, buf);
	return r;
}

/* A knob that only some kernels have (swap accounting may be off). */
static int set_optional(int dirfd, const char *knob, uint64_t v)
{
	if (faccessat(dirfd, knob, F_OK, 0) < 0 && errno == ENOENT)
		return 0;
	return set_u64(dirfd, knob, v);
}

static uint64_t clamp_shares(uint64_t shares)
{
	if (shares < V1_SHARES_MIN)
		return V1_SHARES_MIN;
	return shares > V1_SHARES_MAX ? V1_SHARES_MAX : shares;
}

static int apply_v2(int fd, enum cg_ctrl k, const struct cg_limits *l)
{
	char buf[64];
	int r = 0;

	switch (k) {
	case CG_MEMORY:
		r = set_u64(fd, "memory.max", l->memory_bytes);
		if (r == 0)
			r = set_optional(fd, "memory.swap.max", 0);
		break;
	case CG_PIDS:
		r = set_u64(fd, "pids.max", l->pids_max);
		break;
	case CG_CPU:
		if (l->cpu_quota_us) {
			snprintf(buf, sizeof(buf), "%" PRIu64 " %d",
				 l->cpu_quota_us, CG_CPU_PERIOD_US);
			r = af_write_file_at(fd, "cpu.max", buf);
			if (r < 0)
				log_errno(r, "cannot set cpu.max to %s", buf);
		}
		/* The kernel's own mapping of the v1 share range to weights. */
		if (r == 0 && l->cpu_shares)
			r = set_u64(fd, "cpu.weight",
				    1 + (clamp_shares(l->cpu_shares) - 2) *
						    9999 / 262142);
		break;
	default:
		break;
	}
	return r;
}

static int apply_v1(int fd, enum cg_ctrl k, const struct cg_limits *l)
{
	int r = 0;

	switch (k) {
	case CG_MEMORY:
		/* memsw may never be below the plain limit: set that first. */
		r = set_u64(fd, "memory.limit_in_bytes", l->memory_bytes);
		if (r == 0)
			r = set_optional(fd, "memory.memsw.limit_in_bytes",
					 l->memory_bytes);
		break;
	case CG_PIDS:
		r = set_u64(fd, "pids.max", l->pids_max);
		break;
	case CG_CPU:
		if (l->cpu_quota_us) {
			r = set_u64(fd, "cpu.cfs_period_us", CG_CPU_PERIOD_US);
			if (r == 0)
				r = set_u64(fd, "cpu.cfs_quota_us",
					    l->cpu_quota_us);
		}
		if (r == 0 && l->cpu_shares)
			r = set_u64(fd, "cpu.shares",
				    clamp_shares(l->cpu_shares));
		break;
	default:
		break;
	}
	return r;
}

int cg_apply_limits(struct cg_sandbox *s, const struct cg_limits *l)
{
	const bool want[CG_N_CTRL] = {
		[CG_MEMORY] = l->memory_bytes != 0,
		[CG_PIDS] = l->pids_max != 0,
		[CG_CPU] = l->cpu_quota_us || l->cpu_shares,
	};
	int r;

	for (int k = 0; k < CG_N_CTRL; k++) {
		if (!want[k])
			continue;
		r = s->ctx->v2_ctrl[k] ? apply_v2(s->dirfd, k, l)
				       : apply_v1(s->v1_fd[k], k, l);
		if (r < 0)
			return r;
	}
	return 0;
}

/* The value of "KEY N" among the lines of a cgroup stats file. */
static uint64_t stat_value(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n')) {
		if (*p == '\n')
			p++;
		if (!strncmp(p, key, n) && p[n] == ' ')
			return strtoull(p + n + 1, NULL, 10);
	}
	return 0;
}

uint64_t cg_sandbox_oom_kills(const struct cg_sandbox *s)
{
	char buf[1024] = "";
	int r;

	if (s->ctx->v2_ctrl[CG_MEMORY])
		r = cg_read_at(s->dirfd, "memory.events", buf, sizeof(buf));
	else if (s->v1_fd[CG_MEMORY] >= 0)
		r = cg_read_at(s->v1_fd[CG_MEMORY], "memory.oom_control", buf,
			       sizeof(buf));
	else
		return 0;
	return r < 0 ? 0 : stat_value(buf, "oom_kill");
}
