// SPDX-License-Identifier: Apache-2.0
/* Uploads and downloads: checksums, sizes, replacement, refused paths. */
#include "test_store_helpers.h"

#include <pthread.h>

static void expect_totals(struct fixture *f, int64_t size, int32_t count)
{
	struct store_codebase cb = { 0 };

	assert_int_equal(store_codebase_get(f->s, f->cb.id, &cb), 0);
	assert_int_equal(cb.size, size);
	assert_int_equal(cb.file_count, count);
	store_codebase_clear(&cb);
}

/* Nothing reached the tree, and no temp file was left behind. */
static void expect_untouched(struct fixture *f, int entries)
{
	char g0[PATH_MAX], p[PATH_MAX + 64], real[PATH_MAX];

	gen_path(f, 0, g0, sizeof(g0));
	assert_int_equal(count_entries(g0), entries);
	assert_non_null(realpath(f->dir, real));
	snprintf(p, sizeof(p), "%s/codebases/%s/tmp", real, f->cb.id);
	assert_int_equal(count_entries(p), 0);
	snprintf(p, sizeof(p), "%s/codebases/%s/gen", real, f->cb.id);
	assert_int_equal(count_entries(p), 1);
}

static void test_small_upload(void **state)
{
	struct fixture *f = *state;
	struct store_upload_result res;
	struct store_codebase cb = { 0 };
	const char *why = NULL;
	char *text;

	assert_int_equal(upload(f->s, f->cb.id, "/src/main.py", "abc", 3, 1, 3,
				&res, &why),
			 0);
	/* FIPS 180-2 test vector for "abc". */
	assert_string_equal(res.checksum, "ba7816bf8f01cfea414140de5dae2223"
					  "b00361a396177a9cb410ff61f20015ad");
	assert_int_equal(res.size, 3);
	assert_string_equal(res.path, "src/main.py");
	text = download(f->s, f->cb.id, "src/main.py", NULL);
	assert_string_equal(text, "abc");
	free(text);
	assert_int_equal(store_codebase_get(f->s, f->cb.id, &cb), 0);
	assert_int_equal(cb.size, 3);
	assert_int_equal(cb.file_count, 1);
	assert_true(cb.updated_at_ns >= cb.created_at_ns);
	store_codebase_clear(&cb);
}

static void test_empty_file(void **state)
{
	struct fixture *f = *state;
	struct store_upload_result res;
	const char *why = NULL;
	size_t len = 1;
	char *text;

	assert_int_equal(
		upload(f->s, f->cb.id, "empty", "", 0, 1, 0, &res, &why), 0);
	assert_string_equal(res.checksum, "e3b0c44298fc1c149afbf4c8996fb924"
					  "27ae41e4649b934ca495991b7852b855");
	text = download(f->s, f->cb.id, "empty", &len);
	assert_int_equal(len, 0);
	free(text);
	expect_totals(f, 0, 1);
}

/* 5 MiB in odd-sized chunks, checked against coreutils' sha256sum. */
static void test_large_upload(void **state)
{
	struct fixture *f = *state;
	const size_t len = 5 * 1024 * 1024 + 3;
	struct store_upload_result res;
	const char *why = NULL;
	char want[65];
	unsigned char *data = malloc(len);
	char *back;
	size_t got;
	uint32_t x = 12345;

	assert_non_null(data);
	for (size_t i = 0; i < len; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (unsigned char)(x >> 16);
	}
	assert_int_equal(upload(f->s, f->cb.id, "blob.bin", data, len, 65537,
				(int64_t)len, &res, &why),
			 0);
	assert_int_equal(res.size, (int64_t)len);
	if (sha256_ext(data, len, want))
		assert_string_equal(res.checksum, want);
	else
		print_message("sha256sum unavailable: checksum compared "
			      "by known vector tests only\n");
	back = download(f->s, f->cb.id, "blob.bin", &got);
	assert_int_equal(got, len);
	assert_memory_equal(back, data, len);
	free(back);
	free(data);
	expect_totals(f, (int64_t)len, 1);
}

