// SPDX-License-Identifier: Apache-2.0
/* Exec and ExecStream. */
#define LOG_MOD "api"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/runtime.h"
#include "convert.h"
#include "files.h"
#include "server.h"
#include "svc.h"

#define MAX_ENV	    1024
#define MAX_ENV_KEY 1024
/* When output is not UTF-8, the lossy string copy is cut to this size. */
#define LOSSY_MAX (256 * 1024)

struct exec_ctx {
	struct api_call *c;
	char **env;
	size_t n_env;
	const char *cmd;
	uint64_t timeout_ms;
};

static void exec_ctx_clear(struct exec_ctx *x)
{
	svc_env_free(x->env, x->n_env);
}

static bool env_key_ok(const char *k)
{
	size_t len = strlen(k);

	return len > 0 && len <= MAX_ENV_KEY && !strchr(k, '=');
}

/* The layout every generated map<string,string> entry shares. */
struct wire_kv {
	ProtobufCMessage base;
	char *key;
	char *value;
};

bool svc_env_strings(struct api_call *c, void *const *entries, size_t n,
		     char ***out)
{
	char **env;

	if (n > MAX_ENV) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"too many environment variables (at most %d)",
				MAX_ENV);
		return false;
	}
	env = calloc(n + 1, sizeof(*env));
	for (size_t i = 0; env && i < n; i++) {
		const struct wire_kv *kv = entries[i];

		if (!env_key_ok(kv->key)) {
			api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
					"invalid environment variable name "
					"\"%.64s\"",
					kv->key);
			svc_env_free(env, i);
			return false;
		}
		if (asprintf(&env[i], "%s=%s", kv->key, kv->value) < 0) {
			svc_env_free(env, i);
			env = NULL;
		}
	}
	if (!env) {
		svc_finish_oom(c);
		return false;
	}
	*out = env;
	return true;
}

void svc_env_free(char **env, size_t n)
{
	for (size_t i = 0; env && i < n; i++)
		free(env[i]);
	free(env);
}

static bool parse_timeout(struct api_call *c,
			  const Google__Protobuf__Duration *d, uint64_t *ms)
{
	const struct api_config *cfg = registry_config(svc_registry(c));
	int64_t t = conv_duration_ms(d);

	if (t < 0 || (uint64_t)t > cfg->max_timeout_ms) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"timeout must be between 0 and %llu s",
				(unsigned long long)cfg->max_timeout_ms / 1000);
		return false;
	}
	*ms = t ? (uint64_t)t : cfg->default_timeout_ms;
	return true;
}

bool svc_check_command(struct api_call *c, const char *command,
		       const Google__Protobuf__Duration *timeout, uint64_t *ms)
{
	if (!command[0]) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"command is required");
		return false;
	}
	return parse_timeout(c, timeout, ms);
}

/* Validate the request; answers the call and returns false when bad. */
static bool parse_request(struct api_call *c,
			  const Sandbox__V1__ExecRequest *req,
			  struct exec_ctx *x)
{
	if (!svc_check_sandbox_id(c, req->sandbox_id) ||
	    !svc_check_command(c, req->command, req->timeout, &x->timeout_ms))
		return false;
	if (strlen(req->workdir) >= 4096) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"workdir is too long");
		return false;
	}
	if (!svc_env_strings(c, (void *const *)req->env, req->n_env, &x->env))
		return false;
	x->n_env = req->n_env;
	x->cmd = req->command;
	return true;
}

bool svc_exec_cancelled(void *ud)
{
	return api_call_cancelled(ud);
}

/* Runs the command; on failure answers the call and returns false. */
static bool run(struct exec_ctx *x, const Sandbox__V1__ExecRequest *req,
		struct rt_exec_req *rq, struct rt_exec_res *res)
{
	struct api_call *c = x->c;
	struct registry *reg = svc_registry(c);
	struct sb_entry *e = svc_get_sandbox(c, req->sandbox_id);
	struct rt_sandbox *rt;
	int status, r;

	if (!e)
		return false;
	rt = sandbox_exec_begin(e, &status);
	if (!rt) {
		registry_put(reg, e);
		api_call_finish(c, GRPC_STATUS_FAILED_PRECONDITION,
				"sandbox %s is %s; start it first",
				req->sandbox_id, sandbox_status_name(status));
		return false;
	}
	rq->command = x->cmd;
	rq->env = (const char *const *)x->env;
	rq->n_env = x->n_env;
	rq->workdir = req->workdir;
	rq->timeout_ms = x->timeout_ms;
	rq->max_output = registry_config(reg)->max_output_bytes;
	rq->cancelled = svc_exec_cancelled;
	rq->ud = c;
	if (req->stdin_bytes.len) {
		rq->stdin_data = req->stdin_bytes.data;
		rq->stdin_len = req->stdin_bytes.len;
	} else {
		rq->stdin_data = req->stdin;
		rq->stdin_len = strlen(req->stdin);
	}
	r = rt_exec(rt, rq, res);
	if (r == 0)
		files_after_command(reg, e, res);
	sandbox_exec_end(e);
	registry_put(reg, e);
	return svc_exec_outcome(c, r, res, x->timeout_ms);
}

