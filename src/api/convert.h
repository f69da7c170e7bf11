/* SPDX-License-Identifier: Apache-2.0 */
/* Conversions between wire messages and the daemon's own types. */
#ifndef AF_API_CONVERT_H
#define AF_API_CONVERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "google/protobuf/duration.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"

/* Replace *ts with a malloc'd timestamp (freed by protobuf-c). */
int conv_set_time(Google__Protobuf__Timestamp **ts, uint64_t real_ns);
int conv_set_now(Google__Protobuf__Timestamp **ts);
/* A stack timestamp / duration for outgoing messages. */
void conv_timestamp(Google__Protobuf__Timestamp *ts, uint64_t real_ns);
void conv_duration(Google__Protobuf__Duration *d, uint64_t ns);
/* Duration to ms; -1 if negative or malformed. 0 when d is NULL. */
int64_t conv_duration_ms(const Google__Protobuf__Duration *d);
/* Replace a malloc'd string field. */
int free_replace_str(char **field, const char *value);

/*
 * Valid UTF-8? When not, *fixed is a malloc'd copy with each invalid byte
 * replaced by U+FFFD, limited to max bytes.
 */
bool conv_utf8_valid(const char *s, size_t len);
char *conv_utf8_lossy(const char *s, size_t len, size_t max);

#endif
