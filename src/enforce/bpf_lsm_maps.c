// SPDX-License-Identifier: Apache-2.0
/*
 * Per-sandbox state of the bpf-lsm enforcer: the sandbox's matcher blob in
 * an inner map of af_policies and its entry in af_sandboxes, both keyed by
 * the sandbox's cgroup id. The programs treat a sandbox entry without rules
 * as "deny", and no sandbox entry as "not sandboxed", so the rules go in
 * before the entry and the entry goes first on removal.
 */
#define LOG_MOD "enforce"
#include <bpf/bpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/policy.h"
#include "bpf_lsm_internal.h"
#include "lsm.h"

static const char *const op_names[AF_OP_COUNT] = {
	[AF_OP_STAT] = "stat",
	[AF_OP_OPEN_DIR] = "open-dir",
	[AF_OP_OPEN_READ] = "open-read",
	[AF_OP_EXEC] = "exec",
	[AF_OP_MMAP] = "mmap",
	[AF_OP_OPEN_WRITE] = "open-write",
	[AF_OP_MMAP_WRITE] = "mmap-write",
	[AF_OP_TRUNCATE] = "truncate",
	[AF_OP_CHMOD] = "chmod",
	[AF_OP_CHOWN] = "chown",
	[AF_OP_SETATTR] = "setattr",
	[AF_OP_XATTR] = "xattr",
	[AF_OP_FILEATTR] = "fileattr",
	[AF_OP_UNLINK] = "unlink",
	[AF_OP_RMDIR] = "rmdir",
	[AF_OP_LINK_SRC] = "link-src",
	[AF_OP_RENAME_SRC] = "rename-src",
	[AF_OP_CREATE] = "create",
	[AF_OP_MKDIR] = "mkdir",
	[AF_OP_SYMLINK] = "symlink",
	[AF_OP_LINK_DST] = "link-dst",
	[AF_OP_RENAME_DST] = "rename-dst",
};

const char *lsm_op_name(unsigned int op)
{
	return op < AF_OP_COUNT && op_names[op] ? op_names[op] : "?";
}

uint64_t lsm_kernel_dev(uint64_t st_dev)
{
	uint64_t maj = major(st_dev), min = minor(st_dev);

	/* The kernel's dev_t has 12 bits of major and 20 of minor. */
	if (maj >= (1u << 12) || min >= (1u << 20))
		return 0;
	return maj << 20 | min;
}

/* A frozen one-entry array holding the blob, as af_policies' inner map. */
static int blob_map(const struct af_matcher *m, char *err, size_t errlen)
{
	_cleanup_free_ void *value = NULL;
	_cleanup_close_ int fd = -1;
	__u32 zero = 0;
	size_t size;
	const void *blob = af_matcher_blob(m, &size);

	if (!blob || size > AF_PM_BLOB_MAX) {
		snprintf(err, errlen, "compiled policy of %zu bytes exceeds %u",
			 size, AF_PM_BLOB_MAX);
		return -E2BIG;
	}
	value = calloc(1, AF_PM_BLOB_MAX);
	if (!value)
		return -ENOMEM;
	memcpy(value, blob, size);
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "af_blob", sizeof(__u32),
			    AF_PM_BLOB_MAX, 1, NULL);
	if (fd < 0 || bpf_map_update_elem(fd, &zero, value, BPF_ANY) < 0 ||
	    bpf_map_freeze(fd) < 0) {
		int r = -errno;

		snprintf(err, errlen, "creating the rule map: %s",
			 strerror(-r));
		return r;
	}
	return TAKE_FD(fd);
}

int lsm_maps_install(const struct lsm_maps *mp, uint64_t cgroup_id,
		     const struct af_matcher *m, char *err, size_t errlen)
{
	struct af_lsm_sandbox sb = { 0 };
	_cleanup_close_ int inner = blob_map(m, err, errlen);
	int r;

	if (inner < 0)
		return inner;
	if (bpf_map_update_elem(mp->policies, &cgroup_id, &inner, BPF_NOEXIST) <
	    0) {
		r = -errno;
		snprintf(err, errlen, "installing rules for cgroup %llu: %s",
			 (unsigned long long)cgroup_id,
			 r == -EEXIST ? "already installed" : strerror(-r));
		return r;
	}
	if (bpf_map_update_elem(mp->sandboxes, &cgroup_id, &sb, BPF_NOEXIST) <
	    0) {
		r = -errno;
		bpf_map_delete_elem(mp->policies, &cgroup_id);
		snprintf(err, errlen, "adding sandbox cgroup %llu: %s",
			 (unsigned long long)cgroup_id,
			 r == -EEXIST ? "already present" : strerror(-r));
		return r;
	}
	return 0;
}

int lsm_maps_set_workspace(const struct lsm_maps *mp, uint64_t cgroup_id,
			   uint64_t st_dev)
{
	struct af_lsm_sandbox sb;
	uint64_t dev = lsm_kernel_dev(st_dev);

	if (!dev)
		return -EINVAL;
	if (bpf_map_lookup_elem(mp->sandboxes, &cgroup_id, &sb) < 0)
		return -errno;
	if (sb.ws_dev == dev)
		return 0;
	/* A sandbox's workspace never moves while it runs. */
	if (sb.ws_dev)
		return -EBUSY;
	sb.ws_dev = dev;
	if (bpf_map_update_elem(mp->sandboxes, &cgroup_id, &sb, BPF_EXIST) < 0)
		return -errno;
	return 0;
}

int lsm_maps_remove(const struct lsm_maps *mp, uint64_t cgroup_id)
{
	int r = 0;

	if (bpf_map_delete_elem(mp->sandboxes, &cgroup_id) < 0 &&
	    errno != ENOENT)
		r = -errno;
	if (bpf_map_delete_elem(mp->policies, &cgroup_id) < 0 &&
	    errno != ENOENT && !r)
		r = -errno;
	return r;
}

int lsm_maps_set_audit_mode(const struct lsm_maps *mp, uint64_t cgroup_id,
			    uint32_t mode)
{
	struct af_lsm_sandbox sb;

	if (bpf_map_lookup_elem(mp->sandboxes, &cgroup_id, &sb) < 0)
		return -errno;
	sb.audit_mode = mode;
	if (bpf_map_update_elem(mp->sandboxes, &cgroup_id, &sb, BPF_EXIST) < 0)
		return -errno;
	return 0;
}

int lsm_maps_audit_dropped(const struct lsm_maps *mp, uint64_t cgroup_id,
			   uint64_t *out)
{
	struct af_lsm_sandbox sb;

	if (bpf_map_lookup_elem(mp->sandboxes, &cgroup_id, &sb) < 0)
		return -errno;
	*out = sb.audit_dropped;
	return 0;
}
