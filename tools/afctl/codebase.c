// SPDX-License-Identifier: Apache-2.0
/* afctl codebase list | show CB | delete CB */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "main.h"
#include "pbjson.h"
#include "rpc.h"
#include "sandbox/v1/common.pb-c.h"

#define SVC "/sandbox.v1.CodebaseService/"

static int help(struct ctl *c, int argc, char **argv)
{
	return obj_usage(c, "codebase { list [--owner ID] | show CB | "
			    "delete CB }");
}

static void plain_list(json_t *a)
{
	size_t i;
	json_t *cb;
	char t[32];

	printf("%-20s %-20s %-12s %8s %12s %s\n", "ID", "NAME", "OWNER",
	       "FILES", "BYTES", "CREATED");
	json_array_foreach(a, i, cb)
		printf("%-20s %-20.20s %-12.12s %8lld %12lld %s\n",
		       jstr(cb, "id"), jstr(cb, "name"), jstr(cb, "owner_id"),
		       jint(cb, "file_count"), jint(cb, "size"),
		       fmt_time(jint(cb, "created_at"), t, sizeof(t)));
}

static int list_page(struct ctl *c, const char *owner, char **token, json_t *a)
{
	Sandbox__V1__ListCodebasesRequest req =
		SANDBOX__V1__LIST_CODEBASES_REQUEST__INIT;
	Sandbox__V1__ListCodebasesResponse *resp;
	char err[1024];
	int code;

	req.owner_id = (char *)owner;
	req.page_size = 1000;
	req.page_token = *token;
	code = rpc_unary(ctl_rpc(c), SVC "ListCodebases", &req.base,
			 &sandbox__v1__list_codebases_response__descriptor,
			 (ProtobufCMessage **)&resp, 30, err, sizeof(err));
	free(*token);
	*token = NULL;
	if (code)
		return rpc_fail(c, code, err);
	for (size_t i = 0; i < resp->n_codebases; i++)
		json_array_append_new(a, codebase_json(resp->codebases[i]));
	if (resp->next_page_token[0])
		*token = strdup(resp->next_page_token);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return AFCTL_OK;
}

static int do_list(struct ctl *c, int argc, char **argv)
{
	const char *owner = "";
	char *token;
	json_t *a;
	int ret = AFCTL_OK;

	while (argc > 0) {
		if (strcmp(*argv, "--owner"))
			return BAD_ARG();
		NEXT_ARG();
		REQ_ARGS(1);
		owner = *argv;
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
		ret = list_page(c, owner, &token, a);
	if (ret != AFCTL_OK) {
		json_decref(a);
		return ret;
	}
	return emit(c, a, plain_list);
}

static void plain_show(json_t *cb)
{
	char t[32];

	printf("%s: %s\n", jstr(cb, "id"), jstr(cb, "name"));
	printf("  owner    %s\n", jstr(cb, "owner_id"));
	printf("  files    %lld (%lld bytes)\n", jint(cb, "file_count"),
	       jint(cb, "size"));
	printf("  created  %s\n",
	       fmt_time(jint(cb, "created_at"), t, sizeof(t)));
	printf("  updated  %s\n",
	       fmt_time(jint(cb, "updated_at"), t, sizeof(t)));
}

static int do_show(struct ctl *c, int argc, char **argv)
{
	Sandbox__V1__GetCodebaseRequest req =
		SANDBOX__V1__GET_CODEBASE_REQUEST__INIT;
	Sandbox__V1__Codebase *cb;
	char err[1024];
	json_t *o;
	int code;

	REQ_ARGS(1);
	if (argc > 1)
		return usage_err(c, "unexpected argument '%s'", argv[1]);
	req.codebase_id = argv[0];
	code = rpc_unary(ctl_rpc(c), SVC "GetCodebase", &req.base,
			 &sandbox__v1__codebase__descriptor,
			 (ProtobufCMessage **)&cb, 30, err, sizeof(err));
	if (code)
		return rpc_fail(c, code, err);
	o = codebase_json(cb);
	protobuf_c_message_free_unpacked(&cb->base, NULL);
	return emit(c, o, plain_show);
}

static void plain_deleted(json_t *o)
{
	printf("%s: deleted\n", jstr(o, "id"));
}

static int do_delete(struct ctl *c, int argc, char **argv)
{
	Sandbox__V1__DeleteCodebaseRequest req =
		SANDBOX__V1__DELETE_CODEBASE_REQUEST__INIT;
	ProtobufCMessage *resp;
	char err[1024];
	int code;

	REQ_ARGS(1);
	if (argc > 1)
		return usage_err(c, "unexpected argument '%s'", argv[1]);
	req.codebase_id = argv[0];
	code = rpc_unary(ctl_rpc(c), SVC "DeleteCodebase", &req.base,
			 &sandbox__v1__empty__descriptor, &resp, 60, err,
			 sizeof(err));
	if (code)
		return rpc_fail(c, code, err);
	protobuf_c_message_free_unpacked(resp, NULL);
	return emit(c, json_pack("{s:s, s:b}", "id", argv[0], "deleted", 1),
		    plain_deleted);
}

int do_codebase(struct ctl *c, int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "list", do_list },
		{ "show", do_show },
		{ "delete", do_delete },
		{ NULL, NULL },
	};

	return cmd_select(c, cmds, argc, argv, help);
}
