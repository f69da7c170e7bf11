// SPDX-License-Identifier: Apache-2.0
/* SQLite metadata of the store: connection, schema, small query helpers. */
#define LOG_MOD "store"
#include "agentfense/log.h"

#include "store-internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>

/*
 * The database file is shared with other modules, each with its own
 * connection and its own tables; ours all start with "codebase".
 */
#define STORE_SCHEMA_VERSION  2
#define STORE_BUSY_TIMEOUT_MS 5000

static const char schema_v1[] =
	"CREATE TABLE IF NOT EXISTS codebases ("
	" id TEXT PRIMARY KEY,"
	" name TEXT NOT NULL,"
	" owner_id TEXT NOT NULL,"
	" size INTEGER NOT NULL DEFAULT 0,"
	" file_count INTEGER NOT NULL DEFAULT 0,"
	" created_at INTEGER NOT NULL,"
	" updated_at INTEGER NOT NULL,"
	" gen INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS codebases_owner ON codebases(owner_id, id);"
	/* gen is NULL until the holder's first snapshot. */
	"CREATE TABLE IF NOT EXISTS codebase_refs ("
	" codebase_id TEXT NOT NULL,"
	" holder TEXT NOT NULL,"
	" gen INTEGER,"
	" created_at INTEGER NOT NULL,"
	" PRIMARY KEY (codebase_id, holder));";

/*
 * v2: what each holder (sandbox) committed at each path, so its next
 * commit knows the path's base (store_commit).
 */
static const char schema_v2[] = "CREATE TABLE IF NOT EXISTS codebase_marks ("
				" codebase_id TEXT NOT NULL,"
				" holder TEXT NOT NULL,"
				" path TEXT NOT NULL,"
				" view_id TEXT NOT NULL,"
				" present INTEGER NOT NULL,"
				" is_dir INTEGER NOT NULL,"
				" ino INTEGER NOT NULL,"
				" size INTEGER NOT NULL,"
				" mtime INTEGER NOT NULL,"
				" PRIMARY KEY (codebase_id, holder, path));";

int db_err(struct store *s, int rc, const char *what)
{
	int err;

	switch (rc) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		err = -EAGAIN;
		break;
	case SQLITE_NOMEM:
		err = -ENOMEM;
		break;
	case SQLITE_FULL:
		err = -ENOSPC;
		break;
	case SQLITE_CONSTRAINT:
		err = -EEXIST;
		break;
	case SQLITE_READONLY:
		err = -EROFS;
		break;
	default:
		err = -EIO;
	}
	log_err("%s: %s", what,
		s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
	return err;
}

int db_exec(struct store *s, const char *sql)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : db_err(s, rc, sql);
}

int db_prepare(struct store *s, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? 0 : db_err(s, rc, "prepare");
}

int db_prepare_id(struct store *s, const char *sql, const char *id,
		  const char *holder, sqlite3_stmt **st)
{
	int r = db_prepare(s, sql, st);

	if (r < 0)
		return r;
	sqlite3_bind_text(*st, 1, id, -1, SQLITE_STATIC);
	if (holder)
		sqlite3_bind_text(*st, 2, holder, -1, SQLITE_STATIC);
	return 0;
}

int db_step_done(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : db_err(s, rc, what);
}

int db_step_row(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_err(s, rc, what);
}

/* IMMEDIATE: take the write lock up front, so a busy peer waits, not fails. */
int db_begin(struct store *s)
{
	return db_exec(s, "BEGIN IMMEDIATE");
}

int db_commit(struct store *s)
{
	return db_exec(s, "COMMIT");
}

void db_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

static int db_user_version(struct store *s, int *version)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = db_prepare(s, "PRAGMA user_version", &st);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*version = sqlite3_column_int(st, 0);
	else
		r = db_err(s, rc, "PRAGMA user_version");
	sqlite3_finalize(st);
	return r;
}

static int db_migrate(struct store *s)
{
	char sql[64];
	int version = 0, r;

	r = db_begin(s);
	if (r < 0)
		return r;
	r = db_user_version(s, &version);
	if (r < 0)
		goto fail;
	if (version > STORE_SCHEMA_VERSION) {
		log_err("%s: schema version %d is newer than this daemon's "
			"(%d)",
			STORE_DB_NAME, version, STORE_SCHEMA_VERSION);
		r = -EPROTONOSUPPORT;
		goto fail;
	}
	if (version < 1) {
		r = db_exec(s, schema_v1);
		if (r < 0)
			goto fail;
	}
	if (version < 2) {
		r = db_exec(s, schema_v2);
		if (r < 0)
			goto fail;
	}
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		 STORE_SCHEMA_VERSION);
	r = db_exec(s, sql);
	if (r < 0)
		goto fail;
	return db_commit(s);
fail:
	db_rollback(s);
	return r;
}

int db_open(struct store *s)
{
	char path[PATH_MAX];
	int rc, r;

	if (snprintf(path, sizeof(path), "%s/%s", s->state_dir,
		     STORE_DB_NAME) >= (int)sizeof(path))
		return log_errno(-ENAMETOOLONG, "state dir path too long");
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_FULLMUTEX |
				     SQLITE_OPEN_NOFOLLOW,
			     NULL);
	if (rc != SQLITE_OK)
		return db_err(s, rc, path);
	sqlite3_extended_result_codes(s->db, 0);
	rc = sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
	if (rc != SQLITE_OK)
		return db_err(s, rc, "busy timeout");
	/*
	 * NORMAL under WAL: a commit survives a daemon crash without an fsync
	 * of its own; a power cut may lose the newest commits, never the
	 * database's consistency.
	 */
	r = db_exec(s,
		    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL");
	if (r < 0)
		return r;
	return db_migrate(s);
}

/* -ENOENT when the codebase does not exist. */
int db_cb_gen(struct store *s, const char *id, int64_t *gen)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = db_prepare_id(s, "SELECT gen FROM codebases WHERE id = ?", id, NULL,
			  &st);
	if (r < 0)
		return r;
	r = db_step_row(s, st, "codebase generation");
	if (r > 0)
		*gen = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return r > 0 ? 0 : r == 0 ? -ENOENT : r;
}

int db_gen_pinned(struct store *s, const char *id, int64_t gen, bool *pinned)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = db_prepare_id(s,
			  "SELECT 1 FROM codebase_refs"
			  " WHERE codebase_id = ? AND gen = ? LIMIT 1",
			  id, NULL, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 2, gen);
	r = db_step_row(s, st, "generation pins");
	if (r >= 0)
		*pinned = r > 0;
	sqlite3_finalize(st);
	return r < 0 ? r : 0;
}

int db_cb_totals(struct store *s, const char *id, int64_t *size, int64_t *files)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = db_prepare_id(s,
			  "SELECT size, file_count FROM codebases WHERE id = ?",
			  id, NULL, &st);
	if (r < 0)
		return r;
	r = db_step_row(s, st, "codebase size");
	if (r > 0) {
		*size = sqlite3_column_int64(st, 0);
		*files = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	return r > 0 ? 0 : r == 0 ? -ENOENT : r;
}
