/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bpf-lsm enforcer's test fixture, shared by the host tests
 * (tests/bpf/test_lsm_*.c, decisions through BPF_PROG_TEST_RUN) and the VM
 * test (tests/vm/lsm_enforce.c, real system calls under the LSM): a rule
 * set with a path at each level, the tree it is tried on, an overlay
 * workspace mounted like a sandbox's, a sandbox cgroup, and the permission
 * table of ARCHITECTURE §4 written out as data.
 */
#ifndef AF_TESTS_LSM_FIXTURE_H
#define AF_TESTS_LSM_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "agentfense/policy.h"
#include "agentfense/util.h"

/* snprintf into an array, -ENAMETOOLONG when it does not fit. */
#define FX_PATHF(buf, ...)                                               \
	({                                                               \
		int _n = snprintf(buf, sizeof(buf), __VA_ARGS__);        \
		_n < 0 || (size_t)_n >= sizeof(buf) ? -ENAMETOOLONG : 0; \
	})

/* selftest style: print PASS/FAIL with a label, evaluate to the result. */
static int __attribute__((unused)) fx_failures;
static int __attribute__((unused)) fx_passes;
static bool __attribute__((unused)) fx_verbose;

#define FX_CHECK(cond, label, ...)                                            \
	({                                                                    \
		bool _ok = (cond);                                            \
		if (!_ok) {                                                   \
			fx_failures++;                                        \
			printf("FAIL %s:%d %s: ", __func__, __LINE__, label); \
			printf(__VA_ARGS__);                                  \
			putchar('\n');                                        \
		} else {                                                      \
			fx_passes++;                                          \
			if (fx_verbose)                                       \
				printf("PASS %s\n", label);                   \
		}                                                             \
		_ok;                                                          \
	})
#define ASSERT_EQ(got, want, label)                                       \
	({                                                                \
		long long _g = (got), _w = (want);                        \
		FX_CHECK(_g == _w, label, "got %lld, want %lld", _g, _w); \
	})
#define ASSERT_OK(got, label)	 ASSERT_EQ(got, 0, label)
#define ASSERT_TRUE(cond, label) FX_CHECK(cond, label, "%s", #cond)

/* libbpf's debug lines are noise here; its warnings and errors are not. */
static int __attribute__((unused))
fx_print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, ap);
}

/*
 * A host test's start: -v prints the passes too. False, with SKIP and
 * why printed, when not root.
 */
static inline bool fx_start(int argc, char **argv, const char *why)
{
	fx_verbose = argc > 1 && !strcmp(argv[1], "-v");
	if (geteuid() != 0) {
		printf("SKIP: %s\n", why);
		return false;
	}
	libbpf_set_print(fx_print_libbpf);
	return true;
}

/* A test's summary line and exit status. */
static inline int fx_summary(void)
{
	printf("%s: %d passed, %d failed\n", fx_failures ? "FAIL" : "PASS",
	       fx_passes, fx_failures);
	return fx_failures ? 1 : 0;
}

enum { FX_NONE, FX_VIEW, FX_READ, FX_WRITE, FX_LEVELS };
static const char *const __attribute__((unused))
fx_level_name[FX_LEVELS] = { "none", "view", "read", "write" };

/*
 * A file rule beats a directory rule: mixed/ is write with a none file
 * below it, clean/ is write throughout (only that one can be moved).
 */
static const struct af_rule __attribute__((unused)) fx_rules[] = {
	{ "/f_none.txt", AF_PAT_FILE, AF_PERM_NONE, 0, 0 },
	{ "/f_view.txt", AF_PAT_FILE, AF_PERM_VIEW, 0, 0 },
	{ "/f_read.txt", AF_PAT_FILE, AF_PERM_READ, 0, 0 },
	{ "/f_write.txt", AF_PAT_FILE, AF_PERM_WRITE, 0, 0 },
	{ "/d_none", AF_PAT_DIRECTORY, AF_PERM_NONE, 0, 0 },
	{ "/d_view", AF_PAT_DIRECTORY, AF_PERM_VIEW, 0, 0 },
	{ "/d_read", AF_PAT_DIRECTORY, AF_PERM_READ, 0, 0 },
	{ "/d_write", AF_PAT_DIRECTORY, AF_PERM_WRITE, 0, 0 },
	{ "/d_write/mixed/secret.key", AF_PAT_FILE, AF_PERM_NONE, 0, 0 },
	{ "/n_none", AF_PAT_FILE, AF_PERM_NONE, 0, 0 },
};

