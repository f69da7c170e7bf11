// SPDX-License-Identifier: Apache-2.0
/*
 * The audit module's life: choose the source, know the sandboxes, and a
 * housekeeping thread that flushes logs, turns lost-event counters into
 * gaps in the logs, and sweeps logs whose retention is over.
 */
#define LOG_MOD "audit"
#include <errno.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentfense/enforce.h"
#include "agentfense/log.h"
#include "agentfense/util.h"
#include "audit_event.h"
#include "audit_internal.h"

#define TICK_MS	    200
#define SWEEP_TICKS 10 /* 2 s */
/* How long a destroyed sandbox's last events may still arrive. */
#define GRACE_NS (2 * 1000000000ull)

static int64_t real_minus_mono(void)
{
	return (int64_t)(af_now_real_ns() - af_now_mono_ns());
}

static void lsm_sink(const struct af_audit_event *e, void *ud)
{
	audit_ingest(ud, e, sizeof(*e));
}

static void trace_sink(void *ud, const struct af_audit_event *e, size_t len)
{
	audit_ingest(ud, e, len);
}

static void pick_source(struct audit *a)
{
	int r;

	if (a->cfg.disabled) {
		a->source = "none";
		snprintf(a->reason, sizeof(a->reason),
			 "disabled (--audit off)");
		return;
	}
	if (enf_reports_audit(a->cfg.enf)) {
		a->source = "bpf-lsm";
		a->enf = a->cfg.enf;
		a->tracking = true;
		snprintf(a->reason, sizeof(a->reason),
			 "the bpf-lsm enforcer reports its own decisions");
		enf_set_audit_sink(a->enf, lsm_sink, a);
		return;
	}
	r = trace_open(a->cfg.sandbox_cg_level, a->cfg.ringbuf_bytes,
		       trace_sink, a, &a->trace, a->reason, sizeof(a->reason));
	if (r < 0) {
		a->source = "none";
		log_warn("audit trail unavailable: %s", a->reason);
		return;
	}
	a->source = "trace";
	a->tracking = true;
	snprintf(
		a->reason, sizeof(a->reason),
		"the %s enforcer reports no decisions: tracepoints on the file "
		"system calls' exit and on exec",
		enf_name(a->cfg.enf));
}

/* The kernel's count of a sandbox's lost events, when it can be read. */
static int sandbox_dropped(struct audit *a, uint64_t cgid, uint64_t *out)
{
	if (a->trace)
		return trace_sandbox_dropped(a->trace, cgid, out);
	if (a->enf)
		return enf_sandbox_audit_dropped(a->enf, cgid, out);
	return -ENOENT;
}

/* Lost events are written into the log where they were noticed. */
static void note_dropped_locked(struct audit *a, struct audit_sb *sb)
{
	struct audit_record gap = { .time_ns = af_now_real_ns() };

	if (sb->dropped <= sb->dropped_noted)
		return;
	gap.lost = sb->dropped - sb->dropped_noted;
	sb->dropped_noted = sb->dropped;
	af_strlcpy(gap.sandbox_id, sb->id, sizeof(gap.sandbox_id));
	af_strlcpy(gap.source, a->source, sizeof(gap.source));
	log_warn("sandbox %s: %llu audit events lost (ring buffer full)",
		 sb->id, (unsigned long long)gap.lost);
	audit_emit_locked(a, sb, &gap);
}

static void forget_locked(struct audit *a, struct audit_sb *sb)
{
	struct audit_cg key = { .cgid = sb->cgid }, **found;
	struct audit_sb **pp = &a->sandboxes;

	found = sb->cgid ? tfind(&key, &a->by_cgid, audit_cg_cmp) : NULL;
	if (found && (*found)->sb == sb) {
		struct audit_cg *node = *found;

		tdelete(&key, &a->by_cgid, audit_cg_cmp);
		free(node);
	}
	while (*pp != sb)
		pp = &(*pp)->next;
	*pp = sb->next;
	if (a->last == sb)
		a->last = NULL;
	subs_close_locked(a, sb->id);
	alog_close(&sb->log, a->cfg.max_file_bytes, a->cfg.keep_files);
	if (alog_mark_destroyed(a->dir, sb->id) < 0)
		log_warn("sandbox %s: no retention marker; its log stays",
			 sb->id);
	free(sb);
}

