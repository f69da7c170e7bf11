// SPDX-License-Identifier: Apache-2.0
/*
 * Processes started by a sandbox's init on our behalf: the INIT_EXEC
 * request (argv, env, workdir, fds) and the status socket on which init
 * reports the pid and, later, the exit status.
 */
#define LOG_MOD "runtime"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/util.h"
#include "initproto.h"
#include "runtime_internal.h"

static const char *const base_env[] = {
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	"HOME=/tmp",
	"LANG=C.UTF-8",
	"USER=root",
};

static bool env_overridden(const struct proc_spec *ps, const char *kv)
{
	size_t klen = strcspn(kv, "=") + 1;

	for (size_t i = 0; i < ps->n_env; i++)
		if (!strncmp(ps->env[i], kv, klen))
			return true;
	return false;
}

static void resolve_workdir(const char *w, char *out, size_t len)
{
	if (!w || !w[0])
		snprintf(out, len, "/workspace");
	else if (w[0] == '/')
		snprintf(out, len, "%s", w);
	else
		snprintf(out, len, "/workspace/%s", w);
}

/* INIT_EXEC: workdir, argv, the clean base env (unless overridden), env. */
static int build_request(const struct proc_spec *ps, char **out, size_t *len)
{
	const char *env[ARRAY_SIZE(base_env)];
	size_t n_base = 0, n_args = 0, total = sizeof(struct init_msg);
	char workdir[4096];
	struct init_msg *m;
	char *p;

	resolve_workdir(ps->workdir, workdir, sizeof(workdir));
	for (size_t i = 0; i < ARRAY_SIZE(base_env); i++)
		if (!env_overridden(ps, base_env[i]))
			env[n_base++] = base_env[i];
	total += strlen(workdir) + 1;
	for (; ps->argv[n_args]; n_args++)
		total += strlen(ps->argv[n_args]) + 1;
	for (size_t i = 0; i < n_base; i++)
		total += strlen(env[i]) + 1;
	for (size_t i = 0; i < ps->n_env; i++)
		total += strlen(ps->env[i]) + 1;
	if (total > sizeof(struct init_msg) + INIT_MAX_PAYLOAD)
		return -E2BIG;
	m = calloc(1, total);
	if (!m)
		return -ENOMEM;
	m->type = INIT_EXEC;
	m->n_args = (uint32_t)n_args;
	m->n_env = (uint32_t)(n_base + ps->n_env);
	p = stpcpy(m->data, workdir) + 1;
	for (size_t i = 0; i < n_args; i++)
		p = stpcpy(p, ps->argv[i]) + 1;
	for (size_t i = 0; i < n_base; i++)
		p = stpcpy(p, env[i]) + 1;
	for (size_t i = 0; i < ps->n_env; i++)
		p = stpcpy(p, ps->env[i]) + 1;
	*out = (char *)m;
	*len = total;
	return 0;
}

static int send_request(struct rt_sandbox *sb, const char *msg, size_t len,
			const int *fds, size_t n_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) *
				    (INIT_EXEC_NFDS + INIT_EXEC_MAX_EXTRA))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)msg, len };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen =
				     CMSG_SPACE(sizeof(int) * n_fds) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	ssize_t n;

	memset(u.buf, 0, sizeof(u.buf));
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * n_fds);
	pthread_mutex_lock(&sb->ctl_lock);
	if (sb->ctl_fd < 0) {
		pthread_mutex_unlock(&sb->ctl_lock);
		return -ENOTCONN;
	}
	n = sendmsg(sb->ctl_fd, &mh, MSG_NOSIGNAL);
	pthread_mutex_unlock(&sb->ctl_lock);
	if (n < 0)
		return errno == EPIPE || errno == ECONNRESET ? -ENOTCONN
							     : -errno;
	return 0;
}

static int make_pipes(int mine[3], int theirs[3])
{
	int p[2];

	for (int i = 0; i < 3; i++) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return -errno;
		/* stdin: we write p[1]; stdout/stderr: we read p[0]. */
		mine[i] = i == 0 ? p[1] : p[0];
		theirs[i] = i == 0 ? p[0] : p[1];
		fcntl(mine[i], F_SETFL, O_NONBLOCK);
	}
	return 0;
}

