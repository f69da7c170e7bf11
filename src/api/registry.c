// SPDX-License-Identifier: Apache-2.0
#define LOG_MOD "api"
#include "registry.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/runtime.h"
#include "agentfense/store.h"
#include "agentfense/util.h"
#include "convert.h"

struct registry {
	const struct api_config *cfg;
	sqlite3 *db;
	pthread_mutex_t lock; /* entries and db */
	struct sb_entry **entries;
	size_t n, cap;
	unsigned running; /* started or starting sandboxes */
	pthread_t reaper;
	bool reaper_started, stopping;
	pthread_cond_t wake;
};

static const char schema[] = "CREATE TABLE IF NOT EXISTS sandboxes ("
			     " id TEXT PRIMARY KEY, codebase_id TEXT NOT NULL,"
			     " record BLOB NOT NULL);";

static void entry_free(struct sb_entry *e)
{
	sessions_release_locked(e, "the sandbox was destroyed");
	for (size_t i = 0; i < e->n_sessions; i++) {
		free(e->sessions[i]->shell);
		free(e->sessions[i]);
	}
	free(e->sessions);
	protobuf_c_message_free_unpacked(&e->rec->base, NULL);
	pthread_mutex_destroy(&e->life);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->no_execs);
	free(e);
}

static struct sb_entry *entry_new(Sandbox__V1__Sandbox *rec)
{
	struct sb_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->rec = rec;
	pthread_mutex_init(&e->life, NULL);
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->no_execs, NULL);
	e->refs = 1; /* the registry's own */
	return e;
}

static int insert_sorted(struct registry *reg, struct sb_entry *e)
{
	size_t i = reg->n;

	if (reg->n == reg->cap) {
		size_t cap = reg->cap ? reg->cap * 2 : 64;
		struct sb_entry **v = realloc(reg->entries, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		reg->entries = v;
		reg->cap = cap;
	}
	while (i > 0 && strcmp(reg->entries[i - 1]->rec->id, e->rec->id) > 0)
		i--;
	memmove(&reg->entries[i + 1], &reg->entries[i],
		(reg->n - i) * sizeof(*reg->entries));
	reg->entries[i] = e;
	reg->n++;
	return 0;
}

static int db_put(struct registry *reg, const Sandbox__V1__Sandbox *rec)
{
	size_t len = protobuf_c_message_get_packed_size(&rec->base);
	_cleanup_free_ uint8_t *blob = malloc(len ? len : 1);
	sqlite3_stmt *st = NULL;
	int rc;

	if (!blob)
		return -ENOMEM;
	protobuf_c_message_pack(&rec->base, blob);
	rc = sqlite3_prepare_v2(
		reg->db, "INSERT OR REPLACE INTO sandboxes VALUES (?,?,?)", -1,
		&st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, rec->id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, rec->codebase_id, -1, SQLITE_STATIC);
		sqlite3_bind_blob(st, 3, blob, (int)len, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_err("saving sandbox %s: %s", rec->id,
			sqlite3_errmsg(reg->db));
		return -EIO;
	}
	return 0;
}

static int db_delete(struct registry *reg, const char *id)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(reg->db, "DELETE FROM sandboxes WHERE id=?",
				    -1, &st, NULL);

	if (rc == SQLITE_OK) {
		sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_err("deleting sandbox %s: %s", id, sqlite3_errmsg(reg->db));
		return -EIO;
	}
	return 0;
}

/* Sandboxes running when the daemon died come back STOPPED. */
static void reconcile_record(struct registry *reg, Sandbox__V1__Sandbox *rec)
{
	if (rec->status != SANDBOX__V1__SANDBOX_STATUS__SANDBOX_STATUS_RUNNING)
		return;
	rec->status = SANDBOX__V1__SANDBOX_STATUS__SANDBOX_STATUS_STOPPED;
	conv_set_now(&rec->stopped_at);
	free_replace_str(&rec->status_message,
			 "stopped: the daemon restarted while it ran");
	db_put(reg, rec);
}

