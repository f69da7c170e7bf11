// SPDX-License-Identifier: Apache-2.0
/* af_id_new / af_id_valid / af_hex. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agentfense/util.h"

static void test_shape(void **state)
{
	static const char *const prefixes[] = { "cb_", "sb_", "sess_" };
	char id[AF_ID_MAX];

	for (size_t i = 0; i < 3; i++) {
		size_t plen = strlen(prefixes[i]);

		assert_int_equal(af_id_new(prefixes[i], id, sizeof(id)), 0);
		assert_int_equal(strlen(id), plen + AF_ID_HEX_LEN);
		assert_memory_equal(id, prefixes[i], plen);
		for (const char *p = id + plen; *p; p++)
			assert_non_null(strchr("0123456789abcdef", *p));
		assert_true(af_id_valid(prefixes[i], id));
	}
}

static int by_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* 64 random bits: a repeat in a few thousand would mean a broken source. */
static void test_unique(void **state)
{
	enum { N = 4096 };
	char(*ids)[AF_ID_MAX] = calloc(N, AF_ID_MAX);
	unsigned seen_digit[16] = { 0 };

	assert_non_null(ids);
	for (size_t i = 0; i < N; i++) {
		assert_int_equal(af_id_new("cb_", ids[i], AF_ID_MAX), 0);
		for (const char *p = ids[i] + 3; *p; p++)
			seen_digit[strchr("0123456789abcdef", *p) -
				   "0123456789abcdef"]++;
	}
	qsort(ids, N, AF_ID_MAX, by_str);
	for (size_t i = 1; i < N; i++)
		assert_string_not_equal(ids[i - 1], ids[i]);
	/* Every hex digit shows up (expected ~4096 times each). */
	for (size_t d = 0; d < 16; d++)
		assert_true(seen_digit[d] > 1000);
	free(ids);
}

static void test_buffer_too_small(void **state)
{
	char id[3 + AF_ID_HEX_LEN + 1];

	assert_int_equal(af_id_new("cb_", id, sizeof(id) - 1), -ENAMETOOLONG);
	assert_int_equal(af_id_new("cb_", id, sizeof(id)), 0);
	assert_true(af_id_valid("cb_", id));
}

static void test_valid_rejects(void **state)
{
	assert_true(af_id_valid("cb_", "cb_0123456789abcdef"));
	assert_false(af_id_valid("cb_", NULL));
	assert_false(af_id_valid("cb_", ""));
	assert_false(af_id_valid("cb_", "cb_"));
	assert_false(af_id_valid("cb_", "sb_0123456789abcdef"));
	assert_false(af_id_valid("cb_", "0123456789abcdef"));
	assert_false(af_id_valid("cb_", "cb_0123456789ABCDEF"));
	assert_false(af_id_valid("cb_", "cb_0123456789abcde"));
	assert_false(af_id_valid("cb_", "cb_0123456789abcdef0"));
	assert_false(af_id_valid("cb_", "cb_0123456789abcdeg"));
	assert_false(af_id_valid("cb_", "cb_../../../../etc"));
	assert_false(af_id_valid("cb_", "cb_0123456789abcde/"));
	assert_false(af_id_valid("cb_", "CB_0123456789abcdef"));
}

static void test_hex(void **state)
{
	const unsigned char in[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char out[2 * sizeof(in) + 1];

	memset(out, 'X', sizeof(out));
	af_hex(in, sizeof(in), out);
	assert_string_equal(out, "00017f80abff");
	af_hex(in, 0, out);
	assert_string_equal(out, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shape),
		cmocka_unit_test(test_unique),
		cmocka_unit_test(test_buffer_too_small),
		cmocka_unit_test(test_valid_rejects),
		cmocka_unit_test(test_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
