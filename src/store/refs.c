// SPDX-License-Identifier: Apache-2.0
/*
 * References from sandboxes (codebase_refs). A reference keeps the codebase
 * from being deleted; once its holder takes a snapshot it also pins that
 * generation. Rows persist, so pins survive a daemon restart.
 */
#define LOG_MOD "store"
#include "agentfense/log.h"

#include "agentfense/cleanup.h"
#include "store-internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int check_holder(const char *holder)
{
	size_t len = holder ? strlen(holder) : 0;

	return len == 0 || len >= AF_ID_MAX ? -EINVAL : 0;
}

static int check_args(const char *id, const char *holder)
{
	int r = store_check_id(id, NULL);

	return r < 0 ? r : check_holder(holder);
}

static int ref_insert(struct store *s, const char *id, const char *holder,
		      const int64_t *gen)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = db_prepare_id(s,
			  "INSERT OR IGNORE INTO codebase_refs"
			  " (codebase_id, holder, gen, created_at)"
			  " VALUES (?, ?, ?, ?)",
			  id, holder, &st);
	if (r < 0)
		return r;
	if (gen)
		sqlite3_bind_int64(st, 3, *gen);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_int64(st, 4, (int64_t)af_now_real_ns());
	return db_step_done(s, st, "insert reference");
}

int store_codebase_ref(struct store *s, const char *codebase_id,
		       const char *holder)
{
	int64_t gen;
	int r;

	r = check_args(codebase_id, holder);
	if (r < 0)
		return r;
	STORE_LOCK_SCOPE(s);
	r = db_cb_gen(s, codebase_id, &gen);
	if (r < 0)
		return r;
	return ref_insert(s, codebase_id, holder, NULL);
}

static int unref_locked(struct store *s, const char *id, const char *holder,
			char ***trash, size_t *ntrash)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = db_prepare_id(s,
			  "DELETE FROM codebase_refs"
			  " WHERE codebase_id = ? AND holder = ?",
			  id, holder, &st);
	if (r < 0)
		return r;
	r = db_step_done(s, st, "delete reference");
	if (r < 0)
		return r;
	if (sqlite3_changes(s->db) == 0)
		return -ENOENT;
	r = marks_drop(s, id, holder);
	if (r < 0)
		log_warn_errno(r, "codebase %s: commit marks of %s", id,
			       holder);
	r = gen_retire_unused(s, id, trash, ntrash);
	if (r < 0)
		/* The reference is gone; leftovers go at the next open. */
		log_warn_errno(r, "codebase %s: retiring generations", id);
	return 0;
}

int store_codebase_unref(struct store *s, const char *codebase_id,
			 const char *holder)
{
	char **trash = NULL;
	size_t ntrash = 0;
	int r;

	r = check_args(codebase_id, holder);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	r = unref_locked(s, codebase_id, holder, &trash, &ntrash);
	pthread_mutex_unlock(&s->lock);
	/* Removing a whole tree can take a while: not under the lock. */
	store_trash_empty(s, trash, ntrash);
	return r;
}

int refs_pinned_gen(struct store *s, const char *id, const char *holder,
		    int64_t *gen)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = db_prepare_id(s,
			  "SELECT gen FROM codebase_refs"
			  " WHERE codebase_id = ? AND holder = ?",
			  id, holder, &st);
	if (r < 0)
		return r;
	r = db_step_row(s, st, "reference");
	if (r > 0 && sqlite3_column_type(st, 0) == SQLITE_NULL)
		r = -ENODATA;
	else if (r > 0)
		*gen = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return r > 0 ? 0 : r == 0 ? -ENOENT : r;
}

static int pin(struct store *s, const char *id, const char *holder, int64_t gen)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = db_prepare_id(s,
			  "UPDATE codebase_refs SET gen = ?3"
			  " WHERE codebase_id = ?1 AND holder = ?2",
			  id, holder, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 3, gen);
	return db_step_done(s, st, "pin generation");
}

static int snapshot_gen(struct store *s, const char *id, const char *holder,
			int64_t *gen)
{
	int64_t cur;
	int r;

	r = db_cb_gen(s, id, &cur);
	if (r < 0)
		return r;
	r = refs_pinned_gen(s, id, holder, gen);
	if (r != -ENODATA && r != -ENOENT)
		return r;
	*gen = cur;
	if (r == -ENODATA)
		return pin(s, id, holder, cur);
	return ref_insert(s, id, holder, &cur);
}

static int snapshot_locked(struct store *s, const char *codebase_id,
			   const char *holder, char **path, int *fd)
{
	int64_t gen = 0;
	int r;

	STORE_LOCK_SCOPE(s);
	r = snapshot_gen(s, codebase_id, holder, &gen);
	if (r < 0)
		return r;
	*fd = gen_open(s, codebase_id, gen);
	if (*fd < 0)
		return log_errno(*fd, "codebase %s: pinned generation %" PRId64,
				 codebase_id, gen);
	if (asprintf(path, "%s/%s/%s/gen/%" PRId64, s->state_dir, STORE_CB_DIR,
		     codebase_id, gen) < 0)
		return -ENOMEM;
	return 0;
}

int store_snapshot(struct store *s, const char *codebase_id, const char *holder,
		   char **path)
{
	_cleanup_close_ int fd = -1;
	int r;

	r = check_args(codebase_id, holder);
	if (r < 0)
		return r;
	r = snapshot_locked(s, codebase_id, holder, path, &fd);
	if (r < 0)
		return r;
	/* Uploads are not synced one by one; a pinned tree is, once. */
	store_flush_later(s);
	return 0;
}
