/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The enforcer's maps and its one check, shared by the LSM programs
 * (bpf/lsm.bpf.c) and their BPF_PROG_TEST_RUN wrappers
 * (bpf/lsm_test.bpf.c), so the code the tests run is the code that
 * decides. BPF only; include once per object, after vmlinux.h and the
 * libbpf headers.
 *
 * A check: is the task in a sandbox (one hash lookup by the cgroup id at
 * the sandbox level, and out for everybody else)? Does the sandbox know
 * its workspace yet? Is the object on that superblock? Then build its
 * workspace path (lsm_path.h), walk the sandbox's matcher over it
 * (policy_match.h), decide (lsm_decide.h) and report a denial, or an
 * allowed operation when the sandbox's audit mode asks for it.
 */
#ifndef AGENTFENSE_LSM_CORE_H
#define AGENTFENSE_LSM_CORE_H

#include "audit_event.h"
#include "lsm.h"
#include "lsm_decide.h"
#include "lsm_path.h"
#include "policy_match.h"

#define AF_S_IFMT  00170000
#define AF_S_IFDIR 0040000

/* Depth of sandbox cgroups in the v2 hierarchy (set by the loader). */
const volatile int sandbox_cg_level = 2;

/* Audit events lost because the ring buffer was full. */
__u64 audit_dropped = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AF_LSM_SANDBOXES_MAX);
	__type(key, __u64);
	__type(value, struct af_lsm_sandbox);
} af_sandboxes SEC(".maps");

/*
 * Sizes rather than BTF types: clang emits an inner map's value type as a
 * forward declaration only, which libbpf cannot size.
 */
struct af_lsm_blob_map {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, AF_PM_BLOB_MAX);
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, AF_LSM_SANDBOXES_MAX);
	__type(key, __u64);
	__array(values, struct af_lsm_blob_map);
} af_policies SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, AF_LSM_RINGBUF_BYTES);
} audit_events SEC(".maps");

struct af_lsm_scratch {
	__u8 path[AF_LSM_BUF_BYTES];
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct af_lsm_scratch);
} af_scratch SEC(".maps");

/* One hooked call by a sandboxed task. */
struct af_req {
	__u64 cgid;
	__u64 ws_dev;
	struct af_lsm_sandbox *sb;
	const __u8 *blob;	  /* looked up on first use */
	struct af_lsm_scratch *s; /* likewise */
};

/*
 * 1 when the current task is sandboxed and its sandbox's workspace is
 * known, so that its operations on the workspace are checked.
 */
static __always_inline int af_req_begin(struct af_req *r)
{
	struct af_lsm_sandbox *sb;

	r->cgid = bpf_get_current_ancestor_cgroup_id(sandbox_cg_level);
	sb = bpf_map_lookup_elem(&af_sandboxes, &r->cgid);
	if (!sb || !sb->ws_dev)
		return 0;
	r->ws_dev = sb->ws_dev;
	r->sb = sb;
	r->blob = NULL;
	r->s = NULL;
	return 1;
}

