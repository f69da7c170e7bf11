// SPDX-License-Identifier: Apache-2.0
/*
 * vm.lsm_enforce, run inside the stock Debian 6.1 kernel by tests/vm/run:
 * the bpf-lsm enforcer loaded through src/enforce's backend API
 * (bpf_lsm_open, install, set_workspace, remove, close) confines a
 * process of a test sandbox cgroup on an overlay mounted like a sandbox's
 * /workspace, with the errno of every row of the ARCHITECTURE §4 table
 * (tests/bpf/lsm_fixture.h). Each operation runs in a fresh child that
 * joins the sandbox's per-exec cgroup, as a command would. Objects at
 * level write live in the overlay's lower layer, so the allowed changes go
 * through copy-up. Also: nothing is checked before the workspace is known
 * or outside the sandbox, denials reach the audit ring buffer, and close
 * leaves no pins.
 *
 * `lsm_enforce bench [N]` measures instead (see docs/security-model.md).
 */
#include <dirent.h>
#include <errno.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#include "../../src/enforce/bpf_lsm_internal.h"
#include "../../src/enforce/enforce_internal.h"
#include "../bpf/lsm_fixture.h"
#include "agentfense/cleanup.h"
#include "audit_event.h"
#include "lsm.h"

static struct fx_ws W;
static struct fx_cg C;
/* For lsm_bench.c. */
struct fx_ws *bench_ws = &W;
struct fx_cg *bench_cg = &C;
static char label[512];
#define LABEL(...) (snprintf(label, sizeof(label), __VA_ARGS__), label)

/* Paths (absolute) one operation is tried on. */
struct target {
	char path[PATH_MAX];
	char other[PATH_MAX]; /* rename / link counterpart */
};

typedef int (*op_fn)(const struct target *t);

static int err_of(long r)
{
	return r < 0 ? errno : 0;
}

static int op_stat(const struct target *t)
{
	struct stat st;

	return err_of(stat(t->path, &st));
}

static int open_close(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0644);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int op_read(const struct target *t)
{
	return open_close(t->path, O_RDONLY);
}

static int op_write(const struct target *t)
{
	return open_close(t->path, O_WRONLY);
}

static int op_otrunc(const struct target *t)
{
	return open_close(t->path, O_RDONLY | O_TRUNC);
}

static int op_exec(const struct target *t)
{
	char *argv[] = { (char *)t->path, NULL }, *envp[] = { NULL };

	execve(t->path, argv, envp);
	return errno; /* the script exits 0 when it runs */
}

static int op_mmap(const struct target *t)
{
	int fd = open(t->path, O_RDONLY | O_CLOEXEC);
	void *p;

	if (fd < 0)
		return errno;
	p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return errno;
	munmap(p, 4096);
	return 0;
}

static int op_opendir(const struct target *t)
{
	DIR *d = opendir(t->path);

	if (!d)
		return errno;
	while (readdir(d))
		;
	closedir(d);
	return 0;
}

static int op_truncate(const struct target *t)
{
	return err_of(truncate(t->path, 1));
}

static int op_chmod(const struct target *t)
{
	return err_of(chmod(t->path, 0700));
}

static int op_chown(const struct target *t)
{
	return err_of(chown(t->path, 0, 0));
}

static int op_utimes(const struct target *t)
{
	return err_of(utimensat(AT_FDCWD, t->path, NULL, 0));
}

static int op_setxattr(const struct target *t)
{
	return err_of(setxattr(t->path, "trusted.af", "1", 1, 0));
}

/* chattr through an O_RDONLY fd: the flags it already has. */
static int op_chattr(const struct target *t)
{
	int fd = open(t->path, O_RDONLY | O_CLOEXEC), flags = 0, r;

	if (fd < 0)
		return errno;
	r = ioctl(fd, FS_IOC_GETFLAGS, &flags);
	if (r == 0)
		r = ioctl(fd, FS_IOC_SETFLAGS, &flags);
	r = err_of(r);
	close(fd);
	/* The file system may not do flags at all: say so, not EACCES. */
	return r == ENOTTY || r == EOPNOTSUPP ? 0 : r;
}

static int op_unlink(const struct target *t)
{
	return err_of(unlink(t->path));
}

static int op_rmdir(const struct target *t)
{
	return err_of(rmdir(t->path));
}

static int op_rename_from(const struct target *t)
{
	return err_of(rename(t->path, t->other));
}

static int op_link_from(const struct target *t)
{
	return err_of(link(t->path, t->other));
}

static int op_exchange(const struct target *t)
{
	return err_of(renameat2(AT_FDCWD, t->other, AT_FDCWD, t->path,
				RENAME_EXCHANGE));
}

static int op_create(const struct target *t)
{
	return open_close(t->path, O_WRONLY | O_CREAT | O_EXCL);
}

