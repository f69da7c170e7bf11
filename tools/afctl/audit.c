// SPDX-License-Identifier: Apache-2.0
/*
 * afctl audit tail | follow | stats: the audit trail (AuditService).
 * tail prints recorded events (a JSON array with -j); follow goes on with
 * new ones until interrupted (one JSON object per line with -j).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "main.h"
#include "rpc.h"
#include "sandbox/v1/audit.pb-c.h"

#define SVC	     "/sandbox.v1.AuditService/"
#define DEFAULT_TAIL 20
#define OPS_MAX	     32

static int help(struct ctl *c, int argc, char **argv)
{
	return obj_usage(c, "audit { tail | follow } [--sandbox SB] [--denied] "
			    "[--allowed] [-n N] [--path GLOB] [--op OP]... "
			    "[--since TIME] [--until TIME]\n"
			    "       afctl audit stats [--sandbox SB]");
}

struct query {
	Sandbox__V1__AuditQuery q;
	Google__Protobuf__Timestamp since, until;
	char *ops[OPS_MAX];
};

static int set_time(struct ctl *c, const char *s,
		    Google__Protobuf__Timestamp *t,
		    Google__Protobuf__Timestamp **field)
{
	int64_t secs;

	if (parse_time(s, &secs) < 0)
		return usage_err(c,
				 "bad time '%s' (2026-11-27T14:00:00Z, or "
				 "-30s, -5m, -2h, -1d)",
				 s);
	google__protobuf__timestamp__init(t);
	t->seconds = secs;
	*field = t;
	return AFCTL_OK;
}

/* One option of tail/follow and its value; argv moves past them. */
static int query_opt(struct ctl *c, struct query *qy, int *pargc, char ***pargv)
{
	int argc = *pargc;
	char **argv = *pargv, *opt = *argv, *end;
	int ret = AFCTL_OK;

	if (!strcmp(opt, "--denied") || !strcmp(opt, "--allowed")) {
		qy->q.decision =
			opt[2] == 'd'
				? SANDBOX__V1__AUDIT_DECISION__AUDIT_DECISION_DENY
				: SANDBOX__V1__AUDIT_DECISION__AUDIT_DECISION_ALLOW;
		NEXT_ARG();
		goto out;
	}
	NEXT_ARG();
	REQ_ARGS(1);
	if (!strcmp(opt, "--sandbox")) {
		qy->q.sandbox_id = *argv;
	} else if (!strcmp(opt, "-n")) {
		long n = strtol(*argv, &end, 10);

		if (*end || n < 0 || n > INT32_MAX)
			return usage_err(c, "-n takes a count, not '%s'",
					 *argv);
		qy->q.limit = (int32_t)n;
	} else if (!strcmp(opt, "--path")) {
		qy->q.path_glob = *argv;
	} else if (!strcmp(opt, "--op")) {
		if (qy->q.n_ops == OPS_MAX)
			return usage_err(c, "too many --op");
		qy->ops[qy->q.n_ops++] = *argv;
	} else if (!strcmp(opt, "--since")) {
		ret = set_time(c, *argv, &qy->since, &qy->q.since);
	} else if (!strcmp(opt, "--until")) {
		ret = set_time(c, *argv, &qy->until, &qy->q.until);
	} else {
		return usage_err(c, "unknown option '%s'", opt);
	}
	NEXT_ARG();
out:
	*pargc = argc;
	*pargv = argv;
	return ret;
}

static int parse_query(struct ctl *c, int argc, char **argv, struct query *qy)
{
	int ret = AFCTL_OK;

	sandbox__v1__audit_query__init(&qy->q);
	qy->q.ops = qy->ops;
	while (argc > 0 && ret == AFCTL_OK)
		ret = query_opt(c, qy, &argc, &argv);
	return ret;
}

