// SPDX-License-Identifier: Apache-2.0
/* sandbox.v1.AuditService: query and follow the audit trail; counters. */
#define LOG_MOD "api"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/audit.h"
#include "agentfense/cleanup.h"
#include "agentfense/enforce.h"
#include "agentfense/util.h"
#include "convert.h"
#include "sandbox/v1/audit.pb-c.h"
#include "server.h"
#include "svc.h"

#define DECISION(x) SANDBOX__V1__AUDIT_DECISION__AUDIT_DECISION_##x
#define POLL_MS	    200
#define OPS_MAX	    32
#define GLOB_MAX    4096

/* Every map<string, string> entry of the wire starts like this. */
struct label_kv {
	ProtobufCMessage base;
	char *key;
	char *value;
};

static const char *audit_label(void *const *labels, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct label_kv *kv = labels[i];

		if (!strcmp(kv->key, AUDIT_LABEL))
			return kv->value;
	}
	return NULL;
}

bool svc_check_audit_label(void *const *labels, size_t n, char *err,
			   size_t errlen)
{
	const char *v = audit_label(labels, n);
	enum audit_level l;

	if (!v || audit_level_parse(v, &l) == 0)
		return true;
	snprintf(err, errlen,
		 "label %s must be \"denied\", \"writes\" or \"all\", not "
		 "\"%.64s\"",
		 AUDIT_LABEL, v);
	return false;
}

int svc_audit_level(void *const *labels, size_t n)
{
	const char *v = audit_label(labels, n);
	enum audit_level l = AUDIT_LEVEL_DENIED;

	if (v)
		audit_level_parse(v, &l);
	return (int)l;
}

static uint64_t ts_ns(const Google__Protobuf__Timestamp *t)
{
	if (!t || t->seconds < 0)
		return 0;
	return (uint64_t)t->seconds * 1000000000ull + (uint64_t)t->nanos;
}

static bool known_op(const char *op)
{
	/* The op names come from the enforcer's table; 0 is "none". */
	for (unsigned i = 1; i < 64; i++) {
		const char *name = enf_op_name(i);

		if (!strcmp(name, "?"))
			return false;
		if (!strcmp(name, op))
			return true;
	}
	return false;
}

/* Answers the call and returns false when the query is not acceptable. */
static bool check_query(struct api_call *c, const Sandbox__V1__AuditQuery *q)
{
	struct audit *a = c->srv->cfg.audit;
	struct sb_entry *e;
	const char *bad = NULL;

	if (q->limit < 0)
		bad = "limit must not be negative";
	else if (q->decision < DECISION(UNSPECIFIED) ||
		 q->decision > DECISION(DENY))
		bad = "unknown decision";
	else if (strlen(q->path_glob) > GLOB_MAX)
		bad = "path_glob is too long";
	else if (q->n_ops > OPS_MAX)
		bad = "too many ops";
	else if (q->since && q->until && ts_ns(q->until) <= ts_ns(q->since))
		bad = "until must be after since";
	for (size_t i = 0; !bad && i < q->n_ops; i++)
		if (!known_op(q->ops[i]))
			bad = "unknown operation in ops";
	if (bad) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "%s", bad);
		return false;
	}
	if (!q->sandbox_id[0])
		return true;
	if (!af_id_valid("sb_", q->sandbox_id)) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"invalid sandbox id \"%s\"", q->sandbox_id);
		return false;
	}
	e = registry_get(svc_registry(c), q->sandbox_id);
	registry_put(svc_registry(c), e);
	if (e || audit_has_log(a, q->sandbox_id))
		return true;
	api_call_finish(c, GRPC_STATUS_NOT_FOUND,
			"sandbox %s not found, and no audit log is kept for it",
			q->sandbox_id);
	return false;
}

