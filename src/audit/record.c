// SPDX-License-Identifier: Apache-2.0
/*
 * One audit record as one JSON line, and back. The writer is hand-made for
 * speed (it runs for every event); the reader uses jansson. Strings are
 * written as valid UTF-8: a path that is not (file names are bytes) also
 * goes out exactly, hex encoded, as "path_hex".
 *
 *   {"time":"2026-11-27T14:42:01.123456789Z","sandbox":"sb_...","pid":7,
 *    "tid":7,"uid":0,"comm":"cat","op":"open-read","path":"/workspace/a",
 *    "decision":"deny","errno":13,"error":"EACCES","enforcer":"landlock",
 *    "source":"trace"[,"as_passed":true][,"base_unknown":true]
 *    [,"unresolved":true][,"truncated":true][,"path_hex":"..."]}
 *   {"time":"...","sandbox":"sb_...","lost":12,"source":"trace"}   a gap
 */
#define LOG_MOD "audit"
#include <errno.h>
#include <fnmatch.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agentfense/util.h"
#include "audit_internal.h"

struct out {
	char *p, *end;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if ((size_t)(o->end - o->p) < n) {
		o->full = true;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void put_u64(struct out *o, uint64_t v)
{
	char tmp[24], *t = tmp + sizeof(tmp);

	do
		*--t = (char)('0' + v % 10);
	while (v /= 10);
	put(o, t, (size_t)(tmp + sizeof(tmp) - t));
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	size_t len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		len = 2, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		len = 3, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* A JSON string of s; invalid UTF-8 becomes U+FFFD. False if it had any. */
static bool put_str(struct out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	bool exact = true;

	put(o, "\"", 1);
	for (size_t i = 0; i < n;) {
		size_t k = utf8_seq(u + i, n - i);
		char esc[6] = { '\\', 'u', '0', '0' };

		if (k == 0) {
			put(o, "\xef\xbf\xbd", 3);
			exact = false;
			i++;
		} else if (u[i] == '"' || u[i] == '\\') {
			esc[1] = (char)u[i];
			put(o, esc, 2);
			i++;
		} else if (u[i] < 0x20 || u[i] == 0x7f) {
			esc[4] = hex[u[i] >> 4];
			esc[5] = hex[u[i] & 0xf];
			put(o, esc, 6);
			i++;
		} else {
			put(o, s + i, k);
			i += k;
		}
	}
	put(o, "\"", 1);
	return exact;
}

/* "2026-11-27T14:42:01.123456789Z": the date part changes once a second. */
static void put_time(struct out *o, uint64_t ns)
{
	static __thread time_t cached_secs = -1;
	static __thread char cached[80];
	time_t secs = (time_t)(ns / 1000000000ull);
	char frac[9];
	uint64_t f = ns % 1000000000ull;
	struct tm tm;

	if (secs != cached_secs) {
		gmtime_r(&secs, &tm);
		snprintf(cached, sizeof(cached),
			 "\"%04d-%02d-%02dT%02d:%02d:%02d.", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec);
		cached_secs = secs;
	}
	for (int i = 8; i >= 0; i--, f /= 10)
		frac[i] = (char)('0' + f % 10);
	puts_(o, cached);
	put(o, frac, sizeof(frac));
	put(o, "Z\"", 2);
}

static void put_field_u64(struct out *o, const char *key, uint64_t v)
{
	puts_(o, key);
	put_u64(o, v);
}

static void put_flags(struct out *o, const struct audit_record *r)
{
	if (r->as_passed)
		puts_(o, ",\"as_passed\":true");
	if (r->base_unknown)
		puts_(o, ",\"base_unknown\":true");
	if (r->unresolved)
		puts_(o, ",\"unresolved\":true");
	if (r->truncated)
		puts_(o, ",\"truncated\":true");
}

static void put_event(struct out *o, const struct audit_record *r)
{
	const char *ename = r->err ? strerrorname_np(r->err) : "";
	bool exact;

	put_field_u64(o, ",\"pid\":", r->pid);
	put_field_u64(o, ",\"tid\":", r->tid);
	put_field_u64(o, ",\"uid\":", r->uid);
	puts_(o, ",\"comm\":");
	put_str(o, r->comm, strlen(r->comm));
	puts_(o, ",\"op\":\"");
	puts_(o, r->op);
	puts_(o, "\",\"path\":");
	exact = put_str(o, r->path ? r->path : "", r->path_len);
	puts_(o, r->decision == AUDIT_DENY ? ",\"decision\":\"deny\""
					   : ",\"decision\":\"allow\"");
	put_field_u64(o, ",\"errno\":", (uint64_t)r->err);
	puts_(o, ",\"error\":\"");
	puts_(o, ename ? ename : "");
	puts_(o, "\",\"enforcer\":\"");
	puts_(o, r->enforcer);
	puts_(o, "\"");
	put_flags(o, r);
	if (!exact) {
		char *hex = malloc(r->path_len * 2 + 1);

		if (!hex) {
			o->full = true;
			return;
		}
		af_hex((const unsigned char *)r->path, r->path_len, hex);
		puts_(o, ",\"path_hex\":\"");
		put(o, hex, r->path_len * 2);
		puts_(o, "\"");
		free(hex);
	}
}

int audit_record_format(const struct audit_record *r, char *buf, size_t cap)
{
	struct out o = { buf, buf + cap, false };

	puts_(&o, "{\"time\":");
	put_time(&o, r->time_ns);
	puts_(&o, ",\"sandbox\":\"");
	puts_(&o, r->sandbox_id);
	puts_(&o, "\"");
	if (r->lost)
		put_field_u64(&o, ",\"lost\":", r->lost);
	else
		put_event(&o, r);
	puts_(&o, ",\"source\":\"");
	puts_(&o, r->source);
	puts_(&o, "\"}");
	return o.full ? -ENOSPC : (int)(o.p - buf);
}

/* "2026-11-27T14:42:01.123456789Z" -> ns since the epoch. */
static int parse_time(const char *s, uint64_t *out)
{
	struct tm tm = { 0 };
	char frac[16] = "";
	unsigned long long ns = 0;
	time_t t;

	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%9[0-9]Z", &tm.tm_year,
		   &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec,
		   frac) != 7)
		return -EINVAL;
	for (size_t i = 0; i < 9; i++)
		ns = ns * 10 +
		     (i < strlen(frac) ? (unsigned)(frac[i] - '0') : 0);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (t < 0)
		return -EINVAL;
	*out = (uint64_t)t * 1000000000ull + ns;
	return 0;
}

static void copy_str(json_t *o, const char *key, char *dst, size_t cap)
{
	const char *v = json_string_value(json_object_get(o, key));

	af_strlcpy(dst, v ? v : "", cap);
}

static uint64_t get_u64(json_t *o, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(o, key));

