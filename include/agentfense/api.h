/* SPDX-License-Identifier: Apache-2.0 */
/*
 * api: the gRPC server (gRPC core C API + protobuf-c) serving
 * sandbox.v1.SandboxService, sandbox.v1.CodebaseService and our
 * sandbox.v1.ServerService extensions. Owns the sandbox registry.
 */
#ifndef AGENTFENSE_API_H
#define AGENTFENSE_API_H

#include <stddef.h>
#include <stdint.h>

struct store;
struct rt_ctx;
struct audit;
struct enf_ctx;
struct api_server;

struct api_config {
	const char *listen_addr; /* "127.0.0.1:9000"; NULL: no TCP */
	const char *unix_path;	 /* NULL: no unix socket */
	const char *state_dir;
	struct store *store;
	struct rt_ctx *rt;
	struct audit *audit; /* may be NULL */
	uint64_t default_timeout_ms;
	uint64_t max_timeout_ms;
	size_t max_output_bytes; /* per stream, unary Exec */
	unsigned max_sandboxes;	 /* records (any state) */
	unsigned max_running;	 /* RUNNING at once */
	unsigned max_sessions;	 /* active sessions, all sandboxes */
	/*
	 * Sandbox resource limits: the value a request that leaves one at 0
	 * gets, and the largest it may ask for (0: none; with a maximum and
	 * no default, the maximum applies).
	 */
	uint64_t default_memory, max_memory; /* bytes */
	uint64_t default_pids, max_pids;
	uint64_t default_cpu_quota, max_cpu_quota; /* µs per 100 ms */
	struct enf_ctx *enf; /* the enforcer (kind may be ENF_NONE) */
};

/* Load sandbox records, bind, start serving on background threads. */
int api_server_start(const struct api_config *cfg, struct api_server **out);
/*
 * Stop accepting calls, cancel those in flight, wait for their threads,
 * stop every running sandbox, free everything.
 */
void api_server_stop(struct api_server *s);

#endif
