// SPDX-License-Identifier: Apache-2.0
#include "agentfense/cleanup.h"
#include "agentfense/util.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct walk {
	af_walk_fn cb;
	void *ud;
	dev_t dev;
	bool types_only;
	char path[PATH_MAX];
};

/* A directory entry: its name and its DT_* type. */
struct name {
	char *s;
	unsigned char type;
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(((const struct name *)a)->s, ((const struct name *)b)->s);
}

static void free_names(struct name *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].s);
	free(v);
}

/* A directory's entries, sorted by name, without "." and "..". */
static int read_names(int fd, struct name **out, size_t *n)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	struct name *v = NULL;
	size_t cap = 0;
	int dfd = dup(fd);

	*n = 0;
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	/* The dup shares fd's offset: a second walk must start over. */
	rewinddir(d);
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*n == cap) {
			struct name *nv = realloc(
				v, (cap = cap ? 2 * cap : 32) * sizeof(*v));

			if (!nv)
				goto oom;
			v = nv;
		}
		v[*n].s = strdup(de->d_name);
		v[*n].type = de->d_type;
		if (!v[*n].s)
			goto oom;
		(*n)++;
	}
	if (errno) {
		int r = -errno;

		free_names(v, *n);
		return r;
	}
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_names);
	*out = v;
	return 0;
oom:
	free_names(v, *n);
	return -ENOMEM;
}

/* 0, 1 when the entry is gone, or a negative errno. */
static int entry_stat(const struct walk *w, int fd, const struct name *e,
		      struct stat *st)
{
	if (w->types_only && e->type != DT_UNKNOWN) {
		memset(st, 0, sizeof(*st));
		st->st_mode = DTTOIF(e->type);
		st->st_dev = w->dev; /* a directory's own is checked on entry */
		return 0;
	}
	if (fstatat(fd, e->s, st, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	return errno == ENOENT ? 1 : -errno;
}

/* The directory below; -EXDEV for a mount point (not entered). */
static int open_child(const struct walk *w, int fd, const char *name)
{
	struct stat st;
	int cfd = openat(fd, name,
			 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (cfd < 0)
		return -errno;
	if (w->types_only && fstat(cfd, &st) < 0) {
		int r = -errno;

		close(cfd);
		return r;
	}
	if (w->types_only && st.st_dev != w->dev) {
		close(cfd);
		return -EXDEV;
	}
	return cfd;
}

static int walk_dir(struct walk *w, int fd, size_t plen, int depth)
{
	struct name *names = NULL;
	size_t n = 0;
	int r;

	if (depth > AF_WALK_MAX_DEPTH)
		return -ELOOP;
	r = read_names(fd, &names, &n);
	for (size_t i = 0; r >= 0 && names && i < n; i++) {
		size_t nlen = strlen(names[i].s);
		struct stat st;
		int q, cfd;

		if (plen + 1 + nlen >= sizeof(w->path)) {
			r = -ENAMETOOLONG;
			break;
		}
		w->path[plen] = '/';
		memcpy(w->path + plen + 1, names[i].s, nlen + 1);
		q = entry_stat(w, fd, &names[i], &st);
		if (q < 0) {
			r = q;
			break;
		}
		if (q > 0)
			continue; /* gone meanwhile */
		q = w->cb(w->ud, fd, names[i].s, w->path, &st);
		if (q < 0) {
			r = q;
			break;
		}
		if (q == AF_WALK_SKIP || !S_ISDIR(st.st_mode) ||
		    st.st_dev != w->dev)
			continue;
		cfd = open_child(w, fd, names[i].s);
		if (cfd == -EXDEV)
			continue;
		if (cfd < 0) {
			r = cfd;
			break;
		}
		r = walk_dir(w, cfd, plen + 1 + nlen, depth + 1);
		close(cfd);
	}
	w->path[plen] = '\0';
	free_names(names, n);
	return r < 0 ? r : 0;
}

static int walk(int dirfd, af_walk_fn cb, void *ud, bool types_only)
{
	struct walk *w = calloc(1, sizeof(*w));
	struct stat st;
	int r;

	if (!w)
		return -ENOMEM;
	if (fstat(dirfd, &st) < 0) {
		r = -errno;
		free(w);
		return r;
	}
	w->cb = cb;
	w->ud = ud;
	w->dev = st.st_dev;
	w->types_only = types_only;
	r = walk_dir(w, dirfd, 0, 0);
	free(w);
	return r;
}

int af_walk(int dirfd, af_walk_fn cb, void *ud)
{
	return walk(dirfd, cb, ud, false);
}

int af_walk_types(int dirfd, af_walk_fn cb, void *ud)
{
	return walk(dirfd, cb, ud, true);
}