static int send_event(struct api_call *c, const struct audit_record *r)
{
	Sandbox__V1__AuditRecord out = SANDBOX__V1__AUDIT_RECORD__INIT;
	Sandbox__V1__AuditEvent ev = SANDBOX__V1__AUDIT_EVENT__INIT;
	Google__Protobuf__Timestamp t;
	_cleanup_free_ char *lossy = NULL;
	const char *path = r->path ? r->path : "";
	int ret;

	conv_timestamp(&t, r->time_ns);
	ev.time = &t;
	ev.sandbox_id = (char *)r->sandbox_id;
	ev.pid = r->pid;
	ev.tid = r->tid;
	ev.uid = r->uid;
	ev.comm = (char *)r->comm;
	ev.op = (char *)r->op;
	if (!conv_utf8_valid(path, r->path_len)) {
		lossy = conv_utf8_lossy(path, r->path_len, SIZE_MAX);
		if (!lossy)
			return -ENOMEM;
		ev.path_bytes.data = (uint8_t *)path;
		ev.path_bytes.len = r->path_len;
		path = lossy;
	}
	ev.path = (char *)path;
	ev.decision =
		r->decision == AUDIT_DENY ? DECISION(DENY) : DECISION(ALLOW);
	ev.errnum = r->err;
	ev.error = (char *)(r->err ? strerrorname_np(r->err) : "");
	if (!ev.error)
		ev.error = "";
	ev.enforcer = (char *)r->enforcer;
	ev.source = (char *)r->source;
	ev.as_passed = r->as_passed;
	ev.base_unknown = r->base_unknown;
	ev.unresolved = r->unresolved;
	ev.truncated = r->truncated;
	out.kind_case = SANDBOX__V1__AUDIT_RECORD__KIND_EVENT;
	out.event = &ev;
	ret = api_call_write(c, &out.base);
	return ret;
}

static int send_record(void *ud, const struct audit_record *r)
{
	Sandbox__V1__AuditRecord out = SANDBOX__V1__AUDIT_RECORD__INIT;
	Sandbox__V1__AuditGap gap = SANDBOX__V1__AUDIT_GAP__INIT;
	Google__Protobuf__Timestamp t;
	char reason[128];

	if (!r->lost)
		return send_event(ud, r);
	conv_timestamp(&t, r->time_ns);
	gap.time = &t;
	gap.sandbox_id = (char *)r->sandbox_id;
	gap.lost = r->lost;
	snprintf(reason, sizeof(reason), "%s",
		 !strcmp(r->source, "follow")
			 ? "this follower was too slow; the events are in the "
			   "log"
			 : "the kernel's audit ring buffer was full");
	gap.reason = reason;
	out.kind_case = SANDBOX__V1__AUDIT_RECORD__KIND_GAP;
	out.gap = &gap;
	return api_call_write(ud, &out.base);
}

static void to_filter(const Sandbox__V1__AuditQuery *q, const char **ops,
		      struct audit_filter *f)
{
	for (size_t i = 0; i < q->n_ops; i++)
		ops[i] = q->ops[i];
	ops[q->n_ops] = NULL;
	*f = (struct audit_filter){
		.sandbox_id = q->sandbox_id,
		.since_ns = ts_ns(q->since),
		.until_ns = ts_ns(q->until),
		.decision = q->decision == DECISION(DENY)    ? AUDIT_DENY
			    : q->decision == DECISION(ALLOW) ? AUDIT_ALLOW
							     : 0,
		.path_glob = q->path_glob,
		.ops = ops,
	};
}

/* New events until the client goes, the sandbox is destroyed or we stop. */
static void follow(struct api_call *c, const struct audit_filter *f,
		   size_t backlog)
{
	struct audit *a = c->srv->cfg.audit;
	struct audit_sub *sub = NULL;
	struct audit_record r;
	int ret = audit_subscribe(a, f, backlog, send_record, c, &sub);

	while (ret >= 0 && !api_call_cancelled(c)) {
		ret = audit_sub_next(sub, &r, POLL_MS);
		if (ret == 1) {
			ret = send_record(c, &r);
			audit_record_clear(&r);
		}
	}
	audit_unsubscribe(a, sub);
	if (ret == -ESHUTDOWN || ret >= 0)
		api_call_finish(c, GRPC_STATUS_OK, "%s", "");
	else if (ret != -ECANCELED)
		api_call_finish(c, api_status_from_errno(ret),
				"following the audit trail: %s",
				strerror(-ret));
}

