// SPDX-License-Identifier: Apache-2.0
/*
 * Enforcement cost on an open-heavy workload (1M open+close over 1,000
 * files): on the host; inside a sandbox's overlay with no enforcer; and
 * with the enforcer this kernel offers (landlock here, bpf-lsm in the VM).
 * Also the cost per open for a process outside any sandbox while bpf-lsm
 * is loaded (it runs its hooks for every task). Medians of ROUNDS runs.
 *   bench_runtime_enforce OPENLOOP [N] [ROUNDS] [auto|landlock|bpf-lsm]
 *	[audit]
 * With "audit": the price of the audit trail instead, in three enforced
 * sandboxes that differ only in their audit level (not recorded, denials,
 * all), with the source this kernel offers (the bpf-lsm hooks themselves,
 * or the sys_exit trace programs). Prints one JSON object.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentfense/audit.h"
#include "agentfense/enforce.h"
#include "agentfense/policy.h"
#include "agentfense/runtime.h"
#include "agentfense/util.h"

#define FILES 1000
/* Every loop runs on this CPU: a VM's cores need not be alike. */
#define LOOP_CPU 0

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp);
	return v[n / 2];
}

static int make_tree(const char *dir, const char *openloop)
{
	char path[8192];
	int in, out;
	char buf[65536];
	ssize_t k;

	if (af_mkdir_p(dir, 0755) < 0)
		return -1;
	for (int i = 0; i < FILES; i++) {
		snprintf(path, sizeof(path), "%s/f%d", dir, i);
		out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (out < 0 || write(out, "x", 1) != 1)
			return -1;
		close(out);
	}
	snprintf(path, sizeof(path), "%s/openloop", dir);
	in = open(openloop, O_RDONLY);
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (in < 0 || out < 0)
		return -1;
	while ((k = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)k) != k)
			return -1;
	close(in);
	close(out);
	return 0;
}

/* Run the loop on the host; ns per pair. */
static double host_run(const char *openloop, const char *dir, long n)
{
	char cmd[8192];
	FILE *p;
	double v = -1;

	snprintf(cmd, sizeof(cmd), "%s %s %d %ld %d", openloop, dir, FILES, n,
		 LOOP_CPU);
	p = popen(cmd, "r");
	if (!p || fscanf(p, "%lf", &v) != 1)
		v = -1;
	if (p)
		pclose(p);
	return v;
}

static double sandbox_run(struct rt_sandbox *sb, long n)
{
	char cmd[256];
	struct rt_exec_req req = { .command = cmd,
				   .timeout_ms = 600000,
				   .max_output = 4096 };
	struct rt_exec_res res;
	double v = -1;

	snprintf(cmd, sizeof(cmd), "/workspace/openloop /workspace %d %ld %d",
		 FILES, n, LOOP_CPU);
	if (rt_exec(sb, &req, &res) == 0 && res.exit_code == 0 && res.out.data)
		v = atof(res.out.data);
	else
		fprintf(stderr, "sandbox run failed: exit %d %s %s\n",
			res.exit_code, res.message,
			res.err.data ? res.err.data : "");
	rt_exec_res_clear(&res);
	return v;
}

static struct rt_sandbox *start(struct rt_ctx *rt, const char *id,
				const char *snap, const struct af_matcher *m)
{
	struct rt_start_opts o = { .id = id,
				   .snapshot_dir = snap,
				   .matcher = m };
	struct rt_sandbox *sb = NULL;
	char err[512];

	if (rt_sandbox_start(rt, &o, &sb, err, sizeof(err)) < 0) {
		fprintf(stderr, "start %s: %s\n", id, err);
		return NULL;
	}
	return sb;
}

static void stop(struct rt_ctx *rt, struct rt_sandbox *sb, const char *id)
{
	if (!sb)
		return;
	rt_sandbox_stop(sb);
	rt_sandbox_free(sb);
	rt_sandbox_remove(rt, id);
}

/* Host vs overlay alone vs overlay with the enforcer; JSON on stdout. */
static int enforce_bench(struct rt_ctx *rt, struct enf_ctx *enf,
			 const char *openloop, const char *snap,
			 const struct af_matcher *m, long n, int rounds)
{
	struct rt_sandbox *a = start(rt, "sb_benchplain00000", snap, NULL);
	struct rt_sandbox *b = start(rt, "sb_benchenforce000", snap, m);
	double host[16], plain[16], enforced[16], ratio[16];

	for (int i = 0; a && b && i < rounds; i++) {
		host[i] = host_run(openloop, snap, n);
		plain[i] = sandbox_run(a, n);
		enforced[i] = sandbox_run(b, n);
		/* Paired: the host's speed drifts between rounds. */
		ratio[i] = enforced[i] / plain[i];
	}
	printf("{\"n\": %ld, \"rounds\": %d, \"enforcer\": \"%s\", "
	       "\"host_ns\": %.1f, \"overlay_ns\": %.1f, \"enforced_ns\": "
	       "%.1f, \"enforced_vs_overlay\": %.3f}\n",
	       n, rounds, enf_name(enf), a && b ? median(host, rounds) : -1,
	       a && b ? median(plain, rounds) : -1,
	       a && b ? median(enforced, rounds) : -1,
	       a && b ? median(ratio, rounds) : -1);
	stop(rt, a, "sb_benchplain00000");
	stop(rt, b, "sb_benchenforce000");
	return a && b ? 0 : 1;
}

#define AUDIT_IDS 3

