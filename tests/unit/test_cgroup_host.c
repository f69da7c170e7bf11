// SPDX-License-Identifier: Apache-2.0
/*
 * Sandbox cgroups on the host's real hierarchies (needs root): a process
 * that joins them the way the sandbox init does is under the limits in
 * every hierarchy, destroy kills it and removes every directory, and
 * reconciliation does the same for what a crashed daemon left. Only
 * cgroups named after this test's pid are touched.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agentfense/cgroup.h"
#include "agentfense/util.h"

static char name[64];

static const struct cg_limits lim = {
	.memory_bytes = 48 << 20,
	.cpu_quota_us = 20000,
	.cpu_shares = 256,
	.pids_max = 16,
};

static int join(int dirfd)
{
	int fd = openat(dirfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	int r = fd >= 0 && write(fd, "0", 1) == 1 ? 0 : -1;

	if (fd >= 0)
		close(fd);
	return r;
}

/* A child in the sandbox's cgroups, as init puts itself there. */
static pid_t spawn_member(struct cg_sandbox *s, int ready[2])
{
	int fds[CG_V1_MAX];
	size_t n = cg_sandbox_v1_dirfds(s, fds);
	pid_t pid = fork();
	char c = 1;

	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = join(cg_sandbox_dirfd(s));

		for (size_t i = 0; i < n; i++)
			bad |= join(fds[i]);
		if (bad)
			_exit(1);
		(void)!write(ready[1], &c, 1);
		for (;;)
			pause();
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	return pid;
}

/* How many lines of /proc/PID/cgroup name the test's cgroup. */
static int memberships(pid_t pid)
{
	char path[64], line[1024], want[96];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	snprintf(want, sizeof(want), "/agentfense/%s\n", name);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, want))
			n++;
	fclose(f);
	return n;
}

static const char *knob(const char *v1_dir, const char *v2_name,
			const char *v1_name, bool hybrid)
{
	static char path[PATH_MAX], buf[128];
	FILE *f;
	size_t n;

	if (hybrid)
		snprintf(path, sizeof(path),
			 "/sys/fs/cgroup/%s/agentfense/%s/%s", v1_dir, name,
			 v1_name);
	else
		snprintf(path, sizeof(path), "/sys/fs/cgroup/agentfense/%s/%s",
			 name, v2_name);
	f = fopen(path, "r");
	if (!f)
		return "(missing)";
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static int count_dirs(void)
{
	static const char *const roots[] = { "unified", "memory", "pids", "cpu",
					     "" };
	char path[PATH_MAX];
	struct stat st;
	int n = 0;

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(path, sizeof(path), "/sys/fs/cgroup/%s/agentfense/%s",
			 roots[i], name);
		n += stat(path, &st) == 0;
	}
	return n;
}

static void limits_apply_and_destroy_cleans_up(void **state)
{
	struct cg_ctx *c = NULL;
	struct cg_sandbox *s = NULL;
	int ready[2], status;
	bool hybrid;
	pid_t pid;

	assert_int_equal(cg_ctx_new(NULL, &c), 0);
	hybrid = !strcmp(cg_layout(c), "hybrid");
	assert_int_equal(cg_sandbox_create(c, name, &lim, &s), 0);
	assert_string_equal(
		knob("memory", "memory.max", "memory.limit_in_bytes", hybrid),
		"50331648");
	assert_string_equal(knob("pids", "pids.max", "pids.max", hybrid), "16");
	if (hybrid) {
		assert_string_equal(knob("cpu", "", "cpu.cfs_quota_us", true),
				    "20000");
		assert_string_equal(knob("cpu", "", "cpu.shares", true), "256");
	} else {
		assert_string_equal(knob("", "cpu.max", "", false),
				    "20000 100000");
	}
	assert_int_equal(pipe(ready), 0);
	pid = spawn_member(s, ready);
	/* v2 plus, on a hybrid host, memory, pids and cpu. */
	assert_int_equal(memberships(pid), hybrid ? 4 : 1);
	assert_int_equal(cg_sandbox_oom_kills(s), 0);
	assert_int_equal(cg_sandbox_destroy(s, 5000), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(count_dirs(), 0);
	cg_sandbox_free(s);
	cg_ctx_free(c);
	close(ready[0]);
	close(ready[1]);
}

static bool keep_others(const char *n, void *ud)
{
	return strcmp(n, ud) != 0;
}

static void reconcile_removes_leftovers(void **state)
{
	struct cg_ctx *c = NULL;
	struct cg_sandbox *s = NULL;
	int ready[2], status;
	pid_t pid;

	assert_int_equal(cg_ctx_new(NULL, &c), 0);
	assert_int_equal(cg_sandbox_create(c, name, &lim, &s), 0);
	assert_int_equal(pipe(ready), 0);
	pid = spawn_member(s, ready);
	/* A crashed daemon: the handle goes, the cgroups and process stay. */
	cg_sandbox_free(s);
	cg_ctx_free(c);
	assert_int_not_equal(count_dirs(), 0);
	assert_int_equal(cg_ctx_new(NULL, &c), 0);
	assert_int_equal(cg_reap_stale(c, keep_others, name), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_int_equal(count_dirs(), 0);
	cg_ctx_free(c);
	close(ready[0]);
	close(ready[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(limits_apply_and_destroy_cleans_up),
		cmocka_unit_test(reconcile_removes_leftovers),
	};

	if (geteuid() != 0) {
		printf("skipped: creating cgroups on the host needs root\n");
		return 0;
	}
	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) != 0 &&
	    access("/sys/fs/cgroup/unified", F_OK) != 0) {
		printf("skipped: no cgroup v2 hierarchy on this host\n");
		return 0;
	}
	snprintf(name, sizeof(name), "aftest-cgroup-%d", (int)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
