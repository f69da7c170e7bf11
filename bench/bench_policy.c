// SPDX-License-Identifier: Apache-2.0
/*
 * Policy engine benchmarks: compile time for 10 / 100 / 1,000 rules,
 * user-space lookups per second, and the in-kernel walk per 64- and 256-byte
 * path (bpf/policy_test.bpf.c through BPF_PROG_TEST_RUN). Prints medians,
 * ratios and the targets: <= 300 ns per 256-byte path in the kernel, lookup
 * cost flat from 10 to 1,000 rules (within 1.5x).
 *
 *   bench_policy [--quick] [--stride 1|2] [--json FILE]
 *
 * --stride forces the blob format (default: the compiler's choice).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "agentfense/policy.h"
#include "policy_test.h"
#include "policy_test.skel.h"

#define SANDBOX		 7ull
#define NPATHS		 64
#define KERNEL_TARGET_NS 300.0
#define FLAT_TARGET	 1.5

static const int sizes[] = { 10, 100, 1000 };
#define NSIZES 3

struct result {
	int rules;
	double compile_us;
	double lookup_ns;
	double kernel_ns[2]; /* 64- and 256-byte paths */
	struct af_matcher_stats st;
};

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/*
 * A policy of n rules shaped like real ones: agent-safe, then anchored
 * trees, extensions at any depth, directory and file rules, wildcards.
 */
static struct af_rule *make_rules(int n, char (*pats)[48])
{
	const struct af_preset *ps = af_preset_find("agent-safe");
	struct af_rule *r = calloc(n, sizeof(*r));

	for (int i = 0; r && i < n; i++) {
		if (i < (int)ps->n_rules) {
			r[i] = ps->rules[i];
			continue;
		}
		switch (i % 5) {
		case 0:
			snprintf(pats[i], 48, "/src%d/**", i);
			r[i] = (struct af_rule){ .pattern = pats[i],
						 .type = AF_PAT_GLOB,
						 .perm = AF_PERM_WRITE,
						 .priority = 20 };
			break;
		case 1:
			snprintf(pats[i], 48, "*.ext%d", i);
			r[i] = (struct af_rule){ .pattern = pats[i],
						 .type = AF_PAT_GLOB,
						 .perm = AF_PERM_NONE,
						 .priority = 100 };
			break;
		case 2:
			snprintf(pats[i], 48, "/data/set%d/", i);
			r[i] = (struct af_rule){ .pattern = pats[i],
						 .type = AF_PAT_DIRECTORY,
						 .perm = AF_PERM_READ,
						 .priority = 5 };
			break;
		case 3:
			snprintf(pats[i], 48, "/config/file%d.yaml", i);
			r[i] = (struct af_rule){ .pattern = pats[i],
						 .type = AF_PAT_FILE,
						 .perm = AF_PERM_WRITE,
						 .priority = 0 };
			break;
		default:
			snprintf(pats[i], 48, "/pkg/mod%d/*.py", i);
			r[i] = (struct af_rule){ .pattern = pats[i],
						 .type = AF_PAT_GLOB,
						 .perm = AF_PERM_VIEW,
						 .priority = 0 };
		}
	}
	return r;
}

/* A path of exactly len bytes (len >= 16) in a tree like the rules'. */
static void make_path(char *buf, size_t len, int seed)
{
	static const char *const tops[] = { "/src12",	  "/data/set17",
					    "/pkg/mod24", "/lib/python3",
					    "/config",	  "/docs/guide" };
	size_t o = snprintf(buf, len + 1, "%s", tops[seed % 6]);

	while (o + 10 < len)
		o += snprintf(buf + o, len + 1 - o, "/dir%04d", seed++ % 9973);
	o += snprintf(buf + o, len + 1 - o, "/");
	while (o + 3 < len)
		buf[o++] = 'a' + seed++ % 26;
	memcpy(buf + o, ".py", 3);
	buf[len] = '\0';
}

static unsigned stride; /* 0: the compiler's choice */

static int bench_compile(const struct af_policy *p, int reps,
			 struct result *res)
{
	double *v = calloc(reps, sizeof(*v));
	struct af_matcher *m;
	char err[256];

