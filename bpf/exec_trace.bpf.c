// SPDX-License-Identifier: GPL-2.0
/*
 * Sandbox exec tracer: one event per successful execve by a task whose
 * cgroup (v2) belongs to a sandbox. Non-sandboxed tasks cost one hash
 * lookup. tp_btf programs load where LSM programs do not.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "exec_trace.h"

char LICENSE[] SEC("license") = "GPL";

/* cgroup id -> reserved flags; the daemon adds and removes sandboxes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AF_MAX_SANDBOXES);
	__type(key, __u64);
	__type(value, __u32);
} sandbox_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} exec_events SEC(".maps");

/* Depth of sandbox cgroups in the v2 hierarchy (set by the loader). */
const volatile int sandbox_cg_level = 2;

/* Events lost because the ring buffer was full; read by the daemon. */
__u64 dropped = 0;

SEC("tp_btf/sched_process_exec")
int BPF_PROG(handle_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	struct af_exec_event *e;
	__u64 cgid;
	const char *fname;

	/* The sandbox's cgroup or any child of it (per-exec cgroups). */
	cgid = bpf_get_current_ancestor_cgroup_id(sandbox_cg_level);
	if (!bpf_map_lookup_elem(&sandbox_cgroups, &cgid))
		return 0;
	e = bpf_ringbuf_reserve(&exec_events, sizeof(*e), 0);
	if (!e) {
		__sync_fetch_and_add(&dropped, 1);
		return 0;
	}
	e->ts_ns = bpf_ktime_get_ns();
	e->cgroup_id = cgid;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->uid = (__u32)bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	fname = BPF_CORE_READ(bprm, filename);
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), fname);
	bpf_ringbuf_submit(e, 0);
	return 0;
}
