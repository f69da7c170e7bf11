// SPDX-License-Identifier: Apache-2.0
/* SandboxService session RPCs. */
#define LOG_MOD "api"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/runtime.h"
#include "agentfense/util.h"
#include "convert.h"
#include "files.h"
#include "server.h"
#include "svc.h"

#define SS(x) SANDBOX__V1__SESSION_STATUS__SESSION_STATUS_##x

/* The default shell: bash where the sandbox has it (it sees host /usr). */
static const char *default_shell(void)
{
	return access("/bin/bash", X_OK) == 0 ? "/bin/bash" : "/bin/sh";
}

/* A wire Session from a record (e->lock held); strings are borrowed. */
static void to_wire(const struct sb_entry *e, const struct sess_entry *s,
		    Sandbox__V1__Session *w, Google__Protobuf__Timestamp *ct,
		    Google__Protobuf__Timestamp *xt)
{
	sandbox__v1__session__init(w);
	w->id = (char *)s->id;
	w->sandbox_id = e->rec->id;
	w->status = s->closed ? SS(CLOSED) : SS(ACTIVE);
	w->shell = s->shell;
	conv_timestamp(ct, s->created_ns);
	w->created_at = ct;
	if (s->closed) {
		conv_timestamp(xt, s->closed_ns);
		w->closed_at = xt;
	}
}

static void reply_session(struct api_call *c, struct sb_entry *e,
			  struct sess_entry *s)
{
	Sandbox__V1__Session w;
	Google__Protobuf__Timestamp ct, xt;
	struct rt_session *rt;
	char why[160];

	pthread_mutex_lock(&e->lock);
	rt = s->rt;
	if (rt && !s->closed && rt_session_closed(rt, why, sizeof(why))) {
		s->closed = true;
		s->closed_ns = af_now_real_ns();
		snprintf(s->reason, sizeof(s->reason), "%s", why);
	}
	to_wire(e, s, &w, &ct, &xt);
	/* Packed inside the lock: the record's strings stay put meanwhile. */
	size_t len = protobuf_c_message_get_packed_size(&w.base);
	_cleanup_free_ uint8_t *buf = malloc(len + 1);
	Sandbox__V1__Session *copy = NULL;

	if (buf) {
		protobuf_c_message_pack(&w.base, buf);
		copy = sandbox__v1__session__unpack(NULL, len, buf);
	}
	pthread_mutex_unlock(&e->lock);
	svc_reply_owned(c, copy ? &copy->base : NULL);
}

static bool check_session_id(struct api_call *c, const char *id)
{
	return svc_check_id(c, "session_id", "sess_", id, true);
}

static struct sb_entry *find_session(struct api_call *c, const char *id,
				     struct sess_entry **s)
{
	struct sb_entry *e = registry_find_session(svc_registry(c), id, s);

	if (!e)
		api_call_finish(c, GRPC_STATUS_NOT_FOUND,
				"session %s not found", id);
	return e;
}

void svc_create_session(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__CreateSessionRequest *req =
		(void *)api_call_request(c);
	struct registry *reg = svc_registry(c);
	char **env = NULL, id[32], err[512] = "";
	const char *shell;
	struct sb_entry *e;
	struct sess_entry *s;
	int r;

	if (!req || !svc_check_sandbox_id(c, req->sandbox_id))
		return;
	shell = req->shell[0] ? req->shell : default_shell();
	if (shell[0] != '/' || strlen(shell) >= 1024) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"shell must be an absolute path");
		return;
	}
	if (registry_count_sessions(reg) >=
	    (int)registry_config(reg)->max_sessions) {
		api_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
				"the server has %u active sessions, its limit",
				registry_config(reg)->max_sessions);
		return;
	}
	if (!svc_env_strings(c, (void *const *)req->env, req->n_env, &env))
		return;
	e = svc_get_sandbox(c, req->sandbox_id);
	if (!e) {
		svc_env_free(env, req->n_env);
		return;
	}
	r = session_create(reg, e, shell, (const char *const *)env, req->n_env,
			   id, err, sizeof(err));
	svc_env_free(env, req->n_env);
	if (r == -EBUSY)
		api_call_finish(c, GRPC_STATUS_FAILED_PRECONDITION, "%s", err);
	else if (r == -ENOENT)
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"shell %s is not available in the sandbox: %s",
				shell, err);
	else if (r < 0)
		api_call_finish(c, api_status_from_errno(r),
				"cannot start a session: %s",
				err[0] ? err : strerror(-r));
	registry_put(reg, e);
	if (r == 0 && (e = registry_find_session(reg, id, &s))) {
		reply_session(c, e, s);
		registry_put(reg, e);
	} else if (r == 0) {
		api_call_finish(c, GRPC_STATUS_NOT_FOUND,
				"session %s went away", id);
	}
}

