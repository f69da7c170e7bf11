/* SPDX-License-Identifier: Apache-2.0 */
/* Event layout shared by exec_trace.bpf.c, the daemon and afctl. */
#ifndef AGENTFENSE_EXEC_TRACE_H
#define AGENTFENSE_EXEC_TRACE_H

#define AF_COMM_LEN 16
#define AF_EXEC_PATH_LEN 256
#define AF_MAX_SANDBOXES 4096

struct af_exec_event {
	unsigned long long ts_ns;     /* bpf_ktime_get_ns() */
	unsigned long long cgroup_id; /* cgroup v2 id of the sandbox */
	unsigned int pid;             /* host pid (tgid) */
	unsigned int uid;
	char comm[AF_COMM_LEN];
	char filename[AF_EXEC_PATH_LEN]; /* as passed to execve */
};

#endif