static int load(struct registry *reg)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(reg->db, "SELECT record FROM sandboxes", -1,
				    &st, NULL);

	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		Sandbox__V1__Sandbox *rec = sandbox__v1__sandbox__unpack(
			NULL, (size_t)sqlite3_column_bytes(st, 0),
			sqlite3_column_blob(st, 0));
		struct sb_entry *e = rec ? entry_new(rec) : NULL;

		if (!e || insert_sorted(reg, e) < 0) {
			log_err("skipping an unreadable sandbox record");
			if (e)
				entry_free(e);
			else if (rec)
				protobuf_c_message_free_unpacked(&rec->base,
								 NULL);
			rc = SQLITE_OK;
			continue;
		}
		reconcile_record(reg, rec);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int registry_open(const struct api_config *cfg, struct registry **out)
{
	_cleanup_free_ char *path = NULL;
	struct registry *reg = calloc(1, sizeof(*reg));
	int r;

	if (!reg || asprintf(&path, "%s/agentfense.db", cfg->state_dir) < 0) {
		free(reg);
		return -ENOMEM;
	}
	reg->cfg = cfg;
	pthread_mutex_init(&reg->lock, NULL);
	pthread_cond_init(&reg->wake, NULL);
	if (sqlite3_open_v2(path, &reg->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				    SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		log_err("open %s: %s", path, sqlite3_errmsg(reg->db));
		registry_free(reg);
		return -EIO;
	}
	sqlite3_busy_timeout(reg->db, 5000);
	/*
	 * NORMAL: commits survive a daemon crash, not fsync'd one by one (a
	 * power cut may lose the newest few; the database stays consistent).
	 */
	if (sqlite3_exec(reg->db,
			 "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
			 NULL, NULL, NULL) ||
	    sqlite3_exec(reg->db, schema, NULL, NULL, NULL)) {
		log_err("sandboxes schema: %s", sqlite3_errmsg(reg->db));
		registry_free(reg);
		return -EIO;
	}
	r = load(reg);
	if (r < 0) {
		registry_free(reg);
		return log_errno(r, "loading sandbox records");
	}
	log_info("%zu sandbox record(s) loaded", reg->n);
	*out = reg;
	return 0;
}

void registry_free(struct registry *reg)
{
	if (!reg)
		return;
	for (size_t i = 0; i < reg->n; i++)
		entry_free(reg->entries[i]);
	free(reg->entries);
	sqlite3_close(reg->db);
	pthread_mutex_destroy(&reg->lock);
	pthread_cond_destroy(&reg->wake);
	free(reg);
}

const struct api_config *registry_config(const struct registry *reg)
{
	return reg->cfg;
}

int registry_add(struct registry *reg, Sandbox__V1__Sandbox *rec)
{
	struct sb_entry *e = entry_new(rec);
	int r;

	if (!e) {
		protobuf_c_message_free_unpacked(&rec->base, NULL);
		return -ENOMEM;
	}
	pthread_mutex_lock(&reg->lock);
	r = reg->n >= reg->cfg->max_sandboxes ? -EAGAIN : db_put(reg, rec);
	if (r == 0)
		r = insert_sorted(reg, e);
	pthread_mutex_unlock(&reg->lock);
	if (r < 0)
		entry_free(e);
	return r;
}

struct sb_entry *registry_get(struct registry *reg, const char *id)
{
	struct sb_entry *found = NULL;

	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; i < reg->n; i++)
		if (!strcmp(reg->entries[i]->rec->id, id)) {
			found = reg->entries[i];
			found->refs++;
			break;
		}
	pthread_mutex_unlock(&reg->lock);
	return found;
}

void registry_put(struct registry *reg, struct sb_entry *e)
{
	bool last;

	if (!e)
		return;
	pthread_mutex_lock(&reg->lock);
	last = --e->refs == 0;
	pthread_mutex_unlock(&reg->lock);
	if (last)
		entry_free(e);
}

int registry_save(struct registry *reg, struct sb_entry *e)
{
	int r;

	pthread_mutex_lock(&reg->lock);
	r = e->removed ? 0 : db_put(reg, e->rec);
	pthread_mutex_unlock(&reg->lock);
	return r;
}

int registry_remove(struct registry *reg, struct sb_entry *e)
{
	bool last = false;
	int r;

	pthread_mutex_lock(&reg->lock);
	r = db_delete(reg, e->rec->id);
	for (size_t i = 0; r == 0 && i < reg->n; i++) {
		if (reg->entries[i] != e)
			continue;
		memmove(&reg->entries[i], &reg->entries[i + 1],
			(reg->n - i - 1) * sizeof(*reg->entries));
		reg->n--;
		e->removed = true;
		last = --e->refs == 0;
		break;
	}
	pthread_mutex_unlock(&reg->lock);
	if (last)
		entry_free(e);
	return r;
}

