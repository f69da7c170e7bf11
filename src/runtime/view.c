// SPDX-License-Identifier: Apache-2.0
/*
 * Handles on a running sandbox's filesystem for server-side access (file
 * reads, listings, change listing): its /workspace as its processes see it,
 * reached through its init's root, and the delta's upper directory, which a
 * capped delta keeps inside the sandbox's mount namespace, so init holds it
 * open for us (INIT_UPPER_FD) and we take a copy with pidfd_getfd.
 */
#define LOG_MOD "runtime"
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/fs.h"
#include "agentfense/log.h"
#include "initproto.h"
#include "runtime_internal.h"

/* Still our init: its pidfd says it has not exited. */
static int init_alive(struct rt_sandbox *sb)
{
	if (sb->stopped || sb->init_pidfd < 0)
		return -ENOTCONN;
	if (syscall(SYS_pidfd_send_signal, sb->init_pidfd, 0, NULL, 0) < 0)
		return -ENOTCONN;
	return 0;
}

int rt_sandbox_view_fd(struct rt_sandbox *sb, int *out)
{
	struct open_how how = {
		.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS |
			   RESOLVE_NO_MAGICLINKS,
	};
	_cleanup_close_ int root = -1;
	char proc[64];
	struct stat st;
	int fd, r;

	r = init_alive(sb);
	if (r < 0)
		return r;
	snprintf(proc, sizeof(proc), "/proc/%d/root", (int)sb->init_pid);
	root = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return -ENOTCONN;
	/*
	 * Checked after the open: the pid cannot be reused before we reap
	 * init (rt_sandbox_stop), and init has not exited, so the root we
	 * hold is this sandbox's.
	 */
	r = init_alive(sb);
	if (r < 0)
		return r;
	/* Not fs_open_beneath: /workspace is a mount point of that root. */
	fd = (int)syscall(SYS_openat2, root, "workspace", &how, sizeof(how));
	if (fd < 0)
		return log_errno(-errno, "sandbox %s: its /workspace", sb->id);
	if (fstat(fd, &st) < 0 || (uint32_t)st.st_dev != sb->workspace_dev) {
		close(fd);
		return log_errno(-EIO,
				 "sandbox %s: /workspace is not its "
				 "overlay",
				 sb->id);
	}
	*out = fd;
	return 0;
}

int rt_sandbox_upper_fd(struct rt_sandbox *sb, int *out)
{
	struct stat st;
	int fd, r;

	r = init_alive(sb);
	if (r < 0)
		return r;
	if (!sb->view.delta_image)
		fd = open(sb->view.upper,
			  O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	else
		fd = (int)syscall(SYS_pidfd_getfd, sb->init_pidfd,
				  INIT_UPPER_FD, 0);
	if (fd < 0)
		return log_errno(-errno, "sandbox %s: its delta", sb->id);
	if (fstat(fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		close(fd);
		return log_errno(-EIO,
				 "sandbox %s: its delta is not a "
				 "directory",
				 sb->id);
	}
	*out = fd;
	return 0;
}

int rt_sandbox_snapshot_fd(struct rt_sandbox *sb, int *out)
{
	int fd = open(sb->view.snapshot,
		      O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return log_errno(-errno, "sandbox %s: its snapshot", sb->id);
	*out = fd;
	return 0;
}
