/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Shared by the store's unit tests: a fresh state dir and store per test,
 * uploads in chunks, reading files back, an independent SHA-256.
 */
#ifndef TEST_STORE_HELPERS_H
#define TEST_STORE_HELPERS_H

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "agentfense/cleanup.h"
#include "agentfense/store.h"
#include "agentfense/util.h"

struct fixture {
	char dir[64];
	struct store *s;
	struct store_codebase cb;
	uint64_t max_file_size;
	char outside[64]; /* a test's dir outside the store, if any */
};

static inline int fx_open(struct fixture *f)
{
	struct store_config cfg = { .state_dir = f->dir,
				    .max_file_size = f->max_file_size };

	return store_open(&cfg, &f->s);
}

static inline void fx_reopen(struct fixture *f)
{
	store_close(f->s);
	f->s = NULL;
	assert_int_equal(fx_open(f), 0);
}

/* Per test: a temp state dir, an open store and one empty codebase. */
static inline int fx_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/af-store-test.XXXXXX");
	if (!mkdtemp(f->dir) || fx_open(f) < 0 ||
	    store_codebase_create(f->s, "repo", "team_a", &f->cb) < 0) {
		store_close(f->s);
		af_rm_rf(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct fixture *f = *state;

	store_codebase_clear(&f->cb);
	store_close(f->s);
	af_rm_rf(f->dir);
	if (f->outside[0])
		af_rm_rf(f->outside);
	free(f);
	return 0;
}

/* Upload data in chunks of chunk bytes; total as announced (0: none). */
static inline int upload(struct store *s, const char *id, const char *path,
			 const void *data, size_t len, size_t chunk,
			 int64_t total, struct store_upload_result *res,
			 const char **why)
{
	struct store_upload *u = NULL;
	struct store_upload_result tmp;
	int r;

	r = store_upload_begin(s, id, path, total, &u, why);
	if (r < 0)
		return r;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;

		r = store_upload_write(u, (const char *)data + off, n);
		if (r < 0) {
			store_upload_abort(u);
			return r;
		}
	}
	return store_upload_commit(u, res ? res : &tmp, why);
}

static inline int upload_str(struct store *s, const char *id, const char *path,
			     const char *text)
{
	const char *why = NULL;

	return upload(s, id, path, text, strlen(text), 7, 0, NULL, &why);
}

/* Read a whole fd (closing it) into a malloc'd, NUL-terminated buffer. */
static inline char *read_fd(int fd, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	ssize_t k;

	assert_non_null(buf);
	while ((k = read(fd, buf + n, cap - n)) > 0) {
		n += (size_t)k;
		if (n == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			assert_non_null(buf);
		}
	}
	assert_true(k == 0);
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Contents of a stored file through the store (download path). */
static inline char *download(struct store *s, const char *id, const char *path,
			     size_t *len)
{
	const char *why = NULL;
	int fd = -1;

	assert_int_equal(store_file_open(s, id, path, &fd, &why), 0);
	return read_fd(fd, len);
}

/* Contents of a file on disk, or NULL when it cannot be opened. */
static inline char *slurp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	return fd < 0 ? NULL : read_fd(fd, NULL);
}

/* SHA-256 by coreutils' sha256sum: independent of the store's OpenSSL. */
static inline bool sha256_ext(const void *data, size_t len, char out[65])
{
	char tmpl[] = "/tmp/af-sha.XXXXXX", cmd[128];
	int fd = mkstemp(tmpl);
	FILE *p;
	bool ok;

	if (fd < 0)
		return false;
	ok = af_write_full(fd, data, len) == 0;
	close(fd);
	snprintf(cmd, sizeof(cmd), "sha256sum %s 2>/dev/null", tmpl);
	p = ok ? popen(cmd, "r") : NULL;
	ok = p && fscanf(p, "%64s", out) == 1 && strlen(out) == 64;
	if (p)
		pclose(p);
	unlink(tmpl);
	return ok;
}

/* Path of a codebase's generation on disk (the layout is the store's). */
static inline void gen_path(const struct fixture *f, int64_t gen, char *out,
			    size_t len)
{
	char real[PATH_MAX];

	assert_non_null(realpath(f->dir, real));
	int n = snprintf(out, len, "%s/codebases/%s/gen/%" PRId64, real,
			 f->cb.id, gen);

	assert_true(n > 0 && (size_t)n < len);
}

static inline bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Number of entries (besides . and ..) in a directory, -1 if unreadable. */
static inline int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

#endif
