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

static int list_page(struct ctl *c, const char *owner, const char *token,
		     json_t *a, char **next)
{
	Sandbox__V1__ListCodebasesRequest req =
		SANDBOX__V1__LIST_CODEBASES_REQUEST__INIT;
	Sandbox__V1__ListCodebasesResponse *resp;
	char err[1024];
	int code;

	req.owner_id = (char *)owner;
	req.page_size = 1000;
	req.page_token = (char *)token;
	code = rpc_unary(ctl_rpc(c), SVC "ListCodebases", &req.base,
			 &sandbox__v1__list_codebases_response__descriptor,
			 (ProtobufCMessage **)&resp, 30, err, sizeof(err));
	if (code)
		return rpc_fail(c, code, err);
	for (size_t i = 0; i < resp->n_codebases; i++)
		json_array_append_new(a, codebase_json(resp->codebases[i]));
	if (resp->next_page_token[0])
		*next = strdup(resp->next_page_token);
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return AFCTL_OK;
}

static int do_list(struct ctl *c, int argc, char **argv)
{
	return list_all(c, argc, argv, "--owner", list_page, plain_list);
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

static json_t *shown(const ProtobufCMessage *cb, const void *ud)
{
	return codebase_json((const Sandbox__V1__Codebase *)cb);
}

static int do_show(struct ctl *c, int argc, char **argv)
{
	Sandbox__V1__GetCodebaseRequest req =
		SANDBOX__V1__GET_CODEBASE_REQUEST__INIT;

	ONLY_ARGS(1);
	req.codebase_id = argv[0];
	return call_emit(c, SVC "GetCodebase", &req.base,
			 &sandbox__v1__codebase__descriptor, 30, shown, NULL,
			 plain_show);
}

static json_t *deleted(const ProtobufCMessage *empty, const void *id)
{
	return json_pack("{s:s, s:b}", "id", (const char *)id, "deleted", 1);
}

static void plain_deleted(json_t *o)
{
	printf("%s: deleted\n", jstr(o, "id"));
}

static int do_delete(struct ctl *c, int argc, char **argv)
{
	Sandbox__V1__DeleteCodebaseRequest req =
		SANDBOX__V1__DELETE_CODEBASE_REQUEST__INIT;

	ONLY_ARGS(1);
	req.codebase_id = argv[0];
	return call_emit(c, SVC "DeleteCodebase", &req.base,
			 &sandbox__v1__empty__descriptor, 60, deleted, argv[0],
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
