// SPDX-License-Identifier: Apache-2.0
/*
 * af_mkdir_p, af_rm_rf / af_rm_rf_at, af_walk / af_walk_types and the small
 * I/O helpers.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agentfense/cleanup.h"
#include "agentfense/util.h"

struct dirs {
	char base[64];
	char p[2 * PATH_MAX]; /* scratch for paths below base */
};

/* Bounded copy that fails the test instead of truncating. */
static void copy_path(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	assert_true(len < n);
	memcpy(dst, src, len + 1);
}

static int setup(void **state)
{
	struct dirs *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	snprintf(d->base, sizeof(d->base), "/tmp/af-fsutil-test.XXXXXX");
	if (!mkdtemp(d->base)) {
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct dirs *d = *state;

	/* Not af_rm_rf: it is under test here. */
	snprintf(d->p, sizeof(d->p), "rm -rf -- '%s'", d->base);
	if (system(d->p) != 0)
		fprintf(stderr, "could not remove %s\n", d->base);
	free(d);
	return 0;
}

static const char *at(struct dirs *d, const char *rel)
{
	snprintf(d->p, sizeof(d->p), "%s/%s", d->base, rel);
	return d->p;
}

static bool is_dir(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static int put(const char *path, const char *text)
{
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0600);
	int r;

	if (fd < 0)
		return -errno;
	r = af_write_full(fd, text, strlen(text));
	close(fd);
	return r;
}

static void touch(const char *path, const char *text)
{
	assert_int_equal(put(path, text), 0);
}

static void test_mkdir_p(void **state)
{
	struct dirs *d = *state;
	struct stat st;

	assert_int_equal(af_mkdir_p(at(d, "a/b/c"), 0750), 0);
	assert_true(is_dir(at(d, "a/b/c")));
	assert_int_equal(stat(at(d, "a/b/c"), &st), 0);
	assert_int_equal(st.st_mode & 0700, 0700);
	assert_int_equal(st.st_mode & 0007, 0);
	/* Existing directories are fine, also with a trailing slash. */
	assert_int_equal(af_mkdir_p(at(d, "a/b/c"), 0755), 0);
	assert_int_equal(af_mkdir_p(at(d, "a/b/d/"), 0755), 0);
	assert_true(is_dir(at(d, "a/b/d")));
	assert_int_equal(af_mkdir_p(d->base, 0755), 0);
	assert_int_equal(af_mkdir_p("", 0755), -EINVAL);
}

static void test_mkdir_p_through_file(void **state)
{
	struct dirs *d = *state;

	touch(at(d, "f"), "x");
	assert_int_equal(af_mkdir_p(at(d, "f/sub"), 0755), -ENOTDIR);
	/* A file where the directory should be is not a directory. */
	assert_int_equal(af_mkdir_p(at(d, "f"), 0755), -ENOTDIR);
	assert_false(is_dir(at(d, "f")));
}

static void test_rm_rf_tree(void **state)
{
	struct dirs *d = *state;
	char outside[PATH_MAX], target[PATH_MAX + 8];
	char *text = NULL;

	copy_path(outside, sizeof(outside), at(d, "outside"));
	assert_int_equal(mkdir(outside, 0755), 0);
	snprintf(target, sizeof(target), "%s/keep", outside);
	touch(target, "keep me");
	assert_int_equal(af_mkdir_p(at(d, "t/x/y/z"), 0755), 0);
	touch(at(d, "t/x/file"), "1");
	touch(at(d, "t/x/y/z/deep"), "2");
	assert_int_equal(mkdir(at(d, "t/empty"), 0755), 0);
	/* Links out of the tree: removed as links, targets untouched. */
	assert_int_equal(symlink(outside, at(d, "t/dirlink")), 0);
	assert_int_equal(symlink(target, at(d, "t/x/filelink")), 0);
	assert_int_equal(symlink("/nonexistent", at(d, "t/dangling")), 0);
	assert_int_equal(mkfifo(at(d, "t/fifo"), 0600), 0);
	/* Root removes a directory without permissions too. */
	if (geteuid() == 0)
		assert_int_equal(mkdir(at(d, "t/locked"), 0), 0);

	assert_int_equal(af_rm_rf(at(d, "t")), 0);
	assert_false(exists(at(d, "t")));
	assert_int_equal(af_read_file(target, &text, NULL), 0);
	assert_string_equal(text, "keep me");
	free(text);
	/* Missing is success. */
	assert_int_equal(af_rm_rf(at(d, "t")), 0);
}

static void test_rm_rf_single(void **state)
{
	struct dirs *d = *state;
	char target[PATH_MAX];

	copy_path(target, sizeof(target), at(d, "target"));
	touch(target, "t");
	touch(at(d, "file"), "f");
	assert_int_equal(af_rm_rf(at(d, "file")), 0);
	assert_false(exists(at(d, "file")));
	/* The top name a symlink: the link goes, not what it points to. */
	assert_int_equal(symlink(target, at(d, "link")), 0);
	assert_int_equal(af_rm_rf(at(d, "link")), 0);
	assert_false(exists(at(d, "link")));
	assert_true(exists(target));
}

static void test_rm_rf_at(void **state)
{
	struct dirs *d = *state;
	int dfd;

	assert_int_equal(af_mkdir_p(at(d, "sub/a/b"), 0755), 0);
	touch(at(d, "sub/a/b/f"), "f");
	touch(at(d, "sub/other"), "o");
	dfd = open(at(d, "sub"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(dfd >= 0);
	assert_int_equal(af_rm_rf_at(dfd, "a"), 0);
	assert_int_equal(af_rm_rf_at(dfd, "missing"), 0);
	close(dfd);
	assert_false(exists(at(d, "sub/a")));
	assert_true(exists(at(d, "sub/other")));
}

/*
 * In a child with its own mount namespace (nothing leaks to the host):
 * a mount inside the tree stops the removal there. Exit 0 pass, 77 skip.
 */
static int rm_rf_mount_child(struct dirs *d)
{
	char mnt[PATH_MAX], inside[PATH_MAX + 8];

	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
		return 77;
	copy_path(mnt, sizeof(mnt), at(d, "m/mnt"));
	if (af_mkdir_p(mnt, 0755) < 0)
		return 1;
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0)
		return 77;
	snprintf(inside, sizeof(inside), "%s/in", mnt);
	/* No cmocka assertions in the child: report by exit code. */
	if (put(inside, "mounted") < 0 || put(at(d, "m/plain"), "p") < 0)
		return 1;
	if (af_rm_rf(at(d, "m")) != -EBUSY)
		return 2;
	if (!exists(inside))
		return 3;
	if (exists(at(d, "m/plain")))
		return 4;
	umount2(mnt, MNT_DETACH);
	return 0;
}

/*
 * fn in a child (its mount namespace is its own); exit 77 is a skip: no
 * CAP_SYS_ADMIN here.
 */
static void in_child(struct dirs *d, int (*fn)(struct dirs *))
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(d));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		print_message("skipped: needs CAP_SYS_ADMIN for a private "
			      "mount namespace and a tmpfs\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_rm_rf_stops_at_mounts(void **state)
{
	in_child(*state, rm_rf_mount_child);
}

/* What a walk saw: "path type" lines, in order. */
struct seen {
	char text[4096];
	size_t len;
};

static int record(void *ud, int parent_fd, const char *name, const char *path,
		  const struct stat *st)
{
	struct seen *s = ud;
	int n;

	(void)parent_fd;
	n = snprintf(s->text + s->len, sizeof(s->text) - s->len, "%s %o\n",
		     path, (unsigned)(st->st_mode & S_IFMT));
	if (n < 0 || (size_t)n >= sizeof(s->text) - s->len)
		return -ENOSPC;
	s->len += (size_t)n;
	return strcmp(name, "skip") ? 0 : AF_WALK_SKIP;
}

static void make_walk_tree(struct dirs *d)
{
	assert_int_equal(af_mkdir_p(at(d, "w/b/c"), 0755), 0);
	assert_int_equal(af_mkdir_p(at(d, "w/skip/hidden"), 0755), 0);
	touch(at(d, "w/a.txt"), "a");
	touch(at(d, "w/b/c/deep"), "d");
	assert_int_equal(symlink("b/c", at(d, "w/link")), 0);
	assert_int_equal(mkfifo(at(d, "w/fifo"), 0600), 0);
}

static void walk_both(struct dirs *d, struct seen *full, struct seen *types)
{
	_cleanup_close_ int fd =
		open(at(d, "w"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(af_walk(fd, record, full), 0);
	assert_int_equal(af_walk_types(fd, record, types), 0);
}

/* The types-only walk sees what the full one does, in the same order. */
static void test_walk_types_matches(void **state)
{
	struct dirs *d = *state;
	struct seen full = { 0 }, types = { 0 };
	char want[512];

	make_walk_tree(d);
	walk_both(d, &full, &types);
	snprintf(want, sizeof(want),
		 "/a.txt %o\n/b %o\n/b/c %o\n/b/c/deep %o\n/fifo %o\n"
		 "/link %o\n/skip %o\n",
		 S_IFREG, S_IFDIR, S_IFDIR, S_IFREG, S_IFIFO, S_IFLNK, S_IFDIR);
	assert_string_equal(full.text, want);
	assert_string_equal(types.text, want);
}

static int walk_mount_child(struct dirs *d)
{
	struct seen full = { 0 }, types = { 0 };
	char mnt[PATH_MAX], inside[PATH_MAX + 8];
	int fd;

	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0)
		return 77;
	copy_path(mnt, sizeof(mnt), at(d, "w/m"));
	if (af_mkdir_p(mnt, 0755) < 0 || put(at(d, "w/f"), "f") < 0)
		return 1;
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0)
		return 77;
	snprintf(inside, sizeof(inside), "%s/in", mnt);
	if (put(inside, "mounted") < 0)
		return 1;
	fd = open(at(d, "w"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || af_walk(fd, record, &full) < 0 ||
	    af_walk_types(fd, record, &types) < 0)
		return 2;
	close(fd);
	umount2(mnt, MNT_DETACH);
	/* The mount point is seen; what is mounted on it is not. */
	if (strstr(full.text, "/m/in") || strstr(types.text, "/m/in"))
		return 3;
	if (!strstr(types.text, "/m ") || strcmp(full.text, types.text))
		return 4;
	return 0;
}

static void test_walk_stops_at_mounts(void **state)
{
	in_child(*state, walk_mount_child);
}

static void test_io_helpers(void **state)
{
	struct dirs *d = *state;
	char buf[16] = { 0 };
	char *text = NULL;
	size_t len = 0;
	int fd;

	touch(at(d, "io"), "0123456789");
	fd = open(at(d, "io"), O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	/* Short at end of file: the count read, not an error. */
	assert_int_equal(af_read_full(fd, buf, sizeof(buf)), 10);
	close(fd);
	assert_string_equal(buf, "0123456789");
	assert_int_equal(af_read_file(at(d, "io"), &text, &len), 0);
	assert_int_equal(len, 10);
	assert_string_equal(text, "0123456789");
	free(text);
	assert_int_equal(af_read_file(at(d, "none"), &text, &len), -ENOENT);

	fd = open(d->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(af_write_file_at(fd, "io", "knob"), 0);
	assert_int_equal(af_write_file_at(fd, "absent", "x"), -ENOENT);
	close(fd);
	assert_int_equal(af_read_file(at(d, "io"), &text, NULL), 0);
	assert_int_equal(strncmp(text, "knob", 4), 0);
	free(text);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_mkdir_p),
		T(test_mkdir_p_through_file),
		T(test_rm_rf_tree),
		T(test_rm_rf_single),
		T(test_rm_rf_at),
		T(test_rm_rf_stops_at_mounts),
		T(test_io_helpers),
		T(test_walk_types_matches),
		T(test_walk_stops_at_mounts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
