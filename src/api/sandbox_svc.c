// SPDX-License-Identifier: Apache-2.0
/* sandbox.v1.SandboxService: lifecycle RPCs (exec RPCs in exec_svc.c). */
#define LOG_MOD "api"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/policy.h"
#include "agentfense/runtime.h"
#include "agentfense/store.h"
#include "agentfense/util.h"
#include "convert.h"
#include "limits.h"
#include "server.h"
#include "svc.h"

#define ST(x)	   SANDBOX__V1__SANDBOX_STATUS__SANDBOX_STATUS_##x
#define RUNTIME(x) SANDBOX__V1__RUNTIME_TYPE__RUNTIME_TYPE_##x
#define MAX_RULES  4096
#define MAX_LABELS 64

/* Presets named in the request, then the request's own rules. */
static int collect_rules(const Sandbox__V1__CreateSandboxRequest *req,
			 Sandbox__V1__PermissionRule ***out, size_t *n,
			 char *err, size_t errlen)
{
	Sandbox__V1__PermissionRule **v;
	size_t total = req->n_permissions, k = 0;

	for (size_t i = 0; i < req->n_presets; i++) {
		const struct af_preset *p = af_preset_find(req->presets[i]);

		if (!p) {
			snprintf(err, errlen, "unknown preset \"%s\"",
				 req->presets[i]);
			return -EINVAL;
		}
		total += p->n_rules;
	}
	if (total > MAX_RULES) {
		snprintf(err, errlen, "too many rules (%zu, at most %d)", total,
			 MAX_RULES);
		return -EINVAL;
	}
	v = calloc(total ? total : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < req->n_presets; i++) {
		const struct af_preset *p = af_preset_find(req->presets[i]);

		for (size_t j = 0; j < p->n_rules; j++)
			v[k++] = svc_rule_from_policy(&p->rules[j]);
	}
	for (size_t i = 0; i < req->n_permissions; i++)
		v[k++] = svc_rule_dup(req->permissions[i]);
	for (size_t i = 0; i < k; i++)
		if (!v[i]) {
			svc_rules_free(v, k);
			return -ENOMEM;
		}
	*out = v;
	*n = k;
	return 0;
}

static int check_request(const Sandbox__V1__CreateSandboxRequest *req,
			 char *err, size_t errlen)
{
	if (!req->codebase_id[0]) {
		snprintf(err, errlen, "codebase_id is required");
		return -EINVAL;
	}
	if (!af_id_valid("cb_", req->codebase_id)) {
		snprintf(err, errlen, "codebase_id \"%.64s\" is malformed",
			 req->codebase_id);
		return -EINVAL;
	}
	if (req->runtime !=
		    SANDBOX__V1__RUNTIME_TYPE__RUNTIME_TYPE_UNSPECIFIED &&
	    req->runtime != SANDBOX__V1__RUNTIME_TYPE__RUNTIME_TYPE_BWRAP &&
	    req->runtime != SANDBOX__V1__RUNTIME_TYPE__RUNTIME_TYPE_DOCKER) {
		snprintf(err, errlen, "unknown runtime %d", req->runtime);
		return -EINVAL;
	}
	if (conv_duration_ms(req->expires_in) < 0) {
		snprintf(err, errlen, "expires_in must be a positive duration");
		return -EINVAL;
	}
	if (req->n_labels > MAX_LABELS) {
		snprintf(err, errlen, "too many labels (at most %d)",
			 MAX_LABELS);
		return -EINVAL;
	}
	if (!svc_check_audit_label((void *const *)req->labels, req->n_labels,
				   err, errlen))
		return -EINVAL;
	if (req->resources &&
	    (req->resources->memory_bytes < 0 ||
	     req->resources->cpu_quota < 0 || req->resources->cpu_shares < 0 ||
	     req->resources->pids_limit < 0)) {
		snprintf(err, errlen, "resource limits must not be negative");
		return -EINVAL;
	}
	return 0;
}

/*
 * A docker sandbox needs a reachable Docker daemon holding its image: say
 * so at creation rather than at start.
 */
static grpc_status_code
check_docker(const struct api_config *cfg,
	     const Sandbox__V1__CreateSandboxRequest *req, char *err,
	     size_t errlen)
{
	if (req->runtime != RUNTIME(DOCKER))
		return GRPC_STATUS_OK;
	switch (rt_docker_check(cfg->rt, req->image, err, errlen)) {
	case 0:
		return GRPC_STATUS_OK;
	case -EINVAL:
		return GRPC_STATUS_INVALID_ARGUMENT;
	case -ENOENT:
		return GRPC_STATUS_FAILED_PRECONDITION;
	case -ENOMEM:
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	default: /* not running, not installed, not answering */
		return GRPC_STATUS_UNAVAILABLE;
	}
}

