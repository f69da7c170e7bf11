// SPDX-License-Identifier: Apache-2.0
/*
 * Reading the trail back: queries over the logs (oldest first, or the last
 * N), and subscribers that follow new events. A subscription starts with a
 * backlog read from the logs up to a cut taken, under the lock, at the
 * moment it was added: every event is either before the cut (in the
 * backlog) or queued for the subscriber, never both, never neither.
 */
#define LOG_MOD "audit"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agentfense/log.h"
#include "agentfense/util.h"
#include "audit_internal.h"

#define SUB_QUEUE 8192
#define STOP	  (1 << 30) /* a reader's "enough", not an error */
#define TAIL_MAX  100000

/* Where a sandbox's log ended when a subscription was added. */
struct cut {
	dev_t dev;
	ino_t ino;
	uint64_t size;
};

struct reader {
	const struct audit_filter *f;
	audit_record_fn cb;
	void *ud;
	size_t limit, n; /* limit 0: all */
	bool tail;
	struct audit_record *ring; /* tail: the last `limit` matches */
	size_t head, count;
};

static int on_line(void *ud, char *line, size_t len)
{
	struct reader *rd = ud;
	struct audit_record r;
	int ret;

	if (audit_record_parse(line, len, &r) < 0)
		return 0; /* a damaged line does not hide the others */
	if (!audit_filter_match(rd->f, &r)) {
		audit_record_clear(&r);
		return 0;
	}
	if (rd->tail) {
		audit_record_clear(&rd->ring[rd->head]);
		rd->ring[rd->head] = r;
		rd->head = (rd->head + 1) % rd->limit;
		rd->count += rd->count < rd->limit;
		return 0;
	}
	ret = rd->cb(rd->ud, &r);
	audit_record_clear(&r);
	if (ret)
		return ret;
	return rd->limit && ++rd->n >= rd->limit ? STOP : 0;
}

/* One sandbox's files, oldest first, up to its cut when there is one. */
static int read_sandbox(struct audit *a, const char *id, const struct cut *cut,
			struct reader *rd)
{
	char **files;
	size_t n, i, from = 0, upto;
	struct stat st;
	int r = alog_files(a->dir, id, &files, &n);

	if (r < 0)
		return r;
	upto = cut ? 0 : n;
	for (i = 0; cut && i < n; i++)
		if (stat(files[i], &st) == 0 && st.st_ino == cut->ino &&
		    st.st_dev == cut->dev)
			upto = i + 1; /* the cut is in this file */
	for (i = from; i < upto && r == 0; i++)
		r = alog_read(files[i], cut && i + 1 == upto ? cut->size : 0,
			      on_line, rd);
	alog_free_list(files, n);
	return r;
}

static int cmp_time(const void *x, const void *y)
{
	const struct audit_record *p = x, *q = y;

	if (p->time_ns != q->time_ns)
		return p->time_ns < q->time_ns ? -1 : 1;
	return strcmp(p->sandbox_id, q->sandbox_id);
}

/* Move a reader's ring into all[] in order. */
static int collect(struct reader *rd, struct audit_record **all, size_t *n)
{
	struct audit_record *v = realloc(*all, (*n + rd->count) * sizeof(*v));
	size_t start = (rd->head + rd->limit - rd->count) % rd->limit;

	if (!v && rd->count)
		return -ENOMEM;
	*all = v;
	for (size_t i = 0; i < rd->count; i++) {
		size_t k = (start + i) % rd->limit;

		v[(*n)++] = rd->ring[k];
		memset(&rd->ring[k], 0, sizeof(rd->ring[k]));
	}
	rd->count = rd->head = 0;
	return 0;
}

static int emit_tail(struct reader *rd, struct audit_record *all, size_t n)
{
	size_t from = n > rd->limit ? n - rd->limit : 0;
	int r = 0;

	if (n)
		qsort(all, n, sizeof(*all), cmp_time);
	for (size_t i = from; i < n && r == 0; i++)
		r = rd->cb(rd->ud, &all[i]);
	return r;
}

