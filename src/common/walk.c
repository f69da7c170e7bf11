// SPDX-License-Identifier: Apache-2.0
#include "agentfense/cleanup.h"
#include "agentfense/util.h"

#include <dirent.h>
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
	char path[PATH_MAX];
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

/* A directory's entry names, sorted, without "." and "..". */
static int read_names(int fd, char ***out, size_t *n)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char **v = NULL;
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
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (*n == cap) {
			char **nv = realloc(v, (cap = cap ? 2 * cap : 32) *
						       sizeof(*v));

			if (!nv)
				goto oom;
			v = nv;
		}
		v[*n] = strdup(de->d_name);
		if (!v[*n])
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

static int walk_dir(struct walk *w, int fd, size_t plen, int depth)
{
	char **names = NULL;
	size_t n = 0;
	int r;

	if (depth > AF_WALK_MAX_DEPTH)
		return -ELOOP;
	r = read_names(fd, &names, &n);
	for (size_t i = 0; r >= 0 && names && i < n; i++) {
		size_t nlen = strlen(names[i]);
		struct stat st;
		int q, cfd;

		if (plen + 1 + nlen >= sizeof(w->path)) {
			r = -ENAMETOOLONG;
			break;
		}
		w->path[plen] = '/';
		memcpy(w->path + plen + 1, names[i], nlen + 1);
		if (fstatat(fd, names[i], &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;
			r = -errno;
			break;
		}
		q = w->cb(w->ud, fd, names[i], w->path, &st);
		if (q < 0) {
			r = q;
			break;
		}
		if (q == AF_WALK_SKIP || !S_ISDIR(st.st_mode) ||
		    st.st_dev != w->dev)
			continue;
		cfd = openat(fd, names[i],
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0) {
			r = -errno;
			break;
		}
		r = walk_dir(w, cfd, plen + 1 + nlen, depth + 1);
		close(cfd);
	}
	w->path[plen] = '\0';
	free_names(names, n);
	return r < 0 ? r : 0;
}

int af_walk(int dirfd, af_walk_fn cb, void *ud)
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
	r = walk_dir(w, dirfd, 0, 0);
	free(w);
	return r;
}
