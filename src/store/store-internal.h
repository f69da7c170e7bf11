/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the store module, shared by its files only.
 *
 * On disk, below STATE/codebases/ (one filesystem, so renames and hard links
 * work between all of these):
 *   <id>/gen/<N>/   generation N of the tree; codebases.gen names the current
 *   <id>/tmp/       upload temp files, renamed into a generation at commit
 *   .trash/         trees being deleted outside the lock
 *
 * Locking: s->lock guards the database connection and every change to the
 * set of generations or to a generation's entries. Upload data is streamed
 * into temp files without it.
 */
#ifndef AGENTFENSE_STORE_INTERNAL_H
#define AGENTFENSE_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "agentfense/store.h"

#define STORE_CB_DIR	"codebases"
#define STORE_TRASH_DIR ".trash"
#define STORE_DB_NAME	"agentfense.db"
#define STORE_DIR_MODE	0755
#define STORE_FILE_MODE 0644

struct store {
	pthread_mutex_t lock;
	/*
	 * Read-held while a tree is walked without s->lock, write-held while
	 * retired trees are removed, so a walk never sees one half-removed.
	 * Never taken for writing under s->lock.
	 */
	pthread_rwlock_t trash_lock;
	sqlite3 *db;
	char *state_dir; /* absolute */
	int cb_fd;	 /* STATE/codebases, flock'd: one store per state dir */
	uint64_t max_file_size;
};

/* db.c: statements on s->db; callers hold s->lock. */
int db_open(struct store *s);
int db_err(struct store *s, int rc, const char *what);
int db_exec(struct store *s, const char *sql);
int db_prepare(struct store *s, const char *sql, sqlite3_stmt **st);
int db_begin(struct store *s);
int db_commit(struct store *s);
void db_rollback(struct store *s);
int db_cb_gen(struct store *s, const char *id, int64_t *gen);
int db_gen_pinned(struct store *s, const char *id, int64_t gen, bool *pinned);

/* tree.c: walks confined to a tree, refusing symlinks on every component. */
int tree_walk_parent(int rootfd, const char *rel, bool create, int *parent,
		     const char **base, const char **why);
int tree_open_dir(int rootfd, const char *rel, const char **why);
int tree_check_target(int rootfd, const char *rel, const char **why);
int tree_install(int rootfd, const char *rel, int tmpdir, const char *tmpname,
		 int64_t *old, const char **why);

/* gen.c: generations of a codebase's tree; callers hold s->lock. */
int gen_open(struct store *s, const char *id, int64_t gen);
int gen_open_current(struct store *s, const char *id, int *fd);
int gen_clone(struct store *s, const char *id, int64_t from);
int gen_retire_unused(struct store *s, const char *id, char ***trash,
		      size_t *ntrash);
int store_trash_move(struct store *s, int dirfd, const char *name,
		     char **trashed);
void store_trash_remove(struct store *s, const char *name);
void store_trash_empty(struct store *s, char **names, size_t n);

/* codebase.c */
int store_check_id(const char *id, const char **why);

/* recover.c: leftovers of a crashed daemon, at store_open. */
int store_recover(struct store *s);

static inline void store_unlockp(struct store **s)
{
	if (*s)
		pthread_mutex_unlock(&(*s)->lock);
}
/* Holds s->lock until the end of the scope. */
#define STORE_LOCK_SCOPE(s)                                             \
	__attribute__((cleanup(store_unlockp))) struct store *_locked = \
		(pthread_mutex_lock(&(s)->lock), (s))

#endif
