// SPDX-License-Identifier: Apache-2.0
/* Codebase records: create, get, list, delete. */
#define LOG_MOD "store"
#include "agentfense/log.h"

#include "agentfense/cleanup.h"
#include "store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CB_COLUMNS \
	"id, name, owner_id, size, file_count, created_at, updated_at"
#define CB_ID_TRIES 4

/* Ids become directory names: only well-formed ones get that far. */
int store_check_id(const char *id, const char **why)
{
	if (af_id_valid("cb_", id))
		return 0;
	if (why)
		*why = "malformed codebase id";
	return -EINVAL;
}

void store_codebase_clear(struct store_codebase *cb)
{
	if (!cb)
		return;
	free(cb->name);
	free(cb->owner_id);
	cb->name = cb->owner_id = NULL;
}

void store_codebase_list_free(struct store_codebase *cbs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		store_codebase_clear(&cbs[i]);
	free(cbs);
}

static int row_to_codebase(sqlite3_stmt *st, struct store_codebase *cb)
{
	const char *id = (const char *)sqlite3_column_text(st, 0);
	const char *name = (const char *)sqlite3_column_text(st, 1);
	const char *owner = (const char *)sqlite3_column_text(st, 2);

	memset(cb, 0, sizeof(*cb));
	snprintf(cb->id, sizeof(cb->id), "%s", id ? id : "");
	cb->name = strdup(name ? name : "");
	cb->owner_id = strdup(owner ? owner : "");
	if (!cb->name || !cb->owner_id) {
		store_codebase_clear(cb);
		return -ENOMEM;
	}
	cb->size = sqlite3_column_int64(st, 3);
	cb->file_count = sqlite3_column_int(st, 4);
	cb->created_at_ns = sqlite3_column_int64(st, 5);
	cb->updated_at_ns = sqlite3_column_int64(st, 6);
	return 0;
}

/* Directories first: a crash before the row exists leaves an orphan that
 * store_open removes, never a row without its tree. */
static int make_dirs(struct store *s, const char *id)
{
	static const char *const sub[] = { "gen", "gen/0", "tmp" };
	_cleanup_close_ int fd = -1;

	if (mkdirat(s->cb_fd, id, STORE_DIR_MODE) < 0)
		return -errno;
	fd = openat(s->cb_fd, id, STORE_DIR_OPEN);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < ARRAY_SIZE(sub); i++)
		if (mkdirat(fd, sub[i], STORE_DIR_MODE) < 0)
			return -errno;
	/* The tree's root is a sandbox's /workspace: not the umask's mode. */
	if (fchmodat(fd, "gen/0", STORE_DIR_MODE, 0) < 0)
		return -errno;
	return 0;
}

static int insert_row(struct store *s, const struct store_codebase *cb)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = db_prepare_id(s,
			  "INSERT INTO codebases (" CB_COLUMNS ", gen)"
			  " VALUES (?, ?, ?, 0, 0, ?, ?, 0)",
			  cb->id, NULL, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 2, cb->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, cb->owner_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, cb->created_at_ns);
	sqlite3_bind_int64(st, 5, cb->updated_at_ns);
	return db_step_done(s, st, "insert codebase");
}

static int create_locked(struct store *s, struct store_codebase *cb)
{
	int r = -EEXIST;

	for (int i = 0; i < CB_ID_TRIES && r == -EEXIST; i++) {
		r = af_id_new("cb_", cb->id, sizeof(cb->id));
		if (r < 0)
			return r;
		r = make_dirs(s, cb->id);
	}
	if (r < 0)
		return log_errno(r, "codebase %s: creating its directories",
				 cb->id);
	r = insert_row(s, cb);
	if (r < 0)
		af_rm_rf_at(s->cb_fd, cb->id);
	return r;
}

int store_codebase_create(struct store *s, const char *name,
			  const char *owner_id, struct store_codebase *out)
{
	struct store_codebase cb = { 0 };
	int r;

	cb.name = strdup(name ? name : "");
	cb.owner_id = strdup(owner_id ? owner_id : "");
	if (!cb.name || !cb.owner_id) {
		store_codebase_clear(&cb);
		return -ENOMEM;
	}
	cb.created_at_ns = cb.updated_at_ns = (int64_t)af_now_real_ns();
	pthread_mutex_lock(&s->lock);
	r = create_locked(s, &cb);
	pthread_mutex_unlock(&s->lock);
	if (r < 0 || !out) {
		store_codebase_clear(&cb);
		return r;
	}
	log_info("codebase %s created (owner '%s')", cb.id, cb.owner_id);
	*out = cb;
	return 0;
}

