// SPDX-License-Identifier: Apache-2.0
/*
 * Server-side file access for a running sandbox (ARCHITECTURE §6): the
 * daemon opening files on the sandbox's behalf is a known bypass class, so
 * every lookup goes through the sandbox's own view (its overlay, reached
 * from the runtime's dirfd) with openat2 confined below it (no symbolic
 * links, no magic links, no other mounts), and every answer is what the
 * sandbox's rules allow its processes: `none` does not exist, `view` is
 * listed but not read.
 */
#define LOG_MOD "fs"
#include "agentfense/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/util.h"
#include "fs_internal.h"

#define RESOLVE_CONFINED                                                 \
	(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | \
	 RESOLVE_NO_XDEV)

/* A component on the way (never the last): a directory on root's mount. */
static int walk_step(int cur, const char *name, dev_t dev)
{
	struct stat st;
	int fd;

	if (!strcmp(name, ".."))
		return -EXDEV;
	fd = openat(cur, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;

		if (r == -ENOTDIR &&
		    fstatat(cur, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			r = -ELOOP;
		return r;
	}
	if (fstat(fd, &st) < 0 || st.st_dev != dev) {
		close(fd);
		return -EXDEV;
	}
	return fd;
}

/*
 * Without openat2 (valgrind, kernels before 5.6): the same confinement by
 * hand, one component at a time, following no link and leaving no mount.
 */
static int open_walk(int dirfd, const char *rel, int flags)
{
	_cleanup_close_ int cur = -1;
	char name[NAME_MAX + 1];
	const char *p = rel, *slash;
	struct stat root, st;
	int fd;

	if (fstat(dirfd, &root) < 0)
		return -errno;
	cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	while (cur >= 0 && (slash = strchr(p, '/'))) {
		size_t len = (size_t)(slash - p);
		int next;

		if (len == 0 || len > NAME_MAX)
			return -EINVAL;
		memcpy(name, p, len);
		name[len] = '\0';
		next = walk_step(cur, name, root.st_dev);
		if (next < 0)
			return next;
		close(cur);
		cur = next;
		p = slash + 1;
	}
	if (cur < 0)
		return -errno;
	if (!strcmp(p, ".."))
		return -EXDEV;
	fd = openat(cur, p, flags | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_dev != root.st_dev) {
		close(fd);
		return -EXDEV;
	}
	return fd;
}

int fs_open_beneath(int dirfd, const char *rel, int flags)
{
	struct open_how how = { .flags = (uint64_t)(flags | O_CLOEXEC),
				.resolve = RESOLVE_CONFINED };
	long fd;

	do
		fd = syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	while (fd < 0 && errno == EAGAIN);
	if (fd < 0 && errno == ENOSYS)
		return open_walk(dirfd, rel, flags);
	return fd < 0 ? -errno : (int)fd;
}

int fs_lstat_beneath(int dirfd, const char *rel, struct stat *st)
{
	_cleanup_close_ int fd = -1;

	/* O_PATH|O_NOFOLLOW: a trailing symbolic link is opened, not followed.
	 */
	fd = fs_open_beneath(dirfd, rel, O_PATH | O_NOFOLLOW);
	if (fd < 0)
		return fd == -ENOTDIR ? -ENOENT : fd;
	return fstat(fd, st) < 0 ? -errno : 0;
}

int fs_path_split(const char *path, char out[PATH_MAX], const char **rel)
{
	const char *why = NULL;
	int r;

	if (!path || !*path || !strcmp(path, "/")) {
		memcpy(out, "/", 2);
		*rel = ".";
		return 0;
	}
	out[0] = '/';
	r = af_path_normalize(path, strlen(path), out + 1, PATH_MAX - 1, &why);
	if (r < 0)
		return r;
	*rel = out + 1;
	return 0;
}

bool fs_below_hidden(const struct af_matcher *m, const char *path)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len >= sizeof(buf))
		return true;
	memcpy(buf, path, len + 1);
	for (char *p = strchr(buf + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (af_matcher_lookup(m, buf, true) == AF_PERM_NONE)
			return true;
		*p = '/';
	}
	return false;
}

enum af_perm fs_level(const struct af_matcher *m, const char *path, bool is_dir)
{
	enum af_perm level;

	if (fs_below_hidden(m, path))
		return AF_PERM_NONE;
	level = af_matcher_lookup(m, path, is_dir);
	/* The root is always visible. */
	if (!strcmp(path, "/") && level < AF_PERM_VIEW)
		return AF_PERM_VIEW;
	return level;
}

/*
 * path in the view: its workspace path, its path below the view, its lstat
 * and its level; -ENOENT when the rules hide it.
 */
static int view_lookup(int view_fd, const struct af_matcher *m,
		       const char *path, char wpath[PATH_MAX], const char **rel,
		       struct stat *st, enum af_perm *level)
{
	int r;

	r = fs_path_split(path, wpath, rel);
	if (r < 0)
		return r;
	/* Before any lookup: what is hidden gives nothing away. */
	if (fs_below_hidden(m, wpath))
		return -ENOENT;
	r = fs_lstat_beneath(view_fd, *rel, st);
	if (r < 0)
		return r;
	*level = fs_level(m, wpath, S_ISDIR(st->st_mode));
	return *level == AF_PERM_NONE ? -ENOENT : 0;
}

int fs_view_open(int view_fd, const struct af_matcher *m, const char *path,
		 int *out)
{
	char wpath[PATH_MAX];
	enum af_perm level;
	const char *rel;
	struct stat st;
	int fd, r;

	r = view_lookup(view_fd, m, path, wpath, &rel, &st, &level);
	if (r < 0)
		return r;
	switch (level) {
	case AF_PERM_VIEW:
		return S_ISDIR(st.st_mode) ? -EISDIR : -EACCES;
	default:
		break;
	}
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (S_ISLNK(st.st_mode))
		return -ELOOP;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	/* O_NONBLOCK: a FIFO swapped in meanwhile must not hang us. */
	fd = fs_open_beneath(view_fd, rel,
			     O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    fcntl(fd, F_SETFL, 0) < 0) {
		close(fd);
		return -EINVAL;
	}
	*out = fd;
	return 0;
}

struct listing {
	const struct af_matcher *m;
	struct fs_entry *v;
	size_t n, cap, max;
	char prefix[PATH_MAX]; /* "" for the root, else "/a/b" */
};

void fs_entries_free(struct fs_entry *e, size_t n)
{
	for (size_t i = 0; e && i < n; i++)
		free(e[i].path);
	free(e);
}

static int push(struct listing *l, const char *path, const struct stat *st,
		enum af_perm level)
{
	struct fs_entry *e;

	if (l->n == l->max)
		return -E2BIG;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 64;

		e = realloc(l->v, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		l->v = e;
		l->cap = cap;
	}
	e = &l->v[l->n];
	e->path = strdup(path);
	if (!e->path)
		return -ENOMEM;
	e->name = strrchr(e->path, '/') + 1;
	e->is_dir = S_ISDIR(st->st_mode);
	e->is_symlink = S_ISLNK(st->st_mode);
	e->size = S_ISREG(st->st_mode) ? st->st_size : 0;
	e->mode = st->st_mode & 07777;
	e->mtime_ns =
		(int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	e->level = (int)level;
	l->n++;
	return 0;
}

static int visit(void *ud, int parent_fd, const char *name, const char *path,
		 const struct stat *st)
{
	struct listing *l = ud;
	char full[PATH_MAX];
	enum af_perm level;
	int r;

	(void)parent_fd;
	(void)name;
	if (snprintf(full, sizeof(full), "%s%s", l->prefix, path) >=
	    (int)sizeof(full))
		return -ENAMETOOLONG;
	level = fs_level(l->m, full, S_ISDIR(st->st_mode));
	if (level == AF_PERM_NONE)
		return AF_WALK_SKIP;
	r = push(l, full, st, level);
	return r < 0 ? r : 0;
}

/* Direct children only: af_walk is told to stop at the first level. */
static int visit_flat(void *ud, int parent_fd, const char *name,
		      const char *path, const struct stat *st)
{
	int r = visit(ud, parent_fd, name, path, st);

	return r < 0 ? r : AF_WALK_SKIP;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct fs_entry *)a)->path,
		      ((const struct fs_entry *)b)->path);
}

int fs_view_list(int view_fd, const struct af_matcher *m, const char *path,
		 bool recursive, size_t max, struct fs_entry **out, size_t *n)
{
	struct listing l = { .m = m, .max = max };
	_cleanup_close_ int dir = -1;
	char wpath[PATH_MAX];
	enum af_perm level;
	const char *rel;
	struct stat st;
	int r;

	*out = NULL;
	*n = 0;
	r = view_lookup(view_fd, m, path, wpath, &rel, &st, &level);
	if (r < 0)
		return r;
	if (!S_ISDIR(st.st_mode)) {
		r = push(&l, wpath, &st, level);
	} else {
		snprintf(l.prefix, sizeof(l.prefix), "%s",
			 strcmp(wpath, "/") ? wpath : "");
		dir = fs_open_beneath(view_fd, rel, O_RDONLY | O_DIRECTORY);
		r = dir < 0 ? dir
			    : af_walk(dir, recursive ? visit : visit_flat, &l);
	}
	if (r < 0) {
		fs_entries_free(l.v, l.n);
		return r;
	}
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), by_path);
	*out = l.v;
	*n = l.n;
	return 0;
}
