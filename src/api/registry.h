/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox registry: every sandbox's record (the wire Sandbox message,
 * persisted in SQLite table `sandboxes`) and, while it runs, its runtime
 * handle. Lifecycle operations on one sandbox are serialised; commands run
 * concurrently and are killed by a stop.
 */
#ifndef AF_API_REGISTRY_H
#define AF_API_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>

#include "agentfense/api.h"
#include "sandbox/v1/sandbox.pb-c.h"

struct registry;
struct policy_set;

struct sess_entry {
	char id[32];
	char *shell;
	uint64_t created_ns, closed_ns; /* CLOCK_REALTIME */
	bool closed;
	char reason[160];
	struct rt_session *rt; /* NULL once closed and released */
	int execs;	       /* commands in flight on it */
};

struct sb_entry {
	Sandbox__V1__Sandbox *rec;    /* malloc'd, freed by protobuf-c */
	struct sess_entry **sessions; /* under lock; freed with the entry */
	size_t n_sessions;
	struct rt_sandbox *rt; /* set while RUNNING */
	pthread_mutex_t life;  /* held across start/stop/destroy */
	pthread_mutex_t lock;  /* rec->status, rt, execs */
	pthread_cond_t no_execs;
	int execs; /* commands in flight */
	int refs;  /* registry_get references */
	bool removed;
};

int registry_open(const struct api_config *cfg, struct registry **out);
void registry_free(struct registry *reg);
/* Stop every running sandbox (daemon shutdown). */
void registry_stop_all(struct registry *reg);

/* Takes ownership of rec; persists it. */
int registry_add(struct registry *reg, Sandbox__V1__Sandbox *rec);
/* A referenced entry, or NULL; release with registry_put. */
struct sb_entry *registry_get(struct registry *reg, const char *id);
void registry_put(struct registry *reg, struct sb_entry *e);
/* Persist e->rec (call with e->lock or e->life held). */
int registry_save(struct registry *reg, struct sb_entry *e);
/* Forget the entry (DB row included); memory goes with the last put. */
int registry_remove(struct registry *reg, struct sb_entry *e);

/*
 * Snapshot of records (packed copies are not needed: the caller gets new
 * references) in id order after `after`, filtered by codebase.
 */
int registry_list(struct registry *reg, const char *codebase_id,
		  const char *after, size_t limit, struct sb_entry ***out,
		  size_t *n, bool *more);
int registry_count(struct registry *reg, int *running, int *total);
/* Count a sandbox as running before starting it: -EAGAIN at the limit. */
int registry_reserve_running(struct registry *reg);
void registry_release_running(struct registry *reg);
/* Destroys sandboxes whose expires_at has passed, once a second. */
int registry_start_reaper(struct registry *reg);
void registry_stop_reaper(struct registry *reg);

/* Lifecycle, with status codes for the caller's messages. */
int sandbox_start(struct registry *reg, struct sb_entry *e, char *err,
		  size_t errlen);
int sandbox_stop(struct registry *reg, struct sb_entry *e);
int sandbox_destroy(struct registry *reg, struct sb_entry *e);

/* Exec bracket: holds the runtime handle while a command runs. */
struct rt_sandbox *sandbox_exec_begin(struct sb_entry *e, int *status);
void sandbox_exec_end(struct sb_entry *e);

const struct api_config *registry_config(const struct registry *reg);

/* Sessions (sessions.c). */
int session_create(struct registry *reg, struct sb_entry *e, const char *shell,
		   const char *const *env, size_t n_env, char id[32], char *err,
		   size_t errlen);
/* The sandbox holding session id, referenced; *sess valid while held. */
struct sb_entry *registry_find_session(struct registry *reg, const char *id,
				       struct sess_entry **sess);
/* The runtime session for one command, or NULL (then *why is set). */
struct rt_session *session_exec_begin(struct sb_entry *e, struct sess_entry *s,
				      const char **why);
void session_exec_end(struct sb_entry *e, struct sess_entry *s);
void session_destroy(struct sb_entry *e, struct sess_entry *s);
/* With e->lock held and no command in flight: release every shell. */
void sessions_release_locked(struct sb_entry *e, const char *why);
int registry_count_sessions(struct registry *reg);
const char *sandbox_status_name(int status);

#endif
