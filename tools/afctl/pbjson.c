// SPDX-License-Identifier: Apache-2.0
/* Wire messages as the JSON afctl prints (and its plain output reads). */
#include <stdio.h>
#include <string.h>

#include "pbjson.h"

static const char *const statuses[] = { "UNSPECIFIED", "PENDING", "RUNNING",
					"STOPPED", "ERROR" };
static const char *const levels[] = { "unspecified", "none", "view", "read",
				      "write" };
static const char *const types[] = { "glob", "glob", "directory", "file" };

#define NAME(tab, i) \
	((i) >= 0 && (size_t)(i) < sizeof(tab) / sizeof(tab[0]) ? tab[i] : "?")

json_t *ts_json(const Google__Protobuf__Timestamp *t)
{
	return json_integer(t ? t->seconds : 0);
}

const char *level_name(int perm)
{
	return NAME(levels, perm);
}

json_t *rule_json(const Sandbox__V1__PermissionRule *r, int index)
{
	return json_pack("{s:i, s:s, s:s, s:s, s:i}", "index", index, "pattern",
			 r->pattern, "type", NAME(types, (int)r->type),
			 "permission", level_name((int)r->permission),
			 "priority", r->priority);
}

json_t *rules_json(Sandbox__V1__PermissionRule *const *rules, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < n; i++)
		json_array_append_new(a, rule_json(rules[i], (int)i));
	return a;
}

json_t *sandbox_json(const Sandbox__V1__Sandbox *s, bool full)
{
	json_t *labels = json_object();
	const char *audit = "denied";
	json_t *o;

	for (size_t i = 0; labels && i < s->n_labels; i++) {
		json_object_set_new(labels, s->labels[i]->key,
				    json_string(s->labels[i]->value));
		if (!strcmp(s->labels[i]->key, "agentfense.audit"))
			audit = s->labels[i]->value;
	}
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s}",
		      "id", s->id, "codebase_id", s->codebase_id, "status",
		      NAME(statuses, (int)s->status), "enforcer", s->enforcer,
		      "status_message", s->status_message, "created_at",
		      ts_json(s->created_at), "started_at",
		      ts_json(s->started_at), "stopped_at",
		      ts_json(s->stopped_at), "expires_at",
		      ts_json(s->expires_at), "audit_level", audit);
	if (!o || !full) {
		json_decref(labels);
		return o;
	}
	json_object_set_new(o, "labels", labels);
	json_object_set_new(
		o, "runtime",
		json_string(s->runtime == 2 ? "docker" : "namespace"));
	json_object_set_new(o, "image", json_string(s->image));
	if (s->resources)
		json_object_set_new(
			o, "resources",
			json_pack("{s:I, s:I, s:I, s:I}", "memory_bytes",
				  (json_int_t)s->resources->memory_bytes,
				  "cpu_quota",
				  (json_int_t)s->resources->cpu_quota,
				  "cpu_shares",
				  (json_int_t)s->resources->cpu_shares,
				  "pids_limit",
				  (json_int_t)s->resources->pids_limit));
	json_object_set_new(o, "permissions",
			    rules_json(s->permissions, s->n_permissions));
	return o;
}

json_t *codebase_json(const Sandbox__V1__Codebase *cb)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:i, s:o, s:o}", "id", cb->id,
			 "name", cb->name, "owner_id", cb->owner_id, "size",
			 (json_int_t)cb->size, "file_count", cb->file_count,
			 "created_at", ts_json(cb->created_at), "updated_at",
			 ts_json(cb->updated_at));
}
