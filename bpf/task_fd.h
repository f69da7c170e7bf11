/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The struct file behind a task's fd, for BPF programs that are handed an
 * fd number (the trace source's system calls, the hook tests' arguments).
 * Needs vmlinux.h and bpf_core_read.h first.
 */
#ifndef AGENTFENSE_TASK_FD_H
#define AGENTFENSE_TASK_FD_H

extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;

/* NULL for a closed or out-of-range fd. */
static struct file *af_fd_file(struct task_struct *t, int fd)
{
	struct fdtable *fdt = t->files->fdt;
	struct file *f = NULL;

	if (fd < 0 || (unsigned int)fd >= fdt->max_fds)
		return NULL;
	bpf_probe_read_kernel(&f, sizeof(f), &fdt->fd[fd]);
	if (!f)
		return NULL;
	return bpf_rdonly_cast(f, bpf_core_type_id_kernel(struct file));
}

#endif
