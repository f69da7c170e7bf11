// SPDX-License-Identifier: Apache-2.0
/*
 * The bpf-lsm enforcer's decisions, in the kernel, where LSM programs
 * cannot be attached: bpf/lsm_test.bpf.c runs the per-hook logic of
 * bpf/lsm.bpf.c (lsm_hooks.h) with BPF_PROG_TEST_RUN on the struct file
 * and dentry behind our own file descriptors. We sit in a sandbox cgroup
 * set up like the daemon's, the sandbox is installed with the enforce
 * module's own map code, and every row of the §4 table is asked on a real
 * overlay, with the errno and the audit event checked.
 */
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>

#include "agentfense/cleanup.h"
#include "lsm_env.h"

#define FIONREAD_CMD 0x541b

static int fd_of(const char *rel, int flags)
{
	char path[PATH_MAX];

	fx_path(&E.ws, rel, path, sizeof(path));
	return open(path, flags | O_CLOEXEC);
}

/* Run one hook's decision; returns the errno it gives (0: allowed). */
static int hook(struct bpf_program *prog, int fd, int fd2, __u32 op, __u64 arg1,
		__u64 arg2)
{
	struct af_lsm_test_args a = {
		.fd = fd, .fd2 = fd2, .op = op, .arg1 = arg1, .arg2 = arg2
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &a,
		    .ctx_size_in = sizeof(a));
	int r = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);

	if (r < 0 || opts.retval != 0 || !a.found) {
		printf("FAIL test run of %s: %d, retval %d, found %d\n",
		       bpf_program__name(prog), r, opts.retval, a.found);
		fx_failures++;
		return -1;
	}
	return -a.ret;
}

/* A hook on one path opened with flags. */
static int on_path(struct bpf_program *prog, const char *rel, int flags,
		   __u32 op, __u64 arg1, __u64 arg2)
{
	int fd = fd_of(rel, flags), r;

	if (fd < 0) {
		printf("FAIL open %s: %s\n", rel, strerror(errno));
		fx_failures++;
		return -1;
	}
	r = hook(prog, fd, -1, op, arg1, arg2);
	close(fd);
	return r;
}

static int on_two(struct bpf_program *prog, const char *a, const char *b,
		  __u64 flags)
{
	int fa = fd_of(a, O_PATH), fb = fd_of(b, O_PATH), r = -1;

	if (fa >= 0 && fb >= 0)
		r = hook(prog, fa, fb, 0, flags, 0);
	else
		printf("FAIL open %s or %s\n", a, b), fx_failures++;
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	return r;
}

/* fd1 renamed to fd2's name by one program after a verdict ret. */
static int rename_prog(struct bpf_program *prog, const char *a, const char *b,
		       __u64 flags, int ret)
{
	int fa = fd_of(a, O_PATH), fb = fd_of(b, O_PATH), r = -1;

	if (fa >= 0 && fb >= 0)
		r = hook(prog, fa, fb, 0, flags, (__u64)(__s64)-ret);
	else
		printf("FAIL open %s or %s\n", a, b), fx_failures++;
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	return r;
}

/*
 * Both rename programs, chained as the kernel runs them, in either order:
 * the verdict must not depend on it.
 */
static int on_rename(const char *a, const char *b, __u64 flags)
{
	struct bpf_program *p1 = E.skel->progs.test_rename;
	struct bpf_program *p2 = E.skel->progs.test_rename_exchange;
	int one = rename_prog(p2, a, b, flags, rename_prog(p1, a, b, flags, 0));
	int two = rename_prog(p1, a, b, flags, rename_prog(p2, a, b, flags, 0));

	FX_CHECK(one == two, "rename verdicts in either order",
		 "%s -> %s: %d one way, %d the other", a, b, one, two);
	return one;
}

static char label[256];
#define LABEL(...) (snprintf(label, sizeof(label), __VA_ARGS__), label)

