// SPDX-License-Identifier: Apache-2.0
/* Counters of the audit trail: what came in, what was kept, what was lost. */
#define LOG_MOD "audit"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/enforce.h"
#include "agentfense/util.h"
#include "audit_internal.h"

static void sandbox_stats(struct audit *a, const struct audit_sb *sb,
			  const char *id, struct audit_sandbox_stats *out)
{
	memset(out, 0, sizeof(*out));
	af_strlcpy(out->sandbox_id, id, sizeof(out->sandbox_id));
	if (sb) {
		out->level = sb->level;
		out->recording = sb->recording;
		out->events = sb->events;
		out->dropped = sb->dropped;
	}
}

/* Every sandbox known in memory, then those with only a log on disk. */
static int list_locked(struct audit *a, const char *id, struct audit_stats *st)
{
	char **ids = NULL;
	size_t n_ids = 0, cap;
	int r = 0;

	if (!id && (r = alog_ids(a->dir, &ids, &n_ids)) < 0)
		return r;
	cap = n_ids + 1;
	for (struct audit_sb *sb = a->sandboxes; sb; sb = sb->next)
		cap++;
	st->sandboxes = calloc(cap, sizeof(*st->sandboxes));
	if (!st->sandboxes) {
		alog_free_list(ids, n_ids);
		return -ENOMEM;
	}
	for (struct audit_sb *sb = a->sandboxes; sb; sb = sb->next)
		if (!id || !strcmp(id, sb->id))
			sandbox_stats(a, sb, sb->id,
				      &st->sandboxes[st->n_sandboxes++]);
	for (size_t i = 0; i < n_ids; i++)
		if (!audit_find_locked(a, ids[i]))
			sandbox_stats(a, NULL, ids[i],
				      &st->sandboxes[st->n_sandboxes++]);
	alog_free_list(ids, n_ids);
	return 0;
}

int audit_get_stats(struct audit *a, const char *id, struct audit_stats *st)
{
	int r;

	memset(st, 0, sizeof(*st));
	st->source = audit_source(a);
	st->source_reason = audit_source_reason(a);
	if (!a)
		return 0;
	pthread_mutex_lock(&a->lock);
	st->events = a->events;
	st->recorded = a->recorded;
	st->unattributed = a->unattributed;
	st->outside = a->outside;
	st->write_errors = a->write_errors;
	st->dropped_subscribers = a->dropped_subscribers;
	st->dropped_kernel = a->trace ? trace_dropped(a->trace)
			     : a->enf ? enf_audit_dropped(a->enf)
				      : 0;
	r = list_locked(a, id, st);
	pthread_mutex_unlock(&a->lock);
	if (r < 0)
		return r;
	/* Sizes outside the lock: a stat per file. */
	for (size_t i = 0; i < st->n_sandboxes; i++)
		st->sandboxes[i].log_bytes =
			alog_bytes(a->dir, st->sandboxes[i].sandbox_id);
	if (id && !st->n_sandboxes)
		sandbox_stats(a, NULL, id, &st->sandboxes[st->n_sandboxes++]);
	return 0;
}

void audit_stats_clear(struct audit_stats *st)
{
	free(st->sandboxes);
	st->sandboxes = NULL;
	st->n_sandboxes = 0;
}

uint64_t audit_dropped(struct audit *a)
{
	if (!a)
		return 0;
	return a->trace ? trace_dropped(a->trace)
	       : a->enf ? enf_audit_dropped(a->enf)
			: 0;
}
