/* SPDX-License-Identifier: Apache-2.0 */
/* The pieces of the audit module (include/agentfense/audit.h). */
#ifndef AF_AUDIT_INTERNAL_H
#define AF_AUDIT_INTERNAL_H

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentfense/audit.h"

struct af_audit_event;

/* Longest JSON line of one record (a path of escapes and its hex). */
#define AUDIT_LINE_MAX (48 * 1024)

/* record.c: one record <-> one JSON line (no newline). */
int audit_record_format(const struct audit_record *r, char *buf, size_t cap);
int audit_record_parse(const char *line, size_t len, struct audit_record *r);
int audit_record_copy(struct audit_record *dst, const struct audit_record *src);
/* Fold "." and ".." by name and collapse "//", in place; the new length. */
size_t audit_path_fold(char *p, size_t len);
/* Is p (len bytes) /workspace or below it? */
bool audit_path_in_workspace(const char *p, size_t len);

/* logfile.c: a sandbox's log, DIR/<id>.jsonl and its rotated DIR/<id>.jsonl.N
 */
struct audit_log {
	int fd; /* -1: closed */
	char path[PATH_MAX];
	uint64_t size; /* of the current file */
	char *buf;     /* lines not yet written */
	size_t len;
	bool failing; /* the last write failed (said once) */
};

void alog_init(struct audit_log *l);
int alog_open(struct audit_log *l, const char *dir, const char *id);
/* Buffer a line; written out when the buffer is full or on alog_flush. */
int alog_append(struct audit_log *l, const char *line, size_t len, uint64_t max,
		unsigned keep);
/* Write what is buffered; rotate once the file has max bytes. */
int alog_flush(struct audit_log *l, uint64_t max, unsigned keep);
void alog_close(struct audit_log *l, uint64_t max, unsigned keep);
/* The files of a sandbox's log, oldest first (free with alog_free_list). */
int alog_files(const char *dir, const char *id, char ***out, size_t *n);
/* Sandbox ids that have a log, sorted. */
int alog_ids(const char *dir, char ***out, size_t *n);
void alog_free_list(char **v, size_t n);
uint64_t alog_bytes(const char *dir, const char *id);
/* Retention: a destroyed sandbox's marker, and removing expired logs. */
int alog_mark_destroyed(const char *dir, const char *id);
void alog_unmark(const char *dir, const char *id);
int alog_sweep(const char *dir, uint64_t retention_s);
/*
 * Read a log file line by line (the first max_bytes, 0: all): cb gets each
 * whole line without its newline.
 */
int alog_read(const char *path, uint64_t max_bytes,
	      int (*cb)(void *ud, char *line, size_t len), void *ud);

/* trace.c: the trace source (bpf/audit_trace.bpf.c). */
struct trace_src;
typedef void (*trace_event_fn)(void *ud, const struct af_audit_event *e,
			       size_t len);
int trace_open(int cg_level, uint32_t ringbuf_bytes, trace_event_fn fn,
	       void *ud, struct trace_src **out, char *why, size_t len);
void trace_close(struct trace_src *t);
int trace_sandbox_add(struct trace_src *t, uint64_t cgroup_id, uint64_t st_dev,
		      uint32_t mode);
int trace_sandbox_remove(struct trace_src *t, uint64_t cgroup_id);
int trace_sandbox_dropped(struct trace_src *t, uint64_t cgroup_id,
			  uint64_t *out);
uint64_t trace_dropped(const struct trace_src *t);

/* A sandbox the module knows: running now, or since stopped. */
struct audit_sb {
	char id[32];
	uint64_t cgid; /* of its current (or last) run */
	enum audit_level level;
	bool recording;
	struct audit_log log;
	uint64_t events;	/* recorded since the daemon started */
	uint64_t dropped;	/* lost in the kernel, as last sampled */
	uint64_t dropped_noted; /* of those, written to the log as a gap */
	uint64_t gone_ns;	/* destroyed at (CLOCK_MONOTONIC), or 0 */
	struct audit_sb *next;
};

/* A cgroup id that belongs to a sandbox (tsearch node). */
struct audit_cg {
	uint64_t cgid;
	struct audit_sb *sb;
};

struct audit_sub {
	struct audit *a;
	const struct audit_filter
		*f;		/* the caller's, valid until unsubscribed */
	struct audit_record *q; /* ring of queued records */
	size_t cap, head, n;
	uint64_t lost; /* not queued: the queue was full */
	bool closed;
	pthread_cond_t cond;
	struct audit_sub *next;
};

struct audit {
	struct audit_config cfg;
	char dir[PATH_MAX]; /* STATE/audit */
	const char *source;
	char reason[384];
	struct trace_src *trace;
	struct enf_ctx *enf;	 /* when bpf-lsm is the source */
	bool tracking;		 /* a source runs: sandboxes are followed */
	int64_t real_minus_mono; /* ns, for event times */

	pthread_mutex_t lock; /* everything below */
	struct audit_sb *sandboxes;
	void *by_cgid;	       /* tsearch root of struct audit_cg */
	struct audit_sb *last; /* the sandbox of the last event */
	struct audit_sub *subs;
	char *line; /* AUDIT_LINE_MAX bytes */
	uint64_t events, recorded, unattributed, outside, write_errors;
	uint64_t dropped_subscribers, kernel_dropped_seen;

	pthread_t house;
	bool house_started, stopping;
	pthread_cond_t wake;
};

/* ingest.c: one event from a source, on that source's thread. */
void audit_ingest(struct audit *a, const struct af_audit_event *e, size_t len);
/* With a->lock: append r to sb's log and hand it to subscribers. */
void audit_emit_locked(struct audit *a, struct audit_sb *sb,
		       const struct audit_record *r);
struct audit_sb *audit_find_locked(struct audit *a, const char *id);
/* Orders struct audit_cg by cgroup id (tsearch). */
int audit_cg_cmp(const void *x, const void *y);

/* query.c: subscribers, with a->lock held. */
void subs_publish_locked(struct audit *a, const struct audit_record *r);
void subs_close_locked(struct audit *a, const char *sandbox_id);

#endif