static void test_existing(void)
{
	__typeof__(E.skel->progs) *p = &E.skel->progs;
	static const struct {
		__u32 op;
		const int *want;
	} file_ops[] = {
		{ AF_OP_STAT, fx_want_stat },
		{ AF_OP_TRUNCATE, fx_want_modify },
		{ AF_OP_CHMOD, fx_want_modify },
		{ AF_OP_CHOWN, fx_want_modify },
		{ AF_OP_SETATTR, fx_want_modify },
		{ AF_OP_XATTR, fx_want_modify },
		{ AF_OP_UNLINK, fx_want_modify },
	};

	for (int l = 0; l < FX_LEVELS; l++) {
		const char *f = fx_file[l], *d = fx_dir[l];

		for (size_t i = 0; i < ARRAY_SIZE(file_ops); i++)
			ASSERT_EQ(
				on_path(p->test_object, f, O_PATH,
					file_ops[i].op, 0, 0),
				file_ops[i].want[l],
				LABEL("%s %s", lsm_op_name(file_ops[i].op), f));
		ASSERT_EQ(on_path(p->test_file_open, f, O_RDONLY, 0, 0, 0),
			  fx_want_read[l], LABEL("open O_RDONLY %s", f));
		ASSERT_EQ(on_path(p->test_file_open, f, O_WRONLY, 0, 0, 0),
			  fx_want_modify[l], LABEL("open O_WRONLY %s", f));
		ASSERT_EQ(on_path(p->test_file_open, f, O_RDWR, 0, 0, 0),
			  fx_want_modify[l], LABEL("open O_RDWR %s", f));
		ASSERT_EQ(on_path(p->test_file_open, d, O_RDONLY, 0, 0, 0),
			  fx_want_opendir[l], LABEL("opendir %s", d));
		ASSERT_EQ(on_path(p->test_object, d, O_PATH, AF_OP_STAT, 0, 0),
			  fx_want_stat[l], LABEL("stat dir %s", d));
		ASSERT_EQ(on_path(p->test_object, d, O_PATH, AF_OP_RMDIR, 0, 0),
			  fx_want_modify[l], LABEL("rmdir %s", d));
		ASSERT_EQ(on_path(p->test_object, d, O_PATH, AF_OP_CHMOD, 0, 0),
			  fx_want_modify[l], LABEL("chmod dir %s", d));
	}
}

static void test_mappings(void)
{
	__typeof__(E.skel->progs) *p = &E.skel->progs;

	for (int l = FX_VIEW; l < FX_LEVELS; l++) {
		const char *f = fx_file[l];

		ASSERT_EQ(on_path(p->test_mmap_file, f, O_PATH, 0, PROT_READ,
				  MAP_PRIVATE),
			  fx_want_read[l], LABEL("mmap read %s", f));
		ASSERT_EQ(on_path(p->test_mmap_file, f, O_PATH, 0,
				  PROT_READ | PROT_WRITE, MAP_PRIVATE),
			  fx_want_read[l], LABEL("mmap private write %s", f));
		ASSERT_EQ(on_path(p->test_mmap_file, f, O_PATH, 0,
				  PROT_READ | PROT_WRITE, MAP_SHARED),
			  fx_want_modify[l], LABEL("mmap shared write %s", f));
		ASSERT_EQ(on_path(p->test_mprotect, f, O_PATH, 0,
				  0x08 /* VM_SHARED */, PROT_WRITE),
			  fx_want_modify[l], LABEL("mprotect shared %s", f));
		ASSERT_EQ(
			on_path(p->test_mprotect, f, O_PATH, 0, 0, PROT_WRITE),
			0, LABEL("mprotect private %s", f));
		ASSERT_EQ(on_path(p->test_file_ioctl, f, O_RDONLY, 0,
				  0x40086602 /* FS_IOC_SETFLAGS */, 0),
			  fx_want_modify[l], LABEL("chattr %s", f));
		ASSERT_EQ(on_path(p->test_file_ioctl, f, O_RDONLY, 0,
				  FIONREAD_CMD, 0),
			  0, LABEL("other ioctl %s", f));
	}
}

/*
 * New entries: the test stands an existing dentry in for the negative one
 * the kernel would pass; its path is all the decision looks at.
 */
static int make_stand_ins(void)
{
	const char *names[] = { fx_new[0], fx_new[1], fx_new[2], fx_new[3],
				FX_NEW_BELOW_NONE };
	int fd;

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		fd = fd_of(names[i], O_WRONLY | O_CREAT | O_EXCL);
		if (fd < 0)
			return -errno;
		close(fd);
	}
	return 0;
}

static void test_new_entries(void)
{
	__typeof__(E.skel->progs) *p = &E.skel->progs;
	static const __u32 ops[] = { AF_OP_CREATE, AF_OP_MKDIR, AF_OP_SYMLINK };

	for (int l = 0; l < FX_LEVELS; l++)
		for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
			ASSERT_EQ(
				on_path(p->test_new_entry, fx_new[l], O_PATH,
					ops[i], 0, 0),
				fx_want_create[l],
				LABEL("%s %s", lsm_op_name(ops[i]), fx_new[l]));
	/* Below a hidden directory it does not exist: ENOENT. */
	ASSERT_EQ(on_path(p->test_new_entry, FX_NEW_BELOW_NONE, O_PATH,
			  AF_OP_CREATE, 0, 0),
		  ENOENT, "create below a none directory");
	ASSERT_EQ(on_path(p->test_object, FX_BELOW_NONE, O_PATH, AF_OP_STAT, 0,
			  0),
		  ENOENT, "stat below a none directory");
}

