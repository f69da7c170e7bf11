// SPDX-License-Identifier: Apache-2.0
/* Codebase records: create, get, list, delete, references, restart. */
#include "test_store_helpers.h"

static void test_create_get(void **state)
{
	struct fixture *f = *state;
	struct store_codebase cb = { 0 }, got = { 0 };
	uint64_t before = af_now_real_ns();

	assert_int_equal(
		store_codebase_create(f->s, "shared-repo", "team_b", &cb), 0);
	assert_true(af_id_valid("cb_", cb.id));
	assert_string_not_equal(cb.id, f->cb.id);
	assert_string_equal(cb.name, "shared-repo");
	assert_string_equal(cb.owner_id, "team_b");
	assert_int_equal(cb.size, 0);
	assert_int_equal(cb.file_count, 0);
	assert_true(cb.created_at_ns >= (int64_t)before - 1000000000);
	assert_true(cb.created_at_ns <= (int64_t)af_now_real_ns());

	assert_int_equal(store_codebase_get(f->s, cb.id, &got), 0);
	assert_string_equal(got.id, cb.id);
	assert_string_equal(got.name, "shared-repo");
	assert_string_equal(got.owner_id, "team_b");
	assert_int_equal(got.created_at_ns, cb.created_at_ns);
	assert_int_equal(got.updated_at_ns, cb.updated_at_ns);
	store_codebase_clear(&got);
	store_codebase_clear(&cb);
}

static void test_get_unknown_and_bad_id(void **state)
{
	struct fixture *f = *state;
	struct store_codebase got = { 0 };

	assert_int_equal(store_codebase_get(f->s, "cb_0123456789abcdef", &got),
			 -ENOENT);
	assert_int_equal(store_codebase_get(f->s, "cb_../../etc", &got),
			 -EINVAL);
	assert_int_equal(store_codebase_get(f->s, "", &got), -EINVAL);
	assert_null(got.name);
}

/* Pages of 2 through 5 codebases of owner x among 8. */
static void test_list_paging_and_owner(void **state)
{
	struct fixture *f = *state;
	struct store_codebase cb, *page;
	char after[AF_ID_MAX] = "";
	char seen[8][AF_ID_MAX];
	size_t n, total = 0, pages = 0;
	bool more = true;

	for (int i = 0; i < 7; i++) {
		assert_int_equal(store_codebase_create(f->s, "r",
						       i % 2 ? "y" : "x", &cb),
				 0);
		store_codebase_clear(&cb);
	}
	/* Owner x: 4 of the new ones; the fixture's belongs to team_a. */
	while (more) {
		assert_int_equal(store_codebase_list(f->s, "x", after, 2, &page,
						     &n, &more),
				 0);
		assert_true(n <= 2);
		for (size_t i = 0; i < n; i++) {
			assert_string_equal(page[i].owner_id, "x");
			assert_true(strcmp(page[i].id, after) > 0);
			snprintf(after, sizeof(after), "%s", page[i].id);
			snprintf(seen[total++], AF_ID_MAX, "%s", page[i].id);
		}
		store_codebase_list_free(page, n);
		pages++;
		assert_true(pages < 10);
	}
	assert_int_equal(total, 4);
	assert_int_equal(pages, 2);

	/* All owners, no limit, in id order. */
	assert_int_equal(
		store_codebase_list(f->s, NULL, NULL, 0, &page, &n, &more), 0);
	assert_int_equal(n, 8);
	assert_false(more);
	for (size_t i = 1; i < n; i++)
		assert_true(strcmp(page[i - 1].id, page[i].id) < 0);
	store_codebase_list_free(page, n);

	assert_int_equal(
		store_codebase_list(f->s, "nobody", "", 10, &page, &n, &more),
		0);
	assert_int_equal(n, 0);
	assert_false(more);
	store_codebase_list_free(page, n);
}

static void test_delete(void **state)
{
	struct fixture *f = *state;
	struct store_codebase got = { 0 };
	char holder[AF_ID_MAX] = "", tree[2 * PATH_MAX], real[PATH_MAX];

	assert_int_equal(upload_str(f->s, f->cb.id, "a/b.txt", "x"), 0);
	assert_non_null(realpath(f->dir, real));
	snprintf(tree, sizeof(tree), "%s/codebases/%s", real, f->cb.id);
	assert_true(exists(tree));

	assert_int_equal(store_codebase_delete(f->s, f->cb.id, holder), 0);
	assert_int_equal(store_codebase_get(f->s, f->cb.id, &got), -ENOENT);
	assert_false(exists(tree));
	snprintf(tree, sizeof(tree), "%s/codebases/.trash", real);
	assert_int_equal(count_entries(tree), 0);

	assert_int_equal(store_codebase_delete(f->s, f->cb.id, holder),
			 -ENOENT);
	assert_int_equal(
		store_codebase_delete(f->s, "cb_0123456789abcdef", holder),
		-ENOENT);
	assert_int_equal(store_codebase_delete(f->s, "bogus", holder), -EINVAL);
}