static int read_all(struct audit *a, char **ids, const struct cut *cuts,
		    size_t n_ids, struct reader *rd)
{
	struct audit_record *all = NULL;
	size_t n_all = 0;
	int r = 0;

	if (rd->tail) {
		rd->ring = calloc(rd->limit, sizeof(*rd->ring));
		if (!rd->ring)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n_ids && r == 0; i++) {
		const struct cut *c = cuts ? &cuts[i] : NULL;

		if (c && !c->ino)
			continue; /* no log at the cut: nothing before it */
		r = read_sandbox(a, ids[i], c, rd);
		if (r == 0 && rd->tail)
			r = collect(rd, &all, &n_all);
	}
	if (r == 0 && rd->tail)
		r = emit_tail(rd, all, n_all);
	for (size_t i = 0; i < n_all; i++)
		audit_record_clear(&all[i]);
	free(all);
	for (size_t i = 0; rd->ring && i < rd->limit; i++)
		audit_record_clear(&rd->ring[i]);
	free(rd->ring);
	return r == STOP ? 0 : r;
}

/* The sandboxes a filter reads: one, or every one that has a log. */
static int filter_ids(struct audit *a, const struct audit_filter *f,
		      char ***ids, size_t *n)
{
	if (!f->sandbox_id || !*f->sandbox_id)
		return alog_ids(a->dir, ids, n);
	*ids = calloc(1, sizeof(**ids));
	if (!*ids || !((*ids)[0] = strdup(f->sandbox_id))) {
		free(*ids);
		return -ENOMEM;
	}
	*n = 1;
	return 0;
}

/* With a->lock: what was recorded is in the files. */
static void flush_locked(struct audit *a, const struct audit_filter *f)
{
	for (struct audit_sb *sb = a->sandboxes; sb; sb = sb->next)
		if (!f->sandbox_id || !*f->sandbox_id ||
		    !strcmp(sb->id, f->sandbox_id))
			alog_flush(&sb->log, a->cfg.max_file_bytes,
				   a->cfg.keep_files);
}

bool audit_has_log(struct audit *a, const char *id)
{
	char **files;
	size_t n;
	bool known;

	if (!a)
		return false;
	pthread_mutex_lock(&a->lock);
	known = audit_find_locked(a, id) != NULL;
	pthread_mutex_unlock(&a->lock);
	if (known || alog_files(a->dir, id, &files, &n) < 0)
		return known;
	alog_free_list(files, n);
	return n > 0;
}

int audit_query(struct audit *a, const struct audit_filter *f, size_t limit,
		bool tail, audit_record_fn cb, void *ud)
{
	struct reader rd = { .f = f,
			     .cb = cb,
			     .ud = ud,
			     .limit = limit,
			     .tail = tail && limit };
	char **ids;
	size_t n;
	int r;

	if (!a)
		return 0;
	if (rd.tail && rd.limit > TAIL_MAX)
		rd.limit = TAIL_MAX;
	pthread_mutex_lock(&a->lock);
	flush_locked(a, f);
	pthread_mutex_unlock(&a->lock);
	r = filter_ids(a, f, &ids, &n);
	if (r < 0)
		return r;
	r = read_all(a, ids, NULL, n, &rd);
	alog_free_list(ids, n);
	return r;
}

/* With a->lock, after a flush: where each log ends now. */
static void take_cuts(struct audit *a, char **ids, size_t n, struct cut *cuts)
{
	char path[PATH_MAX + 64];
	struct stat st;

	for (size_t i = 0; cuts && i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s.jsonl", a->dir, ids[i]);
		if (stat(path, &st) < 0)
			continue;
		cuts[i] = (struct cut){ st.st_dev, st.st_ino,
					(uint64_t)st.st_size };
	}
}

static struct audit_sub *sub_new(struct audit *a, const struct audit_filter *f)
{
	struct audit_sub *s = calloc(1, sizeof(*s));
	pthread_condattr_t ca;

	if (!s)
		return NULL;
	s->a = a;
	s->f = f;
	s->cap = SUB_QUEUE;
	s->q = calloc(s->cap, sizeof(*s->q));
	if (!s->q) {
		free(s);
		return NULL;
	}
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cond, &ca);
	pthread_condattr_destroy(&ca);
	return s;
}

int audit_subscribe(struct audit *a, const struct audit_filter *f,
		    size_t backlog, audit_record_fn cb, void *ud,
		    struct audit_sub **out)
{
	struct reader rd = { .f = f,
			     .cb = cb,
			     .ud = ud,
			     .tail = true,
			     .limit = backlog > TAIL_MAX ? TAIL_MAX : backlog };
	struct audit_sub *s = sub_new(a, f);
	struct cut *cuts = NULL;
	char **ids = NULL;
	size_t n = 0;
	int r = s ? 0 : -ENOMEM;

