// SPDX-License-Identifier: Apache-2.0
/*
 * Policy engine, levels: fail closed, the root, none hiding its subtree,
 * unmatched directories, resolution order, subtree floor, presets,
 * explain, and the compile budget.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../bpf/policy_match.h"
#include "agentfense/policy.h"
#include "test_policy_util.h"

/* ---- levels and resolution ---------------------------------------------- */

static void test_fail_closed_and_root(void **state)
{
	struct af_rule hide_all[] = { GLOB("**", NONE, 0) };
	struct fixture f;

	load(&f, NULL, 0);
	expect_level(&f, "/a.txt", 0, NONE);
	expect_level(&f, "/a", 1, NONE);
	expect_level(&f, "/", 1, VIEW); /* the root is always visible */
	unload(&f);
	load(&f, hide_all, 1);
	expect_level(&f, "/", 1, VIEW);
	expect_level(&f, "/x", 0, NONE);
	unload(&f);
}

static void test_none_hides_subtree(void **state)
{
	struct af_rule r[] = {
		GLOB("**/*", READ, 0),
		DIR("/secret/", NONE, 0),
		FILE_("/secret/ok.txt", READ, 100),
		GLOB("/hidden/", NONE, 0),
		GLOB("/hidden/a/**", WRITE, 10),
	};
	struct fixture f;

	load(&f, r, N(r));
	expect_level(&f, "/secret", 1, NONE);
	expect_level(&f, "/secret/ok.txt", 0, NONE);
	expect_level(&f, "/hidden", 1, NONE);
	expect_level(&f, "/hidden/a/b", 0, NONE);
	/* As a file, /hidden matches only the everything glob. */
	expect_level(&f, "/hidden", 0, READ);
	expect_level(&f, "/other/x", 0, READ);
	unload(&f);
}

static void test_unmatched_dirs(void **state)
{
	struct af_rule one[] = { FILE_("/a/b/c.txt", READ, 0) };
	struct af_rule py[] = { GLOB("*.py", READ, 0) };
	struct fixture f;

	load(&f, one, 1);
	expect_level(&f, "/a", 1, VIEW); /* traversable: c.txt is below */
	expect_level(&f, "/a/b", 1, VIEW);
	expect_level(&f, "/a/b/c.txt", 0, READ);
	expect_level(&f, "/a/x", 0, NONE);
	expect_level(&f, "/a/x", 1, NONE); /* nothing visible below */
	expect_level(&f, "/z", 1, NONE);
	unload(&f);
	load(&f, py, 1);
	expect_level(&f, "/any", 1, VIEW); /* /any/x.py could exist */
	expect_level(&f, "/any/f.txt", 0, NONE);
	expect_level(&f, "/any/f.py", 0, READ);
	unload(&f);
}

static void test_resolution(void **state)
{
	struct {
		struct af_rule r[2];
		const char *path;
		int want;
	} rows[] = {
		/* higher priority wins */
		{ { GLOB("/a/*", WRITE, 1), FILE_("/a/x", NONE, 0) },
		  "/a/x",
		  WRITE },
		/* then file > directory > glob */
		{ { FILE_("/a/x", NONE, 0), DIR("/a/", WRITE, 0) },
		  "/a/x",
		  NONE },
		{ { DIR("/a/", WRITE, 0), GLOB("/a/*", READ, 0) },
		  "/a/x",
		  WRITE },
		{ { GLOB("/a/x", READ, 0), DIR("/a/", WRITE, 0) },
		  "/a/x",
		  WRITE },
		/* then more literal characters */
		{ { GLOB("/a/*.txt", READ, 0), GLOB("/a/*", WRITE, 0) },
		  "/a/x.txt",
		  READ },
		{ { DIR("/a/b", READ, 0), DIR("/a", WRITE, 0) },
		  "/a/b/c",
		  READ },
		/* then fewer wildcards */
		{ { GLOB("/a/*", READ, 0), GLOB("/a/*?", WRITE, 0) },
		  "/a/xy",
		  READ },
		/* then the later rule */
		{ { GLOB("**/*", VIEW, 0), GLOB("**/*", READ, 0) },
		  "/m.py",
		  READ },
		{ { GLOB("**/*", READ, 0), GLOB("**/*", VIEW, 0) },
		  "/m.py",
		  VIEW },
		{ { GLOB("*.py", READ, 0), GLOB("**/*.py", WRITE, 0) },
		  "/m.py",
		  WRITE },
	};

	for (size_t i = 0; i < N(rows); i++) {
		struct fixture f;

		load(&f, rows[i].r, 2);
		if (level(&f, rows[i].path, false) != rows[i].want)
			fail_msg("row %zu: %s level %d, want %d", i,
				 rows[i].path, level(&f, rows[i].path, false),
				 rows[i].want);
		unload(&f);
	}
}

