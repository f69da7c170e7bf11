// SPDX-License-Identifier: Apache-2.0
/* afctl health: is the daemon up, which enforcer and audit source it runs. */
#include <stdio.h>
#include <string.h>

#include "main.h"
#include "rpc.h"
#include "sandbox/v1/server.pb-c.h"

#define METHOD "/sandbox.v1.ServerService/Health"

static json_t *to_json(const ProtobufCMessage *answer, const void *ud)
{
	const Sandbox__V1__HealthResponse *h = (const void *)answer;

	return json_pack(
		"{s:s, s:s, s:s, s:i, s:i, s:I, s:s, s:s, s:s, s:s, s:I}",
		"version", h->version, "enforcer", h->enforcer,
		"enforcer_reason", h->enforcer_reason, "sandboxes_running",
		h->sandboxes_running, "sandboxes_total", h->sandboxes_total,
		"uptime_seconds", (json_int_t)h->uptime_seconds,
		"cgroup_layout", h->cgroup_layout, "probe_report",
		h->probe_report, "audit_source", h->audit_source,
		"audit_reason", h->audit_reason, "audit_dropped",
		(json_int_t)h->audit_dropped);
}

/* The daemon's Health as JSON, or NULL with the error printed (*ret). */
json_t *health_json(struct ctl *c, int *ret)
{
	Sandbox__V1__HealthRequest req = SANDBOX__V1__HEALTH_REQUEST__INIT;
	json_t *o = NULL;
	int r;

	r = call_json(c, METHOD, &req.base,
		      &sandbox__v1__health_response__descriptor, 10, to_json,
		      NULL, &o);
	if (r != AFCTL_OK)
		*ret = r;
	return o;
}

static void plain(json_t *o)
{
	printf("agentfensed %s: ok, up %llds\n", jstr(o, "version"),
	       jint(o, "uptime_seconds"));
	printf("enforcer:  %s (%s)\n", jstr(o, "enforcer"),
	       jstr(o, "enforcer_reason"));
	printf("sandboxes: %lld running, %lld in all\n",
	       jint(o, "sandboxes_running"), jint(o, "sandboxes_total"));
	printf("cgroups:   %s\n", jstr(o, "cgroup_layout"));
	printf("audit:     %s (%s), %lld events lost\n",
	       jstr(o, "audit_source"), jstr(o, "audit_reason"),
	       jint(o, "audit_dropped"));
}

int do_health(struct ctl *c, int argc, char **argv)
{
	json_t *o;
	int ret = 0;

	/* `afctl health` or `afctl health show`. */
	if (argc > 1 || (argc == 1 && (!*argv[0] || strncmp(argv[0], "show",
							    strlen(argv[0])))))
		return BAD_ARG();
	o = health_json(c, &ret);
	return o ? emit(c, o, plain) : ret;
}
