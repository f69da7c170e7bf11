/* SPDX-License-Identifier: Apache-2.0 */
/*
 * audit: the audit trail of sandboxed file operations.
 *
 * Events come from one BPF ring buffer: the bpf-lsm enforcer's (its hooks
 * report their own decisions) where it runs, else the trace source
 * (bpf/audit_trace.bpf.c: tracepoints on the file system calls' exit and
 * on exec). A consumer maps each event's cgroup id to its sandbox, appends
 * it to the sandbox's log (STATE/audit/<sandbox>.jsonl, JSON lines, rotated
 * by size, kept for a retention period after the sandbox is destroyed) and
 * hands it to subscribers (follow streams). Lost events are counted where
 * they are lost (the ring buffer, per sandbox and in total; a subscriber's
 * queue) and written into the log as a gap: never silently.
 *
 * Denials are always recorded; allowed operations as the sandbox's level
 * says (label AUDIT_LABEL at creation).
 */
#ifndef AGENTFENSE_AUDIT_H
#define AGENTFENSE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct audit;
struct enf_ctx;

/* The sandbox label that sets its level: "denied", "writes" or "all". */
#define AUDIT_LABEL "agentfense.audit"

enum audit_level {
	AUDIT_LEVEL_DENIED = 0, /* denials only (the default) */
	AUDIT_LEVEL_WRITES = 1, /* and allowed operations that change files */
	AUDIT_LEVEL_ALL = 2,	/* and every allowed operation */
};

int audit_level_parse(const char *s, enum audit_level *out);
const char *audit_level_name(enum audit_level l);

struct audit_config {
	const char *state_dir;	 /* logs go to STATE/audit */
	int sandbox_cg_level;	 /* depth of sandbox cgroups (cgroup v2) */
	struct enf_ctx *enf;	 /* bpf-lsm: the enforcer is the source */
	bool disabled;		 /* --audit off: no source, no logs */
	uint64_t max_file_bytes; /* a log file is rotated past this */
	unsigned keep_files;	 /* rotated files kept per sandbox */
	uint64_t retention_s;	 /* logs kept after destroy */
	uint32_t ringbuf_bytes;	 /* trace source buffer (power of two) */
};

/*
 * Start the source and the housekeeping thread. A source that cannot be had
 * is not fatal: the daemon runs on without one (audit_source says why).
 */
int audit_start(const struct audit_config *cfg, struct audit **out);
void audit_stop(struct audit *a);
/* "bpf-lsm", "trace", "none"; and why. */
const char *audit_source(const struct audit *a);
const char *audit_source_reason(const struct audit *a);

/*
 * A sandbox started (its processes are about to run): events of cgroup_id
 * belong to id. ws_dev: st_dev of its /workspace as stat(2) reports it.
 * All no-ops when a is NULL.
 */
int audit_sandbox_start(struct audit *a, const char *id, uint64_t cgroup_id,
			uint64_t ws_dev, enum audit_level level);
/* Its processes are gone: stop recording it, flush its log. */
void audit_sandbox_stop(struct audit *a, const char *id);
/* Destroyed: the log's retention period starts; followers are ended. */
void audit_sandbox_destroyed(struct audit *a, const char *id);

/* One event as the log keeps it. */
struct audit_record {
	uint64_t time_ns; /* CLOCK_REALTIME */
	char sandbox_id[32];
	uint32_t pid, tid, uid;
	char comm[17]; /* printable ASCII, other bytes as '?' */
	char op[16];
	int decision; /* AUDIT_ALLOW / AUDIT_DENY; 0 in a gap */
	int err;      /* errno, 0 when allowed */
	char enforcer[16];
	char source[16];
	bool as_passed, base_unknown, unresolved, truncated;
	char *path; /* malloc'd; may hold bytes that are not UTF-8 */
	size_t path_len;
	uint64_t lost; /* > 0: a gap of this many events, nothing else */
};

#define AUDIT_ALLOW 1
#define AUDIT_DENY  2

void audit_record_clear(struct audit_record *r);

struct audit_filter {
	const char *sandbox_id;	     /* NULL or "": every sandbox */
	uint64_t since_ns, until_ns; /* 0: unbounded */
	int decision;		     /* 0: any */
	const char *path_glob;	/* fnmatch(3) over the path, '*' spans '/' */
	const char *const *ops; /* NULL-terminated, NULL: any */
};

bool audit_filter_match(const struct audit_filter *f,
			const struct audit_record *r);

/*
 * Recorded events (logs of running, stopped and destroyed-but-retained
 * sandboxes), oldest first; with tail, the last `limit` ones. limit 0: all.
 * cb returns non-zero to stop (that value is returned). A sandbox without
 * a log has nothing to return.
 */
typedef int (*audit_record_fn)(void *ud, const struct audit_record *r);
/* Does the module know the sandbox, or keep a log of it? */
bool audit_has_log(struct audit *a, const char *id);
int audit_query(struct audit *a, const struct audit_filter *f, size_t limit,
		bool tail, audit_record_fn cb, void *ud);

/* A live subscription (follow). */
struct audit_sub;
/*
 * Subscribe, first passing the last `backlog` recorded matches to cb (none
 * is missed or doubled between them and the live ones).
 */
int audit_subscribe(struct audit *a, const struct audit_filter *f,
		    size_t backlog, audit_record_fn cb, void *ud,
		    struct audit_sub **out);
/*
 * Wait up to timeout_ms for the next event: 1 and *r (clear it), 0 on
 * timeout, -ESHUTDOWN when the subscription ended (its sandbox destroyed,
 * the daemon stopping). Events the subscriber was too slow for come as a
 * gap record (r->lost).
 */
int audit_sub_next(struct audit_sub *s, struct audit_record *r, int timeout_ms);
void audit_unsubscribe(struct audit *a, struct audit_sub *s);

struct audit_sandbox_stats {
	char sandbox_id[32];
	enum audit_level level;
	bool recording;	    /* running now */
	uint64_t events;    /* recorded since the daemon started */
	uint64_t dropped;   /* lost in the kernel (ring buffer full) */
	uint64_t log_bytes; /* on disk, rotated files included */
};

struct audit_stats {
	const char *source, *source_reason;
	uint64_t events;	 /* received from the kernel */
	uint64_t recorded;	 /* written to a log */
	uint64_t dropped_kernel; /* ring buffer full, all sandboxes */
	uint64_t unattributed;	 /* cgroup of no known sandbox */
	uint64_t dropped_subscribers;
	uint64_t outside;      /* allowed, outside /workspace: not recorded */
	uint64_t write_errors; /* log writes that failed */
	size_t n_sandboxes;
	struct audit_sandbox_stats *sandboxes; /* malloc'd */
};

/* Totals, and per sandbox (only `id`'s when set, zeros if it is unknown). */
int audit_get_stats(struct audit *a, const char *id, struct audit_stats *st);
void audit_stats_clear(struct audit_stats *st);
/* Events lost in the kernel, all sandboxes (0 without a source). */
uint64_t audit_dropped(struct audit *a);

#endif
