// SPDX-License-Identifier: GPL-2.0
/*
 * The enforcer's decisions run with BPF_PROG_TEST_RUN, where LSM programs
 * cannot be loaded (tests/bpf/test_lsm_*.c). The same maps, path walk and
 * per-hook logic as bpf/lsm.bpf.c (lsm_core.h, lsm_hooks.h), fed with the
 * struct file / dentry behind the calling task's file descriptors.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "lsm_hooks.h"
#include "lsm_test.h"
#include "task_fd.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct af_lsm_test_out);
} test_out SEC(".maps");

static struct file *fd_file(int fd)
{
	return af_fd_file(bpf_get_current_task_btf(), fd);
}

/*
 * One program per hook, as in production: a program that could run every
 * hook would be verified for all of them at once.
 */
#define AF_TEST_PROG(name, expr)                                              \
	SEC("syscall")                                                        \
	int name(struct af_lsm_test_args *a)                                  \
	{                                                                     \
		struct file *f = fd_file(a->fd), *f2 = fd_file(a->fd2);       \
                                                                              \
		a->cgid =                                                     \
			bpf_get_current_ancestor_cgroup_id(sandbox_cg_level); \
		a->found = f && (a->fd2 < 0 || f2);                           \
		if (!a->found)                                                \
			return -1;                                            \
		a->ret = (expr);                                              \
		return 0;                                                     \
	}

AF_TEST_PROG(test_file_open, af_hook_file_open(f))
AF_TEST_PROG(test_file_ioctl, af_hook_file_ioctl(f, a->arg1))
AF_TEST_PROG(test_mmap_file, af_hook_mmap_file(f, a->arg1, a->arg2))
AF_TEST_PROG(test_mprotect, af_hook_mprotect(f, a->arg1, a->arg2))
AF_TEST_PROG(test_object, af_hook_object(f->f_path.dentry, a->op))
AF_TEST_PROG(test_new_entry, af_hook_new_entry(f->f_path.dentry, a->op))
AF_TEST_PROG(test_link, f2 ? af_hook_link(f->f_path.dentry, f2->f_path.dentry)
			   : -AF_E_INVAL)
/* arg2: the verdict of the program that ran before (the hook's ret). */
AF_TEST_PROG(test_rename,
	     f2 ? af_hook_rename(a->arg2, f->f_path.dentry, f2->f_path.dentry)
		: -AF_E_INVAL)
AF_TEST_PROG(test_rename_exchange,
	     f2 ? af_hook_rename_exchange(a->arg2, f->f_path.dentry,
					  f2->f_path.dentry, a->arg1)
		: -AF_E_INVAL)

SEC("syscall")
int path_of(struct af_lsm_test_path *a)
{
	struct file *f = fd_file(a->fd);
	struct af_lsm_scratch *s;
	struct af_lsm_test_out *out;
	__u32 zero = 0;
	__u64 len;
	int pos;

	s = bpf_task_storage_get(&af_scratch, bpf_get_current_task_btf(), 0,
				 BPF_LOCAL_STORAGE_GET_F_CREATE);
	out = bpf_map_lookup_elem(&test_out, &zero);
	if (!f || !s || !out)
		return -1;
	pos = af_path_of(f->f_path.dentry, s->path);
	a->ret = pos;
	a->len = 0;
	if (pos < 0 || pos >= AF_PM_PATH_MAX)
		return 0;
	len = AF_PM_PATH_MAX - (__u64)pos;
	barrier_var(len);
	if (len > AF_PM_PATH_MAX)
		return 0;
	bpf_probe_read_kernel(out->path, len, s->path + (AF_PM_PATH_MAX - len));
	a->len = len;
	return 0;
}
