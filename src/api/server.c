// SPDX-License-Identifier: Apache-2.0
/*
 * The gRPC server. One thread drives the notification queue: each
 * registered method always has one call requested; when a call arrives it
 * gets a thread of its own (bound to a private pluck queue, the pattern of
 * gRPC's synchronous C++ server) and a fresh request replaces it.
 */
#define LOG_MOD "api"
#include <errno.h>
#include <grpc/grpc_security.h>
#include <grpc/support/alloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/util.h"
#include "server.h"

#define MAX_MESSAGE_BYTES (64 * 1024 * 1024)
#define CALL_STACK_BYTES  (512 * 1024)

struct pending {
	struct api_server *srv;
	const struct api_method *m;
	void *handle; /* from grpc_server_register_method */
	struct api_call call;
};

struct method_reg {
	const struct api_method *m;
	void *handle;
};

static int request_call(struct api_server *s, const struct api_method *m,
			void *handle)
{
	struct pending *p = calloc(1, sizeof(*p));
	grpc_call_error e;

	if (!p)
		return -ENOMEM;
	p->srv = s;
	p->m = m;
	p->handle = handle;
	p->call.method = m;
	p->call.srv = s;
	p->call.cq = grpc_completion_queue_create_for_pluck(NULL);
	grpc_metadata_array_init(&p->call.md);
	e = grpc_server_request_registered_call(
		s->server, handle, &p->call.call, &p->call.deadline,
		&p->call.md,
		m->kind == API_CLIENT_STREAM ? NULL : &p->call.payload,
		p->call.cq, s->cq, p);
	if (e != GRPC_CALL_OK) {
		log_err("request %s failed (%d)", m->path, e);
		grpc_metadata_array_destroy(&p->call.md);
		grpc_completion_queue_destroy(p->call.cq);
		free(p);
		return -EIO;
	}
	return 0;
}

static void pending_free(struct pending *p)
{
	struct api_call *c = &p->call;

	if (c->call)
		grpc_call_unref(c->call);
	if (c->payload)
		grpc_byte_buffer_destroy(c->payload);
	grpc_metadata_array_destroy(&c->md);
	grpc_completion_queue_shutdown(c->cq);
	/* Every batch has completed; this only observes the shutdown. */
	(void)grpc_completion_queue_pluck(
		c->cq, c, gpr_inf_past(GPR_CLOCK_REALTIME), NULL);
	grpc_completion_queue_destroy(c->cq);
	free(p);
}

static void *call_thread(void *arg)
{
	struct pending *p = arg;
	struct api_call *c = &p->call;
	struct api_server *s = p->srv;
	grpc_op op = { .op = GRPC_OP_RECV_CLOSE_ON_SERVER };

	/* Learn about cancellation (client gone) while the handler runs. */
	op.data.recv_close_on_server.cancelled = &c->cancelled;
	if (grpc_call_start_batch(c->call, &op, 1, &c->close_tag, NULL) ==
	    GRPC_CALL_OK) {
		p->m->handler(c);
		if (!c->finished)
			api_call_finish(c, GRPC_STATUS_INTERNAL,
					"handler ended without a status");
		if (!c->close_done)
			grpc_completion_queue_pluck(
				c->cq, &c->close_tag,
				gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	}
	pending_free(p);
	pthread_mutex_lock(&s->lock);
	if (--s->active_calls == 0)
		pthread_cond_broadcast(&s->idle);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static void dispatch(struct api_server *s, struct pending *p, bool ok)
{
	pthread_attr_t attr;
	pthread_t t;
	bool shutting_down;

	pthread_mutex_lock(&s->lock);
	shutting_down = s->shutting_down;
	if (ok)
		s->active_calls++;
	pthread_mutex_unlock(&s->lock);
	/* Keep one call requested per method while serving. */
	if (!shutting_down)
		request_call(s, p->m, p->handle);
	if (!ok) {
		pending_free(p);
		return;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, CALL_STACK_BYTES);
	if (pthread_create(&t, &attr, call_thread, p) != 0) {
		log_err("%s: no thread for the call", p->m->path);
		grpc_call_cancel_with_status(p->call.call,
					     GRPC_STATUS_RESOURCE_EXHAUSTED,
					     "server overloaded", NULL);
		pending_free(p);
		pthread_mutex_lock(&s->lock);
		s->active_calls--;
		pthread_mutex_unlock(&s->lock);
	}
	pthread_attr_destroy(&attr);
}

static void *cq_thread(void *arg)
{
	struct api_server *s = arg;

	for (;;) {
		grpc_event ev = grpc_completion_queue_next(
			s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);

		if (ev.type == GRPC_QUEUE_SHUTDOWN)
			break;
		if (ev.type != GRPC_OP_COMPLETE)
			continue;
		if (ev.tag == s) {
			/* Server shutdown done: every call has been released.
			 */
			grpc_completion_queue_shutdown(s->cq);
			continue;
		}
		dispatch(s, ev.tag, ev.success);
	}
	return NULL;
}

/*
 * A socket file left by a dead daemon is removed; a live one (someone
 * answers on it) means another daemon owns it.
 */
static int claim_unix_path(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path))
		return log_errno(-ENAMETOOLONG, "unix socket path %s", path);
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode))
		return log_errno(-EEXIST, "%s exists and is not a socket",
				 path);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (r == 0)
		return log_errno(-EADDRINUSE, "another daemon listens on %s",
				 path);
	return unlink(path) < 0 ? -errno : 0;
}