static void test_delete_referenced(void **state)
{
	struct fixture *f = *state;
	char holder[AF_ID_MAX] = "";

	assert_int_equal(
		store_codebase_ref(f->s, f->cb.id, "sb_00000000000000aa"), 0);
	/* A second ref by the same holder changes nothing. */
	assert_int_equal(
		store_codebase_ref(f->s, f->cb.id, "sb_00000000000000aa"), 0);
	assert_int_equal(store_codebase_delete(f->s, f->cb.id, holder), -EBUSY);
	assert_string_equal(holder, "sb_00000000000000aa");

	assert_int_equal(
		store_codebase_unref(f->s, f->cb.id, "sb_00000000000000aa"), 0);
	assert_int_equal(
		store_codebase_unref(f->s, f->cb.id, "sb_00000000000000aa"),
		-ENOENT);
	assert_int_equal(store_codebase_delete(f->s, f->cb.id, holder), 0);
	assert_int_equal(
		store_codebase_ref(f->s, f->cb.id, "sb_00000000000000aa"),
		-ENOENT);
}

static void test_ref_bad_args(void **state)
{
	struct fixture *f = *state;
	char *path = NULL;

	assert_int_equal(store_codebase_ref(f->s, f->cb.id, ""), -EINVAL);
	assert_int_equal(store_codebase_ref(f->s, f->cb.id, NULL), -EINVAL);
	assert_int_equal(store_codebase_ref(f->s, "cb_x", "sb_1"), -EINVAL);
	assert_int_equal(
		store_snapshot(f->s, "cb_0123456789abcdef", "sb_1", &path),
		-ENOENT);
	assert_null(path);
}

/* Codebases, files, references and pins survive a restart. */
static void test_restart(void **state)
{
	struct fixture *f = *state;
	struct store_codebase got = { 0 };
	char holder[AF_ID_MAX] = "";
	char *p1 = NULL, *p2 = NULL, *text;

	assert_int_equal(upload_str(f->s, f->cb.id, "main.py", "print(1)\n"),
			 0);
	assert_int_equal(store_codebase_ref(f->s, f->cb.id, "sb_1"), 0);
	assert_int_equal(store_snapshot(f->s, f->cb.id, "sb_1", &p1), 0);
	fx_reopen(f);

	assert_int_equal(store_codebase_get(f->s, f->cb.id, &got), 0);
	assert_string_equal(got.name, "repo");
	assert_int_equal(got.size, 9);
	assert_int_equal(got.file_count, 1);
	store_codebase_clear(&got);
	text = download(f->s, f->cb.id, "/main.py", NULL);
	assert_string_equal(text, "print(1)\n");
	free(text);

	assert_int_equal(store_codebase_delete(f->s, f->cb.id, holder), -EBUSY);
	assert_string_equal(holder, "sb_1");
	assert_int_equal(store_snapshot(f->s, f->cb.id, "sb_1", &p2), 0);
	assert_string_equal(p1, p2);
	free(p1);
	free(p2);
}

/* What a crashed daemon leaves behind is removed at open. */
static void test_recover_leftovers(void **state)
{
	struct fixture *f = *state;
	char real[PATH_MAX], p[2 * PATH_MAX], g0[PATH_MAX];
	char *text;

	assert_int_equal(upload_str(f->s, f->cb.id, "keep.txt", "kept"), 0);
	store_close(f->s);
	f->s = NULL;
	assert_non_null(realpath(f->dir, real));
	snprintf(p, sizeof(p), "%s/codebases/%s/tmp/up-0123456789abcdef", real,
		 f->cb.id);
	assert_int_equal(close(open(p, O_CREAT | O_WRONLY, 0600)), 0);
	snprintf(p, sizeof(p), "%s/codebases/%s/gen/7/half", real, f->cb.id);
	assert_int_equal(af_mkdir_p(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/codebases/cb_00000000deadbeef/gen/0", real);
	assert_int_equal(af_mkdir_p(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/codebases/.trash/t0000000000000001/x", real);
	assert_int_equal(af_mkdir_p(p, 0755), 0);

	assert_int_equal(fx_open(f), 0);
	snprintf(p, sizeof(p), "%s/codebases/%s/tmp", real, f->cb.id);
	assert_int_equal(count_entries(p), 0);
	snprintf(p, sizeof(p), "%s/codebases/%s/gen", real, f->cb.id);
	assert_int_equal(count_entries(p), 1);
	gen_path(f, 0, g0, sizeof(g0));
	snprintf(p, sizeof(p), "%s/keep.txt", g0);
	text = slurp(p);
	assert_non_null(text);
	assert_string_equal(text, "kept");
	free(text);
	snprintf(p, sizeof(p), "%s/codebases/cb_00000000deadbeef", real);
	assert_false(exists(p));
	snprintf(p, sizeof(p), "%s/codebases/.trash", real);
	assert_int_equal(count_entries(p), 0);
}

static void test_state_dir_locked(void **state)
{
	struct fixture *f = *state;
	struct store_config cfg = { .state_dir = f->dir };
	struct store *other = NULL;

	assert_int_equal(store_open(&cfg, &other), -EBUSY);
	assert_null(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_get, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_get_unknown_and_bad_id,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_list_paging_and_owner,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_delete, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_delete_referenced,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_ref_bad_args, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_restart, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_recover_leftovers,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_state_dir_locked, fx_setup,
						fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
