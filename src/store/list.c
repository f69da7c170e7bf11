// SPDX-License-Identifier: Apache-2.0
/* Listing a codebase's current tree (ListFiles). */
#define LOG_MOD "store"
#include "agentfense/log.h"

#include "agentfense/cleanup.h"
#include "store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct listing {
	struct store_file_info *fi;
	size_t n, cap;
};

void store_file_infos_free(struct store_file_info *fi, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(fi[i].path);
	free(fi);
}

/* prefix may be "" (the root); the entry's path is prefix/name. */
static int push(struct listing *l, const char *prefix, const char *name,
		const struct stat *st)
{
	struct store_file_info *e;
	char *path;

	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 32;

		e = realloc(l->fi, cap * sizeof(*e));
		if (!e)
			return -ENOMEM;
		l->fi = e;
		l->cap = cap;
	}
	if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", name) < 0)
		return -ENOMEM;
	e = &l->fi[l->n++];
	e->path = path;
	/* name shares path's allocation: freed with it. */
	e->name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	e->is_dir = S_ISDIR(st->st_mode);
	e->size = e->is_dir ? 0 : st->st_size;
	e->modified_at_ns =
		(int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	return 0;
}

static int list_dir(struct listing *l, int dfd, const char *prefix,
		    bool recursive);

static int descend(struct listing *l, int dfd, size_t first, size_t last)
{
	for (size_t i = first; i < last; i++) {
		_cleanup_close_ int fd = -1;
		int r;

		if (!l->fi[i].is_dir)
			continue;
		fd = openat(dfd, l->fi[i].name, STORE_DIR_OPEN);
		if (fd < 0)
			return -errno;
		/* l->fi may move while listing below: pass a copy. */
		_cleanup_free_ char *prefix = strdup(l->fi[i].path);
		if (!prefix)
			return -ENOMEM;
		r = list_dir(l, fd, prefix, true);
		if (r < 0)
			return r;
	}
	return 0;
}

struct level {
	struct listing *l;
	const char *prefix;
};

/* Regular files and directories only: nothing else is ever uploaded. */
static int list_entry(void *ud, int dfd, const char *name)
{
	const struct level *lv = ud;
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 /* replaced concurrently */ : -errno;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return 0;
	if (strlen(lv->prefix) + strlen(name) + 2 > PATH_MAX)
		return -ENAMETOOLONG;
	return push(lv->l, lv->prefix, name, &st);
}

static int list_dir(struct listing *l, int dfd, const char *prefix,
		    bool recursive)
{
	struct level lv = { l, prefix };
	size_t first = l->n;
	int r;

	/* One level at a time: its DIR buffer is released before descending. */
	r = tree_each_entry(dfd, list_entry, &lv);
	if (r < 0)
		return r;
	return recursive ? descend(l, dfd, first, l->n) : 0;
}

static int by_path(const void *a, const void *b)
{
	const struct store_file_info *x = a, *y = b;

	return strcmp(x->path, y->path);
}

static int list_at(int gen, const char *rel, bool recursive, struct listing *l,
		   const char **why)
{
	_cleanup_close_ int parent = -1, dir = -1;
	const char *base;
	struct stat st;
	int r;

	if (!*rel)
		return list_dir(l, gen, "", recursive);
	r = tree_walk_parent(gen, rel, false, &parent, &base, why);
	if (r < 0)
		return r;
	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT
			       ? store_fail(why, "no such path", -ENOENT)
			       : -errno;
	if (S_ISREG(st.st_mode)) {
		/* push() joins prefix and name: split rel back apart. */
		char prefix[PATH_MAX];

		snprintf(prefix, sizeof(prefix), "%.*s",
			 base > rel ? (int)(base - rel - 1) : 0, rel);
		return push(l, prefix, base, &st);
	}
	if (!S_ISDIR(st.st_mode))
		return store_fail(why,
				  S_ISLNK(st.st_mode)
					  ? "path is a symbolic link"
					  : "path names a special file",
				  -EINVAL);
	dir = openat(parent, base, STORE_DIR_OPEN);
	if (dir < 0)
		return -errno;
	return list_dir(l, dir, rel, recursive);
}

int store_list_files(struct store *s, const char *codebase_id, const char *path,
		     bool recursive, struct store_file_info **out, size_t *n,
		     const char **why)
{
	struct listing l = { 0 };
	_cleanup_close_ int gen = -1;
	char rel[PATH_MAX] = "";
	int r;

	*out = NULL;
	*n = 0;
	r = store_check_id(codebase_id, why);
	if (r < 0)
		return r;
	if (path && *path && strcmp(path, "/")) {
		r = af_path_normalize(path, strlen(path), rel, sizeof(rel),
				      why);
		if (r < 0)
			return r;
	}
	/* The generation may be retired meanwhile, but not removed. */
	pthread_rwlock_rdlock(&s->trash_lock);
	pthread_mutex_lock(&s->lock);
	r = gen_open_current(s, codebase_id, &gen);
	pthread_mutex_unlock(&s->lock);
	if (r >= 0)
		r = list_at(gen, rel, recursive, &l, why);
	pthread_rwlock_unlock(&s->trash_lock);
	if (r == -ENOENT && gen < 0)
		return store_fail(why, "no such codebase", r);
	if (r < 0) {
		store_file_infos_free(l.fi, l.n);
		return r;
	}
	if (l.n > 1)
		qsort(l.fi, l.n, sizeof(*l.fi), by_path);
	*out = l.fi;
	*n = l.n;
	return 0;
}
