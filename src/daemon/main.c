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
#include "agentfense/cleanup.h"
#include "agentfense/enforce.h"
#include "agentfense/log.h"
#include "agentfense/runtime.h"
#include "agentfense/store.h"
#include "agentfense/util.h"

/* Sandbox resource limits (0: none); long options only. */
struct limit_opts {
	uint64_t default_memory, max_memory;
	uint64_t default_pids, max_pids;
	uint64_t default_cpu_quota, max_cpu_quota;
	uint64_t max_delta;
	unsigned given; /* bit (option - OPT_DEFAULT_MEMORY) per flag given */
};

enum {
	OPT_DEFAULT_MEMORY = 256,
	OPT_MAX_MEMORY,
	OPT_DEFAULT_PIDS,
	OPT_MAX_PIDS,
	OPT_DEFAULT_CPU_QUOTA,
	OPT_MAX_CPU_QUOTA,
	OPT_MAX_DELTA,
	OPT_AUDIT,
	OPT_AUDIT_FILE_SIZE,
	OPT_AUDIT_KEEP,
	OPT_AUDIT_RETENTION,
	OPT_AUDIT_RINGBUF,
};

struct options {
	const char *listen;
	const char *unix_path;
	const char *state_dir;
	char init_path[PATH_MAX];
	char idle_path[PATH_MAX];
	const char *docker_host;
	uint64_t default_timeout_ms;
	uint64_t max_timeout_ms;
	size_t max_output;
	uint64_t tmp_size;
	uint64_t max_file_size, max_upload_size; /* codebase uploads */
	unsigned max_sandboxes, max_running, max_sessions;
	struct limit_opts lim;
	enum enf_mode enforcer;
	struct audit_config audit;
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
		"  --max-file-size B    largest file a codebase upload may "
		"hold (default 1G)\n"
		"  --max-upload-size B  largest content of one bulk upload "
		"(default 4G)\n"
		"  --max-sandboxes N    sandboxes kept at once (default 1024)\n"
		"  --max-running N      sandboxes running at once (default "
		"256)\n"
		"  --max-sessions N     active sessions in all (default 1024)\n"
		"  --enforcer E         auto (default), bpf-lsm or landlock\n"
		"  --docker-host URL    Docker Engine socket for docker "
		"sandboxes (default\n"
		"                       $DOCKER_HOST, else "
		"unix:///var/run/docker.sock)\n"
		"  --idle PATH          pid 1 of docker sandboxes (default: "
		"agentfense-idle\n"
		"                       beside this binary)\n"
		"Sandbox limits (0: none; sizes take K, M, G suffixes):\n"
		"  --default-memory B   memory limit when a sandbox asks for "
		"none (default 0)\n"
		"  --max-memory B       largest memory limit a sandbox may ask "
		"for (default 0)\n"
		"  --default-pids N     process limit by default (default "
		"1024)\n"
		"  --max-pids N         largest process limit (default 0)\n"
		"  --default-cpu-quota US  CPU µs per 100 ms by default "
		"(default 0)\n"
		"  --max-cpu-quota US   largest CPU quota (default 0)\n"
		"  --max-delta B        cap on each sandbox's copy-on-write "
		"delta (default 1G)\n"
		"Audit trail (logs in STATE/audit, docs/afctl-audit.md):\n"
		"  --audit on|off       record sandboxed file operations "
		"(default on)\n"
		"  --audit-file-size B  rotate a sandbox's log past this "
		"(default 16M)\n"
		"  --audit-keep N       rotated files kept per sandbox "
		"(default 4)\n"
		"  --audit-retention S  keep a destroyed sandbox's log this "
		"long (default 604800)\n"
		"  --audit-ringbuf B    kernel ring buffer of the trace "
		"source (default 8M)\n"
		"  --log-level LEVEL    error, warn, info (default) or debug\n"
		"  -h, --help           this text\n");
}

/* A helper program installed beside this binary. */
static int default_helper_path(const char *name, char *out, size_t len)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0)
		return -errno;
	self[n] = '\0';
	if ((size_t)snprintf(out, len, "%s/%s", dirname(self), name) >= len)
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

