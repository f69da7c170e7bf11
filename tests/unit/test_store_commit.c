// SPDX-License-Identifier: Apache-2.0
/*
 * Commits of a sandbox's changes: applied against the snapshot, conflicts
 * refused as a whole, repeated commits tracked by their marks, and paths
 * not named (hidden from the sandbox) never touched.
 */
#include "test_store_helpers.h"

#define HOLDER "sb_00000000000000c1"

struct change_spec {
	const char *path;
	enum store_op op;
	const char *view_id;
	const char *content; /* PUT */
};

/* Codebase: a.txt, d/x, d/.env (hidden from the sandbox); snapshot taken. */
static int setup(void **state)
{
	struct fixture *f;
	char *snap = NULL;
	int r = fx_setup(state);

	if (r < 0)
		return r;
	f = *state;
	r = upload_str(f->s, f->cb.id, "a.txt", "A");
	if (r == 0)
		r = upload_str(f->s, f->cb.id, "d/x", "X");
	if (r == 0)
		r = upload_str(f->s, f->cb.id, "d/.env", "SECRET");
	if (r == 0)
		r = store_snapshot(f->s, f->cb.id, HOLDER, &snap);
	free(snap);
	return r;
}

/* Stage and commit specs; the verdicts land in out (may be NULL). */
static int commit(struct fixture *f, const struct change_spec *spec, size_t n,
		  bool dry_run, enum store_verdict *out)
{
	struct store_stage *st = NULL;
	struct store_change ch[16];
	const char *why = NULL;
	int r;

	assert_true(n <= 16);
	assert_int_equal(store_stage_begin(f->s, f->cb.id, &st, &why), 0);
	for (size_t i = 0; i < n; i++) {
		ch[i] = (struct store_change){ .path = spec[i].path,
					       .op = spec[i].op,
					       .view_id = spec[i].view_id };
		if (spec[i].op == STORE_OP_MKDIR)
			assert_int_equal(
				store_stage_mkdir(st, spec[i].path, &why), 0);
		if (spec[i].op != STORE_OP_PUT)
			continue;
		size_t len = strlen(spec[i].content);

		assert_int_equal(store_stage_file_begin(st, spec[i].path, 0,
							(int64_t)len, &why),
				 0);
		assert_int_equal(
			store_stage_file_write(st, spec[i].content, len), 0);
		assert_int_equal(store_stage_file_end(st, NULL, &why), 0);
	}
	r = store_commit(st, HOLDER, ch, n, dry_run, &why);
	for (size_t i = 0; out && i < n; i++)
		out[i] = ch[i].verdict;
	return r;
}

static void expect_file(struct fixture *f, const char *path, const char *text)
{
	char *got = download(f->s, f->cb.id, path, NULL);

	assert_string_equal(got, text);
	free(got);
}

static void expect_missing(struct fixture *f, const char *path)
{
	const char *why = NULL;
	int fd = -1;

	assert_int_equal(store_file_open(f->s, f->cb.id, path, &fd, &why),
			 -ENOENT);
}

