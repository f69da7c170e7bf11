/* SPDX-License-Identifier: Apache-2.0 */
#ifndef AF_API_SERVER_H
#define AF_API_SERVER_H

#include "agentfense/api.h"
#include "call.h"
#include "registry.h"

struct api_server {
	struct api_config cfg;
	struct registry *reg;
	uint64_t started_ns;
	grpc_server *server;
	grpc_completion_queue *cq;
	pthread_t cq_thread;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	int active_calls;
	bool shutting_down;
};

extern const struct api_method api_codebase_methods[];
extern const size_t api_codebase_n_methods;
extern const struct api_method api_sandbox_methods[];
extern const size_t api_sandbox_n_methods;
extern const struct api_method api_server_methods[];
extern const size_t api_server_n_methods;
extern const struct api_method api_file_methods[];
extern const size_t api_file_n_methods;
extern const struct api_method api_audit_methods[];
extern const size_t api_audit_n_methods;

#endif
