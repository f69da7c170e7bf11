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
	const char *state_dir;   /* created if missing */
	uint64_t max_file_size;  /* 0: unlimited */
};

struct store_codebase {
	char id[AF_ID_MAX];      /* "cb_" + 16 hex */
	char *name;
	char *owner_id;
	int64_t size;            /* bytes in regular files */
	int32_t file_count;      /* regular files */
	int64_t created_at_ns;   /* CLOCK_REALTIME */
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
	char checksum[65];       /* hex SHA-256 */
	char path[4096];         /* normalised, without leading '/' */
};
int store_upload_begin(struct store *s, const char *codebase_id,
		       const char *path, int64_t total_size,
		       struct store_upload **out, const char **why);
int store_upload_write(struct store_upload *u, const void *data, size_t len);
/*
 * store_upload_write fails with -EFBIG past the announced total_size (when
 * > 0) or the store's max_file_size; after a failed write only abort (or a
 * commit, which returns the same error) is useful. Commit fails with
 * -EINVAL if fewer than an announced total_size bytes came.
 * Renames the file into the current generation; frees u in every case.
 */
int store_upload_commit(struct store_upload *u,
			struct store_upload_result *res, const char **why);
void store_upload_abort(struct store_upload *u);

/*
 * Open a stored regular file for reading (O_RDONLY|O_CLOEXEC fd):
 * -EISDIR for a directory, -ENOENT when missing, -EINVAL for a symlink.
 */
int store_file_open(struct store *s, const char *codebase_id,
		    const char *path, int *fd, const char **why);

struct store_file_info {
	char *path;              /* relative to the codebase root, no leading '/' */
	char *name;              /* last component (points into path) */
	bool is_dir;
	int64_t size;
	int64_t modified_at_ns;
};
/*
 * List below path ("" or "/" = root). Non-recursive: direct children;
 * recursive: every entry below, directories included, in path order.
 */
int store_list_files(struct store *s, const char *codebase_id,
		     const char *path, bool recursive,
		     struct store_file_info **out, size_t *n, const char **why);
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
int store_snapshot(struct store *s, const char *codebase_id,
		   const char *holder, char **path);

#endif
