// SPDX-License-Identifier: Apache-2.0
/*
 * Policy engine, rules: validation, glob semantics (the pattern rows of
 * ARCHITECTURE §4: one rule, does it match this path?), the blob, names.
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

/* ---- validation ---------------------------------------------------------- */

static void expect_invalid(struct af_rule r, const char *msg)
{
	struct af_rule rules[3] = { GLOB("**/*", READ, 0), GLOB("/ok", READ, 0),
				    r };
	struct af_policy *p = (void *)1;
	char err[256] = "";

	assert_int_equal(af_policy_new(rules, 3, &p, err, sizeof(err)),
			 -EINVAL);
	assert_null(p);
	if (!strstr(err, msg) || strncmp(err, "rule 2 (\"", 9))
		fail_msg("error \"%s\", want rule 2 and \"%s\"", err, msg);
}

static void test_validation(void **state)
{
	static char longpat[AF_POLICY_PATTERN_MAX + 2];
	char err[256];
	struct af_policy *p;

	expect_invalid((struct af_rule)GLOB("", READ, 0), "empty pattern");
	expect_invalid((struct af_rule)GLOB("/a[b", READ, 0), "unbalanced '['");
	expect_invalid((struct af_rule)GLOB("[!]", READ, 0), "unbalanced '['");
	expect_invalid((struct af_rule)GLOB("a/../b", READ, 0), "'..'");
	expect_invalid((struct af_rule)GLOB("./a", READ, 0), "'.'");
	expect_invalid((struct af_rule)GLOB("a//b", READ, 0), "empty path");
	expect_invalid((struct af_rule)GLOB("a\\", READ, 0), "lone '\\'");
	expect_invalid((struct af_rule)GLOB("a\\/b", READ, 0), "escaped '/'");
	expect_invalid((struct af_rule)GLOB("/", READ, 0), "only the root");
	expect_invalid((struct af_rule)GLOB("a[/]", READ, 0), "'/' inside");
	expect_invalid((struct af_rule)GLOB("[z-a]", READ, 0), "reversed");
	expect_invalid((struct af_rule)GLOB("[[:word:]]", READ, 0),
		       "unknown character class");
	expect_invalid((struct af_rule)GLOB("[\xc3\xa9]", READ, 0),
		       "non-ASCII");
	expect_invalid((struct af_rule)FILE_("/a/", READ, 0),
		       "cannot end with '/'");
	expect_invalid((struct af_rule)DIR("/a/../b", READ, 0), "'..'");
	expect_invalid((struct af_rule)DIR("", READ, 0), "empty pattern");
	expect_invalid((struct af_rule)GLOB("/x", 0, 0),
		       "permission is unspecified");
	expect_invalid((struct af_rule)GLOB("/x", 7, 0),
		       "none, view, read or write");
	expect_invalid(
		(struct af_rule){ .pattern = "/x", .type = 9, .perm = READ },
		"unknown pattern type");
	expect_invalid((struct af_rule){ .type = AF_PAT_GLOB, .perm = READ },
		       "pattern is missing");
	expect_invalid((struct af_rule){ .pattern = "/a\0b",
					 .type = 1,
					 .perm = READ,
					 .pattern_len = 4 },
		       "NUL");
	memset(longpat, 'a', sizeof(longpat) - 1);
	expect_invalid((struct af_rule)GLOB(longpat, READ, 0),
		       "longer than 1024");
	/* The message quotes the pattern, escaped. */
	expect_invalid((struct af_rule)GLOB("/\"x[", READ, 0),
		       "(\"/\\x22x[\"): unbalanced '['");
	/* The exact format of the contract. */
	{
		struct af_rule r[] = { GLOB("a", READ, 0), GLOB("b", READ, 0),
				       GLOB("c", READ, 0),
				       GLOB("/a[b", READ, 0) };

		assert_int_equal(af_policy_new(r, 4, &p, err, sizeof(err)),
				 -EINVAL);
		assert_string_equal(err, "rule 3 (\"/a[b\"): unbalanced '['");
	}
	/* A full 1024 bytes is fine. */
	longpat[AF_POLICY_PATTERN_MAX] = '\0';
	{
		struct af_rule r[] = { GLOB(longpat, READ, 0) };

		assert_int_equal(af_policy_new(r, 1, &p, err, sizeof(err)), 0);
		af_policy_free(p);
	}
}

