/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A sandbox's resource limits: the request's values checked against the
 * server's defaults and maxima (api_config), resolved once at creation into
 * what the sandbox gets. The sandbox record holds the resolved values, so
 * GetSandbox shows what is applied.
 */
#ifndef AF_API_LIMITS_H
#define AF_API_LIMITS_H

#include <stddef.h>

#include "agentfense/api.h"
#include "agentfense/cgroup.h"
#include "sandbox/v1/common.pb-c.h"

/* Smallest values a request may ask for: below them init cannot run. */
#define LIMITS_MIN_MEMORY    (16ull << 20)
#define LIMITS_MIN_PIDS	     8
#define LIMITS_MIN_CPU_QUOTA 1000
#define LIMITS_MIN_SHARES    2
#define LIMITS_MAX_SHARES    262144

/*
 * req may be NULL (all defaults). -EINVAL (a value out of range, err names
 * it) or -EOPNOTSUPP (the host cannot enforce a requested limit).
 */
int limits_resolve(const struct api_config *cfg,
		   const Sandbox__V1__ResourceLimits *req,
		   Sandbox__V1__ResourceLimits *out, char *err, size_t errlen);
/* A record's limits (NULL: none) for the runtime. */
void limits_to_cgroup(const Sandbox__V1__ResourceLimits *r,
		      struct cg_limits *out);

#endif