static int op_mkdir(const struct target *t)
{
	return err_of(mkdir(t->path, 0755));
}

static int op_mknod(const struct target *t)
{
	return err_of(mknod(t->path, S_IFIFO | 0644, 0));
}

static int op_symlink(const struct target *t)
{
	return err_of(symlink("f_read.txt", t->path));
}

static int op_link_to(const struct target *t)
{
	return err_of(link(t->other, t->path));
}

static int op_rename_to(const struct target *t)
{
	return err_of(rename(t->other, t->path));
}

enum kind { K_FILE, K_DIR, K_NEW };
enum other { O_NONE, O_NEW, O_SRC };

struct vcase {
	const char *name;
	enum kind kind;
	enum other other; /* O_NEW: a new write name; O_SRC: a write file */
	const int *want;
	op_fn fn;
	/*
	 * The write-level object is made in the upper layer: overlayfs
	 * refuses to rename a lower directory (EXDEV) without redirect_dir,
	 * which sandboxes do not mount with.
	 */
	bool upper;
};

static const struct vcase cases[] = {
	{ "stat", K_FILE, O_NONE, fx_want_stat, op_stat, false },
	{ "open-read", K_FILE, O_NONE, fx_want_read, op_read, false },
	{ "exec", K_FILE, O_NONE, fx_want_read, op_exec, false },
	{ "mmap", K_FILE, O_NONE, fx_want_read, op_mmap, false },
	{ "open-write", K_FILE, O_NONE, fx_want_modify, op_write, false },
	{ "open-trunc", K_FILE, O_NONE, fx_want_modify, op_otrunc, false },
	{ "truncate", K_FILE, O_NONE, fx_want_modify, op_truncate, false },
	{ "chmod", K_FILE, O_NONE, fx_want_modify, op_chmod, false },
	{ "chown", K_FILE, O_NONE, fx_want_modify, op_chown, false },
	{ "utimes", K_FILE, O_NONE, fx_want_modify, op_utimes, false },
	{ "setxattr", K_FILE, O_NONE, fx_want_modify, op_setxattr, false },
	{ "chattr", K_FILE, O_NONE, fx_want_modify, op_chattr, false },
	{ "unlink", K_FILE, O_NONE, fx_want_modify, op_unlink, false },
	{ "rename-from", K_FILE, O_NEW, fx_want_modify, op_rename_from, false },
	{ "link-from", K_FILE, O_NEW, fx_want_modify, op_link_from, false },
	{ "exchange", K_FILE, O_SRC, fx_want_modify, op_exchange, false },
	{ "stat-dir", K_DIR, O_NONE, fx_want_stat, op_stat, false },
	{ "opendir", K_DIR, O_NONE, fx_want_opendir, op_opendir, false },
	{ "chmod-dir", K_DIR, O_NONE, fx_want_modify, op_chmod, false },
	{ "rmdir", K_DIR, O_NONE, fx_want_modify, op_rmdir, false },
	{ "rename-dir", K_DIR, O_NEW, fx_want_modify, op_rename_from, true },
	{ "create", K_NEW, O_NONE, fx_want_create, op_create, false },
	{ "mkdir", K_NEW, O_NONE, fx_want_create, op_mkdir, false },
	{ "mknod", K_NEW, O_NONE, fx_want_create, op_mknod, false },
	{ "symlink", K_NEW, O_NONE, fx_want_create, op_symlink, false },
	{ "link-to", K_NEW, O_SRC, fx_want_create, op_link_to, false },
	{ "rename-to", K_NEW, O_SRC, fx_want_create, op_rename_to, false },
};

/* Fresh objects at level write, per case, in the lower layer. */
static int make_write_objects(const char *lower)
{
	char path[PATH_MAX];
	int fd, r;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct vcase *c = &cases[i];

		for (int l = 0; l < FX_LEVELS && c->other == O_SRC; l++) {
			snprintf(path, sizeof(path), "%s/d_write/%s-src%d",
				 lower, c->name, l);
			fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0755);
			if (fd < 0)
				return -errno;
			close(fd);
		}
		snprintf(path, sizeof(path), "%s/d_write/%s-obj", lower,
			 c->name);
		if (c->upper)
			continue;
		if (c->kind == K_DIR && mkdir(path, 0755) < 0)
			return -errno;
		if (c->kind != K_FILE)
			continue;
		r = fx_write_script(path);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Through the overlay, before the workspace is checked. */
static int make_upper_objects(void)
{
	char rel[128], path[PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (!cases[i].upper)
			continue;
		snprintf(rel, sizeof(rel), "/d_write/%s-obj", cases[i].name);
		fx_path(&W, rel, path, sizeof(path));
		if (mkdir(path, 0755) < 0)
			return -errno;
	}
	fx_path(&W, "/d_write/up_clean", path, sizeof(path));
	if (mkdir(path, 0755) < 0)
		return -errno;
	fx_path(&W, "/d_write/up_clean/a.txt", path, sizeof(path));
	return open_close(path, O_WRONLY | O_CREAT | O_EXCL) ? -EIO : 0;
}