static void query_audit(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__AuditQuery *q =
		(void *)api_call_request(c);
	struct audit *a;
	const char *ops[OPS_MAX + 1];
	struct audit_filter f;
	int r;

	if (!q || !check_query(c, q))
		return;
	a = c->srv->cfg.audit;
	if (!a) {
		api_call_finish(
			c, GRPC_STATUS_FAILED_PRECONDITION,
			"the audit trail is not running on this server");
		return;
	}
	to_filter(q, ops, &f);
	if (q->follow) {
		follow(c, &f, q->tail || q->limit ? (size_t)q->limit : 0);
		return;
	}
	r = audit_query(a, &f, (size_t)q->limit, q->tail, send_record, c);
	if (r == -ECANCELED)
		return;
	if (r < 0)
		api_call_finish(c, api_status_from_errno(r),
				"reading the audit logs: %s", strerror(-r));
	else
		api_call_finish(c, GRPC_STATUS_OK, "%s", "");
}

static void fill_stats(const struct audit_stats *st, Sandbox__V1__AuditStats *o,
		       Sandbox__V1__AuditSandboxStats *v,
		       Sandbox__V1__AuditSandboxStats **pv)
{
	o->source = (char *)st->source;
	o->source_reason = (char *)st->source_reason;
	o->events = st->events;
	o->recorded = st->recorded;
	o->dropped_kernel = st->dropped_kernel;
	o->dropped_followers = st->dropped_subscribers;
	o->unattributed = st->unattributed;
	o->outside_workspace = st->outside;
	o->write_errors = st->write_errors;
	for (size_t i = 0; i < st->n_sandboxes; i++) {
		const struct audit_sandbox_stats *s = &st->sandboxes[i];

		sandbox__v1__audit_sandbox_stats__init(&v[i]);
		v[i].sandbox_id = (char *)s->sandbox_id;
		v[i].level = (char *)audit_level_name(s->level);
		v[i].recording = s->recording;
		v[i].events = s->events;
		v[i].dropped = s->dropped;
		v[i].log_bytes = s->log_bytes;
		pv[i] = &v[i];
	}
	o->n_sandboxes = st->n_sandboxes;
	o->sandboxes = pv;
}

static void get_audit_stats(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__AuditStatsRequest *req =
		(void *)api_call_request(c);
	Sandbox__V1__AuditStats out = SANDBOX__V1__AUDIT_STATS__INIT;
	_cleanup_free_ Sandbox__V1__AuditSandboxStats *v = NULL;
	_cleanup_free_ Sandbox__V1__AuditSandboxStats **pv = NULL;
	struct audit_stats st;
	const char *id;
	struct sb_entry *e;
	int r;

	if (!req)
		return;
	id = req->sandbox_id[0] ? req->sandbox_id : NULL;
	if (id) {
		e = registry_get(svc_registry(c), id);
		registry_put(svc_registry(c), e);
		if (!e && !audit_has_log(c->srv->cfg.audit, id)) {
			api_call_finish(c, GRPC_STATUS_NOT_FOUND,
					"sandbox %s not found, and no audit "
					"log is kept for it",
					id);
			return;
		}
	}
	r = audit_get_stats(c->srv->cfg.audit, id, &st);
	if (r < 0) {
		api_call_finish(c, api_status_from_errno(r), "audit stats: %s",
				strerror(-r));
		return;
	}
	v = calloc(st.n_sandboxes + 1, sizeof(*v));
	pv = calloc(st.n_sandboxes + 1, sizeof(*pv));
	if (!v || !pv) {
		audit_stats_clear(&st);
		svc_finish_oom(c);
		return;
	}
	fill_stats(&st, &out, v, pv);
	api_call_reply(c, &out.base);
	audit_stats_clear(&st);
}

#define M(name, kind, req, fn) \
	API_METHOD("/sandbox.v1.AuditService/", name, kind, req, fn)

const struct api_method api_audit_methods[] = {
	M("QueryAudit", API_SERVER_STREAM, audit_query, query_audit),
	M("GetAuditStats", API_UNARY, audit_stats_request, get_audit_stats),
};
const size_t api_audit_n_methods = ARRAY_SIZE(api_audit_methods);
