// SPDX-License-Identifier: Apache-2.0
/* sandbox.v1.ServerService: health, presets, policy explanation. */
#define LOG_MOD "api"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/audit.h"
#include "agentfense/cleanup.h"
#include "agentfense/enforce.h"
#include "agentfense/policy.h"
#include "agentfense/runtime.h"
#include "agentfense/util.h"
#include "sandbox/v1/server.pb-c.h"
#include "server.h"
#include "svc.h"

static void health(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__HealthRequest *req =
		(void *)api_call_request(c);
	Sandbox__V1__HealthResponse resp = SANDBOX__V1__HEALTH_RESPONSE__INIT;
	const struct api_config *cfg = &c->srv->cfg;
	int running, total;

	if (!req)
		return;
	registry_count(c->srv->reg, &running, &total);
	resp.version = AF_VERSION;
	resp.enforcer = (char *)enf_name(cfg->enf);
	resp.enforcer_reason = (char *)enf_reason(cfg->enf);
	resp.sandboxes_running = running;
	resp.sandboxes_total = total;
	resp.uptime_seconds =
		(int64_t)((af_now_mono_ns() - c->srv->started_ns) /
			  1000000000ull);
	resp.cgroup_layout = (char *)rt_cgroup_layout(cfg->rt);
	resp.probe_report = (char *)enf_probe_report(cfg->enf);
	resp.audit_source = (char *)audit_source(cfg->audit);
	resp.audit_reason = (char *)audit_source_reason(cfg->audit);
	resp.audit_dropped = audit_dropped(cfg->audit);
	api_call_reply(c, &resp.base);
}

static void list_presets(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__ListPresetsRequest *req =
		(void *)api_call_request(c);
	Sandbox__V1__ListPresetsResponse resp =
		SANDBOX__V1__LIST_PRESETS_RESPONSE__INIT;
	size_t n = 0;
	const struct af_preset *p = af_presets(&n);
	_cleanup_free_ Sandbox__V1__Preset *w = calloc(n + 1, sizeof(*w));
	_cleanup_free_ Sandbox__V1__Preset **pw = calloc(n + 1, sizeof(*pw));
	bool ok = w && pw;

	if (!req)
		return;
	for (size_t i = 0; ok && i < n; i++) {
		sandbox__v1__preset__init(&w[i]);
		w[i].name = (char *)p[i].name;
		w[i].description = (char *)p[i].description;
		w[i].rules = calloc(p[i].n_rules + 1, sizeof(*w[i].rules));
		ok = w[i].rules != NULL;
		for (size_t j = 0; ok && j < p[i].n_rules; j++) {
			w[i].rules[j] = svc_rule_from_policy(&p[i].rules[j]);
			ok = w[i].rules[j] != NULL;
			w[i].n_rules += ok;
		}
		pw[i] = &w[i];
		resp.n_presets++;
	}
	if (ok) {
		resp.presets = pw;
		api_call_reply(c, &resp.base);
	} else {
		svc_finish_oom(c);
	}
	for (size_t i = 0; i < resp.n_presets; i++)
		svc_rules_free(w[i].rules, w[i].n_rules);
}

/* The effective rules: a sandbox's, or presets + rules from the request. */
static int explain_rules(struct api_call *c,
			 const Sandbox__V1__ExplainPathRequest *req,
			 Sandbox__V1__Sandbox **sb,
			 Sandbox__V1__PermissionRule *const **rules, size_t *n,
			 Sandbox__V1__PermissionRule ***owned, size_t *n_owned)
{
	if (req->sandbox_id[0]) {
		struct sb_entry *e = svc_get_sandbox(c, req->sandbox_id);

		if (!e)
			return -ENOENT;
		*sb = svc_sandbox_copy(e);
		registry_put(svc_registry(c), e);
		if (!*sb)
			return -ENOMEM;
		*rules = (*sb)->permissions;
		*n = (*sb)->n_permissions;
		return 0;
	}
	size_t total = req->n_permissions, k = 0;

	for (size_t i = 0; i < req->n_presets; i++) {
		const struct af_preset *p = af_preset_find(req->presets[i]);

		if (!p) {
			api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
					"unknown preset \"%s\"",
					req->presets[i]);
			return -EINVAL;
		}
		total += p->n_rules;
	}
	*owned = calloc(total + 1, sizeof(**owned));
	if (!*owned)
		return -ENOMEM;
	for (size_t i = 0; i < req->n_presets; i++) {
		const struct af_preset *p = af_preset_find(req->presets[i]);

		for (size_t j = 0; j < p->n_rules; j++)
			(*owned)[k++] = svc_rule_from_policy(&p->rules[j]);
	}
	for (size_t i = 0; i < req->n_permissions; i++)
		(*owned)[k++] = svc_rule_dup(req->permissions[i]);
	*n_owned = k;
	for (size_t i = 0; i < k; i++)
		if (!(*owned)[i])
			return -ENOMEM;
	*rules = *owned;
	*n = k;
	return 0;
}

static void explain_path(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__ExplainPathRequest *req =
		(void *)api_call_request(c);
	Sandbox__V1__ExplainPathResponse resp =
		SANDBOX__V1__EXPLAIN_PATH_RESPONSE__INIT;
	Sandbox__V1__Sandbox *sb = NULL;
	Sandbox__V1__PermissionRule *const *rules = NULL;
	Sandbox__V1__PermissionRule **owned = NULL;
	_cleanup_free_ struct af_rule *pr = NULL;
	struct af_policy *pol = NULL;
	size_t n = 0, n_owned = 0;
	char err[512] = "", norm[4096];
	const char *why = NULL;
	struct af_explanation ex;
	int idx = -1, r;

	if (!req ||
	    !svc_check_id(c, "sandbox_id", "sb_", req->sandbox_id, false))
		return;
	r = af_path_normalize(req->path, strlen(req->path), norm + 1,
			      sizeof(norm) - 1, &why);
	if (r < 0 && strcmp(req->path, "/") != 0) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"invalid path \"%s\": %s", req->path, why);
		goto out;
	}
	norm[0] = '/';
	if (r < 0)
		norm[1] = '\0';
	r = explain_rules(c, req, &sb, &rules, &n, &owned, &n_owned);
	if (r == -ENOMEM)
		svc_finish_oom(c);
	if (r < 0)
		goto out;
	pr = svc_policy_rules(rules, n);
	r = pr ? af_policy_new(pr, n, &pol, err, sizeof(err)) : -ENOMEM;
	if (r < 0) {
		api_call_finish(c, api_status_from_errno(r), "%s", err);
		goto out;
	}
	r = af_policy_explain_ex(pol, norm, req->is_dir, &ex);
	if (r < 0) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"invalid path \"%s\"", req->path);
		goto out;
	}
	idx = ex.rule_index;
	resp.permission = (Sandbox__V1__Permission)ex.perm;
	resp.rule_index = idx;
	if (idx >= 0)
		resp.rule = rules[idx];
	resp.reason = (char *)af_explain_reason_str(ex.reason);
	api_call_reply(c, &resp.base);
out:
	af_policy_free(pol);
	svc_rules_free(owned, n_owned);
	svc_free(sb ? &sb->base : NULL);
}

#define M(name, req, fn) \
	API_METHOD("/sandbox.v1.ServerService/", name, API_UNARY, req, fn)

const struct api_method api_server_methods[] = {
	M("Health", health_request, health),
	M("ListPresets", list_presets_request, list_presets),
	M("ExplainPath", explain_path_request, explain_path),
};
const size_t api_server_n_methods = ARRAY_SIZE(api_server_methods);