	if (r == 0 && backlog)
		r = filter_ids(a, f, &ids, &n);
	if (r == 0 && n && !(cuts = calloc(n, sizeof(*cuts))))
		r = -ENOMEM;
	if (r < 0)
		goto out;
	pthread_mutex_lock(&a->lock);
	flush_locked(a, f);
	take_cuts(a, ids, n, cuts);
	s->next = a->subs;
	a->subs = s;
	if (a->stopping)
		s->closed = true;
	pthread_mutex_unlock(&a->lock);
	if (backlog)
		r = read_all(a, ids, cuts, n, &rd);
	*out = s;
	s = NULL;
out:
	free(cuts);
	alog_free_list(ids, n);
	if (s) {
		pthread_cond_destroy(&s->cond);
		free(s->q);
		free(s);
	}
	return r;
}

static void queue(struct audit_sub *s, const struct audit_record *r)
{
	struct audit_record *slot = &s->q[(s->head + s->n) % s->cap];

	if (audit_record_copy(slot, r) < 0) {
		s->lost++;
		return;
	}
	s->n++;
}

/* A gap of what a subscriber was too slow for: it is in the logs. */
static void gap_of(const struct audit_sub *s, struct audit_record *g)
{
	memset(g, 0, sizeof(*g));
	g->time_ns = af_now_real_ns();
	g->lost = s->lost;
	af_strlcpy(g->source, "follow", sizeof(g->source));
	af_strlcpy(g->sandbox_id, s->f->sandbox_id ? s->f->sandbox_id : "",
		   sizeof(g->sandbox_id));
}

void subs_publish_locked(struct audit *a, const struct audit_record *r)
{
	for (struct audit_sub *s = a->subs; s; s = s->next) {
		struct audit_record g;

		if (s->closed || !audit_filter_match(s->f, r))
			continue;
		/* Room for the event, and for a gap before it if one is due. */
		if (s->n + (s->lost ? 2 : 1) > s->cap) {
			s->lost++;
			a->dropped_subscribers++;
			continue;
		}
		if (s->lost) {
			gap_of(s, &g);
			s->lost = 0;
			queue(s, &g);
		}
		queue(s, r);
		pthread_cond_signal(&s->cond);
	}
}

void subs_close_locked(struct audit *a, const char *sandbox_id)
{
	for (struct audit_sub *s = a->subs; s; s = s->next)
		if (!sandbox_id || (s->f->sandbox_id &&
				    !strcmp(s->f->sandbox_id, sandbox_id))) {
			s->closed = true;
			pthread_cond_signal(&s->cond);
		}
}

static void deadline(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	ts->tv_sec += ts->tv_nsec / 1000000000L;
	ts->tv_nsec %= 1000000000L;
}

int audit_sub_next(struct audit_sub *s, struct audit_record *r, int timeout_ms)
{
	struct audit *a = s->a;
	struct timespec ts;
	int ret = 0;

	deadline(&ts, timeout_ms);
	pthread_mutex_lock(&a->lock);
	while (!s->n && !s->lost && !s->closed &&
	       pthread_cond_timedwait(&s->cond, &a->lock, &ts) == 0)
		;
	if (s->n) {
		*r = s->q[s->head];
		memset(&s->q[s->head], 0, sizeof(*r));
		s->head = (s->head + 1) % s->cap;
		s->n--;
		ret = 1;
	} else if (s->lost) {
		gap_of(s, r);
		s->lost = 0;
		ret = 1;
	} else if (s->closed) {
		ret = -ESHUTDOWN;
	}
	pthread_mutex_unlock(&a->lock);
	return ret;
}

void audit_unsubscribe(struct audit *a, struct audit_sub *s)
{
	struct audit_sub **pp;

	if (!s)
		return;
	pthread_mutex_lock(&a->lock);
	for (pp = &a->subs; *pp && *pp != s; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = s->next;
	pthread_mutex_unlock(&a->lock);
	for (size_t i = 0; i < s->n; i++)
		audit_record_clear(&s->q[(s->head + i) % s->cap]);
	pthread_cond_destroy(&s->cond);
	free(s->q);
	free(s);
}