static void test_subtree_floor(void **state)
{
	struct af_rule out[] = { GLOB("**/*", READ, 0),
				 GLOB("/output/**", WRITE, 10) };
	struct af_rule gen[] = { GLOB("**/*", READ, 0),
				 DIR("/src/gen/", NONE, 0) };
	const char *safe[] = { "agent-safe" };
	struct fixture f;
	char err[128];

	load(&f, out, 2);
	assert_int_equal(af_matcher_floor(f.m, "/output"), WRITE);
	assert_int_equal(af_matcher_floor(f.m, "/output/a"), WRITE);
	assert_int_equal(af_matcher_floor(f.m, "/src"), READ);
	assert_int_equal(af_matcher_floor(f.m, "/"), VIEW);
	unload(&f);
	load(&f, gen, 2);
	assert_int_equal(af_matcher_floor(f.m, "/src"), NONE);
	assert_int_equal(af_matcher_floor(f.m, "/lib"), READ);
	unload(&f);
	/* agent-safe: a .env could be created below /output. */
	assert_int_equal(af_policy_new_with_presets(safe, 1, NULL, 0, &f.p, err,
						    sizeof(err)),
			 0);
	assert_int_equal(af_policy_compile(f.p, &f.m, err, sizeof(err)), 0);
	assert_int_equal(af_matcher_floor(f.m, "/output"), NONE);
	unload(&f);
}

static void test_malformed_paths(void **state)
{
	static const char *const bad[] = { "",	   "src/a", "/a//b", "/a/",
					   "/./a", "/a/..", "//" };
	struct af_rule r[] = { GLOB("**", WRITE, 0) };
	struct af_explanation ex;
	struct fixture f;

	load(&f, r, 1);
	for (size_t i = 0; i < N(bad); i++) {
		assert_int_equal(af_matcher_lookup(f.m, bad[i], false), NONE);
		assert_int_equal(af_matcher_lookup(f.m, bad[i], true), NONE);
		assert_int_equal(af_policy_explain_ex(f.p, bad[i], false, &ex),
				 -EINVAL);
		assert_int_equal(ex.perm, NONE);
	}
	assert_int_equal(af_matcher_lookup(f.m, NULL, false), NONE);
	unload(&f);
}

/* ---- presets ------------------------------------------------------------- */

static void test_preset_contents(void **state)
{
	static const char *const names[] = { "view-only", "read-only",
					     "agent-safe", "development",
					     "full-access" };
	size_t n;
	const struct af_preset *ps = af_presets(&n);
	const struct af_preset *safe = af_preset_find("agent-safe");

	assert_int_equal(n, N(names));
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(ps[i].name, names[i]);
		assert_ptr_equal(af_preset_find(names[i]), &ps[i]);
		assert_non_null(ps[i].description);
	}
	assert_null(af_preset_find("nope"));
	assert_null(af_preset_find(NULL));
	assert_int_equal(safe->n_rules, 9);
	assert_string_equal(safe->rules[0].pattern, "**/*");
	assert_int_equal(safe->rules[0].perm, READ);
	assert_string_equal(safe->rules[8].pattern, "**/.git/**");
	assert_int_equal(safe->rules[8].perm, NONE);
}