int registry_list(struct registry *reg, const char *codebase_id,
		  const char *after, size_t limit, struct sb_entry ***out,
		  size_t *n, bool *more)
{
	struct sb_entry **v;

	*n = 0;
	*more = false;
	pthread_mutex_lock(&reg->lock);
	v = calloc(reg->n ? reg->n : 1, sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&reg->lock);
		return -ENOMEM;
	}
	for (size_t i = 0; i < reg->n; i++) {
		struct sb_entry *e = reg->entries[i];

		if (after && *after && strcmp(e->rec->id, after) <= 0)
			continue;
		if (codebase_id && *codebase_id &&
		    strcmp(e->rec->codebase_id, codebase_id))
			continue;
		if (*n == limit) {
			*more = true;
			break;
		}
		e->refs++;
		v[(*n)++] = e;
	}
	pthread_mutex_unlock(&reg->lock);
	*out = v;
	return 0;
}

int registry_reserve_running(struct registry *reg)
{
	int r = 0;

	pthread_mutex_lock(&reg->lock);
	if (reg->running >= reg->cfg->max_running)
		r = -EAGAIN;
	else
		reg->running++;
	pthread_mutex_unlock(&reg->lock);
	return r;
}

void registry_release_running(struct registry *reg)
{
	pthread_mutex_lock(&reg->lock);
	reg->running--;
	pthread_mutex_unlock(&reg->lock);
}

int registry_count(struct registry *reg, int *running, int *total)
{
	*running = 0;
	pthread_mutex_lock(&reg->lock);
	*total = (int)reg->n;
	for (size_t i = 0; i < reg->n; i++)
		if (__atomic_load_n(&reg->entries[i]->rt, __ATOMIC_RELAXED))
			(*running)++;
	pthread_mutex_unlock(&reg->lock);
	return 0;
}

struct sb_entry *registry_find_session(struct registry *reg, const char *id,
				       struct sess_entry **sess)
{
	struct sb_entry *found = NULL;

	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; !found && i < reg->n; i++) {
		struct sb_entry *e = reg->entries[i];

		pthread_mutex_lock(&e->lock);
		for (size_t j = 0; j < e->n_sessions; j++)
			if (!strcmp(e->sessions[j]->id, id)) {
				found = e;
				*sess = e->sessions[j];
				e->refs++;
				break;
			}
		pthread_mutex_unlock(&e->lock);
	}
	pthread_mutex_unlock(&reg->lock);
	return found;
}

int registry_count_sessions(struct registry *reg)
{
	int n = 0;

	pthread_mutex_lock(&reg->lock);
	for (size_t i = 0; i < reg->n; i++) {
		struct sb_entry *e = reg->entries[i];

		pthread_mutex_lock(&e->lock);
		for (size_t j = 0; j < e->n_sessions; j++)
			n += !e->sessions[j]->closed;
		pthread_mutex_unlock(&e->lock);
	}
	pthread_mutex_unlock(&reg->lock);
	return n;
}

/* True when e's expires_at has passed (e->lock held). */
static bool expired(const struct sb_entry *e, uint64_t now_ns)
{
	const Google__Protobuf__Timestamp *t = e->rec->expires_at;

	return t && (uint64_t)t->seconds * 1000000000ull + (uint64_t)t->nanos <=
			    now_ns;
}

static void reap_expired(struct registry *reg)
{
	struct sb_entry **v;
	size_t n;
	bool more;
	uint64_t now = af_now_real_ns();

	if (registry_list(reg, NULL, NULL, SIZE_MAX, &v, &n, &more) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		bool due;

		pthread_mutex_lock(&v[i]->lock);
		due = expired(v[i], now);
		pthread_mutex_unlock(&v[i]->lock);
		if (due && sandbox_destroy(reg, v[i]) == 0)
			log_info("sandbox %s expired and was destroyed",
				 v[i]->rec->id);
		registry_put(reg, v[i]);
	}
	free(v);
}

static void *reaper(void *arg)
{
	struct registry *reg = arg;

	pthread_mutex_lock(&reg->lock);
	while (!reg->stopping) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += 1;
		pthread_cond_timedwait(&reg->wake, &reg->lock, &ts);
		if (reg->stopping)
			break;
		pthread_mutex_unlock(&reg->lock);
		reap_expired(reg);
		pthread_mutex_lock(&reg->lock);
	}
	pthread_mutex_unlock(&reg->lock);
	return NULL;
}

int registry_start_reaper(struct registry *reg)
{
	int r = -pthread_create(&reg->reaper, NULL, reaper, reg);

	reg->reaper_started = r == 0;
	return r;
}

void registry_stop_reaper(struct registry *reg)
{
	if (!reg->reaper_started)
		return;
	pthread_mutex_lock(&reg->lock);
	reg->stopping = true;
	pthread_cond_broadcast(&reg->wake);
	pthread_mutex_unlock(&reg->lock);
	pthread_join(reg->reaper, NULL);
	reg->reaper_started = false;
}