static void test_apply(void **state)
{
	struct fixture *f = *state;
	const struct change_spec spec[] = {
		{ "a.txt", STORE_OP_PUT, "v1", "A2" },
		{ "new/n.txt", STORE_OP_PUT, "v1", "N" },
		{ "new", STORE_OP_MKDIR, "d", NULL },
		/* The sandbox removed d: it saw only d/x. */
		{ "d", STORE_OP_DELETE, "-", NULL },
		{ "d/x", STORE_OP_DELETE, "-", NULL },
	};
	enum store_verdict v[5];
	struct store_codebase cb = { 0 };

	assert_int_equal(commit(f, spec, 5, false, v), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(v[i], STORE_APPLY);
	expect_file(f, "a.txt", "A2");
	expect_file(f, "new/n.txt", "N");
	expect_missing(f, "d/x");
	/* Hidden from the sandbox: untouched, and so is its directory. */
	expect_file(f, "d/.env", "SECRET");
	assert_int_equal(store_codebase_get(f->s, f->cb.id, &cb), 0);
	assert_int_equal(cb.file_count, 3);
	assert_int_equal(cb.size, 2 + 1 + 6);
	store_codebase_clear(&cb);
}

static void test_empty_dir_goes(void **state)
{
	struct fixture *f = *state;
	const struct change_spec spec[] = {
		{ "d", STORE_OP_DELETE, "-", NULL },
		{ "d/x", STORE_OP_DELETE, "-", NULL },
		{ "d/.env", STORE_OP_DELETE, "-", NULL },
	};
	struct store_file_info *fi = NULL;
	const char *why = NULL;
	size_t n = 0;

	assert_int_equal(commit(f, spec, 3, false, NULL), 0);
	assert_int_equal(
		store_list_files(f->s, f->cb.id, "", true, &fi, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_string_equal(fi[0].path, "a.txt");
	store_file_infos_free(fi, n);
}

/* Someone else changed a.txt: nothing of the commit lands. */
static void test_conflict(void **state)
{
	struct fixture *f = *state;
	const struct change_spec spec[] = {
		{ "b.txt", STORE_OP_PUT, "v1", "B" },
		{ "a.txt", STORE_OP_PUT, "v1", "mine" },
	};
	enum store_verdict v[2];

	assert_int_equal(upload_str(f->s, f->cb.id, "a.txt", "theirs"), 0);
	assert_int_equal(commit(f, spec, 2, false, v), -EBUSY);
	assert_int_equal(v[0], STORE_APPLY);
	assert_int_equal(v[1], STORE_CONFLICT);
	expect_file(f, "a.txt", "theirs");
	expect_missing(f, "b.txt");
	/* A dry run says the same and changes nothing either. */
	assert_int_equal(commit(f, spec, 2, true, v), 0);
	assert_int_equal(v[1], STORE_CONFLICT);
	expect_missing(f, "b.txt");
	/* The same content as theirs is no conflict. */
	const struct change_spec same[] = {
		{ "a.txt", STORE_OP_PUT, "v1", "theirs" },
	};
	assert_int_equal(commit(f, same, 1, false, v), 0);
	assert_int_equal(v[0], STORE_SAME);
}

/*
 * Commit, then someone else changes the file: the sandbox's unchanged
 * version is skipped (not a conflict, not an overwrite); a new version of
 * it conflicts with theirs.
 */
static void test_marks(void **state)
{
	struct fixture *f = *state;
	const struct change_spec first[] = {
		{ "a.txt", STORE_OP_PUT, "v1", "mine" },
	};
	const struct change_spec again[] = {
		{ "a.txt", STORE_OP_PUT, "v1", "mine" },
		{ "c.txt", STORE_OP_PUT, "v1", "C" },
	};
	const struct change_spec newer[] = {
		{ "a.txt", STORE_OP_PUT, "v2", "mine, later" },
	};
	struct store_change check = { .path = "a.txt",
				      .op = STORE_OP_PUT,
				      .view_id = "v2" };
	enum store_verdict v[2];

	assert_int_equal(commit(f, first, 1, false, v), 0);
	assert_int_equal(v[0], STORE_APPLY);
	/* Unchanged since: our own commit is the base now. */
	assert_int_equal(store_commit_check(f->s, f->cb.id, HOLDER, &check, 1),
			 0);
	assert_int_equal(check.verdict, STORE_APPLY);
	assert_int_equal(upload_str(f->s, f->cb.id, "a.txt", "theirs"), 0);
	assert_int_equal(commit(f, again, 2, false, v), 0);
	assert_int_equal(v[0], STORE_COMMITTED);
	assert_int_equal(v[1], STORE_APPLY);
	expect_file(f, "a.txt", "theirs");
	expect_file(f, "c.txt", "C");
	assert_int_equal(store_commit_check(f->s, f->cb.id, HOLDER, &check, 1),
			 0);
	assert_int_equal(check.verdict, STORE_DIFFERS);
	assert_int_equal(commit(f, newer, 1, false, v), -EBUSY);
	assert_int_equal(v[0], STORE_CONFLICT);
	expect_file(f, "a.txt", "theirs");
}

/* A deletion of a file someone else changed conflicts; of one they
 * deleted too is the same. */
static void test_delete_verdicts(void **state)
{
	struct fixture *f = *state;
	const struct change_spec del[] = {
		{ "a.txt", STORE_OP_DELETE, "-", NULL },
	};
	enum store_verdict v[1];

	assert_int_equal(upload_str(f->s, f->cb.id, "a.txt", "changed"), 0);
	assert_int_equal(commit(f, del, 1, false, v), -EBUSY);
	assert_int_equal(v[0], STORE_CONFLICT);
	expect_file(f, "a.txt", "changed");
}

static void test_no_snapshot(void **state)
{
	struct fixture *f = *state;
	struct store_change c = { .path = "a.txt",
				  .op = STORE_OP_DELETE,
				  .view_id = "-" };

	assert_int_equal(store_commit_check(f->s, f->cb.id,
					    "sb_00000000000000ff", &c, 1),
			 -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_apply, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_empty_dir_goes, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_conflict, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_marks, setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_delete_verdicts, setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_no_snapshot, setup,
						fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
