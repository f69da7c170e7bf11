// SPDX-License-Identifier: Apache-2.0
/*
 * Applying the daemon's Landlock plan (include/agentfense/landlock_plan.h)
 * inside the sandbox: each path is opened in the sandbox's own view, since
 * Landlock rules attach to the inodes a sandboxed command will see.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agentfense/landlock_plan.h"

#define LL_RULE_PATH_BENEATH 1

struct ll_path_beneath {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

static size_t attr_size(uint32_t abi)
{
	return abi >= 6 ? 24 : abi >= 4 ? 16 : 8;
}

/* One rule; a path that does not exist in this sandbox is skipped. */
static int add_rule(int ruleset, const char *path, uint64_t access, char *err,
		    size_t errlen)
{
	struct ll_path_beneath pb;
	struct stat st;
	int fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "landlock: open %s: %s", path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || S_ISLNK(st.st_mode)) {
		close(fd);
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		access &= LL_FS_FILE_RIGHTS;
	pb.allowed_access = access;
	pb.parent_fd = fd;
	if (access && syscall(SYS_landlock_add_rule, ruleset,
			      LL_RULE_PATH_BENEATH, &pb, 0) < 0) {
		snprintf(err, errlen, "landlock: rule for %s: %s", path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int add_rules(int ruleset, const char *p, const char *end, uint32_t n,
		     char *err, size_t errlen)
{
	char path[65536 + 1];

	for (uint32_t i = 0; i < n; i++) {
		struct ll_plan_rule rule;

		if ((size_t)(end - p) < sizeof(rule))
			goto bad;
		memcpy(&rule, p, sizeof(rule));
		p += sizeof(rule);
		if ((size_t)(end - p) < rule.path_len)
			goto bad;
		memcpy(path, p, rule.path_len);
		path[rule.path_len] = '\0';
		p += rule.path_len;
		if (add_rule(ruleset, path, rule.access, err, errlen) < 0)
			return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "landlock: truncated plan");
	return -1;
}

int landlock_build(int memfd, char *err, size_t errlen)
{
	struct ll_plan_header h;
	struct ll_ruleset_attr attr = { 0 };
	struct stat st;
	char *map;
	int ruleset = -1;

	if (fstat(memfd, &st) < 0 || (size_t)st.st_size < sizeof(h)) {
		snprintf(err, errlen, "landlock: no plan");
		return -1;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, memfd, 0);
	if (map == MAP_FAILED) {
		snprintf(err, errlen, "landlock: map plan: %s",
			 strerror(errno));
		return -1;
	}
	memcpy(&h, map, sizeof(h));
	if (memcmp(h.magic, LL_PLAN_MAGIC, sizeof(h.magic)) != 0) {
		snprintf(err, errlen, "landlock: bad plan");
		goto out;
	}
	attr.handled_access_fs = h.handled_fs;
	attr.scoped = h.scoped;
	ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr,
			       attr_size(h.abi), 0);
	if (ruleset < 0) {
		snprintf(err, errlen, "landlock: create ruleset (ABI %u): %s",
			 h.abi, strerror(errno));
		goto out;
	}
	if (add_rules(ruleset, map + sizeof(h), map + st.st_size, h.n_rules,
		      err, errlen) < 0) {
		close(ruleset);
		ruleset = -1;
	}
out:
	munmap(map, (size_t)st.st_size);
	return ruleset;
}

int landlock_enter(int ruleset_fd)
{
	return (int)syscall(SYS_landlock_restrict_self, ruleset_fd, 0);
}