static void test_validation_copies(void **state)
{
	char pat[] = "/src/**";
	struct af_rule r[] = {
		{ .pattern = pat, .type = 0, .perm = READ, .priority = -3 }
	};
	struct af_policy *p;
	const struct af_rule *got;
	char err[64];

	assert_int_equal(af_policy_new(r, 1, &p, err, sizeof(err)), 0);
	pat[1] = 'X'; /* the policy owns a copy */
	got = af_policy_rule(p, 0);
	assert_string_equal(got->pattern, "/src/**");
	assert_int_equal(got->type, AF_PAT_GLOB); /* wire 0 means glob */
	assert_int_equal(got->perm, READ);
	assert_int_equal(got->priority, -3);
	assert_int_equal(af_policy_rule_count(p), 1);
	assert_null(af_policy_rule(p, 1));
	af_policy_free(p);
	assert_int_equal(af_policy_new(NULL, 0, &p, err, sizeof(err)), 0);
	assert_int_equal(af_policy_rule_count(p), 0);
	af_policy_free(p);
}

static void test_too_many_rules(void **state)
{
	struct af_rule *r = calloc(AF_POLICY_RULES_MAX + 1, sizeof(*r));
	struct af_policy *p = NULL;
	char err[128];

	assert_non_null(r);
	for (size_t i = 0; i <= AF_POLICY_RULES_MAX; i++)
		r[i] = (struct af_rule)GLOB("/a", READ, 0);
	assert_int_equal(
		af_policy_new(r, AF_POLICY_RULES_MAX + 1, &p, err, sizeof(err)),
		-E2BIG);
	assert_non_null(strstr(err, "too many rules"));
	assert_int_equal(
		af_policy_new(r, AF_POLICY_RULES_MAX, &p, err, sizeof(err)), 0);
	af_policy_free(p);
	free(r);
}

/* ---- glob semantics: does a one-rule policy's rule match the path? ------- */

struct match_row {
	const char *pattern;
	int type;
	const char *path;
	bool is_dir;
	bool match;
};

static const struct match_row match_rows[] = {
	/* `*` and `?` stay inside one component */
	{ "/src/*.py", 1, "/src/a.py", 0, 1 },
	{ "/src/*.py", 1, "/src/a/b.py", 0, 0 },
	{ "/src/*.py", 1, "/src/.py", 0, 1 },
	{ "/a?c", 1, "/abc", 0, 1 },
	{ "/a?c", 1, "/ac", 0, 0 },
	{ "/a*", 1, "/ab/c", 0, 0 },
	{ "*", 1, "/.hidden", 0, 1 },
	{ "*.PY", 1, "/a.py", 0, 0 },
	/* `a**b` is `a*b` */
	{ "/a**b", 1, "/axxb", 0, 1 },
	{ "/a**b", 1, "/ax/yb", 0, 0 },
	/* brackets: ranges, negation, classes, escapes */
	{ "/[a-c]x", 1, "/bx", 0, 1 },
	{ "/[a-c]x", 1, "/dx", 0, 0 },
	{ "[!a]x", 1, "/q/bx", 0, 1 },
	{ "[!a]x", 1, "/ax", 0, 0 },
	{ "[^a]x", 1, "/ax", 0, 0 },
	{ "/[]]", 1, "/]", 0, 1 },
	{ "/[a-]", 1, "/-", 0, 1 },
	{ "/[[:digit:]]*", 1, "/1abc", 0, 1 },
	{ "/[[:digit:]]*", 1, "/abc", 0, 0 },
	{ "/[\\]]", 1, "/]", 0, 1 },
	{ "/\\*", 1, "/*", 0, 1 },
	{ "/\\*", 1, "/x", 0, 0 },
	{ "/\\?", 1, "/?", 0, 1 },
	{ "/\\[a]", 1, "/[a]", 0, 1 },
	/* `**`: zero or more components, anywhere, any number of times */
	{ "**/secrets/**", 1, "/secrets/x", 0, 1 },
	{ "**/secrets/**", 1, "/a/b/secrets/c/d", 0, 1 },
	{ "**/secrets/**", 1, "/secrets", 1, 1 },
	{ "**/secrets/**", 1, "/mysecrets/x", 0, 0 },
	{ "/a/**/b", 1, "/a/b", 0, 1 },
	{ "/a/**/b", 1, "/a/x/y/b", 0, 1 },
	{ "/a/**/b", 1, "/a/xb", 0, 0 },
	{ "/a/**/b/**/c", 1, "/a/1/b/2/3/c", 0, 1 },
	{ "/a/**/b/**/c", 1, "/a/b/c", 0, 1 },
	{ "**/x/**/y", 1, "/p/x/q/r/y", 0, 1 },
	{ "**", 1, "/any/thing", 0, 1 },
	/* a pattern with no '/' but a trailing one: any depth */
	{ ".env*", 1, "/.env", 0, 1 },
	{ ".env*", 1, "/app/.env.local", 0, 1 },
	{ "*.key", 1, "/deep/x/server.key", 0, 1 },
	{ "secrets/", 1, "/a/secrets", 1, 1 },
	/* a '/' anywhere else anchors at the root */
	{ "src/*.py", 1, "/src/a.py", 0, 1 },
	{ "src/*.py", 1, "/lib/src/a.py", 0, 0 },
	{ "/src", 1, "/src", 0, 1 },
	{ "/src", 1, "/x/src", 0, 0 },
	/* a trailing '/' matches directories only */
	{ "build/", 1, "/build", 1, 1 },
	{ "build/", 1, "/build", 0, 0 },
	{ "/out/*/", 1, "/out/x", 1, 1 },
	{ "/out/*/", 1, "/out/x", 0, 0 },
	/* X followed by a trailing `**` matches X itself */
	{ "/output/**", 1, "/output", 1, 1 },
	{ "/output/**", 1, "/output", 0, 1 },
	{ "/output/**", 1, "/output/a/b", 0, 1 },
	{ "/output/**", 1, "/outputs", 0, 0 },
	/* directory type: the directory and everything below */
	{ "/docs/", 2, "/docs", 1, 1 },
	{ "/docs/", 2, "/docs/a/b.md", 0, 1 },
	{ "/docs/", 2, "/docs", 0, 0 },
	{ "/docs", 2, "/docs/x", 0, 1 },
	{ "docs", 2, "/docs/x", 0, 1 },
	{ "docs", 2, "/a/docs/x", 0, 0 },
	{ "/docs", 2, "/docsx", 0, 0 },
	{ "/", 2, "/any/thing", 0, 1 },
	/* file type: exactly that path, wildcards are literal */
	{ "/config.yaml", 3, "/config.yaml", 0, 1 },
	{ "/config.yaml", 3, "/config.yaml", 1, 1 },
	{ "config.yaml", 3, "/config.yaml", 0, 1 },
	{ "/config.yaml", 3, "/a/config.yaml", 0, 0 },
	{ "/config.yaml", 3, "/config.yaml.bak", 0, 0 },
	{ "/a*b", 3, "/a*b", 0, 1 },
	{ "/a*b", 3, "/axb", 0, 0 },
};

