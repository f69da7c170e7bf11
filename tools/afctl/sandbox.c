// SPDX-License-Identifier: Apache-2.0
/* afctl sandbox list | show SB | stop SB | destroy SB */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "main.h"
#include "pbjson.h"
#include "rpc.h"
#include "sandbox/v1/common.pb-c.h"

#define SVC "/sandbox.v1.SandboxService/"

static int help(struct ctl *c, int argc, char **argv)
{
	return obj_usage(c, "sandbox { list [--codebase CB] | show SB | "
			    "stop SB | destroy SB }");
}

static void plain_list(json_t *a)
{
	size_t i;
	json_t *s;
	char t[32];

	printf("%-20s %-8s %-20s %-9s %-7s %s\n", "ID", "STATUS", "CODEBASE",
	       "ENFORCER", "AUDIT", "CREATED");
	json_array_foreach(a, i, s)
		printf("%-20s %-8s %-20s %-9s %-7s %s\n", jstr(s, "id"),
		       jstr(s, "status"), jstr(s, "codebase_id"),
		       *jstr(s, "enforcer") ? jstr(s, "enforcer") : "-",
		       jstr(s, "audit_level"),
		       fmt_time(jint(s, "created_at"), t, sizeof(t)));
}

/* One page of ListSandboxes into a, and its next page token. */
static int list_page(struct ctl *c, const char *codebase, const char *token,
		     json_t *a, char **next)
{
	Sandbox__V1__ListSandboxesRequest req =
		SANDBOX__V1__LIST_SANDBOXES_REQUEST__INIT;
	Sandbox__V1__ListSandboxesResponse *resp;
	char err[1024];
	int code;

	req.codebase_id = (char *)codebase;
	req.page_size = 1000;
	req.page_token = (char *)token;
	code = rpc_unary(ctl_rpc(c), SVC "ListSandboxes", &req.base,
			 &sandbox__v1__list_sandboxes_response__descriptor,
			 (ProtobufCMessage **)&resp, 30, err, sizeof(err));
	if (code)
		return rpc_fail(c, code, err);
	for (size_t i = 0; i < resp->n_sandboxes; i++)
		json_array_append_new(a,
				      sandbox_json(resp->sandboxes[i], false));
	if (resp->next_page_token[0])
		*next = strdup(resp->next_page_token);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return AFCTL_OK;
}

static int do_list(struct ctl *c, int argc, char **argv)
{
	return list_all(c, argc, argv, "--codebase", list_page, plain_list);
}

/* full: the record with its labels, runtime and rules. */
static json_t *full_json(const ProtobufCMessage *s, const void *ud)
{
	return sandbox_json((const Sandbox__V1__Sandbox *)s, true);
}

static json_t *state_json(const ProtobufCMessage *s, const void *ud)
{
	return sandbox_json((const Sandbox__V1__Sandbox *)s, false);
}

/* GetSandbox as JSON (full), or NULL with the error printed in *ret. */
json_t *sandbox_get(struct ctl *c, const char *id, int *ret)
{
	Sandbox__V1__GetSandboxRequest req =
		SANDBOX__V1__GET_SANDBOX_REQUEST__INIT;
	json_t *o = NULL;
	int r;

	req.sandbox_id = (char *)id;
	r = call_json(c, SVC "GetSandbox", &req.base,
		      &sandbox__v1__sandbox__descriptor, 30, full_json, NULL,
		      &o);
	if (r != AFCTL_OK)
		*ret = r;
	return o;
}

static void plain_show(json_t *s)
{
	const char *key;
	json_t *v, *r;
	size_t i;
	char t[32];

	printf("%s: %s\n", jstr(s, "id"), jstr(s, "status"));
	if (*jstr(s, "status_message"))
		printf("  message   %s\n", jstr(s, "status_message"));
	printf("  codebase  %s\n", jstr(s, "codebase_id"));
	printf("  runtime   %s%s%s\n", jstr(s, "runtime"),
	       *jstr(s, "image") ? " " : "", jstr(s, "image"));
	printf("  enforcer  %s\n",
	       *jstr(s, "enforcer") ? jstr(s, "enforcer") : "-");
	printf("  audit     %s\n", jstr(s, "audit_level"));
	printf("  created   %s\n",
	       fmt_time(jint(s, "created_at"), t, sizeof(t)));
	printf("  started   %s\n",
	       fmt_time(jint(s, "started_at"), t, sizeof(t)));
	printf("  stopped   %s\n",
	       fmt_time(jint(s, "stopped_at"), t, sizeof(t)));
	printf("  expires   %s\n",
	       fmt_time(jint(s, "expires_at"), t, sizeof(t)));
	json_object_foreach(json_object_get(s, "labels"), key, v)
		printf("  label     %s=%s\n", key, json_string_value(v));
	printf("  rules     %zu\n",
	       json_array_size(json_object_get(s, "permissions")));
	json_array_foreach(json_object_get(s, "permissions"), i, r)
		printf("    %3lld %-6s %-9s %s (priority %lld)\n",
		       jint(r, "index"), jstr(r, "permission"), jstr(r, "type"),
		       jstr(r, "pattern"), jint(r, "priority"));
}

static int do_show(struct ctl *c, int argc, char **argv)
{
	json_t *o;
	int ret = AFCTL_OK;

	ONLY_ARGS(1);
	o = sandbox_get(c, argv[0], &ret);
	return o ? emit(c, o, plain_show) : ret;
}

static void plain_state(json_t *s)
{
	printf("%s: %s\n", jstr(s, "id"), jstr(s, "status"));
}

static int do_stop(struct ctl *c, int argc, char **argv)
{
	Sandbox__V1__StopSandboxRequest req =
		SANDBOX__V1__STOP_SANDBOX_REQUEST__INIT;

	ONLY_ARGS(1);
	req.sandbox_id = argv[0];
	return call_emit(c, SVC "StopSandbox", &req.base,
			 &sandbox__v1__sandbox__descriptor, 120, state_json,
			 NULL, plain_state);
}

static json_t *destroyed(const ProtobufCMessage *empty, const void *id)
{
	return json_pack("{s:s, s:b}", "id", (const char *)id, "destroyed", 1);
}

static void plain_destroyed(json_t *o)
{
	printf("%s: destroyed\n", jstr(o, "id"));
}

static int do_destroy(struct ctl *c, int argc, char **argv)
{
	Sandbox__V1__DestroySandboxRequest req =
		SANDBOX__V1__DESTROY_SANDBOX_REQUEST__INIT;

	ONLY_ARGS(1);
	req.sandbox_id = argv[0];
	return call_emit(c, SVC "DestroySandbox", &req.base,
			 &sandbox__v1__empty__descriptor, 120, destroyed,
			 argv[0], plain_destroyed);
}

int do_sandbox(struct ctl *c, int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "list", do_list }, { "show", do_show },
		{ "stop", do_stop }, { "destroy", do_destroy },
		{ NULL, NULL },
	};

	return cmd_select(c, cmds, argc, argv, help);
}
