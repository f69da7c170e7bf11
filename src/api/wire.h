/* SPDX-License-Identifier: Apache-2.0 */
#ifndef AF_API_WIRE_H
#define AF_API_WIRE_H

#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * False when the encoded message is malformed or any of its string fields
 * (nested messages and map entries included) holds a NUL byte.
 */
bool wire_strings_ok(const ProtobufCMessageDescriptor *d, const uint8_t *p,
		     size_t len);

#endif
