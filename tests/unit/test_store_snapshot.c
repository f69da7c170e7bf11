// SPDX-License-Identifier: Apache-2.0
/* Snapshots: pinned generations never change; unpinned ones go away. */
#include "test_store_helpers.h"

#include <pthread.h>
#include <stdatomic.h>

static char *file_in(const char *tree, const char *rel)
{
	char p[PATH_MAX + 64];

	snprintf(p, sizeof(p), "%s/%s", tree, rel);
	return slurp(p);
}

static void expect_file(const char *tree, const char *rel, const char *want)
{
	char *got = file_in(tree, rel);

	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void expect_download(struct fixture *f, const char *rel,
			    const char *want)
{
	char *got = download(f->s, f->cb.id, rel, NULL);

	assert_string_equal(got, want);
	free(got);
}

static int gens_on_disk(struct fixture *f)
{
	char real[PATH_MAX], p[PATH_MAX + 64];

	assert_non_null(realpath(f->dir, real));
	snprintf(p, sizeof(p), "%s/codebases/%s/gen", real, f->cb.id);
	return count_entries(p);
}

static void test_pinned_tree_is_immutable(void **state)
{
	struct fixture *f = *state;
	char *p1 = NULL, *p2 = NULL, *again = NULL;

	assert_int_equal(upload_str(f->s, f->cb.id, "a.txt", "old"), 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "d/keep", "same"), 0);
	assert_int_equal(store_codebase_ref(f->s, f->cb.id, "sb_1"), 0);
	assert_int_equal(store_snapshot(f->s, f->cb.id, "sb_1", &p1), 0);
	assert_true(p1[0] == '/');
	expect_file(p1, "a.txt", "old");

	/* Overwrite, add a file and a directory after the pin. */
	assert_int_equal(upload_str(f->s, f->cb.id, "a.txt", "new!"), 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "b.txt", "added"), 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "d/e/f", "deep"), 0);
	expect_file(p1, "a.txt", "old");
	expect_file(p1, "b.txt", NULL);
	expect_file(p1, "d/e/f", NULL);
	expect_file(p1, "d/keep", "same");
	expect_download(f, "a.txt", "new!");
	expect_download(f, "d/keep", "same");

	/* Same holder, same tree; a new holder sees the new bytes. */
	assert_int_equal(store_snapshot(f->s, f->cb.id, "sb_1", &again), 0);
	assert_string_equal(again, p1);
	assert_int_equal(store_snapshot(f->s, f->cb.id, "sb_2", &p2), 0);
	assert_string_not_equal(p2, p1);
	expect_file(p2, "a.txt", "new!");
	expect_file(p2, "d/e/f", "deep");
	assert_int_equal(gens_on_disk(f), 2);

	/* Releasing sb_1 removes its generation; sb_2's is current. */
	assert_int_equal(store_codebase_unref(f->s, f->cb.id, "sb_1"), 0);
	assert_false(exists(p1));
	assert_int_equal(gens_on_disk(f), 1);
	expect_file(p2, "a.txt", "new!");
	free(p1);
	free(p2);
	free(again);
}

/* The totals follow the current tree across a clone. */
static void test_totals_across_clone(void **state)
{
	struct fixture *f = *state;
	struct store_codebase cb = { 0 };
	char *p = NULL;

	assert_int_equal(upload_str(f->s, f->cb.id, "a", "12345"), 0);
	assert_int_equal(store_snapshot(f->s, f->cb.id, "sb_1", &p), 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "a", "12"), 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "b", "123"), 0);
	assert_int_equal(store_codebase_get(f->s, f->cb.id, &cb), 0);
	assert_int_equal(cb.size, 5);
	assert_int_equal(cb.file_count, 2);
	store_codebase_clear(&cb);
	free(p);
}

/* Every upload into a pinned tree costs one generation, not more. */
static void test_one_clone_per_pin(void **state)
{
	struct fixture *f = *state;
	char *p = NULL;

	assert_int_equal(upload_str(f->s, f->cb.id, "a", "1"), 0);
	assert_int_equal(store_snapshot(f->s, f->cb.id, "sb_1", &p), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(upload_str(f->s, f->cb.id, "a", "2"), 0);
	assert_int_equal(gens_on_disk(f), 2);
	/* A refused upload does not clone either. */
	free(p);
	assert_int_equal(store_snapshot(f->s, f->cb.id, "sb_2", &p), 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "a/b", "x"), -EINVAL);
	assert_int_equal(gens_on_disk(f), 2);
	free(p);
}

/* A reference without a snapshot pins nothing: uploads go in place. */
static void test_ref_without_pin(void **state)
{
	struct fixture *f = *state;
	char g0[PATH_MAX];

	assert_int_equal(store_codebase_ref(f->s, f->cb.id, "sb_1"), 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "a", "1"), 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "a", "2"), 0);
	assert_int_equal(gens_on_disk(f), 1);
	gen_path(f, 0, g0, sizeof(g0));
	expect_file(g0, "a", "2");
}