static void load_presets(struct fixture *f, const char *const *names, size_t n,
			 const struct af_rule *r, size_t nr)
{
	char err[128] = "";

	if (af_policy_new_with_presets(names, n, r, nr, &f->p, err,
				       sizeof(err)) ||
	    af_policy_compile(f->p, &f->m, err, sizeof(err)))
		fail_msg("%s", err);
}

static void test_agent_safe(void **state)
{
	static const char *const hidden[] = {
		"/secrets/token.txt",
		"/a/b/secrets/c/d.txt",
		"/.git/config",
		"/sub/.git/HEAD",
		"/.env",
		"/app/.env.local",
		"/deep/x/server.key",
		"/certs/a.pem",
		"/credentials.json",
		"/output/.env",
	};
	const char *names[] = { "agent-safe" };
	struct fixture f;

	load_presets(&f, names, 1, NULL, 0);
	for (size_t i = 0; i < N(hidden); i++)
		expect_level(&f, hidden[i], false, NONE);
	expect_level(&f, "/secrets", true, NONE);
	expect_level(&f, "/.git", true, NONE);
	expect_level(&f, "/src/main.py", false, READ); /* no write: read */
	expect_level(&f, "/output/r.txt", false, WRITE);
	expect_level(&f, "/tmp/x", false, WRITE);
	expect_level(&f, "/output", true, WRITE); /* so it can be created */
	expect_level(&f, "/", true, VIEW);
	unload(&f);
}

