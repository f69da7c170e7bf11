// SPDX-License-Identifier: Apache-2.0
#define LOG_MOD "cgroup"
#include "agentfense/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/util.h"
#include "cgroup_internal.h"

const char *cg_ctrl_name(enum cg_ctrl k)
{
	static const char *const names[CG_N_CTRL] = { "memory", "pids", "cpu" };

	return names[k];
}

/*
 * Depth of a mount's root in the cgroup2 hierarchy, from its mountinfo root
 * field ("/" is the hierarchy's root). Only meaningful in the initial cgroup
 * namespace, where that field is absolute: elsewhere -1 (unknown).
 */
static int root_depth(const char *root)
{
	struct stat st;
	int depth = 0;

	/* PROC_CGROUP_INIT_INO: the inode of the initial cgroup namespace. */
	if (stat("/proc/self/ns/cgroup", &st) < 0 || st.st_ino != 0xEFFFFFFBu ||
	    strstr(root, ".."))
		return -1;
	for (const char *p = root; *p; p++)
		if (*p == '/' && p[1] && p[1] != '/')
			depth++;
	return depth;
}

/* The cgroup2 mount point from /proc/self/mountinfo, and its root's depth. */
static int find_cgroup2(char *out, size_t len, int *depth)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], root[PATH_MAX];
		char *sep = strstr(line, " - ");

		if (!sep || strncmp(sep, " - cgroup2 ", 11) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) != 2)
			continue;
		if ((size_t)snprintf(out, len, "%s", mnt) >= len)
			return -ENAMETOOLONG;
		*depth = root_depth(root);
		return 0;
	}
	return -ENOENT;
}

/*
 * The subtree is made again when missing: a daemon that exits removes it
 * once it is empty, even while another daemon on the host still runs.
 */
static int make_subtree(struct cg_ctx *c)
{
	if (mkdirat(c->mount_fd, CG_SUBTREE, 0755) == 0)
		cg_v2_enable(c);
	else if (errno != EEXIST)
		return -errno;
	return 0;
}

static void log_controllers(const struct cg_ctx *c)
{
	char where[CG_N_CTRL][16];

	for (int k = 0; k < CG_N_CTRL; k++)
		snprintf(where[k], sizeof(where[k]), "%s",
			 c->v2_ctrl[k]	    ? "v2"
			 : c->v1_fd[k] >= 0 ? "v1"
					    : "unavailable");
	log_info("cgroup limits: memory %s, pids %s, cpu %s", where[CG_MEMORY],
		 where[CG_PIDS], where[CG_CPU]);
}

static int ctx_open(struct cg_ctx *c, const struct cg_config *cfg)
{
	int r;

	if (cfg && cfg->v2_mount)
		r = snprintf(c->v2_mount, sizeof(c->v2_mount), "%s",
			     cfg->v2_mount) >= (int)sizeof(c->v2_mount)
			    ? -ENAMETOOLONG
			    : 0;
	else
		r = find_cgroup2(c->v2_mount, sizeof(c->v2_mount),
				 &c->root_depth);
	if (r < 0)
		return log_errno(r, "no cgroup2 mount found");
	c->hybrid = strcmp(c->v2_mount, "/sys/fs/cgroup") != 0;
	c->mount_fd = open(c->v2_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->mount_fd < 0)
		return log_errno(-errno, "open %s", c->v2_mount);
	if (mkdirat(c->mount_fd, CG_SUBTREE, 0755) < 0 && errno != EEXIST)
		return log_errno(-errno, "mkdir %s/" CG_SUBTREE, c->v2_mount);
	/* Also when an earlier daemon made it: enabling is idempotent. */
	cg_v2_enable(c);
	return cg_v1_discover(c, cfg);
}

int cg_ctx_new(const struct cg_config *cfg, struct cg_ctx **out)
{
	struct cg_ctx *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	c->mount_fd = -1;
	for (int k = 0; k < CG_N_CTRL; k++)
		c->v1_fd[k] = -1;
	if (cfg && cfg->instance &&
	    (size_t)snprintf(c->prefix, sizeof(c->prefix), "%s-",
			     cfg->instance) >= sizeof(c->prefix)) {
		free(c);
		return -ENAMETOOLONG;
	}
	r = ctx_open(c, cfg);
	if (r < 0) {
		cg_ctx_free(c);
		return r;
	}
	log_info("cgroup v2 at %s (%s layout), sandboxes under %s/" CG_SUBTREE,
		 c->v2_mount, c->hybrid ? "hybrid" : "unified", c->v2_mount);
	log_controllers(c);
	*out = c;
	return 0;
}

void cg_ctx_free(struct cg_ctx *c)
{
	if (!c)
		return;
	cg_v1_close(c);
	if (c->mount_fd >= 0) {
		/* rmdir fails while any sandbox cgroup remains, as intended. */
		(void)unlinkat(c->mount_fd, CG_SUBTREE, AT_REMOVEDIR);
		close(c->mount_fd);
	}
	free(c);
}