static void test_replace_keeps_totals(void **state)
{
	struct fixture *f = *state;
	char *text;

	assert_int_equal(upload_str(f->s, f->cb.id, "a.txt", "1234567890"), 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "d/b.txt", "xyz"), 0);
	expect_totals(f, 13, 2);
	assert_int_equal(upload_str(f->s, f->cb.id, "a.txt", "12"), 0);
	expect_totals(f, 5, 2);
	assert_int_equal(upload_str(f->s, f->cb.id, "/d/b.txt", "abcdef"), 0);
	expect_totals(f, 8, 2);
	text = download(f->s, f->cb.id, "a.txt", NULL);
	assert_string_equal(text, "12");
	free(text);
}

static void test_bad_paths(void **state)
{
	static const char *const bad[] = {
		"",   "/", "../x", "a/../../x", "a/./b", "a//b", "//etc/x",
		"a/", ".", "..",   "a/..",	"./a",	 NULL,
	};
	struct fixture *f = *state;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct store_upload *u = NULL;
		const char *why = NULL;

		assert_int_equal(
			store_upload_begin(f->s, f->cb.id, bad[i], 0, &u, &why),
			-EINVAL);
		assert_null(u);
		assert_non_null(why);
	}
	expect_untouched(f, 0);
}

static void test_bad_codebase(void **state)
{
	struct fixture *f = *state;
	struct store_upload *u = NULL;
	const char *why = NULL;
	int fd = -1;

	assert_int_equal(
		store_upload_begin(f->s, "cb_../../../tmp", "x", 0, &u, &why),
		-EINVAL);
	assert_int_equal(store_upload_begin(f->s, "cb_0123456789abcdef", "x", 0,
					    &u, &why),
			 -ENOENT);
	assert_int_equal(
		store_file_open(f->s, "cb_0123456789abcdef", "x", &fd, &why),
		-ENOENT);
	assert_int_equal(fd, -1);
}

/* A file where a directory is needed, and a directory as the target. */
static void test_path_conflicts(void **state)
{
	struct fixture *f = *state;
	const char *why = NULL;
	char g0[PATH_MAX], p[PATH_MAX + 16];
	struct stat st;

	assert_int_equal(upload_str(f->s, f->cb.id, "file", "f"), 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "dir/x", "x"), 0);
	assert_int_equal(
		upload(f->s, f->cb.id, "file/child", "c", 1, 1, 0, NULL, &why),
		-EINVAL);
	assert_non_null(strstr(why, "file"));
	why = NULL;
	assert_int_equal(
		upload(f->s, f->cb.id, "dir", "c", 1, 1, 0, NULL, &why),
		-EINVAL);
	assert_non_null(strstr(why, "directory"));
	gen_path(f, 0, g0, sizeof(g0));
	snprintf(p, sizeof(p), "%s/file", g0);
	assert_int_equal(stat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_size, 1);
	snprintf(p, sizeof(p), "%s/dir", g0);
	assert_int_equal(count_entries(p), 1);
	expect_untouched(f, 2);
	expect_totals(f, 2, 2);
}

/* A conflict that appears between begin and commit is caught at commit. */
static void test_conflict_at_commit(void **state)
{
	struct fixture *f = *state;
	struct store_upload_result res;
	struct store_upload *u = NULL;
	const char *why = NULL;

	assert_int_equal(store_upload_begin(f->s, f->cb.id, "a/b", 0, &u, &why),
			 0);
	assert_int_equal(store_upload_write(u, "bb", 2), 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "a", "now a file"), 0);
	assert_int_equal(store_upload_commit(u, &res, &why), -EINVAL);
	expect_untouched(f, 1);
	expect_totals(f, 10, 1);
}

