/* SPDX-License-Identifier: Apache-2.0 */
#ifndef AF_INIT_H
#define AF_INIT_H

#include <stddef.h>
#include <stdint.h>

struct init_opts {
	int ctl_fd;
	int cgroup_fd;
	const char *dir;      /* the sandbox's directory: root/, lower/, ... */
	const char *snapshot; /* immutable codebase tree, bound at dir/lower */
	const char *hostname;
	const char *overlay;  /* overlay options, relative to dir */
	uint64_t tmp_size;
};

/* Build the sandbox root and pivot into it. err gets a reason on failure. */
int rootfs_setup(const struct init_opts *o, char *err, size_t errlen);
/* Drop every capability for good (bounding set, securebits, ambient). */
int drop_privileges(char *err, size_t errlen);
/* Bring up loopback in the new network namespace. */
int loopback_up(void);

#endif
