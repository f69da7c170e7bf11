// SPDX-License-Identifier: Apache-2.0
/*
 * One command in a running sandbox: init forks /bin/sh -c COMMAND into a
 * fresh child cgroup; we pump stdin/stdout/stderr, enforce the timeout with
 * cgroup.kill, and collect the exit status init reports.
 */
#define LOG_MOD "runtime"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentfense/log.h"
#include "agentfense/util.h"
#include "runtime_internal.h"

#define READ_CHUNK     RT_READ_CHUNK
#define CANCEL_POLL_MS 100
/* After the command exits, how long background writers may keep stdout. */
#define DRAIN_GRACE_MS 100

struct exec_state {
	const struct rt_exec_req *req;
	struct rt_exec_res *res;
	struct rt_proc p;
	size_t in_off;
	char *buf;
};

static void buf_append(struct rt_buf *b, size_t cap, const char *d, size_t n)
{
	size_t room = cap > b->len ? cap - b->len : 0;
	char *p;

	if (n > room) {
		b->truncated = true;
		n = room;
	}
	if (!n)
		return;
	p = realloc(b->data, b->len + n + 1);
	if (!p) {
		b->truncated = true;
		return;
	}
	b->data = p;
	memcpy(b->data + b->len, d, n);
	b->len += n;
	b->data[b->len] = '\0';
}

bool rt_pump_output(int *fd, enum rt_stream which,
		    const struct rt_exec_req *req, struct rt_exec_res *res,
		    char *buf)
{
	ssize_t n = read(*fd, buf, READ_CHUNK);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0) {
		proc_close_fd(fd);
		return true;
	}
	if (req->on_output)
		return req->on_output(req->ud, which, buf, (size_t)n) == 0;
	buf_append(which == RT_STDOUT ? &res->out : &res->err, req->max_output,
		   buf, (size_t)n);
	return true;
}

static bool pump(struct exec_state *s, int i)
{
	return rt_pump_output(&s->p.fd[i], i == 1 ? RT_STDOUT : RT_STDERR,
			      s->req, s->res, s->buf);
}

static void pump_input(struct exec_state *s)
{
	size_t left = s->req->stdin_len - s->in_off;
	ssize_t n;

	if (left) {
		n = write(s->p.fd[0],
			  (const char *)s->req->stdin_data + s->in_off,
			  left > READ_CHUNK ? READ_CHUNK : left);
		if (n > 0)
			s->in_off += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EINTR)
			s->in_off = s->req->stdin_len; /* reader gone */
	}
	if (s->in_off == s->req->stdin_len)
		proc_close_fd(&s->p.fd[0]);
}

/* Until the command exits (or the sandbox goes away). */
static void run_loop(struct rt_sandbox *sb, struct exec_state *s)
{
	const struct rt_exec_req *req = s->req;
	uint64_t deadline = af_now_mono_ns() + req->timeout_ms * 1000000ull;
	bool killed = false;

	while (!s->p.exited && !s->p.lost) {
		struct pollfd p[4] = {
			{ .fd = s->p.fd[0], .events = POLLOUT },
			{ .fd = s->p.fd[1], .events = POLLIN },
			{ .fd = s->p.fd[2], .events = POLLIN },
			{ .fd = s->p.st, .events = POLLIN },
		};
		uint64_t now = af_now_mono_ns();
		int wait = CANCEL_POLL_MS;

		if (!killed && now >= deadline) {
			s->res->timed_out = killed = true;
			proc_kill(sb, &s->p);
		} else if (!killed &&
			   (deadline - now) / 1000000 < CANCEL_POLL_MS) {
			wait = (int)((deadline - now) / 1000000) + 1;
		}
		if (poll(p, 4, wait) < 0 && errno != EINTR)
			break;
		if (p[3].revents)
			proc_read_status(&s->p);
		for (int i = 1; i <= 2; i++)
			if (p[i].revents && !pump(s, i) && !killed) {
				s->res->cancelled = killed = true;
				proc_kill(sb, &s->p);
			}
		if (p[0].revents)
			pump_input(s);
		if (!killed && req->cancelled && req->cancelled(req->ud)) {
			s->res->cancelled = killed = true;
			proc_kill(sb, &s->p);
		}
	}
}

/* After exit: take what is buffered, give background writers a moment. */
static void drain(struct rt_sandbox *sb, struct exec_state *s)
{
	uint64_t until = af_now_mono_ns() + DRAIN_GRACE_MS * 1000000ull;
	bool killed = false;

	proc_close_fd(&s->p.fd[0]);
	while (s->p.fd[1] >= 0 || s->p.fd[2] >= 0) {
		struct pollfd p[2] = { { .fd = s->p.fd[1], .events = POLLIN },
				       { .fd = s->p.fd[2], .events = POLLIN } };
		uint64_t now = af_now_mono_ns();
		int wait = now < until ? (int)((until - now) / 1000000) + 1 : 0;

		if (!killed && now >= until) {
			proc_kill(sb, &s->p);
			killed = true;
			wait = CANCEL_POLL_MS;
		}
		if (poll(p, 2, wait) < 0 && errno != EINTR)
			break;
		if (killed && !p[0].revents && !p[1].revents)
			break; /* writers are dead; nothing more will come */
		for (int i = 0; i < 2; i++)
			if (p[i].revents && !pump(s, i + 1))
				proc_close_fd(&s->p.fd[i + 1]);
	}
	proc_kill(sb, &s->p);
}

int rt_exec(struct rt_sandbox *sb, const struct rt_exec_req *req,
	    struct rt_exec_res *res)
{
	const char *const argv[] = { "/bin/sh", "-c", req->command, NULL };
	const struct proc_spec ps = { .argv = argv,
				      .env = req->env,
				      .n_env = req->n_env,
				      .workdir = req->workdir };
	struct exec_state s = { .req = req, .res = res };
	uint64_t start = af_now_mono_ns(), oom_before;
	int r;

	memset(res, 0, sizeof(*res));
	proc_init(&s.p);
	if (!rt_sandbox_alive(sb))
		return -ENOTCONN;
	oom_before = cg_sandbox_oom_kills(sb->cg);
	s.buf = malloc(READ_CHUNK);
	if (!s.buf)
		return -ENOMEM;
	r = proc_spawn(sb, &ps, &s.p);
	if (r == 0) {
		run_loop(sb, &s);
		drain(sb, &s);
	} else {
		proc_kill(sb, &s.p);
	}
	proc_release(&s.p);
	free(s.buf);
	res->duration_ns = af_now_mono_ns() - start;
	if (r < 0)
		return r;
	if (s.p.lost) {
		snprintf(res->message, sizeof(res->message),
			 "the sandbox stopped while the command was running");
		rt_explain_lost(sb, oom_before, res);
		return -ENOTCONN;
	}
	if (s.p.spawn_failed) {
		snprintf(res->message, sizeof(res->message), "%s", s.p.message);
		return -EINVAL;
	}
	res->exit_code = proc_exit_code(s.p.wstatus);
	rt_explain_oom(sb, oom_before, res);
	return 0;
}

void rt_exec_res_clear(struct rt_exec_res *res)
{
	free(res->out.data);
	free(res->err.data);
	memset(res, 0, sizeof(*res));
}
