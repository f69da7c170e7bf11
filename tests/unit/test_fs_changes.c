// SPDX-License-Identifier: Apache-2.0
/*
 * fs_changes and fs_view_* over a real overlay (hide layer + snapshot +
 * upper), mounted in a private mount namespace of this test process: what
 * a sandbox did through the merged view must come out as the changes,
 * hidden entries never as deletions, and lookups must obey the rules.
 * Needs root and overlayfs; skips with the reason otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cmocka.h>

#include "agentfense/cleanup.h"
#include "agentfense/fs.h"
#include "agentfense/policy.h"
#include "agentfense/util.h"

struct fx {
	char base[64];
	char path[5][PATH_MAX]; /* lower hide upper work merged */
	int lower, upper, merged;
	struct af_matcher *m;
};

enum { LOWER, HIDE, UPPER, WORK, MERGED };

static char skip_reason[256];

static void put(const char *dir, const char *rel, const char *text)
{
	char p[PATH_MAX * 2];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(af_write_full(fd, text, strlen(text)), 0);
	close(fd);
}

static void sh(const char *dir, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A command in the merged view, as a sandbox's process would run it. */
static void sh(const char *dir, const char *fmt, ...)
{
	char cmd[1024], full[PATH_MAX + 1100];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "cd '%s' && { %s; }", dir, cmd);
	assert_int_equal(system(full), 0);
}

static struct af_matcher *rules(void)
{
	const struct af_rule r[] = {
		{ .pattern = "**/*",
		  .type = AF_PAT_GLOB,
		  .perm = AF_PERM_WRITE },
		{ .pattern = "**/.env*",
		  .type = AF_PAT_GLOB,
		  .perm = AF_PERM_NONE,
		  .priority = 100 },
		{ .pattern = "/docs/**",
		  .type = AF_PAT_GLOB,
		  .perm = AF_PERM_VIEW,
		  .priority = 50 },
	};
	struct af_policy *p = NULL;
	struct af_matcher *m = NULL;
	char err[256];

	assert_int_equal(af_policy_new(r, ARRAY_SIZE(r), &p, err, sizeof(err)),
			 0);
	assert_int_equal(af_policy_compile(p, &m, err, sizeof(err)), 0);
	af_policy_free(p);
	return m;
}

/* lower: the snapshot; hide: whiteouts for what is `none` there. */
static void populate(struct fx *f)
{
	const char *lo = f->path[LOWER];
	char p[PATH_MAX * 2];
	struct stat st;

	sh(lo, "mkdir -p d keep mv/sub t docs f2");
	put(lo, "a.txt", "A\n");
	put(lo, "d/x", "X\n");
	put(lo, "d/.env", "SECRET\n");
	put(lo, "keep/k", "K\n");
	put(lo, "mv/m1", "M1\n");
	put(lo, "mv/sub/m2", "M2\n");
	put(lo, "f", "file\n");
	put(lo, "t/inner", "in\n");
	put(lo, "docs/guide", "G\n");
	put(lo, "touched", "same\n");
	assert_int_equal(fs_hide_build(lo, f->m, f->path[HIDE], &(size_t){ 0 }),
			 0);
	snprintf(p, sizeof(p), "%s/d/.env", f->path[HIDE]);
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
}

static int mount_overlay(struct fx *f)
{
	char opts[PATH_MAX * 5];

	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "needs a private mount namespace (root): %s",
			 strerror(errno));
		return -1;
	}
	snprintf(opts, sizeof(opts),
		 "lowerdir=%s:%s,upperdir=%s,workdir=%s,redirect_dir=on",
		 f->path[HIDE], f->path[LOWER], f->path[UPPER], f->path[WORK]);
	if (mount("overlay", f->path[MERGED], "overlay", 0, opts) < 0) {
		snprintf(skip_reason, sizeof(skip_reason),
			 "cannot mount overlayfs: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int setup(void **state)
{
	static const char *const names[] = { "lower", "hide", "upper", "work",
					     "merged" };
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->base, sizeof(f->base), "/tmp/af-fs-test.XXXXXX");
	if (!mkdtemp(f->base))
		return -1;
	for (int i = 0; i < 5; i++) {
		snprintf(f->path[i], PATH_MAX, "%s/%s", f->base, names[i]);
		if (i != HIDE && mkdir(f->path[i], 0755) < 0)
			return -1;
	}
	f->m = rules();
	populate(f);
	f->lower = f->upper = f->merged = -1;
	*state = f;
	if (mount_overlay(f) < 0)
		return 0;
	f->lower = open(f->path[LOWER], O_PATH | O_DIRECTORY | O_CLOEXEC);
	f->upper = open(f->path[UPPER], O_PATH | O_DIRECTORY | O_CLOEXEC);
	f->merged = open(f->path[MERGED], O_PATH | O_DIRECTORY | O_CLOEXEC);
	return f->lower < 0 || f->upper < 0 || f->merged < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	if (f->merged >= 0)
		close(f->merged);
	if (f->lower >= 0)
		close(f->lower);
	if (f->upper >= 0)
		close(f->upper);
	umount2(f->path[MERGED], MNT_DETACH);
	af_matcher_free(f->m);
	af_rm_rf(f->base);
	free(f);
	return 0;
}

#define SKIP_IF_UNMOUNTED(f)                               \
	do {                                               \
		if ((f)->merged < 0) {                     \
			printf("skip: %s\n", skip_reason); \
			skip();                            \
		}                                          \
	} while (0)

struct want {
	const char *path;
	enum fs_change_kind kind;
	bool is_dir;
};

static void expect(const struct fs_change *c, size_t n, const struct want *w,
		   size_t nw)
{
	for (size_t i = 0; i < n; i++)
		printf("  change %d %s%s\n", c[i].kind, c[i].path,
		       c[i].is_dir ? "/" : "");
	assert_int_equal(n, nw);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(c[i].path, w[i].path);
		assert_int_equal(c[i].kind, w[i].kind);
		assert_int_equal(c[i].is_dir, w[i].is_dir);
	}
}

