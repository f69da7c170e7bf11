// SPDX-License-Identifier: Apache-2.0
/*
 * A sandbox's changes against its snapshot. The delta (the overlay's upper
 * dir) says where to look: each entry in it is a path that may have
 * changed, and a whiteout, an opaque directory or a redirected (renamed)
 * directory makes a whole region of the tree suspect. What changed is then
 * decided by comparing the sandbox's view (the merged overlay, which also
 * resolves renames) with the snapshot, path by path. Entries hidden from
 * the sandbox (`none`) are absent from its view but are never deletions.
 */
#define LOG_MOD "fs"
#include "agentfense/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/util.h"
#include "fs_internal.h"

struct strv {
	char **v;
	size_t n, cap;
};

struct scan {
	const struct af_matcher *m;
	int view, snap;
	size_t max;
	struct strv paths;   /* to compare */
	struct strv regions; /* compare everything below, both sides */
	const char *prefix;  /* of the region being walked */
	struct fs_change *v; /* the result */
	size_t n, cap;
};

static void strv_free(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

static int strv_add(struct strv *s, size_t max, const char *a, const char *b)
{
	char *p;

	if (s->n >= max)
		return -E2BIG;
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 64;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	if (asprintf(&p, "%s%s", a, b ? b : "") < 0)
		return -ENOMEM;
	s->v[s->n++] = p;
	return 0;
}

/* Absent for us: missing, or behind something that is not a directory. */
static int lstat_opt(int dirfd, const char *path, struct stat *st, bool *exists)
{
	int r = fs_lstat_beneath(dirfd, path[1] ? path + 1 : ".", st);

	*exists = r == 0;
	return r == -ENOENT || r == -ENOTDIR || r == -ELOOP ? 0 : r;
}

/* Opaque (replaced) or redirected (renamed) directory of the delta. */
static bool region_dir(int parent_fd, const char *name)
{
	_cleanup_close_ int fd = -1;
	char v[8];

	fd = openat(parent_fd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK |
			    O_CLOEXEC);
	if (fd < 0)
		return true; /* cannot tell: compare all of it */
	if (fgetxattr(fd, "trusted.overlay.opaque", v, sizeof(v)) == 1 &&
	    v[0] == 'y')
		return true;
	return fgetxattr(fd, "trusted.overlay.redirect", NULL, 0) >= 0;
}

static int upper_visit(void *ud, int parent_fd, const char *name,
		       const char *path, const struct stat *st)
{
	struct scan *sc = ud;
	struct stat ss;
	bool in_snap = false;
	int r;

	if (S_ISCHR(st->st_mode) && st->st_rdev == 0)
		return strv_add(&sc->regions, sc->max, path, NULL);
	if (S_ISDIR(st->st_mode)) {
		if (!region_dir(parent_fd, name))
			return strv_add(&sc->paths, sc->max, path, NULL);
		r = strv_add(&sc->regions, sc->max, path, NULL);
		return r < 0 ? r : AF_WALK_SKIP;
	}
	/* A file over a snapshot directory: all of that directory went. */
	r = lstat_opt(sc->snap, path, &ss, &in_snap);
	if (r < 0)
		return r;
	return strv_add(in_snap && S_ISDIR(ss.st_mode) ? &sc->regions
						       : &sc->paths,
			sc->max, path, NULL);
}

/* Everything below a region, on one side; hidden subtrees not entered. */
static int region_visit(void *ud, int parent_fd, const char *name,
			const char *path, const struct stat *st)
{
	struct scan *sc = ud;
	char full[PATH_MAX];
	int r;

	(void)parent_fd;
	(void)name;
	if (snprintf(full, sizeof(full), "%s%s", sc->prefix, path) >=
	    (int)sizeof(full))
		return -ENAMETOOLONG;
	r = strv_add(&sc->paths, sc->max, full, NULL);
	if (r < 0)
		return r;
	return fs_level(sc->m, full, S_ISDIR(st->st_mode)) == AF_PERM_NONE
		       ? AF_WALK_SKIP
		       : 0;
}

static int walk_region(struct scan *sc, int side, const char *region)
{
	_cleanup_close_ int dir = -1;

	dir = fs_open_beneath(side, region + 1, O_RDONLY | O_DIRECTORY);
	if (dir == -ENOENT || dir == -ENOTDIR || dir == -ELOOP)
		return 0;
	if (dir < 0)
		return dir;
	sc->prefix = region;
	return af_walk(dir, region_visit, sc);
}

static int expand_regions(struct scan *sc)
{
	for (size_t i = 0; i < sc->regions.n; i++) {
		const char *region = sc->regions.v[i];
		int r = strv_add(&sc->paths, sc->max, region, NULL);

		if (r == 0)
			r = walk_region(sc, sc->snap, region);
		if (r == 0)
			r = walk_region(sc, sc->view, region);
		if (r < 0)
			return r;
	}
	return 0;
}

void fs_changes_free(struct fs_change *c, size_t n)
{
	for (size_t i = 0; c && i < n; i++)
		free(c[i].path);
	free(c);
}

static int emit(struct scan *sc, const char *path, enum fs_change_kind kind,
		const struct stat *st, const struct stat *ws)
{
	struct fs_change *c;

	if (sc->n == sc->cap) {
		size_t cap = sc->cap ? 2 * sc->cap : 64;

		c = realloc(sc->v, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		sc->v = c;
		sc->cap = cap;
	}
	c = &sc->v[sc->n];
	memset(c, 0, sizeof(*c));
	c->path = strdup(path);
	if (!c->path)
		return -ENOMEM;
	c->kind = kind;
	c->is_dir = S_ISDIR(st->st_mode);
	c->is_other = !c->is_dir && !S_ISREG(st->st_mode);
	c->size = kind != FS_DELETED && S_ISREG(st->st_mode) ? st->st_size : 0;
	c->mode = st->st_mode & 07777;
	c->level = (int)fs_level(sc->m, path, c->is_dir);
	if (!ws)
		strcpy(c->view_id, "-");
	else if (c->is_dir)
		strcpy(c->view_id, "d");
	else
		/* ctime moves with every change the sandbox can make. */
		snprintf(c->view_id, sizeof(c->view_id),
			 "%c:%llu:%lld.%09ld:%lld:%o",
			 S_ISREG(ws->st_mode) ? 'f' : 'o',
			 (unsigned long long)ws->st_ino,
			 (long long)ws->st_ctim.tv_sec, ws->st_ctim.tv_nsec,
			 (long long)ws->st_size, ws->st_mode & 0111);
	sc->n++;
	return 0;
}

/* Same bytes? Both are regular files of the same size. */
static int same_content(struct scan *sc, const char *path, bool *same)
{
	_cleanup_close_ int a = -1, b = -1;
	const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY;

	*same = false;
	a = fs_open_beneath(sc->view, path + 1, flags);
	b = fs_open_beneath(sc->snap, path + 1, flags);
	if (a < 0 || b < 0)
		return a == -ENOENT || b == -ENOENT ? 0 : (a < 0 ? a : b);
	return af_fd_same_content(a, b, same);
}

static int links_differ(struct scan *sc, const char *path, bool *differ)
{
	char a[PATH_MAX], b[PATH_MAX];
	_cleanup_close_ int x = -1, y = -1;
	ssize_t n, m;

	x = fs_open_beneath(sc->view, path + 1, O_PATH | O_NOFOLLOW);
	y = fs_open_beneath(sc->snap, path + 1, O_PATH | O_NOFOLLOW);
	if (x < 0 || y < 0)
		return x < 0 ? x : y;
	n = readlinkat(x, "", a, sizeof(a));
	m = readlinkat(y, "", b, sizeof(b));
	*differ = n != m || n < 0 || memcmp(a, b, (size_t)n);
	return 0;
}

/* Both sides hold path: is the sandbox's version different? */
static int modified(struct scan *sc, const char *path, const struct stat *ws,
		    const struct stat *ss, bool *changed)
{
	bool same;
	int r;

	*changed = true;
	if (S_ISLNK(ws->st_mode) && S_ISLNK(ss->st_mode))
		return links_differ(sc, path, changed);
	if (!S_ISREG(ws->st_mode) || !S_ISREG(ss->st_mode))
		return 0;
	if (ws->st_size != ss->st_size ||
	    (ws->st_mode & 0111) != (ss->st_mode & 0111))
		return 0;
	r = same_content(sc, path, &same);
	*changed = !same;
	return r;
}

static int compare(struct scan *sc, const char *path)
{
	struct stat ws, ss;
	bool in_view = false, in_snap = false, changed;
	int r;

	r = lstat_opt(sc->view, path, &ws, &in_view);
	if (r == 0)
		r = lstat_opt(sc->snap, path, &ss, &in_snap);
	if (r < 0 || (!in_view && !in_snap))
		return r;
	if (!in_view)
		/* Hidden entries are missing from the view, not deleted. */
		return fs_level(sc->m, path, S_ISDIR(ss.st_mode)) ==
				       AF_PERM_NONE
			       ? 0
			       : emit(sc, path, FS_DELETED, &ss, NULL);
	if (!in_snap)
		return emit(sc, path, FS_ADDED, &ws, &ws);
	if ((ws.st_mode & S_IFMT) != (ss.st_mode & S_IFMT)) {
		r = emit(sc, path, FS_DELETED, &ss, NULL);
		return r < 0 ? r : emit(sc, path, FS_ADDED, &ws, &ws);
	}
	if (S_ISDIR(ws.st_mode))
		return 0;
	r = modified(sc, path, &ws, &ss, &changed);
	if (r < 0 || !changed)
		return r;
	return emit(sc, path, FS_MODIFIED, &ws, &ws);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Same path: the deletion of the old entry before the new one. */
static int cmp_change(const void *a, const void *b)
{
	const struct fs_change *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	if (c)
		return c;
	return (x->kind != FS_DELETED) - (y->kind != FS_DELETED);
}

static int scan(struct scan *sc, int upper_fd)
{
	_cleanup_close_ int upper = -1;
	int r;

	/* af_walk reads directories: not through an O_PATH fd. */
	upper = openat(upper_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (upper < 0)
		return -errno;
	r = af_walk(upper, upper_visit, sc);
	if (r == 0)
		r = expand_regions(sc);
	if (r < 0)
		return r;
	if (sc->paths.n > 1)
		qsort(sc->paths.v, sc->paths.n, sizeof(*sc->paths.v), cmp_str);
	for (size_t i = 0; i < sc->paths.n; i++) {
		if (i && !strcmp(sc->paths.v[i], sc->paths.v[i - 1]))
			continue;
		r = compare(sc, sc->paths.v[i]);
		if (r < 0)
			return r;
	}
	if (sc->n > 1)
		qsort(sc->v, sc->n, sizeof(*sc->v), cmp_change);
	return 0;
}

int fs_changes(int upper_fd, int view_fd, int snap_fd,
	       const struct af_matcher *m, size_t max, struct fs_change **out,
	       size_t *n)
{
	struct scan sc = {
		.m = m, .view = view_fd, .snap = snap_fd, .max = max
	};
	int r;

	*out = NULL;
	*n = 0;
	r = scan(&sc, upper_fd);
	strv_free(&sc.paths);
	strv_free(&sc.regions);
	if (r < 0) {
		fs_changes_free(sc.v, sc.n);
		return r == -E2BIG ? r : log_errno(r, "listing changes");
	}
	*out = sc.v;
	*n = sc.n;
	return 0;
}
