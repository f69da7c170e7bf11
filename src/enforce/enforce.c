// SPDX-License-Identifier: Apache-2.0
/*
 * Enforcer selection (probe and degrade, as systemd's bpf-restrict-fs does)
 * and the per-sandbox calls that dispatch to the chosen backend.
 */
#define LOG_MOD "enforce"
#include "agentfense/enforce.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentfense/log.h"
#include "bpf_lsm_internal.h"
#include "enforce_internal.h"

struct enf_ctx {
	enum enf_kind kind;
	struct bpf_lsm *lsm;
	int landlock_abi;
	char ll_why[128]; /* why Landlock is not offered */
	char reason[512];
	char report[1024];
};

int enf_mode_parse(const char *s, enum enf_mode *out)
{
	if (!strcmp(s, "auto"))
		*out = ENF_MODE_AUTO;
	else if (!strcmp(s, "bpf-lsm"))
		*out = ENF_MODE_BPF_LSM;
	else if (!strcmp(s, "landlock"))
		*out = ENF_MODE_LANDLOCK;
	else
		return -EINVAL;
	return 0;
}

static void choose(struct enf_ctx *e, enum enf_mode mode, const char *lsm_why)
{
	if (e->lsm) {
		e->kind = ENF_BPF_LSM;
		snprintf(e->reason, sizeof(e->reason),
			 "LSM BPF programs load and attach on this kernel%s",
			 mode == ENF_MODE_AUTO ? " (auto)" : "");
	} else if (e->landlock_abi && mode != ENF_MODE_BPF_LSM) {
		e->kind = ENF_LANDLOCK;
		snprintf(e->reason, sizeof(e->reason),
			 "%s; Landlock ABI %d is available%s",
			 mode == ENF_MODE_AUTO ? lsm_why : "requested",
			 e->landlock_abi,
			 mode == ENF_MODE_AUTO ? " (auto)" : "");
	} else {
		e->kind = ENF_NONE;
		snprintf(e->reason, sizeof(e->reason), "%s; %s", lsm_why,
			 e->ll_why);
	}
}

int enf_ctx_new(enum enf_mode mode, int sandbox_cg_level, struct enf_ctx **out,
		char *reason, size_t len)
{
	struct enf_ctx *e = calloc(1, sizeof(*e));
	char lsm_why[256] = "not tried";
	int r = 0;

	if (!e)
		return -ENOMEM;
	if (mode != ENF_MODE_LANDLOCK)
		r = bpf_lsm_open(sandbox_cg_level, &e->lsm, lsm_why,
				 sizeof(lsm_why));
	e->landlock_abi = landlock_probe_abi();
	snprintf(e->ll_why, sizeof(e->ll_why), "Landlock is not enabled");
	/*
	 * Before ABI 3 (Linux 6.2) Landlock cannot refuse truncate(2): a
	 * read-only file could be emptied. Not an enforcer we offer.
	 */
	if (e->landlock_abi && e->landlock_abi < 3) {
		snprintf(e->ll_why, sizeof(e->ll_why),
			 "Landlock ABI %d cannot control truncation (ABI 3, "
			 "Linux 6.2, is needed)",
			 e->landlock_abi);
		e->landlock_abi = 0;
	}
	if (e->landlock_abi)
		snprintf(e->ll_why, sizeof(e->ll_why), "available (ABI %d)",
			 e->landlock_abi);
	snprintf(e->report, sizeof(e->report), "bpf-lsm: %s\nlandlock: %s\n",
		 e->lsm ? "available" : lsm_why, e->ll_why);
	choose(e, mode, lsm_why);
	if ((mode == ENF_MODE_BPF_LSM && e->kind != ENF_BPF_LSM) ||
	    (mode == ENF_MODE_LANDLOCK && e->kind != ENF_LANDLOCK)) {
		snprintf(reason, len, "%s enforcer unavailable: %s",
			 mode == ENF_MODE_BPF_LSM ? "bpf-lsm" : "landlock",
			 mode == ENF_MODE_BPF_LSM ? lsm_why : e->ll_why);
		enf_ctx_free(e);
		return r < 0 ? r : -ENOTSUP;
	}
	log_info("enforcer: %s (%s)", enf_name(e), e->reason);
	snprintf(reason, len, "%s", e->reason);
	*out = e;
	return 0;
}