/* A count or size: digits with an optional K, M, G or T (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	char *end;
	unsigned long long v;
	const char *u;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return -EINVAL;
	if (*end) {
		u = strchr(units, *end);
		if (!u || end[1] || v > UINT64_MAX >> (10 * (u - units + 1)))
			return -EINVAL;
		v <<= 10 * (u - units + 1);
	}
	*out = v;
	return 0;
}

static int parse_limit(int opt, const char *arg, struct limit_opts *l)
{
	/* In the order of the OPT_DEFAULT_MEMORY.. option values. */
	uint64_t *const slot[] = {
		&l->default_memory, &l->max_memory,	   &l->default_pids,
		&l->max_pids,	    &l->default_cpu_quota, &l->max_cpu_quota,
		&l->max_delta,
	};

	_Static_assert(OPT_MAX_DELTA - OPT_DEFAULT_MEMORY == 6,
		       "limit options");

	l->given |= 1u << (opt - OPT_DEFAULT_MEMORY);
	if (parse_size(arg, slot[opt - OPT_DEFAULT_MEMORY]) < 0) {
		fprintf(stderr, "agentfensed: '%s' is not a number or size\n",
			arg);
		return -EINVAL;
	}
	return 0;
}

static int parse_audit(int opt, const char *arg, struct audit_config *a)
{
	uint64_t v = 0;

	if (opt == OPT_AUDIT) {
		a->disabled = !strcmp(arg, "off");
		if (a->disabled || !strcmp(arg, "on"))
			return 0;
	} else if (parse_size(arg, &v) == 0) {
		if (opt == OPT_AUDIT_FILE_SIZE && v >= 4096)
			a->max_file_bytes = v;
		else if (opt == OPT_AUDIT_KEEP && v <= 99)
			a->keep_files = (unsigned)v;
		else if (opt == OPT_AUDIT_RETENTION)
			a->retention_s = v;
		else if (opt == OPT_AUDIT_RINGBUF && v >= 4096 &&
			 v <= (1u << 30) && !(v & (v - 1)))
			a->ringbuf_bytes = (uint32_t)v;
		else
			v = UINT64_MAX;
		if (v != UINT64_MAX)
			return 0;
	}
	fprintf(stderr,
		"agentfensed: bad audit option value '%s' (--audit on|off; "
		"--audit-file-size >= 4096; --audit-keep <= 99; "
		"--audit-ringbuf a power of two, 4K..1G)\n",
		arg);
	return -EINVAL;
}

