// SPDX-License-Identifier: Apache-2.0
/*
 * The cgroup v1 hierarchies of a hybrid host (memory, pids and cpu mounted
 * as v1 while the v2 hierarchy carries no controller). A sandbox owns
 * MNT/agentfense/<sandbox-id> in each; its init joins them before it enters
 * its cgroup namespace, so every command inherits the limits. Processes are
 * killed through the v2 cgroup (cgroup.kill); v1 has no such knob, so only
 * stragglers of a crashed daemon are killed here, one pidfd at a time.
 */
#define LOG_MOD "cgroup"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/util.h"
#include "cgroup_internal.h"

#define RETRY_MS 10

/* Does a mount's comma-separated super options list the controller? */
static bool opts_have(const char *opts, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = opts; p; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (!strncmp(p, name, n) && (p[n] == ',' || p[n] == '\0'))
			return true;
	}
	return false;
}

/* Mount points of v1 hierarchies, by controller, from mountinfo. */
static void find_v1_mounts(char (*out)[PATH_MAX])
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], mnt[PATH_MAX], fstype[64], opts[1024];

	while (f && fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		if (!sep ||
		    sscanf(sep, " - %63s %*s %1023s", fstype, opts) != 2 ||
		    strcmp(fstype, "cgroup") != 0 ||
		    sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		for (int k = 0; k < CG_N_CTRL; k++)
			if (!out[k][0] && opts_have(opts, cg_ctrl_name(k)))
				snprintf(out[k], PATH_MAX, "%s", mnt);
	}
}

int cg_v1_discover(struct cg_ctx *c, const struct cg_config *cfg)
{
	bool given = cfg && cfg->v2_mount;
	const char *paths[CG_N_CTRL] = { 0 };

	if (given) {
		paths[CG_MEMORY] = cfg->v1_memory;
		paths[CG_PIDS] = cfg->v1_pids;
		paths[CG_CPU] = cfg->v1_cpu;
		for (int k = 0; k < CG_N_CTRL; k++)
			if (paths[k])
				snprintf(c->v1_mount[k], PATH_MAX, "%s",
					 paths[k]);
	} else {
		find_v1_mounts(c->v1_mount);
	}
	for (int k = 0; k < CG_N_CTRL; k++) {
		int fd;

		if (c->v2_ctrl[k] || !c->v1_mount[k][0])
			continue;
		fd = open(c->v1_mount[k], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 ||
		    (mkdirat(fd, CG_SUBTREE, 0755) < 0 && errno != EEXIST)) {
			int r = log_errno(-errno, "cgroup v1 %s at %s",
					  cg_ctrl_name(k), c->v1_mount[k]);

			if (fd >= 0)
				close(fd);
			return r;
		}
		c->v1_fd[k] = fd;
	}
	return 0;
}

void cg_v1_close(struct cg_ctx *c)
{
	for (int k = 0; k < CG_N_CTRL; k++) {
		if (c->v1_fd[k] < 0)
			continue;
		(void)unlinkat(c->v1_fd[k], CG_SUBTREE, AT_REMOVEDIR);
		close(c->v1_fd[k]);
		c->v1_fd[k] = -1;
	}
}

