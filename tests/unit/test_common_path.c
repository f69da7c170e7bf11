// SPDX-License-Identifier: Apache-2.0
/* af_path_normalize: wire paths relative to a tree root. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agentfense/cleanup.h"
#include "agentfense/util.h"

static void expect_ok(const char *in, const char *want)
{
	char out[PATH_MAX];
	const char *why = NULL;

	assert_int_equal(
		af_path_normalize(in, strlen(in), out, sizeof(out), &why), 0);
	assert_string_equal(out, want);
	assert_null(why);
}

static void expect_bad(const char *in, size_t len)
{
	char out[PATH_MAX];
	const char *why = NULL;

	assert_int_equal(af_path_normalize(in, len, out, sizeof(out), &why),
			 -EINVAL);
	assert_non_null(why);
	assert_true(strlen(why) > 0);
}

static void test_accepts(void **state)
{
	expect_ok("a", "a");
	expect_ok("/a", "a");
	expect_ok("src/main.py", "src/main.py");
	expect_ok("/src/main.py", "src/main.py");
	expect_ok("...", "...");
	expect_ok("a/..b/.c/b..", "a/..b/.c/b..");
	expect_ok(".env", ".env");
	expect_ok("with space/ü", "with space/ü");
}

static void test_rejects(void **state)
{
	static const char *const bad[] = {
		"",	"/",	 "//",	   "//a", "a//b",	    "a/",
		"/a/",	".",	 "..",	   "./a", "../a",	    "a/.",
		"a/..", "a/./b", "a/../b", "/..", "/../etc/passwd",
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		expect_bad(bad[i], strlen(bad[i]));
	expect_bad(NULL, 0);
}

/* len, not the C string, bounds the path: a NUL inside is an error. */
static void test_nul_and_len(void **state)
{
	char out[16];
	const char *why = NULL;

	expect_bad("a\0b", 3);
	expect_bad("\0", 1);
	assert_int_equal(af_path_normalize("abcdef", 3, out, sizeof(out), &why),
			 0);
	assert_string_equal(out, "abc");
}

static void test_lengths(void **state)
{
	char name[NAME_MAX + 2], out[PATH_MAX], small[4];
	const char *why = NULL;
	char *longp = malloc(PATH_MAX + 2);

	assert_non_null(longp);
	memset(name, 'n', sizeof(name) - 1);
	name[NAME_MAX] = '\0';
	expect_ok(name, name);
	name[NAME_MAX] = 'n';
	name[NAME_MAX + 1] = '\0';
	expect_bad(name, strlen(name));

	/* "a/a/.../a": PATH_MAX - 1 characters fit, PATH_MAX do not. */
	for (size_t i = 0; i < PATH_MAX + 1; i++)
		longp[i] = i % 2 ? '/' : 'a';
	longp[PATH_MAX + 1] = '\0';
	expect_bad(longp, PATH_MAX + 1);
	expect_bad(longp, PATH_MAX);
	longp[PATH_MAX - 1] = '\0';
	assert_int_equal(
		af_path_normalize(longp, PATH_MAX - 1, out, sizeof(out), &why),
		0);
	assert_string_equal(out, longp);
	free(longp);

	/* The output buffer bounds it too. */
	assert_int_equal(
		af_path_normalize("abcd", 4, small, sizeof(small), &why),
		-EINVAL);
	assert_int_equal(
		af_path_normalize("abc", 3, small, sizeof(small), &why), 0);
	assert_string_equal(small, "abc");
}

static void test_why_optional(void **state)
{
	char out[8];

	assert_int_equal(af_path_normalize("..", 2, out, sizeof(out), NULL),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_nul_and_len),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_why_optional),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
