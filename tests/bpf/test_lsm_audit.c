// SPDX-License-Identifier: Apache-2.0
/*
 * The bpf-lsm enforcer's audit events per sandbox mode (bpf/lsm_core.h):
 * denials always, allowed changes from "writes", every allowed operation
 * at "all"; and events lost to a full ring buffer counted in total and per
 * sandbox. The hooks' decisions run with BPF_PROG_TEST_RUN on the fixture's
 * overlay workspace, as in test_lsm_hooks.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "lsm_env.h"

/* One hook's decision on rel opened with flags: its errno (0: allowed). */
static int on_path(struct bpf_program *prog, const char *rel, int flags,
		   __u32 op)
{
	char path[PATH_MAX];
	struct af_lsm_test_args a = { .fd2 = -1, .op = op };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &a,
		    .ctx_size_in = sizeof(a));
	int r;

	fx_path(&E.ws, rel, path, sizeof(path));
	a.fd = open(path, flags | O_CLOEXEC);
	if (a.fd < 0) {
		printf("FAIL open %s: %s\n", rel, strerror(errno));
		fx_failures++;
		return -1;
	}
	r = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
	close(a.fd);
	if (r < 0 || opts.retval != 0 || !a.found) {
		printf("FAIL test run of %s: %d\n", bpf_program__name(prog), r);
		fx_failures++;
		return -1;
	}
	return -a.ret;
}

static int events_of(struct bpf_program *prog, const char *rel, int flags,
		     __u32 op, int want_errno)
{
	ring_buffer__consume(E.rb);
	E.events = 0;
	ASSERT_EQ(on_path(prog, rel, flags, op), want_errno, rel);
	ring_buffer__consume(E.rb);
	return E.events;
}

static void set_mode(uint32_t mode)
{
	ASSERT_OK(lsm_maps_set_audit_mode(&E.maps, E.cg.id, mode),
		  "set the audit mode");
}

static void test_modes(void)
{
	struct bpf_program *open_p = E.skel->progs.test_file_open;
	struct bpf_program *obj = E.skel->progs.test_object;
	const char *rd = fx_file[FX_READ], *wr = fx_file[FX_WRITE];

	set_mode(AF_AUDIT_MODE_DENIED);
	ASSERT_EQ(events_of(open_p, rd, O_RDONLY, 0, 0), 0,
		  "denied: an allowed read is not reported");
	ASSERT_EQ(events_of(obj, wr, O_PATH, AF_OP_CHMOD, 0), 0,
		  "denied: an allowed change is not reported");
	ASSERT_EQ(events_of(obj, rd, O_PATH, AF_OP_CHMOD, EACCES), 1,
		  "denied: a denial is reported");

	set_mode(AF_AUDIT_MODE_WRITES);
	ASSERT_EQ(events_of(open_p, rd, O_RDONLY, 0, 0), 0,
		  "writes: an allowed read is not reported");
	ASSERT_EQ(events_of(obj, wr, O_PATH, AF_OP_CHMOD, 0), 1,
		  "writes: an allowed change is reported");
	ASSERT_EQ(E.last.decision, AF_AUDIT_ALLOW, "decision allow");
	ASSERT_EQ(E.last.err, 0, "no errno");
	ASSERT_EQ(E.last.op, AF_OP_CHMOD, "op chmod");
	ASSERT_TRUE(!strcmp(E.last.path, "/workspace/f_write.txt"),
		    "the allowed path as the sandbox sees it");
	ASSERT_EQ(events_of(obj, rd, O_PATH, AF_OP_CHMOD, EACCES), 1,
		  "writes: a denial is reported");

	set_mode(AF_AUDIT_MODE_ALL);
	ASSERT_EQ(events_of(open_p, rd, O_RDONLY, 0, 0), 1,
		  "all: an allowed read is reported");
	ASSERT_EQ(E.last.op, AF_OP_OPEN_READ, "op open-read");
	ASSERT_EQ(E.last.decision, AF_AUDIT_ALLOW, "decision allow");
	ASSERT_EQ(E.last.cgroup_id, E.cg.id, "the sandbox's cgroup");
	ASSERT_EQ(events_of(obj, fx_file[FX_VIEW], O_PATH, AF_OP_STAT, 0), 1,
		  "all: an allowed stat is reported");
	ASSERT_EQ(
		events_of(obj, fx_file[FX_VIEW], O_PATH, AF_OP_UNLINK, EACCES),
		1, "all: a denial is reported once");
	ASSERT_EQ(E.last.decision, AF_AUDIT_DENY, "decision deny");
	set_mode(AF_AUDIT_MODE_DENIED);
}

/* Nothing drains the buffer: once full, every event is counted lost. */
static void test_drops_counted(void)
{
	struct bpf_program *obj = E.skel->progs.test_object;
	uint64_t before = E.skel->bss->audit_dropped, mine = 0;
	int n = AF_LSM_RINGBUF_BYTES / sizeof(struct af_audit_event) + 50;

	ring_buffer__consume(E.rb);
	for (int i = 0; i < n; i++)
		on_path(obj, fx_file[FX_READ], O_PATH, AF_OP_CHMOD);
	ASSERT_TRUE(E.skel->bss->audit_dropped - before >= 50,
		    "lost events counted in total");
	ASSERT_OK(lsm_maps_audit_dropped(&E.maps, E.cg.id, &mine),
		  "read the sandbox's count");
	ASSERT_EQ(mine, E.skel->bss->audit_dropped - before,
		  "lost events counted for the sandbox");
	E.events = 0;
	ring_buffer__consume(E.rb);
	ASSERT_EQ(E.events + (int)mine, n, "delivered + lost = all");
}

int main(int argc, char **argv)
{
	if (!fx_start(argc, argv,
		      "loading BPF programs and mounting need root"))
		return 0;
	if (fx_env_setup("af-lsm-audit-test") == 0 && fx_env_install() == 0) {
		test_modes();
		test_drops_counted();
	} else {
		fx_failures++;
	}
	fx_env_teardown();
	return fx_summary();
}
