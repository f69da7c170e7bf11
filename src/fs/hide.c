// SPDX-License-Identifier: Apache-2.0
/*
 * The hide layer: an overlay lower layer above the snapshot holding a
 * whiteout (char device 0/0) for every entry whose level is `none`, so
 * hidden entries are absent from listings and lookups give ENOENT, whatever
 * enforcer runs. Directories it needs mirror the snapshot's attributes, as
 * overlayfs shows a merged directory with its topmost layer's.
 */
#define LOG_MOD "fs"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/fs.h"
#include "agentfense/log.h"
#include "agentfense/policy.h"
#include "agentfense/util.h"

struct hide {
	const struct af_matcher *m;
	int snap_fd, hide_fd;
	size_t hidden;
	char **dirs; /* hide-layer dirs created, parents first */
	size_t n_dirs, cap;
};

static int remember_dir(struct hide *h, const char *rel)
{
	if (h->n_dirs == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 16;
		char **v = realloc(h->dirs, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		h->dirs = v;
		h->cap = cap;
	}
	h->dirs[h->n_dirs] = strdup(rel);
	return h->dirs[h->n_dirs++] ? 0 : -ENOMEM;
}

/* mkdir -p of rel's parents in the hide layer, owner and mode mirrored. */
static int make_parents(struct hide *h, const char *rel)
{
	char buf[PATH_MAX];
	size_t len = strlen(rel);

	if (len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, rel, len + 1);
	for (char *p = strchr(buf, '/'); p; p = strchr(p + 1, '/')) {
		struct stat st;
		int r;

		*p = '\0';
		if (fstatat(h->snap_fd, buf, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (mkdirat(h->hide_fd, buf, st.st_mode & 07777) == 0) {
			if (fchownat(h->hide_fd, buf, st.st_uid, st.st_gid,
				     AT_SYMLINK_NOFOLLOW) < 0 ||
			    fchmodat(h->hide_fd, buf, st.st_mode & 07777, 0) <
				    0)
				return -errno;
			r = remember_dir(h, buf);
			if (r < 0)
				return r;
		} else if (errno != EEXIST) {
			return -errno;
		}
		*p = '/';
	}
	return 0;
}

static int visit(void *ud, int parent_fd, const char *name, const char *path,
		 const struct stat *st)
{
	struct hide *h = ud;
	int r;

	(void)parent_fd;
	(void)name;
	if (af_matcher_lookup(h->m, path, S_ISDIR(st->st_mode)) != AF_PERM_NONE)
		return 0;
	r = make_parents(h, path + 1);
	if (r == 0 &&
	    mknodat(h->hide_fd, path + 1, S_IFCHR | 0000, makedev(0, 0)) < 0)
		r = -errno;
	if (r < 0)
		return log_errno(r, "hiding %s", path);
	h->hidden++;
	return AF_WALK_SKIP; /* nothing below a none entry is visible */
}

/* Directory times last: creating entries inside them moved them. */
static void mirror_times(struct hide *h)
{
	for (size_t i = h->n_dirs; i-- > 0;) {
		struct stat st;

		if (fstatat(h->snap_fd, h->dirs[i], &st, AT_SYMLINK_NOFOLLOW) ==
		    0) {
			struct timespec ts[2] = { st.st_atim, st.st_mtim };

			utimensat(h->hide_fd, h->dirs[i], ts,
				  AT_SYMLINK_NOFOLLOW);
		}
		free(h->dirs[i]);
	}
	free(h->dirs);
}

int fs_hide_build(const char *snapshot, const struct af_matcher *m,
		  const char *hide_dir, size_t *hidden)
{
	struct hide h = { .m = m, .snap_fd = -1, .hide_fd = -1 };
	int r;

	*hidden = 0;
	r = af_rm_rf(hide_dir);
	if (r == 0 && mkdir(hide_dir, 0755) < 0)
		r = -errno;
	if (r < 0)
		return log_errno(r, "creating hide layer %s", hide_dir);
	h.snap_fd = open(snapshot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	h.hide_fd = open(hide_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (h.snap_fd < 0 || h.hide_fd < 0)
		r = -errno;
	else
		r = af_walk_types(h.snap_fd, visit, &h);
	mirror_times(&h);
	if (h.snap_fd >= 0)
		close(h.snap_fd);
	if (h.hide_fd >= 0)
		close(h.hide_fd);
	*hidden = h.hidden;
	return r;
}