static void test_announced_size(void **state)
{
	struct fixture *f = *state;
	struct store_upload_result res;
	struct store_upload *u = NULL;
	const char *why = NULL;

	/* More than announced: refused by the write that crosses it. */
	assert_int_equal(store_upload_begin(f->s, f->cb.id, "x", 4, &u, &why),
			 0);
	assert_int_equal(store_upload_write(u, "abc", 3), 0);
	assert_int_equal(store_upload_write(u, "de", 2), -EFBIG);
	assert_int_equal(store_upload_commit(u, &res, &why), -EFBIG);
	/* Less than announced: refused at commit. */
	assert_int_equal(store_upload_begin(f->s, f->cb.id, "x", 4, &u, &why),
			 0);
	assert_int_equal(store_upload_write(u, "abc", 3), 0);
	why = NULL;
	assert_int_equal(store_upload_commit(u, &res, &why), -EINVAL);
	assert_non_null(why);
	assert_int_equal(store_upload_begin(f->s, f->cb.id, "x", -1, &u, &why),
			 -EINVAL);
	expect_untouched(f, 0);
	expect_totals(f, 0, 0);
}

static void test_max_file_size(void **state)
{
	struct fixture *f = *state;
	struct store_upload *u = NULL;
	const char *why = NULL;
	char buf[100] = { 0 };

	f->max_file_size = 150;
	fx_reopen(f);
	assert_int_equal(store_upload_begin(f->s, f->cb.id, "x", 151, &u, &why),
			 -EFBIG);
	assert_int_equal(store_upload_begin(f->s, f->cb.id, "x", 0, &u, &why),
			 0);
	assert_int_equal(store_upload_write(u, buf, sizeof(buf)), 0);
	assert_int_equal(store_upload_write(u, buf, sizeof(buf)), -EFBIG);
	store_upload_abort(u);
	assert_int_equal(
		upload(f->s, f->cb.id, "y", buf, 100, 33, 100, NULL, &why), 0);
	expect_untouched(f, 1);
}

static void test_abort(void **state)
{
	struct fixture *f = *state;
	struct store_upload *u = NULL;
	const char *why = NULL;

	assert_int_equal(store_upload_begin(f->s, f->cb.id, "d/x", 0, &u, &why),
			 0);
	assert_int_equal(store_upload_write(u, "data", 4), 0);
	store_upload_abort(u);
	expect_untouched(f, 0);
	expect_totals(f, 0, 0);
}

