// SPDX-License-Identifier: Apache-2.0
/*
 * Durability off the request path. Uploads are not synced file by file; a
 * tree is flushed once a sandbox pins it. Waiting for that flush made a
 * sandbox start pay for writing its whole codebase to disk, so one thread
 * does it behind the caller: after a quiet second, or five seconds after
 * the first request at the latest, so a burst of uploads and starts is
 * neither slowed by it nor flushed piecemeal; store_close flushes at once. A
 * daemon crash loses nothing (the page cache survives it); a power loss in
 * those seconds before the flush may lose the newest upload.
 */
#define LOG_MOD "store"
#include <errno.h>
#include <time.h>
#include <unistd.h>

#include "agentfense/log.h"
#include "agentfense/util.h"
#include "store-internal.h"

#define FLUSH_QUIET_NS	   1000000000ull
#define FLUSH_MAX_DELAY_NS 5000000000ull

/* When a pending flush is due, on CLOCK_MONOTONIC. */
static uint64_t flush_due(const struct store *s)
{
	uint64_t quiet = s->flush_last_ns + FLUSH_QUIET_NS,
		 latest = s->flush_first_ns + FLUSH_MAX_DELAY_NS;

	return quiet < latest ? quiet : latest;
}

/* Wait, under flush_lock, until a flush is due or the store closes. */
static void wait_due(struct store *s)
{
	while (!s->flush_stop) {
		struct timespec ts;
		uint64_t due;

		if (!s->flush_wanted) {
			pthread_cond_wait(&s->flush_cond, &s->flush_lock);
			continue;
		}
		due = flush_due(s);
		if (af_now_mono_ns() >= due)
			return;
		ts.tv_sec = (time_t)(due / 1000000000ull);
		ts.tv_nsec = (long)(due % 1000000000ull);
		pthread_cond_timedwait(&s->flush_cond, &s->flush_lock, &ts);
	}
}

static void *flusher(void *arg)
{
	struct store *s = arg;

	pthread_mutex_lock(&s->flush_lock);
	for (;;) {
		wait_due(s);
		if (!s->flush_wanted)
			break;
		s->flush_wanted = false;
		pthread_mutex_unlock(&s->flush_lock);
		if (syncfs(s->cb_fd) < 0)
			log_warn_errno(-errno, "syncing the codebase store");
		pthread_mutex_lock(&s->flush_lock);
	}
	pthread_mutex_unlock(&s->flush_lock);
	return NULL;
}

void store_flush_init(struct store *s)
{
	pthread_condattr_t a;

	pthread_mutex_init(&s->flush_lock, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&s->flush_cond, &a);
	pthread_condattr_destroy(&a);
}

int store_flush_start(struct store *s)
{
	int r = -pthread_create(&s->flush_thread, NULL, flusher, s);

	if (r < 0)
		return log_errno(r, "starting the flush thread");
	s->flush_running = true;
	return 0;
}

void store_flush_later(struct store *s)
{
	uint64_t now = af_now_mono_ns();

	pthread_mutex_lock(&s->flush_lock);
	if (!s->flush_wanted)
		s->flush_first_ns = now;
	s->flush_last_ns = now;
	s->flush_wanted = true;
	pthread_cond_signal(&s->flush_cond);
	pthread_mutex_unlock(&s->flush_lock);
}

void store_flush_stop(struct store *s)
{
	if (!s->flush_running)
		return;
	pthread_mutex_lock(&s->flush_lock);
	s->flush_stop = true;
	pthread_cond_signal(&s->flush_cond);
	pthread_mutex_unlock(&s->flush_lock);
	pthread_join(s->flush_thread, NULL);
	s->flush_running = false;
}