static json_t *record_json(const Sandbox__V1__AuditRecord *r)
{
	const Sandbox__V1__AuditEvent *e = r->event;
	const Sandbox__V1__AuditGap *g = r->gap;
	double t;

	if (r->kind_case == SANDBOX__V1__AUDIT_RECORD__KIND_GAP && g)
		return json_pack(
			"{s:f, s:s, s:I, s:s}", "time",
			g->time ? g->time->seconds + g->time->nanos / 1e9 : 0.0,
			"sandbox_id", g->sandbox_id, "lost",
			(json_int_t)g->lost, "reason", g->reason);
	if (!e)
		return NULL;
	t = e->time ? e->time->seconds + e->time->nanos / 1e9 : 0.0;
	return json_pack(
		"{s:f, s:s, s:i, s:i, s:i, s:s, s:s, s:s, s:s, s:i, "
		"s:s, s:s, s:s, s:b, s:b, s:b, s:b}",
		"time", t, "sandbox_id", e->sandbox_id, "pid", e->pid, "tid",
		e->tid, "uid", e->uid, "comm", e->comm, "op", e->op, "path",
		e->path, "decision",
		e->decision == SANDBOX__V1__AUDIT_DECISION__AUDIT_DECISION_DENY
			? "deny"
			: "allow",
		"errno", e->errnum, "error", e->error, "enforcer", e->enforcer,
		"source", e->source, "as_passed", e->as_passed, "base_unknown",
		e->base_unknown, "unresolved", e->unresolved, "truncated",
		e->truncated);
}

static void plain_record(json_t *o)
{
	double t = json_real_value(json_object_get(o, "time"));
	time_t secs = (time_t)t;
	struct tm tm;
	char ts[40];

	gmtime_r(&secs, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	if (json_object_get(o, "lost")) {
		printf("%s.%03dZ %s LOST %lld events: %s\n", ts,
		       (int)((t - (double)secs) * 1000), jstr(o, "sandbox_id"),
		       jint(o, "lost"), jstr(o, "reason"));
		return;
	}
	printf("%s.%03dZ %s %-5s %-10s %s%s%s pid %lld %s%s\n", ts,
	       (int)((t - (double)secs) * 1000), jstr(o, "sandbox_id"),
	       !strcmp(jstr(o, "decision"), "deny") ? "DENY" : "allow",
	       jstr(o, "op"), jstr(o, "path"), *jstr(o, "error") ? " " : "",
	       jstr(o, "error"), jint(o, "pid"), jstr(o, "comm"),
	       jint(o, "as_passed") ? " (as passed)" : "");
}

static void plain_records(json_t *a)
{
	size_t i;
	json_t *o;

	json_array_foreach(a, i, o) plain_record(o);
}

/* Read the stream: into an array (tail), or line by line (follow). */
static int run_query(struct ctl *c, struct query *qy)
{
	struct rpc_stream *s;
	ProtobufCMessage *m;
	json_t *all = qy->q.follow ? NULL : json_array();
	char err[1024];
	int code;

	code = rpc_stream_open(ctl_rpc(c), SVC "QueryAudit", &qy->q.base,
			       qy->q.follow ? 0 : 300, &s);
	if (code < 0)
		return p_err(c, AFCTL_ERR, "out of memory");
	while (rpc_stream_next(s, &sandbox__v1__audit_record__descriptor, &m)) {
		json_t *o = record_json((Sandbox__V1__AuditRecord *)m);

		protobuf_c_message_free_unpacked(m, NULL);
		if (all)
			json_array_append_new(all, o);
		else
			emit_line(c, o, plain_record);
	}
	code = rpc_stream_finish(s, err, sizeof(err));
	if (code) {
		json_decref(all);
		return rpc_fail(c, code, err);
	}
	return all ? emit(c, all, plain_records) : AFCTL_OK;
}

static int do_tail(struct ctl *c, int argc, char **argv)
{
	struct query qy;
	int ret = parse_query(c, argc, argv, &qy);

	if (ret != AFCTL_OK)
		return ret;
	if (!qy.q.limit)
		qy.q.limit = DEFAULT_TAIL;
	qy.q.tail = true;
	return run_query(c, &qy);
}

static int do_follow(struct ctl *c, int argc, char **argv)
{
	struct query qy;
	int ret = parse_query(c, argc, argv, &qy);

	if (ret != AFCTL_OK)
		return ret;
	/* -n N: the last N recorded events first, as tail -f does. */
	qy.q.tail = qy.q.limit > 0;
	qy.q.follow = true;
	return run_query(c, &qy);
}

static json_t *stats_json(const ProtobufCMessage *answer, const void *ud)
{
	const Sandbox__V1__AuditStats *st = (const void *)answer;
	json_t *sbs = json_array();

	for (size_t i = 0; i < st->n_sandboxes; i++) {
		const Sandbox__V1__AuditSandboxStats *s = st->sandboxes[i];

		json_array_append_new(
			sbs, json_pack("{s:s, s:s, s:b, s:I, s:I, s:I}",
				       "sandbox_id", s->sandbox_id, "level",
				       s->level, "recording", s->recording,
				       "events", (json_int_t)s->events,
				       "dropped", (json_int_t)s->dropped,
				       "log_bytes", (json_int_t)s->log_bytes));
	}
	return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}",
			 "source", st->source, "source_reason",
			 st->source_reason, "events", (json_int_t)st->events,
			 "recorded", (json_int_t)st->recorded, "dropped_kernel",
			 (json_int_t)st->dropped_kernel, "dropped_followers",
			 (json_int_t)st->dropped_followers, "unattributed",
			 (json_int_t)st->unattributed, "outside_workspace",
			 (json_int_t)st->outside_workspace, "write_errors",
			 (json_int_t)st->write_errors, "sandboxes", sbs);
}

