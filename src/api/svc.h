/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the service handlers. */
#ifndef AF_API_SVC_H
#define AF_API_SVC_H

#include "call.h"
#include "agentfense/runtime.h"
#include "registry.h"
#include "sandbox/v1/common.pb-c.h"
#include "sandbox/v1/sandbox.pb-c.h"

struct af_rule;

struct registry *svc_registry(struct api_call *c);

/* Messages owned by protobuf-c's default allocator. */
void svc_free(ProtobufCMessage *m);
void svc_freep(void *pmsg);
ProtobufCMessage *svc_clone(const ProtobufCMessage *m,
			    const ProtobufCMessageDescriptor *d);

Sandbox__V1__PermissionRule *svc_rule_from_policy(const struct af_rule *r);
Sandbox__V1__PermissionRule *svc_rule_dup(const Sandbox__V1__PermissionRule *r);
void svc_rules_free(Sandbox__V1__PermissionRule **v, size_t n);
struct af_matcher;
/* Wire rules validated and compiled (err names a bad rule). */
int svc_compile_rules(Sandbox__V1__PermissionRule *const *rules, size_t n,
		      struct af_matcher **m, char *err, size_t errlen);
/* -EINVAL with err naming the rule; wire rules to policy rules. */
int svc_validate_rules(Sandbox__V1__PermissionRule *const *rules, size_t n,
		       char *err, size_t errlen);
/* Wire rules as policy rules (pointers into the wire messages). */
struct af_rule *svc_policy_rules(Sandbox__V1__PermissionRule *const *rules,
				 size_t n);

size_t svc_page_limit(int32_t page_size);

/* RESOURCE_EXHAUSTED "out of memory". */
void svc_finish_oom(struct api_call *c);
/* Answer with m and free it; m NULL (a failed copy) is out of memory. */
void svc_reply_owned(struct api_call *c, ProtobufCMessage *m);

/* Each answers the call itself when it returns false / NULL. */
bool svc_check_sandbox_id(struct api_call *c, const char *id);
/* An id of the given prefix ("sb_", "cb_", "sess_"); "" allowed unless
 * required. */
bool svc_check_id(struct api_call *c, const char *field, const char *prefix,
		  const char *id, bool required);
struct sb_entry *svc_get_sandbox(struct api_call *c, const char *id);
/* svc_check_sandbox_id, then svc_get_sandbox. */
struct sb_entry *svc_find_sandbox(struct api_call *c, const char *id);
void svc_finish_sandbox_gone(struct api_call *c, const char *id);
void svc_finish_codebase_error(struct api_call *c, int err, const char *id);

Sandbox__V1__Sandbox *svc_sandbox_copy(struct sb_entry *e);
void svc_reply_sandbox(struct api_call *c, struct registry *reg,
		       const char *id);

void svc_exec(struct api_call *c);
void svc_exec_stream(struct api_call *c);
void svc_create_session(struct api_call *c);
void svc_get_session(struct api_call *c);
void svc_list_sessions(struct api_call *c);
void svc_destroy_session(struct api_call *c);
void svc_session_exec(struct api_call *c);
void svc_session_exec_stream(struct api_call *c);

struct rt_exec_res;
enum rt_stream;
/* After rt_exec/rt_session_exec: answers errors, true when res is good. */
bool svc_exec_outcome(struct api_call *c, int r, const struct rt_exec_res *res,
		      uint64_t timeout_ms);
/* A good result: an ExecResult, or (streaming) the final ExecOutput. */
void svc_answer_exec(struct api_call *c, const struct rt_exec_res *res,
		     bool streaming);
/* rt_exec_req callbacks; ud is the struct api_call. */
bool svc_exec_cancelled(void *ud);
int svc_exec_output(void *ud, enum rt_stream s, const void *data, size_t len);
/*
 * "K=V" strings from a wire env map (any map<string,string> entry array);
 * answers the call and returns false on bad input. Free with
 * svc_env_free.
 */
bool svc_env_strings(struct api_call *c, void *const *entries, size_t n,
		     char ***out);
void svc_env_free(char **env, size_t n);
/*
 * The audit level a sandbox's labels ask for (AUDIT_LABEL; audit_svc.c):
 * svc_check_audit_label says why a value is not one, svc_audit_level
 * reads it from a valid record.
 */
bool svc_check_audit_label(void *const *labels, size_t n, char *err,
			   size_t errlen);
int svc_audit_level(void *const *labels, size_t n);

/*
 * Stream len bytes of fd (a regular file) from off, len 0 meaning to the
 * end, as FileChunk messages through buf (SVC_CHUNK bytes), then OK.
 */
#define SVC_CHUNK (64 * 1024)
void svc_stream_file(struct api_call *c, int fd, uint8_t *buf, int64_t off,
		     int64_t len);

/*
 * A command to run must not be empty; its timeout (0: the server default)
 * as *ms. Answers the call when either is bad.
 */
bool svc_check_command(struct api_call *c, const char *command,
		       const Google__Protobuf__Duration *timeout, uint64_t *ms);

#endif
