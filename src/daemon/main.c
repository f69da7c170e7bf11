// SPDX-License-Identifier: Apache-2.0
/*
 * agentfensed: the AgentFense daemon. Opens the codebase store, reaps what
 * an earlier instance left behind, loads the BPF programs, serves gRPC on
 * loopback and a unix socket, and on SIGTERM/SIGINT stops every sandbox
 * before exiting.
 */
#define LOG_MOD "daemon"
#include <errno.h>
#include <getopt.h>
#include <grpc/grpc.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentfense/api.h"
#include "agentfense/audit.h"
#include "agentfense/log.h"
#include "agentfense/runtime.h"
#include "agentfense/store.h"
#include "agentfense/util.h"

struct options {
	const char *listen;
	const char *unix_path;
	const char *state_dir;
	char init_path[PATH_MAX];
	uint64_t default_timeout_ms;
	uint64_t max_timeout_ms;
	size_t max_output;
	uint64_t tmp_size;
	unsigned max_sandboxes, max_running, max_sessions;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: agentfensed [OPTIONS]\n"
		"  --listen HOST:PORT   TCP address (default 127.0.0.1:9000; "
		"'none' disables)\n"
		"  --unix PATH          unix socket (default "
		"/run/agentfense/agentfensed.sock; 'none' disables)\n"
		"  --state-dir DIR      state directory (default "
		"/var/lib/agentfense)\n"
		"  --init PATH          sandbox init binary (default: "
		"agentfense-init beside this binary)\n"
		"  --default-timeout S  command timeout when none is given "
		"(default 30)\n"
		"  --max-timeout S      largest timeout a client may ask for "
		"(default 86400)\n"
		"  --max-output BYTES   captured output per stream for Exec "
		"(default 1048576)\n"
		"  --tmp-size BYTES     size of each sandbox's /tmp (default "
		"268435456)\n"
		"  --max-sandboxes N    sandboxes kept at once (default 1024)\n"
		"  --max-running N      sandboxes running at once (default 256)\n"
		"  --max-sessions N     active sessions in all (default 1024)\n"
		"  --log-level LEVEL    error, warn, info (default) or debug\n"
		"  -h, --help           this text\n");
}

static int default_init_path(char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return -errno;
	self[n] = '\0';
	if ((size_t)snprintf(out, len, "%s/agentfense-init", dirname(self)) >=
	    len)
		return -ENAMETOOLONG;
	return 0;
}

