/* SPDX-License-Identifier: Apache-2.0 */
#ifndef AFCTL_PBJSON_H
#define AFCTL_PBJSON_H

#include <jansson.h>
#include <stdbool.h>

#include "sandbox/v1/codebase.pb-c.h"
#include "sandbox/v1/sandbox.pb-c.h"

/* Seconds since the epoch (0 when unset). */
json_t *ts_json(const Google__Protobuf__Timestamp *t);
/* "none", "view", "read", "write" for the wire's Permission. */
const char *level_name(int perm);
json_t *rule_json(const Sandbox__V1__PermissionRule *r, int index);
json_t *rules_json(Sandbox__V1__PermissionRule *const *rules, size_t n);
/* full: labels, runtime, resources and rules too. */
json_t *sandbox_json(const Sandbox__V1__Sandbox *s, bool full);
json_t *codebase_json(const Sandbox__V1__Codebase *cb);

#endif
