// SPDX-License-Identifier: Apache-2.0
#define LOG_MOD "api"
#include "svc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/policy.h"
#include "agentfense/util.h"
#include "sandbox/v1/codebase.pb-c.h"
#include "server.h"

#define DEFAULT_PAGE 100
#define MAX_PAGE     1000

struct registry *svc_registry(struct api_call *c)
{
	return c->srv->reg;
}

void svc_free(ProtobufCMessage *m)
{
	if (m)
		protobuf_c_message_free_unpacked(m, NULL);
}

void svc_freep(void *pmsg)
{
	svc_free(*(ProtobufCMessage **)pmsg);
}

ProtobufCMessage *svc_clone(const ProtobufCMessage *m,
			    const ProtobufCMessageDescriptor *d)
{
	size_t len = protobuf_c_message_get_packed_size(m);
	_cleanup_free_ uint8_t *buf = malloc(len ? len : 1);

	if (!buf)
		return NULL;
	protobuf_c_message_pack(m, buf);
	return protobuf_c_message_unpack(d, NULL, len, buf);
}

static Sandbox__V1__PermissionRule *rule_new(const char *pattern, int type,
					     int perm, int32_t priority)
{
	Sandbox__V1__PermissionRule *r = malloc(sizeof(*r));

	if (!r)
		return NULL;
	sandbox__v1__permission_rule__init(r);
	r->pattern = strdup(pattern);
	if (!r->pattern) {
		free(r);
		return NULL;
	}
	r->type = type;
	r->permission = perm;
	r->priority = priority;
	return r;
}

Sandbox__V1__PermissionRule *svc_rule_from_policy(const struct af_rule *r)
{
	return rule_new(r->pattern, (int)r->type, (int)r->perm, r->priority);
}

Sandbox__V1__PermissionRule *svc_rule_dup(const Sandbox__V1__PermissionRule *r)
{
	return rule_new(r->pattern, r->type, r->permission, r->priority);
}

void svc_rules_free(Sandbox__V1__PermissionRule **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		svc_free(v[i] ? &v[i]->base : NULL);
	free(v);
}

struct af_rule *svc_policy_rules(Sandbox__V1__PermissionRule *const *rules,
				 size_t n)
{
	struct af_rule *v = calloc(n ? n : 1, sizeof(*v));

	for (size_t i = 0; v && i < n; i++) {
		v[i].pattern = rules[i]->pattern;
		v[i].type = (enum af_pattern_type)rules[i]->type;
		v[i].perm = (enum af_perm)rules[i]->permission;
		v[i].priority = rules[i]->priority;
	}
	return v;
}

int svc_compile_rules(Sandbox__V1__PermissionRule *const *rules, size_t n,
		      struct af_matcher **m, char *err, size_t errlen)
{
	_cleanup_free_ struct af_rule *v = svc_policy_rules(rules, n);
	struct af_policy *p = NULL;
	int r;

	if (!v)
		return -ENOMEM;
	r = af_policy_new(v, n, &p, err, errlen);
	if (r == 0)
		r = af_policy_compile(p, m, err, errlen);
	af_policy_free(p);
	return r;
}

int svc_validate_rules(Sandbox__V1__PermissionRule *const *rules, size_t n,
		       char *err, size_t errlen)
{
	struct af_matcher *m = NULL;
	/* Compiled too, so a policy over the matcher's budget fails now. */
	int r = svc_compile_rules(rules, n, &m, err, errlen);

	af_matcher_free(m);
	return r;
}

size_t svc_page_limit(int32_t page_size)
{
	if (page_size <= 0)
		return DEFAULT_PAGE;
	return page_size > MAX_PAGE ? MAX_PAGE : (size_t)page_size;
}

bool svc_check_id(struct api_call *c, const char *field, const char *prefix,
		  const char *id, bool required)
{
	if (!id || !id[0]) {
		if (!required)
			return true;
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"%s is required", field);
		return false;
	}
	if (af_id_valid(prefix, id))
		return true;
	api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
			"%s \"%.64s\" is malformed: ids are %s followed by %d "
			"hex digits",
			field, id, prefix, AF_ID_HEX_LEN);
	return false;
}

void svc_finish_oom(struct api_call *c)
{
	api_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory");
}

void svc_reply_owned(struct api_call *c, ProtobufCMessage *m)
{
	if (!m) {
		svc_finish_oom(c);
		return;
	}
	api_call_reply(c, m);
	svc_free(m);
}

bool svc_check_sandbox_id(struct api_call *c, const char *id)
{
	return svc_check_id(c, "sandbox_id", "sb_", id, true);
}

void svc_finish_sandbox_gone(struct api_call *c, const char *id)
{
	api_call_finish(c, GRPC_STATUS_NOT_FOUND, "sandbox %s not found", id);
}

struct sb_entry *svc_get_sandbox(struct api_call *c, const char *id)
{
	struct sb_entry *e = registry_get(svc_registry(c), id);

	if (!e)
		svc_finish_sandbox_gone(c, id);
	return e;
}

struct sb_entry *svc_find_sandbox(struct api_call *c, const char *id)
{
	if (!svc_check_sandbox_id(c, id))
		return NULL;
	return svc_get_sandbox(c, id);
}

void svc_finish_codebase_error(struct api_call *c, int err, const char *id)
{
	if (err == -ENOENT)
		api_call_finish(c, GRPC_STATUS_NOT_FOUND,
				"codebase %s not found", id);
	else
		api_call_finish(c, api_status_from_errno(err),
				"codebase %s: %s", id, strerror(-err));
}

Sandbox__V1__Sandbox *svc_sandbox_copy(struct sb_entry *e)
{
	Sandbox__V1__Sandbox *copy;

	pthread_mutex_lock(&e->lock);
	copy = (Sandbox__V1__Sandbox *)svc_clone(
		&e->rec->base, &sandbox__v1__sandbox__descriptor);
	pthread_mutex_unlock(&e->lock);
	return copy;
}

void svc_reply_sandbox(struct api_call *c, struct registry *reg, const char *id)
{
	struct sb_entry *e = registry_get(reg, id);
	Sandbox__V1__Sandbox *copy;

	if (!e) {
		svc_finish_sandbox_gone(c, id);
		return;
	}
	copy = svc_sandbox_copy(e);
	registry_put(reg, e);
	svc_reply_owned(c, copy ? &copy->base : NULL);
}

void svc_stream_file(struct api_call *c, int fd, uint8_t *buf, int64_t off,
		     int64_t len)
{
	for (int64_t left = len ? len : INT64_MAX; left > 0;) {
		Sandbox__V1__FileChunk chunk = SANDBOX__V1__FILE_CHUNK__INIT;
		size_t want = left < SVC_CHUNK ? (size_t)left : SVC_CHUNK;
		ssize_t n = pread(fd, buf, want, off);

		if (n < 0) {
			api_call_finish(c, GRPC_STATUS_INTERNAL,
					"read failed: %s", strerror(errno));
			return;
		}
		if (n == 0)
			break;
		chunk.data.data = buf;
		chunk.data.len = (size_t)n;
		if (api_call_write(c, &chunk.base) < 0)
			return; /* client gone */
		off += n;
		left -= n;
	}
	api_call_finish(c, GRPC_STATUS_OK, "%s", "");
}
