/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The Docker runtime's view of the Docker Engine: a small client of the
 * Engine API over its unix socket (docker_api.c) and the container that
 * backs one sandbox (docker.c). Internal to the runtime module.
 *
 * A Docker sandbox's container only provides namespaces and a root file
 * system: its pid 1 is agentfense-idle, a static program that waits. The
 * daemon then starts agentfense-init in guest mode, which joins the
 * container's namespaces, mounts the sandbox's /workspace there and serves
 * the same control protocol as in the namespace runtime.
 */
#ifndef AF_RUNTIME_DOCKER_H
#define AF_RUNTIME_DOCKER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "agentfense/cgroup.h"

/* Labels on every container we create. */
#define DOCKER_LABEL_INSTANCE "agentfense.instance"
#define DOCKER_LABEL_SANDBOX  "agentfense.sandbox"
#define DOCKER_LABEL_CODEBASE "agentfense.codebase"
/* Where the idle launcher appears inside the container. */
#define DOCKER_IDLE_PATH "/.agentfense/idle"

struct docker_api;
struct docker_ctx;
struct docker_box;

/*
 * host: "unix:///run/docker.sock" or a socket path. Nothing is contacted
 * until the first request.
 */
int docker_api_new(const char *host, struct docker_api **out);
void docker_api_free(struct docker_api *a);
const char *docker_api_host(const struct docker_api *a);
/*
 * One request (path below /v1.41, body may be NULL). Returns the HTTP
 * status, with *reply the parsed JSON body (NULL when empty or not JSON);
 * or -EHOSTDOWN when the Engine cannot be reached, -ETIMEDOUT, -ENOMEM,
 * with a message in err.
 */
int docker_call(const struct docker_api *a, const char *method,
		const char *path, json_t *body, json_t **reply, char *err,
		size_t errlen);
/* The "message" of an Engine error reply, or "". */
const char *docker_message(const json_t *reply);

int docker_ctx_new(const char *host, const char *idle_path,
		   const char *instance, struct docker_ctx **out);
void docker_ctx_free(struct docker_ctx *d);
/*
 * Can a sandbox start from image? -EHOSTDOWN: the Engine is not reachable;
 * -ENOTSUP: the runtime is not set up (no launcher); -ENOENT: no such image.
 */
int docker_check(struct docker_ctx *d, const char *image, char *err,
		 size_t errlen);
/* Remove every container of this daemon instance (after a restart). */
int docker_reconcile(struct docker_ctx *d);

struct docker_box_opts {
	const char *sandbox_id;
	const char *codebase_id;
	const char *image;
	const struct cg_limits *limits;
	uint64_t tmp_size;
};

/* Create and start the container; its pid 1 is pinned by a pidfd. */
int docker_box_start(struct docker_ctx *d, const struct docker_box_opts *o,
		     struct docker_box **out, char *err, size_t errlen);
int docker_box_pidfd(const struct docker_box *b);
/* Kill and remove the container (idempotent). */
int docker_box_remove(struct docker_box *b);
void docker_box_free(struct docker_box *b);

/* The container's create request (exposed for the unit tests). */
json_t *docker_create_body(const struct docker_box_opts *o,
			   const char *instance, const char *idle_host_path);

#endif