static void test_link_rename(void)
{
	__typeof__(E.skel->progs) *p = &E.skel->progs;

	for (int l = 0; l < FX_LEVELS; l++) {
		ASSERT_EQ(on_two(p->test_link, fx_file[l], "/d_write/new", 0),
			  fx_want_modify[l], LABEL("link from %s", fx_file[l]));
		ASSERT_EQ(on_two(p->test_link, "/d_write/x", fx_new[l], 0),
			  fx_want_create[l], LABEL("link to %s", fx_new[l]));
		ASSERT_EQ(on_rename(fx_file[l], "/d_write/new", 0),
			  fx_want_modify[l],
			  LABEL("rename from %s", fx_file[l]));
		ASSERT_EQ(on_rename("/d_write/x", fx_new[l], 0),
			  fx_want_create[l], LABEL("rename to %s", fx_new[l]));
		/* An exchange moves both ways: both ends must be write. */
		ASSERT_EQ(on_rename("/d_write/x", fx_file[l],
				    2 /* RENAME_EXCHANGE */),
			  fx_want_modify[l],
			  LABEL("exchange with %s", fx_file[l]));
	}
	ASSERT_EQ(on_rename("/d_write/clean", "/d_write/new", 0), 0,
		  "move a directory that is write throughout");
	ASSERT_EQ(on_rename("/d_write/mixed", "/d_write/new", 0), EACCES,
		  "move a directory with a none file below");
	ASSERT_EQ(on_two(p->test_link, "/d_write/mixed/secret.key",
			 "/d_write/new", 0),
		  ENOENT, "link from a none file");
}

/* Denials are reported with the path as the sandbox sees it. */
static void test_audit(void)
{
	ring_buffer__consume(E.rb);
	E.events = 0;
	ASSERT_EQ(on_path(E.skel->progs.test_object,
			  "/d_write/mixed/secret.key", O_PATH, AF_OP_UNLINK, 0,
			  0),
		  ENOENT, "unlink a none file");
	ring_buffer__consume(E.rb);
	if (!ASSERT_EQ(E.events, 1, "one audit event"))
		return;
	ASSERT_TRUE(!strcmp(E.last.path, "/workspace/d_write/mixed/secret.key"),
		    LABEL("event path %.200s", E.last.path));
	ASSERT_EQ(E.last.path_len, strlen(E.last.path), "event path_len");
	ASSERT_EQ(E.last.op, AF_OP_UNLINK, "event op");
	ASSERT_EQ(E.last.err, ENOENT, "event errno");
	ASSERT_EQ(E.last.decision, AF_AUDIT_DENY, "event decision");
	ASSERT_EQ(E.last.pid, getpid(), "event pid");
	ASSERT_EQ(E.last.cgroup_id, E.cg.id, "event cgroup");
	ASSERT_EQ(E.last.flags, 0, "event flags");
	E.events = 0;
	ASSERT_EQ(on_path(E.skel->progs.test_object, "/", O_PATH, AF_OP_CHMOD,
			  0, 0),
		  EACCES, "chmod the workspace root (view)");
	ring_buffer__consume(E.rb);
	ASSERT_TRUE(E.events == 1 && !strcmp(E.last.path, "/workspace"),
		    LABEL("root event path %.200s", E.last.path));
	E.events = 0;
	ASSERT_EQ(on_path(E.skel->progs.test_object, fx_file[FX_READ], O_PATH,
			  AF_OP_STAT, 0, 0),
		  0, "an allowed stat");
	ring_buffer__consume(E.rb);
	ASSERT_EQ(E.events, 0, "no event for an allowed operation");
}

/* Only the sandbox's workspace is decided here; other layers do the rest. */
static void test_scope(void)
{
	__typeof__(E.skel->progs) *p = &E.skel->progs;
	int fd = open(E.ws.base, O_PATH | O_CLOEXEC);

	ASSERT_EQ(hook(p->test_object, fd, -1, AF_OP_UNLINK, 0, 0), 0,
		  "another file system is not ours");
	close(fd);
	fd = open(E.ws.lower, O_PATH | O_CLOEXEC);
	ASSERT_EQ(hook(p->test_object, fd, -1, AF_OP_UNLINK, 0, 0), 0,
		  "the overlay's layers are not ours");
	close(fd);
}

/* Outside the sandbox's cgroup: one lookup, allowed. */
static void test_not_sandboxed(void)
{
	if (!ASSERT_OK(fx_cg_join(E.cg.orig), "leave the sandbox cgroup"))
		return;
	ASSERT_EQ(on_path(E.skel->progs.test_file_open, fx_file[FX_NONE],
			  O_RDONLY, 0, 0, 0),
		  0, "not sandboxed: open a none file");
	ASSERT_OK(fx_cg_join(E.cg.exec), "back into the sandbox cgroup");
	ASSERT_EQ(on_path(E.skel->progs.test_file_open, fx_file[FX_NONE],
			  O_RDONLY, 0, 0, 0),
		  ENOENT, "sandboxed again");
}

