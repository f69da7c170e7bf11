// SPDX-License-Identifier: Apache-2.0
/*
 * Per-sandbox audit logs: DIR/<id>.jsonl, appended through a buffer and
 * rotated by size to <id>.jsonl.1 .. .N (the oldest dropped): a file
 * never grows past max (unless one line is longer), so a sandbox's log
 * holds at most max * (N + 1) bytes. A destroyed sandbox's
 * log gets a marker, <id>.destroyed, whose mtime starts its retention
 * period; the sweep removes logs whose period is over.
 *
 * Lines reach the file within a flush period (the housekeeping thread's);
 * they are not fsync'd one by one: a host crash may lose the last moments,
 * rotation and closing sync the file.
 */
#define LOG_MOD "audit"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/util.h"
#include "audit_internal.h"

#define LOG_BUF_BYTES	 (256 * 1024)
#define SUFFIX		 ".jsonl"
#define DESTROYED_SUFFIX ".destroyed"
#define KEEP_MAX	 99

void alog_init(struct audit_log *l)
{
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}

static int open_current(struct audit_log *l)
{
	struct stat st;

	l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (l->fd < 0)
		return -errno;
	l->size = fstat(l->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

int alog_open(struct audit_log *l, const char *dir, const char *id)
{
	int n;

	if (l->fd >= 0)
		return 0;
	n = snprintf(l->path, sizeof(l->path), "%s/%s" SUFFIX, dir, id);
	if (n < 0 || (size_t)n >= sizeof(l->path))
		return -ENAMETOOLONG;
	if (!l->buf) {
		l->buf = malloc(LOG_BUF_BYTES);
		if (!l->buf)
			return -ENOMEM;
	}
	return open_current(l);
}

/* <id>.jsonl.k -> .k+1 for every k (the last one goes), current -> .1. */
static int rotate(struct audit_log *l, unsigned keep)
{
	char from[PATH_MAX + 8], to[PATH_MAX + 8];

	fsync(l->fd);
	close(l->fd);
	l->fd = -1;
	if (keep > KEEP_MAX)
		keep = KEEP_MAX;
	for (unsigned k = keep; k > 1; k--) {
		snprintf(from, sizeof(from), "%s.%u", l->path, k - 1);
		snprintf(to, sizeof(to), "%s.%u", l->path, k);
		if (rename(from, to) < 0 && errno != ENOENT)
			log_warn_errno(-errno, "rotating %s", from);
	}
	snprintf(to, sizeof(to), "%s.1", l->path);
	if (keep ? rename(l->path, to) < 0 : unlink(l->path) < 0)
		log_warn_errno(-errno, "rotating %s", l->path);
	return open_current(l);
}

int alog_flush(struct audit_log *l, uint64_t max, unsigned keep)
{
	int r = 0;

	if (l->fd < 0)
		return l->len ? -EBADF : 0;
	if (l->len) {
		r = af_write_full(l->fd, l->buf, l->len);
		if (r == 0)
			l->size += l->len;
		l->len = 0;
	}
	if (r < 0 && !l->failing)
		log_warn_errno(r, "writing %s: audit lines lost", l->path);
	l->failing = r < 0;
	if (r == 0 && max && l->size >= max)
		r = rotate(l, keep);
	return r;
}

int alog_append(struct audit_log *l, const char *line, size_t len, uint64_t max,
		unsigned keep)
{
	int r = 0;

	if (!l->buf)
		return -EBADF;
	if (len + 1 > LOG_BUF_BYTES)
		return -E2BIG;
	/* A file never grows past max (but for a line longer than max). */
	if (max && l->size + l->len + len + 1 > max && l->size + l->len > 0) {
		r = alog_flush(l, 0, keep);
		if (r == 0 && l->fd >= 0)
			r = rotate(l, keep);
	} else if (l->len + len + 1 > LOG_BUF_BYTES) {
		r = alog_flush(l, max, keep);
	}
	memcpy(l->buf + l->len, line, len);
	l->buf[l->len + len] = '\n';
	l->len += len + 1;
	return r;
}

void alog_close(struct audit_log *l, uint64_t max, unsigned keep)
{
	alog_flush(l, max, keep);
	if (l->fd >= 0) {
		fsync(l->fd);
		close(l->fd);
	}
	free(l->buf);
	alog_init(l);
}

static int push(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 1) * sizeof(**v));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	(*n)++;
	return 0;
}