/* Loops in sandboxes alike but for their audit level; JSON on stdout. */
static int audit_bench(struct rt_ctx *rt, struct enf_ctx *enf,
		       const char *state, const char *snap,
		       const struct af_matcher *m, long n, int rounds)
{
	static const char *const ids[AUDIT_IDS] = { "sb_benchauditoff00",
						    "sb_benchauditden00",
						    "sb_benchauditall00" };
	struct audit_config ac = { .state_dir = state,
				   .sandbox_cg_level = rt_sandbox_level(rt),
				   .enf = enf,
				   .max_file_bytes = 64ull << 20,
				   .keep_files = 2,
				   .ringbuf_bytes = 8u << 20 }; /* daemon's */
	struct rt_sandbox *sb[AUDIT_IDS] = { 0 };
	double v[AUDIT_IDS][16];
	struct audit_stats st = { 0 };
	struct audit *a = NULL;
	bool ok = audit_start(&ac, &a) == 0 &&
		  strcmp(audit_source(a), "none") != 0;

	if (!ok)
		fprintf(stderr, "no audit source: %s\n",
			a ? audit_source_reason(a) : "audit_start failed");

	for (int k = 0; ok && k < AUDIT_IDS; k++) {
		sb[k] = start(rt, ids[k], snap, m);
		ok = sb[k] && sandbox_run(sb[k], n / 10) > 0; /* warm-up */
		if (ok && k > 0)
			ok = audit_sandbox_start(
				     a, ids[k], rt_sandbox_cgroup_id(sb[k]),
				     rt_sandbox_workspace_dev(sb[k]),
				     k == 1 ? AUDIT_LEVEL_DENIED
					    : AUDIT_LEVEL_ALL) == 0;
	}
	for (int i = 0; ok && i < rounds; i++)
		for (int k = 0; k < AUDIT_IDS; k++)
			v[k][i] = sandbox_run(sb[(k + i) % AUDIT_IDS], n);
	if (ok) {
		/* Rotated order: v[k][i] ran sandbox (k + i) % 3. */
		double by[AUDIT_IDS][16];

		for (int i = 0; i < rounds; i++)
			for (int k = 0; k < AUDIT_IDS; k++)
				by[(k + i) % AUDIT_IDS][i] = v[k][i];
		sleep(1); /* let the consumer catch up before counting */
		audit_get_stats(a, NULL, &st);
		printf("{\"n\": %ld, \"rounds\": %d, \"enforcer\": \"%s\", "
		       "\"source\": \"%s\", \"off_ns\": %.1f, "
		       "\"denied_ns\": %.1f, \"all_ns\": %.1f, "
		       "\"recorded\": %llu, \"lost\": %llu}\n",
		       n, rounds, enf_name(enf), audit_source(a),
		       median(by[0], rounds), median(by[1], rounds),
		       median(by[2], rounds), (unsigned long long)st.recorded,
		       (unsigned long long)st.dropped_kernel);
		audit_stats_clear(&st);
	}
	for (int k = 0; k < AUDIT_IDS; k++) {
		if (sb[k] && k > 0) {
			audit_sandbox_stop(a, ids[k]);
			audit_sandbox_destroyed(a, ids[k]);
		}
		stop(rt, sb[k], ids[k]);
	}
	audit_stop(a);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *openloop = argc > 1 ? argv[1] : NULL;
	long n = argc > 2 ? atol(argv[2]) : 1000000;
	int rounds = argc > 3 ? atoi(argv[3]) : 3;
	enum enf_mode mode = ENF_MODE_AUTO;
	char state[] = "/tmp/af-bench-enforce.XXXXXX", snap[4200], init[4096];
	struct rt_config cfg = { 0 };
	struct rt_ctx *rt = NULL;
	struct enf_ctx *enf = NULL;
	struct af_policy *pol = NULL;
	struct af_matcher *m = NULL;
	const char *presets[] = { "read-only" };
	char err[512];
	int r;

	if (!openloop || rounds < 1 || rounds > 16 ||
	    (argc > 4 && enf_mode_parse(argv[4], &mode) < 0)) {
		fprintf(stderr, "usage: bench_runtime_enforce OPENLOOP [N] "
				"[ROUNDS] [MODE] [audit]\n");
		return 2;
	}
	if (!mkdtemp(state))
		return 1;
	snprintf(snap, sizeof(snap), "%s/snap", state);
	snprintf(init, sizeof(init), "%s", argv[0]);
	*strrchr(init, '/') = '\0';
	strcat(init, "/../src/agentfense-init");
	cfg.state_dir = state;
	cfg.init_path = init;
	if (make_tree(snap, openloop) < 0 || rt_ctx_new(&cfg, &rt) < 0 ||
	    enf_ctx_new(mode, rt_sandbox_level(rt), &enf, err, sizeof(err)) <
		    0 ||
	    af_policy_new_with_presets(presets, 1, NULL, 0, &pol, err,
				       sizeof(err)) < 0 ||
	    af_policy_compile(pol, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_runtime_enforce: set-up failed: %s\n",
			err);
		return 1;
	}
	rt_set_enforcer(rt, enf);
	r = argc > 5 && strcmp(argv[5], "audit") == 0
		    ? audit_bench(rt, enf, state, snap, m, n, rounds)
		    : enforce_bench(rt, enf, openloop, snap, m, n, rounds);
	af_matcher_free(m);
	af_policy_free(pol);
	rt_ctx_free(rt);
	enf_ctx_free(enf);
	af_rm_rf(state);
	return r;
}
