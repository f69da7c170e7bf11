// SPDX-License-Identifier: Apache-2.0
/* afctl policy show SB | explain SB PATH [--dir] */
#include <stdio.h>
#include <string.h>

#include "main.h"
#include "pbjson.h"
#include "rpc.h"
#include "sandbox/v1/server.pb-c.h"

#define METHOD	  "/sandbox.v1.ServerService/ExplainPath"
#define WORKSPACE "/workspace"

static int help(struct ctl *c, int argc, char **argv)
{
	return obj_usage(c, "policy { show SB | explain SB PATH [--dir] }");
}

static void plain_show(json_t *o)
{
	json_t *r;
	size_t i;

	printf("%s: %zu rules (later rules win ties)\n", jstr(o, "sandbox_id"),
	       json_array_size(json_object_get(o, "rules")));
	printf("%5s %-6s %-9s %8s  %s\n", "INDEX", "LEVEL", "TYPE", "PRIORITY",
	       "PATTERN");
	json_array_foreach(json_object_get(o, "rules"), i, r)
		printf("%5lld %-6s %-9s %8lld  %s\n", jint(r, "index"),
		       jstr(r, "permission"), jstr(r, "type"),
		       jint(r, "priority"), jstr(r, "pattern"));
}

static int do_show(struct ctl *c, int argc, char **argv)
{
	json_t *sb, *o;
	int ret = AFCTL_OK;

	ONLY_ARGS(1);
	sb = sandbox_get(c, argv[0], &ret);
	if (!sb)
		return ret;
	o = json_pack("{s:s, s:O}", "sandbox_id", argv[0], "rules",
		      json_object_get(sb, "permissions"));
	json_decref(sb);
	return emit(c, o, plain_show);
}

static void plain_explain(json_t *o)
{
	json_t *rule = json_object_get(o, "rule");

	printf("%s: %s\n", jstr(o, "path"), jstr(o, "level"));
	if (json_is_object(rule))
		printf("  rule %lld: %s %s %s (priority %lld)\n",
		       jint(o, "rule_index"), jstr(rule, "type"),
		       jstr(rule, "pattern"), jstr(rule, "permission"),
		       jint(rule, "priority"));
	else
		printf("  no rule decides it\n");
	printf("  because %s\n", jstr(o, "reason"));
}

static json_t *explanation(const ProtobufCMessage *answer, const void *path)
{
	const Sandbox__V1__ExplainPathResponse *r = (const void *)answer;
	json_t *o =
		json_pack("{s:s, s:s, s:i, s:s}", "path", (const char *)path,
			  "level", level_name((int)r->permission), "rule_index",
			  r->rule_index, "reason", r->reason);

	json_object_set_new(o, "rule",
			    r->rule && r->rule_index >= 0
				    ? rule_json(r->rule, r->rule_index)
				    : json_null());
	return o;
}

static int do_explain(struct ctl *c, int argc, char **argv)
{
	Sandbox__V1__ExplainPathRequest req =
		SANDBOX__V1__EXPLAIN_PATH_REQUEST__INIT;
	REQ_ARGS(2);
	req.sandbox_id = argv[0];
	req.path = argv[1];
	/* A path as the sandbox (and the audit trail) shows it works too. */
	if (!strncmp(req.path, WORKSPACE, strlen(WORKSPACE)) &&
	    (req.path[strlen(WORKSPACE)] == '/' ||
	     !req.path[strlen(WORKSPACE)]))
		req.path += strlen(WORKSPACE);
	if (!*req.path)
		req.path = "/";
	NEXT_ARG();
	NEXT_ARG();
	while (argc > 0) {
		if (strcmp(*argv, "--dir"))
			return BAD_ARG();
		req.is_dir = true;
		NEXT_ARG();
	}
	return call_emit(c, METHOD, &req.base,
			 &sandbox__v1__explain_path_response__descriptor, 30,
			 explanation, req.path, plain_explain);
}

int do_policy(struct ctl *c, int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "show", do_show },
		{ "explain", do_explain },
		{ NULL, NULL },
	};

	return cmd_select(c, cmds, argc, argv, help);
}