void svc_get_session(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__GetSessionRequest *req =
		(void *)api_call_request(c);
	struct sess_entry *s;
	struct sb_entry *e;

	if (!req || !check_session_id(c, req->session_id))
		return;
	e = find_session(c, req->session_id, &s);
	if (!e)
		return;
	reply_session(c, e, s);
	registry_put(svc_registry(c), e);
}

void svc_list_sessions(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__ListSessionsRequest *req =
		(void *)api_call_request(c);
	Sandbox__V1__ListSessionsResponse resp =
		SANDBOX__V1__LIST_SESSIONS_RESPONSE__INIT;
	Sandbox__V1__ListSessionsResponse *copy = NULL;
	struct registry *reg = svc_registry(c);
	struct sb_entry *e;

	e = req ? svc_find_sandbox(c, req->sandbox_id) : NULL;
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	size_t n = e->n_sessions;
	_cleanup_free_ Sandbox__V1__Session *w = calloc(n + 1, sizeof(*w));
	_cleanup_free_ Sandbox__V1__Session **pw = calloc(n + 1, sizeof(*pw));
	_cleanup_free_ Google__Protobuf__Timestamp *ts =
		calloc(2 * n + 1, sizeof(*ts));

	if (w && pw && ts) {
		for (size_t i = 0; i < n; i++) {
			to_wire(e, e->sessions[i], &w[i], &ts[2 * i],
				&ts[2 * i + 1]);
			pw[i] = &w[i];
		}
		resp.sessions = pw;
		resp.n_sessions = n;
		copy = (Sandbox__V1__ListSessionsResponse *)svc_clone(
			&resp.base,
			&sandbox__v1__list_sessions_response__descriptor);
	}
	pthread_mutex_unlock(&e->lock);
	registry_put(reg, e);
	svc_reply_owned(c, copy ? &copy->base : NULL);
}

void svc_destroy_session(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__DestroySessionRequest *req =
		(void *)api_call_request(c);
	Sandbox__V1__Empty empty = SANDBOX__V1__EMPTY__INIT;
	struct sess_entry *s;
	struct sb_entry *e;

	if (!req || !check_session_id(c, req->session_id))
		return;
	e = find_session(c, req->session_id, &s);
	if (!e)
		return;
	session_destroy(e, s);
	registry_put(svc_registry(c), e);
	log_info("session %s destroyed", req->session_id);
	api_call_reply(c, &empty.base);
}

/* Runs the command; on any failure answers the call and returns false. */
static bool session_run(struct api_call *c,
			const Sandbox__V1__SessionExecRequest *req,
			bool streaming, struct rt_exec_res *res)
{
	struct registry *reg = svc_registry(c);
	struct rt_exec_req rq = { .command = req->command,
				  .cancelled = svc_exec_cancelled,
				  .on_output =
					  streaming ? svc_exec_output : NULL,
				  .ud = c };
	struct rt_session *rt;
	struct sess_entry *s;
	struct sb_entry *e;
	const char *why = "";
	int r;

	if (!check_session_id(c, req->session_id) ||
	    !svc_check_command(c, req->command, req->timeout, &rq.timeout_ms))
		return false;
	rq.max_output = registry_config(reg)->max_output_bytes;
	e = find_session(c, req->session_id, &s);
	if (!e)
		return false;
	rt = session_exec_begin(e, s, &why);
	if (!rt) {
		api_call_finish(c, GRPC_STATUS_FAILED_PRECONDITION,
				"session %s is closed: %s", req->session_id,
				why);
		registry_put(reg, e);
		return false;
	}
	r = rt_session_exec(rt, &rq, res);
	if (r == 0)
		files_after_command(reg, e, res);
	session_exec_end(e, s);
	registry_put(reg, e);
	if (r == -ESHUTDOWN) {
		api_call_finish(c, GRPC_STATUS_FAILED_PRECONDITION,
				"session %s is closed: %s", req->session_id,
				res->message);
		return false;
	}
	return svc_exec_outcome(c, r, res, rq.timeout_ms);
}

static void session_exec_call(struct api_call *c, bool streaming)
{
	_cleanup_(svc_freep) Sandbox__V1__SessionExecRequest *req =
		(void *)api_call_request(c);
	struct rt_exec_res res = { 0 };

	if (req && session_run(c, req, streaming, &res))
		svc_answer_exec(c, &res, streaming);
	rt_exec_res_clear(&res);
}

void svc_session_exec(struct api_call *c)
{
	session_exec_call(c, false);
}

void svc_session_exec_stream(struct api_call *c)
{
	session_exec_call(c, true);
}
