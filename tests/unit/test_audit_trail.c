// SPDX-License-Identifier: Apache-2.0
/*
 * The audit trail without the kernel: events as a source hands them over
 * (audit_ingest) go to their sandbox's log, queries read them back,
 * subscribers see each event exactly once across their backlog and live
 * part, a slow subscriber gets a gap, and destroy starts retention.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/audit/audit_internal.h"
#include "agentfense/util.h"
#include "audit_event.h"
#include "lsm.h"

#define SB1 "sb_1111111111111111"
#define SB2 "sb_2222222222222222"
#define CG1 1001
#define CG2 1002

struct fixture {
	char dir[64];
	struct audit *a;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct audit_config cfg = { .max_file_bytes = 1 << 20,
				    .keep_files = 2,
				    .retention_s = 3600,
				    .disabled = true };

	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/af-test-audit-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	cfg.state_dir = f->dir;
	if (audit_start(&cfg, &f->a) < 0)
		return -1;
	/* No kernel source here: the test is the source. */
	f->a->tracking = true;
	f->a->source = "test";
	audit_sandbox_start(f->a, SB1, CG1, 0, AUDIT_LEVEL_ALL);
	audit_sandbox_start(f->a, SB2, CG2, 0, AUDIT_LEVEL_ALL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int r;

	audit_stop(f->a);
	r = af_rm_rf(f->dir);
	free(f);
	return r;
}

static void ingest(struct audit *a, uint64_t cgid, unsigned op, int err,
		   const char *path, uint8_t flags)
{
	struct af_audit_event e = {
		.ts_ns = af_now_mono_ns(),
		.cgroup_id = cgid,
		.pid = 7,
		.tid = 7,
		.op = (uint16_t)op,
		.decision = err ? AF_AUDIT_DENY : AF_AUDIT_ALLOW,
		.flags = flags,
		.err = err,
		.path_len = (uint32_t)strlen(path),
	};

	strcpy(e.comm, "probe\x01");
	strcpy(e.path, path);
	/* As the trace source sends it: header and path only. */
	audit_ingest(a, &e, AF_AUDIT_EVENT_SIZE(e.path_len));
}

struct got {
	size_t n, gaps;
	char paths[64][64];
	char comm[17];
};

static int collect(void *ud, const struct audit_record *r)
{
	struct got *g = ud;

	if (r->lost) {
		g->gaps += r->lost;
		return 0;
	}
	if (g->n < 64)
		snprintf(g->paths[g->n], sizeof(g->paths[0]), "%s:%s:%s",
			 r->sandbox_id + 16, r->op, r->path);
	strcpy(g->comm, r->comm);
	g->n++;
	return 0;
}

static void test_ingest_and_query(void **state)
{
	struct fixture *f = *state;
	struct audit_filter all = { 0 }, one = { .sandbox_id = SB1 };
	struct audit_filter denied = { .decision = AUDIT_DENY };
	struct got g = { 0 };
	struct audit_stats st;

	ingest(f->a, CG1, AF_OP_OPEN_READ, 0, "/workspace/a", 0);
	ingest(f->a, CG2, AF_OP_UNLINK, 13, "/workspace/b", 0);
	/* As passed: folded by name. */
	ingest(f->a, CG1, AF_OP_OPEN_WRITE, 13, "/workspace/rw/../ro/c",
	       AF_AUDIT_F_AS_PASSED);
	/* Allowed outside the workspace, or of an unknown base: not kept. */
	ingest(f->a, CG1, AF_OP_CREATE, 0, "/tmp/x", AF_AUDIT_F_AS_PASSED);
	ingest(f->a, CG1, AF_OP_CREATE, 0, "rel", AF_AUDIT_F_BASE_UNKNOWN);
	/* A denial anywhere is kept. */
	ingest(f->a, CG1, AF_OP_OPEN_WRITE, 1, "/etc/x", AF_AUDIT_F_AS_PASSED);
	/* A cgroup that is no sandbox's. */
	ingest(f->a, 999, AF_OP_OPEN_READ, 0, "/workspace/z", 0);

	assert_int_equal(audit_query(f->a, &all, 0, false, collect, &g), 0);
	assert_int_equal(g.n, 4);
	/* Sandbox by sandbox (in id order), each oldest first. */
	assert_string_equal(g.paths[0], "111:open-read:/workspace/a");
	assert_string_equal(g.paths[1], "111:open-write:/workspace/ro/c");
	assert_string_equal(g.paths[2], "111:open-write:/etc/x");
	assert_string_equal(g.paths[3], "222:unlink:/workspace/b");
	assert_string_equal(g.comm, "probe?");
	memset(&g, 0, sizeof(g));
	assert_int_equal(audit_query(f->a, &one, 1, true, collect, &g), 0);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.paths[0], "111:open-write:/etc/x");
	memset(&g, 0, sizeof(g));
	assert_int_equal(audit_query(f->a, &denied, 2, true, collect, &g), 0);
	assert_int_equal(g.n, 2); /* the last two denials, by time */
	assert_string_equal(g.paths[0], "111:open-write:/workspace/ro/c");
	assert_string_equal(g.paths[1], "111:open-write:/etc/x");

	assert_int_equal(audit_get_stats(f->a, NULL, &st), 0);
	assert_int_equal(st.events, 7);
	assert_int_equal(st.recorded, 4);
	assert_int_equal(st.outside, 2);
	assert_int_equal(st.unattributed, 1);
	assert_int_equal(st.n_sandboxes, 2);
	audit_stats_clear(&st);
}

