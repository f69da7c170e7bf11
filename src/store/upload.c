// SPDX-License-Identifier: Apache-2.0
/*
 * Upload of one file: data is streamed into a temp file in the codebase's
 * tmp/ dir (same filesystem as its generations) and hashed on the way,
 * without the store lock; the commit renames it into the current
 * generation under the lock.
 */
#define LOG_MOD "store"
#include "agentfense/log.h"

#include "agentfense/cleanup.h"
#include "store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct store_upload {
	struct store *s;
	char cb_id[AF_ID_MAX];
	char path[PATH_MAX];	  /* normalised */
	char tmp_name[AF_ID_MAX]; /* in tmp_dir; "" once renamed away */
	int tmp_dir;
	int fd;
	EVP_MD_CTX *md;
	int64_t announced; /* 0: unknown */
	int64_t written;
	int err; /* sticky: a failed write fails the commit */
};

void store_upload_set_mode(struct store_upload *u, uint32_t mode)
{
	/* Before the rename: an installed file may be a hard link shared
	 * with a pinned generation, whose mode must not change. */
	if (u->fd >= 0 && fchmod(u->fd, store_file_mode(mode)) < 0 && !u->err)
		u->err = log_errno(-errno, "codebase %s: mode of %s", u->cb_id,
				   u->path);
}

void store_upload_abort(struct store_upload *u)
{
	if (!u)
		return;
	if (u->fd >= 0)
		close(u->fd);
	if (u->tmp_name[0] && unlinkat(u->tmp_dir, u->tmp_name, 0) < 0 &&
	    errno != ENOENT)
		log_warn_errno(-errno, "removing upload temp file %s",
			       u->tmp_name);
	if (u->tmp_dir >= 0)
		close(u->tmp_dir);
	EVP_MD_CTX_free(u->md);
	free(u);
}

static void upload_freep(struct store_upload **u)
{
	store_upload_abort(*u);
}

static int check_size(struct store *s, int64_t total, const char **why)
{
	if (total < 0)
		return store_fail(why, "total_size is negative", -EINVAL);
	if (s->max_file_size && (uint64_t)total > s->max_file_size)
		return store_fail(why,
				  "file is larger than the store's size limit",
				  -EFBIG);
	return 0;
}

/* Under the lock: the target is checked against the current tree. */
static int open_tmp_dir(struct store_upload *u, const char **why)
{
	_cleanup_close_ int gen = -1;
	int r;

	STORE_LOCK_SCOPE(u->s);
	r = gen_open_current(u->s, u->cb_id, &gen);
	if (r < 0)
		return r == -ENOENT ? store_fail(why, "no such codebase", r)
				    : r;
	r = tree_check_target(gen, u->path, why);
	if (r < 0)
		return r;
	u->tmp_dir = store_tmp_open(u->s, u->cb_id);
	return u->tmp_dir < 0 ? u->tmp_dir : 0;
}

static int open_tmp_file(struct store_upload *u)
{
	int r;

	r = af_id_new("up-", u->tmp_name, sizeof(u->tmp_name));
	if (r < 0)
		return r;
	u->fd = openat(u->tmp_dir, u->tmp_name,
		       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		       STORE_FILE_MODE);
	if (u->fd < 0) {
		r = -errno;
		u->tmp_name[0] = '\0';
		return log_errno(r, "codebase %s: upload temp file", u->cb_id);
	}
	/* Not the daemon's umask: stored files have one fixed mode. */
	if (fchmod(u->fd, STORE_FILE_MODE) < 0)
		return -errno;
	return 0;
}

int store_upload_begin(struct store *s, const char *codebase_id,
		       const char *path, int64_t total_size,
		       struct store_upload **out, const char **why)
{
	_cleanup_(upload_freep) struct store_upload *u = NULL;
	int r;

	r = store_check_id(codebase_id, why);
	if (r < 0)
		return r;
	r = check_size(s, total_size, why);
	if (r < 0)
		return r;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->s = s;
	u->fd = u->tmp_dir = -1;
	u->announced = total_size;
	snprintf(u->cb_id, sizeof(u->cb_id), "%s", codebase_id);
	r = af_path_normalize(path, path ? strlen(path) : 0, u->path,
			      sizeof(u->path), why);
	if (r < 0)
		return r;
	r = open_tmp_dir(u, why);
	if (r < 0)
		return r;
	r = open_tmp_file(u);
	if (r < 0)
		return r;
	u->md = EVP_MD_CTX_new();
	if (!u->md || EVP_DigestInit_ex(u->md, EVP_sha256(), NULL) != 1)
		return log_errno(-ENOMEM, "SHA-256 context");
	*out = TAKE_PTR(u);
	return 0;
}

