/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging: one line per event, prefixed with the module that logs it.
 * A .c file defines LOG_MOD before including this header.
 */
#ifndef AGENTFENSE_LOG_H
#define AGENTFENSE_LOG_H

#include <stdarg.h>

enum af_log_level {
	AF_LOG_ERR = 0,
	AF_LOG_WARN,
	AF_LOG_INFO,
	AF_LOG_DEBUG,
};

void af_log_set_level(enum af_log_level level);
enum af_log_level af_log_get_level(void);
void af_log(enum af_log_level level, const char *mod, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Log at error level with strerror(-err) appended, return err (negative
 * errno) so call sites read `return log_errno(r, "…")`.
 */
int af_log_errno(enum af_log_level level, const char *mod, int err,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#ifndef LOG_MOD
#define LOG_MOD "agentfense"
#endif

#define log_err(...)  af_log(AF_LOG_ERR, LOG_MOD, __VA_ARGS__)
#define log_warn(...) af_log(AF_LOG_WARN, LOG_MOD, __VA_ARGS__)
#define log_info(...) af_log(AF_LOG_INFO, LOG_MOD, __VA_ARGS__)
#define log_debug(...)                                              \
	do {                                                        \
		if (af_log_get_level() >= AF_LOG_DEBUG)             \
			af_log(AF_LOG_DEBUG, LOG_MOD, __VA_ARGS__); \
	} while (0)
#define log_errno(err, ...) \
	af_log_errno(AF_LOG_ERR, LOG_MOD, (err), __VA_ARGS__)
#define log_warn_errno(err, ...) \
	af_log_errno(AF_LOG_WARN, LOG_MOD, (err), __VA_ARGS__)

#endif
