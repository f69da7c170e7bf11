/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Messages between the daemon (src/runtime) and agentfense-init, over
 * SOCK_SEQPACKET sockets: one message per datagram, fds as SCM_RIGHTS.
 *
 *  control socket (one per sandbox; init's fd 3, the sandbox cgroup fd 4,
 *  and on hybrid hosts the sandbox's v1 cgroups as fds 5.. for init to join):
 *    daemon -> init   INIT_CONFIG first: sandbox dir, snapshot, hostname,
 *                     overlay options, /tmp size (NUL-separated), so no
 *                     host path shows in the sandbox's /proc/1/cmdline
 *    init -> daemon   INIT_READY once the sandbox root is built, or
 *                     INIT_FAILED with a reason, then exit
 *    daemon -> init   INIT_EXEC + payload, fds: status socket, stdin,
 *                     stdout, stderr, exec cgroup dir
 *  status socket (one per command):
 *    init -> daemon   INIT_STARTED (pid), then INIT_EXITED (wait status);
 *                     the child itself may send INIT_SPAWN_FAILED before
 *                     exiting 127 when it cannot reach execve
 * Closing the control socket makes init exit, which kills the sandbox's
 * pid namespace: a dead daemon leaves no sandbox process running.
 */
#ifndef AF_RUNTIME_INITPROTO_H
#define AF_RUNTIME_INITPROTO_H

#include <stdint.h>

enum init_msg_type {
	INIT_CONFIG = 5,
	INIT_READY = 1,
	INIT_FAILED = 2,
	INIT_EXEC = 10,
	INIT_STARTED = 20,
	INIT_EXITED = 21,
	INIT_SPAWN_FAILED = 22,
};

#define INIT_CTL_FD    3
#define INIT_CGROUP_FD 4
/* Open fds in this range are v1 cgroup directories; the rest are closed. */
#define INIT_CGROUP_V1_FD  5
#define INIT_CGROUP_V1_MAX 3
#define INIT_CONFIG_FIELDS 6
/*
 * Guest mode (`agentfense-init --guest`, the Docker runtime): a pidfd of
 * the container's pid 1, whose namespaces init joins instead of building a
 * root of its own; init exits when that process does.
 */
#define INIT_GUEST_FD (INIT_CGROUP_V1_FD + INIT_CGROUP_V1_MAX)
/*
 * Init keeps an O_PATH fd of the delta's upper directory here (taken by
 * the daemon with pidfd_getfd to list changes: a capped delta is mounted
 * only inside the sandbox). Commands never get it (init closes every fd
 * above their own before exec).
 */
#define INIT_UPPER_FD 100

/*
 * INIT_EXEC fds: these five, then up to INIT_EXEC_MAX_EXTRA more that the
 * command gets as fds 3, 4, ... (a session shell's command and status pipes).
 */
#define INIT_EXEC_NFDS	    5
#define INIT_EXEC_MAX_EXTRA 4
enum {
	INIT_FD_STATUS,
	INIT_FD_STDIN,
	INIT_FD_STDOUT,
	INIT_FD_STDERR,
	INIT_FD_CGROUP
};

/* Bounds of one INIT_EXEC payload (command + env + workdir). */
#define INIT_MAX_PAYLOAD (512 * 1024)
#define INIT_SOCKBUF	 (2 * 1024 * 1024)

struct init_msg {
	uint32_t type;
	int32_t value;	 /* pid, wait status or errno, by type */
	uint32_t n_args; /* INIT_EXEC: count of argv strings */
	uint32_t n_env;	 /* INIT_EXEC: count of env strings */
	/*
	 * INIT_CONFIG payload: dir\0 snapshot\0 hostname\0 overlay\0 tmpsize\0
	 *   delta image (relative to dir; empty: an uncapped delta)\0
	 * INIT_EXEC payload: workdir\0 argv[0]\0 ... env[0]\0 ...
	 * INIT_FAILED / INIT_SPAWN_FAILED: a NUL-terminated reason.
	 */
	char data[];
};

#endif
