/* SPDX-License-Identifier: Apache-2.0 */
/*
 * store: codebases. Metadata in SQLite (WAL) at STATE/agentfense.db, file
 * trees under STATE/codebases/<id>/. A codebase's tree lives in numbered
 * generations; a sandbox pins the current generation at its first start and
 * sees it unchanged until it is destroyed (a write to a pinned generation
 * first clones it with hard links, so the pinned tree never changes).
 *
 * All functions are thread-safe and return 0 or a negative errno:
 *   -ENOENT   unknown codebase / file
 *   -EINVAL   bad argument (path traversal, bad id); *why says what
 *   -EBUSY    codebase still referenced by a sandbox
 *   -EEXIST   already exists
 *   -EFBIG    upload larger than announced or than the store's cap
 */
#ifndef AGENTFENSE_STORE_H
#define AGENTFENSE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentfense/util.h"

struct store;

struct store_config {
	const char *state_dir;	/* created if missing */
	uint64_t max_file_size; /* 0: unlimited */
	/* Bulk uploads (store_stage): content bytes and entries per upload. */
	uint64_t max_archive_size;    /* 0: unlimited */
	uint32_t max_archive_entries; /* 0: STORE_DEFAULT_ARCHIVE_ENTRIES */
};

#define STORE_DEFAULT_ARCHIVE_ENTRIES 1000000

struct store_codebase {
	char id[AF_ID_MAX]; /* "cb_" + 16 hex */
	char *name;
	char *owner_id;
	int64_t size;	       /* bytes in regular files */
	int32_t file_count;    /* regular files */
	int64_t created_at_ns; /* CLOCK_REALTIME */
	int64_t updated_at_ns;
};

int store_open(const struct store_config *cfg, struct store **out);
void store_close(struct store *s);

int store_codebase_create(struct store *s, const char *name,
			  const char *owner_id, struct store_codebase *out);
int store_codebase_get(struct store *s, const char *id,
		       struct store_codebase *out);
/*
 * Codebases ordered by id, those with id > after_id (NULL or "" for the
 * start), optionally only one owner's (NULL or "" for all); at most limit
 * entries (0: no limit). *more is set when further entries exist.
 */
int store_codebase_list(struct store *s, const char *owner_id,
			const char *after_id, size_t limit,
			struct store_codebase **out, size_t *n, bool *more);
/* -EBUSY (with *holder set to a referencing sandbox id) if referenced. */
int store_codebase_delete(struct store *s, const char *id,
			  char holder[AF_ID_MAX]);
void store_codebase_clear(struct store_codebase *cb);
void store_codebase_list_free(struct store_codebase *cbs, size_t n);

/* Upload of one file: begin, write chunks, commit (or abort). */
struct store_upload;
struct store_upload_result {
	int64_t size;
	char checksum[65]; /* hex SHA-256 */
	char path[4096];   /* normalised, without leading '/' */
};
int store_upload_begin(struct store *s, const char *codebase_id,
		       const char *path, int64_t total_size,
		       struct store_upload **out, const char **why);
int store_upload_write(struct store_upload *u, const void *data, size_t len);
/* The stored file's mode: 0755 if mode has an execute bit, else 0644. */
void store_upload_set_mode(struct store_upload *u, uint32_t mode);
/*
 * store_upload_write fails with -EFBIG past the announced total_size (when
 * > 0) or the store's max_file_size; after a failed write only abort (or a
 * commit, which returns the same error) is useful. Commit fails with
 * -EINVAL if fewer than an announced total_size bytes came.
 * Renames the file into the current generation; frees u in every case.
 */
int store_upload_commit(struct store_upload *u, struct store_upload_result *res,
			const char **why);
void store_upload_abort(struct store_upload *u);

/*
 * Open a stored regular file for reading (O_RDONLY|O_CLOEXEC fd):
 * -EISDIR for a directory, -ENOENT when missing, -EINVAL for a symlink.
 */
int store_file_open(struct store *s, const char *codebase_id, const char *path,
		    int *fd, const char **why);

struct store_file_info {
	char *path; /* relative to the codebase root, no leading '/' */
	char *name; /* last component (points into path) */
	bool is_dir;
	int64_t size;
	int64_t modified_at_ns;
};
/*
 * List below path ("" or "/" = root). Non-recursive: direct children;
 * recursive: every entry below, directories included, in path order.
 */