static void test_changes(void **state)
{
	struct fx *f = *state;
	struct fs_change *c = NULL;
	size_t n = 0;
	const struct want w[] = {
		{ "/a.txt", FS_MODIFIED, false },
		{ "/d", FS_DELETED, true },
		{ "/d/x", FS_DELETED, false },
		{ "/f", FS_DELETED, false },
		{ "/f", FS_ADDED, true },
		{ "/f/y", FS_ADDED, false },
		{ "/f2", FS_DELETED, true },
		{ "/f2", FS_ADDED, false },
		{ "/link", FS_ADDED, false },
		{ "/mv", FS_DELETED, true },
		{ "/mv/m1", FS_DELETED, false },
		{ "/mv/sub", FS_DELETED, true },
		{ "/mv/sub/m2", FS_DELETED, false },
		{ "/mv2", FS_ADDED, true },
		{ "/mv2/m1", FS_ADDED, false },
		{ "/mv2/sub", FS_ADDED, true },
		{ "/mv2/sub/m2", FS_ADDED, false },
		{ "/new", FS_ADDED, true },
		{ "/new/n", FS_ADDED, false },
		{ "/t", FS_DELETED, true },
		{ "/t", FS_ADDED, false },
		{ "/t/inner", FS_DELETED, false },
	};

	SKIP_IF_UNMOUNTED(f);
	sh(f->path[MERGED],
	   "echo A2 > a.txt && rm -r d && mkdir new && echo n > new/n && "
	   "mv mv mv2 && rm f && mkdir f && echo y > f/y && rmdir f2 && "
	   "echo now > f2 && rm -r t && echo t > t && ln -s a.txt link && "
	   "touch touched && chmod 644 touched");
	assert_int_equal(
		fs_changes(f->upper, f->merged, f->lower, f->m, 1000, &c, &n),
		0);
	expect(c, n, w, ARRAY_SIZE(w));
	/* The link is other; everything reported is writable here. */
	assert_true(c[8].is_other);
	assert_int_equal(c[0].level, AF_PERM_WRITE);
	assert_string_equal(c[1].view_id, "-");
	assert_true(c[0].view_id[0] == 'f');
	fs_changes_free(c, n);
	assert_int_equal(
		fs_changes(f->upper, f->merged, f->lower, f->m, 3, &c, &n),
		-E2BIG);
}

static void test_nothing_changed(void **state)
{
	struct fx *f = *state;
	struct fs_change *c = NULL;
	size_t n = 1;

	SKIP_IF_UNMOUNTED(f);
	/* Copied up, but the same bytes: not a change. */
	sh(f->path[MERGED], "touch a.txt && cat keep/k >/dev/null");
	assert_int_equal(
		fs_changes(f->upper, f->merged, f->lower, f->m, 100, &c, &n),
		0);
	assert_int_equal(n, 0);
	fs_changes_free(c, n);
}

static void test_view_access(void **state)
{
	struct fx *f = *state;
	struct fs_entry *e = NULL;
	size_t n = 0;
	int fd = -1;

	SKIP_IF_UNMOUNTED(f);
	sh(f->path[MERGED], "ln -s /etc/passwd pw && mkfifo fifo");
	assert_int_equal(fs_view_open(f->merged, f->m, "/a.txt", &fd), 0);
	close(fd);
	assert_int_equal(fs_view_open(f->merged, f->m, "/d/.env", &fd),
			 -ENOENT);
	assert_int_equal(fs_view_open(f->merged, f->m, "/missing", &fd),
			 -ENOENT);
	assert_int_equal(fs_view_open(f->merged, f->m, "/docs/guide", &fd),
			 -EACCES);
	assert_int_equal(fs_view_open(f->merged, f->m, "/d", &fd), -EISDIR);
	assert_int_equal(fs_view_open(f->merged, f->m, "/pw", &fd), -ELOOP);
	assert_int_equal(fs_view_open(f->merged, f->m, "/fifo", &fd), -EINVAL);
	assert_int_equal(fs_view_open(f->merged, f->m, "/../etc/passwd", &fd),
			 -EINVAL);
	assert_int_equal(
		fs_view_list(f->merged, f->m, "/d", false, 100, &e, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(e[0].path, "/d/x");
	fs_entries_free(e, n);
	assert_int_equal(fs_view_list(f->merged, f->m, "/", true, 100, &e, &n),
			 0);
	for (size_t i = 0; i < n; i++)
		assert_null(strstr(e[i].path, ".env"));
	assert_true(n > 10);
	fs_entries_free(e, n);
	assert_int_equal(fs_view_list(f->merged, f->m, "/", true, 3, &e, &n),
			 -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_nothing_changed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_view_access, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
