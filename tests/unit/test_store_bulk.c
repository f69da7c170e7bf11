// SPDX-License-Identifier: Apache-2.0
/* Bulk uploads: staged trees imported as one new generation, or not at all. */
#include "test_store_helpers.h"

static int stage_file(struct store_stage *st, const char *path, uint32_t mode,
		      const char *text, struct store_upload_result *res)
{
	const char *why = NULL;
	size_t len = strlen(text);
	int r;

	r = store_stage_file_begin(st, path, mode, (int64_t)len, &why);
	/* In two pieces, as a stream would bring them. */
	if (r == 0)
		r = store_stage_file_write(st, text, len / 2);
	if (r == 0)
		r = store_stage_file_write(st, text + len / 2, len - len / 2);
	if (r == 0)
		r = store_stage_file_end(st, res, &why);
	return r;
}

static struct store_stage *begin(struct fixture *f)
{
	struct store_stage *st = NULL;
	const char *why = NULL;

	assert_int_equal(store_stage_begin(f->s, f->cb.id, &st, &why), 0);
	return st;
}

static void expect_file(struct fixture *f, const char *path, const char *text)
{
	char *got = download(f->s, f->cb.id, path, NULL);

	assert_string_equal(got, text);
	free(got);
}

static mode_t mode_of(struct fixture *f, int64_t gen, const char *rel)
{
	char g[PATH_MAX], p[PATH_MAX + 256];
	struct stat st;

	gen_path(f, gen, g, sizeof(g));
	snprintf(p, sizeof(p), "%s/%s", g, rel);
	assert_int_equal(lstat(p, &st), 0);
	return st.st_mode;
}

static void expect_tmp_empty(struct fixture *f)
{
	char real[PATH_MAX], p[PATH_MAX + 64];

	assert_non_null(realpath(f->dir, real));
	snprintf(p, sizeof(p), "%s/codebases/%s/tmp", real, f->cb.id);
	assert_int_equal(count_entries(p), 0);
}

static void expect_totals(struct fixture *f, int64_t size, int32_t count)
{
	struct store_codebase cb = { 0 };

	assert_int_equal(store_codebase_get(f->s, f->cb.id, &cb), 0);
	assert_int_equal(cb.size, size);
	assert_int_equal(cb.file_count, count);
	store_codebase_clear(&cb);
}

static void test_import_tree(void **state)
{
	struct fixture *f = *state;
	struct store_stage *st = begin(f);
	struct store_upload_result res;
	const char *why = NULL;
	char sum[65], g1[PATH_MAX], g0[PATH_MAX];

	assert_int_equal(
		stage_file(st, "/src/main.py", 0644, "print(1)\n", &res), 0);
	assert_true(sha256_ext("print(1)\n", 9, sum));
	assert_string_equal(res.checksum, sum);
	assert_string_equal(res.path, "src/main.py");
	assert_int_equal(
		stage_file(st, "bin/run.sh", 0700, "#!/bin/sh\n", NULL), 0);
	assert_int_equal(stage_file(st, "secret", 0600, "s", NULL), 0);
	assert_int_equal(store_stage_mkdir(st, "empty/dir", &why), 0);
	assert_int_equal(store_import(st, &why), 0);

	expect_file(f, "src/main.py", "print(1)\n");
	expect_file(f, "bin/run.sh", "#!/bin/sh\n");
	/* Execute bits kept; every stored file readable as 0644 is. */
	assert_int_equal(mode_of(f, 1, "bin/run.sh") & 07777, 0755);
	assert_int_equal(mode_of(f, 1, "secret") & 07777, 0644);
	assert_int_equal(mode_of(f, 1, "src/main.py") & 07777, 0644);
	assert_true(S_ISDIR(mode_of(f, 1, "empty/dir")));
	expect_totals(f, 9 + 10 + 1, 3);
	expect_tmp_empty(f);
	/* Generation 0 was not pinned: retired. */
	gen_path(f, 0, g0, sizeof(g0));
	gen_path(f, 1, g1, sizeof(g1));
	assert_false(exists(g0));
	assert_true(exists(g1));
}

/* Over an existing tree: new files added, same paths replaced. */
static void test_import_merges(void **state)
{
	struct fixture *f = *state;
	struct store_stage *st;
	const char *why = NULL;

	assert_int_equal(upload_str(f->s, f->cb.id, "keep.txt", "keep"), 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "a/old.txt", "old"), 0);
	st = begin(f);
	assert_int_equal(stage_file(st, "a/old.txt", 0, "new!", NULL), 0);
	assert_int_equal(stage_file(st, "a/b/c.txt", 0, "c", NULL), 0);
	assert_int_equal(store_import(st, &why), 0);
	expect_file(f, "keep.txt", "keep");
	expect_file(f, "a/old.txt", "new!");
	expect_file(f, "a/b/c.txt", "c");
	expect_totals(f, 4 + 4 + 1, 3);
}

