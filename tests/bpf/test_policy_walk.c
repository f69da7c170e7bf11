// SPDX-License-Identifier: Apache-2.0
/*
 * The matcher walk in the kernel (bpf/policy_test.bpf.c, BPF_PROG_TEST_RUN):
 * loading it proves the verifier accepts bpf/policy_match.h; then the same
 * generated cases as tests/unit/test_policy_diff.c (same seed) go through
 * the kernel, whose answers must equal both the user-space walk of the same
 * blob and the reference matcher. Plus presets, long paths and chunk edges.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agentfense/policy.h"
#include "policy_test.h"
#include "policy_test.skel.h"

#include "../unit/test_policy_gen.h"
#include "../unit/test_policy_ref.h"

#define DIFF_SEED  0x9e3779b97f4a7c15ull /* as test_policy_diff.c */
#define DIFF_SETS  4800
#define DIFF_PATHS 24
#define SANDBOX	   42ull

static int failures;

#define CHECK(cond, ...)                                                     \
	({                                                                   \
		bool _ok = (cond);                                           \
		if (!_ok) {                                                  \
			failures++;                                          \
			fprintf(stderr, "FAIL %s:%d: ", __func__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
		}                                                            \
		_ok;                                                         \
	})

struct env {
	struct policy_test *skel;
	int inner_fd;
	struct af_pm_test_case *cases; /* mmap of the cases map */
	uint8_t *value;		       /* AF_PM_BLOB_MAX staging buffer */
	size_t loaded;		       /* bytes of the last blob */
};

static int print_libbpf(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, ap);
}

static int setup(struct env *e)
{
	__u64 key = SANDBOX;
	int outer, err;

	libbpf_set_print(print_libbpf);
	e->skel = policy_test__open_and_load();
	if (!CHECK(e->skel, "load policy_test.bpf.o: %s", strerror(errno)))
		return -1;
	e->inner_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "af_pm_blob", 4,
				     AF_PM_BLOB_MAX, 1, NULL);
	if (!CHECK(e->inner_fd >= 0, "create blob map: %s", strerror(errno)))
		return -1;
	outer = bpf_map__fd(e->skel->maps.af_policies);
	err = bpf_map_update_elem(outer, &key, &e->inner_fd, BPF_ANY);
	if (!CHECK(!err, "install blob map: %s", strerror(errno)))
		return -1;
	e->cases = mmap(NULL, AF_PM_TEST_CASES * sizeof(*e->cases),
			PROT_READ | PROT_WRITE, MAP_SHARED,
			bpf_map__fd(e->skel->maps.cases), 0);
	if (!CHECK(e->cases != MAP_FAILED, "mmap cases: %s", strerror(errno)))
		return -1;
	e->value = calloc(1, AF_PM_BLOB_MAX);
	return CHECK(e->value, "out of memory") ? 0 : -1;
}

static void teardown(struct env *e)
{
	if (e->cases && e->cases != MAP_FAILED)
		munmap(e->cases, AF_PM_TEST_CASES * sizeof(*e->cases));
	if (e->inner_fd > 0)
		close(e->inner_fd);
	policy_test__destroy(e->skel);
	free(e->value);
}

static int load_blob(struct env *e, const struct af_matcher *m)
{
	size_t size;
	const void *blob = af_matcher_blob(m, &size);
	__u32 zero = 0;

	memset(e->value, 0, e->loaded);
	memcpy(e->value, blob, size);
	e->loaded = size;
	return bpf_map_update_elem(e->inner_fd, &zero, e->value, BPF_ANY);
}

static int set_case(struct env *e, int i, const char *path, size_t len)
{
	if (len > AF_PM_PATH_MAX)
		len = AF_PM_PATH_MAX + 1; /* the walk must refuse it */
	else
		memcpy(e->cases[i].path, path, len);
	e->cases[i].len = len;
	e->cases[i].info = 0xdead;
	return 0;
}

static int run(struct env *e, int n)
{
	struct af_pm_test_args args = { .sandbox = SANDBOX, .ncases = n };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args,
		    .ctx_size_in = sizeof(args));
	int err = bpf_prog_test_run_opts(
		bpf_program__fd(e->skel->progs.run_cases), &opts);

	if (!CHECK(!err && opts.retval == 0 && args.done == (__u32)n,
		   "test run: err %d retval %d done %u", err, opts.retval,
		   args.done))
		return -1;
	return 0;
}

static __u32 user_info(const struct af_matcher *m, const char *path, size_t len)
{
	size_t size;

	return af_pm_walk(af_matcher_blob(m, &size), (const __u8 *)path, 0,
			  len);
}

