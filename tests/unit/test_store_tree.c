// SPDX-License-Identifier: Apache-2.0
/* Listing a tree, and symlinks planted in a tree never being followed. */
#include "test_store_helpers.h"

static void upload_tree(struct fixture *f)
{
	assert_int_equal(upload_str(f->s, f->cb.id, "README.md", "hello"), 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "src/main.py", "pass\n"),
			 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "src/pkg/util.py", "u"), 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "src/a.txt", "aa"), 0);
	assert_int_equal(upload_str(f->s, f->cb.id, "z/y/x", "xyz"), 0);
}

/* paths joined by ',' with a trailing '/' on directories. */
static char *join(struct store_file_info *fi, size_t n)
{
	char *out = calloc(1, 4096);

	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		const char *slash = strrchr(fi[i].path, '/');

		assert_string_equal(fi[i].name, slash ? slash + 1 : fi[i].path);
		assert_true(fi[i].path[0] != '/');
		assert_true(fi[i].modified_at_ns > 0);
		snprintf(out + strlen(out), 4096 - strlen(out), "%s%s%s",
			 i ? "," : "", fi[i].path, fi[i].is_dir ? "/" : "");
	}
	return out;
}

static char *list(struct fixture *f, const char *path, bool recursive, int *r)
{
	struct store_file_info *fi = NULL;
	const char *why = NULL;
	size_t n = 0;
	char *s;

	*r = store_list_files(f->s, f->cb.id, path, recursive, &fi, &n, &why);
	if (*r < 0) {
		assert_null(fi);
		assert_int_equal(n, 0);
		return NULL;
	}
	s = join(fi, n);
	store_file_infos_free(fi, n);
	return s;
}

static void expect_list(struct fixture *f, const char *path, bool recursive,
			const char *want)
{
	int r;
	char *got = list(f, path, recursive, &r);

	assert_int_equal(r, 0);
	assert_string_equal(got, want);
	free(got);
}

static void test_list(void **state)
{
	struct fixture *f = *state;

	expect_list(f, "", false, "");
	upload_tree(f);
	expect_list(f, "", false, "README.md,src/,z/");
	expect_list(f, "/", false, "README.md,src/,z/");
	expect_list(f, "src", false, "src/a.txt,src/main.py,src/pkg/");
	expect_list(f, "/src", true,
		    "src/a.txt,src/main.py,src/pkg/,src/pkg/util.py");
	expect_list(f, "", true,
		    "README.md,src/,src/a.txt,src/main.py,src/pkg/,"
		    "src/pkg/util.py,z/,z/y/,z/y/x");
	/* A file lists as itself. */
	expect_list(f, "src/pkg/util.py", false, "src/pkg/util.py");
	expect_list(f, "README.md", true, "README.md");
}

static void test_list_sizes(void **state)
{
	struct fixture *f = *state;
	struct store_file_info *fi = NULL;
	const char *why = NULL;
	size_t n = 0;

	upload_tree(f);
	assert_int_equal(
		store_list_files(f->s, f->cb.id, "src", false, &fi, &n, &why),
		0);
	assert_int_equal(n, 3);
	assert_int_equal(fi[0].size, 2);
	assert_false(fi[0].is_dir);
	assert_int_equal(fi[1].size, 5);
	assert_true(fi[2].is_dir);
	assert_string_equal(fi[2].name, "pkg");
	store_file_infos_free(fi, n);
}

static void test_list_errors(void **state)
{
	struct fixture *f = *state;
	int r;

	upload_tree(f);
	assert_null(list(f, "nope", false, &r));
	assert_int_equal(r, -ENOENT);
	assert_null(list(f, "README.md/x", false, &r));
	assert_int_equal(r, -EINVAL);
	assert_null(list(f, "../", true, &r));
	assert_int_equal(r, -EINVAL);
	assert_null(list(f, "src//pkg", true, &r));
	assert_int_equal(r, -EINVAL);
}

/* Outside the tree: a directory with a secret and a file to overwrite. */
struct outside {
	char dir[64];
	char secret[128];
};