static void tick_locked(struct audit *a, uint64_t now)
{
	struct audit_sb *sb, *next;

	a->real_minus_mono = real_minus_mono();
	for (sb = a->sandboxes; sb; sb = next) {
		next = sb->next;
		if (sb->recording &&
		    sandbox_dropped(a, sb->cgid, &sb->dropped) == 0)
			note_dropped_locked(a, sb);
		if (alog_flush(&sb->log, a->cfg.max_file_bytes,
			       a->cfg.keep_files) < 0)
			a->write_errors++;
		if (sb->gone_ns && now - sb->gone_ns > GRACE_NS)
			forget_locked(a, sb);
	}
}

static void *housekeeping(void *arg)
{
	struct audit *a = arg;
	unsigned ticks = 0;

	pthread_mutex_lock(&a->lock);
	while (!a->stopping) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += TICK_MS * 1000000L;
		ts.tv_sec += ts.tv_nsec / 1000000000L;
		ts.tv_nsec %= 1000000000L;
		pthread_cond_timedwait(&a->wake, &a->lock, &ts);
		tick_locked(a, af_now_mono_ns());
		if (++ticks % SWEEP_TICKS)
			continue;
		pthread_mutex_unlock(&a->lock);
		alog_sweep(a->dir, a->cfg.retention_s);
		pthread_mutex_lock(&a->lock);
	}
	pthread_mutex_unlock(&a->lock);
	return NULL;
}

static int init(struct audit *a, const struct audit_config *cfg)
{
	pthread_condattr_t ca;
	int n;

	a->cfg = *cfg;
	pthread_mutex_init(&a->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&a->wake, &ca);
	pthread_condattr_destroy(&ca);
	a->real_minus_mono = real_minus_mono();
	n = snprintf(a->dir, sizeof(a->dir), "%s/audit", cfg->state_dir);
	if (n < 0 || (size_t)n >= sizeof(a->dir))
		return -ENAMETOOLONG;
	a->line = malloc(AUDIT_LINE_MAX);
	return a->line ? af_mkdir_p(a->dir, 0700) : -ENOMEM;
}

int audit_start(const struct audit_config *cfg, struct audit **out)
{
	struct audit *a = calloc(1, sizeof(*a));
	int r;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	r = init(a, cfg);
	if (r < 0) {
		log_errno(r, "audit log directory in %s", cfg->state_dir);
		audit_stop(a);
		return r;
	}
	alog_sweep(a->dir, cfg->retention_s);
	pick_source(a);
	r = -pthread_create(&a->house, NULL, housekeeping, a);
	if (r < 0) {
		audit_stop(a);
		return log_errno(r, "audit housekeeping thread");
	}
	a->house_started = true;
	log_info("source %s (%s); logs in %s", a->source, a->reason, a->dir);
	*out = a;
	return 0;
}

static void cg_free(void *node)
{
	free(node);
}

void audit_stop(struct audit *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	a->stopping = true;
	pthread_cond_broadcast(&a->wake);
	pthread_mutex_unlock(&a->lock);
	if (a->house_started)
		pthread_join(a->house, NULL);
	/* No event arrives after this: the sources' threads are gone. */
	if (a->enf)
		enf_set_audit_sink(a->enf, NULL, NULL);
	trace_close(a->trace);
	pthread_mutex_lock(&a->lock);
	tick_locked(a, af_now_mono_ns());
	subs_close_locked(a, NULL);
	while (a->sandboxes) {
		struct audit_sb *sb = a->sandboxes;

		a->sandboxes = sb->next;
		alog_close(&sb->log, a->cfg.max_file_bytes, a->cfg.keep_files);
		if (sb->gone_ns)
			alog_mark_destroyed(a->dir, sb->id);
		free(sb);
	}
	tdestroy(a->by_cgid, cg_free);
	/* Subscribers are the API's, which stopped first. */
	if (a->subs)
		log_err("audit stopped with subscribers left");
	pthread_mutex_unlock(&a->lock);
	pthread_mutex_destroy(&a->lock);
	pthread_cond_destroy(&a->wake);
	free(a->line);
	free(a);
}

const char *audit_source(const struct audit *a)
{
	return a ? a->source : "none";
}

const char *audit_source_reason(const struct audit *a)
{
	return a ? a->reason : "the audit module is not running";
}