	return v > 0 ? (uint64_t)v : 0;
}

static int unhex(const char *s, size_t n, char *out)
{
	for (size_t i = 0; i < n / 2; i++) {
		unsigned v;

		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			return -EINVAL;
		out[i] = (char)v;
	}
	return 0;
}

static int parse_path(json_t *o, struct audit_record *r)
{
	const char *hex = json_string_value(json_object_get(o, "path_hex"));
	json_t *p = json_object_get(o, "path");
	size_t n = hex ? strlen(hex) / 2 : json_string_length(p);

	r->path = malloc(n + 1);
	if (!r->path)
		return -ENOMEM;
	if (hex ? unhex(hex, n * 2, r->path) < 0 : !json_string_value(p))
		return -EINVAL;
	if (!hex)
		memcpy(r->path, json_string_value(p), n);
	r->path[n] = '\0';
	r->path_len = n;
	return 0;
}

int audit_record_parse(const char *line, size_t len, struct audit_record *r)
{
	json_t *o = json_loadb(line, len, JSON_DISABLE_EOF_CHECK, NULL);
	const char *t, *d;
	int ret = -EINVAL;

	memset(r, 0, sizeof(*r));
	t = json_string_value(json_object_get(o, "time"));
	if (!json_is_object(o) || !t || parse_time(t, &r->time_ns) < 0)
		goto out;
	copy_str(o, "sandbox", r->sandbox_id, sizeof(r->sandbox_id));
	copy_str(o, "source", r->source, sizeof(r->source));
	r->lost = get_u64(o, "lost");
	if (r->lost) {
		ret = 0;
		goto out;
	}
	r->pid = (uint32_t)get_u64(o, "pid");
	r->tid = (uint32_t)get_u64(o, "tid");
	r->uid = (uint32_t)get_u64(o, "uid");
	r->err = (int)get_u64(o, "errno");
	copy_str(o, "comm", r->comm, sizeof(r->comm));
	copy_str(o, "op", r->op, sizeof(r->op));
	copy_str(o, "enforcer", r->enforcer, sizeof(r->enforcer));
	d = json_string_value(json_object_get(o, "decision"));
	r->decision = d && !strcmp(d, "deny") ? AUDIT_DENY : AUDIT_ALLOW;
	r->as_passed = json_is_true(json_object_get(o, "as_passed"));
	r->base_unknown = json_is_true(json_object_get(o, "base_unknown"));
	r->unresolved = json_is_true(json_object_get(o, "unresolved"));
	r->truncated = json_is_true(json_object_get(o, "truncated"));
	ret = parse_path(o, r);
out:
	json_decref(o);
	if (ret < 0)
		audit_record_clear(r);
	return ret;
}

