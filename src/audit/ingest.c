// SPDX-License-Identifier: Apache-2.0
/*
 * From a kernel event to a record in its sandbox's log: find the sandbox by
 * cgroup id, give the event wall-clock time, fold a name the process
 * passed, drop allowed operations outside /workspace (the trace source sees
 * names before it can know where they lead), append, publish.
 */
#define LOG_MOD "audit"
#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/enforce.h"
#include "agentfense/log.h"
#include "agentfense/util.h"
#include "audit_event.h"
#include "audit_internal.h"

int audit_cg_cmp(const void *a, const void *b)
{
	uint64_t x = ((const struct audit_cg *)a)->cgid;
	uint64_t y = ((const struct audit_cg *)b)->cgid;

	return x < y ? -1 : x > y;
}

static struct audit_sb *by_cgid_locked(struct audit *a, uint64_t cgid)
{
	struct audit_cg key = { .cgid = cgid }, **found;

	if (a->last && a->last->cgid == cgid)
		return a->last;
	found = tfind(&key, &a->by_cgid, audit_cg_cmp);
	if (!found)
		return NULL;
	a->last = (*found)->sb;
	return a->last;
}

struct audit_sb *audit_find_locked(struct audit *a, const char *id)
{
	for (struct audit_sb *sb = a->sandboxes; sb; sb = sb->next)
		if (!strcmp(sb->id, id))
			return sb;
	return NULL;
}

void audit_emit_locked(struct audit *a, struct audit_sb *sb,
		       const struct audit_record *r)
{
	int n = audit_record_format(r, a->line, AUDIT_LINE_MAX);

	if (n < 0 || alog_append(&sb->log, a->line, (size_t)n,
				 a->cfg.max_file_bytes, a->cfg.keep_files) < 0)
		a->write_errors++;
	else
		a->recorded++;
	if (!r->lost)
		sb->events++;
	if (a->subs)
		subs_publish_locked(a, r);
}

/* The path of e as the log keeps it; false when e is not to be kept. */
static bool take_path(struct audit *a, const struct af_audit_event *e,
		      size_t len, struct audit_record *r, char *path)
{
	size_t max = len - AF_AUDIT_EVENT_SIZE(0);
	size_t n = e->path_len < max ? e->path_len : max;

	memcpy(path, e->path, n);
	path[n] = '\0';
	n = strnlen(path, n);
	if (e->flags & AF_AUDIT_F_AS_PASSED)
		n = audit_path_fold(path, n);
	if (e->decision != AF_AUDIT_DENY &&
	    ((e->flags & AF_AUDIT_F_BASE_UNKNOWN) ||
	     !audit_path_in_workspace(path, n))) {
		a->outside++;
		return false;
	}
	r->path = path;
	r->path_len = n;
	return true;
}

static void fill(struct audit *a, const struct af_audit_event *e,
		 struct audit_sb *sb, struct audit_record *r)
{
	size_t i = 0;

	r->time_ns = (uint64_t)((int64_t)e->ts_ns + a->real_minus_mono);
	af_strlcpy(r->sandbox_id, sb->id, sizeof(r->sandbox_id));
	r->pid = e->pid;
	r->tid = e->tid;
	r->uid = e->uid;
	/* comm is bytes: keep the printable ASCII, the rest becomes '?'. */
	for (; i < AF_AUDIT_COMM_LEN && e->comm[i]; i++)
		r->comm[i] = e->comm[i] >= 0x20 && e->comm[i] < 0x7f
				     ? e->comm[i]
				     : '?';
	r->comm[i] = '\0';
	af_strlcpy(r->op, enf_op_name(e->op), sizeof(r->op));
	r->decision = e->decision == AF_AUDIT_DENY ? AUDIT_DENY : AUDIT_ALLOW;
	r->err = e->err;
	af_strlcpy(r->source, a->source, sizeof(r->source));
	af_strlcpy(r->enforcer, enf_name(a->cfg.enf), sizeof(r->enforcer));
	r->as_passed = e->flags & AF_AUDIT_F_AS_PASSED;
	r->base_unknown = e->flags & AF_AUDIT_F_BASE_UNKNOWN;
	r->unresolved = e->flags & AF_AUDIT_F_UNRESOLVED;
	r->truncated = e->flags & AF_AUDIT_F_TRUNCATED;
}

void audit_ingest(struct audit *a, const struct af_audit_event *e, size_t len)
{
	struct audit_record r = { 0 };
	struct audit_sb *sb;
	char path[AF_AUDIT_PATH_MAX];

	pthread_mutex_lock(&a->lock);
	a->events++;
	sb = by_cgid_locked(a, e->cgroup_id);
	if (!sb) {
		/* A cgroup we never mapped (or forgot at destroy): counted. */
		a->unattributed++;
	} else if (take_path(a, e, len, &r, path)) {
		fill(a, e, sb, &r);
		audit_emit_locked(a, sb, &r);
	}
	pthread_mutex_unlock(&a->lock);
}
