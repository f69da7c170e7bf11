// SPDX-License-Identifier: Apache-2.0
/*
 * From a staged tree to a generation. The current generation is merged
 * under the staged tree (hard links for files, fresh directories, as
 * gen_clone does), then the staged tree is renamed into place as
 * generation cur+1 and the database switched to it in one transaction:
 * readers see the old tree or the new one, never a mix. A failure before
 * the switch leaves the codebase as it was.
 */
#define LOG_MOD "store"
#include "agentfense/log.h"

#include "agentfense/cleanup.h"
#include "store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct merge {
	const struct merge_skip *skip;
	char path[PATH_MAX]; /* of the directory being merged, no '/' ends */
	int64_t removed_files, removed_bytes;
	const char **why;
};

static int cmp_path(const void *key, const void *elem)
{
	return strcmp(key, *(const char *const *)elem);
}

static bool skipped(const struct merge *mg)
{
	return mg->skip && mg->skip->n &&
	       bsearch(mg->path, mg->skip->paths, mg->skip->n,
		       sizeof(*mg->skip->paths), cmp_path);
}

/* Append name to mg->path; returns the old length to restore. */
static int push_name(struct merge *mg, const char *name, size_t *old)
{
	size_t len = strlen(mg->path);
	int n = snprintf(mg->path + len, sizeof(mg->path) - len, "%s%s",
			 len ? "/" : "", name);

	if (n < 0 || (size_t)n >= sizeof(mg->path) - len)
		return -ENAMETOOLONG;
	*old = len;
	return 0;
}

static int merge_dir(struct merge *mg, int cur, int stage);

/*
 * Would anything below the directory at mg->path survive the skip list?
 * Counts the skipped files as removed when nothing does.
 */
static int survivors(struct merge *mg, int dfd, bool *any)
{
	_cleanup_closedir_ DIR *d = NULL;
	int64_t files = 0, bytes = 0;
	struct dirent *de;
	int fd, r = 0;

	fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while (!*any && !r && (errno = 0, de = readdir(d))) {
		struct stat sb;
		size_t old;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
		    (r = push_name(mg, de->d_name, &old)) < 0)
			return r ? r : -errno;
		if (!skipped(mg)) {
			*any = true;
		} else if (S_ISDIR(sb.st_mode)) {
			_cleanup_close_ int sub =
				openat(dfd, de->d_name, STORE_DIR_OPEN);

			r = sub < 0 ? -errno : survivors(mg, sub, any);
		} else {
			files++;
			bytes += sb.st_size;
		}
		mg->path[old] = '\0';
	}
	if (!r && !*any) {
		mg->removed_files += files;
		mg->removed_bytes += bytes;
	}
	return r;
}

/* A directory of cur that the staged tree lacks: made, then merged. */
static int carry_dir(struct merge *mg, int cur, int stage, const char *name,
		     const struct stat *sb)
{
	_cleanup_close_ int s = -1, d = -1;
	struct timespec times[2] = { sb->st_atim, sb->st_mtim };
	bool gone = skipped(mg);
	int r;

	r = tree_mkdir_like(cur, stage, name, sb, &s, &d);
	if (r < 0)
		return r;
	r = merge_dir(mg, s, d);
	if (r < 0)
		return r;
	/* A deleted directory goes unless entries not deleted remain. */
	if (gone && unlinkat(stage, name, AT_REMOVEDIR) == 0)
		return 0;
	return futimens(d, times) < 0 ? -errno : 0;
}

