// SPDX-License-Identifier: Apache-2.0
/*
 * Start-up reconciliation of the codebase trees with the metadata: what a
 * crashed daemon left behind (temp files, half-cloned or retired
 * generations, trees of deleted codebases) is removed; a codebase whose
 * tree is missing gets an empty one and a loud log line.
 */
#define LOG_MOD "store"
#include "agentfense/log.h"

#include "agentfense/cleanup.h"
#include "store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static int remove_entry(void *ud, int dfd, const char *name)
{
	int r = af_rm_rf_at(dfd, name);

	return r < 0 ? log_errno(r, "removing leftover %s", name) : 0;
}

static int recover_codebase(struct store *s, const char *id)
{
	_cleanup_close_ int dir = -1, tmp = -1;
	char **trash = NULL;
	size_t ntrash = 0;
	int r;

	dir = openat(s->cb_fd, id, STORE_DIR_OPEN);
	if (dir < 0)
		return -errno;
	tmp = openat(dir, "tmp", STORE_DIR_OPEN);
	if (tmp < 0 && errno == ENOENT &&
	    mkdirat(dir, "tmp", STORE_DIR_MODE) == 0)
		tmp = openat(dir, "tmp", STORE_DIR_OPEN);
	if (tmp < 0)
		return log_errno(-errno, "codebase %s: tmp dir", id);
	/* No upload is in flight yet: every temp file is a crash's. */
	r = tree_each_entry(tmp, remove_entry, NULL);
	if (r < 0)
		return r;
	r = gen_retire_unused(s, id, &trash, &ntrash);
	store_trash_empty(s, trash, ntrash);
	return r;
}

/* A directory in codebases/: a codebase's tree, or a leftover. */
static int recover_entry(void *ud, int dfd, const char *name)
{
	struct store *s = ud;
	int64_t gen;
	int r;

	if (!strcmp(name, STORE_TRASH_DIR))
		return 0;
	r = af_id_valid("cb_", name) ? db_cb_gen(s, name, &gen) : -ENOENT;
	if (r == -ENOENT) {
		log_info("removing %s/%s: no such codebase", STORE_CB_DIR,
			 name);
		return remove_entry(NULL, dfd, name);
	}
	if (r < 0)
		return r;
	return recover_codebase(s, name);
}

static int ensure_tree(struct store *s, const char *id, int64_t gen)
{
	char rel[AF_ID_MAX + 32];
	int fd, r;

	fd = gen_open(s, id, gen);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (fd != -ENOENT)
		return log_errno(fd, "codebase %s: generation %" PRId64, id,
				 gen);
	log_err("codebase %s: tree of generation %" PRId64
		" is missing; it is now empty",
		id, gen);
	snprintf(rel, sizeof(rel), "%s/%s/%s/gen/%" PRId64, s->state_dir,
		 STORE_CB_DIR, id, gen);
	r = af_mkdir_p(rel, STORE_DIR_MODE);
	if (r < 0)
		return log_errno(r, "creating %s", rel);
	return 0;
}

/* Every codebase row has its current generation on disk. */
static int ensure_trees(struct store *s)
{
	sqlite3_stmt *st = NULL;
	int r, rc;

	r = db_prepare(s, "SELECT id, gen FROM codebases", &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(st, 0);

		if (!af_id_valid("cb_", id)) {
			log_warn("ignoring codebase row with malformed id");
			continue;
		}
		r = ensure_tree(s, id, sqlite3_column_int64(st, 1));
		if (r < 0)
			break;
	}
	if (!r && rc != SQLITE_DONE)
		r = db_err(s, rc, "codebases");
	sqlite3_finalize(st);
	return r;
}

/* Runs in store_open, before the store is shared: no locks needed. */
int store_recover(struct store *s)
{
	_cleanup_close_ int trash = -1;
	int r;

	trash = openat(s->cb_fd, STORE_TRASH_DIR, STORE_DIR_OPEN);
	if (trash < 0)
		return log_errno(-errno, "%s", STORE_TRASH_DIR);
	r = tree_each_entry(trash, remove_entry, NULL);
	if (r < 0)
		return r;
	r = ensure_trees(s);
	if (r < 0)
		return r;
	return tree_each_entry(s->cb_fd, recover_entry, s);
}