int store_list_files(struct store *s, const char *codebase_id, const char *path,
		     bool recursive, struct store_file_info **out, size_t *n,
		     const char **why);
void store_file_infos_free(struct store_file_info *fi, size_t n);

/*
 * References from sandboxes. ref at sandbox creation (-ENOENT if the
 * codebase is gone; a second ref by the same holder is a no-op), unref at
 * destruction (releases its snapshot; -ENOENT if holder had no reference).
 * A snapshot without an earlier ref takes the reference itself.
 * snapshot pins the current generation for holder at its first call and
 * returns the same tree on later calls (restart, daemon restart); *path is
 * malloc'd and names a directory that never changes while pinned.
 */
int store_codebase_ref(struct store *s, const char *codebase_id,
		       const char *holder);
int store_codebase_unref(struct store *s, const char *codebase_id,
			 const char *holder);
int store_snapshot(struct store *s, const char *codebase_id, const char *holder,
		   char **path);

/*
 * Staging: a tree built in the codebase's tmp/ without the store lock, then
 * merged over the current tree into a new generation in one step under the
 * lock, so readers see all of it or none of it. Paths are as for uploads.
 * Errors: -EINVAL (bad path, entry twice, file/directory clash; *why),
 * -EFBIG (a file above max_file_size), -EDQUOT (the staged content above
 * max_archive_size), -EMFILE (more than max_archive_entries entries).
 */
struct store_stage;
int store_stage_begin(struct store *s, const char *codebase_id,
		      struct store_stage **out, const char **why);
void store_stage_abort(struct store_stage *st);
int store_stage_mkdir(struct store_stage *st, const char *path,
		      const char **why);
/* Files end with no SHA-256 in their result (nobody asked for one). */
void store_stage_skip_digests(struct store_stage *st);
/* One file at a time: begin, write exactly size bytes, end. */
int store_stage_file_begin(struct store_stage *st, const char *path,
			   uint32_t mode, int64_t size, const char **why);
int store_stage_file_write(struct store_stage *st, const void *data,
			   size_t len);
int store_stage_file_end(struct store_stage *st,
			 struct store_upload_result *res, const char **why);
/* A whole file from src (a regular file, read to its end; its mode). */
int store_stage_copy(struct store_stage *st, const char *path, int src,
		     const char **why);
struct store_stage_totals {
	int64_t files, dirs, bytes;
};
void store_stage_totals(const struct store_stage *st,
			struct store_stage_totals *t);
void store_limits(const struct store *s, uint64_t *max_file_size,
		  uint64_t *max_archive_size, uint32_t *max_archive_entries);

/*
 * Bulk upload: the staged tree over the current one (staged files replace
 * files of the same path) as the codebase's new generation. Frees st.
 */
int store_import(struct store_stage *st, const char **why);

/*
 * A sandbox's changes to its snapshot, committed as a new generation.
 * Each change is checked against the codebase's current tree: the path must
 * still hold what the holder's snapshot held there (or what the holder
 * committed there last), else the change conflicts, unless the tree already
 * holds the sandbox's version. Paths not named are never touched: deleting
 * a directory removes only the entries named, and the directory itself
 * only when nothing else is left in it.
 */
enum store_op {
	STORE_OP_PUT = 1, /* the file staged at path */
	STORE_OP_MKDIR,	  /* the directory staged at path */
	STORE_OP_DELETE,
};

enum store_verdict {
	STORE_APPLY = 1, /* the path is as the snapshot left it */
	STORE_COMMITTED, /* unchanged since this holder committed it */
	STORE_SAME,	 /* the tree holds the sandbox's version already */
	STORE_DIFFERS,	 /* changed since the snapshot (check only) */
	STORE_CONFLICT,
};

struct store_change {
	const char *path; /* normalised, without the leading '/' */
	enum store_op op;
	const char *view_id;	    /* identity of the sandbox's version */
	enum store_verdict verdict; /* set by check and commit */
};

/*
 * Verdicts without content comparison (DIFFERS where the path changed);
 * the caller may compare a DIFFERS file through store_file_open.
 */
int store_commit_check(struct store *s, const char *codebase_id,
		       const char *holder, struct store_change *ch, size_t n);
/*
 * Verdicts, then, unless dry_run or a change conflicts (-EBUSY), the new
 * generation. PUT and MKDIR paths must have been staged in st. Frees st.
 */
int store_commit(struct store_stage *st, const char *holder,
		 struct store_change *ch, size_t n, bool dry_run,
		 const char **why);

#endif