/* Events before the subscription are the backlog, after it live: once. */
static void test_subscribe_exactly_once(void **state)
{
	struct fixture *f = *state;
	struct audit_filter flt = { .sandbox_id = SB1 };
	struct audit_record r;
	struct audit_sub *s;
	struct got g = { 0 };

	for (int i = 0; i < 5; i++)
		ingest(f->a, CG1, AF_OP_OPEN_READ, 0, "/workspace/old", 0);
	assert_int_equal(audit_subscribe(f->a, &flt, 3, collect, &g, &s), 0);
	assert_int_equal(g.n, 3);
	ingest(f->a, CG1, AF_OP_UNLINK, 0, "/workspace/new", 0);
	ingest(f->a, CG2, AF_OP_UNLINK, 0, "/workspace/other", 0);
	assert_int_equal(audit_sub_next(s, &r, 1000), 1);
	assert_string_equal(r.op, "unlink");
	assert_string_equal(r.path, "/workspace/new");
	audit_record_clear(&r);
	assert_int_equal(audit_sub_next(s, &r, 50), 0);
	/* Destroyed: the subscription ends once its last events are in. */
	audit_sandbox_stop(f->a, SB1);
	audit_sandbox_destroyed(f->a, SB1);
	assert_int_equal(audit_sub_next(s, &r, 5000), -ESHUTDOWN);
	audit_unsubscribe(f->a, s);
}

static void test_slow_subscriber_gets_a_gap(void **state)
{
	struct fixture *f = *state;
	struct audit_filter flt = { 0 };
	struct audit_record r;
	struct audit_sub *s;
	struct got g = { 0 };
	size_t events = 0, lost = 0;
	int ret;

	assert_int_equal(audit_subscribe(f->a, &flt, 0, collect, &g, &s), 0);
	for (int i = 0; i < 9000; i++)
		ingest(f->a, CG2, AF_OP_OPEN_READ, 0, "/workspace/flood", 0);
	while ((ret = audit_sub_next(s, &r, 10)) == 1) {
		if (r.lost)
			lost += r.lost;
		else
			events++;
		audit_record_clear(&r);
	}
	assert_int_equal(ret, 0);
	/* Nothing vanished: delivered plus reported lost is all of them. */
	assert_true(lost > 0);
	assert_int_equal(events + lost, 9000);
	assert_int_equal(f->a->dropped_subscribers, lost);
	audit_unsubscribe(f->a, s);
	/* The log has them all regardless. */
	flt.sandbox_id = SB2;
	assert_int_equal(audit_query(f->a, &flt, 0, false, collect, &g), 0);
	assert_int_equal(g.n, 9000);
}

static void test_destroy_starts_retention(void **state)
{
	struct fixture *f = *state;
	struct audit_filter flt = { .sandbox_id = SB1 };
	char marker[128];
	struct got g = { 0 };

	ingest(f->a, CG1, AF_OP_OPEN_READ, 0, "/workspace/a", 0);
	audit_sandbox_stop(f->a, SB1);
	/* Stopped, its last events still find it. */
	ingest(f->a, CG1, AF_OP_OPEN_READ, 0, "/workspace/late", 0);
	audit_sandbox_destroyed(f->a, SB1);
	assert_true(audit_has_log(f->a, SB1));
	assert_int_equal(audit_query(f->a, &flt, 0, false, collect, &g), 0);
	assert_int_equal(g.n, 2);
	/* After the grace period the housekeeping forgets it. */
	snprintf(marker, sizeof(marker), "%s/audit/" SB1 ".destroyed", f->dir);
	for (int i = 0; i < 50 && access(marker, F_OK) < 0; i++)
		usleep(100 * 1000);
	assert_int_equal(access(marker, F_OK), 0);
	/* Its log stays readable for the retention period. */
	memset(&g, 0, sizeof(g));
	assert_true(audit_has_log(f->a, SB1));
	assert_int_equal(audit_query(f->a, &flt, 0, false, collect, &g), 0);
	assert_int_equal(g.n, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ingest_and_query, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_subscribe_exactly_once,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_slow_subscriber_gets_a_gap,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_destroy_starts_retention,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