const char *cg_layout(const struct cg_ctx *c)
{
	return c->hybrid ? "hybrid" : "unified";
}

int cg_sandbox_level(const struct cg_ctx *c)
{
	/* <mount root> / agentfense / <sandbox>; -1 when it cannot be known. */
	return c->root_depth < 0 ? -1 : c->root_depth + 2;
}

int cg_check_limits(const struct cg_ctx *c, const struct cg_limits *l,
		    char *err, size_t errlen)
{
	const uint64_t want[CG_N_CTRL] = {
		[CG_MEMORY] = l->memory_bytes,
		[CG_PIDS] = l->pids_max,
		[CG_CPU] = l->cpu_quota_us | l->cpu_shares,
	};

	for (int k = 0; k < CG_N_CTRL; k++) {
		if (!want[k] || c->v2_ctrl[k] || c->v1_fd[k] >= 0)
			continue;
		snprintf(err, errlen,
			 "this host offers no %s cgroup controller, so the "
			 "sandbox's %s limit cannot be enforced",
			 cg_ctrl_name(k), cg_ctrl_name(k));
		return -EOPNOTSUPP;
	}
	return 0;
}

/* Wait until a cgroup has no process left (cgroup.events "populated 0"). */
static int wait_empty(int dirfd, int timeout_ms)
{
	_cleanup_close_ int fd =
		openat(dirfd, "cgroup.events", O_RDONLY | O_CLOEXEC);
	uint64_t deadline = af_now_mono_ns() + (uint64_t)timeout_ms * 1000000;

	if (fd < 0)
		return -errno;
	for (;;) {
		char buf[256];
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		uint64_t now;
		struct pollfd p = { .fd = fd, .events = POLLPRI };

		if (n < 0)
			return -errno;
		buf[n] = '\0';
		if (strstr(buf, "populated 0"))
			return 0;
		now = af_now_mono_ns();
		if (now >= deadline)
			return -ETIMEDOUT;
		/* Re-check at least every 50 ms: events are edge-triggered. */
		(void)poll(&p, 1, 50);
	}
}