int cg_v1_create(struct cg_sandbox *s)
{
	char path[sizeof(CG_SUBTREE) + NAME_MAX + 1];

	snprintf(path, sizeof(path), CG_SUBTREE "/%s", s->name);
	for (int k = 0; k < CG_N_CTRL; k++) {
		int base = s->ctx->v1_fd[k];

		if (base < 0)
			continue;
		/* Another daemon's exit may have removed an empty subtree. */
		if ((mkdirat(base, CG_SUBTREE, 0755) < 0 && errno != EEXIST) ||
		    (mkdirat(base, path, 0755) < 0 && errno != EEXIST))
			return log_errno(-errno, "mkdir %s cgroup %s",
					 cg_ctrl_name(k), s->name);
		s->v1_fd[k] =
			openat(base, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (s->v1_fd[k] < 0)
			return log_errno(-errno, "open %s cgroup %s",
					 cg_ctrl_name(k), s->name);
	}
	return 0;
}

/*
 * Is the process behind pfd still in a cgroup named `name`? Checked after
 * opening the pidfd and confirmed alive afterwards, so a pid reused by an
 * unrelated process in between is never signalled.
 */
static bool still_ours(pid_t pid, int pfd, const char *name)
{
	char path[64], buf[4096], want[NAME_MAX + 16];
	struct pollfd p = { .fd = pfd, .events = POLLIN };
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	snprintf(want, sizeof(want), "/" CG_SUBTREE "/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = af_read_full(fd, buf, sizeof(buf) - 1);
	if (n <= 0 || poll(&p, 1, 0) != 0)
		return false;
	buf[n] = '\0';
	for (char *q = buf; (q = strstr(q, want)); q += strlen(want)) {
		char end = q[strlen(want)];

		if (end == '\n' || end == '/' || end == '\0')
			return true;
	}
	return false;
}

/* SIGKILL every process listed in dirfd's cgroup.procs; how many were. */
static int kill_listed(int dirfd, const char *name)
{
	char buf[16384], *p, *end;
	int n = 0;

	if (cg_read_at(dirfd, "cgroup.procs", buf, sizeof(buf)) < 0)
		return 0;
	for (p = buf; *p; p = end) {
		long pid = strtol(p, &end, 10);
		int pfd;

		if (end == p)
			break;
		end += strspn(end, "\n");
		n++;
		pfd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
		if (pfd < 0)
			continue;
		if (still_ours((pid_t)pid, pfd, name))
			syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
		close(pfd);
	}
	return n;
}

/* rmdir parent/name and anything below it, killing what still runs there. */
static int remove_tree(int parent, const char *name, const char *sandbox,
		       int timeout_ms)
{
	uint64_t deadline = af_now_mono_ns() + (uint64_t)timeout_ms * 1000000;
	const struct timespec pause = { 0, RETRY_MS * 1000000L };
	_cleanup_close_ int fd = -1;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r;

	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(dup(fd));
	while (d && (de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		r = remove_tree(fd, de->d_name, sandbox, timeout_ms);
		if (r < 0)
			return r;
	}
	for (;;) {
		/* Killed processes leave the cgroup once they are reaped. */
		if (kill_listed(fd, sandbox) == 0) {
			if (unlinkat(parent, name, AT_REMOVEDIR) == 0 ||
			    errno == ENOENT)
				return 0;
			if (errno != EBUSY)
				return -errno;
		}
		if (af_now_mono_ns() >= deadline)
			return -EBUSY;
		nanosleep(&pause, NULL);
	}
}

int cg_v1_remove(struct cg_sandbox *s, int timeout_ms)
{
	char path[sizeof(CG_SUBTREE) + NAME_MAX + 1];
	int r = 0;

	snprintf(path, sizeof(path), CG_SUBTREE "/%s", s->name);
	for (int k = 0; k < CG_N_CTRL; k++) {
		int q;

		if (s->ctx->v1_fd[k] < 0)
			continue;
		q = remove_tree(s->ctx->v1_fd[k], path, s->name, timeout_ms);
		if (q < 0) {
			log_errno(q, "removing %s cgroup %s", cg_ctrl_name(k),
				  s->name);
			if (!r)
				r = q;
		}
	}
	return r;
}

/* Stale sandbox cgroups below one v1 hierarchy's subtree. */
static int reap_one(const struct cg_ctx *c, int mount_fd, const char *ctrl,
		    bool (*keep)(const char *name, void *ud), void *ud)
{
	_cleanup_close_ int base = -1;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r = 0;

	base = openat(mount_fd, CG_SUBTREE, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (base < 0)
		return errno == ENOENT ? 0 : -errno;
	d = fdopendir(dup(base));
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		int q;

		if (de->d_type != DT_DIR ||
		    !cg_reapable(c, de->d_name, keep, ud))
			continue;
		q = remove_tree(base, de->d_name, de->d_name, 5000);
		if (q < 0 && !r)
			r = q;
		if (q < 0)
			log_errno(q, "removing stale %s cgroup %s", ctrl,
				  de->d_name);
		else
			log_info("removed stale %s cgroup %s", ctrl,
				 de->d_name);
	}
	return r;
}

int cg_v1_reap(struct cg_ctx *c, bool (*keep)(const char *name, void *ud),
	       void *ud)
{
	int r = 0;

	for (int k = 0; k < CG_N_CTRL; k++) {
		int q;

		if (c->v1_fd[k] < 0)
			continue;
		q = reap_one(c, c->v1_fd[k], cg_ctrl_name(k), keep, ud);
		if (q < 0 && !r)
			r = q;
	}
	return r;
}
