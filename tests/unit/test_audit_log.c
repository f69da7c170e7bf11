// SPDX-License-Identifier: Apache-2.0
/*
 * Per-sandbox audit logs (src/audit/logfile.c): buffered appends, rotation
 * by size with a bounded number of files, reading back (whole lines only,
 * up to a cut), and retention after destroy.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/audit/audit_internal.h"
#include "agentfense/util.h"

#define ID "sb_0123456789abcdef"

static int setup(void **state)
{
	char *dir = strdup("/tmp/af-test-audit-log-XXXXXX");

	if (!dir || !mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int teardown(void **state)
{
	int r = af_rm_rf(*state);

	free(*state);
	return r;
}

static uint64_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

struct lines {
	size_t n;
	char last[64];
};

static int count_line(void *ud, char *line, size_t len)
{
	struct lines *l = ud;

	l->n++;
	snprintf(l->last, sizeof(l->last), "%.*s", (int)len, line);
	return 0;
}

static void append_n(struct audit_log *l, int from, int n, uint64_t max,
		     unsigned keep)
{
	char line[64];

	for (int i = from; i < from + n; i++) {
		int len = snprintf(line, sizeof(line), "line %06d", i);

		assert_int_equal(alog_append(l, line, (size_t)len, max, keep),
				 0);
		assert_int_equal(alog_flush(l, max, keep), 0);
	}
}

static void test_append_buffers_until_flush(void **state)
{
	struct audit_log l;
	struct lines got = { 0 };
	char path[512];

	alog_init(&l);
	assert_int_equal(alog_open(&l, *state, ID), 0);
	snprintf(path, sizeof(path), "%s/" ID ".jsonl", (char *)*state);
	assert_int_equal(alog_append(&l, "{\"a\":1}", 7, 0, 0), 0);
	assert_int_equal(file_size(path), 0);
	assert_int_equal(alog_flush(&l, 0, 0), 0);
	assert_int_equal(file_size(path), 8);
	alog_close(&l, 0, 0);
	/* Reopening appends. */
	assert_int_equal(alog_open(&l, *state, ID), 0);
	assert_int_equal(alog_append(&l, "{\"a\":2}", 7, 0, 0), 0);
	alog_close(&l, 0, 0);
	assert_int_equal(alog_read(path, 0, count_line, &got), 0);
	assert_int_equal(got.n, 2);
	assert_string_equal(got.last, "{\"a\":2}");
}

static void test_rotation_bounds_files(void **state)
{
	const uint64_t max = 4096;
	const unsigned keep = 2;
	struct audit_log l;
	char **files;
	size_t n;
	struct lines got = { 0 };

	alog_init(&l);
	assert_int_equal(alog_open(&l, *state, ID), 0);
	/* 12 bytes a line: 2000 lines are about 6 files' worth. */
	append_n(&l, 0, 2000, max, keep);
	alog_close(&l, max, keep);
	assert_int_equal(alog_files(*state, ID, &files, &n), 0);
	assert_int_equal(n, keep + 1);
	/* Oldest first: .2, .1, then the current file. */
	assert_non_null(strstr(files[0], ".jsonl.2"));
	assert_non_null(strstr(files[1], ".jsonl.1"));
	assert_non_null(strstr(files[2], ".jsonl"));
	for (size_t i = 0; i < n; i++) {
		assert_true(file_size(files[i]) <= max);
		assert_int_equal(alog_read(files[i], 0, count_line, &got), 0);
	}
	/* The newest lines are kept, in order, the last one last. */
	assert_string_equal(got.last, "line 001999");
	assert_true(got.n < 2000 && got.n > 2 * max / 12);
	assert_true(alog_bytes(*state, ID) <= (keep + 1) * max);
	alog_free_list(files, n);
}

static void test_read_whole_lines_up_to_cut(void **state)
{
	char path[512];
	struct lines got = { 0 };
	FILE *f;

	snprintf(path, sizeof(path), "%s/x.jsonl", (char *)*state);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("one\ntwo\nthree\npartial", f);
	fclose(f);
	assert_int_equal(alog_read(path, 0, count_line, &got), 0);
	assert_int_equal(got.n, 3); /* a line still being written is not read */
	assert_string_equal(got.last, "three");
	memset(&got, 0, sizeof(got));
	assert_int_equal(alog_read(path, 8, count_line, &got), 0);
	assert_int_equal(got.n, 2);
	assert_string_equal(got.last, "two");
}

static void test_ids(void **state)
{
	struct audit_log a, b;
	char **ids;
	size_t n;

	alog_init(&a);
	alog_init(&b);
	assert_int_equal(alog_open(&b, *state, "sb_bbbbbbbbbbbbbbbb"), 0);
	assert_int_equal(alog_open(&a, *state, "sb_aaaaaaaaaaaaaaaa"), 0);
	alog_close(&a, 0, 0);
	alog_close(&b, 0, 0);
	assert_int_equal(alog_ids(*state, &ids, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(ids[0], "sb_aaaaaaaaaaaaaaaa");
	assert_string_equal(ids[1], "sb_bbbbbbbbbbbbbbbb");
	alog_free_list(ids, n);
}

static void age_marker(const char *dir, const char *id, time_t ago)
{
	char path[512];
	struct timespec t[2] = { { time(NULL) - ago, 0 },
				 { time(NULL) - ago, 0 } };

	snprintf(path, sizeof(path), "%s/%s.destroyed", dir, id);
	assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

static void test_retention(void **state)
{
	struct audit_log l;
	char **files, path[512];
	size_t n;

	alog_init(&l);
	assert_int_equal(alog_open(&l, *state, ID), 0);
	append_n(&l, 0, 2000, 4096, 3);
	alog_close(&l, 4096, 3);
	/* Not destroyed: kept whatever its age. */
	assert_int_equal(alog_sweep(*state, 0), 0);
	assert_int_equal(alog_mark_destroyed(*state, ID), 0);
	age_marker(*state, ID, 100);
	assert_int_equal(alog_sweep(*state, 3600), 0);
	assert_int_equal(alog_files(*state, ID, &files, &n), 0);
	assert_int_equal(n, 4);
	alog_free_list(files, n);
	age_marker(*state, ID, 7200);
	assert_int_equal(alog_sweep(*state, 3600), 1);
	assert_int_equal(alog_files(*state, ID, &files, &n), 0);
	assert_int_equal(n, 0);
	alog_free_list(files, n);
	/* Unmarked, a log is no longer waiting for its end. */
	assert_int_equal(alog_mark_destroyed(*state, ID), 0);
	alog_unmark(*state, ID);
	snprintf(path, sizeof(path), "%s/" ID ".destroyed", (char *)*state);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_append_buffers_until_flush,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation_bounds_files,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_whole_lines_up_to_cut,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retention, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
