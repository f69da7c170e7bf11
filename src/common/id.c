// SPDX-License-Identifier: Apache-2.0
#include "agentfense/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

int af_id_new(const char *prefix, char *out, size_t outlen)
{
	unsigned char rnd[AF_ID_HEX_LEN / 2];
	size_t plen = strlen(prefix);

	if (plen + AF_ID_HEX_LEN + 1 > outlen)
		return -ENAMETOOLONG;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -errno ? -errno : -EIO;
	snprintf(out, outlen, "%s", prefix);
	af_hex(rnd, sizeof(rnd), out + plen);
	return 0;
}

bool af_id_valid(const char *prefix, const char *id)
{
	size_t plen = strlen(prefix);

	if (!id || strncmp(id, prefix, plen) != 0)
		return false;
	id += plen;
	if (strlen(id) != AF_ID_HEX_LEN)
		return false;
	for (; *id; id++)
		if (!((*id >= '0' && *id <= '9') || (*id >= 'a' && *id <= 'f')))
			return false;
	return true;
}

size_t af_strlcpy(char *dst, const char *src, size_t size)
{
	size_t len = strlen(src);

	if (size) {
		size_t n = len < size - 1 ? len : size - 1;

		memcpy(dst, src, n);
		dst[n] = '\0';
	}
	return len;
}

void af_hex(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}