/* With a->lock: sb's entry for a run in cgroup cgid. */
static int map_run_locked(struct audit *a, struct audit_sb *sb, uint64_t cgid)
{
	struct audit_cg key = { .cgid = sb->cgid }, *node, **slot;

	if (sb->cgid && sb->cgid != cgid &&
	    (slot = tfind(&key, &a->by_cgid, audit_cg_cmp))) {
		node = *slot;
		tdelete(&key, &a->by_cgid, audit_cg_cmp);
		free(node);
	}
	node = calloc(1, sizeof(*node));
	if (!node)
		return -ENOMEM;
	node->cgid = cgid;
	node->sb = sb;
	slot = tsearch(node, &a->by_cgid, audit_cg_cmp);
	if (!slot) {
		free(node);
		return -ENOMEM;
	}
	if (*slot != node) {
		free(node);
		(*slot)->sb = sb;
	}
	sb->cgid = cgid;
	a->last = NULL;
	return 0;
}

static struct audit_sb *sandbox_new_locked(struct audit *a, const char *id)
{
	struct audit_sb *sb = calloc(1, sizeof(*sb));

	if (!sb)
		return NULL;
	af_strlcpy(sb->id, id, sizeof(sb->id));
	alog_init(&sb->log);
	sb->next = a->sandboxes;
	a->sandboxes = sb;
	return sb;
}

static int start_locked(struct audit *a, const char *id, uint64_t cgid,
			enum audit_level level)
{
	struct audit_sb *sb = audit_find_locked(a, id);
	int r;

	if (!sb)
		sb = sandbox_new_locked(a, id);
	if (!sb)
		return -ENOMEM;
	r = map_run_locked(a, sb, cgid);
	if (r == 0)
		r = alog_open(&sb->log, a->dir, id);
	if (r < 0)
		return r;
	sb->level = level;
	sb->recording = true;
	sb->gone_ns = 0;
	/* A new run has fresh kernel counters. */
	sb->dropped = sb->dropped_noted = 0;
	alog_unmark(a->dir, id);
	return 0;
}

int audit_sandbox_start(struct audit *a, const char *id, uint64_t cgroup_id,
			uint64_t ws_dev, enum audit_level level)
{
	int r;

	if (!a || !a->tracking)
		return 0;
	pthread_mutex_lock(&a->lock);
	r = start_locked(a, id, cgroup_id, level);
	pthread_mutex_unlock(&a->lock);
	if (r == 0 && a->trace)
		r = trace_sandbox_add(a->trace, cgroup_id, ws_dev, level);
	if (r == 0 && a->enf) {
		r = enf_sandbox_set_audit_mode(a->enf, cgroup_id, level);
		if (r == -ENOENT) {
			log_info("sandbox %s runs without an enforcer (its "
				 "rules "
				 "allow everything): bpf-lsm reports nothing "
				 "for it",
				 id);
			r = 0;
		}
	}
	if (r < 0)
		return log_errno(r, "audit of sandbox %s", id);
	log_debug("sandbox %s: audit level %s, cgroup %llu", id,
		  audit_level_name(level), (unsigned long long)cgroup_id);
	return 0;
}

void audit_sandbox_stop(struct audit *a, const char *id)
{
	struct audit_sb *sb;
	uint64_t cgid = 0, dropped = 0;
	bool final = false;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	sb = audit_find_locked(a, id);
	if (sb && sb->recording) {
		sb->recording = false;
		cgid = sb->cgid;
	}
	pthread_mutex_unlock(&a->lock);
	if (!cgid)
		return;
	/* Its last count, then out of the map (the cgroup is gone anyway). */
	if (a->trace) {
		final = trace_sandbox_dropped(a->trace, cgid, &dropped) == 0;
		trace_sandbox_remove(a->trace, cgid);
	}
	pthread_mutex_lock(&a->lock);
	sb = audit_find_locked(a, id);
	if (sb && final && dropped > sb->dropped)
		sb->dropped = dropped;
	if (sb) {
		note_dropped_locked(a, sb);
		alog_flush(&sb->log, a->cfg.max_file_bytes, a->cfg.keep_files);
	}
	pthread_mutex_unlock(&a->lock);
}

void audit_sandbox_destroyed(struct audit *a, const char *id)
{
	struct audit_sb *sb;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	sb = audit_find_locked(a, id);
	if (sb)
		sb->gone_ns = af_now_mono_ns();
	pthread_mutex_unlock(&a->lock);
	if (!sb)
		alog_mark_destroyed(a->dir, id);
}