	for (int i = 0; v && i < reps; i++) {
		double t = now_ns();

		if (af_policy_compile_stride(p, stride, &m, err, sizeof(err)) <
		    0) {
			fprintf(stderr, "compile %d rules: %s\n", res->rules,
				err);
			free(v);
			return -1;
		}
		v[i] = (now_ns() - t) / 1e3;
		af_matcher_get_stats(m, &res->st);
		af_matcher_free(m);
	}
	if (!v)
		return -ENOMEM;
	res->compile_us = median(v, reps);
	free(v);
	return 0;
}

static void bench_lookup(const struct af_matcher *m, int rounds,
			 struct result *res)
{
	static char paths[NPATHS][160];
	double v[64];
	volatile unsigned sink = 0;
	const int loops = 2000;

	for (int i = 0; i < NPATHS; i++)
		make_path(paths[i], 20 + (i * 37) % 120, i);
	for (int r = 0; r < rounds; r++) {
		double t = now_ns();

		for (int l = 0; l < loops; l++)
			for (int i = 0; i < NPATHS; i++)
				sink += af_matcher_lookup(m, paths[i], i & 1);
		v[r] = (now_ns() - t) / (loops * NPATHS);
	}
	res->lookup_ns = median(v, rounds);
	(void)sink;
}

struct kernel {
	struct policy_test *skel;
	int inner_fd;
	void *value;
};

static int kernel_open(struct kernel *k)
{
	__u64 key = SANDBOX;

	libbpf_set_print(NULL);
	k->skel = policy_test__open_and_load();
	if (!k->skel)
		return -errno;
	k->inner_fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "af_pm_blob", 4,
				     AF_PM_BLOB_MAX, 1, NULL);
	k->value = calloc(1, AF_PM_BLOB_MAX);
	if (k->inner_fd < 0 || !k->value)
		return -ENOMEM;
	return bpf_map_update_elem(bpf_map__fd(k->skel->maps.af_policies), &key,
				   &k->inner_fd, BPF_ANY);
}

static void kernel_close(struct kernel *k)
{
	if (k->inner_fd > 0)
		close(k->inner_fd);
	policy_test__destroy(k->skel);
	free(k->value);
}

/* Nanoseconds per walk of a len-byte path, the loop's own cost removed. */
static double kernel_walk(struct kernel *k, const struct af_matcher *m,
			  size_t len, int rounds, int reps)
{
	static struct af_pm_test_case tc;
	struct af_pm_bench_args args;
	size_t size;
	const void *blob = af_matcher_blob(m, &size);
	__u32 zero = 0;
	double v[64];

	memset(k->value, 0, AF_PM_BLOB_MAX);
	memcpy(k->value, blob, size);
	if (bpf_map_update_elem(k->inner_fd, &zero, k->value, BPF_ANY))
		return -1;
	make_path((char *)tc.path, len, 3);
	tc.len = len;
	if (bpf_map_update_elem(bpf_map__fd(k->skel->maps.cases), &zero, &tc,
				BPF_ANY))
		return -1;
	for (int r = 0; r < rounds; r++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &args,
			    .ctx_size_in = sizeof(args));

		args = (struct af_pm_bench_args){ .sandbox = SANDBOX,
						  .reps = reps };
		if (bpf_prog_test_run_opts(
			    bpf_program__fd(k->skel->progs.bench_walk),
			    &opts) ||
		    opts.retval)
			return -1;
		v[r] = ((double)args.walk_ns - (double)args.empty_ns) / reps;
	}
	return median(v, rounds);
}

static void print_json(FILE *f, const struct result *res, bool kernel)
{
	fprintf(f, "{\n  \"bench\": \"policy\",\n  \"results\": [\n");
	for (int i = 0; i < NSIZES; i++) {
		const struct result *r = &res[i];

		fprintf(f,
			"    {\"rules\": %d, \"compile_us_p50\": %.1f, "
			"\"lookup_ns_p50\": %.1f, \"lookups_per_s\": %.0f, "
			"\"states\": %u, \"classes\": %u, \"stride\": %u, "
			"\"blob_bytes\": %u",
			r->rules, r->compile_us, r->lookup_ns,
			1e9 / r->lookup_ns, r->st.states, r->st.classes,
			r->st.stride, r->st.blob_bytes);
		if (kernel)
			fprintf(f,
				", \"kernel_ns_64B_p50\": %.1f, "
				"\"kernel_ns_256B_p50\": %.1f",
				r->kernel_ns[0], r->kernel_ns[1]);
		fprintf(f, "}%s\n", i + 1 < NSIZES ? "," : "");
	}
	fprintf(f, "  ],\n  \"lookup_ratio_1000_vs_10\": %.2f\n}\n",
		res[2].lookup_ns / res[0].lookup_ns);
}