static void test_file_open_kinds(void **state)
{
	struct fixture *f = *state;
	const char *why = NULL;
	int fd = -1;

	assert_int_equal(upload_str(f->s, f->cb.id, "d/x", "x"), 0);
	assert_int_equal(store_file_open(f->s, f->cb.id, "d", &fd, &why),
			 -EISDIR);
	assert_int_equal(store_file_open(f->s, f->cb.id, "d/y", &fd, &why),
			 -ENOENT);
	assert_int_equal(store_file_open(f->s, f->cb.id, "e/y", &fd, &why),
			 -ENOENT);
	assert_int_equal(store_file_open(f->s, f->cb.id, "d/x/y", &fd, &why),
			 -EINVAL);
	assert_int_equal(store_file_open(f->s, f->cb.id, "../x", &fd, &why),
			 -EINVAL);
	assert_int_equal(fd, -1);
	assert_int_equal(store_file_open(f->s, f->cb.id, "/d/x", &fd, &why), 0);
	assert_true(fd >= 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
}

static mode_t mode_of(const char *tree, const char *rel)
{
	char p[2 * PATH_MAX];
	struct stat st;

	snprintf(p, sizeof(p), "%s%s%s", tree, *rel ? "/" : "", rel);
	assert_int_equal(lstat(p, &st), 0);
	return st.st_mode & 07777;
}

/* Sandboxes read the tree: its modes do not depend on the umask. */
static void test_modes_ignore_umask(void **state)
{
	struct fixture *f = *state;
	struct store_codebase cb = { 0 };
	char tree[2 * PATH_MAX], real[PATH_MAX], *p = NULL;
	mode_t old = umask(077);

	assert_int_equal(store_codebase_create(f->s, "m", "o", &cb), 0);
	assert_int_equal(upload_str(f->s, cb.id, "d/e/f", "x"), 0);
	assert_int_equal(store_snapshot(f->s, cb.id, "sb_1", &p), 0);
	assert_int_equal(upload_str(f->s, cb.id, "d/e/g", "y"), 0);
	umask(old);
	assert_non_null(realpath(f->dir, real));
	for (int gen = 0; gen < 2; gen++) {
		snprintf(tree, sizeof(tree), "%s/codebases/%s/gen/%d", real,
			 cb.id, gen);
		assert_int_equal(mode_of(tree, ""), 0755);
		assert_int_equal(mode_of(tree, "d"), 0755);
		assert_int_equal(mode_of(tree, "d/e"), 0755);
		assert_int_equal(mode_of(tree, "d/e/f"), 0644);
	}
	assert_int_equal(mode_of(tree, "d/e/g"), 0644);
	free(p);
	store_codebase_clear(&cb);
}

#define N_THREADS 6
#define N_FILES	  12

struct worker {
	struct fixture *f;
	int idx;
	int failures;
};

static size_t file_len(int t, int i)
{
	return (size_t)(t * 7919 + i * 104729) % 200000;
}

static void fill(char *buf, size_t len, int t, int i)
{
	for (size_t k = 0; k < len; k++)
		buf[k] = (char)('a' + (k + (size_t)t * 3 + (size_t)i) % 26);
}

/* Each thread writes its own files in shared dirs, plus one common path. */
static void *worker_run(void *arg)
{
	struct worker *w = arg;
	char path[64], *buf = calloc(1, 200000);
	const char *why = NULL;

	for (int i = 0; buf && i < N_FILES; i++) {
		size_t len = file_len(w->idx, i);

		fill(buf, len, w->idx, i);
		snprintf(path, sizeof(path), "shared/d%d/t%d-%d", i % 3, w->idx,
			 i);
		if (upload(w->f->s, w->f->cb.id, path, buf, len, 4093,
			   (int64_t)len, NULL, &why) < 0)
			w->failures++;
		if (upload(w->f->s, w->f->cb.id, "common", buf, 10, 3, 10, NULL,
			   &why) < 0)
			w->failures++;
	}
	free(buf);
	return NULL;
}

static void test_concurrent_uploads(void **state)
{
	struct fixture *f = *state;
	struct worker w[N_THREADS];
	pthread_t th[N_THREADS];
	int64_t total = 10;
	char path[64], *want = malloc(200000), *got;
	size_t len;

	assert_non_null(want);
	for (int t = 0; t < N_THREADS; t++) {
		w[t] = (struct worker){ .f = f, .idx = t };
		assert_int_equal(
			pthread_create(&th[t], NULL, worker_run, &w[t]), 0);
	}
	for (int t = 0; t < N_THREADS; t++) {
		assert_int_equal(pthread_join(th[t], NULL), 0);
		assert_int_equal(w[t].failures, 0);
	}
	for (int t = 0; t < N_THREADS; t++) {
		for (int i = 0; i < N_FILES; i++) {
			snprintf(path, sizeof(path), "shared/d%d/t%d-%d", i % 3,
				 t, i);
			fill(want, file_len(t, i), t, i);
			got = download(f->s, f->cb.id, path, &len);
			assert_int_equal(len, file_len(t, i));
			assert_memory_equal(got, want, len);
			free(got);
			total += (int64_t)len;
		}
	}
	free(want);
	expect_totals(f, total, N_THREADS * N_FILES + 1);
	expect_untouched(f, 2);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_small_upload),
		T(test_empty_file),
		T(test_large_upload),
		T(test_replace_keeps_totals),
		T(test_bad_paths),
		T(test_bad_codebase),
		T(test_path_conflicts),
		T(test_conflict_at_commit),
		T(test_announced_size),
		T(test_max_file_size),
		T(test_abort),
		T(test_file_open_kinds),
		T(test_modes_ignore_umask),
		T(test_concurrent_uploads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