static int add_ports(struct api_server *s)
{
	grpc_server_credentials *creds =
		grpc_insecure_server_credentials_create();
	char addr[4200];
	int r = 0;

	if (s->cfg.listen_addr &&
	    !grpc_server_add_http2_port(s->server, s->cfg.listen_addr, creds))
		r = log_errno(-EADDRINUSE, "cannot listen on %s",
			      s->cfg.listen_addr);
	if (!r && s->cfg.unix_path) {
		_cleanup_free_ char *dir = strdup(s->cfg.unix_path);
		char *slash = dir ? strrchr(dir, '/') : NULL;

		if (slash && slash != dir) {
			*slash = '\0';
			af_mkdir_p(dir, 0755);
		}
		r = claim_unix_path(s->cfg.unix_path);
		snprintf(addr, sizeof(addr), "unix:%s", s->cfg.unix_path);
		if (!r && !grpc_server_add_http2_port(s->server, addr, creds))
			r = log_errno(-EADDRINUSE, "cannot listen on %s", addr);
	}
	grpc_server_credentials_release(creds);
	return r;
}

static int register_methods(struct api_server *s, struct method_reg *regs,
			    size_t *n)
{
	const struct {
		const struct api_method *m;
		size_t n;
	} tables[] = {
		{ api_sandbox_methods, api_sandbox_n_methods },
		{ api_codebase_methods, api_codebase_n_methods },
		{ api_server_methods, api_server_n_methods },
		{ api_file_methods, api_file_n_methods },
		{ api_audit_methods, api_audit_n_methods },
	};

	*n = 0;
	for (size_t t = 0; t < ARRAY_SIZE(tables); t++)
		for (size_t i = 0; i < tables[t].n; i++) {
			const struct api_method *m = &tables[t].m[i];
			void *h = grpc_server_register_method(
				s->server, m->path, NULL,
				m->kind == API_CLIENT_STREAM
					? GRPC_SRM_PAYLOAD_NONE
					: GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
				0);

			if (!h)
				return log_errno(-EINVAL, "register %s",
						 m->path);
			regs[(*n)++] = (struct method_reg){ m, h };
		}
	return 0;
}

static grpc_server *create_grpc_server(void)
{
	grpc_arg args[] = {
		{ .type = GRPC_ARG_INTEGER,
		  .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
		  .value.integer = MAX_MESSAGE_BYTES },
		{ .type = GRPC_ARG_INTEGER,
		  .key = GRPC_ARG_MAX_SEND_MESSAGE_LENGTH,
		  .value.integer = MAX_MESSAGE_BYTES },
	};
	grpc_channel_args ca = { ARRAY_SIZE(args), args };

	return grpc_server_create(&ca, NULL);
}

static void server_free(struct api_server *s)
{
	if (s->server)
		grpc_server_destroy(s->server);
	if (s->cq)
		grpc_completion_queue_destroy(s->cq);
	registry_free(s->reg);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->idle);
	free(s);
}

int api_server_start(const struct api_config *cfg, struct api_server **out)
{
	struct api_server *s = calloc(1, sizeof(*s));
	struct method_reg regs[64];
	size_t n;
	int r;

	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	s->started_ns = af_now_mono_ns();
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->idle, NULL);
	r = registry_open(cfg, &s->reg);
	if (r < 0)
		goto fail;
	s->server = create_grpc_server();
	s->cq = grpc_completion_queue_create_for_next(NULL);
	grpc_server_register_completion_queue(s->server, s->cq, NULL);
	r = register_methods(s, regs, &n);
	if (r == 0)
		r = add_ports(s);
	if (r < 0) {
		/* Never started: shutting down still has to be notified. */
		grpc_server_shutdown_and_notify(s->server, s->cq, s);
		grpc_completion_queue_next(
			s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
		grpc_completion_queue_shutdown(s->cq);
		while (grpc_completion_queue_next(
			       s->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
			       .type != GRPC_QUEUE_SHUTDOWN)
			;
		goto fail;
	}
	grpc_server_start(s->server);
	if (cfg->unix_path)
		chmod(cfg->unix_path, 0660);
	for (size_t i = 0; i < n; i++)
		request_call(s, regs[i].m, regs[i].handle);
	r = -pthread_create(&s->cq_thread, NULL, cq_thread, s);
	if (r < 0)
		goto fail;
	registry_start_reaper(s->reg);
	log_info("serving on %s%s%s", cfg->listen_addr ? cfg->listen_addr : "",
		 cfg->listen_addr && cfg->unix_path ? " and unix:" : "",
		 cfg->unix_path ? cfg->unix_path : "");
	*out = s;
	return 0;
fail:
	server_free(s);
	return r;
}

void api_server_stop(struct api_server *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->shutting_down = true;
	pthread_mutex_unlock(&s->lock);
	registry_stop_reaper(s->reg);
	grpc_server_shutdown_and_notify(s->server, s->cq, s);
	/* Running commands see the cancellation and are killed. */
	grpc_server_cancel_all_calls(s->server);
	pthread_join(s->cq_thread, NULL);
	pthread_mutex_lock(&s->lock);
	while (s->active_calls > 0)
		pthread_cond_wait(&s->idle, &s->lock);
	pthread_mutex_unlock(&s->lock);
	registry_stop_all(s->reg);
	if (s->cfg.unix_path)
		unlink(s->cfg.unix_path);
	server_free(s);
	log_info("server stopped");
}
