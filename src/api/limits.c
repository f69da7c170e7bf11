// SPDX-License-Identifier: Apache-2.0
/* Resolving a sandbox's resource limits against the server's policy. */
#define LOG_MOD "api"
#include "limits.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>

#include "agentfense/log.h"
#include "agentfense/runtime.h"

struct field {
	const char *name; /* as on the wire */
	int64_t req;	  /* 0: not asked for */
	uint64_t def, max, min, top;
	size_t off; /* the member of struct cg_limits it becomes */
};

static int resolve_one(const struct api_config *cfg, struct field *f,
		       int64_t *out, char *err, size_t errlen)
{
	uint64_t v = f->req ? (uint64_t)f->req : f->def;
	struct cg_limits only = { 0 };

	if (f->req && (v < f->min || (f->top && v > f->top))) {
		snprintf(err, errlen, "%s must be %s %" PRIu64, f->name,
			 v < f->min ? "at least" : "at most",
			 v < f->min ? f->min : f->top);
		return -EINVAL;
	}
	if (f->max && v > f->max) {
		snprintf(err, errlen,
			 "%s %" PRIu64 " is above this server's maximum of "
			 "%" PRIu64,
			 f->name, v, f->max);
		return -EINVAL;
	}
	/* No limit at all would be above the maximum too. */
	if (!v)
		v = f->max;
	*(uint64_t *)((char *)&only + f->off) = v;
	if (v && cfg->rt && rt_check_limits(cfg->rt, &only, err, errlen) < 0) {
		if (f->req)
			return -EOPNOTSUPP;
		/* A server default the host cannot enforce is left out. */
		log_debug("default %s not applied: %s", f->name, err);
		v = 0;
	}
	*out = (int64_t)v;
	return 0;
}

int limits_resolve(const struct api_config *cfg,
		   const Sandbox__V1__ResourceLimits *req,
		   Sandbox__V1__ResourceLimits *out, char *err, size_t errlen)
{
	const Sandbox__V1__ResourceLimits none =
		SANDBOX__V1__RESOURCE_LIMITS__INIT;
	struct field f[] = {
		{ "memory_bytes", 0, cfg->default_memory, cfg->max_memory,
		  LIMITS_MIN_MEMORY, 0,
		  offsetof(struct cg_limits, memory_bytes) },
		{ "pids_limit", 0, cfg->default_pids, cfg->max_pids,
		  LIMITS_MIN_PIDS, 0, offsetof(struct cg_limits, pids_max) },
		{ "cpu_quota", 0, cfg->default_cpu_quota, cfg->max_cpu_quota,
		  LIMITS_MIN_CPU_QUOTA, 0,
		  offsetof(struct cg_limits, cpu_quota_us) },
		{ "cpu_shares", 0, 0, 0, LIMITS_MIN_SHARES, LIMITS_MAX_SHARES,
		  offsetof(struct cg_limits, cpu_shares) },
	};
	int64_t *slots[] = { &out->memory_bytes, &out->pids_limit,
			     &out->cpu_quota, &out->cpu_shares };
	int r;

	if (!req)
		req = &none;
	f[0].req = req->memory_bytes;
	f[1].req = req->pids_limit;
	f[2].req = req->cpu_quota;
	f[3].req = req->cpu_shares;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		r = resolve_one(cfg, &f[i], slots[i], err, errlen);
		if (r < 0)
			return r;
	}
	return 0;
}

void limits_to_cgroup(const Sandbox__V1__ResourceLimits *r,
		      struct cg_limits *out)
{
	*out = (struct cg_limits){ 0 };
	if (!r)
		return;
	out->memory_bytes = r->memory_bytes > 0 ? (uint64_t)r->memory_bytes : 0;
	out->pids_max = r->pids_limit > 0 ? (uint64_t)r->pids_limit : 0;
	out->cpu_quota_us = r->cpu_quota > 0 ? (uint64_t)r->cpu_quota : 0;
	out->cpu_shares = r->cpu_shares > 0 ? (uint64_t)r->cpu_shares : 0;
}
