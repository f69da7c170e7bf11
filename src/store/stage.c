// SPDX-License-Identifier: Apache-2.0
/*
 * Staged trees: the content of a bulk upload or of a sandbox's commit,
 * written below the codebase's tmp/ (the same filesystem as its
 * generations) without the store lock, hashed on the way. merge.c turns a
 * staged tree into a generation. Every component is created or opened with
 * O_NOFOLLOW relative to its parent, as in tree.c.
 */
#define LOG_MOD "store"
#include "agentfense/log.h"

#include "agentfense/cleanup.h"
#include "store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#define COPY_CHUNK (1 << 20)

static void close_file(struct store_stage *st)
{
	if (st->fd >= 0)
		close(st->fd);
	st->fd = -1;
	EVP_MD_CTX_free(st->md);
	st->md = NULL;
}

void store_stage_abort(struct store_stage *st)
{
	int r;

	if (!st)
		return;
	close_file(st);
	if (st->parent_fd >= 0)
		close(st->parent_fd);
	if (st->root >= 0)
		close(st->root);
	if (st->tmp_dir >= 0 && st->name[0]) {
		r = af_rm_rf_at(st->tmp_dir, st->name);
		if (r < 0)
			log_warn_errno(r, "removing staged tree %s", st->name);
	}
	if (st->tmp_dir >= 0)
		close(st->tmp_dir);
	free(st);
}

static void stage_freep(struct store_stage **st)
{
	store_stage_abort(*st);
}

/* Under the lock: the codebase exists now (it may go later: see merge). */
static int open_tmp(struct store_stage *st, const char **why)
{
	int64_t gen;
	int r;

	STORE_LOCK_SCOPE(st->s);
	r = db_cb_gen(st->s, st->cb_id, &gen);
	if (r < 0)
		return r == -ENOENT ? store_fail(why, "no such codebase", r)
				    : r;
	st->tmp_dir = store_tmp_open(st->s, st->cb_id);
	return st->tmp_dir < 0 ? st->tmp_dir : 0;
}

int store_stage_begin(struct store *s, const char *codebase_id,
		      struct store_stage **out, const char **why)
{
	_cleanup_(stage_freep) struct store_stage *st = NULL;
	int r;

	r = store_check_id(codebase_id, why);
	if (r < 0)
		return r;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->s = s;
	st->tmp_dir = st->root = st->fd = st->parent_fd = -1;
	snprintf(st->cb_id, sizeof(st->cb_id), "%s", codebase_id);
	r = open_tmp(st, why);
	if (r < 0)
		return r;
	r = af_id_new("stage-", st->name, sizeof(st->name));
	if (r < 0)
		return r;
	if (mkdirat(st->tmp_dir, st->name, STORE_DIR_MODE) < 0) {
		r = -errno;
		st->name[0] = '\0';
		return log_errno(r, "codebase %s: staging dir", codebase_id);
	}
	st->root = openat(st->tmp_dir, st->name, STORE_DIR_OPEN);
	if (st->root < 0)
		return -errno;
	/* Becomes a generation's root, which is a sandbox's /workspace. */
	if (fchmod(st->root, STORE_DIR_MODE) < 0)
		return -errno;
	*out = TAKE_PTR(st);
	return 0;
}

void store_stage_totals(const struct store_stage *st,
			struct store_stage_totals *t)
{
	t->files = st->files;
	t->dirs = st->dirs;
	t->bytes = st->bytes;
}

void store_stage_skip_digests(struct store_stage *st)
{
	st->no_digests = true;
}

static int mkdir_one(struct store_stage *st, int dfd, const char *name)
{
	if (mkdirat(dfd, name, STORE_DIR_MODE) == 0) {
		st->dirs++;
		/* Not the daemon's umask: sandboxes traverse these. */
		if (!(STORE_DIR_MODE & st->s->umask))
			return 0;
		return fchmodat(dfd, name, STORE_DIR_MODE, 0) < 0 ? -errno : 0;
	}
	return errno == EEXIST ? 0 : -errno;
}

