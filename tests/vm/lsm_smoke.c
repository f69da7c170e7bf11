// SPDX-License-Identifier: Apache-2.0
/*
 * vm.smoke, run inside the guest by tests/vm/run: the guest is the stock
 * Debian 6.1 kernel with the BPF LSM active and the file systems the daemon
 * needs, and an lsm/file_open program built here (CO-RE, host BTF) loads,
 * attaches, denies an open with EACCES, reports it with its bpf_d_path()
 * path through a ring buffer, and stops denying once detached.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <bpf/libbpf.h>

#include "agentfense/cleanup.h"
#include "lsm_smoke.h"
#include "lsm_smoke.skel.h"

struct fixture {
	struct lsm_smoke_bpf *skel;
	struct ring_buffer *rb;
	char dir[64];
	char secret[PATH_MAX]; /* the file the program denies */
	char other[PATH_MAX];  /* a neighbour it must leave alone */
	int events_seen;       /* events naming secret, opened by us */
};

static int write_file(const char *path)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);

	if (fd < 0 || write(fd, "x\n", 2) != 2)
		return -1;
	return 0;
}

/* errno of open(path, O_RDONLY), 0 when it succeeds. */
static int open_errno(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct fixture *f = ctx;
	const struct smoke_event *e = data;

	if (len < sizeof(*e))
		return 0;
	print_message("event: pid %u path %s (d_path %d)\n", e->pid, e->path,
		      e->path_len);
	if (e->pid == (unsigned int)getpid() && e->path_len > 0 &&
	    strcmp(e->path, f->secret) == 0)
		f->events_seen++;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	ring_buffer__free(f->rb);
	lsm_smoke_bpf__destroy(f->skel);
	unlink(f->secret);
	unlink(f->other);
	rmdir(f->dir);
	free(f);
	return 0;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/af-vm-smoke.XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	*state = f;
	/* A name no other process in the guest will open. */
	snprintf(f->secret, sizeof(f->secret), "%s/af-smoke-secret-%d", f->dir,
		 getpid());
	snprintf(f->other, sizeof(f->other), "%s/other", f->dir);
	if (write_file(f->secret) || write_file(f->other)) {
		teardown(state);
		return -1;
	}
	return 0;
}

static void test_kernel_is_6_1(void **state)
{
	struct utsname u;

	assert_int_equal(uname(&u), 0);
	print_message("kernel %s\n", u.release);
	assert_int_equal(strncmp(u.release, "6.1.", 4), 0);
}

static void test_bpf_lsm_is_active(void **state)
{
	_cleanup_fclose_ FILE *fp = fopen("/sys/kernel/security/lsm", "re");
	char lsms[256] = "";
	char padded[sizeof(lsms) + 2];

	assert_non_null(fp);
	assert_non_null(fgets(lsms, sizeof(lsms), fp));
	print_message("lsm: %s\n", lsms);
	snprintf(padded, sizeof(padded), ",%s,", lsms);
	assert_non_null(strstr(padded, ",bpf,"));
}

static void assert_fs(const char *path, long magic)
{
	struct statfs s;

	assert_int_equal(statfs(path, &s), 0);
	if ((long)s.f_type != magic)
		fail_msg("%s: file system 0x%lx, want 0x%lx", path,
			 (long)s.f_type, magic);
}

static void test_guest_mounts(void **state)
{
	assert_fs("/", OVERLAYFS_SUPER_MAGIC);
	assert_fs("/proc", PROC_SUPER_MAGIC);
	assert_fs("/sys/fs/cgroup", CGROUP2_SUPER_MAGIC);
	assert_fs("/sys/fs/bpf", BPF_FS_MAGIC);
	assert_fs("/sys/kernel/security", SECURITYFS_MAGIC);
	assert_fs("/sys/kernel/tracing", TRACEFS_MAGIC);
	assert_fs("/run", TMPFS_MAGIC);
	assert_fs("/tmp", TMPFS_MAGIC);
}

static void test_load_and_attach(void **state)
{
	struct fixture *f = *state;
	const char *name = strrchr(f->secret, '/') + 1;
	struct lsm_smoke_bpf *skel = lsm_smoke_bpf__open();
	int err;

	assert_non_null(skel);
	assert_true(strlen(name) < SMOKE_NAME_LEN);
	strcpy((char *)skel->rodata->target_name, name);
	err = lsm_smoke_bpf__load(skel);
	if (!err)
		err = lsm_smoke_bpf__attach(skel);
	if (err) {
		lsm_smoke_bpf__destroy(skel);
		fail_msg("load and attach: %s", strerror(-err));
	}
	/* Only a loaded and attached program reaches the tests below. */
	f->skel = skel;
	f->rb = ring_buffer__new(bpf_map__fd(skel->maps.events), on_event, f,
				 NULL);
	assert_non_null(f->rb);
}

static void test_open_denied_with_eacces(void **state)
{
	struct fixture *f = *state;

	assert_non_null(f->skel);
	assert_int_equal(open_errno(f->secret), EACCES);
	assert_int_equal(open_errno(f->other), 0);
}

/* Another program, cat, is denied too. */
static void test_cat_denied(void **state)
{
	struct fixture *f = *state;
	int status;
	pid_t pid;

	assert_non_null(f->skel);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, STDOUT_FILENO);
		dup2(null, STDERR_FILENO);
		execl("/bin/cat", "cat", f->secret, (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_true(f->skel->bss->denied >= 2);
}

static void test_denial_reported_with_path(void **state)
{
	struct fixture *f = *state;

	assert_non_null(f->rb);
	/* Events are already queued; poll once without waiting. */
	assert_true(ring_buffer__poll(f->rb, 0) >= 0);
	assert_int_equal(f->events_seen, 1);
}

static void test_detach_restores_access(void **state)
{
	struct fixture *f = *state;

	assert_non_null(f->skel);
	assert_int_equal(open_errno(f->secret), EACCES);
	lsm_smoke_bpf__detach(f->skel);
	assert_int_equal(open_errno(f->secret), 0);
}

int main(void)
{
	/* Order matters: each test builds on the state the one before left. */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_is_6_1),
		cmocka_unit_test(test_bpf_lsm_is_active),
		cmocka_unit_test(test_guest_mounts),
		cmocka_unit_test(test_load_and_attach),
		cmocka_unit_test(test_open_denied_with_eacces),
		cmocka_unit_test(test_cat_denied),
		cmocka_unit_test(test_denial_reported_with_path),
		cmocka_unit_test(test_detach_restores_access),
	};

	return cmocka_run_group_tests_name("vm.smoke", tests, setup, teardown);
}
