// SPDX-License-Identifier: Apache-2.0
/* What every object of afctl shares: dispatch, errors, output, time. */
#include <errno.h>
#include <grpc/status.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "main.h"
#include "rpc.h"

static bool is_prefix(const char *pfx, const char *name)
{
	return *pfx && !strncmp(pfx, name, strlen(pfx));
}

int cmd_select(struct ctl *c, const struct cmd *cmds, int argc, char **argv,
	       int (*help)(struct ctl *c, int argc, char **argv))
{
	const struct cmd *found = NULL;
	int matches = 0;

	if (argc < 1)
		return help ? help(c, argc, argv) : usage_err(c, "what?");
	for (const struct cmd *k = cmds; k->name; k++) {
		if (!strcmp(argv[0], k->name)) {
			found = k;
			matches = 1;
			break;
		}
		if (is_prefix(argv[0], k->name)) {
			found = k;
			matches++;
		}
	}
	if (matches > 1)
		return usage_err(c, "'%s' is ambiguous", argv[0]);
	if (!found) {
		if (help && !strcmp(argv[0], "help"))
			return help(c, argc - 1, argv + 1);
		return usage_err(c, "unknown command '%s'", argv[0]);
	}
	return found->fn(c, argc - 1, argv + 1);
}

static void print_error(struct ctl *c, const char *fmt, va_list ap)
{
	char msg[1024];

	if (c->quiet)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (c->json) {
		json_t *o = json_pack("{s:s}", "error", msg);

		json_dumpf(o, stdout, c->pretty ? JSON_INDENT(2) : 0);
		fputc('\n', stdout);
		json_decref(o);
		return;
	}
	fprintf(stderr, "Error: %s\n", msg);
}

int p_err(struct ctl *c, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_error(c, fmt, ap);
	va_end(ap);
	return status;
}

int usage_err(struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	print_error(c, fmt, ap);
	va_end(ap);
	if (!c->json)
		fprintf(stderr, "Try '%s help'.\n", c->argv0);
	return AFCTL_USAGE;
}

int obj_usage(struct ctl *c, const char *text)
{
	if (c->json)
		return p_err(c, AFCTL_USAGE, "usage: %s %s", c->argv0, text);
	fprintf(stderr, "Usage: %s %s\n", c->argv0, text);
	return AFCTL_USAGE;
}

int emit(struct ctl *c, json_t *v, void (*plain)(json_t *v))
{
	if (!v)
		return p_err(c, AFCTL_ERR, "out of memory");
	if (c->json) {
		json_dumpf(v, stdout,
			   (c->pretty ? JSON_INDENT(2) : 0) |
				   JSON_ENSURE_ASCII);
		fputc('\n', stdout);
	} else {
		plain(v);
	}
	json_decref(v);
	return AFCTL_OK;
}

void emit_line(struct ctl *c, json_t *v, void (*plain)(json_t *v))
{
	if (!v)
		return;
	if (c->json) {
		json_dumpf(v, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
		fputc('\n', stdout);
	} else {
		plain(v);
	}
	fflush(stdout);
	json_decref(v);
}

const char *fmt_time(int64_t secs, char *buf, size_t len)
{
	time_t t = (time_t)secs;
	struct tm tm;

	if (!secs || !gmtime_r(&t, &tm)) {
		snprintf(buf, len, "-");
		return buf;
	}
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

int parse_time(const char *s, int64_t *secs)
{
	struct tm tm = { 0 };
	char unit = 0;
	long long n;
	const char *end;

	if (sscanf(s, "-%lld%c", &n, &unit) == 2 && n >= 0) {
		static const char units[] = "smhd";
		static const int64_t mult[] = { 1, 60, 3600, 86400 };
		const char *u = strchr(units, unit);

		if (!u || s[strlen(s) - 1] != unit)
			return -EINVAL;
		*secs = (int64_t)time(NULL) - n * mult[u - units];
		return 0;
	}
	end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (*end && strcmp(end, "Z")))
		return -EINVAL;
	*secs = (int64_t)timegm(&tm);
	return 0;
}

const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

long long jint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	if (json_is_true(v))
		return 1;
	return json_is_integer(v) ? json_integer_value(v) : 0;
}

int flag_value(struct ctl *c, int argc, char **argv, const char *flag,
	       const char **value)
{
	while (argc > 0) {
		if (strcmp(*argv, flag))
			return BAD_ARG();
		NEXT_ARG();
		REQ_ARGS(1);
		*value = *argv;
		NEXT_ARG();
	}
	return AFCTL_OK;
}

struct rpc *ctl_rpc(struct ctl *c)
{
	if (!c->rpc && rpc_open(c->target, &c->rpc) < 0)
		return NULL;
	return c->rpc;
}

int rpc_fail(struct ctl *c, int code, const char *details)
{
	switch (code) {
	case GRPC_STATUS_UNAVAILABLE:
		return p_err(c, AFCTL_UNREACHABLE,
			     "cannot reach agentfensed at %s (is it running? "
			     "-s PATH or $AGENTFENSE_SOCKET name its socket): "
			     "%s",
			     c->target, details);
	case GRPC_STATUS_DEADLINE_EXCEEDED:
		return p_err(c, AFCTL_UNREACHABLE,
			     "agentfensed at %s did not answer in time",
			     c->target);
	case GRPC_STATUS_UNIMPLEMENTED:
		return p_err(c, AFCTL_ERR,
			     "the daemon at %s does not serve this (an older "
			     "version?): %s",
			     c->target, details);
	default:
		return p_err(c, AFCTL_ERR, "%s", details);
	}
}

int call_json(struct ctl *c, const char *method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *d, int timeout_s,
	      answer_json_fn to_json, const void *ud, json_t **out)
{
	ProtobufCMessage *answer;
	char err[1024];
	int code;

	code = rpc_unary(ctl_rpc(c), method, req, d, &answer, timeout_s, err,
			 sizeof(err));
	if (code)
		return rpc_fail(c, code, err);
	*out = to_json(answer, ud);
	protobuf_c_message_free_unpacked(answer, NULL);
	return AFCTL_OK;
}

int call_emit(struct ctl *c, const char *method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *d, int timeout_s,
	      answer_json_fn to_json, const void *ud, void (*plain)(json_t *v))
{
	json_t *o = NULL;
	int ret = call_json(c, method, req, d, timeout_s, to_json, ud, &o);

	return ret == AFCTL_OK ? emit(c, o, plain) : ret;
}

int list_all(struct ctl *c, int argc, char **argv, const char *flag,
	     list_page_fn page, void (*plain)(json_t *a))
{
	const char *value = "";
	char *token;
	json_t *a;
	int ret;

	ret = flag_value(c, argc, argv, flag, &value);
	if (ret != AFCTL_OK)
		return ret;
	token = strdup("");
	a = json_array();
	if (!token || !a) {
		free(token);
		json_decref(a);
		return p_err(c, AFCTL_ERR, "out of memory");
	}
	while (token && ret == AFCTL_OK) {
		char *next = NULL;

		ret = page(c, value, token, a, &next);
		free(token);
		token = next;
	}
	if (ret != AFCTL_OK) {
		free(token);
		json_decref(a);
		return ret;
	}
	return emit(c, a, plain);
}