int store_upload_write(struct store_upload *u, const void *data, size_t len)
{
	uint64_t total;

	if (u->err)
		return u->err;
	total = (uint64_t)u->written + len;
	if ((u->announced && total > (uint64_t)u->announced) ||
	    (u->s->max_file_size && total > u->s->max_file_size) ||
	    total > INT64_MAX)
		return u->err = -EFBIG;
	if (EVP_DigestUpdate(u->md, data, len) != 1)
		return u->err = log_errno(-EIO, "SHA-256 update");
	u->err = af_write_full(u->fd, data, len);
	if (u->err < 0)
		return log_errno(u->err, "codebase %s: writing upload of %s",
				 u->cb_id, u->path);
	u->written = (int64_t)total;
	return 0;
}

/* Rename into the current generation, cloning it first if pinned. */
static int install_locked(struct store_upload *u, int64_t *old,
			  const char **why)
{
	struct store *s = u->s;
	_cleanup_close_ int gen = -1;
	int64_t cur;
	bool pinned;
	int r;

	r = db_cb_gen(s, u->cb_id, &cur);
	if (r < 0)
		return r == -ENOENT ? store_fail(why, "codebase was deleted", r)
				    : r;
	gen = gen_open(s, u->cb_id, cur);
	if (gen < 0)
		return log_errno(gen, "codebase %s: generation %" PRId64,
				 u->cb_id, cur);
	/* Before cloning: a refused upload must not cost a generation. */
	r = tree_check_target(gen, u->path, why);
	if (r < 0)
		return r;
	r = db_gen_pinned(s, u->cb_id, cur, &pinned);
	if (r < 0)
		return r;
	if (pinned) {
		r = gen_clone(s, u->cb_id, cur);
		if (r < 0)
			return r;
		close(gen);
		gen = gen_open(s, u->cb_id, ++cur);
		if (gen < 0)
			return gen;
	}
	r = tree_install(gen, u->path, u->tmp_dir, u->tmp_name, old, why);
	if (r < 0)
		return r == -EINVAL ? r
				    : log_errno(r, "installing %s", u->path);
	u->tmp_name[0] = '\0';
	return 0;
}

static int account(struct store_upload *u, int64_t old)
{
	struct store *s = u->s;
	sqlite3_stmt *st = NULL;
	int r;

	r = db_prepare_id(s,
			  "UPDATE codebases SET size = size + ?2,"
			  " file_count = file_count + ?3, updated_at = ?4"
			  " WHERE id = ?1",
			  u->cb_id, NULL, &st);
	if (r < 0)
		return r;
	sqlite3_bind_int64(st, 2, u->written - (old > 0 ? old : 0));
	sqlite3_bind_int(st, 3, old < 0 ? 1 : 0);
	sqlite3_bind_int64(st, 4, (int64_t)af_now_real_ns());
	return db_step_done(s, st, "codebase size");
}

static int commit_locked(struct store_upload *u, const char **why)
{
	int64_t old = 0;
	int r;

	STORE_LOCK_SCOPE(u->s);
	r = install_locked(u, &old, why);
	if (r < 0)
		return r;
	/* The file is in place; only the counters would be stale. */
	return account(u, old);
}

int store_upload_commit(struct store_upload *u, struct store_upload_result *res,
			const char **why)
{
	_cleanup_(upload_freep) struct store_upload *owned = u;
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	int r;

	if (u->err)
		return store_fail(why,
				  u->err == -EFBIG ? "upload is too large"
						   : "upload failed earlier",
				  u->err);
	if (u->announced && u->written != u->announced)
		return store_fail(why, "upload ended before total_size bytes",
				  -EINVAL);
	if (EVP_DigestFinal_ex(u->md, digest, &dlen) != 1)
		return log_errno(-EIO, "SHA-256 final");
	/*
	 * Visible atomically (rename), not synced one by one: a per-file
	 * fsync made a 1,000-file upload take seconds. The tree is made
	 * durable once, when a sandbox pins it (store_snapshot).
	 */
	r = commit_locked(u, why);
	if (r < 0)
		return r;
	log_debug("codebase %s: stored %s (%" PRId64 " bytes)", u->cb_id,
		  u->path, u->written);
	if (res) {
		res->size = u->written;
		af_hex(digest, dlen, res->checksum);
		snprintf(res->path, sizeof(res->path), "%s", u->path);
	}
	return 0;
}
