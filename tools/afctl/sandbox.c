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

/* One page of ListSandboxes into a; its next page token, or an error. */
static int list_page(struct ctl *c, const char *codebase, char **token,
		     json_t *a)
{
	Sandbox__V1__ListSandboxesRequest req =
		SANDBOX__V1__LIST_SANDBOXES_REQUEST__INIT;
	Sandbox__V1__ListSandboxesResponse *resp;
	char err[1024];
	int code;

	req.codebase_id = (char *)codebase;
	req.page_size = 1000;
	req.page_token = *token;
	code = rpc_unary(ctl_rpc(c), SVC "ListSandboxes", &req.base,
			 &sandbox__v1__list_sandboxes_response__descriptor,
			 (ProtobufCMessage **)&resp, 30, err, sizeof(err));
	free(*token);
	*token = NULL;
	if (code)
		return rpc_fail(c, code, err);
	for (size_t i = 0; i < resp->n_sandboxes; i++)
		json_array_append_new(a,
				      sandbox_json(resp->sandboxes[i], false));
	if (resp->next_page_token[0])
		*token = strdup(resp->next_page_token);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return AFCTL_OK;
}

static int do_list(struct ctl *c, int argc, char **argv)
{
	const char *codebase = "";
	char *token;
	json_t *a;
	int ret = AFCTL_OK;

	while (argc > 0) {
		if (strcmp(*argv, "--codebase"))
			return BAD_ARG();
		NEXT_ARG();
		REQ_ARGS(1);
		codebase = *argv;
		NEXT_ARG();
	}
	token = strdup("");
	a = json_array();
	if (!token || !a) {
		free(token);
		json_decref(a);
		return p_err(c, AFCTL_ERR, "out of memory");
	}
	while (token && ret == AFCTL_OK)
		ret = list_page(c, codebase, &token, a);
	if (ret != AFCTL_OK) {
		json_decref(a);
		return ret;
	}
	return emit(c, a, plain_list);
}

/* GetSandbox as JSON (full), or NULL with the error printed in *ret. */
json_t *sandbox_get(struct ctl *c, const char *id, int *ret)
{
	Sandbox__V1__GetSandboxRequest req =
		SANDBOX__V1__GET_SANDBOX_REQUEST__INIT;
	Sandbox__V1__Sandbox *s;
	char err[1024];
	json_t *o;
	int code;

	req.sandbox_id = (char *)id;
	code = rpc_unary(ctl_rpc(c), SVC "GetSandbox", &req.base,
			 &sandbox__v1__sandbox__descriptor,
			 (ProtobufCMessage **)&s, 30, err, sizeof(err));
	if (code) {
		*ret = rpc_fail(c, code, err);
		return NULL;
	}
	o = sandbox_json(s, true);
	protobuf_c_message_free_unpacked(&s->base, NULL);
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

	REQ_ARGS(1);
	if (argc > 1)
		return usage_err(c, "unexpected argument '%s'", argv[1]);
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
	Sandbox__V1__Sandbox *s;
	char err[1024];
	json_t *o;
	int code;

	REQ_ARGS(1);
	if (argc > 1)
		return usage_err(c, "unexpected argument '%s'", argv[1]);
	req.sandbox_id = argv[0];
	code = rpc_unary(ctl_rpc(c), SVC "StopSandbox", &req.base,
			 &sandbox__v1__sandbox__descriptor,
			 (ProtobufCMessage **)&s, 120, err, sizeof(err));
	if (code)
		return rpc_fail(c, code, err);
	o = sandbox_json(s, false);
	protobuf_c_message_free_unpacked(&s->base, NULL);
	return emit(c, o, plain_state);
}

static void plain_destroyed(json_t *o)
{
	printf("%s: destroyed\n", jstr(o, "id"));
}

static int do_destroy(struct ctl *c, int argc, char **argv)
{
	Sandbox__V1__DestroySandboxRequest req =
		SANDBOX__V1__DESTROY_SANDBOX_REQUEST__INIT;
	ProtobufCMessage *resp;
	char err[1024];
	int code;

	REQ_ARGS(1);
	if (argc > 1)
		return usage_err(c, "unexpected argument '%s'", argv[1]);
	req.sandbox_id = argv[0];
	code = rpc_unary(ctl_rpc(c), SVC "DestroySandbox", &req.base,
			 &sandbox__v1__empty__descriptor, &resp, 120, err,
			 sizeof(err));
	if (code)
		return rpc_fail(c, code, err);
	protobuf_c_message_free_unpacked(resp, NULL);
	return emit(c, json_pack("{s:s, s:b}", "id", argv[0], "destroyed", 1),
		    plain_destroyed);
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
