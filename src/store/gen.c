// SPDX-License-Identifier: Apache-2.0
/*
 * Generations of a codebase's tree (<id>/gen/<N>/). Uploads go into the
 * current generation by rename; when a sandbox has pinned it, the commit
 * first clones it into N+1 with hard links, so pinned trees never change.
 * Generations neither current nor pinned are moved to the trash and
 * removed outside the lock.
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

int gen_open(struct store *s, const char *id, int64_t gen)
{
	char rel[AF_ID_MAX + 32];

	snprintf(rel, sizeof(rel), "%s/gen/%" PRId64, id, gen);
	return tree_open_dir(s->cb_fd, rel, NULL);
}

int store_tmp_open(struct store *s, const char *id)
{
	char rel[AF_ID_MAX + 8];
	int fd;

	snprintf(rel, sizeof(rel), "%s/tmp", id);
	fd = tree_open_dir(s->cb_fd, rel, NULL);
	return fd < 0 ? log_errno(fd, "codebase %s: tmp dir", id) : fd;
}

int gen_open_current(struct store *s, const char *id, int *fd)
{
	int64_t gen = 0;
	int r;

	r = db_cb_gen(s, id, &gen);
	if (r < 0)
		return r;
	r = gen_open(s, id, gen);
	if (r < 0)
		return log_errno(r, "codebase %s: generation %" PRId64, id,
				 gen);
	*fd = r;
	return 0;
}

static int clone_tree(int src, int dst);

static int clone_dir(int src, int dst, const char *name, const struct stat *st)
{
	_cleanup_close_ int s = -1, d = -1;
	struct timespec times[2] = { st->st_atim, st->st_mtim };
	int r;

	r = tree_mkdir_like(src, dst, name, st, &s, &d);
	if (r < 0)
		return r;
	r = clone_tree(s, d);
	if (r < 0)
		return r;
	/* After the entries: creating them touched the directory's mtime. */
	return futimens(d, times) < 0 ? -errno : 0;
}

static int clone_entry(void *ud, int src, const char *name)
{
	int dst = *(int *)ud;
	struct stat st;

	if (fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return clone_dir(src, dst, name, &st);
	if (S_ISREG(st.st_mode))
		return linkat(src, name, dst, name, 0) < 0 ? -errno : 0;
	/* Uploads never create these: do not carry one on. */
	log_warn("not cloning special file '%s'", name);
	return 0;
}

/* Copy the directory structure of src into dst, hard-linking files. */
static int clone_tree(int src, int dst)
{
	return tree_each_entry(src, clone_entry, &dst);
}

/* Make generation from+1 a clone of from and the current one. */
int gen_clone(struct store *s, const char *id, int64_t from)
{
	_cleanup_close_ int gens = -1, src = -1, dst = -1;
	char rel[AF_ID_MAX + 8], name[24];
	sqlite3_stmt *st = NULL;
	int r;

	snprintf(rel, sizeof(rel), "%s/gen", id);
	snprintf(name, sizeof(name), "%" PRId64, from + 1);
	gens = tree_open_dir(s->cb_fd, rel, NULL);
	if (gens < 0)
		return log_errno(gens, "codebase %s: generations", id);
	/* A leftover of a crash while cloning is not a valid tree. */
	r = af_rm_rf_at(gens, name);
	if (r >= 0 && mkdirat(gens, name, STORE_DIR_MODE) < 0)
		r = -errno;
	if (r < 0)
		return log_errno(r, "codebase %s: generation %s", id, name);
	snprintf(rel, sizeof(rel), "%" PRId64, from);
	src = openat(gens, rel, STORE_DIR_OPEN);
	dst = openat(gens, name, STORE_DIR_OPEN);
	r = src < 0 || dst < 0 ? -errno : 0;
	if (!r && fchmod(dst, STORE_DIR_MODE) < 0)
		r = -errno;
	if (!r)
		r = clone_tree(src, dst);
	if (r < 0)
		goto fail;
	r = db_prepare_id(s, "UPDATE codebases SET gen = ?2 WHERE id = ?1", id,
			  NULL, &st);
	if (r < 0)
		goto fail;
	sqlite3_bind_int64(st, 2, from + 1);
	r = db_step_done(s, st, "set current generation");
	if (r < 0)
		goto fail;
	log_debug("codebase %s: generation %s cloned from %s", id, name, rel);
	return 0;
fail:
	af_rm_rf_at(gens, name);
	return log_errno(r, "codebase %s: cloning generation %s", id, rel);
}

int store_trash_move(struct store *s, int dirfd, const char *name,
		     char **trashed)
{
	_cleanup_close_ int trash = -1;
	char uniq[AF_ID_MAX];
	int r;

	trash = openat(s->cb_fd, STORE_TRASH_DIR, STORE_DIR_OPEN);
	if (trash < 0)
		return -errno;
	r = af_id_new("t", uniq, sizeof(uniq));
	if (r < 0)
		return r;
	if (renameat(dirfd, name, trash, uniq) < 0)
		return -errno;
	*trashed = strdup(uniq);
	if (!*trashed)
		return -ENOMEM; /* left for the next store_open */
	return 0;
}

void store_trash_remove(struct store *s, const char *name)
{
	_cleanup_close_ int trash = -1;
	int r;

	trash = openat(s->cb_fd, STORE_TRASH_DIR, STORE_DIR_OPEN);
	if (trash < 0) {
		r = -errno;
	} else {
		pthread_rwlock_wrlock(&s->trash_lock);
		r = af_rm_rf_at(trash, name);
		pthread_rwlock_unlock(&s->trash_lock);
	}
	if (r < 0)
		log_warn_errno(r, "removing %s/%s", STORE_TRASH_DIR, name);
}

void store_trash_empty(struct store *s, char **names, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		store_trash_remove(s, names[i]);
		free(names[i]);
	}
	free(names);
}