void audit_record_clear(struct audit_record *r)
{
	free(r->path);
	r->path = NULL;
	r->path_len = 0;
}

int audit_record_copy(struct audit_record *dst, const struct audit_record *src)
{
	*dst = *src;
	dst->path = NULL;
	if (!src->path)
		return 0;
	dst->path = malloc(src->path_len + 1);
	if (!dst->path)
		return -ENOMEM;
	memcpy(dst->path, src->path, src->path_len);
	dst->path[src->path_len] = '\0';
	return 0;
}

size_t audit_path_fold(char *p, size_t len)
{
	bool abs = len > 0 && p[0] == '/';
	/* floor: where ".." stops (after the leading ".." of a relative path)
	 */
	size_t start = abs, w = start, floor = start, r = 0;

	while (r < len) {
		size_t s = r, n;
		bool dotdot;

		while (r < len && p[r] != '/')
			r++;
		n = r - s;
		r++;
		dotdot = n == 2 && p[s] == '.' && p[s + 1] == '.';
		if (n == 0 || (n == 1 && p[s] == '.'))
			continue;
		if (dotdot && w > floor) {
			while (w > floor && p[w - 1] != '/')
				w--;
			if (w > start)
				w--;
			continue;
		}
		if (dotdot && abs)
			continue; /* ".." of the root is the root */
		if (w > start)
			p[w++] = '/';
		memmove(p + w, p + s, n);
		w += n;
		if (dotdot)
			floor = w;
	}
	p[w] = '\0';
	return w;
}

bool audit_path_in_workspace(const char *p, size_t len)
{
	static const char ws[] = "/workspace";
	size_t n = sizeof(ws) - 1;

	return len >= n && !memcmp(p, ws, n) && (len == n || p[n] == '/');
}

bool audit_filter_match(const struct audit_filter *f,
			const struct audit_record *r)
{
	bool ok = false;

	if (f->sandbox_id && *f->sandbox_id &&
	    strcmp(f->sandbox_id, r->sandbox_id))
		return false;
	if ((f->since_ns && r->time_ns < f->since_ns) ||
	    (f->until_ns && r->time_ns >= f->until_ns))
		return false;
	if (r->lost)
		return true; /* a gap may hide anything the filter wants */
	if (f->decision && f->decision != r->decision)
		return false;
	if (f->path_glob && *f->path_glob &&
	    fnmatch(f->path_glob, r->path ? r->path : "", 0) != 0)
		return false;
	if (!f->ops || !f->ops[0])
		return true;
	for (size_t i = 0; f->ops[i] && !ok; i++)
		ok = !strcmp(f->ops[i], r->op);
	return ok;
}

int audit_level_parse(const char *s, enum audit_level *out)
{
	static const char *const names[] = { "denied", "writes", "all" };

	for (int i = 0; i < 3; i++)
		if (!strcmp(s, names[i])) {
			*out = (enum audit_level)i;
			return 0;
		}
	return -EINVAL;
}

const char *audit_level_name(enum audit_level l)
{
	switch (l) {
	case AUDIT_LEVEL_WRITES:
		return "writes";
	case AUDIT_LEVEL_ALL:
		return "all";
	default:
		return "denied";
	}
}
