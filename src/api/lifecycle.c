// SPDX-License-Identifier: Apache-2.0
/* Sandbox state transitions: start, stop, destroy, and the exec bracket. */
#define LOG_MOD "api"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/audit.h"
#include "agentfense/cleanup.h"
#include "agentfense/enforce.h"
#include "agentfense/policy.h"
#include "agentfense/log.h"
#include "agentfense/runtime.h"
#include "agentfense/store.h"
#include "convert.h"
#include "limits.h"
#include "registry.h"
#include "svc.h"

#define ST(x) SANDBOX__V1__SANDBOX_STATUS__SANDBOX_STATUS_##x

const char *sandbox_status_name(int status)
{
	switch (status) {
	case ST(PENDING):
		return "PENDING";
	case ST(RUNNING):
		return "RUNNING";
	case ST(STOPPED):
		return "STOPPED";
	case ST(ERROR):
		return "ERROR";
	default:
		return "UNSPECIFIED";
	}
}

static void set_status(struct sb_entry *e, int status, const char *msg)
{
	pthread_mutex_lock(&e->lock);
	e->rec->status = status;
	if (msg)
		free_replace_str(&e->rec->status_message, msg);
	pthread_mutex_unlock(&e->lock);
}

int sandbox_start(struct registry *reg, struct sb_entry *e, char *err,
		  size_t errlen)
{
	const struct api_config *cfg = registry_config(reg);
	_cleanup_free_ char *snap = NULL;
	struct rt_sandbox *rt = NULL;
	struct rt_start_opts o = {
		.kind = e->rec->runtime ==
					SANDBOX__V1__RUNTIME_TYPE__RUNTIME_TYPE_DOCKER
				? RT_DOCKER
				: RT_NAMESPACE,
		.id = e->rec->id,
		.codebase_id = e->rec->codebase_id,
		.image = e->rec->image,
	};
	struct af_matcher *m = NULL;
	int r;

	pthread_mutex_lock(&e->life);
	if (e->removed) {
		r = -ENOENT;
		goto out;
	}
	if (e->rec->status == ST(RUNNING)) {
		r = 0; /* already running: start is idempotent */
		goto out;
	}
	r = registry_reserve_running(reg);
	if (r < 0) {
		snprintf(err, errlen,
			 "the server runs %u sandboxes already, "
			 "its limit",
			 cfg->max_running);
		goto out;
	}
	r = store_snapshot(cfg->store, e->rec->codebase_id, e->rec->id, &snap);
	if (r < 0) {
		snprintf(err, errlen, "codebase %s: %s", e->rec->codebase_id,
			 r == -ENOENT ? "not found" : strerror(-r));
		registry_release_running(reg);
		goto out;
	}
	o.snapshot_dir = snap;
	limits_to_cgroup(e->rec->resources, &o.limits);
	/* The record's rules, compiled: the hide layer and enforcer use them.
	 */
	r = svc_compile_rules(e->rec->permissions, e->rec->n_permissions, &m,
			      err, errlen);
	o.matcher = m;
	if (r == 0)
		r = rt_sandbox_start(cfg->rt, &o, &rt, err, errlen);
	af_matcher_free(m);
	if (r < 0) {
		registry_release_running(reg);
		set_status(e, ST(ERROR), err);
		registry_save(reg, e);
		goto out;
	}
	audit_sandbox_start(cfg->audit, e->rec->id, rt_sandbox_cgroup_id(rt),
			    rt_sandbox_workspace_dev(rt),
			    svc_audit_level((void *const *)e->rec->labels,
					    e->rec->n_labels));
	pthread_mutex_lock(&e->lock);
	__atomic_store_n(&e->rt, rt, __ATOMIC_RELAXED);
	e->rec->status = ST(RUNNING);
	conv_set_now(&e->rec->started_at);
	free(e->rec->stopped_at);
	e->rec->stopped_at = NULL;
	free_replace_str(&e->rec->status_message, "");
	free_replace_str(&e->rec->enforcer,
			 rt_sandbox_enforced(rt)
				 ? enf_name(cfg->enf)
				 : "none (nothing to restrict)");
	pthread_mutex_unlock(&e->lock);
	registry_save(reg, e);
out:
	pthread_mutex_unlock(&e->life);
	return r;
}

/* With e->life held. */
static int stop_locked(struct registry *reg, struct sb_entry *e,
		       const char *why)
{
	struct rt_sandbox *rt;
	int r;

	pthread_mutex_lock(&e->lock);
	rt = e->rt;
	pthread_mutex_unlock(&e->lock);
	if (!rt)
		return 0;
	/* Kills every process: commands in flight return promptly. */
	r = rt_sandbox_stop(rt);
	/* After its processes are gone, so their last operations are kept. */
	audit_sandbox_stop(registry_config(reg)->audit, e->rec->id);
	pthread_mutex_lock(&e->lock);
	while (e->execs > 0)
		pthread_cond_wait(&e->no_execs, &e->lock);
	sessions_release_locked(e, "the sandbox stopped");
	__atomic_store_n(&e->rt, NULL, __ATOMIC_RELAXED);
	e->rec->status = ST(STOPPED);
	conv_set_now(&e->rec->stopped_at);
	if (why)
		free_replace_str(&e->rec->status_message, why);
	pthread_mutex_unlock(&e->lock);
	rt_sandbox_free(rt);
	registry_release_running(reg);
	registry_save(reg, e);
	log_info("sandbox %s stopped", e->rec->id);
	return r;
}

int sandbox_stop(struct registry *reg, struct sb_entry *e)
{
	int r;

	pthread_mutex_lock(&e->life);
	r = stop_locked(reg, e, NULL);
	pthread_mutex_unlock(&e->life);
	return r;
}

int sandbox_destroy(struct registry *reg, struct sb_entry *e)
{
	const struct api_config *cfg = registry_config(reg);
	int r;

	pthread_mutex_lock(&e->life);
	if (e->removed) {
		pthread_mutex_unlock(&e->life);
		return -ENOENT;
	}
	stop_locked(reg, e, NULL);
	r = rt_sandbox_remove(cfg->rt, e->rec->id);
	if (r == 0)
		r = store_codebase_unref(cfg->store, e->rec->codebase_id,
					 e->rec->id);
	if (r == -ENOENT)
		r = 0; /* the codebase went first: nothing to release */
	if (r == 0)
		r = registry_remove(reg, e);
	pthread_mutex_unlock(&e->life);
	if (r == 0) {
		audit_sandbox_destroyed(cfg->audit, e->rec->id);
		log_info("sandbox %s destroyed", e->rec->id);
	}
	return r;
}

void registry_stop_all(struct registry *reg)
{
	struct sb_entry **v;
	size_t n;
	bool more;

	if (registry_list(reg, NULL, NULL, SIZE_MAX, &v, &n, &more) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		pthread_mutex_lock(&v[i]->life);
		stop_locked(reg, v[i], "stopped: the daemon shut down");
		pthread_mutex_unlock(&v[i]->life);
		registry_put(reg, v[i]);
	}
	free(v);
}

struct rt_sandbox *sandbox_exec_begin(struct sb_entry *e, int *status)
{
	struct rt_sandbox *rt;

	pthread_mutex_lock(&e->lock);
	*status = e->rec->status;
	rt = e->rt;
	if (rt)
		e->execs++;
	pthread_mutex_unlock(&e->lock);
	return rt;
}

void sandbox_exec_end(struct sb_entry *e)
{
	pthread_mutex_lock(&e->lock);
	if (--e->execs == 0)
		pthread_cond_broadcast(&e->no_execs);
	pthread_mutex_unlock(&e->lock);
}
