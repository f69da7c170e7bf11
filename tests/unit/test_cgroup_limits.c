// SPDX-License-Identifier: Apache-2.0
/*
 * Resource limits on sandbox cgroups. Against plain directories laid out
 * like cgroup mounts: which knob gets which value in the v2 and the v1
 * dialects, the OOM-kill counter, missing controllers. Against the host's
 * real hierarchies (root only): a process joined to a sandbox's cgroups is
 * under the limits, destroy kills and removes everything, and
 * reconciliation removes what a crashed daemon left.
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

#define SB "sb_0123456789abcdef"

static const struct cg_limits all_limits = {
	.memory_bytes = 64 << 20,
	.cpu_quota_us = 50000,
	.cpu_shares = 512,
	.pids_max = 100,
};

struct fake {
	char root[64];
	char p[PATH_MAX];
};

static const char *at(struct fake *f, const char *rel)
{
	snprintf(f->p, sizeof(f->p), "%s/%s", f->root, rel);
	return f->p;
}

static void put(struct fake *f, const char *rel, const char *text)
{
	FILE *fp;

	assert_int_equal(af_mkdir_p(at(f, rel), 0755), 0);
	rmdir(f->p); /* af_mkdir_p made the leaf too; it is a file */
	fp = fopen(f->p, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* The text a knob holds, without trailing newline. */
static const char *get(struct fake *f, const char *rel)
{
	static char buf[256];
	FILE *fp = fopen(at(f, rel), "r");
	size_t n;

	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

static int setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->root, sizeof(f->root), "/tmp/af-cgroup-test.XXXXXX");
	if (!mkdtemp(f->root)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fake *f = *state;

	af_rm_rf(f->root);
	free(f);
	return 0;
}

/* A unified host: controllers on v2, knobs made by "the kernel" (us). */
static void make_v2(struct fake *f, const char *controllers)
{
	static const char *const knobs[] = {
		"memory.max", "memory.swap.max", "pids.max",
		"cpu.max",    "cpu.weight",	 "cgroup.kill",
	};
	char rel[128];

	put(f, "v2/cgroup.controllers", controllers);
	put(f, "v2/cgroup.subtree_control", "");
	put(f, "v2/agentfense/cgroup.controllers", "");
	put(f, "v2/agentfense/cgroup.subtree_control", "");
	for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		snprintf(rel, sizeof(rel), "v2/agentfense/" SB "/%s", knobs[i]);
		put(f, rel, "");
	}
	put(f, "v2/agentfense/" SB "/cgroup.events", "populated 0\n");
	put(f, "v2/agentfense/" SB "/memory.events",
	    "low 0\nhigh 0\nmax 7\noom 3\noom_kill 2\noom_group_kill 0\n");
}

static void v2_limits_use_v2_knobs(void **state)
{
	struct fake *f = *state;
	char v2[PATH_MAX];
	struct cg_config cfg = { .v2_mount = v2 };
	struct cg_ctx *c = NULL;
	struct cg_sandbox *s = NULL;
	int fds[CG_V1_MAX];
	char err[256] = "";

	make_v2(f, "cpuset cpu io memory hugetlb pids rdma misc\n");
	snprintf(v2, sizeof(v2), "%s", at(f, "v2"));
	assert_int_equal(cg_ctx_new(&cfg, &c), 0);
	assert_int_equal(cg_check_limits(c, &all_limits, err, sizeof(err)), 0);
	assert_int_equal(cg_sandbox_create(c, SB, &all_limits, &s), 0);
	assert_string_equal(get(f, "v2/agentfense/" SB "/memory.max"),
			    "67108864");
	/* The limit bounds RAM and swap together. */
	assert_string_equal(get(f, "v2/agentfense/" SB "/memory.swap.max"),
			    "0");
	assert_string_equal(get(f, "v2/agentfense/" SB "/pids.max"), "100");
	assert_string_equal(get(f, "v2/agentfense/" SB "/cpu.max"),
			    "50000 100000");
	/* 512 shares on the 2..262144 scale is weight 20 on 1..10000. */
	assert_string_equal(get(f, "v2/agentfense/" SB "/cpu.weight"), "20");
	assert_int_equal(cg_sandbox_v1_dirfds(s, fds), 0);
	assert_int_equal(cg_sandbox_oom_kills(s), 2);
	cg_sandbox_free(s);
	cg_ctx_free(c);
}

static void v2_no_limits_touch_nothing(void **state)
{
	struct fake *f = *state;
	char v2[PATH_MAX];
	struct cg_config cfg = { .v2_mount = v2 };
	struct cg_limits none = { 0 };
	struct cg_ctx *c = NULL;
	struct cg_sandbox *s = NULL;

	make_v2(f, "cpu memory pids\n");
	snprintf(v2, sizeof(v2), "%s", at(f, "v2"));
	assert_int_equal(cg_ctx_new(&cfg, &c), 0);
	assert_int_equal(cg_sandbox_create(c, SB, &none, &s), 0);
	assert_string_equal(get(f, "v2/agentfense/" SB "/memory.max"), "");
	assert_string_equal(get(f, "v2/agentfense/" SB "/pids.max"), "");
	assert_string_equal(get(f, "v2/agentfense/" SB "/cpu.max"), "");
	cg_sandbox_free(s);
	cg_ctx_free(c);
}