/* Kill all processes in dirfd/name and below, wait, remove the tree. */
static int kill_and_remove(int parent, const char *name, int timeout_ms)
{
	_cleanup_close_ int fd = -1;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r;

	fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* ENODEV: the cgroup is being removed (by another daemon, say). */
	r = af_write_file_at(fd, "cgroup.kill", "1");
	if (r == -ENODEV)
		return 0;
	if (r < 0 && r != -ENOENT)
		return r;
	r = wait_empty(fd, timeout_ms);
	if (r == -ENODEV || r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	d = fdopendir(dup(fd));
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		r = kill_and_remove(fd, de->d_name, timeout_ms);
		if (r < 0)
			return r;
	}
	if (unlinkat(parent, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

bool cg_reapable(const struct cg_ctx *c, const char *name,
		 bool (*keep)(const char *name, void *ud), void *ud)
{
	if (name[0] == '.' || strncmp(name, c->prefix, strlen(c->prefix)) != 0)
		return false;
	return !(keep && keep(name + strlen(c->prefix), ud));
}

const char *cg_sandbox_name(const struct cg_sandbox *s)
{
	return s->name;
}

int cg_reap_stale(struct cg_ctx *c, bool (*keep)(const char *name, void *ud),
		  void *ud)
{
	_cleanup_close_ int base = -1;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r = 0, q;

	base = openat(c->mount_fd, CG_SUBTREE,
		      O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d = base >= 0 ? fdopendir(dup(base)) : NULL;
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR ||
		    !cg_reapable(c, de->d_name, keep, ud))
			continue;
		q = kill_and_remove(base, de->d_name, 5000);
		if (q < 0) {
			log_errno(q, "removing stale cgroup %s", de->d_name);
			if (!r)
				r = q;
		} else {
			log_info("removed stale cgroup %s", de->d_name);
		}
	}
	/* v1 after v2: cgroup.kill has emptied most of them already. */
	q = cg_v1_reap(c, keep, ud);
	return r ? r : q;
}

static void sandbox_release(struct cg_sandbox *s)
{
	pthread_mutex_destroy(&s->spare_lock);
	if (s->dirfd >= 0)
		close(s->dirfd);
	for (int k = 0; k < CG_N_CTRL; k++)
		if (s->v1_fd[k] >= 0)
			close(s->v1_fd[k]);
	free(s);
}

static int sandbox_open(struct cg_sandbox *s, const struct cg_limits *l)
{
	char path[sizeof(CG_SUBTREE) + NAME_MAX + 1];
	struct stat st;
	int r;

	snprintf(path, sizeof(path), CG_SUBTREE "/%s", s->name);
	r = make_subtree(s->ctx);
	if (r < 0)
		return log_errno(r, "mkdir cgroup " CG_SUBTREE);
	if (mkdirat(s->ctx->mount_fd, path, 0755) < 0 && errno != EEXIST)
		return log_errno(-errno, "mkdir cgroup %s", s->name);
	s->dirfd = openat(s->ctx->mount_fd, path,
			  O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0 || fstat(s->dirfd, &st) < 0)
		return log_errno(-errno, "open cgroup %s", s->name);
	/* On cgroup2 the directory's inode number is the cgroup id. */
	s->id = st.st_ino;
	r = cg_v1_create(s);
	if (r == 0 && l)
		r = cg_apply_limits(s, l);
	return r;
}

int cg_sandbox_create(struct cg_ctx *c, const char *name,
		      const struct cg_limits *l, struct cg_sandbox **out)
{
	struct cg_sandbox *s;
	char err[160];
	int r;

	if (strlen(c->prefix) + strlen(name) > NAME_MAX || strchr(name, '/') ||
	    name[0] == '.')
		return -EINVAL;
	r = l ? cg_check_limits(c, l, err, sizeof(err)) : 0;
	if (r < 0) {
		log_err("sandbox %s: %s", name, err);
		return r;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->ctx = c;
	s->dirfd = -1;
	pthread_mutex_init(&s->spare_lock, NULL);
	for (int k = 0; k < CG_N_CTRL; k++)
		s->v1_fd[k] = -1;
	snprintf(s->name, sizeof(s->name), "%s%s", c->prefix, name);
	r = sandbox_open(s, l);
	if (r < 0) {
		/* Nothing runs in them yet: removing is all there is to undo.
		 */
		cg_sandbox_destroy(s, 1000);
		sandbox_release(s);
		return r;
	}
	*out = s;
	return 0;
}

uint64_t cg_sandbox_id(const struct cg_sandbox *s)
{
	return s->id;
}

int cg_sandbox_dirfd(const struct cg_sandbox *s)
{
	return s->dirfd;
}

size_t cg_sandbox_v1_dirfds(const struct cg_sandbox *s, int *fds)
{
	size_t n = 0;

	for (int k = 0; k < CG_N_CTRL && n < CG_V1_MAX; k++)
		if (s->v1_fd[k] >= 0)
			fds[n++] = s->v1_fd[k];
	return n;
}

static void exec_name(char *name, size_t len, uint64_t n)
{
	snprintf(name, len, "e%llu", (unsigned long long)n);
}

static bool take_spare(struct cg_sandbox *s, uint64_t *n)
{
	bool got;

	pthread_mutex_lock(&s->spare_lock);
	got = s->n_spare > 0;
	if (got)
		*n = s->spare[--s->n_spare];
	pthread_mutex_unlock(&s->spare_lock);
	return got;
}

static bool put_spare(struct cg_sandbox *s, uint64_t n)
{
	bool kept;

	pthread_mutex_lock(&s->spare_lock);
	kept = s->n_spare < CG_EXEC_SPARES;
	if (kept)
		s->spare[s->n_spare++] = n;
	pthread_mutex_unlock(&s->spare_lock);
	return kept;
}

int cg_exec_create(struct cg_sandbox *s, uint64_t *n, int *dirfd)
{
	char name[32];
	bool reused = take_spare(s, n);
	int fd;

	exec_name(name, sizeof(name), *n);
	if (!reused && mkdirat(s->dirfd, name, 0755) < 0)
		return log_errno(-errno, "mkdir cgroup %s/%s", s->name, name);
	fd = openat(s->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;

		unlinkat(s->dirfd, name, AT_REMOVEDIR);
		return log_errno(r, "open cgroup %s/%s", s->name, name);
	}
	*dirfd = fd;
	return 0;
}

/*
 * Empty without a kill, and nothing below it: as good as a new one. One
 * that needed cgroup.kill is not reused: kernels that count kills
 * (kill_seq) SIGKILL whatever is later cloned into it.
 */
static bool exec_reusable(int fd)
{
	char buf[256];

	if (wait_empty(fd, 0) < 0 ||
	    cg_read_at(fd, "cgroup.stat", buf, sizeof(buf)) < 0)
		return false;
	return strncmp(buf, "nr_descendants 0\n", 17) == 0;
}

int cg_exec_destroy(struct cg_sandbox *s, uint64_t n, int timeout_ms)
{
	_cleanup_close_ int fd = -1;
	char name[32];
	int r;

	exec_name(name, sizeof(name), n);
	fd = openat(s->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && exec_reusable(fd) && put_spare(s, n))
		return 0;
	r = kill_and_remove(s->dirfd, name, timeout_ms);
	if (r < 0)
		log_errno(r, "removing cgroup %s/%s", s->name, name);
	return r;
}

int cg_sandbox_destroy(struct cg_sandbox *s, int timeout_ms)
{
	char path[sizeof(CG_SUBTREE) + NAME_MAX + 1];
	int r, q;

	snprintf(path, sizeof(path), CG_SUBTREE "/%s", s->name);
	r = kill_and_remove(s->ctx->mount_fd, path, timeout_ms);
	if (r < 0)
		log_errno(r, "removing cgroup %s", s->name);
	q = cg_v1_remove(s, timeout_ms);
	return r ? r : q;
}

void cg_sandbox_free(struct cg_sandbox *s)
{
	if (s)
		sandbox_release(s);
}