static void plain_stats(json_t *o)
{
	json_t *s;
	size_t i;

	printf("source:   %s (%s)\n", jstr(o, "source"),
	       jstr(o, "source_reason"));
	printf("events:   %lld received, %lld recorded\n", jint(o, "events"),
	       jint(o, "recorded"));
	printf("lost:     %lld in the kernel (ring buffer full), %lld to slow "
	       "followers\n",
	       jint(o, "dropped_kernel"), jint(o, "dropped_followers"));
	printf("ignored:  %lld of no known sandbox, %lld allowed outside "
	       "/workspace\n",
	       jint(o, "unattributed"), jint(o, "outside_workspace"));
	if (jint(o, "write_errors"))
		printf("errors:   %lld log lines not written\n",
		       jint(o, "write_errors"));
	printf("%-20s %-7s %-9s %10s %10s %12s\n", "SANDBOX", "LEVEL",
	       "RECORDING", "EVENTS", "LOST", "LOG BYTES");
	json_array_foreach(json_object_get(o, "sandboxes"), i, s) printf(
		"%-20s %-7s %-9s %10lld %10lld %12lld\n", jstr(s, "sandbox_id"),
		jstr(s, "level"), jint(s, "recording") ? "yes" : "no",
		jint(s, "events"), jint(s, "dropped"), jint(s, "log_bytes"));
}

static int do_stats(struct ctl *c, int argc, char **argv)
{
	Sandbox__V1__AuditStatsRequest req =
		SANDBOX__V1__AUDIT_STATS_REQUEST__INIT;
	const char *sandbox = req.sandbox_id;
	int ret;

	ret = flag_value(c, argc, argv, "--sandbox", &sandbox);
	if (ret != AFCTL_OK)
		return ret;
	req.sandbox_id = (char *)sandbox;
	return call_emit(c, SVC "GetAuditStats", &req.base,
			 &sandbox__v1__audit_stats__descriptor, 30, stats_json,
			 NULL, plain_stats);
}

int do_audit(struct ctl *c, int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "tail", do_tail },
		{ "follow", do_follow },
		{ "stats", do_stats },
		{ NULL, NULL },
	};

	return cmd_select(c, cmds, argc, argv, help);
}