/* A built-in default above a given maximum yields to it; a given one not. */
static int check_limits(struct limit_opts *l)
{
	const struct {
		const char *name;
		uint64_t *def, max;
		int opt;
	} pairs[] = {
		{ "memory", &l->default_memory, l->max_memory,
		  OPT_DEFAULT_MEMORY },
		{ "pids", &l->default_pids, l->max_pids, OPT_DEFAULT_PIDS },
		{ "cpu-quota", &l->default_cpu_quota, l->max_cpu_quota,
		  OPT_DEFAULT_CPU_QUOTA },
	};

	for (size_t i = 0; i < ARRAY_SIZE(pairs); i++) {
		if (!pairs[i].max || *pairs[i].def <= pairs[i].max)
			continue;
		if (l->given & (1u << (pairs[i].opt - OPT_DEFAULT_MEMORY))) {
			fprintf(stderr,
				"agentfensed: --default-%s is above "
				"--max-%s\n",
				pairs[i].name, pairs[i].name);
			return -EINVAL;
		}
		*pairs[i].def = pairs[i].max;
	}
	return 0;
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
		{ "max-file-size", required_argument, NULL, 'F' },
		{ "max-upload-size", required_argument, NULL, 'U' },
		{ "log-level", required_argument, NULL, 'v' },
		{ "enforcer", required_argument, NULL, 'e' },
		{ "docker-host", required_argument, NULL, 'D' },
		{ "idle", required_argument, NULL, 'I' },
		{ "max-sandboxes", required_argument, NULL, 'S' },
		{ "max-running", required_argument, NULL, 'R' },
		{ "max-sessions", required_argument, NULL, 'E' },
		{ "default-memory", required_argument, NULL,
		  OPT_DEFAULT_MEMORY },
		{ "max-memory", required_argument, NULL, OPT_MAX_MEMORY },
		{ "default-pids", required_argument, NULL, OPT_DEFAULT_PIDS },
		{ "max-pids", required_argument, NULL, OPT_MAX_PIDS },
		{ "default-cpu-quota", required_argument, NULL,
		  OPT_DEFAULT_CPU_QUOTA },
		{ "max-cpu-quota", required_argument, NULL, OPT_MAX_CPU_QUOTA },
		{ "max-delta", required_argument, NULL, OPT_MAX_DELTA },
		{ "audit", required_argument, NULL, OPT_AUDIT },
		{ "audit-file-size", required_argument, NULL,
		  OPT_AUDIT_FILE_SIZE },
		{ "audit-keep", required_argument, NULL, OPT_AUDIT_KEEP },
		{ "audit-retention", required_argument, NULL,
		  OPT_AUDIT_RETENTION },
		{ "audit-ringbuf", required_argument, NULL, OPT_AUDIT_RINGBUF },
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
			       .max_file_size = 1ull << 30,
			       .max_upload_size = 4ull << 30,
			       .max_sandboxes = 1024,
			       .max_running = 256,
			       .max_sessions = 1024,
			       .lim = { .default_pids = 1024,
					.max_delta = 1ull << 30 },
			       .audit = { .max_file_bytes = 16ull << 20,
					  .keep_files = 4,
					  .retention_s = 7 * 86400,
					  .ringbuf_bytes = 8u << 20 } };
	if (default_helper_path("agentfense-init", o->init_path,
				sizeof(o->init_path)) < 0)
		o->init_path[0] = '\0';
	if (default_helper_path("agentfense-idle", o->idle_path,
				sizeof(o->idle_path)) < 0)
		o->idle_path[0] = '\0';
	o->docker_host = getenv("DOCKER_HOST");
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
			snprintf(o->init_path, sizeof(o->init_path), "%s",
				 optarg);
			break;
		case 't':
			o->default_timeout_ms =
				strtoull(optarg, NULL, 10) * 1000;
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
		case 'F':
		case 'U':
			if (parse_size(optarg, c == 'F' ? &o->max_file_size
							: &o->max_upload_size) <
			    0) {
				fprintf(stderr,
					"agentfensed: '%s' is not a "
					"size\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'e':
			if (enf_mode_parse(optarg, &o->enforcer) < 0) {
				fprintf(stderr, "agentfensed: --enforcer takes "
						"auto, bpf-lsm or landlock\n");
				return -EINVAL;
			}
			break;
		case 'D':
			o->docker_host = optarg;
			break;
		case 'I':
			snprintf(o->idle_path, sizeof(o->idle_path), "%s",
				 optarg);
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
		case OPT_DEFAULT_MEMORY ... OPT_MAX_DELTA:
			if (parse_limit(c, optarg, &o->lim) < 0)
				return -EINVAL;
			break;
		case OPT_AUDIT ... OPT_AUDIT_RINGBUF:
			if (parse_audit(c, optarg, &o->audit) < 0)
				return -EINVAL;
			break;
		case 'v':
			lvl = parse_level(optarg);
			if (lvl < 0) {
				fprintf(stderr,
					"agentfensed: unknown log level "
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
	if (check_limits(&o->lim) < 0)
		return -EINVAL;
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
		 struct rt_ctx *rt, struct enf_ctx *enf, struct audit *audit,
		 const sigset_t *stop)
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
		.default_memory = o->lim.default_memory,
		.max_memory = o->lim.max_memory,
		.default_pids = o->lim.default_pids,
		.max_pids = o->lim.max_pids,
		.default_cpu_quota = o->lim.default_cpu_quota,
		.max_cpu_quota = o->lim.max_cpu_quota,
		.enf = enf,
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
	struct enf_ctx *enf = NULL;
	char why[512];
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
	scfg.max_file_size = o.max_file_size;
	scfg.max_archive_size = o.max_upload_size;
	rcfg.state_dir = o.state_dir;
	rcfg.init_path = o.init_path;
	rcfg.tmp_size_bytes = o.tmp_size;
	rcfg.max_delta_bytes = o.lim.max_delta;
	rcfg.docker_host = o.docker_host;
	rcfg.idle_path = o.idle_path;
	r = store_open(&scfg, &store);
	if (r == 0)
		r = rt_ctx_new(&rcfg, &rt);
	if (r == 0)
		r = rt_reconcile(rt);
	if (r == 0) {
		r = enf_ctx_new(o.enforcer, rt_sandbox_level(rt), &enf, why,
				sizeof(why));
		if (r < 0)
			log_err("%s", why);
	}
	if (r == 0) {
		enf_reconcile(enf);
		rt_set_enforcer(rt, enf);
		o.audit.state_dir = o.state_dir;
		o.audit.sandbox_cg_level = rt_sandbox_level(rt);
		o.audit.enf = enf;
		/* Without it the daemon runs on; Health says why. */
		audit_start(&o.audit, &audit);
		r = serve(&o, store, rt, enf, audit, &stop);
	}
	audit_stop(audit);
	rt_ctx_free(rt);
	enf_ctx_free(enf);
	store_close(store);
	grpc_shutdown();
	if (r < 0) {
		log_errno(r, "exiting");
		return 1;
	}
	log_info("exited cleanly");
	return 0;
}
