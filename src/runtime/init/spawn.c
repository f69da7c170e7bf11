// SPDX-License-Identifier: Apache-2.0
/* Forking commands inside the sandbox on the daemon's request. */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../initproto.h"
#include "clone.h"
#include "init.h"
#include "seccomp.h"

struct exec_req {
	const char *workdir;
	char **argv;
	char **env;
	int fds[INIT_EXEC_NFDS + INIT_EXEC_MAX_EXTRA];
	int n_fds;
	int landlock_fd; /* ruleset every command enters, or -1 */
};

int spawner_init(struct spawner *sp, int ctl)
{
	memset(sp, 0, sizeof(*sp));
	sp->ctl = ctl;
	sp->landlock_fd = -1;
	sp->buf = malloc(sizeof(struct init_msg) + INIT_MAX_PAYLOAD);
	sp->stack = malloc(SPAWN_STACK);
	return sp->buf && sp->stack ? 0 : -ENOMEM;
}

static void send_status(int fd, uint32_t type, int32_t value, const char *text)
{
	char buf[sizeof(struct init_msg) + 512];
	struct init_msg *m = (struct init_msg *)buf;
	size_t n = text ? strnlen(text, 511) : 0;

	memset(m, 0, sizeof(*m));
	m->type = type;
	m->value = value;
	memcpy(m->data, text ? text : "", n);
	m->data[n] = '\0';
	(void)send(fd, buf, sizeof(*m) + n + 1, MSG_NOSIGNAL);
}

/* In the child: tell the daemon why execve was not reached, then die. */
static __attribute__((noreturn)) void
child_fail(int status_fd, const char *what, const char *arg)
{
	char msg[512];
	int e = errno;
	int n = snprintf(msg, sizeof(msg), "%s%s%s: %s", what, arg ? " " : "",
			 arg ? arg : "", strerror(e));

	send_status(status_fd, INIT_SPAWN_FAILED, e, msg);
	if (n > 0) {
		(void)!write(2, "agentfense: ", 12);
		(void)!write(2, msg, strnlen(msg, sizeof(msg)));
		(void)!write(2, "\n", 1);
	}
	_exit(127);
}

/*
 * Runs in the vfork-style child (memory shared with init until execve):
 * syscalls only, and the request is only read. fds are copied to this
 * stack before they are renumbered.
 */
static int child(void *arg)
{
	const struct exec_req *r = arg;
	struct rlimit no_core = { 0, 0 };
	sigset_t none;
	int fds[INIT_EXEC_NFDS + INIT_EXEC_MAX_EXTRA];
	int n_extra = r->n_fds - INIT_EXEC_NFDS;
	int st = 3 + n_extra; /* status fd: just above the extra fds */

	for (int i = 0; i < INIT_EXEC_NFDS + INIT_EXEC_MAX_EXTRA; i++)
		fds[i] = -1;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		child_fail(r->fds[INIT_FD_STATUS], "no_new_privs", NULL);
	/* First, before any fd is renumbered over the ruleset's number. */
	if (r->landlock_fd >= 0 && landlock_enter(r->landlock_fd) < 0)
		child_fail(r->fds[INIT_FD_STATUS], "landlock", NULL);
	/* Lift every fd above 16 so the dup2s below cannot clobber any. */
	for (int i = 0; i < r->n_fds; i++) {
		fds[i] = fcntl(r->fds[i], F_DUPFD_CLOEXEC, 16);
		if (fds[i] < 0)
			_exit(127);
	}
	if (dup3(fds[INIT_FD_STATUS], st, O_CLOEXEC) < 0)
		_exit(127);
	if (dup2(fds[INIT_FD_STDIN], 0) < 0 ||
	    dup2(fds[INIT_FD_STDOUT], 1) < 0 ||
	    dup2(fds[INIT_FD_STDERR], 2) < 0)
		child_fail(st, "set up stdio", NULL);
	for (int i = 0; i < n_extra; i++)
		if (dup2(fds[INIT_EXEC_NFDS + i], 3 + i) < 0)
			child_fail(st, "pass fds", NULL);
	if (syscall(SYS_close_range, st + 1, ~0U, 0) < 0)
		child_fail(st, "close fds", NULL);
	if (setsid() < 0)
		child_fail(st, "setsid", NULL);
	if (chdir(r->workdir) < 0)
		child_fail(st, "workdir", r->workdir);
	if (setrlimit(RLIMIT_CORE, &no_core) < 0)
		child_fail(st, "rlimit", NULL);
	/* Last: the steps above may use calls the filter refuses. */
	if (af_seccomp_apply() < 0)
		child_fail(st, "seccomp filter", NULL);
	execve(r->argv[0], r->argv, r->env);
	child_fail(st, "exec", r->argv[0]);
}

