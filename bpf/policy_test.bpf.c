// SPDX-License-Identifier: GPL-2.0
/*
 * The matcher walk in the kernel, run with BPF_PROG_TEST_RUN: proves the
 * verifier accepts bpf/policy_match.h and lets tests and benches compare
 * in-kernel answers with user space. The maps are the production layout:
 * a HASH_OF_MAPS keyed by the sandbox's cgroup id, each value a one-entry
 * ARRAY holding that sandbox's blob.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "policy_match.h"
#include "policy_test.h"

char LICENSE[] SEC("license") = "GPL";

/*
 * Sizes rather than BTF types: clang emits an inner map's value type as a
 * forward declaration only, which libbpf cannot size.
 */
struct af_pm_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, AF_PM_BLOB_MAX);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, AF_PM_TEST_SANDBOXES);
	__type(key, __u64);
	__array(values, struct af_pm_inner);
} af_policies SEC(".maps");

/* Test input and output; mmap()ed by user space. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AF_PM_TEST_CASES);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct af_pm_test_case);
} cases SEC(".maps");

struct run_ctx {
	const __u8 *blob;
	__u32 done;
	__u32 info;
	struct af_pm_test_case *tc;
};

static const __u8 *sandbox_blob(__u64 sandbox)
{
	__u32 zero = 0;
	void *inner = bpf_map_lookup_elem(&af_policies, &sandbox);

	if (!inner)
		return NULL;
	return bpf_map_lookup_elem(inner, &zero);
}

static long run_case(__u32 i, void *ctx)
{
	struct run_ctx *c = ctx;
	struct af_pm_test_case *tc;
	__u32 k = i;

	tc = bpf_map_lookup_elem(&cases, &k);
	if (!tc)
		return 1;
	tc->info = af_pm_walk(c->blob, tc->path, 0, tc->len);
	c->done++;
	return 0;
}

SEC("syscall")
int run_cases(struct af_pm_test_args *args)
{
	struct run_ctx c = { .blob = sandbox_blob(args->sandbox) };
	__u32 n = args->ncases;

	if (!c.blob)
		return -1;
	if (n > AF_PM_TEST_CASES)
		n = AF_PM_TEST_CASES;
	bpf_loop(n, run_case, &c, 0);
	args->done = c.done;
	return 0;
}

static long bench_once(__u32 i, void *ctx)
{
	struct run_ctx *c = ctx;

	c->info ^= af_pm_walk(c->blob, c->tc->path, 0, c->tc->len);
	return 0;
}

static long bench_empty(__u32 i, void *ctx)
{
	struct run_ctx *c = ctx;

	c->info ^= i;
	return 0;
}

SEC("syscall")
int bench_walk(struct af_pm_bench_args *args)
{
	struct run_ctx c = { .blob = sandbox_blob(args->sandbox) };
	__u32 k = args->index;
	__u64 t0;

	c.tc = bpf_map_lookup_elem(&cases, &k);
	if (!c.blob || !c.tc)
		return -1;
	t0 = bpf_ktime_get_ns();
	bpf_loop(args->reps, bench_once, &c, 0);
	args->walk_ns = bpf_ktime_get_ns() - t0;
	args->info = c.info;
	t0 = bpf_ktime_get_ns();
	bpf_loop(args->reps, bench_empty, &c, 0);
	args->empty_ns = bpf_ktime_get_ns() - t0;
	return 0;
}