/* The stored record: built on the stack, then deep-copied by pack+unpack. */
static Sandbox__V1__Sandbox *
new_record(const Sandbox__V1__CreateSandboxRequest *req, const char *id,
	   Sandbox__V1__PermissionRule **rules, size_t n_rules,
	   Sandbox__V1__ResourceLimits *limits)
{
	Sandbox__V1__Sandbox rec = SANDBOX__V1__SANDBOX__INIT;
	Google__Protobuf__Timestamp created, expires;
	uint64_t now = af_now_real_ns();
	int64_t ttl = conv_duration_ms(req->expires_in);

	rec.id = (char *)id;
	rec.codebase_id = req->codebase_id;
	rec.permissions = rules;
	rec.n_permissions = n_rules;
	rec.status = ST(PENDING);
	rec.n_labels = req->n_labels;
	rec.labels = (Sandbox__V1__Sandbox__LabelsEntry **)req->labels;
	conv_timestamp(&created, now);
	rec.created_at = &created;
	if (ttl > 0) {
		conv_timestamp(&expires, now + (uint64_t)ttl * 1000000ull);
		rec.expires_at = &expires;
	}
	rec.runtime = req->runtime == RUNTIME(DOCKER) ? RUNTIME(DOCKER)
						      : RUNTIME(BWRAP);
	rec.image = req->image;
	rec.resources = limits;
	rec.commit_after_exec = req->commit_after_exec;
	return (Sandbox__V1__Sandbox *)svc_clone(
		&rec.base, &sandbox__v1__sandbox__descriptor);
}

static void create_sandbox(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__CreateSandboxRequest *req =
		(void *)api_call_request(c);
	struct registry *reg = svc_registry(c);
	const struct api_config *cfg = registry_config(reg);
	Sandbox__V1__PermissionRule **rules = NULL;
	Sandbox__V1__ResourceLimits limits = SANDBOX__V1__RESOURCE_LIMITS__INIT;
	Sandbox__V1__Sandbox *rec;
	char id[AF_ID_MAX], err[512] = "";
	size_t n_rules = 0;
	grpc_status_code code;
	int r;

	if (!req)
		return;
	r = check_request(req, err, sizeof(err));
	if (r == 0)
		r = limits_resolve(cfg, req->resources, &limits, err,
				   sizeof(err));
	if (r == 0)
		r = collect_rules(req, &rules, &n_rules, err, sizeof(err));
	if (r == 0)
		r = svc_validate_rules(rules, n_rules, err, sizeof(err));
	if (r < 0) {
		svc_rules_free(rules, n_rules);
		api_call_finish(c, api_status_from_errno(r), "%s", err);
		return;
	}
	code = check_docker(cfg, req, err, sizeof(err));
	if (code != GRPC_STATUS_OK) {
		svc_rules_free(rules, n_rules);
		api_call_finish(c, code, "%s", err);
		return;
	}
	af_id_new("sb_", id, sizeof(id));
	r = store_codebase_ref(cfg->store, req->codebase_id, id);
	if (r < 0) {
		svc_rules_free(rules, n_rules);
		svc_finish_codebase_error(c, r, req->codebase_id);
		return;
	}
	rec = new_record(req, id, rules, n_rules, &limits);
	svc_rules_free(rules, n_rules);
	r = rec ? registry_add(reg, rec) : -ENOMEM;
	if (r < 0) {
		store_codebase_unref(cfg->store, req->codebase_id, id);
		if (r == -EAGAIN)
			api_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
					"the server holds %u sandboxes, its "
					"limit; destroy some first",
					cfg->max_sandboxes);
		else
			api_call_finish(c, GRPC_STATUS_INTERNAL,
					"cannot record sandbox: %s",
					strerror(-r));
		return;
	}
	log_info("sandbox %s created on codebase %s (%zu rules)", id,
		 req->codebase_id, n_rules);
	svc_reply_sandbox(c, reg, id);
}

static void get_sandbox(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__GetSandboxRequest *req =
		(void *)api_call_request(c);

	if (req && svc_check_sandbox_id(c, req->sandbox_id))
		svc_reply_sandbox(c, svc_registry(c), req->sandbox_id);
}

static void list_sandboxes(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__ListSandboxesRequest *req =
		(void *)api_call_request(c);
	Sandbox__V1__ListSandboxesResponse resp =
		SANDBOX__V1__LIST_SANDBOXES_RESPONSE__INIT;
	struct registry *reg = svc_registry(c);
	struct sb_entry **v = NULL;
	size_t n = 0, limit;
	bool more;

	if (!req)
		return;
	if (req->page_size < 0) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"page_size must not be negative");
		return;
	}
	if (!svc_check_id(c, "codebase_id", "cb_", req->codebase_id, false) ||
	    !svc_check_id(c, "page_token", "sb_", req->page_token, false))
		return;
	limit = svc_page_limit(req->page_size);
	if (registry_list(reg, req->codebase_id, req->page_token, limit, &v, &n,
			  &more) < 0) {
		svc_finish_oom(c);
		return;
	}
	resp.sandboxes = calloc(n ? n : 1, sizeof(*resp.sandboxes));
	for (size_t i = 0; resp.sandboxes && i < n; i++)
		resp.sandboxes[resp.n_sandboxes++] = svc_sandbox_copy(v[i]);
	if (more && n)
		resp.next_page_token = v[n - 1]->rec->id;
	for (size_t i = 0; i < n; i++)
		registry_put(reg, v[i]);
	api_call_reply(c, &resp.base);
	for (size_t i = 0; i < resp.n_sandboxes; i++)
		svc_free(&resp.sandboxes[i]->base);
	free(resp.sandboxes);
	free(v);
}