struct diff_stats {
	long sets;
	long cases[2]; /* stride 2, stride 1 */
};

/* The kernel's answers for paths under m: user space's, the reference's. */
static void diff_paths(struct env *e, const struct ref_policy *rp,
		       const struct af_matcher *m, char (*paths)[256],
		       const int *lens, long *count)
{
	for (int k = 0; k < DIFF_PATHS; k++)
		set_case(e, k, paths[k], lens[k]);
	if (!CHECK(!load_blob(e, m), "load blob: %s", strerror(errno)) ||
	    run(e, DIFF_PATHS) < 0)
		return;
	for (int k = 0; k < DIFF_PATHS && failures < 10; k++) {
		__u32 info = e->cases[k].info;
		const char *path = paths[k];
		int len = lens[k];

		CHECK(info == user_info(m, path, len),
		      "%s: kernel %#x, user space %#x", path, info,
		      user_info(m, path, len));
		CHECK(af_pm_level(info, 1) ==
				      (__u32)ref_level(rp, path, len, true) &&
			      af_pm_floor(info) ==
				      (__u32)ref_floor(rp, path, len) &&
			      (len == 1 ||
			       af_pm_level(info, 0) ==
				       (__u32)ref_level(rp, path, len, false)),
		      "%s: kernel info %#x disagrees with the reference", path,
		      info);
		++*count;
	}
}

static void diff_set(struct env *e, struct diff_stats *st)
{
	static struct ref_policy rp;
	char paths[DIFF_PATHS][256];
	int lens[DIFF_PATHS];
	struct gen_rules g;
	struct af_policy *p = NULL;
	struct af_matcher *m[2] = { NULL, NULL };
	char err[256];
	bool is_dir;

	gen_rule_set(&g);
	/* Same draws as test_policy_diff.c, valid sets only. */
	if (ref_policy_init(&rp, g.r, g.n) < 0 ||
	    af_policy_new(g.r, g.n, &p, err, sizeof(err)) < 0)
		return;
	for (int k = 0; k < DIFF_PATHS; k++)
		lens[k] = gen_path(paths[k], &is_dir);
	for (int s = 0; s < 2; s++) {
		if (!CHECK(!af_policy_compile_stride(p, 2 - s, &m[s], err,
						     sizeof(err)),
			   "%s", err))
			break;
		diff_paths(e, &rp, m[s], paths, lens, &st->cases[s]);
	}
	st->sets++;
	af_matcher_free(m[0]);
	af_matcher_free(m[1]);
	af_policy_free(p);
}

static void test_differential(struct env *e)
{
	struct diff_stats st = { 0 };
	bool full;
	int sets = gen_sets(DIFF_SETS, &full);
	long want = full ? 100000 : 1;

	gen_state = DIFF_SEED;
	for (int i = 0; i < sets && failures < 10; i++)
		diff_set(e, &st);
	printf("bpf differential: %ld (rule set, path) cases over %ld rule "
	       "sets through the in-kernel walk (stride 2), and %ld with "
	       "stride 1, seed %#llx\n",
	       st.cases[0], st.sets, st.cases[1],
	       (unsigned long long)DIFF_SEED);
	CHECK(st.cases[0] >= want && st.cases[1] >= want,
	      "only %ld and %ld cases", st.cases[0], st.cases[1]);
}

static struct af_matcher *preset_matcher(const char *name)
{
	const char *names[] = { name };
	struct af_policy *p = NULL;
	struct af_matcher *m = NULL;
	char err[256];

	if (!CHECK(!af_policy_new_with_presets(names, 1, NULL, 0, &p, err,
					       sizeof(err)),
		   "%s", err))
		return NULL;
	CHECK(!af_policy_compile(p, &m, err, sizeof(err)), "%s", err);
	af_policy_free(p);
	return m;
}