void enf_ctx_free(struct enf_ctx *e)
{
	if (!e)
		return;
	bpf_lsm_close(e->lsm);
	free(e);
}

enum enf_kind enf_kind(const struct enf_ctx *e)
{
	return e ? e->kind : ENF_NONE;
}

const char *enf_name(const struct enf_ctx *e)
{
	switch (enf_kind(e)) {
	case ENF_BPF_LSM:
		return "bpf-lsm";
	case ENF_LANDLOCK:
		return "landlock";
	default:
		return "none";
	}
}

const char *enf_reason(const struct enf_ctx *e)
{
	return e ? e->reason : "no enforcer";
}

int enf_landlock_abi(const struct enf_ctx *e)
{
	return e ? e->landlock_abi : 0;
}

const char *enf_probe_report(const struct enf_ctx *e)
{
	return e ? e->report : "";
}

int enf_reconcile(struct enf_ctx *e)
{
	return e && e->lsm ? bpf_lsm_reconcile(e->lsm) : 0;
}

int enf_sandbox_prepare(struct enf_ctx *e, const struct af_matcher *m,
			const char *snapshot, uint64_t cgroup_id,
			struct enf_plan *plan, char *err, size_t errlen)
{
	plan->landlock_fd = -1;
	plan->landlock_rules = 0;
	switch (enf_kind(e)) {
	case ENF_BPF_LSM:
		return bpf_lsm_install(e->lsm, cgroup_id, m, err, errlen);
	case ENF_LANDLOCK:
		return landlock_plan(e->landlock_abi, m, snapshot,
				     &plan->landlock_fd, &plan->landlock_rules,
				     err, errlen);
	default:
		snprintf(err, errlen, "no enforcer is available on this host");
		return -ENOTSUP;
	}
}

int enf_sandbox_set_workspace(struct enf_ctx *e, uint64_t cgroup_id,
			      uint64_t dev)
{
	return enf_kind(e) == ENF_BPF_LSM
		       ? bpf_lsm_set_workspace(e->lsm, cgroup_id, dev)
		       : 0;
}

int enf_sandbox_release(struct enf_ctx *e, uint64_t cgroup_id)
{
	return enf_kind(e) == ENF_BPF_LSM ? bpf_lsm_remove(e->lsm, cgroup_id)
					  : 0;
}

void enf_plan_clear(struct enf_plan *plan)
{
	if (plan->landlock_fd >= 0)
		close(plan->landlock_fd);
	plan->landlock_fd = -1;
}

bool enf_reports_audit(const struct enf_ctx *e)
{
	return enf_kind(e) == ENF_BPF_LSM;
}

void enf_set_audit_sink(struct enf_ctx *e, enf_audit_fn fn, void *ud)
{
	if (enf_kind(e) == ENF_BPF_LSM)
		bpf_lsm_set_audit_sink(e->lsm, fn, ud);
}

int enf_sandbox_set_audit_mode(struct enf_ctx *e, uint64_t cgroup_id,
			       unsigned int mode)
{
	return enf_kind(e) == ENF_BPF_LSM
		       ? bpf_lsm_set_audit_mode(e->lsm, cgroup_id, mode)
		       : -EOPNOTSUPP;
}

uint64_t enf_audit_dropped(const struct enf_ctx *e)
{
	return enf_kind(e) == ENF_BPF_LSM ? bpf_lsm_audit_dropped(e->lsm) : 0;
}

int enf_sandbox_audit_dropped(const struct enf_ctx *e, uint64_t cgroup_id,
			      uint64_t *out)
{
	*out = 0;
	return enf_kind(e) == ENF_BPF_LSM
		       ? bpf_lsm_sandbox_dropped(e->lsm, cgroup_id, out)
		       : -EOPNOTSUPP;
}

const char *enf_op_name(unsigned int op)
{
	return lsm_op_name(op);
}
