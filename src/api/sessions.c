// SPDX-License-Identifier: Apache-2.0
/*
 * Session records of a sandbox. A session stays listed (CLOSED once its
 * shell is gone) until its sandbox is destroyed; the shell itself is
 * released as soon as the session closes.
 */
#define LOG_MOD "api"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/log.h"
#include "agentfense/runtime.h"
#include "agentfense/util.h"
#include "registry.h"

/* With e->lock held. */
static void mark_closed(struct sess_entry *s, const char *why)
{
	if (s->closed)
		return;
	s->closed = true;
	s->closed_ns = af_now_real_ns();
	snprintf(s->reason, sizeof(s->reason), "%s", why);
}

int session_create(struct registry *reg, struct sb_entry *e, const char *shell,
		   const char *const *env, size_t n_env, char id[32], char *err,
		   size_t errlen)
{
	struct sess_entry *s = calloc(1, sizeof(*s)), **v;
	struct rt_sandbox *rt;
	int status, r;

	if (!s || !(s->shell = strdup(shell))) {
		free(s);
		return -ENOMEM;
	}
	rt = sandbox_exec_begin(e, &status);
	if (!rt) {
		snprintf(err, errlen, "sandbox %s is %s; start it first",
			 e->rec->id, sandbox_status_name(status));
		free(s->shell);
		free(s);
		return -EBUSY;
	}
	af_id_new("sess_", s->id, sizeof(s->id));
	s->created_ns = af_now_real_ns();
	r = rt_session_start(rt, shell, env, n_env, &s->rt, err, errlen);
	pthread_mutex_lock(&e->lock);
	v = r == 0 ? realloc(e->sessions, (e->n_sessions + 1) * sizeof(*v))
		   : NULL;
	if (v) {
		e->sessions = v;
		e->sessions[e->n_sessions++] = s;
		memcpy(id, s->id, sizeof(s->id));
	}
	pthread_mutex_unlock(&e->lock);
	sandbox_exec_end(e);
	if (r == 0 && !v) {
		rt_session_free(s->rt);
		r = -ENOMEM;
	}
	if (r < 0) {
		free(s->shell);
		free(s);
		return r;
	}
	log_info("session %s started in sandbox %s (%s)", id, e->rec->id,
		 shell);
	(void)reg;
	return 0;
}

struct rt_session *session_exec_begin(struct sb_entry *e, struct sess_entry *s,
				      const char **why)
{
	struct rt_session *rt = NULL;
	char reason[sizeof(s->reason)];

	pthread_mutex_lock(&e->lock);
	if (s->rt && !s->closed &&
	    rt_session_closed(s->rt, reason, sizeof(reason)))
		mark_closed(s, reason);
	if (!e->rt)
		*why = "its sandbox is not running";
	else if (s->closed)
		*why = s->reason;
	else {
		rt = s->rt;
		s->execs++;
		e->execs++;
	}
	pthread_mutex_unlock(&e->lock);
	return rt;
}

void session_exec_end(struct sb_entry *e, struct sess_entry *s)
{
	char why[160];

	pthread_mutex_lock(&e->lock);
	if (s->rt && rt_session_closed(s->rt, why, sizeof(why)))
		mark_closed(s, why);
	s->execs--;
	if (--e->execs == 0 || s->execs == 0)
		pthread_cond_broadcast(&e->no_execs);
	pthread_mutex_unlock(&e->lock);
}

void session_destroy(struct sb_entry *e, struct sess_entry *s)
{
	struct rt_session *rt;

	pthread_mutex_lock(&e->lock);
	rt = s->rt;
	mark_closed(s, "the session was destroyed");
	if (rt) { /* held like a command, so a sandbox stop waits for us */
		s->execs++;
		e->execs++;
	}
	pthread_mutex_unlock(&e->lock);
	if (!rt)
		return;
	/* Kills the shell: a command in flight ends promptly. */
	rt_session_close(rt);
	pthread_mutex_lock(&e->lock);
	s->execs--;
	e->execs--;
	while (s->execs > 0)
		pthread_cond_wait(&e->no_execs, &e->lock);
	if (s->rt == rt) {
		s->rt = NULL;
		rt_session_free(rt);
	}
	pthread_cond_broadcast(&e->no_execs);
	pthread_mutex_unlock(&e->lock);
}

void sessions_release_locked(struct sb_entry *e, const char *why)
{
	for (size_t i = 0; i < e->n_sessions; i++) {
		struct sess_entry *s = e->sessions[i];

		mark_closed(s, why);
		if (s->rt) {
			rt_session_free(s->rt);
			s->rt = NULL;
		}
	}
}