static void test_agent_safe(struct env *e)
{
	static const struct {
		const char *path;
		int is_dir;
		__u32 level;
	} want[] = {
		{ "/secrets/token.txt", 0, AF_PERM_NONE },
		{ "/a/b/secrets/c/d.txt", 0, AF_PERM_NONE },
		{ "/.git/config", 0, AF_PERM_NONE },
		{ "/sub/.git/HEAD", 0, AF_PERM_NONE },
		{ "/.env", 0, AF_PERM_NONE },
		{ "/app/.env.local", 0, AF_PERM_NONE },
		{ "/deep/x/server.key", 0, AF_PERM_NONE },
		{ "/certs/a.pem", 0, AF_PERM_NONE },
		{ "/credentials.json", 0, AF_PERM_NONE },
		{ "/src/main.py", 0, AF_PERM_READ },
		{ "/output/r.txt", 0, AF_PERM_WRITE },
		{ "/tmp/x", 0, AF_PERM_WRITE },
		{ "/output", 1, AF_PERM_WRITE },
		{ "/", 1, AF_PERM_VIEW }, /* the everything glob needs a name */
	};
	struct af_matcher *m = preset_matcher("agent-safe");
	int n = sizeof(want) / sizeof(want[0]);

	if (!m || !CHECK(!load_blob(e, m), "load blob"))
		goto out;
	for (int i = 0; i < n; i++)
		set_case(e, i, want[i].path, strlen(want[i].path));
	if (run(e, n) < 0)
		goto out;
	for (int i = 0; i < n; i++)
		CHECK(af_pm_level(e->cases[i].info, want[i].is_dir) ==
			      want[i].level,
		      "agent-safe %s: kernel says %u, want %u", want[i].path,
		      af_pm_level(e->cases[i].info, want[i].is_dir),
		      want[i].level);
out:
	af_matcher_free(m);
}

/* A path of len bytes: "/d/d/.../name" with the last name chosen. */
static size_t long_path(char *buf, size_t len, const char *last)
{
	size_t o = 0, tail = strlen(last) + 1;

	while (o + 2 + tail <= len) {
		buf[o++] = '/';
		buf[o++] = 'd';
	}
	while (o + tail < len)
		buf[o++] = 'd'; /* stretch the last directory name */
	buf[o++] = '/';
	memcpy(buf + o, last, tail - 1);
	return o + tail - 1;
}

/*
 * Long paths and every length around the chunk size: kernel == user space
 * == explain; over PATH_MAX or malformed paths fail closed.
 */
static void test_lengths(struct env *e)
{
	static const size_t lens[] = { 2,   3,	  63,	64,   65,  66,
				       127, 128,  129,	130,  255, 256,
				       257, 1000, 4094, 4095, 4096 };
	static char buf[AF_PM_PATH_MAX + 16];
	struct af_matcher *m = preset_matcher("agent-safe");
	int n = sizeof(lens) / sizeof(lens[0]), k = 0;
	struct af_policy *p = NULL;
	const char *names[] = { "agent-safe" };
	char err[256];

	if (!m || !CHECK(!load_blob(e, m), "load blob") ||
	    !CHECK(!af_policy_new_with_presets(names, 1, NULL, 0, &p, err,
					       sizeof(err)),
		   "%s", err))
		goto out;
	for (int i = 0; i < n; i++) {
		size_t len = long_path(buf, lens[i], i % 2 ? "x.key" : "a.py");

		set_case(e, k++, buf, len);
	}
	set_case(e, k++, "src/main.py", 11); /* no leading '/' */
	set_case(e, k++, "", 0);
	set_case(e, k++, buf, AF_PM_PATH_MAX + 1);
	if (run(e, k) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		size_t len = long_path(buf, lens[i], i % 2 ? "x.key" : "a.py");
		__u32 info = e->cases[i].info;
		enum af_perm want = i % 2 ? AF_PERM_NONE : AF_PERM_READ;

		buf[len] = '\0';
		CHECK(info == user_info(m, buf, len) &&
			      af_pm_level(info, 0) == want,
		      "length %zu: kernel %#x, user %#x, want level %u", len,
		      info, user_info(m, buf, len), want);
		if (len < AF_PM_PATH_MAX)
			CHECK(af_policy_explain(p, buf, false, NULL) == want,
			      "length %zu: explain disagrees", len);
	}
	for (int i = n; i < k; i++)
		CHECK(e->cases[i].info == AF_PM_INFO_NONE,
		      "malformed case %d: info %#x, want none", i - n,
		      e->cases[i].info);
out:
	af_policy_free(p);
	af_matcher_free(m);
}

static void report_prog(struct env *e)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);
	int fd = bpf_program__fd(e->skel->progs.run_cases);

	if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
		printf("bpf: verifier accepted the walk: run_cases %u "
		       "instructions, %u bytes jited\n",
		       info.xlated_prog_len / 8, info.jited_prog_len);
}

int main(void)
{
	struct env e = { .inner_fd = -1 };

	if (geteuid() != 0) {
		printf("SKIP: loading BPF programs needs root\n");
		return 0;
	}
	if (setup(&e) < 0) {
		teardown(&e);
		return 1;
	}
	report_prog(&e);
	test_agent_safe(&e);
	test_lengths(&e);
	test_differential(&e);
	teardown(&e);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
