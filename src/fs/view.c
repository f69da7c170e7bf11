// SPDX-License-Identifier: Apache-2.0
#define LOG_MOD "fs"
#include "agentfense/fs.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/util.h"

static char *path_join(const char *a, const char *b)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", a, b) < 0)
		return NULL;
	return p;
}

int fs_view_prepare(const char *state_dir, const char *id, const char *snapshot,
		    const struct af_matcher *m, struct fs_view *v)
{
	_cleanup_free_ char *sbroot = path_join(state_dir, "sandboxes");
	int r;

	memset(v, 0, sizeof(*v));
	if (!sbroot)
		return -ENOMEM;
	v->dir = path_join(sbroot, id);
	v->snapshot = strdup(snapshot);
	if (v->dir) {
		v->lower = path_join(v->dir, "lower");
		v->hide = path_join(v->dir, "hide");
		v->upper = path_join(v->dir, "delta");
		v->work = path_join(v->dir, "work");
		v->rootmnt = path_join(v->dir, "root");
	}
	if (!v->dir || !v->snapshot || !v->lower || !v->hide || !v->upper ||
	    !v->work || !v->rootmnt) {
		fs_view_clear(v);
		return -ENOMEM;
	}

	/*
	 * The sandbox dir is 0700 (the delta may hold copies of protected
	 * files); inside it 0755, since the delta's root mode shows as the
	 * mode of /workspace.
	 */
	const char *dirs[] = { v->dir, v->lower, v->upper, v->work,
			       v->rootmnt };

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		r = af_mkdir_p(dirs[i], i == 0 ? 0700 : 0755);
		if (r < 0) {
			log_errno(r, "mkdir %s", dirs[i]);
			fs_view_clear(v);
			return r;
		}
	}
	if (m) {
		r = fs_hide_build(snapshot, m, v->hide, &v->hidden);
		if (r < 0) {
			fs_view_clear(v);
			return r;
		}
	}
	return 0;
}

void fs_view_clear(struct fs_view *v)
{
	free(v->dir);
	free(v->snapshot);
	free(v->lower);
	free(v->hide);
	free(v->upper);
	free(v->work);
	free(v->rootmnt);
	free(v->delta_image);
	memset(v, 0, sizeof(*v));
}

int fs_view_remove(const char *state_dir, const char *id)
{
	char path[PATH_MAX];
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/sandboxes/%s", state_dir,
			     id) >= sizeof(path))
		return -ENAMETOOLONG;
	r = af_rm_rf(path);
	if (r < 0)
		log_errno(r, "removing %s", path);
	return r;
}

int fs_view_overlay_opts(const struct fs_view *v, char *buf, size_t len)
{
	const char *d = v->delta_image ? FS_DELTA_MOUNT "/" : "";
	/*
	 * redirect_dir: renaming a directory of the snapshot works (instead of
	 * EXDEV). Safe here: the layers are the daemon's, and a sandbox has no
	 * capability to write overlayfs' trusted.* xattrs.
	 */
	int n = snprintf(buf, len,
			 "lowerdir=%slower,upperdir=%sdelta,workdir=%swork,"
			 "redirect_dir=on",
			 v->hidden ? "hide:" : "", d, d);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}
