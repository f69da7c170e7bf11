// SPDX-License-Identifier: Apache-2.0
/*
 * agentfense-init: pid 1 of a sandbox. Started by the daemon in fresh
 * mount/pid/ipc/uts/net namespaces, it joins the sandbox's cgroup, enters a
 * cgroup namespace rooted there, builds the sandbox root, drops every
 * capability, reports ready, then forks commands on request and reports
 * their exit statuses. It exits when the daemon closes the control socket,
 * which tears down the whole pid namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
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

/* The first message on the control socket says what to build. */
static int read_config(struct init_opts *o, char *buf, size_t size)
{
	struct init_msg *m = (struct init_msg *)buf;
	const char *f[INIT_CONFIG_FIELDS];
	ssize_t n = recv(INIT_CTL_FD, buf, size - 1, 0);
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
				 .tmp_size = strtoull(f[4], NULL, 10) };
	return 0;
}

/* Join the sandbox cgroup, then root a new cgroup namespace there. */
static int enter_cgroup(int cgfd, char *err, size_t len)
{
	int fd = openat(cgfd, "cgroup.procs", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "0", 1) != 1) {
		snprintf(err, len, "join sandbox cgroup: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	close(cgfd);
	if (unshare(CLONE_NEWCGROUP) < 0) {
		snprintf(err, len, "cgroup namespace: %s", strerror(errno));
		return -1;
	}
	return 0;
}

static int setup(const struct init_opts *o, char *err, size_t len)
{
	/* Commands run under this filter; without it none may run at all. */
	if (af_seccomp_prepare(EPERM, err, len) < 0)
		return -1;
	if (enter_cgroup(o->cgroup_fd, err, len) < 0)
		return -1;
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
	/* Commands must not be able to ptrace or read us through /proc. */
	if (prctl(PR_SET_DUMPABLE, 0) < 0) {
		snprintf(err, len, "dumpable: %s", strerror(errno));
		return -1;
	}
	return drop_privileges(err, len);
}

static int serve(int ctl)
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
	for (;;) {
		struct pollfd p[2] = { { .fd = ctl, .events = POLLIN },
				       { .fd = sfd, .events = POLLIN } };

		if (poll(p, 2, -1) < 0) {
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
	}
}

int main(void)
{
	static char config[sizeof(struct init_msg) + 3 * 4096 + 128];
	struct init_opts o;
	char err[1024] = "";

	/* Whatever the daemon had open beyond our two fds stays outside. */
	syscall(SYS_close_range, INIT_CGROUP_FD + 1, ~0U, 0);
	if (read_config(&o, config, sizeof(config)) < 0) {
		fprintf(stderr, "agentfense-init: no configuration (it is "
				"started by agentfensed, not by hand)\n");
		return 2;
	}
	if (getpid() != 1) {
		send_msg(o.ctl_fd, INIT_FAILED, EINVAL, "not pid 1");
		return 2;
	}
	if (setup(&o, err, sizeof(err)) < 0) {
		send_msg(o.ctl_fd, INIT_FAILED, errno, err);
		return 1;
	}
	if (send_msg(o.ctl_fd, INIT_READY, 0, NULL) < 0)
		return 1;
	return serve(o.ctl_fd) < 0 ? 1 : 0;
}