static __always_inline int af_req_load(struct af_req *r)
{
	__u32 zero = 0;
	void *inner;

	if (r->blob && r->s)
		return 0;
	inner = bpf_map_lookup_elem(&af_policies, &r->cgid);
	if (!inner)
		return -1; /* a sandbox without rules: fail closed */
	r->blob = bpf_map_lookup_elem(inner, &zero);
	r->s = bpf_task_storage_get(&af_scratch, bpf_get_current_task_btf(), 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
	return r->blob && r->s ? 0 : -1;
}

static __always_inline int af_is_dir(struct dentry *d)
{
	struct inode *inode = d->d_inode;

	return inode && (inode->i_mode & AF_S_IFMT) == AF_S_IFDIR;
}

/* Wake the reader only when the buffer is an eighth full (audit_event.h). */
static __always_inline void af_audit_submit(struct af_audit_event *e)
{
	bpf_ringbuf_submit(
		e, AF_RB_WAKE_FLAG(&audit_events, AF_LSM_RINGBUF_BYTES / 8));
}

/* The path starts at pos in r->s; pos < 0: it could not be built. */
static __noinline void af_audit(struct af_req *r, __u32 op, int err, int pos)
{
	struct af_audit_event *e;
	__u64 id, len;

	e = bpf_ringbuf_reserve(&audit_events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&audit_dropped, 1);
		__sync_fetch_and_add(&r->sb->audit_dropped, 1);
		return;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->cgroup_id = r->cgid;
	id = bpf_get_current_pid_tgid();
	e->pid = id >> 32;
	e->tid = (__u32)id;
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->op = op;
	e->decision = err ? AF_AUDIT_DENY : AF_AUDIT_ALLOW;
	e->err = -err;
	e->flags = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (pos < 0 || pos >= AF_PM_PATH_MAX || !r->s) {
		e->flags = AF_AUDIT_F_UNRESOLVED;
		e->path[0] = '?';
		e->path[1] = '\0';
		e->path_len = 1;
		af_audit_submit(e);
		return;
	}
	__builtin_memcpy(e->path, AF_LSM_WORKSPACE, AF_LSM_WORKSPACE_LEN);
	/*
	 * 64-bit and behind a barrier, so the register the verifier sees
	 * checked is the one used (clang would check a copy otherwise).
	 */
	len = AF_PM_PATH_MAX - (__u64)pos;
	barrier_var(len);
	if (len == 1 || len > AF_PM_PATH_MAX)
		len = 0; /* the root: "/workspace", not "/workspace/" */
	bpf_probe_read_kernel(e->path + AF_LSM_WORKSPACE_LEN, len,
			      r->s->path + (AF_PM_PATH_MAX - len));
	e->path[AF_LSM_WORKSPACE_LEN + len] = '\0';
	e->path_len = AF_LSM_WORKSPACE_LEN + len;
	af_audit_submit(e);
}

/*
 * A new entry at the path at pos whose last component is d's name: is its
 * parent directory hidden (level none)? The root never is.
 */
static __always_inline int af_parent_hidden(struct af_req *r, struct dentry *d,
					    int pos)
{
	__u32 n = d->d_name.len, len = AF_PM_PATH_MAX - pos;
	__u32 info;

	barrier_var(len);
	if (len <= n + 1 || len > AF_PM_PATH_MAX)
		return 0;
	info = af_pm_walk(r->blob, r->s->path, pos, len - n - 1);
	return af_pm_level(info, 1) == AF_PM_LEVEL_NONE;
}

/*
 * The check: 0 to allow op on d, or the negative errno to refuse it with.
 * Objects outside the sandbox's workspace are not ours to decide.
 */
static __noinline int af_check(struct af_req *r, struct dentry *d, __u32 op,
			       int is_dir)
{
	int pos, err;
	__u32 info;

	if (!d || d->d_sb->s_dev != r->ws_dev)
		return 0;
	if (af_req_load(r) < 0 || !r->blob || !r->s) {
		af_audit(r, op, -AF_LSM_EACCES, -1);
		return -AF_LSM_EACCES;
	}
	pos = af_path_of(d, r->s->path);
	if (pos < 0 || pos >= AF_PM_PATH_MAX) {
		af_audit(r, op, -AF_LSM_EACCES, -1);
		return -AF_LSM_EACCES;
	}
	/*
	 * clang must not carry what it knows of pos into the walk: it would
	 * drop the walk's masks, which are what the verifier checks.
	 */
	barrier_var(pos);
	info = af_pm_walk(r->blob, r->s->path, pos, AF_PM_PATH_MAX - pos);
	err = af_lsm_decide(info, is_dir, op, 0);
	if (err && af_lsm_op_creates(op))
		err = af_lsm_decide(info, is_dir, op,
				    af_parent_hidden(r, d, pos));
	if (af_audit_wanted(r->sb->audit_mode, err != 0,
			    af_lsm_op_need(op) == AF_LEVEL_WRITE))
		af_audit(r, op, err, pos);
	return err;
}

#endif