int store_codebase_get(struct store *s, const char *id,
		       struct store_codebase *out)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = store_check_id(id, NULL);
	if (r < 0)
		return r;
	STORE_LOCK_SCOPE(s);
	r = db_prepare_id(s,
			  "SELECT " CB_COLUMNS " FROM codebases WHERE id = ?",
			  id, NULL, &st);
	if (r < 0)
		return r;
	r = db_step_row(s, st, "get codebase");
	if (r > 0)
		r = row_to_codebase(st, out);
	else if (r == 0)
		r = -ENOENT;
	sqlite3_finalize(st);
	return r;
}

static int list_rows(struct store *s, sqlite3_stmt *st, size_t limit,
		     struct store_codebase **out, size_t *n, bool *more)
{
	struct store_codebase *cbs = NULL;
	size_t len = 0, cap = 0;
	int r = 0, rc;

	*more = false;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (limit && len == limit) {
			*more = true;
			break;
		}
		if (len == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct store_codebase *c =
				realloc(cbs, ncap * sizeof(*cbs));

			if (!c) {
				r = -ENOMEM;
				break;
			}
			cbs = c;
			cap = ncap;
		}
		r = row_to_codebase(st, &cbs[len]);
		if (r < 0)
			break;
		len++;
	}
	if (!r && rc != SQLITE_ROW && rc != SQLITE_DONE)
		r = db_err(s, rc, "list codebases");
	if (r < 0) {
		store_codebase_list_free(cbs, len);
		return r;
	}
	*out = cbs;
	*n = len;
	return 0;
}

int store_codebase_list(struct store *s, const char *owner_id,
			const char *after_id, size_t limit,
			struct store_codebase **out, size_t *n, bool *more)
{
	sqlite3_stmt *st = NULL;
	int r;

	*out = NULL;
	*n = 0;
	STORE_LOCK_SCOPE(s);
	r = db_prepare(s,
		       "SELECT " CB_COLUMNS " FROM codebases"
		       " WHERE id > ?1 AND (?2 = '' OR owner_id = ?2)"
		       " ORDER BY id",
		       &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 1, after_id ? after_id : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, owner_id ? owner_id : "", -1, SQLITE_STATIC);
	r = list_rows(s, st, limit, out, n, more);
	sqlite3_finalize(st);
	return r;
}

static int first_holder(struct store *s, const char *id, char *holder)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = db_prepare_id(
		s,
		"SELECT holder FROM codebase_refs WHERE codebase_id = ?"
		" ORDER BY holder LIMIT 1",
		id, NULL, &st);
	if (r < 0)
		return r;
	r = db_step_row(s, st, "codebase references");
	if (r > 0) {
		const char *h = (const char *)sqlite3_column_text(st, 0);

		if (holder)
			snprintf(holder, AF_ID_MAX, "%s", h ? h : "");
		r = -EBUSY;
	}
	sqlite3_finalize(st);
	return r;
}

static int delete_locked(struct store *s, const char *id, char *holder,
			 char **trashed)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = first_holder(s, id, holder);
	if (r < 0)
		return r;
	r = db_prepare_id(s, "DELETE FROM codebases WHERE id = ?", id, NULL,
			  &st);
	if (r < 0)
		return r;
	r = db_step_done(s, st, "delete codebase");
	if (r < 0)
		return r;
	if (sqlite3_changes(s->db) == 0)
		return -ENOENT;
	/* The row is gone: a tree left behind is removed at the next open. */
	r = store_trash_move(s, s->cb_fd, id, trashed);
	if (r < 0)
		log_warn_errno(r, "codebase %s: moving its tree to the trash",
			       id);
	return 0;
}

int store_codebase_delete(struct store *s, const char *id,
			  char holder[AF_ID_MAX])
{
	char *trashed = NULL;
	int r;

	r = store_check_id(id, NULL);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	r = delete_locked(s, id, holder, &trashed);
	pthread_mutex_unlock(&s->lock);
	if (r < 0)
		return r;
	log_info("codebase %s deleted", id);
	if (trashed) {
		/* Removing a whole tree can take a while: not under the lock.
		 */
		store_trash_remove(s, trashed);
		free(trashed);
	}
	return 0;
}