static void target_of(const struct vcase *c, int l, struct target *t)
{
	char rel[PATH_MAX];

	if (l == FX_WRITE)
		snprintf(rel, sizeof(rel), "/d_write/%s-obj", c->name);
	else
		snprintf(rel, sizeof(rel), "%s",
			 c->kind == K_FILE  ? fx_file[l]
			 : c->kind == K_DIR ? fx_dir[l]
					    : fx_new[l]);
	fx_path(&W, rel, t->path, sizeof(t->path));
	snprintf(rel, sizeof(rel), "/d_write/%s-%s%d", c->name,
		 c->other == O_SRC ? "src" : "dst", l);
	fx_path(&W, rel, t->other, sizeof(t->other));
}

/* errno of fn in a fresh child of the sandbox's per-exec cgroup. */
static int sandboxed(op_fn fn, const struct target *t)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (fx_cg_join(C.exec) < 0)
			_exit(250);
		_exit(fn(t));
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int sandboxed_at(op_fn fn, const char *rel, const char *other)
{
	struct target t;

	fx_path(&W, rel, t.path, sizeof(t.path));
	fx_path(&W, other ? other : "/", t.other, sizeof(t.other));
	return sandboxed(fn, &t);
}

static void test_table(void)
{
	struct target t;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		for (int l = 0; l < FX_LEVELS; l++) {
			const struct vcase *c = &cases[i];

			target_of(c, l, &t);
			ASSERT_EQ(sandboxed(c->fn, &t), c->want[l],
				  LABEL("%-11s %-5s %s", c->name,
					fx_level_name[l],
					t.path + strlen(W.ws)));
		}
}

/* A refusal leaves nothing behind: no entry made, no byte changed. */
static void test_no_partial_effects(void)
{
	char path[PATH_MAX];
	struct stat st;

	for (int l = FX_NONE; l < FX_WRITE; l++) {
		fx_path(&W, fx_new[l], path, sizeof(path));
		ASSERT_EQ(lstat(path, &st) < 0 ? errno : 0, ENOENT,
			  LABEL("refused creations left no %s", fx_new[l]));
		fx_path(&W, fx_file[l], path, sizeof(path));
		ASSERT_TRUE(stat(path, &st) == 0 &&
				    st.st_size == (off_t)strlen(FX_SCRIPT) &&
				    (st.st_mode & 07777) == 0755,
			    LABEL("%s unchanged by the refused writes",
				  fx_file[l]));
	}
}

static void test_special(void)
{
	ASSERT_EQ(sandboxed_at(op_stat, FX_BELOW_NONE, NULL), ENOENT,
		  "stat below a none directory");
	ASSERT_EQ(sandboxed_at(op_read, FX_BELOW_NONE, NULL), ENOENT,
		  "open below a none directory");
	ASSERT_EQ(sandboxed_at(op_create, FX_NEW_BELOW_NONE, NULL), ENOENT,
		  "create below a none directory");
	ASSERT_EQ(sandboxed_at(op_rename_from, "/d_write/mixed",
			       "/d_write/mixed2"),
		  EACCES, "move a directory with a none file below");
	ASSERT_EQ(sandboxed_at(op_rename_from, "/d_write/up_clean",
			       "/d_write/up_clean2"),
		  0, "move a directory that is write throughout");
	ASSERT_EQ(sandboxed_at(op_read, "/d_write/up_clean2/a.txt", NULL), 0,
		  "read below the moved directory");
	ASSERT_EQ(sandboxed_at(op_opendir, "/", NULL), 0, "list the root");
	/* Written and read back through the overlay after copy-up. */
	ASSERT_EQ(sandboxed_at(op_write, "/d_write/x", NULL), 0,
		  "write a lower file (copy-up)");
	ASSERT_EQ(sandboxed_at(op_read, "/d_write/x", NULL), 0,
		  "read it back from the upper layer");
	/* Another file system is left to the other layers. */
	ASSERT_EQ(open_close(W.lower, O_RDONLY | O_DIRECTORY), 0,
		  "unsandboxed: the lower layer");
}

struct events {
	pthread_mutex_t lock;
	int n, match;
	pid_t pid; /* expect an ENOENT open-read of f_none.txt by it */
};

static struct events EV = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void sink(const struct af_audit_event *e, void *ud)
{
	pthread_mutex_lock(&EV.lock);
	EV.n++;
	if (e->pid == (__u32)EV.pid && e->op == AF_OP_OPEN_READ &&
	    e->err == ENOENT && e->decision == AF_AUDIT_DENY &&
	    e->cgroup_id == C.id && !strcmp(e->path, "/workspace/f_none.txt"))
		EV.match++;
	pthread_mutex_unlock(&EV.lock);
}

