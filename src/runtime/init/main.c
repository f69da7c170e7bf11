// SPDX-License-Identifier: Apache-2.0
/*
 * agentfense-init: pid 1 of a sandbox. Started by the daemon in fresh
 * mount/pid/ipc/uts/net namespaces, it joins the sandbox's cgroup, enters a
 * cgroup namespace rooted there, builds the sandbox root, drops every
 * capability, reports ready, then forks commands on request and reports
 * their exit statuses. It exits when the daemon closes the control socket,
 * which tears down the whole pid namespace.
 *
 * In guest mode (--guest, the Docker runtime) it joins a container's
 * namespaces instead of creating its own (see guest.c): it is then not
 * pid 1, its commands are born in the container's pid namespace, and it
 * exits when the container's pid 1 does.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <linux/magic.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../initproto.h"
#include "init.h"
#include "seccomp.h"
#include "spawn.h"

static int send_msg(int fd, uint32_t type, int32_t value, const char *text)
{
	char buf[sizeof(struct init_msg) + 1024];
	struct init_msg *m = (struct init_msg *)buf;
	size_t len = sizeof(*m);

	memset(m, 0, sizeof(*m));
	m->type = type;
	m->value = value;
	if (text) {
		size_t n = strnlen(text, 1023);

		memcpy(m->data, text, n);
		m->data[n] = '\0';
		len += n + 1;
	}
	return send(fd, buf, len, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* The Landlock plan memfd travelling with INIT_CONFIG, or -1. */
static int config_fd(struct msghdr *mh)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int))) {
			int fd;

			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
			return fd;
		}
	return -1;
}

/* The first message on the control socket says what to build. */
static int read_config(struct init_opts *o, char *buf, size_t size)
{
	struct init_msg *m = (struct init_msg *)buf;
	const char *f[INIT_CONFIG_FIELDS];
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { buf, size - 1 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.b,
			     .msg_controllen = sizeof(u.b) };
	ssize_t n = recvmsg(INIT_CTL_FD, &mh, MSG_CMSG_CLOEXEC);
	char *p, *end;

	if (n < (ssize_t)sizeof(*m) || m->type != INIT_CONFIG)
		return -EBADMSG;
	buf[n] = '\0';
	p = m->data;
	end = buf + n;
	for (int i = 0; i < INIT_CONFIG_FIELDS; i++) {
		if (p >= end)
			return -EBADMSG;
		f[i] = p;
		p += strlen(p) + 1;
	}
	*o = (struct init_opts){ .ctl_fd = INIT_CTL_FD,
				 .cgroup_fd = INIT_CGROUP_FD,
				 .dir = f[0],
				 .snapshot = f[1],
				 .hostname = f[2],
				 .overlay = f[3],
				 .tmp_size = strtoull(f[4], NULL, 10),
				 .delta_image = f[5] };
	o->landlock_fd = config_fd(&mh);
	o->guest_fd = -1;
	return 0;
}

static int join_cgroup(int cgfd)
{
	int fd = openat(cgfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);
	int r = fd >= 0 && write(fd, "0", 1) == 1 ? 0 : -1;

	if (fd >= 0)
		close(fd);
	close(cgfd);
	return r;
}

/*
 * The v1 cgroup dirs the daemon passed, found before any other fd is
 * received: a later fd may take a free number in the same range.
 */
static unsigned v1_cgroups_passed(void)
{
	unsigned mask = 0;

	for (int i = 0; i < INIT_CGROUP_V1_MAX; i++) {
		struct statfs sf;

		if (fstatfs(INIT_CGROUP_V1_FD + i, &sf) == 0 &&
		    sf.f_type == CGROUP_SUPER_MAGIC)
			mask |= 1u << i;
	}
	return mask;
}

/*
 * Join the sandbox cgroup, and the v1 ones that carry its limits on a
 * hybrid host, then root a new cgroup namespace there: every command
 * inherits the v1 memberships from us.
 */
