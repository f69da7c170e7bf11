// SPDX-License-Identifier: Apache-2.0
/*
 * A look at a request's wire bytes before protobuf-c unpacks them.
 * protobuf-c hands strings back as C strings, so a string holding a NUL
 * would be cut short silently ("a\0../x" becoming "a"): such requests are
 * refused instead, whatever field the string is in.
 */
#include "wire.h"

#include <string.h>

#define MAX_DEPTH 32

static bool varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

static bool check(const ProtobufCMessageDescriptor *d, const uint8_t *p,
		  const uint8_t *end, int depth)
{
	if (depth > MAX_DEPTH)
		return false;
	while (p < end) {
		const ProtobufCFieldDescriptor *f;
		uint64_t key, len;

		if (!varint(&p, end, &key))
			return false;
		switch (key & 7) {
		case 0:
			if (!varint(&p, end, &len))
				return false;
			continue;
		case 1:
			if (end - p < 8)
				return false;
			p += 8;
			continue;
		case 5:
			if (end - p < 4)
				return false;
			p += 4;
			continue;
		case 2:
			break;
		default:
			return false; /* groups: not in proto3 */
		}
		if (!varint(&p, end, &len) || len > (uint64_t)(end - p))
			return false;
		f = protobuf_c_message_descriptor_get_field(
			d, (unsigned)(key >> 3));
		if (f && f->type == PROTOBUF_C_TYPE_STRING && memchr(p, 0, len))
			return false;
		if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
		    !check(f->descriptor, p, p + len, depth + 1))
			return false;
		p += len;
	}
	return true;
}

bool wire_strings_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p,
		     size_t len)
{
	return check(d, p, p + len, 0);
}
