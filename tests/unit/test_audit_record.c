// SPDX-License-Identifier: Apache-2.0
/*
 * Audit records as JSON lines and back (src/audit/record.c), path folding
 * for names the trace source reads as passed, and query filters.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../src/audit/audit_internal.h"
#include "agentfense/cleanup.h"

static struct audit_record event(const char *path)
{
	struct audit_record r = {
		.time_ns = 1795791886123456789ull,
		.pid = 4242,
		.tid = 4243,
		.uid = 1000,
		.decision = AUDIT_DENY,
		.err = EACCES,
		.as_passed = true,
		.path = (char *)path,
		.path_len = strlen(path),
	};

	strcpy(r.sandbox_id, "sb_0123456789abcdef");
	strcpy(r.comm, "cat");
	strcpy(r.op, "open-read");
	strcpy(r.enforcer, "landlock");
	strcpy(r.source, "trace");
	return r;
}

/* Format, check the line parses as what went in. */
static void roundtrip(const struct audit_record *in, char *line)
{
	struct audit_record out;
	int n = audit_record_format(in, line, AUDIT_LINE_MAX);

	assert_true(n > 0 && n < AUDIT_LINE_MAX);
	line[n] = '\0'; /* the format gives a length, not a C string */
	assert_null(memchr(line, '\n', (size_t)n));
	assert_int_equal(audit_record_parse(line, (size_t)n, &out), 0);
	assert_int_equal(out.time_ns, in->time_ns);
	assert_string_equal(out.sandbox_id, in->sandbox_id);
	assert_string_equal(out.source, in->source);
	assert_int_equal(out.lost, in->lost);
	if (!in->lost) {
		assert_int_equal(out.pid, in->pid);
		assert_int_equal(out.tid, in->tid);
		assert_int_equal(out.uid, in->uid);
		assert_string_equal(out.comm, in->comm);
		assert_string_equal(out.op, in->op);
		assert_string_equal(out.enforcer, in->enforcer);
		assert_int_equal(out.decision, in->decision);
		assert_int_equal(out.err, in->err);
		assert_int_equal(out.as_passed, in->as_passed);
		assert_int_equal(out.truncated, in->truncated);
		assert_int_equal(out.path_len, in->path_len);
		assert_memory_equal(out.path, in->path, in->path_len);
	}
	audit_record_clear(&out);
}

static void test_roundtrip_plain(void **state)
{
	_cleanup_free_ char *line = malloc(AUDIT_LINE_MAX);
	struct audit_record r = event("/workspace/src/main.py");

	roundtrip(&r, line);
	assert_non_null(strstr(line, "\"time\":\"2026-11-27T"));
	assert_non_null(strstr(line, ".123456789Z\""));
	assert_non_null(strstr(line, "\"error\":\"EACCES\""));
	assert_non_null(strstr(line, "\"decision\":\"deny\""));
	assert_null(strstr(line, "path_hex"));
}

/* Names are bytes: quotes, controls, and bytes that are not UTF-8. */
static void test_roundtrip_hostile_path(void **state)
{
	_cleanup_free_ char *line = malloc(AUDIT_LINE_MAX);
	static const char odd[] = "/workspace/a\"b\\c\n\x01\x7f/\xff\xfe/é";
	struct audit_record r = event(odd);

	roundtrip(&r, line);
	/* The line stays one valid line; the exact bytes ride beside it. */
	assert_non_null(strstr(line, "\\\"b\\\\c\\u000a\\u0001\\u007f"));
	assert_non_null(strstr(line, "\xef\xbf\xbd"));
	assert_non_null(strstr(line, "\"path_hex\":\"2f776f726b"));
}

static void test_roundtrip_gap(void **state)
{
	_cleanup_free_ char *line = malloc(AUDIT_LINE_MAX);
	struct audit_record r = { .time_ns = 1000000000ull * 1795791886,
				  .lost = 12 };

	strcpy(r.sandbox_id, "sb_0123456789abcdef");
	strcpy(r.source, "trace");
	roundtrip(&r, line);
	assert_non_null(strstr(line, "\"lost\":12"));
}

static void test_longest_path_fits(void **state)
{
	_cleanup_free_ char *line = malloc(AUDIT_LINE_MAX);
	_cleanup_free_ char *p = malloc(4112);
	struct audit_record r;

	/* Every byte an escape and invalid: the worst a path can do. */
	memset(p, 0x01, 4111);
	p[4111] = '\0';
	p[7] = (char)0xff;
	r = event(p);
	roundtrip(&r, line);
}

