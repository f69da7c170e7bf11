// SPDX-License-Identifier: GPL-2.0
/*
 * VM smoke test: an lsm/file_open program that denies opening any file with
 * one chosen name (set by the loader) with EACCES and reports each denial,
 * with the path from bpf_d_path(), through a ring buffer. Built against the
 * host's BTF, it must relocate and verify on the guest's Debian 6.1 kernel.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "lsm_smoke.h"

#define EACCES 13

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 * 1024);
} events SEC(".maps");

/* Read-only after load, as bpf_strncmp() requires of its second string. */
const volatile char target_name[SMOKE_NAME_LEN] = {};

__u64 denied = 0;

SEC("lsm/file_open")
int BPF_PROG(deny_target, struct file *file, int ret)
{
	char name[SMOKE_NAME_LEN];
	const unsigned char *dname;
	struct smoke_event *e;

	/* Another LSM program already decided. */
	if (ret)
		return ret;
	dname = BPF_CORE_READ(file, f_path.dentry, d_name.name);
	if (bpf_probe_read_kernel_str(name, sizeof(name), dname) < 0)
		return 0;
	if (bpf_strncmp(name, sizeof(name), (const char *)target_name))
		return 0;

	__sync_fetch_and_add(&denied, 1);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->pid = bpf_get_current_pid_tgid() >> 32;
		/* f_path is const in newer struct file; the helper reads it. */
		e->path_len = bpf_d_path((struct path *)&file->f_path, e->path,
					 sizeof(e->path));
		bpf_ringbuf_submit(e, 0);
	}
	return -EACCES;
}