/* One entry of cur, at mg->path. */
static int merge_entry(struct merge *mg, int cur, int stage, const char *name)
{
	struct stat cs, ss;
	bool in_stage, gone = skipped(mg);

	if (fstatat(cur, name, &cs, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	in_stage = fstatat(stage, name, &ss, AT_SYMLINK_NOFOLLOW) == 0;
	if (!in_stage && errno != ENOENT)
		return -errno;
	if (S_ISDIR(cs.st_mode)) {
		_cleanup_close_ int sub = -1, dst = -1;
		bool any = false;
		int r;

		if (!in_stage)
			return carry_dir(mg, cur, stage, name, &cs);
		sub = openat(cur, name, STORE_DIR_OPEN);
		if (sub < 0)
			return -errno;
		if (S_ISDIR(ss.st_mode)) {
			dst = openat(stage, name, STORE_DIR_OPEN);
			return dst < 0 ? -errno : merge_dir(mg, sub, dst);
		}
		r = gone ? survivors(mg, sub, &any) : 0;
		if (r < 0)
			return r;
		return gone && !any ? 0
				    : store_fail(mg->why,
						 "a file would replace a "
						 "directory that "
						 "holds other entries",
						 -EINVAL);
	}
	if (!S_ISREG(cs.st_mode)) {
		/* Nothing but files and directories gets into a tree. */
		log_warn("not carrying special file '%s' over", mg->path);
		return 0;
	}
	if (gone || in_stage) {
		if (!gone && S_ISDIR(ss.st_mode))
			return store_fail(
				mg->why,
				"a directory would replace a file of the "
				"codebase",
				-EINVAL);
		mg->removed_files++;
		mg->removed_bytes += cs.st_size;
		return 0;
	}
	return linkat(cur, name, stage, name, 0) < 0 ? -errno : 0;
}

struct merge_level {
	struct merge *mg;
	int stage;
};

static int merge_named(void *ud, int cur, const char *name)
{
	const struct merge_level *lv = ud;
	size_t old;
	int r;

	r = push_name(lv->mg, name, &old);
	if (r < 0)
		return r;
	r = merge_entry(lv->mg, cur, lv->stage, name);
	lv->mg->path[old] = '\0';
	return r;
}

static int merge_dir(struct merge *mg, int cur, int stage)
{
	struct merge_level lv = { mg, stage };

	return tree_each_entry(cur, merge_named, &lv);
}

int merge_tree(struct store_stage *st, int64_t cur,
	       const struct merge_skip *skip, int64_t *removed_files,
	       int64_t *removed_bytes, const char **why)
{
	struct merge mg = { .skip = skip, .why = why };
	_cleanup_close_ int curfd = gen_open(st->s, st->cb_id, cur);
	int r;

	if (curfd < 0)
		return log_errno(curfd, "codebase %s: generation %" PRId64,
				 st->cb_id, cur);
	r = merge_dir(&mg, curfd, st->root);
	if (r < 0)
		return r == -EINVAL ? r
				    : log_errno(r, "codebase %s: merging %s",
						st->cb_id, mg.path);
	*removed_files = mg.removed_files;
	*removed_bytes = mg.removed_bytes;
	return 0;
}

static int update_row(struct store *s, const char *id, int64_t gen,
		      int64_t size, int64_t files)
{
	sqlite3_stmt *q = NULL;
	int r;

	r = db_prepare_id(s,
			  "UPDATE codebases SET gen = ?2, size = ?3,"
			  " file_count = ?4, updated_at = ?5 WHERE id = ?1",
			  id, NULL, &q);
	if (r < 0)
		return r;
	sqlite3_bind_int64(q, 2, gen);
	sqlite3_bind_int64(q, 3, size < 0 ? 0 : size);
	sqlite3_bind_int64(q, 4, files < 0 ? 0 : files);
	sqlite3_bind_int64(q, 5, (int64_t)af_now_real_ns());
	return db_step_done(s, q, "switch generation");
}

/* The staged tree as generation cur+1, with more rows written by extra. */
static int switch_gen(struct store_stage *st, int64_t cur, int gens,
		      const struct gen_install *in)
{
	struct store *s = st->s;
	char name[24];
	int r;

	snprintf(name, sizeof(name), "%" PRId64, cur + 1);
	/* A leftover of a crash is not a valid tree. */
	r = af_rm_rf_at(gens, name);
	if (r < 0)
		return log_errno(r, "codebase %s: generation %s", st->cb_id,
				 name);
	if (renameat(st->tmp_dir, st->name, gens, name) < 0)
		return log_errno(-errno, "codebase %s: installing generation",
				 st->cb_id);
	r = db_begin(s);
	if (r == 0)
		r = update_row(s, st->cb_id, cur + 1, in->size, in->files);
	if (r == 0 && in->extra)
		r = in->extra(s, in->ud);
	if (r == 0)
		r = db_commit(s);
	if (r < 0) {
		db_rollback(s);
		/* Back to staging, which the caller's abort removes. */
		if (renameat(gens, name, st->tmp_dir, st->name) < 0)
			af_rm_rf_at(gens, name);
		return r;
	}
	st->name[0] = '\0';
	return 0;
}

int gen_install(struct store_stage *st, int64_t cur,
		const struct gen_install *in, char ***trash, size_t *ntrash)
{
	_cleanup_close_ int gens = -1;
	char rel[AF_ID_MAX + 8];
	int r;

	snprintf(rel, sizeof(rel), "%s/gen", st->cb_id);
	gens = tree_open_dir(st->s->cb_fd, rel, NULL);
	if (gens < 0)
		return log_errno(gens, "codebase %s: generations", st->cb_id);
	r = switch_gen(st, cur, gens, in);
	if (r < 0)
		return r;
	r = gen_retire_unused(st->s, st->cb_id, trash, ntrash);
	if (r < 0)
		/* The new tree is in place; leftovers go at the next open. */
		log_warn_errno(r, "codebase %s: retiring generations",
			       st->cb_id);
	return 0;
}
