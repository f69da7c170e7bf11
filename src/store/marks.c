// SPDX-License-Identifier: Apache-2.0
/*
 * Commit marks (codebase_marks): for each path a holder committed, the
 * identity of the sandbox's version it committed (view_id) and of the
 * entry that commit left in the tree. A later commit of the same holder
 * skips paths whose version is unchanged, and checks changed ones against
 * what it left there rather than against its snapshot. Rows go with the
 * holder's reference (store_codebase_unref).
 */
#define LOG_MOD "store"
#include "agentfense/log.h"

#include "store-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int marks_get(struct store *s, const char *id, const char *holder,
	      const char *path, struct mark *m, bool *found)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = db_prepare_id(s,
			  "SELECT view_id, present, is_dir, ino, size, mtime"
			  " FROM codebase_marks"
			  " WHERE codebase_id = ? AND holder = ? AND path = ?",
			  id, holder, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
	r = db_step_row(s, st, "commit mark");
	*found = r > 0;
	if (r > 0) {
		const char *v = (const char *)sqlite3_column_text(st, 0);

		snprintf(m->view_id, sizeof(m->view_id), "%s", v ? v : "");
		m->present = sqlite3_column_int(st, 1);
		m->is_dir = sqlite3_column_int(st, 2);
		m->ino = (uint64_t)sqlite3_column_int64(st, 3);
		m->size = sqlite3_column_int64(st, 4);
		m->mtime_ns = sqlite3_column_int64(st, 5);
	}
	sqlite3_finalize(st);
	return r < 0 ? r : 0;
}

int marks_put(struct store *s, const char *id, const char *holder,
	      const char *path, const struct mark *m)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = db_prepare_id(
		s,
		"INSERT OR REPLACE INTO codebase_marks"
		" (codebase_id, holder, path, view_id, present, is_dir,"
		"  ino, size, mtime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
		id, holder, &st);
	if (r < 0)
		return r;
	sqlite3_bind_text(st, 3, path, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, m->view_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, m->present);
	sqlite3_bind_int(st, 6, m->is_dir);
	sqlite3_bind_int64(st, 7, (int64_t)m->ino);
	sqlite3_bind_int64(st, 8, m->size);
	sqlite3_bind_int64(st, 9, m->mtime_ns);
	return db_step_done(s, st, "record commit mark");
}

int marks_drop(struct store *s, const char *id, const char *holder)
{
	sqlite3_stmt *st = NULL;
	int r;

	r = db_prepare_id(s,
			  "DELETE FROM codebase_marks"
			  " WHERE codebase_id = ? AND holder = ?",
			  id, holder, &st);
	if (r < 0)
		return r;
	return db_step_done(s, st, "drop commit marks");
}
