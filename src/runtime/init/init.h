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
	const char *overlay; /* overlay options, relative to dir */
	uint64_t tmp_size;
	const char *delta_image; /* relative to dir; "" when uncapped */
	unsigned v1_cgroups;	 /* bit i: fd INIT_CGROUP_V1_FD + i to join */
	int landlock_fd;	 /* plan memfd, or -1 (no Landlock) */
	int guest_fd; /* guest mode: the container's pid 1, else -1 */
};

/* Build the sandbox root and pivot into it. err gets a reason on failure. */
int rootfs_setup(const struct init_opts *o, char *err, size_t errlen);
/*
 * Mount the workspace overlay at root/workspace (cwd becomes the sandbox
 * dir; the layers are bound there first, so no host path shows).
 */
int mount_workspace(const struct init_opts *o, const char *root, char *err,
		    size_t len);
/*
 * Guest mode: join the container of o->guest_fd and mount the workspace
 * in it (instead of rootfs_setup).
 */
int guest_setup(const struct init_opts *o, char *err, size_t len);
/* Drop every capability for good (bounding set, securebits, ambient). */
int drop_privileges(char *err, size_t errlen);
/* Loop-mount the capped delta's image at dir/FS_DELTA_MOUNT (cwd: dir). */
int delta_mount(const char *image, char *err, size_t errlen);
/* Bring up loopback in the new network namespace. */
int loopback_up(void);
/*
 * Build the Landlock ruleset described by the plan in memfd (inside the
 * sandbox's root, after rootfs_setup); returns the ruleset fd.
 */
int landlock_build(int memfd, char *err, size_t errlen);
/* In a command's child, after PR_SET_NO_NEW_PRIVS. */
int landlock_enter(int ruleset_fd);

#endif
