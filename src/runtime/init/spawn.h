/* SPDX-License-Identifier: Apache-2.0 */
#ifndef AF_INIT_SPAWN_H
#define AF_INIT_SPAWN_H

#include <stddef.h>
#include <sys/types.h>

struct child {
	pid_t pid;
	int status_fd;
};

#define SPAWN_STACK (64 * 1024)

struct spawner {
	int ctl;
	char *buf;	 /* one INIT_EXEC datagram */
	char *stack;	 /* for the vfork-style child */
	int landlock_fd; /* set by main after the ruleset is built, or -1 */
	struct child *kids;
	size_t n, cap;
};

int spawner_init(struct spawner *sp, int ctl);
/* Serve one request from the control socket; -ESHUTDOWN at its end. */
int spawner_handle(struct spawner *sp);
/* Collect exited children and report those the daemon waits for. */
void spawner_reap(struct spawner *sp);

#endif
