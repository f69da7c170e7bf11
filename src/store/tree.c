// SPDX-License-Identifier: Apache-2.0
/*
 * Walks inside one generation's tree. Every component is opened with
 * openat(O_NOFOLLOW) relative to its parent's fd, starting from the
 * generation's dir fd, so a symlink that got into a tree (it never comes
 * from an upload) is refused rather than followed out of the tree.
 */
#define LOG_MOD "store"
#include "agentfense/log.h"

#include "agentfense/cleanup.h"
#include "store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

/* Why openat(dfd, name, STORE_DIR_OPEN) failed with err, for the caller. */
static int explain_dir_error(int dfd, const char *name, int err,
			     const char **why)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT
			       ? store_fail(why,
					    "a parent directory is missing",
					    -ENOENT)
			       : -errno;
	if (S_ISLNK(st.st_mode))
		return store_fail(why, "path crosses a symbolic link", -EINVAL);
	if (!S_ISDIR(st.st_mode))
		return store_fail(why, "a parent of the path is a file",
				  -EINVAL);
	return err;
}

static int open_subdir(int dfd, const char *name, bool create, const char **why)
{
	int fd = openat(dfd, name, STORE_DIR_OPEN);

	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(dfd, name, STORE_DIR_MODE) < 0 && errno != EEXIST)
			return -errno;
		fd = openat(dfd, name, STORE_DIR_OPEN);
		/* Not the daemon's umask: sandboxes traverse these. */
		if (fd >= 0 && fchmod(fd, STORE_DIR_MODE) < 0) {
			close(fd);
			return -errno;
		}
	}
	if (fd < 0)
		return explain_dir_error(dfd, name, -errno, why);
	return fd;
}

/*
 * Open the directory holding rel's last component (creating missing ones
 * when create is set). *parent is a new fd; *base points into rel.
 */
int tree_walk_parent(int rootfd, const char *rel, bool create, int *parent,
		     const char **base, const char **why)
{
	_cleanup_close_ int cur = -1;
	char name[NAME_MAX + 1];
	const char *p = rel, *slash;

	cur = fcntl(rootfd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return -errno;
	while ((slash = strchr(p, '/'))) {
		size_t len = (size_t)(slash - p);
		int next;

		/* Normalised paths have no empty or over-long components. */
		if (len == 0 || len > NAME_MAX)
			return store_fail(why, "bad path component", -EINVAL);
		memcpy(name, p, len);
		name[len] = '\0';
		next = open_subdir(cur, name, create, why);
		if (next < 0)
			return next;
		close(cur);
		cur = next;
		p = slash + 1;
	}
	*parent = TAKE_FD(cur);
	*base = p;
	return 0;
}

/* Open the directory rel below rootfd; returns the fd. */
int tree_open_dir(int rootfd, const char *rel, const char **why)
{
	_cleanup_close_ int parent = -1;
	const char *base;
	int r;

	r = tree_walk_parent(rootfd, rel, false, &parent, &base, why);
	if (r < 0)
		return r;
	return open_subdir(parent, base, false, why);
}

int tree_each_entry(int dfd, tree_entry_fn fn, void *ud)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd, r;

	fd = fcntl(dfd, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = fn(ud, dfd, de->d_name);
		if (r)
			return r < 0 ? r : 0;
	}
	return errno ? -errno : 0;
}

int tree_mkdir_like(int src, int dst, const char *name, const struct stat *st,
		    int *from, int *to)
{
	if (mkdirat(dst, name, st->st_mode & 07777) < 0)
		return -errno;
	*from = openat(src, name, STORE_DIR_OPEN);
	*to = openat(dst, name, STORE_DIR_OPEN);
	if (*from < 0 || *to < 0)
		return -errno;
	if (fchmod(*to, st->st_mode & 07777) < 0)
		return -errno;
	return 0;
}

/*
 * What an upload may replace: a regular file (*old set to its size), or
 * nothing yet (*old = -1).
 */
static int check_entry(int parent, const char *base, int64_t *old,
		       const char **why)
{
	struct stat st;

	*old = -1;
	if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(st.st_mode))
		return store_fail(why, "path names an existing directory",
				  -EINVAL);
	if (S_ISLNK(st.st_mode))
		return store_fail(why, "path is a symbolic link", -EINVAL);
	if (!S_ISREG(st.st_mode))
		return store_fail(why, "path names a special file", -EINVAL);
	*old = st.st_size;
	return 0;
}

/* 0 if an upload to rel can be committed into the tree at rootfd. */
int tree_check_target(int rootfd, const char *rel, const char **why)
{
	_cleanup_close_ int parent = -1;
	const char *base;
	int64_t old = 0;
	int r;

	r = tree_walk_parent(rootfd, rel, false, &parent, &base, why);
	if (r == -ENOENT)
		return 0; /* the commit creates the missing directories */
	if (r < 0)
		return r;
	return check_entry(parent, base, &old, why);
}

/*
 * Rename tmpdir/tmpname to rel, creating missing parents; *old is the size
 * of the file replaced, -1 if none.
 */
int tree_install(int rootfd, const char *rel, int tmpdir, const char *tmpname,
		 int64_t *old, const char **why)
{
	_cleanup_close_ int parent = -1;
	const char *base;
	int r;

	r = tree_walk_parent(rootfd, rel, true, &parent, &base, why);
	if (r < 0)
		return r;
	r = check_entry(parent, base, old, why);
	if (r < 0)
		return r;
	if (renameat(tmpdir, tmpname, parent, base) < 0)
		return -errno;
	return 0;
}

static int open_regular(int parent, const char *base, int *out,
			const char **why)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	/* O_NONBLOCK: a planted FIFO must not hang the caller. */
	fd = openat(parent, base,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			return store_fail(why, "path is a symbolic link",
					  -EINVAL);
		if (errno == ENOENT)
			return store_fail(why, "no such file", -ENOENT);
		return -errno;
	}
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return store_fail(why, "path is a directory", -EISDIR);
	if (!S_ISREG(st.st_mode))
		return store_fail(why, "path names a special file", -EINVAL);
	if (fcntl(fd, F_SETFL, 0) < 0)
		return -errno;
	*out = TAKE_FD(fd);
	return 0;
}

int store_file_open(struct store *s, const char *codebase_id, const char *path,
		    int *fd, const char **why)
{
	_cleanup_close_ int gen = -1, parent = -1;
	char rel[PATH_MAX];
	const char *base = NULL;
	int r;

	r = store_check_id(codebase_id, why);
	if (r < 0)
		return r;
	r = af_path_normalize(path, path ? strlen(path) : 0, rel, sizeof(rel),
			      why);
	if (r < 0)
		return r;
	/* Under the lock: the generation cannot be retired while we open. */
	STORE_LOCK_SCOPE(s);
	r = gen_open_current(s, codebase_id, &gen);
	if (r < 0)
		return r == -ENOENT ? store_fail(why, "no such codebase", r)
				    : r;
	r = tree_walk_parent(gen, rel, false, &parent, &base, why);
	if (r < 0)
		return r;
	if (!base)
		return -EINVAL;
	return open_regular(parent, base, fd, why);
}