static void test_audit(void)
{
	struct target t;
	int match = 0;
	pid_t pid;

	fx_path(&W, "/f_none.txt", t.path, sizeof(t.path));
	pid = fork();
	if (pid == 0) {
		if (fx_cg_join(C.exec) < 0)
			_exit(250);
		_exit(op_read(&t));
	}
	pthread_mutex_lock(&EV.lock);
	EV.pid = pid;
	pthread_mutex_unlock(&EV.lock);
	waitpid(pid, NULL, 0);
	/* The consumer polls every 200 ms. */
	for (int i = 0; i < 20 && !match; i++) {
		usleep(100 * 1000);
		pthread_mutex_lock(&EV.lock);
		match = EV.match;
		pthread_mutex_unlock(&EV.lock);
	}
	ASSERT_EQ(match, 1, "the denial reached the audit sink with its path");
	printf("audit: %d events for this run\n", EV.n);
}

/* The directory this process pinned into, "" if none. */
static void own_pins(char *out, size_t len)
{
	_cleanup_closedir_ DIR *d = opendir(AF_LSM_PIN_ROOT);
	char prefix[64];
	struct dirent *de;

	out[0] = '\0';
	snprintf(prefix, sizeof(prefix), "%s%d-", AF_LSM_PIN_PREFIX,
		 (int)getpid());
	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, prefix, strlen(prefix)))
			snprintf(out, len, "%s/%s", AF_LSM_PIN_ROOT,
				 de->d_name);
}

static int count_pins(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	int links = 0;
	struct dirent *de;

	while (d && (de = readdir(d)))
		links += !strncmp(de->d_name, "link-", 5);
	return links;
}

static void run_tests(void)
{
	struct bpf_lsm *b = NULL;
	struct af_matcher *m = fx_matcher();
	char reason[256] = "", err[256] = "", pins[PATH_MAX];

	if (!ASSERT_OK(bpf_lsm_open(2, &b, reason, sizeof(reason)),
		       LABEL("bpf_lsm_open (%s)", reason)) ||
	    !ASSERT_TRUE(m != NULL, "fixture policy"))
		goto out;
	own_pins(pins, sizeof(pins));
	/* 22 programs; 6.1 has no ACL hooks and takes one setattr variant. */
	ASSERT_TRUE(count_pins(pins) >= 19, LABEL("links pinned in %.200s: %d",
						  pins, count_pins(pins)));
	ASSERT_OK(bpf_lsm_reconcile(b), "reconcile with nothing stale");
	ASSERT_OK(make_upper_objects(), "objects in the upper layer");
	bpf_lsm_set_audit_sink(b, sink, NULL);
	if (!ASSERT_OK(bpf_lsm_install(b, C.id, m, err, sizeof(err)),
		       LABEL("install: %s", err)))
		goto out;
	ASSERT_EQ(sandboxed_at(op_read, fx_file[FX_NONE], NULL), 0,
		  "no workspace yet: the sandbox's set-up is not checked");
	if (!ASSERT_OK(bpf_lsm_set_workspace(b, C.id, W.dev), "workspace"))
		goto out;
	test_table();
	test_no_partial_effects();
	test_special();
	ASSERT_EQ(open_close(W.ws, O_RDONLY), 0, "unsandboxed: not checked");
	ASSERT_EQ(sandboxed_at(op_read, "/f_write.txt", NULL), 0, "sanity");
	test_audit();
	ASSERT_OK(bpf_lsm_remove(b, C.id), "remove");
	ASSERT_EQ(sandboxed_at(op_read, fx_file[FX_NONE], NULL), 0,
		  "removed: no longer confined");
out:
	bpf_lsm_close(b);
	if (b) {
		own_pins(pins, sizeof(pins));
		ASSERT_TRUE(!pins[0], "close leaves no pins");
	}
	af_matcher_free(m);
}

int bench_main(int argc, char **argv);

int main(int argc, char **argv)
{
	int r;

	fx_verbose = true;
	if (geteuid() != 0) {
		printf("SKIP: needs root (runs inside tests/vm/run)\n");
		return 0;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((r = fx_ws_setup_with(&W, make_write_objects)) < 0 ||
	    (r = fx_cg_setup(&C, "af-vm-lsm")) < 0) {
		printf("FAIL setup: %s\n", strerror(-r));
		fx_failures++;
	} else if (argc > 1 && !strcmp(argv[1], "bench")) {
		r = bench_main(argc - 1, argv + 1);
	} else {
		run_tests();
	}
	fx_cg_teardown(&C);
	fx_ws_teardown(&W);
	return fx_summary();
}