static int parse_level(const char *s)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(s, names[i]))
			return i;
	return -1;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "unix", required_argument, NULL, 'u' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "init", required_argument, NULL, 'i' },
		{ "default-timeout", required_argument, NULL, 't' },
		{ "max-timeout", required_argument, NULL, 'T' },
		{ "max-output", required_argument, NULL, 'o' },
		{ "tmp-size", required_argument, NULL, 'm' },
		{ "log-level", required_argument, NULL, 'v' },
		{ "max-sandboxes", required_argument, NULL, 'S' },
		{ "max-running", required_argument, NULL, 'R' },
		{ "max-sessions", required_argument, NULL, 'E' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	int c, lvl;

	*o = (struct options){ .listen = "127.0.0.1:9000",
			       .unix_path = "/run/agentfense/agentfensed.sock",
			       .state_dir = "/var/lib/agentfense",
			       .default_timeout_ms = 30000,
			       .max_timeout_ms = 86400000,
			       .max_output = 1 << 20,
			       .tmp_size = 256ull << 20,
			       .max_sandboxes = 1024,
			       .max_running = 256,
			       .max_sessions = 1024 };
	if (default_init_path(o->init_path, sizeof(o->init_path)) < 0)
		o->init_path[0] = '\0';
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l':
			o->listen = strcmp(optarg, "none") ? optarg : NULL;
			break;
		case 'u':
			o->unix_path = strcmp(optarg, "none") ? optarg : NULL;
			break;
		case 's':
			o->state_dir = optarg;
			break;
		case 'i':
			snprintf(o->init_path, sizeof(o->init_path), "%s", optarg);
			break;
		case 't':
			o->default_timeout_ms = strtoull(optarg, NULL, 10) * 1000;
			break;
		case 'T':
			o->max_timeout_ms = strtoull(optarg, NULL, 10) * 1000;
			break;
		case 'o':
			o->max_output = strtoull(optarg, NULL, 10);
			break;
		case 'm':
			o->tmp_size = strtoull(optarg, NULL, 10);
			break;
		case 'S':
			o->max_sandboxes = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'R':
			o->max_running = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'E':
			o->max_sessions = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'v':
			lvl = parse_level(optarg);
			if (lvl < 0) {
				fprintf(stderr, "agentfensed: unknown log level "
						"'%s'\n",
					optarg);
				return -EINVAL;
			}
			af_log_set_level((enum af_log_level)lvl);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc || (!o->listen && !o->unix_path) ||
	    !o->default_timeout_ms || !o->max_timeout_ms || !o->max_output) {
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

/* Before any thread exists, so every thread inherits the mask. */
static void setup_process(sigset_t *stop)
{
	struct rlimit rl;

	sigemptyset(stop);
	sigaddset(stop, SIGTERM);
	sigaddset(stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, stop, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Every sandbox and call holds a few fds. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	umask(022);
}

static int serve(const struct options *o, struct store *store,
		 struct rt_ctx *rt, struct audit *audit, const sigset_t *stop)
{
	struct api_config cfg = {
		.listen_addr = o->listen,
		.unix_path = o->unix_path,
		.state_dir = o->state_dir,
		.store = store,
		.rt = rt,
		.audit = audit,
		.default_timeout_ms = o->default_timeout_ms,
		.max_timeout_ms = o->max_timeout_ms,
		.max_output_bytes = o->max_output,
		.max_sandboxes = o->max_sandboxes,
		.max_running = o->max_running,
		.max_sessions = o->max_sessions,
		.enforcer = "none",
		.enforcer_reason = "no file-permission enforcer is built into "
				   "this version yet",
	};
	struct api_server *srv = NULL;
	int sig, r;

	r = api_server_start(&cfg, &srv);
	if (r < 0)
		return r;
	log_info("ready (pid %d)", getpid());
	do
		sig = sigwaitinfo(stop, NULL);
	while (sig < 0 && errno == EINTR);
	log_info("%s received, shutting down", strsignal(sig));
	api_server_stop(srv);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;
	struct store_config scfg = { 0 };
	struct rt_config rcfg = { 0 };
	struct store *store = NULL;
	struct rt_ctx *rt = NULL;
	struct audit *audit = NULL;
	sigset_t stop;
	int r;

	if (parse_args(argc, argv, &o) < 0)
		return 2;
	if (geteuid() != 0) {
		fprintf(stderr, "agentfensed: must run as root (it creates "
				"namespaces, mounts and cgroups)\n");
		return 1;
	}
	setup_process(&stop);
	r = af_mkdir_p(o.state_dir, 0700);
	if (r < 0) {
		log_errno(r, "state dir %s", o.state_dir);
		return 1;
	}
	grpc_init();
	scfg.state_dir = o.state_dir;
	rcfg.state_dir = o.state_dir;
	rcfg.init_path = o.init_path;
	rcfg.tmp_size_bytes = o.tmp_size;
	r = store_open(&scfg, &store);
	if (r == 0)
		r = rt_ctx_new(&rcfg, &rt);
	if (r == 0)
		r = rt_reconcile(rt);
	if (r == 0) {
		audit_start(rt_sandbox_level(rt), &audit);
		r = serve(&o, store, rt, audit, &stop);
	}
	audit_stop(audit);
	rt_ctx_free(rt);
	store_close(store);
	grpc_shutdown();
	if (r < 0) {
		log_errno(r, "exiting");
		return 1;
	}
	log_info("exited cleanly");
	return 0;
}