static int enter_cgroup(const struct init_opts *o, char *err, size_t len)
{
	if (join_cgroup(o->cgroup_fd) < 0) {
		snprintf(err, len, "join sandbox cgroup: %s", strerror(errno));
		return -1;
	}
	for (int i = 0; i < INIT_CGROUP_V1_MAX; i++) {
		if ((o->v1_cgroups & (1u << i)) &&
		    join_cgroup(INIT_CGROUP_V1_FD + i) < 0) {
			snprintf(err, len, "join sandbox v1 cgroup: %s",
				 strerror(errno));
			return -1;
		}
	}
	if (unshare(CLONE_NEWCGROUP) < 0) {
		snprintf(err, len, "cgroup namespace: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Inside the sandbox's root, in either mode. */
static int finish_setup(const struct init_opts *o, int *ruleset, char *err,
			size_t len)
{
	/* Commands must not be able to ptrace or read us through /proc. */
	if (prctl(PR_SET_DUMPABLE, 0) < 0) {
		snprintf(err, len, "dumpable: %s", strerror(errno));
		return -1;
	}
	/* Before dropping privileges: every planned path must be opened. */
	*ruleset = -1;
	if (o->landlock_fd >= 0) {
		*ruleset = landlock_build(o->landlock_fd, err, len);
		close(o->landlock_fd);
		if (*ruleset < 0)
			return -1;
	}
	return drop_privileges(err, len);
}

static int setup(const struct init_opts *o, int *ruleset, char *err, size_t len)
{
	/* Commands run under this filter; without it none may run at all. */
	if (af_seccomp_prepare_ex(EPERM, o->landlock_fd >= 0, err, len) < 0)
		return -1;
	if (enter_cgroup(o, err, len) < 0)
		return -1;
	if (o->guest_fd >= 0) {
		if (guest_setup(o, err, len) < 0)
			return -1;
		return finish_setup(o, ruleset, err, len);
	}
	if (rootfs_setup(o, err, len) < 0)
		return -1;
	if (sethostname(o->hostname, strlen(o->hostname)) < 0) {
		snprintf(err, len, "sethostname: %s", strerror(errno));
		return -1;
	}
	if (loopback_up() < 0) {
		snprintf(err, len, "loopback: %s", strerror(errno));
		return -1;
	}
	return finish_setup(o, ruleset, err, len);
}

/* watch: a pidfd whose exit ends the sandbox (guest mode), or -1. */
static int serve(int ctl, int ruleset, int watch)
{
	sigset_t set;
	int sfd;
	struct spawner sp;

	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0)
		return -errno;
	if (spawner_init(&sp, ctl) < 0)
		return -ENOMEM;
	sp.landlock_fd = ruleset;
	for (;;) {
		struct pollfd p[3] = { { .fd = ctl, .events = POLLIN },
				       { .fd = sfd, .events = POLLIN },
				       { .fd = watch, .events = POLLIN } };

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents) {
			struct signalfd_siginfo si;

			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				;
			spawner_reap(&sp);
		}
		if (p[0].revents & POLLIN) {
			if (spawner_handle(&sp) == -ESHUTDOWN)
				return 0;
		} else if (p[0].revents & (POLLHUP | POLLERR)) {
			return 0;
		}
		if (p[2].revents)
			return 0; /* the container is gone */
	}
}

int main(int argc, char **argv)
{
	bool guest = argc > 1 && !strcmp(argv[1], "--guest");
	static char config[sizeof(struct init_msg) + 3 * 4096 + 128];
	struct init_opts o;
	struct stat ws;
	int ruleset;
	char err[1024] = "";
	unsigned v1_cgroups;

	/* Whatever the daemon had open beyond our two fds stays outside. */
	syscall(SYS_close_range, INIT_GUEST_FD + (guest ? 1 : 0), ~0U, 0);
	v1_cgroups = v1_cgroups_passed();
	if (read_config(&o, config, sizeof(config)) < 0) {
		fprintf(stderr, "agentfense-init: no configuration (it is "
				"started by agentfensed, not by hand)\n");
		return 2;
	}
	o.v1_cgroups = v1_cgroups;
	if (guest) {
		o.guest_fd = INIT_GUEST_FD;
		fcntl(o.guest_fd, F_SETFD, FD_CLOEXEC);
	} else if (getpid() != 1) {
		send_msg(o.ctl_fd, INIT_FAILED, EINVAL, "not pid 1");
		return 2;
	}
	if (setup(&o, &ruleset, err, sizeof(err)) < 0) {
		send_msg(o.ctl_fd, INIT_FAILED, errno, err);
		return 1;
	}
	/* The workspace's device: bpf-lsm scopes its checks to it. */
	if (stat("/workspace", &ws) < 0 ||
	    send_msg(o.ctl_fd, INIT_READY, (int32_t)ws.st_dev, NULL) < 0)
		return 1;
	return serve(o.ctl_fd, ruleset, o.guest_fd) < 0 ? 1 : 0;
}
