// SPDX-License-Identifier: Apache-2.0
#include "convert.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/util.h"

void conv_timestamp(Google__Protobuf__Timestamp *ts, uint64_t real_ns)
{
	google__protobuf__timestamp__init(ts);
	ts->seconds = (int64_t)(real_ns / 1000000000ull);
	ts->nanos = (int32_t)(real_ns % 1000000000ull);
}

int conv_set_time(Google__Protobuf__Timestamp **ts, uint64_t real_ns)
{
	Google__Protobuf__Timestamp *t = malloc(sizeof(*t));

	if (!t)
		return -ENOMEM;
	conv_timestamp(t, real_ns);
	free(*ts);
	*ts = t;
	return 0;
}

int conv_set_now(Google__Protobuf__Timestamp **ts)
{
	return conv_set_time(ts, af_now_real_ns());
}

void conv_duration(Google__Protobuf__Duration *d, uint64_t ns)
{
	google__protobuf__duration__init(d);
	d->seconds = (int64_t)(ns / 1000000000ull);
	d->nanos = (int32_t)(ns % 1000000000ull);
}

int64_t conv_duration_ms(const Google__Protobuf__Duration *d)
{
	if (!d)
		return 0;
	if (d->seconds < 0 || d->nanos < 0 || d->nanos >= 1000000000 ||
	    d->seconds > 100ll * 365 * 86400)
		return -1;
	return d->seconds * 1000 + d->nanos / 1000000 +
	       (d->nanos % 1000000 ? 1 : 0);
}

int free_replace_str(char **field, const char *value)
{
	char *s = strdup(value);

	if (!s)
		return -ENOMEM;
	/* protobuf-c's shared empty default must not be freed. */
	if (*field != protobuf_c_empty_string)
		free(*field);
	*field = s;
	return 0;
}

/* Length of the valid UTF-8 sequence at s, 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t left)
{
	size_t n;
	unsigned int cp;

	/* NUL cannot travel in a protobuf-c string: treat it as invalid. */
	if (s[0] == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are invalid. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
	    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool conv_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(p + i, len - i);

		if (!n)
			return false;
		i += n;
	}
	return true;
}

char *conv_utf8_lossy(const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out = malloc(max + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq(p + i, len - i);
		const char *src = n ? s + i : "\xef\xbf\xbd";
		size_t w = n ? n : 3;

		if (o + w > max)
			break;
		memcpy(out + o, src, w);
		o += w;
		i += n ? n : 1;
	}
	out[o] = '\0';
	return out;
}
