// SPDX-License-Identifier: Apache-2.0
/*
 * afctl OBJECT VERB [ARGS]: inspect and manage agentfensed, bpftool style.
 * Talks gRPC to the daemon over its unix socket; reads the BPF objects the
 * daemon pinned under /sys/fs/bpf/agentfense directly.
 */
#include <getopt.h>
#include <grpc/grpc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "main.h"
#include "rpc.h"

#define DEFAULT_SOCKET "/run/agentfense/agentfensed.sock"

static void usage(struct ctl *c, FILE *f)
{
	fprintf(f,
		"Usage: %s [OPTIONS] OBJECT VERB [ARGS]\n"
		"       %s help\n"
		"\n"
		"OBJECT := { feature | sandbox | codebase | policy | audit |\n"
		"            prog | map | health }\n"
		"  feature probe\n"
		"  sandbox list [--codebase CB] | show SB | stop SB | "
		"destroy SB\n"
		"  codebase list [--owner ID] | show CB | delete CB\n"
		"  policy show SB | explain SB PATH [--dir]\n"
		"  audit tail [--sandbox SB] [--denied] [-n N] [--path GLOB]\n"
		"             [--op OP] [--since TIME] [--until TIME]\n"
		"  audit follow [the same options]\n"
		"  audit stats [--sandbox SB]\n"
		"  prog list\n"
		"  map list | dump MAP\n"
		"  health\n"
		"\n"
		"OPTIONS:\n"
		"  -j, --json          JSON output\n"
		"  -p, --pretty        indented JSON output (implies -j)\n"
		"  -s, --socket PATH   the daemon's unix socket (default "
		"$AGENTFENSE_SOCKET,\n"
		"                      else " DEFAULT_SOCKET ")\n"
		"  -e, --endpoint ADDR a gRPC target instead (host:port, "
		"unix:PATH)\n"
		"  -V, --version       the version\n"
		"\n"
		"Any unambiguous prefix names an object or a verb (afctl sa "
		"l).\n"
		"Exit status: 0 ok, 1 failed, 2 usage, 3 daemon unreachable.\n"
		"Manual: docs/afctl.md and docs/afctl-OBJECT.md.\n",
		c->argv0, c->argv0);
}

static int do_help(struct ctl *c, int argc, char **argv)
{
	if (c->json)
		return emit(c,
			    json_pack("{s:s}", "usage",
				      "afctl [OPTIONS] OBJECT VERB [ARGS]"),
			    NULL);
	usage(c, stdout);
	return AFCTL_OK;
}

/* No object at all: the usage, as an error. */
static int no_object(struct ctl *c, int argc, char **argv)
{
	if (c->json)
		return usage_err(c, "expected an object (afctl help)");
	usage(c, stderr);
	return AFCTL_USAGE;
}

static const struct cmd objects[] = {
	{ "feature", do_feature },   { "sandbox", do_sandbox },
	{ "codebase", do_codebase }, { "policy", do_policy },
	{ "audit", do_audit },	     { "prog", do_prog },
	{ "map", do_map },	     { "health", do_health },
	{ "help", do_help },	     { NULL, NULL },
};

/* The gRPC target: -e, or unix:PATH from -s / $AGENTFENSE_SOCKET. */
static char *target_of(const char *endpoint, const char *socket)
{
	char *t = NULL;

	if (endpoint)
		return strdup(endpoint);
	if (!socket)
		socket = getenv("AGENTFENSE_SOCKET");
	if (!socket || !*socket)
		socket = DEFAULT_SOCKET;
	if (asprintf(&t, "unix:%s", socket) < 0)
		return NULL;
	return t;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "socket", required_argument, NULL, 's' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct ctl c = { .argv0 = "afctl" };
	const char *socket = NULL, *endpoint = NULL;
	char *target;
	int opt, ret;

	/* '+': options end at OBJECT; verbs parse their own. */
	while ((opt = getopt_long(argc, argv, "+jps:e:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			c.pretty = true;
			/* fallthrough */
		case 'j':
			c.json = true;
			break;
		case 's':
			socket = optarg;
			break;
		case 'e':
			endpoint = optarg;
			break;
		case 'V':
			printf("afctl %s\n", AF_VERSION);
			return AFCTL_OK;
		case 'h':
			return do_help(&c, 0, NULL);
		default:
			return usage_err(&c, "bad option");
		}
	}
	target = target_of(endpoint, socket);
	if (!target)
		return p_err(&c, AFCTL_ERR, "out of memory");
	c.target = target;
	grpc_init();
	ret = cmd_select(&c, objects, argc - optind, argv + optind, no_object);
	rpc_close(c.rpc);
	grpc_shutdown();
	free(target);
	return ret;
}