static void print_table(const struct result *res, bool kernel)
{
	double flat = res[2].lookup_ns / res[0].lookup_ns;

	printf("%-6s %12s %8s %7s %6s %9s %14s %14s %11s %11s\n", "rules",
	       "compile p50", "states", "classes", "stride", "blob",
	       "lookup p50", "lookups/s", "kern 64B", "kern 256B");
	for (int i = 0; i < NSIZES; i++) {
		const struct result *r = &res[i];

		printf("%-6d %9.1f us %8u %7u %6u %9u %11.1f ns %14.0f",
		       r->rules, r->compile_us, r->st.states, r->st.classes,
		       r->st.stride, r->st.blob_bytes, r->lookup_ns,
		       1e9 / r->lookup_ns);
		if (kernel)
			printf(" %8.1f ns %8.1f ns", r->kernel_ns[0],
			       r->kernel_ns[1]);
		printf("\n");
	}
	printf("user-space lookup, 1000 vs 10 rules: x%.2f (target <= x%.1f: "
	       "%s)\n",
	       flat, FLAT_TARGET, flat <= FLAT_TARGET ? "met" : "MISSED");
	for (int i = 0; kernel && i < NSIZES; i++)
		printf("kernel walk, 256-byte path, %d rules: %.1f ns (target "
		       "<= %.0f ns: %s); 256 vs 64 bytes x%.2f\n",
		       res[i].rules, res[i].kernel_ns[1], KERNEL_TARGET_NS,
		       res[i].kernel_ns[1] <= KERNEL_TARGET_NS ? "met"
							       : "MISSED",
		       res[i].kernel_ns[1] / res[i].kernel_ns[0]);
}

static int usage(const char *me)
{
	fprintf(stderr, "usage: %s [--quick] [--stride 1|2] [--json FILE]\n",
		me);
	return 2;
}

int main(int argc, char **argv)
{
	struct result res[NSIZES] = { 0 };
	struct kernel k = { .inner_fd = -1 };
	bool quick = false, kernel;
	const char *json = NULL;
	int rounds;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			quick = true;
		else if (!strcmp(argv[i], "--json") && i + 1 < argc)
			json = argv[++i];
		else if (!strcmp(argv[i], "--stride") && i + 1 < argc)
			stride = atoi(argv[++i]);
		else
			return usage(argv[0]);
	}
	rounds = quick ? 5 : 15;
	kernel = geteuid() == 0 && kernel_open(&k) == 0;
	if (!kernel)
		printf("SKIP kernel walk: needs root and BPF (%s)\n",
		       geteuid() ? "not root" : "load failed");
	for (int i = 0; i < NSIZES; i++) {
		char(*pats)[48] = calloc(sizes[i], sizeof(*pats));
		struct af_rule *rules = make_rules(sizes[i], pats);
		struct af_policy *p = NULL;
		struct af_matcher *m = NULL;
		char err[256] = "out of memory";

		res[i].rules = sizes[i];
		if (!rules ||
		    af_policy_new(rules, sizes[i], &p, err, sizeof(err)) < 0 ||
		    bench_compile(p, sizes[i] >= 1000 ? 5 : rounds, &res[i]) <
			    0 ||
		    af_policy_compile_stride(p, stride, &m, err, sizeof(err)) <
			    0) {
			fprintf(stderr, "policy of %d rules: %s\n", sizes[i],
				err);
			return 1;
		}
		bench_lookup(m, rounds, &res[i]);
		for (int l = 0; kernel && l < 2; l++)
			res[i].kernel_ns[l] =
				kernel_walk(&k, m, l ? 256 : 64, rounds,
					    quick ? 20000 : 200000);
		af_matcher_free(m);
		af_policy_free(p);
		free(rules);
		free(pats);
	}
	print_table(res, kernel);
	if (json) {
		FILE *f = fopen(json, "w");

		if (!f)
			return perror(json), 1;
		print_json(f, res, kernel);
		fclose(f);
	}
	kernel_close(&k);
	return 0;
}