static void test_preset_levels(void **state)
{
	struct af_rule all_read[] = { GLOB("**/*", READ, 0) };
	const char *view[] = { "view-only" }, *dev[] = { "development" };
	const char *ro[] = { "read-only" }, *full[] = { "full-access" };
	const char *bad[] = { "agent-safe", "nope" };
	struct fixture f;
	char err[128];

	/* A user rule of the same shape ties and, coming later, wins. */
	load_presets(&f, view, 1, all_read, 1);
	expect_level(&f, "/main.py", false, READ);
	unload(&f);
	load_presets(&f, view, 1, NULL, 0);
	expect_level(&f, "/main.py", false, VIEW);
	expect_level(&f, "/src", true, VIEW);
	unload(&f);
	load_presets(&f, ro, 1, NULL, 0);
	expect_level(&f, "/a/b.c", false, READ);
	unload(&f);
	load_presets(&f, dev, 1, NULL, 0);
	expect_level(&f, "/src/a.py", false, WRITE);
	expect_level(&f, "/.env", false, NONE);
	expect_level(&f, "/x/secrets/y", false, NONE);
	expect_level(&f, "/credentials.json", false, WRITE);
	unload(&f);
	load_presets(&f, full, 1, NULL, 0);
	expect_level(&f, "/.env", false, WRITE);
	unload(&f);
	assert_int_equal(af_policy_new_with_presets(bad, 2, NULL, 0, &f.p, err,
						    sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "unknown preset \"nope\"");
}

/* ---- explain ------------------------------------------------------------- */

static void test_explain(void **state)
{
	struct af_rule r[] = {
		GLOB("**/*", READ, 0),		 /* 0 */
		GLOB("**/.git/**", NONE, 50),	 /* 1 */
		FILE_("/notes/a.txt", WRITE, 0), /* 2 */
		GLOB("**", NONE, -10),		 /* 3 */
	};
	struct af_rule sparse[] = { FILE_("/a/b.txt", READ, 0) };
	struct af_explanation ex;
	struct fixture f;
	int idx;

	load(&f, r, N(r));
	assert_int_equal(af_policy_explain(f.p, "/notes/a.txt", false, &idx),
			 WRITE);
	assert_int_equal(idx, 2);
	assert_int_equal(af_policy_explain_ex(f.p, "/x/.git/cfg", false, &ex),
			 0);
	assert_int_equal(ex.perm, NONE);
	assert_int_equal(ex.reason, AF_EXPLAIN_HIDDEN);
	assert_int_equal(ex.rule_index, 1);
	assert_int_equal(ex.ancestor_len, strlen("/x/.git"));
	assert_int_equal(af_policy_explain_ex(f.p, "/", true, &ex), 0);
	assert_int_equal(ex.reason, AF_EXPLAIN_ROOT); /* `**` says none */
	assert_int_equal(ex.rule_index, -1);
	assert_int_equal(ex.perm, VIEW);
	assert_int_equal(af_policy_explain_ex(f.p, "/src", true, &ex), 0);
	assert_int_equal(ex.reason, AF_EXPLAIN_RULE);
	assert_int_equal(ex.floor, NONE); /* a .git could be below */
	unload(&f);
	load(&f, sparse, 1);
	assert_int_equal(af_policy_explain_ex(f.p, "/a", true, &ex), 0);
	assert_int_equal(ex.reason, AF_EXPLAIN_DIR_TRAVERSE);
	assert_int_equal(ex.perm, VIEW);
	assert_int_equal(af_policy_explain_ex(f.p, "/c", true, &ex), 0);
	assert_int_equal(ex.reason, AF_EXPLAIN_DIR_NOTHING_BELOW);
	assert_int_equal(ex.perm, NONE);
	assert_int_equal(af_policy_explain_ex(f.p, "/c", false, &ex), 0);
	assert_int_equal(ex.reason, AF_EXPLAIN_DEFAULT);
	for (int k = AF_EXPLAIN_RULE; k <= AF_EXPLAIN_DIR_NOTHING_BELOW; k++)
		assert_non_null(strstr(af_explain_reason_str(k), " "));
	unload(&f);
}

/* ---- budget and blob ----------------------------------------------------- */

static void test_budget_states(void **state)
{
	/* "an a, then 16 more components": the DFA must remember 2^16. */
	struct af_rule r[] = { GLOB("**/a/*/*/*/*/*/*/*/*/*/*/*/*/*/*/*/*/*",
				    READ, 0) };
	struct af_policy *p;
	struct af_matcher *m = (void *)1;
	char err[256] = "";

	assert_int_equal(af_policy_new(r, 1, &p, err, sizeof(err)), 0);
	assert_int_equal(af_policy_compile(p, &m, err, sizeof(err)), -E2BIG);
	assert_null(m);
	assert_non_null(strstr(err, "automaton states"));
	/* explain cannot answer either: fail closed. */
	assert_int_equal(af_policy_explain(p, "/a/b", false, NULL), NONE);
	af_policy_free(p);
}

static void test_budget_blob(void **state)
{
	enum { RULES = 1700 };
	static char pats[RULES][40];
	struct af_rule *r = calloc(RULES, sizeof(*r));
	struct af_policy *p;
	struct af_matcher *m = (void *)1;
	char err[256] = "";
	unsigned x = 12345;

	/* Many long distinct names: a big trie, too big for the blob. */
	for (int i = 0; i < RULES; i++) {
		pats[i][0] = '/';
		for (int k = 1; k < 36; k++) {
			x = x * 1103515245 + 12345;
			pats[i][k] = 'a' + (x >> 16) % 26;
		}
		r[i] = (struct af_rule)FILE_(pats[i], READ, 0);
	}
	assert_int_equal(af_policy_new(r, RULES, &p, err, sizeof(err)), 0);
	assert_int_equal(af_policy_compile(p, &m, err, sizeof(err)), -E2BIG);
	assert_null(m);
	if (!strstr(err, "budget"))
		fail_msg("%s", err);
	af_policy_free(p);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fail_closed_and_root),
		cmocka_unit_test(test_none_hides_subtree),
		cmocka_unit_test(test_unmatched_dirs),
		cmocka_unit_test(test_resolution),
		cmocka_unit_test(test_subtree_floor),
		cmocka_unit_test(test_malformed_paths),
		cmocka_unit_test(test_preset_contents),
		cmocka_unit_test(test_agent_safe),
		cmocka_unit_test(test_preset_levels),
		cmocka_unit_test(test_explain),
		cmocka_unit_test(test_budget_states),
		cmocka_unit_test(test_budget_blob),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