static void start_sandbox(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__StartSandboxRequest *req =
		(void *)api_call_request(c);
	struct registry *reg = svc_registry(c);
	struct sb_entry *e;
	char err[512] = "";
	int r;

	e = req ? svc_find_sandbox(c, req->sandbox_id) : NULL;
	if (!e)
		return;
	r = sandbox_start(reg, e, err, sizeof(err));
	registry_put(reg, e);
	if (r == -ENOENT && !err[0])
		svc_finish_sandbox_gone(c, req->sandbox_id);
	else if (r < 0)
		api_call_finish(c,
				r == -ENOMEM || r == -EAGAIN || r == -EMFILE
					? GRPC_STATUS_RESOURCE_EXHAUSTED
				: r == -EHOSTDOWN
					? GRPC_STATUS_UNAVAILABLE
					: GRPC_STATUS_FAILED_PRECONDITION,
				"cannot start sandbox %s: %s", req->sandbox_id,
				err[0] ? err : strerror(-r));
	else
		svc_reply_sandbox(c, reg, req->sandbox_id);
}

static void stop_sandbox(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__StopSandboxRequest *req =
		(void *)api_call_request(c);
	struct registry *reg = svc_registry(c);
	struct sb_entry *e;
	int status;

	e = req ? svc_find_sandbox(c, req->sandbox_id) : NULL;
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	status = e->rec->status;
	pthread_mutex_unlock(&e->lock);
	if (status == ST(PENDING)) {
		registry_put(reg, e);
		api_call_finish(c, GRPC_STATUS_FAILED_PRECONDITION,
				"sandbox %s is PENDING; it was never started",
				req->sandbox_id);
		return;
	}
	sandbox_stop(reg, e);
	registry_put(reg, e);
	svc_reply_sandbox(c, reg, req->sandbox_id);
}

static void destroy_sandbox(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__DestroySandboxRequest *req =
		(void *)api_call_request(c);
	Sandbox__V1__Empty empty = SANDBOX__V1__EMPTY__INIT;
	struct registry *reg = svc_registry(c);
	struct sb_entry *e;
	int r;

	e = req ? svc_find_sandbox(c, req->sandbox_id) : NULL;
	if (!e)
		return;
	r = sandbox_destroy(reg, e);
	registry_put(reg, e);
	if (r == -ENOENT)
		svc_finish_sandbox_gone(c, req->sandbox_id);
	else if (r < 0)
		api_call_finish(c, GRPC_STATUS_INTERNAL,
				"cannot destroy sandbox %s: %s",
				req->sandbox_id, strerror(-r));
	else
		api_call_reply(c, &empty.base);
}

#define M(name, kind, req, fn) \
	API_METHOD("/sandbox.v1.SandboxService/", name, kind, req, fn)

const struct api_method api_sandbox_methods[] = {
	M("CreateSandbox", API_UNARY, create_sandbox_request, create_sandbox),
	M("GetSandbox", API_UNARY, get_sandbox_request, get_sandbox),
	M("ListSandboxes", API_UNARY, list_sandboxes_request, list_sandboxes),
	M("StartSandbox", API_UNARY, start_sandbox_request, start_sandbox),
	M("StopSandbox", API_UNARY, stop_sandbox_request, stop_sandbox),
	M("DestroySandbox", API_UNARY, destroy_sandbox_request,
	  destroy_sandbox),
	M("Exec", API_UNARY, exec_request, svc_exec),
	M("ExecStream", API_SERVER_STREAM, exec_request, svc_exec_stream),
	M("CreateSession", API_UNARY, create_session_request,
	  svc_create_session),
	M("GetSession", API_UNARY, get_session_request, svc_get_session),
	M("ListSessions", API_UNARY, list_sessions_request, svc_list_sessions),
	M("DestroySession", API_UNARY, destroy_session_request,
	  svc_destroy_session),
	M("SessionExec", API_UNARY, session_exec_request, svc_session_exec),
	M("SessionExecStream", API_SERVER_STREAM, session_exec_request,
	  svc_session_exec_stream),
};
const size_t api_sandbox_n_methods = ARRAY_SIZE(api_sandbox_methods);
