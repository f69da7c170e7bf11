// SPDX-License-Identifier: Apache-2.0
#include "agentfense/util.h"

#include <errno.h>
#include <limits.h>
#include <string.h>

static int reject(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EINVAL;
}

int af_path_normalize(const char *path, size_t len, char *out, size_t outlen,
		      const char **why)
{
	size_t o = 0;

	if (!path || len == 0)
		return reject(why, "path is empty");
	if (memchr(path, '\0', len))
		return reject(why, "path contains a NUL byte");
	if (len >= PATH_MAX || len >= outlen)
		return reject(why, "path is too long");
	/* One leading '/' is accepted: wire paths are workspace-relative. */
	if (path[0] == '/') {
		path++;
		len--;
		if (len == 0)
			return reject(why, "path names the root, not a file");
		if (path[0] == '/')
			return reject(why, "path has an empty component");
	}
	for (size_t i = 0; i < len;) {
		size_t j = i;

		while (j < len && path[j] != '/')
			j++;
		if (j == i)
			return reject(why, "path has an empty component");
		if ((j - i == 1 && path[i] == '.') ||
		    (j - i == 2 && path[i] == '.' && path[i + 1] == '.'))
			return reject(why, "path has a '.' or '..' component");
		if (j - i > NAME_MAX)
			return reject(why, "path component is too long");
		if (o)
			out[o++] = '/';
		memcpy(out + o, path + i, j - i);
		o += j - i;
		if (j == len)
			break;
		i = j + 1;
		if (i == len)
			return reject(why, "path ends with '/'");
	}
	out[o] = '\0';
	return 0;
}