/* Split n NUL-terminated strings from *p (bounded by end) into a vector. */
static char **split(char **p, const char *end, uint32_t n)
{
	char **v = calloc((size_t)n + 1, sizeof(*v));

	if (!v)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		char *z = memchr(*p, '\0', (size_t)(end - *p));

		if (!z) {
			free(v);
			return NULL;
		}
		v[i] = *p;
		*p = z + 1;
	}
	return v;
}

static int parse(struct init_msg *m, size_t len, struct exec_req *r)
{
	char *p = m->data, *end = (char *)m + len;
	char *z;

	if (len < sizeof(*m) || m->type != INIT_EXEC || m->n_args == 0 ||
	    m->n_args > 4096 || m->n_env > 65536)
		return -EBADMSG;
	z = memchr(p, '\0', (size_t)(end - p));
	if (!z)
		return -EBADMSG;
	r->workdir = p;
	p = z + 1;
	r->argv = split(&p, end, m->n_args);
	if (!r->argv)
		return -EBADMSG;
	r->env = split(&p, end, m->n_env);
	if (!r->env) {
		free(r->argv);
		return -EBADMSG;
	}
	return 0;
}

static int recv_request(struct spawner *sp, size_t *len, int fds[], int *n_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) *
				    (INIT_EXEC_NFDS + INIT_EXEC_MAX_EXTRA))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { sp->buf,
			     sizeof(struct init_msg) + INIT_MAX_PAYLOAD };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	ssize_t n = recvmsg(sp->ctl, &mh, MSG_CMSG_CLOEXEC);
	int got = 0;

	if (n == 0)
		return -ESHUTDOWN;
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? -EAGAIN : -ESHUTDOWN;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		got = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		if (got > INIT_EXEC_NFDS + INIT_EXEC_MAX_EXTRA)
			got = INIT_EXEC_NFDS + INIT_EXEC_MAX_EXTRA;
		memcpy(fds, CMSG_DATA(c), sizeof(int) * (size_t)got);
	}
	*len = (size_t)n;
	*n_fds = got;
	if (got < INIT_EXEC_NFDS || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
		for (int i = 0; i < got; i++)
			close(fds[i]);
		return -EBADMSG;
	}
	return 0;
}

static int track(struct spawner *sp, pid_t pid, int status_fd)
{
	if (sp->n == sp->cap) {
		size_t cap = sp->cap ? sp->cap * 2 : 16;
		struct child *k = realloc(sp->kids, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		sp->kids = k;
		sp->cap = cap;
	}
	sp->kids[sp->n++] = (struct child){ pid, status_fd };
	return 0;
}

int spawner_handle(struct spawner *sp)
{
	struct exec_req r = { 0 };
	size_t len;
	pid_t pid;
	int q = recv_request(sp, &len, r.fds, &r.n_fds);

	r.landlock_fd = sp->landlock_fd;

	if (q < 0)
		return q == -EBADMSG ? 0 : q;
	if (parse((struct init_msg *)sp->buf, len, &r) < 0) {
		send_status(r.fds[INIT_FD_STATUS], INIT_SPAWN_FAILED, EBADMSG,
			    "malformed exec request");
		goto out;
	}
	/* Born in the command's cgroup: a timeout kills exactly its tree. */
	pid = spawn_vfork_into(r.fds[INIT_FD_CGROUP], child, &r, sp->stack,
			       SPAWN_STACK);
	if (pid < 0 || track(sp, pid, r.fds[INIT_FD_STATUS]) < 0) {
		send_status(r.fds[INIT_FD_STATUS], INIT_SPAWN_FAILED, errno,
			    "fork failed");
		goto out;
	}
	send_status(r.fds[INIT_FD_STATUS], INIT_STARTED, pid, NULL);
	r.fds[INIT_FD_STATUS] = -1; /* kept until the child is reaped */
out:
	for (int i = 0; i < r.n_fds; i++)
		if (r.fds[i] >= 0)
			close(r.fds[i]);
	free(r.argv);
	free(r.env);
	return 0;
}

void spawner_reap(struct spawner *sp)
{
	int st;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (size_t i = 0; i < sp->n; i++) {
			if (sp->kids[i].pid != pid)
				continue;
			send_status(sp->kids[i].status_fd, INIT_EXITED, st,
				    NULL);
			close(sp->kids[i].status_fd);
			sp->kids[i] = sp->kids[--sp->n];
			break;
		}
	}
}
