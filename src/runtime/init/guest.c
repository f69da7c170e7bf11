// SPDX-License-Identifier: Apache-2.0
/*
 * Guest mode (the Docker runtime): instead of building a root of its own,
 * init enters the namespaces of a running container, whose pid 1 the
 * daemon passes as a pidfd, and puts the sandbox's /workspace into that
 * container's mount namespace. The overlay is mounted in a private copy of
 * the host's mount namespace, where the layers' host paths resolve, cloned
 * as a detached mount, then attached inside the container over its
 * /workspace placeholder: the container's mount table holds the overlay
 * and no host path, and nothing is mounted on the host.
 */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CONTAINER_NS                                                \
	(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | \
	 CLONE_NEWPID)

static int fail(char *err, size_t len, const char *what)
{
	int e = errno ? errno : EIO;

	snprintf(err, len, "%s: %s", what, strerror(e));
	return -e;
}

/* The workspace overlay as a detached mount; its fd, or -errno. */
static int workspace_tree(const struct init_opts *o, char *err, size_t len)
{
	char root[PATH_MAX], ws[PATH_MAX];
	int fd, r;

	if (snprintf(root, sizeof(root), "%s/root", o->dir) >=
		    (int)sizeof(root) ||
	    snprintf(ws, sizeof(ws), "%s/workspace", root) >= (int)sizeof(ws)) {
		errno = ENAMETOOLONG;
		return fail(err, len, "sandbox directory");
	}
	/* Nothing mounted from here on may propagate back to the host. */
	if (unshare(CLONE_NEWNS) < 0)
		return fail(err, len, "private mount namespace");
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail(err, len, "make / private");
	if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV,
		  "mode=0755,size=64k,nr_inodes=16") < 0)
		return fail(err, len, "mount staging tmpfs");
	r = mount_workspace(o, root, err, len);
	if (r < 0)
		return r;
	fd = (int)syscall(SYS_open_tree, AT_FDCWD, ws,
			  OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	return fd < 0 ? fail(err, len, "clone the workspace mount") : fd;
}

int guest_setup(const struct init_opts *o, char *err, size_t len)
{
	int ws = workspace_tree(o, err, len);

	if (ws < 0)
		return ws;
	/* Our children are born in the container's pid namespace. */
	if (setns(o->guest_fd, CONTAINER_NS) < 0) {
		close(ws);
		return fail(err, len, "join the container's namespaces");
	}
	if (syscall(SYS_move_mount, ws, "", AT_FDCWD, "/workspace",
		    MOVE_MOUNT_F_EMPTY_PATH) < 0) {
		close(ws);
		return fail(err, len, "attach /workspace in the container");
	}
	close(ws);
	if (chdir("/") < 0)
		return fail(err, len, "chdir /");
	return 0;
}