void alog_free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int alog_files(const char *dir, const char *id, char ***out, size_t *n)
{
	char path[PATH_MAX];
	int r = 0;

	int last = 0;

	*out = NULL;
	*n = 0;
	/* Rotated files are numbered from 1 without gaps, the oldest last. */
	do
		snprintf(path, sizeof(path), "%s/%s" SUFFIX ".%d", dir, id,
			 ++last);
	while (last <= KEEP_MAX && access(path, F_OK) == 0);
	for (int k = last - 1; k >= 0 && r == 0; k--) {
		if (k)
			snprintf(path, sizeof(path), "%s/%s" SUFFIX ".%d", dir,
				 id, k);
		else
			snprintf(path, sizeof(path), "%s/%s" SUFFIX, dir, id);
		if (access(path, F_OK) == 0)
			r = push(out, n, path);
	}
	if (r < 0) {
		alog_free_list(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Does name end in suffix? Then its length without it. */
static size_t stem(const char *name, const char *suffix)
{
	size_t n = strlen(name), s = strlen(suffix);

	return n > s && !strcmp(name + n - s, suffix) ? n - s : 0;
}

int alog_ids(const char *dir, char ***out, size_t *n)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	char id[64];
	int r = 0;

	*out = NULL;
	*n = 0;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while (r == 0 && (de = readdir(d))) {
		size_t k = stem(de->d_name, SUFFIX);

		if (!k || k >= sizeof(id))
			continue;
		memcpy(id, de->d_name, k);
		id[k] = '\0';
		r = push(out, n, id);
	}
	if (r == 0 && *n)
		qsort(*out, *n, sizeof(**out), cmp_str);
	return r;
}

uint64_t alog_bytes(const char *dir, const char *id)
{
	char **v;
	size_t n;
	uint64_t total = 0;
	struct stat st;

	if (alog_files(dir, id, &v, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (stat(v[i], &st) == 0)
			total += (uint64_t)st.st_size;
	alog_free_list(v, n);
	return total;
}

int alog_mark_destroyed(const char *dir, const char *id)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s" DESTROYED_SUFFIX, dir, id);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

void alog_unmark(const char *dir, const char *id)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s" DESTROYED_SUFFIX, dir, id);
	unlink(path);
}

static void remove_log(const char *dir, const char *id)
{
	char **v;
	size_t n;
	char path[PATH_MAX];

	if (alog_files(dir, id, &v, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			if (unlink(v[i]) < 0)
				log_warn_errno(-errno, "removing %s", v[i]);
		alog_free_list(v, n);
	}
	snprintf(path, sizeof(path), "%s/%s" DESTROYED_SUFFIX, dir, id);
	unlink(path);
	log_info("audit log of sandbox %s removed: its retention ended", id);
}

int alog_sweep(const char *dir, uint64_t retention_s)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;
	char id[64];
	time_t now = time(NULL);
	int removed = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		size_t k = stem(de->d_name, DESTROYED_SUFFIX);

		if (!k || k >= sizeof(id) ||
		    fstatat(dirfd(d), de->d_name, &st, 0) < 0 ||
		    (uint64_t)(now - st.st_mtime) < retention_s)
			continue;
		memcpy(id, de->d_name, k);
		id[k] = '\0';
		remove_log(dir, id);
		removed++;
	}
	return removed;
}

int alog_read(const char *path, uint64_t max_bytes,
	      int (*cb)(void *ud, char *line, size_t len), void *ud)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	_cleanup_free_ char *line = NULL;
	uint64_t done = 0;
	size_t cap = 0;
	ssize_t n;
	int r = 0;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (r == 0 && (n = getline(&line, &cap, f)) > 0) {
		done += (uint64_t)n;
		if (line[n - 1] != '\n' || (max_bytes && done > max_bytes))
			break; /* not whole yet, or past the cut */
		line[--n] = '\0';
		r = cb(ud, line, (size_t)n);
	}
	return r;
}
