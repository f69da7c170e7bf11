/* SPDX-License-Identifier: Apache-2.0 */
/*
 * afctl: the admin CLI, structured like bpftool. `afctl OBJECT VERB [ARGS]`:
 * one file per object, each ending in a command table dispatched by
 * cmd_select() (any unambiguous prefix of a name works: `afctl sa l`), the
 * NEXT_ARG/REQ_ARGS helpers for arguments, one error printer for plain and
 * JSON output, and every command printing either from the same data (a
 * jansson value).
 */
#ifndef AFCTL_MAIN_H
#define AFCTL_MAIN_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rpc;

/* Exit statuses. */
#define AFCTL_OK	  0
#define AFCTL_ERR	  1 /* the operation failed (not found, refused...) */
#define AFCTL_USAGE	  2 /* bad command line */
#define AFCTL_UNREACHABLE 3 /* the daemon cannot be reached */

struct ctl {
	bool json, pretty;
	bool quiet;	    /* p_err prints nothing (a probe that may fail) */
	const char *target; /* gRPC target: "unix:/path" or "host:port" */
	struct rpc *rpc;    /* opened on first use */
	const char *argv0;
};

struct cmd {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
};

/*
 * Run the command of cmds that argv[0] names or is an unambiguous prefix
 * of, with the arguments after it; help prints the object's usage.
 */
int cmd_select(struct ctl *c, const struct cmd *cmds, int argc, char **argv,
	       int (*help)(struct ctl *c, int argc, char **argv));

/* Argument helpers: argc and argv are the command's own. */
#define NEXT_ARG()      \
	({              \
		argc--; \
		argv++; \
	})
#define REQ_ARGS(n)                                                         \
	({                                                                  \
		if (argc < (n))                                             \
			return usage_err(c, "expected %d more argument(s)", \
					 (n)-argc);                         \
	})
#define BAD_ARG() usage_err(c, "unexpected argument '%s'", *argv)
/* Exactly n arguments. */
#define ONLY_ARGS(n)                                                    \
	({                                                              \
		REQ_ARGS(n);                                            \
		if (argc > (n))                                         \
			return usage_err(c, "unexpected argument '%s'", \
					 argv[n]);                      \
	})
/*
 * Options that are only `FLAG VALUE` (repeatable, the last one counts):
 * AFCTL_OK with *value set when given, else the usage error's status.
 */
int flag_value(struct ctl *c, int argc, char **argv, const char *flag,
	       const char **value);

/* Errors: "Error: ..." on stderr, or {"error": "..."} on stdout with -j. */
int p_err(struct ctl *c, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int usage_err(struct ctl *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* An object's usage line ("sandbox { list | ... }"), as an error. */
int obj_usage(struct ctl *c, const char *text);

/* Print v (and free it): as JSON with -j/-p, else with plain(v). */
int emit(struct ctl *c, json_t *v, void (*plain)(json_t *v));
/* One line of a stream: a compact JSON line with -j, else plain(v). */
void emit_line(struct ctl *c, json_t *v, void (*plain)(json_t *v));

/* "2026-11-27T14:42:01Z" for seconds since the epoch (0: "-"). */
const char *fmt_time(int64_t secs, char *buf, size_t len);
/* Parse a time: RFC 3339 "2026-11-27T14:42:01Z", or "-5m" / "-2h" ago. */
int parse_time(const char *s, int64_t *secs);
/* Getters that never fail (missing members read as 0 / ""). */
const char *jstr(json_t *o, const char *key);
long long jint(json_t *o, const char *key);

/* The daemon connection (rpc.c), opened on first use. */
struct rpc *ctl_rpc(struct ctl *c);
/* An RPC status as an error message and exit status. */
int rpc_fail(struct ctl *c, int code, const char *details);

/*
 * One unary call whose answer (of type d) to_json(answer, ud) turns into
 * *out: AFCTL_OK (*out NULL when out of memory), or the call's error
 * printed and its status.
 */
typedef json_t *(*answer_json_fn)(const ProtobufCMessage *answer,
				  const void *ud);
int call_json(struct ctl *c, const char *method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *d, int timeout_s,
	      answer_json_fn to_json, const void *ud, json_t **out);
/* call_json, then emit with plain. */
int call_emit(struct ctl *c, const char *method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *d, int timeout_s,
	      answer_json_fn to_json, const void *ud, void (*plain)(json_t *v));
/*
 * `list [FLAG VALUE]`: every page of a paged List call into one array,
 * emitted with plain. page(c, value, token, a, next) makes one call
 * ("" value: no filter; "" token: the first page), appends to a, and sets
 * *next (malloc'd) when there is a next page.
 */
typedef int (*list_page_fn)(struct ctl *c, const char *value, const char *token,
			    json_t *a, char **next);
int list_all(struct ctl *c, int argc, char **argv, const char *flag,
	     list_page_fn page, void (*plain)(json_t *a));

/* The daemon's Health as JSON, or NULL with the error printed (*ret). */
json_t *health_json(struct ctl *c, int *ret);

/* GetSandbox as JSON with its rules, or NULL with the error printed. */
json_t *sandbox_get(struct ctl *c, const char *id, int *ret);

/* Objects. */
int do_feature(struct ctl *c, int argc, char **argv);
int do_sandbox(struct ctl *c, int argc, char **argv);
int do_codebase(struct ctl *c, int argc, char **argv);
int do_policy(struct ctl *c, int argc, char **argv);
int do_audit(struct ctl *c, int argc, char **argv);
int do_prog(struct ctl *c, int argc, char **argv);
int do_map(struct ctl *c, int argc, char **argv);
int do_health(struct ctl *c, int argc, char **argv);

#endif