/* Pins are persistent: after a restart the pinned tree stays put. */
static void test_pin_survives_restart(void **state)
{
	struct fixture *f = *state;
	char *p1 = NULL, *p2 = NULL;

	assert_int_equal(upload_str(f->s, f->cb.id, "a", "before"), 0);
	assert_int_equal(store_snapshot(f->s, f->cb.id, "sb_1", &p1), 0);
	fx_reopen(f);
	assert_int_equal(upload_str(f->s, f->cb.id, "a", "after"), 0);
	expect_file(p1, "a", "before");
	fx_reopen(f);
	expect_file(p1, "a", "before");
	assert_int_equal(store_snapshot(f->s, f->cb.id, "sb_1", &p2), 0);
	assert_string_equal(p1, p2);
	expect_download(f, "a", "after");
	assert_int_equal(store_codebase_unref(f->s, f->cb.id, "sb_1"), 0);
	assert_false(exists(p1));
	free(p1);
	free(p2);
}

/* Regular files below dir (on disk), -1 on error. */
static int count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while (n >= 0 && (de = readdir(d))) {
		char p[PATH_MAX];
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		if (lstat(p, &st) < 0) {
			n = -1;
		} else if (S_ISDIR(st.st_mode)) {
			int k = count_files(p);

			n = k < 0 ? -1 : n + k;
		} else {
			n++;
		}
	}
	closedir(d);
	return n;
}

struct churn {
	struct fixture *f;
	atomic_bool stop;
	atomic_int errors;
	int rounds;
};

/* Uploads new files and rewrites one, until told to stop. */
static void *uploader(void *arg)
{
	struct churn *c = arg;
	char path[64];

	for (int i = 0; !c->stop; i++) {
		snprintf(path, sizeof(path), "d%d/f%d", i % 4, i);
		if (upload_str(c->f->s, c->f->cb.id, path, "data") < 0 ||
		    upload_str(c->f->s, c->f->cb.id, "hot", path) < 0)
			c->errors++;
	}
	return NULL;
}

/* Pins, checks the pinned tree stays put while uploads go on, releases. */
static void *pinner(void *arg)
{
	struct churn *c = arg;
	char holder[AF_ID_MAX];

	for (int i = 0; i < 30; i++) {
		char *p = NULL;
		int before, after;

		snprintf(holder, sizeof(holder), "sb_%d", i);
		if (store_snapshot(c->f->s, c->f->cb.id, holder, &p) < 0) {
			c->errors++;
			continue;
		}
		before = count_files(p);
		usleep(2000);
		after = count_files(p);
		if (before < 0 || before != after)
			c->errors++;
		if (store_codebase_unref(c->f->s, c->f->cb.id, holder) < 0)
			c->errors++;
		free(p);
		c->rounds++;
	}
	return NULL;
}

/* Listings of the current tree only ever grow (files are only added). */
static void *lister(void *arg)
{
	struct churn *c = arg;
	size_t last = 0;

	while (!c->stop) {
		struct store_file_info *fi = NULL;
		const char *why = NULL;
		size_t n = 0;

		if (store_list_files(c->f->s, c->f->cb.id, "", true, &fi, &n,
				     &why) < 0 ||
		    n < last)
			c->errors++;
		last = n;
		store_file_infos_free(fi, n);
	}
	return NULL;
}

static void test_concurrent_pins(void **state)
{
	struct fixture *f = *state;
	struct churn c = { .f = f };
	pthread_t up[2], pin, ls;

	/* Enough files that listings and clones overlap the other threads. */
	for (int i = 0; i < 200; i++) {
		char path[32];

		snprintf(path, sizeof(path), "base/%d/%d", i % 10, i);
		assert_int_equal(upload_str(f->s, f->cb.id, path, "b"), 0);
	}
	assert_int_equal(upload_str(f->s, f->cb.id, "hot", "start"), 0);
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&up[i], NULL, uploader, &c), 0);
	assert_int_equal(pthread_create(&ls, NULL, lister, &c), 0);
	assert_int_equal(pthread_create(&pin, NULL, pinner, &c), 0);
	assert_int_equal(pthread_join(pin, NULL), 0);
	c.stop = true;
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_join(up[i], NULL), 0);
	assert_int_equal(pthread_join(ls, NULL), 0);
	assert_int_equal(c.errors, 0);
	assert_int_equal(c.rounds, 30);
	/* All pins released: only the current generation is left. */
	assert_int_equal(gens_on_disk(f), 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_pinned_tree_is_immutable), T(test_totals_across_clone),
		T(test_one_clone_per_pin),	  T(test_ref_without_pin),
		T(test_pin_survives_restart),	  T(test_concurrent_pins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
