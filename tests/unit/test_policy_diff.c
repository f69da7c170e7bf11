// SPDX-License-Identifier: Apache-2.0
/*
 * Differential test: generated (rule set, path) cases, fixed seed. For each
 * case the compiled matcher (file level, directory level, subtree floor),
 * in both blob formats (stride 2 and stride 1), and explain (level and
 * deciding rule) must equal the reference matcher in test_policy_ref.h.
 * Validation must agree too: a rule set the reference rejects,
 * af_policy_new rejects.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "test_policy_gen.h"
#include "test_policy_ref.h"

#define DIFF_SEED  0x9e3779b97f4a7c15ull
#define DIFF_SETS  4800
#define DIFF_PATHS 24

struct tally {
	long cases, checks, rejected, skipped;
};

static void dump(const struct gen_rules *g, const char *path, bool is_dir)
{
	fprintf(stderr, "rules:\n");
	for (int i = 0; i < g->n; i++)
		fprintf(stderr, "  %d: %-16s type %d perm %d prio %d\n", i,
			g->r[i].pattern, g->r[i].type, g->r[i].perm,
			g->r[i].priority);
	fprintf(stderr, "path: %s%s\n", path, is_dir ? " (dir)" : "");
}

static void expect(const struct gen_rules *g, const char *path, bool is_dir,
		   const char *what, int got, int want)
{
	if (got == want)
		return;
	dump(g, path, is_dir);
	fail_msg("%s: compiled %d, reference %d", what, got, want);
}

static void check_path(const struct gen_rules *g, const struct ref_policy *rp,
		       const struct af_policy *p, struct af_matcher *const *m,
		       const char *path, int len, bool is_dir, struct tally *t)
{
	struct af_explanation ex;
	int want = ref_level(rp, path, len, is_dir), rule;
	int floor = is_dir ? ref_floor(rp, path, len) : 0;

	for (int s = 0; s < 2; s++) {
		expect(g, path, is_dir, s ? "level (stride 1)" : "level",
		       af_matcher_lookup(m[s], path, is_dir), want);
		if (is_dir)
			expect(g, path, is_dir,
			       s ? "floor (stride 1)" : "floor",
			       af_matcher_floor(m[s], path), floor);
	}
	assert_int_equal(af_policy_explain_ex(p, path, is_dir, &ex), 0);
	expect(g, path, is_dir, "explain level", ex.perm, want);
	rule = ref_rule(rp, path, len, is_dir);
	if (len == 1 && rule >= 0 && rp->r[rule].perm != want)
		rule = -1; /* the root forced to view */
	expect(g, path, is_dir, "explain rule", ex.rule_index, rule);
	t->checks += is_dir ? 6 : 4;
}

static void run_set(struct tally *t)
{
	static struct ref_policy rp;
	struct gen_rules g;
	struct af_policy *p = NULL;
	struct af_matcher *m[2] = { NULL, NULL };
	char err[256] = "";
	int ref, r;

	gen_rule_set(&g);
	ref = ref_policy_init(&rp, g.r, g.n);
	r = af_policy_new(g.r, g.n, &p, err, sizeof(err));
	if (ref == -1) {
		if (r != -EINVAL)
			dump(&g, "-", false);
		assert_int_equal(r, -EINVAL);
		t->rejected++;
		return;
	}
	if (ref == -2) { /* too big for the reference */
		t->skipped++;
		af_policy_free(p);
		return;
	}
	if (r != 0)
		dump(&g, "-", false);
	assert_int_equal(r, 0);
	r = af_policy_compile(p, &m[0], err, sizeof(err));
	if (r == 0)
		r = af_policy_compile_stride(p, 1, &m[1], err, sizeof(err));
	if (r)
		fail_msg("compile: %s", err);
	for (int k = 0; k < DIFF_PATHS; k++) {
		char path[256];
		bool is_dir;
		int len = gen_path(path, &is_dir);

		check_path(&g, &rp, p, m, path, len, is_dir, t);
		if (len > 1)
			check_path(&g, &rp, p, m, path, len, !is_dir, t);
		t->cases++;
	}
	af_matcher_free(m[0]);
	af_matcher_free(m[1]);
	af_policy_free(p);
}

static void test_differential(void **state)
{
	struct tally t = { 0 };
	bool full;
	int sets = gen_sets(DIFF_SETS, &full);

	gen_state = DIFF_SEED;
	for (int set = 0; set < sets; set++)
		run_set(&t);
	printf("differential: %ld (rule set, path) cases, %ld checks, "
	       "seed %#llx; %ld rule sets rejected by both, %ld skipped\n",
	       t.cases, t.checks, (unsigned long long)DIFF_SEED, t.rejected,
	       t.skipped);
	assert_true(t.cases >= (full ? 100000 : 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_differential),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
