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

#define CG_SUBTREE "agentfense"

struct cg_ctx {
	char v2_mount[PATH_MAX];
	bool hybrid;
	int base_fd; /* V2/agentfense */
};

struct cg_sandbox {
	struct cg_ctx *ctx;
	char name[NAME_MAX + 1];
	int dirfd;
	uint64_t id;
};

/* The cgroup2 mount point from /proc/self/mountinfo. */
static int find_cgroup2(char *out, size_t len)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX];
		char *sep = strstr(line, " - ");

		if (!sep || strncmp(sep, " - cgroup2 ", 11) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		if ((size_t)snprintf(out, len, "%s", mnt) >= len)
			return -ENAMETOOLONG;
		return 0;
	}
	return -ENOENT;
}

int cg_ctx_new(struct cg_ctx **out)
{
	_cleanup_free_ struct cg_ctx *c = calloc(1, sizeof(*c));
	int r;

	if (!c)
		return -ENOMEM;
	r = find_cgroup2(c->v2_mount, sizeof(c->v2_mount));
	if (r < 0)
		return log_errno(r, "no cgroup2 mount found");
	c->hybrid = strcmp(c->v2_mount, "/sys/fs/cgroup") != 0;
	int mfd = open(c->v2_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (mfd < 0)
		return log_errno(-errno, "open %s", c->v2_mount);
	if (mkdirat(mfd, CG_SUBTREE, 0755) < 0 && errno != EEXIST) {
		r = -errno;
		close(mfd);
		return log_errno(r, "mkdir %s/" CG_SUBTREE, c->v2_mount);
	}
	c->base_fd = openat(mfd, CG_SUBTREE, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = -errno;
	close(mfd);
	if (c->base_fd < 0)
		return log_errno(r, "open %s/" CG_SUBTREE, c->v2_mount);
	log_info("cgroup v2 at %s (%s layout), sandboxes under %s/" CG_SUBTREE,
		 c->v2_mount, c->hybrid ? "hybrid" : "unified", c->v2_mount);
	*out = TAKE_PTR(c);
	return 0;
}

void cg_ctx_free(struct cg_ctx *c)
{
	if (!c)
		return;
	close(c->base_fd);
	/* rmdir fails while any sandbox cgroup remains, which is intended. */
	int mfd = open(c->v2_mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (mfd >= 0) {
		(void)unlinkat(mfd, CG_SUBTREE, AT_REMOVEDIR);
		close(mfd);
	}
	free(c);
}

const char *cg_layout(const struct cg_ctx *c)
{
	return c->hybrid ? "hybrid" : "unified";
}

int cg_sandbox_level(const struct cg_ctx *c)
{
	/* root (0) / agentfense (1) / <sandbox> (2), on an un-namespaced mount. */
	return 2;
}

/* Wait until a cgroup has no process left (cgroup.events "populated 0"). */
static int wait_empty(int dirfd, int timeout_ms)
{
	_cleanup_close_ int fd = openat(dirfd, "cgroup.events",
					O_RDONLY | O_CLOEXEC);
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
	r = af_write_file_at(fd, "cgroup.kill", "1");
	if (r < 0 && r != -ENOENT)
		return r;
	r = wait_empty(fd, timeout_ms);
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

int cg_reap_stale(struct cg_ctx *c, bool (*keep)(const char *name, void *ud),
		  void *ud)
{
	_cleanup_closedir_ DIR *d = fdopendir(dup(c->base_fd));
	struct dirent *de;
	int r = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		int q;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (keep && keep(de->d_name, ud))
			continue;
		q = kill_and_remove(c->base_fd, de->d_name, 5000);
		if (q < 0) {
			log_errno(q, "removing stale cgroup %s", de->d_name);
			if (!r)
				r = q;
		} else {
			log_info("removed stale cgroup %s", de->d_name);
		}
	}
	return r;
}

int cg_sandbox_create(struct cg_ctx *c, const char *name,
		      struct cg_sandbox **out)
{
	_cleanup_free_ struct cg_sandbox *s = calloc(1, sizeof(*s));
	struct stat st;

	if (!s)
		return -ENOMEM;
	if (strlen(name) > NAME_MAX || strchr(name, '/'))
		return -EINVAL;
	s->ctx = c;
	strcpy(s->name, name);
	if (mkdirat(c->base_fd, name, 0755) < 0 && errno != EEXIST)
		return log_errno(-errno, "mkdir cgroup %s", name);
	s->dirfd = openat(c->base_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0)
		return log_errno(-errno, "open cgroup %s", name);
	if (fstat(s->dirfd, &st) < 0) {
		int r = -errno;

		close(s->dirfd);
		return r;
	}
	/* On cgroup2 the directory's inode number is the cgroup id. */
	s->id = st.st_ino;
	*out = TAKE_PTR(s);
	return 0;
}

uint64_t cg_sandbox_id(const struct cg_sandbox *s) { return s->id; }

int cg_sandbox_dirfd(const struct cg_sandbox *s) { return s->dirfd; }

int cg_exec_create(struct cg_sandbox *s, uint64_t n, int *dirfd)
{
	char name[32];
	int fd;

	snprintf(name, sizeof(name), "e%llu", (unsigned long long)n);
	if (mkdirat(s->dirfd, name, 0755) < 0)
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

int cg_exec_destroy(struct cg_sandbox *s, uint64_t n, int timeout_ms)
{
	char name[32];
	int r;

	snprintf(name, sizeof(name), "e%llu", (unsigned long long)n);
	r = kill_and_remove(s->dirfd, name, timeout_ms);
	if (r < 0)
		log_errno(r, "removing cgroup %s/%s", s->name, name);
	return r;
}

int cg_sandbox_destroy(struct cg_sandbox *s, int timeout_ms)
{
	int r = kill_and_remove(s->ctx->base_fd, s->name, timeout_ms);

	if (r < 0)
		log_errno(r, "removing cgroup %s", s->name);
	return r;
}

void cg_sandbox_free(struct cg_sandbox *s)
{
	if (!s)
		return;
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s);
}