/* A hybrid host: an empty v2 hierarchy and v1 memory, pids, cpu mounts. */
static void make_v1(struct fake *f, bool memsw)
{
	put(f, "v2/cgroup.controllers", "");
	put(f, "v2/agentfense/" SB "/cgroup.events", "populated 0\n");
	put(f, "memory/agentfense/" SB "/memory.limit_in_bytes", "");
	if (memsw)
		put(f, "memory/agentfense/" SB "/memory.memsw.limit_in_bytes",
		    "");
	put(f, "memory/agentfense/" SB "/memory.oom_control",
	    "oom_kill_disable 0\nunder_oom 0\noom_kill 5\n");
	put(f, "pids/agentfense/" SB "/pids.max", "");
	put(f, "cpu/agentfense/" SB "/cpu.cfs_period_us", "");
	put(f, "cpu/agentfense/" SB "/cpu.cfs_quota_us", "");
	put(f, "cpu/agentfense/" SB "/cpu.shares", "");
}

struct v1_paths {
	char v2[PATH_MAX], mem[PATH_MAX], pids[PATH_MAX], cpu[PATH_MAX];
	struct cg_config cfg;
};

static void v1_config(struct fake *f, struct v1_paths *p, bool pids)
{
	snprintf(p->v2, sizeof(p->v2), "%s", at(f, "v2"));
	snprintf(p->mem, sizeof(p->mem), "%s", at(f, "memory"));
	snprintf(p->pids, sizeof(p->pids), "%s", at(f, "pids"));
	snprintf(p->cpu, sizeof(p->cpu), "%s", at(f, "cpu"));
	p->cfg = (struct cg_config){ .v2_mount = p->v2,
				     .v1_memory = p->mem,
				     .v1_pids = pids ? p->pids : NULL,
				     .v1_cpu = p->cpu };
}

static void v1_limits_use_v1_knobs(void **state)
{
	struct fake *f = *state;
	struct v1_paths p;
	struct cg_ctx *c = NULL;
	struct cg_sandbox *s = NULL;
	int fds[CG_V1_MAX];

	make_v1(f, true);
	v1_config(f, &p, true);
	assert_int_equal(cg_ctx_new(&p.cfg, &c), 0);
	assert_int_equal(cg_sandbox_create(c, SB, &all_limits, &s), 0);
	assert_string_equal(
		get(f, "memory/agentfense/" SB "/memory.limit_in_bytes"),
		"67108864");
	assert_string_equal(
		get(f, "memory/agentfense/" SB "/memory.memsw.limit_in_bytes"),
		"67108864");
	assert_string_equal(get(f, "pids/agentfense/" SB "/pids.max"), "100");
	assert_string_equal(get(f, "cpu/agentfense/" SB "/cpu.cfs_period_us"),
			    "100000");
	assert_string_equal(get(f, "cpu/agentfense/" SB "/cpu.cfs_quota_us"),
			    "50000");
	assert_string_equal(get(f, "cpu/agentfense/" SB "/cpu.shares"), "512");
	/* Init must join all three before it enters its cgroup namespace. */
	assert_int_equal(cg_sandbox_v1_dirfds(s, fds), 3);
	assert_int_equal(cg_sandbox_oom_kills(s), 5);
	cg_sandbox_free(s);
	cg_ctx_free(c);
}

static void v1_without_swap_accounting(void **state)
{
	struct fake *f = *state;
	struct v1_paths p;
	struct cg_limits mem = { .memory_bytes = 1 << 30 };
	struct cg_ctx *c = NULL;
	struct cg_sandbox *s = NULL;

	make_v1(f, false);
	v1_config(f, &p, true);
	assert_int_equal(cg_ctx_new(&p.cfg, &c), 0);
	assert_int_equal(cg_sandbox_create(c, SB, &mem, &s), 0);
	assert_string_equal(
		get(f, "memory/agentfense/" SB "/memory.limit_in_bytes"),
		"1073741824");
	assert_string_equal(get(f, "pids/agentfense/" SB "/pids.max"), "");
	cg_sandbox_free(s);
	cg_ctx_free(c);
}

static void missing_controller_is_refused(void **state)
{
	struct fake *f = *state;
	struct v1_paths p;
	struct cg_limits pids = { .pids_max = 10 };
	struct cg_limits mem = { .memory_bytes = 1 << 30 };
	struct cg_ctx *c = NULL;
	struct cg_sandbox *s = NULL;
	char err[256] = "";

	make_v1(f, true);
	v1_config(f, &p, false);
	assert_int_equal(cg_ctx_new(&p.cfg, &c), 0);
	assert_int_equal(cg_check_limits(c, &mem, err, sizeof(err)), 0);
	assert_int_equal(cg_check_limits(c, &pids, err, sizeof(err)),
			 -EOPNOTSUPP);
	assert_non_null(strstr(err, "pids"));
	assert_int_equal(cg_sandbox_create(c, SB, &pids, &s), -EOPNOTSUPP);
	assert_null(s);
	cg_ctx_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(v2_limits_use_v2_knobs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(v2_no_limits_touch_nothing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(v1_limits_use_v1_knobs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(v1_without_swap_accounting,
						setup, teardown),
		cmocka_unit_test_setup_teardown(missing_controller_is_refused,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
