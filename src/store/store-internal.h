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

#include <fcntl.h>
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
/* Every directory of the store is opened so: never through a symlink. */
#define STORE_DIR_OPEN (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

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
	uint64_t max_archive_size;
	uint32_t max_archive_entries;
	/* The umask at open (0777: unknown): fchmod only where it cut a mode.
	 */
	uint32_t umask;
	/* flush.c: the background syncfs of pinned trees. */
	pthread_mutex_t flush_lock;
	pthread_cond_t flush_cond;
	pthread_t flush_thread;
	bool flush_running, flush_wanted, flush_stop;
	uint64_t flush_first_ns, flush_last_ns; /* of the pending request */
};

/* flush.c */
void store_flush_init(struct store *s);
int store_flush_start(struct store *s);
/* Ask for the store's filesystem to be synced soon, not waiting for it. */
void store_flush_later(struct store *s);
/* Finish a pending flush and stop the thread (idempotent). */
void store_flush_stop(struct store *s);

/* db.c: statements on s->db; callers hold s->lock. */
int db_open(struct store *s);
int db_err(struct store *s, int rc, const char *what);
int db_exec(struct store *s, const char *sql);
int db_prepare(struct store *s, const char *sql, sqlite3_stmt **st);
/* A statement keyed by ?1 = codebase id and, unless NULL, ?2 = holder. */
int db_prepare_id(struct store *s, const char *sql, const char *id,
		  const char *holder, sqlite3_stmt **st);
/* Step a statement that returns no rows, and finalize it. */
int db_step_done(struct store *s, sqlite3_stmt *st, const char *what);
/* Step a query for its one row: 1 with it, 0 without (not finalized). */
int db_step_row(struct store *s, sqlite3_stmt *st, const char *what);
int db_begin(struct store *s);
int db_commit(struct store *s);
void db_rollback(struct store *s);
int db_cb_gen(struct store *s, const char *id, int64_t *gen);
int db_gen_pinned(struct store *s, const char *id, int64_t gen, bool *pinned);
int db_cb_totals(struct store *s, const char *id, int64_t *size,
		 int64_t *files);

struct stat;

/* Set *why (when asked for) to a static reason; returns err. */
static inline int store_fail(const char **why, const char *reason, int err)
{
	if (why)
		*why = reason;
	return err;
}

/* tree.c: walks confined to a tree, refusing symlinks on every component. */
int tree_walk_parent(int rootfd, const char *rel, bool create, int *parent,
		     const char **base, const char **why);
int tree_open_dir(int rootfd, const char *rel, const char **why);
int tree_check_target(int rootfd, const char *rel, const char **why);
int tree_install(int rootfd, const char *rel, int tmpdir, const char *tmpname,
		 int64_t *old, const char **why);
/*
 * fn(ud, dfd, name) for each entry of the directory dfd but "." and "..":
 * a negative return stops with that error, a positive one stops with 0.
 */
typedef int (*tree_entry_fn)(void *ud, int dfd, const char *name);
int tree_each_entry(int dfd, tree_entry_fn fn, void *ud);
/*
 * mkdir name in dst with the mode of src's entry st, and open both: *from
 * (in src) and *to (in dst), closed by the caller even on failure.
 */
int tree_mkdir_like(int src, int dst, const char *name, const struct stat *st,
		    int *from, int *to);

/* gen.c: generations of a codebase's tree; callers hold s->lock. */
int gen_open(struct store *s, const char *id, int64_t gen);
int gen_open_current(struct store *s, const char *id, int *fd);
/* The codebase's upload temp dir (<id>/tmp); failures are logged. */
int store_tmp_open(struct store *s, const char *id);
int gen_clone(struct store *s, const char *id, int64_t from);
int gen_retire_unused(struct store *s, const char *id, char ***trash,
		      size_t *ntrash);
int store_trash_move(struct store *s, int dirfd, const char *name,
		     char **trashed);
void store_trash_remove(struct store *s, const char *name);
void store_trash_empty(struct store *s, char **names, size_t n);

/* stage.c, merge.c: staged trees and the generations made from them. */
struct store_stage {
	struct store *s;
	char cb_id[AF_ID_MAX];
	/* The staged tree: <id>/tmp/<name>. */
	char name[AF_ID_MAX];
	int tmp_dir;
	int root;
	/* The file being written (fd -1 when none) and its SHA-256 context. */
	int fd;
	bool no_digests; /* store_stage_file_end gets no result to fill */
	char path[4096];
	uint32_t mode;
	int64_t size, written;
	void *md;
	/* The last parent directory opened, kept for its siblings. */
	char parent[4096];
	int parent_fd;
	int64_t files, dirs, bytes;
	/* Sticky: a failed write fails the file. */
	int err;
};
/*
 * Stored files are 0644, or 0755 when any execute bit was asked for: every
 * sandbox process may read them, whatever its uid.
 */
static inline uint32_t store_file_mode(uint32_t mode)
{
	return STORE_FILE_MODE | (mode & 0111 ? 0111 : 0);
}
/*
 * merge.c, with s->lock held. merge_tree carries the current generation
 * over into st's tree, except the paths in skip (sorted, normalised), and
 * counts what it did not carry. gen_install makes st's tree generation
 * cur+1: database switched (with extra's rows, in the same transaction),
 * old generations retired into *trash for the caller to empty unlocked.
 */
struct merge_skip {
	const char *const *paths;
	size_t n;
};
int merge_tree(struct store_stage *st, int64_t cur,
	       const struct merge_skip *skip, int64_t *removed_files,
	       int64_t *removed_bytes, const char **why);
struct gen_install {
	int64_t size, files; /* the new tree's totals */
	int (*extra)(struct store *s, void *ud);
	void *ud;
};
int gen_install(struct store_stage *st, int64_t cur,
		const struct gen_install *in, char ***trash, size_t *ntrash);

/* marks.c: what each holder committed where (see store_commit). */
struct mark {
	bool present; /* the path held a file or directory after the commit */
	bool is_dir;
	uint64_t ino;
	int64_t size, mtime_ns;
	char view_id[128];
};
int marks_get(struct store *s, const char *id, const char *holder,
	      const char *path, struct mark *m, bool *found);
int marks_put(struct store *s, const char *id, const char *holder,
	      const char *path, const struct mark *m);
int marks_drop(struct store *s, const char *id, const char *holder);

/* refs.c */
/* The generation holder pinned: -ENOENT without a reference, -ENODATA
 * before its first snapshot. */
int refs_pinned_gen(struct store *s, const char *id, const char *holder,
		    int64_t *gen);

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