static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"",
		"{",
		"[]",
		"{\"sandbox\":\"x\"}",
		"{\"time\":\"yesterday\",\"path\":\"/a\"}",
		"{\"time\":\"2026-11-27T14:42:01.000000000Z\"}",
		"{\"time\":\"2026-11-27T14:42:01.000000000Z\",\"path_hex\":"
		"\"zz\"}",
	};
	struct audit_record r;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(audit_record_parse(bad[i], strlen(bad[i]), &r),
				 -EINVAL);
}

static void expect_fold(const char *in, const char *want)
{
	char buf[256];
	size_t n;

	strcpy(buf, in);
	n = audit_path_fold(buf, strlen(buf));
	assert_string_equal(buf, want);
	assert_int_equal(n, strlen(want));
}

static void test_fold(void **state)
{
	expect_fold("/workspace/a", "/workspace/a");
	expect_fold("/workspace/./a//b/", "/workspace/a/b");
	expect_fold("/workspace/rw/../ro/x", "/workspace/ro/x");
	expect_fold("/workspace/../../etc/passwd", "/etc/passwd");
	expect_fold("/..", "/");
	expect_fold("/", "/");
	expect_fold("//", "/");
	expect_fold("a/b/../../c", "c");
	expect_fold("../a", "../a");
	expect_fold("../../a/../b", "../../b");
	expect_fold("a/..", "");
	expect_fold("", "");
	expect_fold("/workspace/..x/.y", "/workspace/..x/.y");
}

static void test_in_workspace(void **state)
{
	static const struct {
		const char *p;
		bool in;
	} cases[] = {
		{ "/workspace", true },	     { "/workspace/a", true },
		{ "/workspaces/a", false },  { "/work", false },
		{ "/tmp/workspace", false }, { "workspace/a", false },
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_int_equal(
			audit_path_in_workspace(cases[i].p, strlen(cases[i].p)),
			cases[i].in);
}

static void test_filter(void **state)
{
	struct audit_record r = event("/workspace/secrets/key.pem");
	const char *const ops[] = { "unlink", "open-read", NULL };
	const char *const other[] = { "unlink", NULL };
	struct audit_filter f = { 0 };

	assert_true(audit_filter_match(&f, &r));
	f.sandbox_id = "sb_ffffffffffffffff";
	assert_false(audit_filter_match(&f, &r));
	f.sandbox_id = r.sandbox_id;
	f.decision = AUDIT_ALLOW;
	assert_false(audit_filter_match(&f, &r));
	f.decision = AUDIT_DENY;
	f.path_glob = "/workspace/*.pem"; /* '*' spans '/' */
	assert_true(audit_filter_match(&f, &r));
	f.path_glob = "/workspace/src/*";
	assert_false(audit_filter_match(&f, &r));
	f.path_glob = NULL;
	f.ops = ops;
	assert_true(audit_filter_match(&f, &r));
	f.ops = other;
	assert_false(audit_filter_match(&f, &r));
	f.ops = NULL;
	f.since_ns = r.time_ns + 1;
	assert_false(audit_filter_match(&f, &r));
	f.since_ns = r.time_ns;
	f.until_ns = r.time_ns;
	assert_false(audit_filter_match(&f, &r)); /* until is exclusive */
	f.until_ns = r.time_ns + 1;
	assert_true(audit_filter_match(&f, &r));
	/* A gap may hide anything: only sandbox and time apply to it. */
	r.lost = 3;
	f.decision = AUDIT_ALLOW;
	f.ops = other;
	assert_true(audit_filter_match(&f, &r));
}

static void test_levels(void **state)
{
	enum audit_level l;

	assert_int_equal(audit_level_parse("all", &l), 0);
	assert_int_equal(l, AUDIT_LEVEL_ALL);
	assert_string_equal(audit_level_name(l), "all");
	assert_int_equal(audit_level_parse("writes", &l), 0);
	assert_int_equal(l, AUDIT_LEVEL_WRITES);
	assert_int_equal(audit_level_parse("denied", &l), 0);
	assert_int_equal(l, AUDIT_LEVEL_DENIED);
	assert_int_equal(audit_level_parse("ALL", &l), -EINVAL);
	assert_int_equal(audit_level_parse("", &l), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_plain),
		cmocka_unit_test(test_roundtrip_hostile_path),
		cmocka_unit_test(test_roundtrip_gap),
		cmocka_unit_test(test_longest_path_fits),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_fold),
		cmocka_unit_test(test_in_workspace),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_levels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
