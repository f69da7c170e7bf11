// SPDX-License-Identifier: Apache-2.0
#include "agentfense/cleanup.h"
#include "agentfense/util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t af_now_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t af_now_real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int af_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, mode) < 0) {
			struct stat st;

			if (errno != EEXIST)
				return -errno;
			/* EEXIST also means a file is in the way. */
			if (stat(buf, &st) < 0)
				return -errno;
			if (!S_ISDIR(st.st_mode))
				return -ENOTDIR;
		}
		if (c == '\0')
			break;
		*p = c;
	}
	return 0;
}

/* Depth bound: one fd per level is held while descending. */
#define RM_MAX_DEPTH 8192

static int rm_tree(int dfd, dev_t dev, int depth)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int r = 0;

	if (depth > RM_MAX_DEPTH) {
		close(dfd);
		return -ELOOP;
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		int cfd, q;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) <
		    0) {
			if (errno != ENOENT && !r)
				r = -errno;
			continue;
		}
		if (st.st_dev != dev) {
			/* A mount point: never delete across it. */
			if (!r)
				r = -EBUSY;
			continue;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (unlinkat(dirfd(d), de->d_name, 0) < 0 &&
			    errno != ENOENT && !r)
				r = -errno;
			continue;
		}
		cfd = openat(dirfd(d), de->d_name,
			     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0) {
			if (errno != ENOENT && !r)
				r = -errno;
			continue;
		}
		q = rm_tree(cfd, dev, depth + 1);
		if (q < 0 && !r)
			r = q;
		if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 &&
		    errno != ENOENT && !r)
			r = -errno;
	}
	if (errno && !r)
		r = -errno;
	return r;
}

int af_rm_rf_at(int dirfd, const char *name)
{
	struct stat st;
	int fd, r;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dirfd, name, 0) < 0 && errno != ENOENT ? -errno
								       : 0;
	fd = openat(dirfd, name,
		    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	r = rm_tree(fd, st.st_dev, 0);
	if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT && !r)
		r = -errno;
	return r;
}

int af_rm_rf(const char *path)
{
	return af_rm_rf_at(AT_FDCWD, path);
}

ssize_t af_read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = read(fd, (char *)buf + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int af_write_full(int fd, const void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = write(fd, (const char *)buf + done, len - done);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

int af_fd_same_content(int a, int b, bool *same)
{
	const size_t chunk = 64 * 1024;
	_cleanup_free_ char *x = malloc(chunk), *y = malloc(chunk);

	*same = false;
	if (!x || !y)
		return -ENOMEM;
	for (;;) {
		ssize_t n = af_read_full(a, x, chunk);
		ssize_t m = af_read_full(b, y, chunk);

		if (n < 0 || m < 0)
			return n < 0 ? (int)n : (int)m;
		if (n != m || memcmp(x, y, (size_t)n))
			return 0;
		if ((size_t)n < chunk)
			break;
	}
	*same = true;
	return 0;
}

int af_read_file(const char *path, char **out, size_t *len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	const size_t cap = 64 * 1024;
	ssize_t n;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	n = af_read_full(fd, buf, cap - 1);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	if (len)
		*len = (size_t)n;
	*out = TAKE_PTR(buf);
	return 0;
}

int af_write_file_at(int dirfd, const char *name, const char *s)
{
	_cleanup_close_ int fd = -1;

	fd = openat(dirfd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	/* Kernel knobs take one write(); a short write is an error there. */
	if (write(fd, s, strlen(s)) < 0)
		return -errno;
	return 0;
}
