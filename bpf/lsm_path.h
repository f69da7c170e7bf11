/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The workspace path of a dentry, built in the kernel (BPF only).
 *
 * The path is the chain of names from the dentry up to the root of its
 * superblock: for the sandbox's overlay that root is /workspace, so the
 * result is exactly the workspace path the rules are written for, however
 * the file was reached (symlinks, /proc/self/fd, a bind mount, a chroot).
 * It works in every hook, for negative dentries of entries about to be
 * created too, where bpf_d_path() is not allowed.
 *
 * Names are copied right to left into buf, ending at AF_PM_PATH_MAX, one
 * component per bpf_loop() iteration. A walk fails (and the caller fails
 * closed) when the path is longer than AF_PM_PATH_MAX, deeper than
 * AF_LSM_DEPTH_MAX, or does not reach the root (a disconnected dentry).
 * A rename anywhere in the system while we walk may tear the path, so the
 * walk is bracketed by reads of the kernel's rename_lock sequence, as
 * d_path() does, and retried when a rename got in between.
 */
#ifndef AGENTFENSE_LSM_PATH_H
#define AGENTFENSE_LSM_PATH_H

#include "lsm.h"

#define AF_E_NOENT	 2
#define AF_E_AGAIN	 11
#define AF_E_FAULT	 14
#define AF_E_INVAL	 22
#define AF_E_NAMETOOLONG 36
#define AF_E_LOOP	 40

/* Absent from kallsyms on kernels without KALLSYMS_ALL: then not used. */
extern const void rename_lock __ksym __weak;

struct af_path_walk {
	struct dentry *d;
	struct dentry *root;
	__u8 *buf;
	__u32 pos; /* index of the first byte written so far */
	int err;
};

static long af_path_step(__u32 i, void *ctx)
{
	struct af_path_walk *w = ctx;
	struct dentry *d = w->d, *parent;
	__u32 n, pos = w->pos;

	if (d == w->root)
		return 1;
	parent = d->d_parent;
	if (!parent || parent == d) {
		w->err = -AF_E_NOENT; /* disconnected from the root */
		return 1;
	}
	n = d->d_name.len;
	if (n == 0 || n > AF_LSM_NAME_MAX) {
		w->err = -AF_E_INVAL;
		return 1;
	}
	if (n + 1 > pos) {
		w->err = -AF_E_NAMETOOLONG;
		return 1;
	}
	pos -= n;
	if (bpf_probe_read_kernel(w->buf + (pos & AF_PM_PATH_MASK),
				  n & AF_LSM_NAME_MAX, d->d_name.name)) {
		w->err = -AF_E_FAULT;
		return 1;
	}
	pos--;
	w->buf[pos & AF_PM_PATH_MASK] = '/';
	w->pos = pos;
	w->d = parent;
	return 0;
}

static __always_inline __u32 af_rename_seq(void)
{
	__u32 seq = 0;

	/* seqlock_t starts with its sequence counter. */
	if (&rename_lock)
		bpf_probe_read_kernel(&seq, sizeof(seq), &rename_lock);
	return seq;
}

/*
 * Write d's path into buf (AF_LSM_BUF_BYTES bytes): returns the index of
 * its leading '/' (the path ends at AF_PM_PATH_MAX), or a negative errno.
 */
static __noinline int af_path_of(struct dentry *d, __u8 *buf)
{
	for (int t = 0; t < AF_LSM_WALK_TRIES; t++) {
		struct af_path_walk w = {
			.d = d,
			.root = d->d_sb->s_root,
			.buf = buf,
			.pos = AF_PM_PATH_MAX,
		};
		__u32 seq = af_rename_seq();

		if (seq & 1)
			continue; /* a rename is in progress */
		bpf_loop(AF_LSM_DEPTH_MAX, af_path_step, &w, 0);
		if (af_rename_seq() != seq)
			continue;
		if (w.err)
			return w.err;
		if (w.d != w.root)
			return -AF_E_LOOP; /* deeper than we walk */
		if (w.pos == AF_PM_PATH_MAX) {
			buf[AF_PM_PATH_MAX - 1] = '/'; /* the root itself */
			return AF_PM_PATH_MAX - 1;
		}
		return w.pos;
	}
	return -AF_E_AGAIN;
}

#endif