static int open_dir(int dfd, const char *name, const char **why)
{
	int fd = openat(dfd, name, STORE_DIR_OPEN);

	if (fd >= 0)
		return fd;
	if (errno == ENOTDIR || errno == ELOOP)
		return store_fail(
			why, "a parent of the path is a file in the upload",
			-EINVAL);
	return -errno;
}

/*
 * The directory dir (relative to the root; "" is the root), created with
 * its parents; the fd is cached, so siblings cost no walk.
 */
static int parent_dir(struct store_stage *st, const char *dir, size_t len,
		      const char **why)
{
	_cleanup_close_ int cur = -1;
	char name[NAME_MAX + 1];
	const char *p = dir, *end = dir + len;

	if (st->parent_fd >= 0 && strlen(st->parent) == len &&
	    !memcmp(st->parent, dir, len))
		return st->parent_fd;
	cur = fcntl(st->root, F_DUPFD_CLOEXEC, 3);
	while (cur >= 0 && p < end) {
		const char *slash = memchr(p, '/', (size_t)(end - p));
		size_t n = (size_t)((slash ? slash : end) - p);
		int next, r;

		if (n == 0 || n > NAME_MAX)
			return store_fail(why, "bad path component", -EINVAL);
		memcpy(name, p, n);
		name[n] = '\0';
		r = mkdir_one(st, cur, name);
		if (r < 0)
			return r;
		next = open_dir(cur, name, why);
		if (next < 0)
			return next;
		close(cur);
		cur = next;
		p += n + (slash ? 1 : 0);
	}
	if (cur < 0)
		return -errno;
	if (st->parent_fd >= 0)
		close(st->parent_fd);
	memcpy(st->parent, dir, len);
	st->parent[len] = '\0';
	st->parent_fd = TAKE_FD(cur);
	return st->parent_fd;
}

/* Split a normalised path: the parent's length and the last component. */
static const char *split(const char *rel, size_t *dirlen)
{
	const char *slash = strrchr(rel, '/');

	*dirlen = slash ? (size_t)(slash - rel) : 0;
	return slash ? slash + 1 : rel;
}

static int count_entry(struct store_stage *st)
{
	if ((uint64_t)(st->files + st->dirs) >= st->s->max_archive_entries)
		return -EMFILE;
	return 0;
}

int store_stage_mkdir(struct store_stage *st, const char *path,
		      const char **why)
{
	char rel[PATH_MAX];
	int r;

	if (st->fd >= 0)
		return store_fail(why, "a file is still being written",
				  -EINVAL);
	r = af_path_normalize(path, path ? strlen(path) : 0, rel, sizeof(rel),
			      why);
	if (r == 0)
		r = count_entry(st);
	if (r < 0)
		return r;
	r = parent_dir(st, rel, strlen(rel), why);
	return r < 0 ? r : 0;
}

static int check_sizes(struct store_stage *st, int64_t size, const char **why)
{
	const struct store *s = st->s;

	if (size < 0)
		return store_fail(why, "size is negative", -EINVAL);
	if (s->max_file_size && (uint64_t)size > s->max_file_size)
		return store_fail(why,
				  "file is larger than the server's file size "
				  "limit",
				  -EFBIG);
	if (s->max_archive_size &&
	    (uint64_t)(st->bytes + size) > s->max_archive_size)
		return store_fail(why,
				  "the upload is larger than the server's "
				  "upload size limit",
				  -EDQUOT);
	return count_entry(st);
}