/* Until the workspace is known, init is setting up: nothing is checked. */
static void test_lifecycle(void)
{
	__typeof__(E.skel->progs) *p = &E.skel->progs;
	char err[256];
	__u64 key = E.cg.id;

	ASSERT_OK(lsm_maps_remove(&E.maps, E.cg.id), "remove");
	ASSERT_OK(lsm_maps_remove(&E.maps, E.cg.id), "remove twice");
	ASSERT_EQ(on_path(p->test_object, fx_file[FX_NONE], O_PATH,
			  AF_OP_UNLINK, 0, 0),
		  0, "removed: not sandboxed");
	ASSERT_OK(lsm_maps_install(&E.maps, E.cg.id, E.m, err, sizeof(err)),
		  "install again");
	ASSERT_EQ(lsm_maps_install(&E.maps, E.cg.id, E.m, err, sizeof(err)),
		  -EEXIST, "install twice");
	ASSERT_EQ(on_path(p->test_object, fx_file[FX_NONE], O_PATH,
			  AF_OP_UNLINK, 0, 0),
		  0, "no workspace yet: set-up is not checked");
	ASSERT_EQ(lsm_maps_set_workspace(&E.maps, E.cg.id + 1, E.ws.dev),
		  -ENOENT, "workspace of an unknown sandbox");
	ASSERT_EQ(lsm_maps_set_workspace(&E.maps, E.cg.id, 0), -EINVAL,
		  "no device");
	ASSERT_OK(lsm_maps_set_workspace(&E.maps, E.cg.id, E.ws.dev),
		  "set workspace");
	ASSERT_OK(lsm_maps_set_workspace(&E.maps, E.cg.id, E.ws.dev),
		  "set the same workspace again");
	ASSERT_EQ(lsm_maps_set_workspace(&E.maps, E.cg.id, E.ws.dev + 1),
		  -EBUSY, "move the workspace");
	ASSERT_EQ(on_path(p->test_object, fx_file[FX_NONE], O_PATH,
			  AF_OP_UNLINK, 0, 0),
		  ENOENT, "workspace set: checked");
	/* A sandbox whose rules are missing is denied everything. */
	ASSERT_OK(bpf_map_delete_elem(E.maps.policies, &key), "drop rules");
	ring_buffer__consume(E.rb);
	E.events = 0;
	ASSERT_EQ(on_path(p->test_object, fx_file[FX_WRITE], O_PATH, AF_OP_STAT,
			  0, 0),
		  EACCES, "no rules: fail closed");
	ring_buffer__consume(E.rb);
	ASSERT_TRUE(E.events == 1 && E.last.flags == AF_AUDIT_F_UNRESOLVED,
		    "fail-closed event");
	ASSERT_OK(lsm_maps_remove(&E.maps, E.cg.id), "remove without rules");
	ASSERT_OK(lsm_maps_install(&E.maps, E.cg.id, E.m, err, sizeof(err)),
		  "reinstall");
	ASSERT_OK(lsm_maps_set_workspace(&E.maps, E.cg.id, E.ws.dev),
		  "reset workspace");
}

static void test_kernel_dev(void)
{
	ASSERT_EQ(lsm_kernel_dev(makedev(0, 42)), 42, "anonymous dev");
	ASSERT_EQ(lsm_kernel_dev(makedev(8, 1)), (8ull << 20) | 1, "sda1");
	ASSERT_EQ(lsm_kernel_dev(makedev(259, 0x12345)),
		  (259ull << 20) | 0x12345, "large minor");
	ASSERT_EQ(lsm_kernel_dev(makedev(1u << 12, 0)), 0,
		  "major beyond the kernel's 12 bits");
	ASSERT_EQ(lsm_kernel_dev(makedev(0, 1u << 20)), 0,
		  "minor beyond the kernel's 20 bits");
}

int main(int argc, char **argv)
{
	int r = -1;

	if (!fx_start(argc, argv,
		      "loading BPF programs and mounting need root"))
		return 0;
	if (fx_env_setup("af-lsm-test") == 0) {
		r = make_stand_ins();
		if (r < 0)
			printf("FAIL stand-ins: %s\n", strerror(-r));
		else
			r = fx_env_install();
	}
	if (r == 0) {
		test_existing();
		test_mappings();
		test_new_entries();
		test_link_rename();
		test_audit();
		test_scope();
		test_not_sandboxed();
		test_lifecycle();
		test_kernel_dev();
	} else {
		fx_failures++;
	}
	fx_env_teardown();
	return fx_summary();
}