/* Generations to keep: the current one and every pinned one. */
static int gens_in_use(struct store *s, const char *id, int64_t **out,
		       size_t *n)
{
	_cleanup_free_ int64_t *keep = NULL;
	sqlite3_stmt *st = NULL;
	size_t cap = 8, len = 1;
	int r, rc;

	keep = malloc(cap * sizeof(*keep));
	if (!keep)
		return -ENOMEM;
	r = db_cb_gen(s, id, &keep[0]);
	if (r < 0)
		return r;
	r = db_prepare_id(s,
			  "SELECT DISTINCT gen FROM codebase_refs"
			  " WHERE codebase_id = ? AND gen IS NOT NULL",
			  id, NULL, &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (len == cap) {
			int64_t *k = realloc(keep, 2 * cap * sizeof(*keep));

			if (!k) {
				sqlite3_finalize(st);
				return -ENOMEM;
			}
			keep = k;
			cap *= 2;
		}
		keep[len++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_err(s, rc, "pinned generations");
	*out = TAKE_PTR(keep);
	*n = len;
	return 0;
}

static bool gen_name_kept(const char *name, const int64_t *keep, size_t n)
{
	char *end;
	long long g;

	errno = 0;
	g = strtoll(name, &end, 10);
	if (errno || end == name || *end || name[0] == '-' || name[0] == '+')
		return false;
	for (size_t i = 0; i < n; i++)
		if (keep[i] == g)
			return true;
	return false;
}

static int trash_push(char ***trash, size_t *n, char *name)
{
	char **t = realloc(*trash, (*n + 1) * sizeof(**trash));

	if (!t) {
		free(name);
		return -ENOMEM;
	}
	t[(*n)++] = name;
	*trash = t;
	return 0;
}

struct retire {
	struct store *s;
	const char *id;
	const int64_t *keep;
	size_t nkeep;
	char ***trash;
	size_t *ntrash;
};

static int retire_entry(void *ud, int gens, const char *name)
{
	struct retire *rt = ud;
	char *moved = NULL;
	int r;

	if (gen_name_kept(name, rt->keep, rt->nkeep))
		return 0;
	r = store_trash_move(rt->s, gens, name, &moved);
	if (r >= 0)
		r = trash_push(rt->trash, rt->ntrash, moved);
	if (r < 0)
		return r;
	log_debug("codebase %s: generation %s retired", rt->id, name);
	return 0;
}

/*
 * Move every generation of id that is neither current nor pinned to the
 * trash; the caller empties it (store_trash_empty) after unlocking.
 */
int gen_retire_unused(struct store *s, const char *id, char ***trash,
		      size_t *ntrash)
{
	_cleanup_free_ int64_t *keep = NULL;
	_cleanup_close_ int fd = -1;
	char rel[AF_ID_MAX + 8];
	size_t nkeep = 0;
	int r;

	r = gens_in_use(s, id, &keep, &nkeep);
	if (r < 0)
		return r;
	snprintf(rel, sizeof(rel), "%s/gen", id);
	fd = tree_open_dir(s->cb_fd, rel, NULL);
	if (fd < 0)
		return fd;
	struct retire rt = { s, id, keep, nkeep, trash, ntrash };

	return tree_each_entry(fd, retire_entry, &rt);
}