/* The tree, parents first; names ending in '/' are directories. */
static const char *const __attribute__((unused)) fx_tree[] = {
	"/f_none.txt",
	"/f_view.txt",
	"/f_read.txt",
	"/f_write.txt",
	"/d_none/",
	"/d_none/x",
	"/d_none/sub/",
	"/d_view/",
	"/d_view/x",
	"/d_view/sub/",
	"/d_read/",
	"/d_read/x",
	"/d_read/sub/",
	"/d_write/",
	"/d_write/x",
	"/d_write/sub/",
	"/d_write/clean/",
	"/d_write/clean/a.txt",
	"/d_write/mixed/",
	"/d_write/mixed/ok.txt",
	"/d_write/mixed/secret.key",
};

/* An existing file, an existing directory, and a new name at each level. */
static const char *const __attribute__((unused))
fx_file[FX_LEVELS] = { "/f_none.txt", "/f_view.txt", "/f_read.txt",
		       "/f_write.txt" };
static const char *const __attribute__((unused))
fx_dir[FX_LEVELS] = { "/d_none", "/d_view/sub", "/d_read/sub", "/d_write/sub" };
static const char *const __attribute__((unused))
fx_new[FX_LEVELS] = { "/n_none", "/d_view/new", "/d_read/new", "/d_write/new" };
/* Below a none directory: hidden, whatever the operation. */
#define FX_BELOW_NONE	  "/d_none/x"
#define FX_NEW_BELOW_NONE "/d_none/new"

/* ARCHITECTURE §4 by level (none, view, read, write). */
static const int __attribute__((unused))
fx_want_stat[FX_LEVELS] = { ENOENT, 0, 0, 0 };
static const int __attribute__((unused))
fx_want_read[FX_LEVELS] = { ENOENT, EACCES, 0, 0 };
static const int __attribute__((unused))
fx_want_opendir[FX_LEVELS] = { ENOENT, 0, 0, 0 };
static const int __attribute__((unused))
fx_want_modify[FX_LEVELS] = { ENOENT, EACCES, EACCES, 0 };
static const int __attribute__((unused))
fx_want_create[FX_LEVELS] = { EACCES, EACCES, EACCES, 0 };

/* Files are tiny scripts so that exec can be tried on them. */
#define FX_SCRIPT "#!/bin/sh\nexit 0\n"

/* A new file at path holding FX_SCRIPT. */
static inline int fx_write_script(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);

	if (fd < 0)
		return -errno;
	if (write(fd, FX_SCRIPT, strlen(FX_SCRIPT)) < 0) {
		close(fd);
		return -errno;
	}
	close(fd);
	return 0;
}

static inline int fx_make_tree(const char *root)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(fx_tree) / sizeof(fx_tree[0]); i++) {
		size_t n = strlen(fx_tree[i]);
		int r;

		if (FX_PATHF(path, "%s%s", root, fx_tree[i]) < 0)
			return -ENAMETOOLONG;
		if (fx_tree[i][n - 1] == '/') {
			if (mkdir(path, 0755) < 0)
				return -errno;
			continue;
		}
		r = fx_write_script(path);
		if (r < 0)
			return r;
	}
	return 0;
}

struct fx_ws {
	char base[64];	      /* host directory a tmpfs is mounted on */
	char ws[PATH_MAX];    /* the overlay: the sandbox's /workspace */
	char lower[PATH_MAX]; /* its snapshot layer */
	dev_t dev;	      /* st_dev of ws */
};

/*
 * A private mount namespace, a tmpfs, and on it an overlay like a
 * sandbox's (lower = the fixture tree plus what extra adds, upper = an
 * empty delta). Everything mounted disappears with the process; only base
 * is left to remove.
 */
static inline int fx_ws_setup_with(struct fx_ws *w,
				   int (*extra)(const char *lower))
{
	char upper[PATH_MAX + 8], work[PATH_MAX + 8], opts[3 * PATH_MAX];
	struct stat st;
	int r;

	snprintf(w->base, sizeof(w->base), "/tmp/af-lsm-test.XXXXXX");
	if (!mkdtemp(w->base))
		return -errno;
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", w->base, "tmpfs", 0, "mode=0755") < 0)
		return -errno;
	snprintf(w->lower, sizeof(w->lower), "%s/lower", w->base);
	snprintf(upper, sizeof(upper), "%s/upper", w->base);
	snprintf(work, sizeof(work), "%s/work", w->base);
	snprintf(w->ws, sizeof(w->ws), "%s/workspace", w->base);
	if (mkdir(w->lower, 0755) < 0 || mkdir(upper, 0755) < 0 ||
	    mkdir(work, 0755) < 0 || mkdir(w->ws, 0755) < 0)
		return -errno;
	r = fx_make_tree(w->lower);
	if (r == 0 && extra)
		r = extra(w->lower);
	if (r < 0)
		return r;
	if (FX_PATHF(opts, "lowerdir=%s,upperdir=%s,workdir=%s", w->lower,
		     upper, work) < 0)
		return -ENAMETOOLONG;
	if (mount("overlay", w->ws, "overlay", 0, opts) < 0 ||
	    stat(w->ws, &st) < 0)
		return -errno;
	w->dev = st.st_dev;
	return 0;
}