int store_stage_file_begin(struct store_stage *st, const char *path,
			   uint32_t mode, int64_t size, const char **why)
{
	const char *base;
	size_t dirlen;
	int dfd, r;

	if (st->fd >= 0)
		return store_fail(why, "the previous file is incomplete",
				  -EINVAL);
	r = af_path_normalize(path, path ? strlen(path) : 0, st->path,
			      sizeof(st->path), why);
	if (r == 0)
		r = check_sizes(st, size, why);
	if (r < 0)
		return r;
	base = split(st->path, &dirlen);
	dfd = parent_dir(st, st->path, dirlen, why);
	if (dfd < 0)
		return dfd;
	st->mode = store_file_mode(mode);
	st->fd = openat(dfd, base,
			O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			st->mode);
	if (st->fd < 0)
		return errno == EEXIST
			       ? store_fail(why,
					    "path is in the upload twice (as a "
					    "file or a directory)",
					    -EINVAL)
			       : log_errno(-errno, "staging %s", st->path);
	st->size = size;
	st->written = 0;
	st->err = 0;
	/* The mode was given at creation: fixed only where the umask cut it. */
	if ((st->mode & st->s->umask) && fchmod(st->fd, st->mode) < 0) {
		r = log_errno(-errno, "staging %s", st->path);
		close_file(st);
		return r;
	}
	if (!st->no_digests) {
		st->md = EVP_MD_CTX_new();
		if (!st->md ||
		    EVP_DigestInit_ex(st->md, EVP_sha256(), NULL) != 1) {
			close_file(st);
			return -ENOMEM;
		}
	}
	st->files++;
	st->bytes += size;
	return 0;
}

int store_stage_file_write(struct store_stage *st, const void *data, size_t len)
{
	if (st->fd < 0)
		return -EINVAL;
	if (st->err)
		return st->err;
	if ((uint64_t)st->written + len > (uint64_t)st->size)
		return st->err = -EFBIG;
	if (st->md && EVP_DigestUpdate(st->md, data, len) != 1)
		return st->err = log_errno(-EIO, "SHA-256 update");
	st->err = af_write_full(st->fd, data, len);
	if (st->err < 0)
		return log_errno(st->err, "staging %s", st->path);
	st->written += (int64_t)len;
	return 0;
}

int store_stage_file_end(struct store_stage *st,
			 struct store_upload_result *res, const char **why)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	int r = st->err;

	if (st->fd < 0)
		return store_fail(why, "no file is being written", -EINVAL);
	if (!r && st->written != st->size)
		r = store_fail(why, "the file ended before its size", -EINVAL);
	if (!r && st->md && EVP_DigestFinal_ex(st->md, digest, &dlen) != 1)
		r = log_errno(-EIO, "SHA-256 final");
	close_file(st);
	if (r < 0)
		return r == -EFBIG
			       ? store_fail(why,
					    "more data than the file's size",
					    -EINVAL)
			       : r;
	if (res) {
		res->size = st->written;
		af_hex(digest, dlen, res->checksum);
		snprintf(res->path, sizeof(res->path), "%s", st->path);
	}
	return 0;
}

/* sendfile until EOF; the size is what was there when we looked. */
static int copy_from(struct store_stage *st, int src)
{
	for (;;) {
		ssize_t n = sendfile(st->fd, src, NULL, COPY_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		st->written += n;
		if (st->s->max_file_size &&
		    (uint64_t)st->written > st->s->max_file_size)
			return -EFBIG;
	}
}

int store_stage_copy(struct store_stage *st, const char *path, int src,
		     const char **why)
{
	struct stat sb;
	int r;

	if (fstat(src, &sb) < 0)
		return -errno;
	if (!S_ISREG(sb.st_mode))
		return store_fail(why, "not a regular file", -EINVAL);
	r = store_stage_file_begin(st, path, sb.st_mode, sb.st_size, why);
	if (r < 0)
		return r;
	/* Content is not hashed here: commits compare trees, not digests. */
	r = copy_from(st, src);
	/* The file may have grown or shrunk meanwhile: account what came. */
	st->bytes += st->written - st->size;
	st->size = st->written;
	close_file(st);
	if (r == -EFBIG)
		return store_fail(why,
				  "file is larger than the server's file size "
				  "limit",
				  r);
	return r;
}
