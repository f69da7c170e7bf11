// SPDX-License-Identifier: Apache-2.0
#include "agentfense/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum af_log_level log_level = AF_LOG_INFO;

static const char *const level_names[] = {
	[AF_LOG_ERR] = "error",
	[AF_LOG_WARN] = "warn",
	[AF_LOG_INFO] = "info",
	[AF_LOG_DEBUG] = "debug",
};

void af_log_set_level(enum af_log_level level)
{
	log_level = level;
}

enum af_log_level af_log_get_level(void)
{
	return log_level;
}

static void log_v(enum af_log_level level, const char *mod, int err,
		  const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));

static void log_v(enum af_log_level level, const char *mod, int err,
		  const char *fmt, va_list ap)
{
	char msg[1024];
	char ts[32];
	struct timespec now;
	struct tm tm;

	if (level > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One fprintf per line so concurrent threads do not interleave. */
	if (err)
		fprintf(stderr, "%s.%03ldZ %s %s: %s: %s\n", ts,
			now.tv_nsec / 1000000, level_names[level], mod, msg,
			strerror(-err));
	else
		fprintf(stderr, "%s.%03ldZ %s %s: %s\n", ts,
			now.tv_nsec / 1000000, level_names[level], mod, msg);
}

void af_log(enum af_log_level level, const char *mod, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(level, mod, 0, fmt, ap);
	va_end(ap);
}

int af_log_errno(enum af_log_level level, const char *mod, int err,
		 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(level, mod, err < 0 ? err : -err, fmt, ap);
	va_end(ap);
	return err < 0 ? err : -err;
}
