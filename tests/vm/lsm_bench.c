// SPDX-License-Identifier: Apache-2.0
/*
 * `lsm_enforce bench [N] [ROUNDS]`: what the bpf-lsm enforcer costs, as
 * open+close pairs per second, without and with the programs attached.
 *   outside  a process in no sandbox opening a tmpfs file: the price every
 *            task on the host pays (target: <= 100 ns per open)
 *   sandbox  a sandboxed process opening a workspace file, against the
 *            same loop on the same overlay with no programs (target: <=
 *            1.1x the overlay alone)
 * Each figure is the best of ROUNDS rounds of N pairs.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <bpf/bpf.h>

#include "../../src/enforce/enforce_internal.h"
#include "lsm.h"
#include "../bpf/lsm_fixture.h"

extern struct fx_ws *bench_ws;
extern struct fx_cg *bench_cg;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Nanoseconds per open+close of path, n times. */
static double loop(const char *path, long n)
{
	double t0 = now_ns();

	for (long i = 0; i < n; i++) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0)
			return -1;
		close(fd);
	}
	return (now_ns() - t0) / n;
}

/* The same in a child of the sandbox's per-exec cgroup (or not). */
static double child_loop(const char *path, long n, bool sandboxed)
{
	int fds[2], status;
	double ns = -1;
	pid_t pid;

	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		if (sandboxed && fx_cg_join(bench_cg->exec) < 0)
			_exit(1);
		ns = loop(path, n);
		_exit(write(fds[1], &ns, sizeof(ns)) == sizeof(ns) ? 0 : 1);
	}
	close(fds[1]);
	if (pid < 0 || read(fds[0], &ns, sizeof(ns)) != sizeof(ns))
		ns = -1;
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	return ns;
}

struct figures {
	double outside; /* unsandboxed, tmpfs file */
	double ws;	/* sandboxed, workspace file */
};

static void keep_best(struct figures *f, const char *host_file,
		      const char *ws_file, long n)
{
	double a = child_loop(host_file, n, false);
	double b = child_loop(ws_file, n, true);

	if (a > 0 && a < f->outside)
		f->outside = a;
	if (b > 0 && b < f->ws)
		f->ws = b;
}

/* The link this process pinned for af_file_open. */
static int file_open_link(void)
{
	DIR *d = opendir(AF_LSM_PIN_ROOT);
	char prefix[64], path[PATH_MAX];
	struct dirent *de;
	int fd = -1;

	snprintf(prefix, sizeof(prefix), "%s%d-", AF_LSM_PIN_PREFIX,
		 (int)getpid());
	while (d && fd < 0 && (de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		snprintf(path, sizeof(path), "%s/%s/link-af_file_open",
			 AF_LSM_PIN_ROOT, de->d_name);
		fd = bpf_obj_get(path);
	}
	if (d)
		closedir(d);
	return fd;
}

static int file_open_prog(void)
{
	struct bpf_link_info info = { 0 };
	__u32 len = sizeof(info);
	int fd = file_open_link(), r;

	if (fd < 0)
		return -1;
	r = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	return r < 0 ? -1 : bpf_prog_get_fd_by_id(info.prog_id);
}

static int prog_stats(int prog, __u64 *ns, __u64 *cnt)
{
	struct bpf_prog_info info = { 0 };
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(prog, &info, &len) < 0)
		return -1;
	*ns = info.run_time_ns;
	*cnt = info.run_cnt;
	return 0;
}

/* Time spent in af_file_open itself per open, by kernel BPF stats. */
static void prog_time(const char *path, long n, bool sandboxed,
		      double *per_open, double *calls)
{
	int prog = file_open_prog(),
	    stats = bpf_enable_stats(BPF_STATS_RUN_TIME);
	__u64 ns0, c0, ns1, c1;

	*per_open = *calls = -1;
	if (prog >= 0 && stats >= 0 && !prog_stats(prog, &ns0, &c0) &&
	    child_loop(path, n, sandboxed) > 0 &&
	    !prog_stats(prog, &ns1, &c1)) {
		*per_open = (double)(ns1 - ns0) / n;
		*calls = (double)(c1 - c0) / n;
	}
	if (stats >= 0)
		close(stats);
	if (prog >= 0)
		close(prog);
}

int bench_main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 200000;
	int rounds = argc > 2 ? atoi(argv[2]) : 3;
	char host_file[128], ws_file[PATH_MAX], reason[256] = "", err[256] = "";
	struct figures off = { 1e18, 1e18 }, on = { 1e18, 1e18 };
	struct af_matcher *m = fx_matcher();
	double po = -1, pw = -1, co = -1, cw = -1;
	int fd;

	snprintf(host_file, sizeof(host_file), "%s/plain", bench_ws->base);
	fd = open(host_file, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0 || !m)
		return -1;
	close(fd);
	fx_path(bench_ws, "/d_write/clean/a.txt", ws_file, sizeof(ws_file));
	/* Rounds alternate without and with the programs: drift hits both. */
	for (int r = 0; r < rounds; r++) {
		struct bpf_lsm *b = NULL;

		keep_best(&off, host_file, ws_file, n);
		if (bpf_lsm_open(2, &b, reason, sizeof(reason)) < 0 ||
		    bpf_lsm_install(b, bench_cg->id, m, err, sizeof(err)) < 0 ||
		    bpf_lsm_set_workspace(b, bench_cg->id, bench_ws->dev) < 0) {
			printf("FAIL enforcer: %s %s\n", reason, err);
			bpf_lsm_close(b);
			af_matcher_free(m);
			return -1;
		}
		keep_best(&on, host_file, ws_file, n);
		if (r == 0) {
			prog_time(host_file, n / 4, false, &po, &co);
			prog_time(ws_file, n / 4, true, &pw, &cw);
		}
		bpf_lsm_close(b);
	}
	af_matcher_free(m);
	printf("bench: %ld open+close per round, best of %d rounds\n", n,
	       rounds);
	printf("bench: outside a sandbox: %.0f ns -> %.0f ns per open "
	       "(%+.0f ns); af_file_open ran %.0f ns per open (%.1f calls)\n",
	       off.outside, on.outside, on.outside - off.outside, po, co);
	printf("bench: sandboxed, /workspace/d_write/clean/a.txt: %.0f ns "
	       "(overlay alone) -> %.0f ns (%.3fx); af_file_open ran %.0f ns "
	       "per open (%.1f calls)\n",
	       off.ws, on.ws, on.ws / off.ws, pw, cw);
	return 0;
}