/* A pinned snapshot never sees an import. */
static void test_snapshot_unchanged(void **state)
{
	struct fixture *f = *state;
	struct store_stage *st;
	const char *why = NULL;
	char *snap = NULL, p[PATH_MAX + 32];

	assert_int_equal(upload_str(f->s, f->cb.id, "f.txt", "v1"), 0);
	assert_int_equal(
		store_snapshot(f->s, f->cb.id, "sb_0000000000000001", &snap),
		0);
	st = begin(f);
	assert_int_equal(stage_file(st, "f.txt", 0, "v2", NULL), 0);
	assert_int_equal(store_import(st, &why), 0);
	snprintf(p, sizeof(p), "%s/f.txt", snap);
	char *old = slurp(p);

	assert_string_equal(old, "v1");
	expect_file(f, "f.txt", "v2");
	free(old);
	free(snap);
}

/* Aborted or failed imports leave the codebase and tmp/ as they were. */
static void test_all_or_nothing(void **state)
{
	struct fixture *f = *state;
	struct store_stage *st;
	const char *why = NULL;
	char g0[PATH_MAX];

	assert_int_equal(upload_str(f->s, f->cb.id, "dir/x", "x"), 0);
	st = begin(f);
	assert_int_equal(stage_file(st, "one", 0, "1", NULL), 0);
	store_stage_abort(st);
	expect_tmp_empty(f);

	/* A staged file where the tree has a directory. */
	st = begin(f);
	assert_int_equal(stage_file(st, "two", 0, "2", NULL), 0);
	assert_int_equal(stage_file(st, "dir", 0, "clash", NULL), 0);
	assert_int_equal(store_import(st, &why), -EINVAL);
	assert_non_null(why);
	expect_tmp_empty(f);
	gen_path(f, 0, g0, sizeof(g0));
	assert_int_equal(count_entries(g0), 1);
	expect_file(f, "dir/x", "x");
	expect_totals(f, 1, 1);
}

static void test_bad_entries(void **state)
{
	struct fixture *f = *state;
	struct store_stage *st = begin(f);
	const char *why = NULL;

	assert_int_equal(stage_file(st, "a", 0, "1", NULL), 0);
	/* Twice, under a file, escaping the root, empty. */
	assert_int_equal(stage_file(st, "a", 0, "1", NULL), -EINVAL);
	assert_int_equal(stage_file(st, "a/b", 0, "1", NULL), -EINVAL);
	assert_int_equal(stage_file(st, "../x", 0, "1", NULL), -EINVAL);
	assert_int_equal(stage_file(st, "x//y", 0, "1", NULL), -EINVAL);
	assert_int_equal(store_stage_mkdir(st, "a/c", &why), -EINVAL);
	/* Short, then long. */
	assert_int_equal(store_stage_file_begin(st, "short", 0, 5, &why), 0);
	assert_int_equal(store_stage_file_write(st, "abc", 3), 0);
	assert_int_equal(store_stage_file_end(st, NULL, &why), -EINVAL);
	assert_int_equal(store_stage_file_begin(st, "long", 0, 2, &why), 0);
	assert_int_equal(store_stage_file_write(st, "abc", 3), -EFBIG);
	assert_int_equal(store_stage_file_end(st, NULL, &why), -EINVAL);
	store_stage_abort(st);
	expect_tmp_empty(f);
}

static void test_caps(void **state)
{
	struct fixture *f = *state;
	struct store_config cfg = { .state_dir = f->dir,
				    .max_file_size = 10,
				    .max_archive_size = 15,
				    .max_archive_entries = 3 };
	struct store_stage *st;
	const char *why = NULL;

	store_close(f->s);
	assert_int_equal(store_open(&cfg, &f->s), 0);
	st = begin(f);
	assert_int_equal(store_stage_file_begin(st, "big", 0, 11, &why),
			 -EFBIG);
	assert_int_equal(stage_file(st, "a", 0, "0123456789", NULL), 0);
	assert_int_equal(store_stage_file_begin(st, "b", 0, 6, &why), -EDQUOT);
	assert_int_equal(stage_file(st, "b", 0, "01234", NULL), 0);
	assert_int_equal(store_stage_mkdir(st, "d", &why), 0);
	assert_int_equal(store_stage_mkdir(st, "e", &why), -EMFILE);
	store_stage_abort(st);
}

static void test_upload_mode(void **state)
{
	struct fixture *f = *state;
	struct store_upload_result res;
	struct store_upload *u = NULL;
	const char *why = NULL;

	assert_int_equal(
		store_upload_begin(f->s, f->cb.id, "tool", 2, &u, &why), 0);
	store_upload_set_mode(u, 0751);
	assert_int_equal(store_upload_write(u, "ok", 2), 0);
	assert_int_equal(store_upload_commit(u, &res, &why), 0);
	assert_int_equal(mode_of(f, 0, "tool") & 07777, 0755);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_import_tree, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_import_merges, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_unchanged,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_all_or_nothing, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_entries, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_caps, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_upload_mode, fx_setup,
						fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