static void test_glob_semantics(void **state)
{
	for (size_t i = 0; i < N(match_rows); i++) {
		const struct match_row *row = &match_rows[i];
		struct af_rule r[] = { { .pattern = row->pattern,
					 .type = row->type,
					 .perm = WRITE } };
		struct af_explanation ex;
		struct fixture f;
		bool match;

		load(&f, r, 1);
		assert_int_equal(
			af_policy_explain_ex(f.p, row->path, row->is_dir, &ex),
			0);
		match = ex.rule_index == 0;
		if (match != row->match ||
		    (match && level(&f, row->path, row->is_dir) != WRITE))
			fail_msg("row %zu: \"%s\" (type %d) on %s%s: %s, want "
				 "%s",
				 i, row->pattern, row->type, row->path,
				 row->is_dir ? " (dir)" : "",
				 match ? "match" : "no match",
				 row->match ? "match" : "no match");
		unload(&f);
	}
}

static void test_blob(void **state)
{
	static uint8_t zero[AF_PM_TABLE_OFF + 64];
	struct af_rule r[] = { GLOB("**/*", READ, 0) };
	const struct af_pm_header *h;
	struct af_matcher_stats st;
	struct fixture f;
	size_t size;

	load(&f, r, 1);
	h = af_matcher_blob(f.m, &size);
	assert_int_equal(h->magic, AF_PM_MAGIC);
	assert_int_equal(h->version, AF_PM_VERSION);
	assert_int_equal(h->size, size);
	assert_true(size <= AF_PM_BLOB_MAX);
	af_matcher_get_stats(f.m, &st);
	assert_int_equal(st.stride, h->stride);
	assert_int_equal(st.states, h->states);
	assert_int_equal(st.blob_bytes, size);
	/* A blob never written, or a walk it cannot finish: none. */
	assert_int_equal(af_pm_walk(zero, (const __u8 *)"/a", 0, 2),
			 AF_PM_INFO_NONE);
	assert_int_equal(af_pm_walk((const __u8 *)h, (const __u8 *)"a", 0, 1),
			 AF_PM_INFO_NONE);
	assert_int_equal(af_pm_walk((const __u8 *)h, (const __u8 *)"/a", 0, 0),
			 AF_PM_INFO_NONE);
	unload(&f);
}

static void test_names(void **state)
{
	enum af_perm v;

	assert_string_equal(af_perm_name(AF_PERM_VIEW), "view");
	assert_null(af_perm_name(0));
	assert_int_equal(af_perm_parse("write", &v), 0);
	assert_int_equal(v, WRITE);
	assert_int_equal(af_perm_parse("all", &v), -EINVAL);
	assert_string_equal(af_pattern_type_name(AF_PAT_DIRECTORY),
			    "directory");
	assert_null(af_pattern_type_name(0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_validation_copies),
		cmocka_unit_test(test_too_many_rules),
		cmocka_unit_test(test_glob_semantics),
		cmocka_unit_test(test_blob),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