bool svc_exec_outcome(struct api_call *c, int r, const struct rt_exec_res *res,
		      uint64_t timeout_ms)
{
	if (r == -ENOTCONN)
		api_call_finish(c, GRPC_STATUS_FAILED_PRECONDITION, "%s",
				res->message[0] ? res->message
						: "the sandbox stopped while "
						  "the command was running");
	else if (r == -E2BIG)
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"command and environment are too large");
	else if (r == -EINVAL)
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"cannot run the command: %s", res->message);
	else if (r < 0)
		api_call_finish(c, api_status_from_errno(r),
				"cannot run the command: %s", strerror(-r));
	else if (res->timed_out)
		api_call_finish(c, GRPC_STATUS_DEADLINE_EXCEEDED,
				"command timed out after %.3f s",
				(double)timeout_ms / 1000);
	else if (res->cancelled)
		api_call_finish(c, GRPC_STATUS_CANCELLED,
				"the client went away; command killed");
	return r == 0 && !res->timed_out && !res->cancelled;
}

/* String field plus, when not UTF-8, the exact bytes beside it. */
static char *output_fields(const struct rt_buf *b, ProtobufCBinaryData *raw)
{
	if (!b->len)
		return strdup("");
	if (conv_utf8_valid(b->data, b->len))
		return strdup(b->data);
	raw->data = (uint8_t *)b->data;
	raw->len = b->len;
	return conv_utf8_lossy(b->data, b->len, LOSSY_MAX);
}

static void reply_exec_result(struct api_call *c, const struct rt_exec_res *res)
{
	Sandbox__V1__ExecResult out = SANDBOX__V1__EXEC_RESULT__INIT;
	Google__Protobuf__Duration dur;
	_cleanup_free_ char *so = NULL, *se = NULL;
	char msg[sizeof(res->message) + 64];

	so = output_fields(&res->out, &out.stdout_bytes);
	se = output_fields(&res->err, &out.stderr_bytes);
	if (!so || !se) {
		svc_finish_oom(c);
		return;
	}
	out.stdout = so;
	out.stderr = se;
	out.exit_code = res->exit_code;
	conv_duration(&dur, res->duration_ns);
	out.duration = &dur;
	out.stdout_truncated = res->out.truncated;
	out.stderr_truncated = res->err.truncated;
	/* Both when both: an OOM kill often comes with a flood of output. */
	snprintf(msg, sizeof(msg), "%s%s%s", res->message,
		 res->message[0] && (res->out.truncated || res->err.truncated)
			 ? "; "
			 : "",
		 res->out.truncated || res->err.truncated
			 ? "output beyond the server's per-stream cap was "
			   "dropped"
			 : "");
	if (msg[0])
		out.message = msg;
	api_call_reply(c, &out.base);
}

int svc_exec_output(void *ud, enum rt_stream s, const void *data, size_t len)
{
	Sandbox__V1__ExecOutput o = SANDBOX__V1__EXEC_OUTPUT__INIT;

	o.type =
		s == RT_STDOUT
			? SANDBOX__V1__EXEC_OUTPUT__OUTPUT_TYPE__OUTPUT_TYPE_STDOUT
			: SANDBOX__V1__EXEC_OUTPUT__OUTPUT_TYPE__OUTPUT_TYPE_STDERR;
	o.data.data = (uint8_t *)data;
	o.data.len = len;
	return api_call_write(ud, &o.base);
}

/* The final ExecOutput (exit status) and OK. */
static void finish_stream(struct api_call *c, const struct rt_exec_res *res)
{
	Sandbox__V1__ExecOutput last = SANDBOX__V1__EXEC_OUTPUT__INIT;
	Sandbox__V1__ExecExit ex = SANDBOX__V1__EXEC_EXIT__INIT;
	Google__Protobuf__Duration dur;

	ex.exit_code = res->exit_code;
	conv_duration(&dur, res->duration_ns);
	ex.duration = &dur;
	ex.message = (char *)res->message;
	last.exit = &ex;
	if (api_call_write(c, &last.base) == 0)
		api_call_finish(c, GRPC_STATUS_OK, "%s", "");
}

void svc_answer_exec(struct api_call *c, const struct rt_exec_res *res,
		     bool streaming)
{
	if (streaming)
		finish_stream(c, res);
	else
		reply_exec_result(c, res);
}

static void exec_call(struct api_call *c, bool streaming)
{
	_cleanup_(svc_freep) Sandbox__V1__ExecRequest *req =
		(void *)api_call_request(c);
	struct exec_ctx x = { .c = c };
	struct rt_exec_req rq = { .on_output =
					  streaming ? svc_exec_output : NULL };
	struct rt_exec_res res = { 0 };

	if (req && parse_request(c, req, &x) && run(&x, req, &rq, &res))
		svc_answer_exec(c, &res, streaming);
	rt_exec_res_clear(&res);
	exec_ctx_clear(&x);
}

void svc_exec(struct api_call *c)
{
	exec_call(c, false);
}

void svc_exec_stream(struct api_call *c)
{
	exec_call(c, true);
}