static void plant(struct fixture *f, struct outside *o)
{
	char g0[PATH_MAX], p[PATH_MAX + 16];
	int fd;

	snprintf(o->dir, sizeof(o->dir), "/tmp/af-outside.XXXXXX");
	assert_non_null(mkdtemp(o->dir));
	/* Removed by the teardown even when an assertion fails. */
	memcpy(f->outside, o->dir, sizeof(f->outside));
	snprintf(o->secret, sizeof(o->secret), "%s/secret", o->dir);
	fd = open(o->secret, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(af_write_full(fd, "TOPSECRET", 9), 0);
	close(fd);

	assert_int_equal(upload_str(f->s, f->cb.id, "ok/file", "fine"), 0);
	gen_path(f, 0, g0, sizeof(g0));
	snprintf(p, sizeof(p), "%s/evil", g0);
	assert_int_equal(symlink(o->dir, p), 0);
	snprintf(p, sizeof(p), "%s/ok/link", g0);
	assert_int_equal(symlink(o->secret, p), 0);
}

static void check_outside(struct outside *o)
{
	char *text = slurp(o->secret);

	/* The planted targets are untouched, and nothing new appeared. */
	assert_non_null(text);
	assert_string_equal(text, "TOPSECRET");
	free(text);
	assert_int_equal(count_entries(o->dir), 1);
}

static void test_symlink_download(void **state)
{
	struct fixture *f = *state;
	struct outside o;
	const char *why = NULL;
	int fd = -1;

	plant(f, &o);
	assert_int_equal(
		store_file_open(f->s, f->cb.id, "evil/secret", &fd, &why),
		-EINVAL);
	assert_non_null(strstr(why, "symbolic link"));
	why = NULL;
	assert_int_equal(store_file_open(f->s, f->cb.id, "ok/link", &fd, &why),
			 -EINVAL);
	assert_non_null(strstr(why, "symbolic link"));
	assert_int_equal(store_file_open(f->s, f->cb.id, "evil", &fd, &why),
			 -EINVAL);
	assert_int_equal(fd, -1);
	check_outside(&o);
}

static void test_symlink_upload(void **state)
{
	struct fixture *f = *state;
	struct store_upload *u = NULL;
	struct outside o;
	const char *why = NULL;

	plant(f, &o);
	assert_int_equal(upload_str(f->s, f->cb.id, "evil/secret", "PWNED"),
			 -EINVAL);
	assert_int_equal(upload_str(f->s, f->cb.id, "evil/new/file", "PWNED"),
			 -EINVAL);
	assert_int_equal(upload_str(f->s, f->cb.id, "ok/link", "PWNED"),
			 -EINVAL);
	assert_int_equal(upload_str(f->s, f->cb.id, "evil", "PWNED"), -EINVAL);
	/* A symlink that appears after begin is caught at commit. */
	assert_int_equal(
		store_upload_begin(f->s, f->cb.id, "late/x", 0, &u, &why), 0);
	{
		char g0[PATH_MAX], p[PATH_MAX + 16];

		gen_path(f, 0, g0, sizeof(g0));
		snprintf(p, sizeof(p), "%s/late", g0);
		assert_int_equal(symlink(o.dir, p), 0);
	}
	assert_int_equal(store_upload_write(u, "PWNED", 5), 0);
	assert_int_equal(store_upload_commit(u, NULL, &why), -EINVAL);
	check_outside(&o);
}

static void test_symlink_listing(void **state)
{
	struct fixture *f = *state;
	struct outside o;
	int r;

	plant(f, &o);
	/* Listed neither as entries nor followed into. */
	expect_list(f, "", true, "ok/,ok/file");
	assert_null(list(f, "evil", false, &r));
	assert_int_equal(r, -EINVAL);
	assert_null(list(f, "evil/secret", false, &r));
	assert_int_equal(r, -EINVAL);
	check_outside(&o);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_list),		T(test_list_sizes),
		T(test_list_errors),	T(test_symlink_download),
		T(test_symlink_upload), T(test_symlink_listing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