void proc_init(struct rt_proc *p)
{
	memset(p, 0, sizeof(*p));
	p->fd[0] = p->fd[1] = p->fd[2] = p->st = p->cgfd = -1;
}

int proc_spawn(struct rt_sandbox *sb, const struct proc_spec *ps,
	       struct rt_proc *p)
{
	_cleanup_free_ char *msg = NULL;
	int theirs[3] = { -1, -1, -1 }, st[2] = { -1, -1 };
	int fds[INIT_EXEC_NFDS + INIT_EXEC_MAX_EXTRA];
	size_t len;
	int r;

	if (ps->n_extra_fds > INIT_EXEC_MAX_EXTRA)
		return -EINVAL;
	p->n = atomic_fetch_add(&sb->next_exec, 1) + 1;
	r = build_request(ps, &msg, &len);
	if (r < 0)
		return r;
	r = cg_exec_create(sb->cg, &p->n, &p->cgfd);
	if (r < 0)
		return r;
	__atomic_store_n(&p->has_cgroup, true, __ATOMIC_RELEASE);
	r = make_pipes(p->fd, theirs);
	if (r == 0 &&
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, st) < 0)
		r = -errno;
	if (r == 0) {
		fds[INIT_FD_STATUS] = st[1];
		fds[INIT_FD_STDIN] = theirs[0];
		fds[INIT_FD_STDOUT] = theirs[1];
		fds[INIT_FD_STDERR] = theirs[2];
		fds[INIT_FD_CGROUP] = p->cgfd;
		for (size_t i = 0; i < ps->n_extra_fds; i++)
			fds[INIT_EXEC_NFDS + i] = ps->extra_fds[i];
		r = send_request(sb, msg, len, fds,
				 INIT_EXEC_NFDS + ps->n_extra_fds);
	}
	p->st = st[0];
	for (int i = 0; i < 3; i++)
		if (theirs[i] >= 0)
			close(theirs[i]);
	if (st[1] >= 0)
		close(st[1]);
	return r;
}

void proc_read_status(struct rt_proc *p)
{
	char buf[sizeof(struct init_msg) + 512];
	struct init_msg *m = (struct init_msg *)buf;
	ssize_t n = recv(p->st, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < (ssize_t)sizeof(*m)) {
		/*
		 * Closed without an exit status: no child was started (after
		 * INIT_SPAWN_FAILED), or init itself is gone.
		 */
		proc_close_fd(&p->st);
		if (p->spawn_failed)
			p->exited = true;
		else if (!p->exited)
			p->lost = true;
		return;
	}
	buf[n] = '\0';
	switch (m->type) {
	case INIT_STARTED:
		p->pid = m->value;
		break;
	case INIT_EXITED:
		p->exited = true;
		p->wstatus = m->value;
		proc_close_fd(&p->st);
		break;
	case INIT_SPAWN_FAILED:
		p->spawn_failed = true;
		p->spawn_errno = m->value;
		af_strlcpy(p->message, m->data, sizeof(p->message));
		break;
	default:
		break;
	}
}

int proc_kill(struct rt_sandbox *sb, struct rt_proc *p)
{
	/*
	 * Exactly once, by whoever comes first: a session is closed without
	 * its lock, and a second destroy could find e<n> reused as a spare
	 * by another command by then.
	 */
	if (!__atomic_exchange_n(&p->has_cgroup, false, __ATOMIC_ACQ_REL))
		return 0;
	return cg_exec_destroy(sb->cg, p->n, PROC_KILL_WAIT_MS);
}

void proc_close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

void proc_release(struct rt_proc *p)
{
	for (int i = 0; i < 3; i++)
		proc_close_fd(&p->fd[i]);
	proc_close_fd(&p->st);
	proc_close_fd(&p->cgfd);
}

int proc_exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 255;
}