static inline int fx_ws_setup(struct fx_ws *w)
{
	return fx_ws_setup_with(w, NULL);
}

/* The mounts go with the mount namespace; the directory stays. */
static inline void fx_ws_teardown(struct fx_ws *w)
{
	if (w->base[0] && umount2(w->base, MNT_DETACH) == 0)
		rmdir(w->base);
}

static inline void fx_path(const struct fx_ws *w, const char *rel, char *out,
			   size_t len)
{
	int n = snprintf(out, len, "%s%s", w->ws, strcmp(rel, "/") ? rel : "");

	if (n < 0 || (size_t)n >= len)
		out[0] = '\0'; /* no such path: the caller's call fails */
}

/*
 * A sandbox cgroup at level 2 of the v2 hierarchy, as the daemon makes
 * them (CG2/agentfense/<id>, commands in .../<id>/e<N>): CG2/NAME.<pid>/sb
 * with a child e1 that tests move into.
 */
struct fx_cg {
	char root[PATH_MAX];   /* the cgroup2 mount */
	char top[PATH_MAX];    /* CG2/NAME.<pid> */
	char sb[PATH_MAX];     /* the sandbox cgroup */
	char exec[PATH_MAX];   /* its child */
	char orig[PATH_MAX];   /* where this process was */
	unsigned long long id; /* the sandbox cgroup's id */
};

static inline int fx_cg2_mount(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096], mnt[PATH_MAX], fstype[64];
	int r = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 ||
		    strcmp(fstype, "cgroup2") ||
		    sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			continue;
		snprintf(out, len, "%s", mnt);
		r = 0;
		break;
	}
	fclose(f);
	return r;
}

static inline int fx_cg_join(const char *dir)
{
	char path[PATH_MAX + 16], pid[32];
	int fd, n;

	if (FX_PATHF(path, "%s/cgroup.procs", dir) < 0)
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = snprintf(pid, sizeof(pid), "%d", (int)getpid());
	n = write(fd, pid, n) < 0 ? -errno : 0;
	close(fd);
	return n;
}

static inline int fx_cg_setup(struct fx_cg *c, const char *name)
{
	char *buf = NULL, *line;
	struct stat st;
	int r = fx_cg2_mount(c->root, sizeof(c->root));

	if (r < 0)
		return r;
	r = af_read_file("/proc/self/cgroup", &buf, NULL);
	if (r < 0)
		return r;
	line = strstr(buf, "0::");
	if (!line) {
		free(buf);
		return -ENOENT;
	}
	line[strcspn(line, "\n")] = '\0';
	snprintf(c->orig, sizeof(c->orig), "%s%s", c->root, line + 3);
	free(buf);
	if (FX_PATHF(c->top, "%s/%s.%d", c->root, name, (int)getpid()) ||
	    FX_PATHF(c->sb, "%s/sb", c->top) ||
	    FX_PATHF(c->exec, "%s/e1", c->sb))
		return -ENAMETOOLONG;
	if (mkdir(c->top, 0755) < 0 || mkdir(c->sb, 0755) < 0 ||
	    mkdir(c->exec, 0755) < 0 || stat(c->sb, &st) < 0)
		return -errno;
	/* A cgroup's id is its inode number in cgroupfs (64-bit inodes). */
	c->id = st.st_ino;
	return 0;
}

static inline void fx_cg_teardown(struct fx_cg *c)
{
	if (!c->top[0])
		return;
	fx_cg_join(c->orig);
	rmdir(c->exec);
	rmdir(c->sb);
	rmdir(c->top);
}

static inline struct af_matcher *fx_matcher(void)
{
	struct af_policy *p = NULL;
	struct af_matcher *m = NULL;
	char err[256];

	if (af_policy_new(fx_rules, sizeof(fx_rules) / sizeof(fx_rules[0]), &p,
			  err, sizeof(err)) < 0 ||
	    af_policy_compile(p, &m, err, sizeof(err)) < 0)
		printf("FAIL fixture policy: %s\n", err);
	af_policy_free(p);
	return m;
}

#endif
