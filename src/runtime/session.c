// SPDX-License-Identifier: Apache-2.0
/*
 * Sessions: one persistent shell per session, started by init like any
 * command, in a cgroup of its own. The shell runs a small read-eval loop:
 * it reads each command from fd 3 (a pipe from us), evals it in the shell
 * itself (so cd, export, functions and background jobs persist), with
 * stdin from /dev/null, and writes the exit status to fd 4. stdout and
 * stderr are the shell's own, so output reaches us byte-exact, with no
 * prompt or marker in it.
 */
#define LOG_MOD "runtime"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/util.h"
#include "runtime_internal.h"

#define CANCEL_POLL_MS 100
#define AFTER_KILL_MS  2000
#define MAX_PIDS       4096

/* bash reads NUL-terminated commands without forking. */
static const char bash_loop[] = "while IFS= read -r -d '' __af_cmd <&3; do "
				"eval \"$__af_cmd\" </dev/null 3<&- 4>&-; "
				"printf '%d\\n' \"$?\" >&4; done";
/* Other shells get each command as one line of octal escapes for printf. */
static const char posix_loop[] =
	"while IFS= read -r __af_l <&3; do "
	"__af_cmd=$(printf \"$__af_l\"; echo .); __af_cmd=${__af_cmd%.}; "
	"eval \"$__af_cmd\" </dev/null 3<&- 4>&-; "
	"printf '%d\\n' \"$?\" >&4; done";

struct rt_session {
	struct rt_sandbox *sb;
	struct rt_proc p; /* the shell */
	int cmd_fd;	  /* we write commands; the shell's fd 3 */
	int status_fd;	  /* the shell writes statuses; its fd 4 */
	bool bash;
	pid_t shell_pid;      /* host pid, never killed by a command timeout */
	pthread_mutex_t lock; /* one command at a time */
	bool closed;
	char reason[160];
	char *buf;
};

static bool is_bash(const char *shell)
{
	const char *base = strrchr(shell, '/');

	return !strcmp(base ? base + 1 : shell, "bash");
}

/* Host pids in the session's cgroup. */
static size_t read_pids(struct rt_session *s, pid_t *out, size_t max)
{
	_cleanup_close_ int fd =
		openat(s->p.cgfd, "cgroup.procs", O_RDONLY | O_CLOEXEC);
	char buf[16384], *p, *end;
	size_t n = 0;
	ssize_t len;

	if (fd < 0)
		return 0;
	len = read(fd, buf, sizeof(buf) - 1);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	for (p = buf; n < max && *p; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		out[n++] = (pid_t)v;
		while (*end == '\n')
			end++;
	}
	return n;
}

static void close_session(struct rt_session *s, const char *why)
{
	if (!s->closed) {
		s->closed = true;
		snprintf(s->reason, sizeof(s->reason), "%s", why);
	}
	proc_close_fd(&s->cmd_fd);
	proc_close_fd(&s->status_fd);
	proc_kill(s->sb, &s->p);
	proc_release(&s->p);
}

static int start_shell(struct rt_session *s, const char *shell,
		       const char *const *env, size_t n_env)
{
	int cmd[2], st[2], r;
	const char *const argv[] = { shell, "-c",
				     s->bash ? bash_loop : posix_loop, NULL };
	int extra[2];
	struct proc_spec ps = { .argv = argv,
				.env = env,
				.n_env = n_env,
				.extra_fds = extra,
				.n_extra_fds = 2 };

	if (pipe2(cmd, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(st, O_CLOEXEC) < 0) {
		r = -errno;
		close(cmd[0]);
		close(cmd[1]);
		return r;
	}
	extra[0] = cmd[0];
	extra[1] = st[1];
	r = proc_spawn(s->sb, &ps, &s->p);
	close(cmd[0]);
	close(st[1]);
	s->cmd_fd = cmd[1];
	s->status_fd = st[0];
	fcntl(s->cmd_fd, F_SETFL, O_NONBLOCK);
	fcntl(s->status_fd, F_SETFL, O_NONBLOCK);
	/* Commands get /dev/null as stdin; the shell's own needs none. */
	proc_close_fd(&s->p.fd[0]);
	return r;
}

/* Wait for INIT_STARTED (or the reason the shell could not start). */
static int await_started(struct rt_session *s, char *err, size_t errlen)
{
	uint64_t until = af_now_mono_ns() + 10000000000ull;

	while (!s->p.pid && !s->p.spawn_failed && !s->p.lost &&
	       af_now_mono_ns() < until) {
		struct pollfd p = { .fd = s->p.st, .events = POLLIN };

		if (poll(&p, 1, 100) > 0)
			proc_read_status(&s->p);
	}
	if (s->p.spawn_failed) {
		snprintf(err, errlen, "%s", s->p.message);
		return s->p.spawn_errno == ENOENT ? -ENOENT : -EINVAL;
	}
	if (!s->p.pid) {
		snprintf(err, errlen, "the shell did not start");
		return -EIO;
	}
	return 0;
}

int rt_session_start(struct rt_sandbox *sb, const char *shell,
		     const char *const *env, size_t n_env,
		     struct rt_session **out, char *err, size_t errlen)
{
	struct rt_session *s = calloc(1, sizeof(*s));
	pid_t pid;
	int r;

	if (!s)
		return -ENOMEM;
	s->sb = sb;
	s->cmd_fd = s->status_fd = -1;
	s->bash = is_bash(shell);
	proc_init(&s->p);
	pthread_mutex_init(&s->lock, NULL);
	s->buf = malloc(RT_READ_CHUNK);
	r = s->buf ? 0 : -ENOMEM;
	if (r == 0 && !rt_sandbox_alive(sb))
		r = -ENOTCONN;
	if (r == 0)
		r = start_shell(s, shell, env, n_env);
	if (r == 0)
		r = await_started(s, err, errlen);
	/* The shell is the only process in its cgroup right now. */
	if (r == 0 && read_pids(s, &pid, 1) == 1)
		s->shell_pid = pid;
	if (r < 0) {
		close_session(s, "the shell did not start");
		rt_session_free(s);
		return r;
	}
	*out = s;
	return 0;
}

/* Octal escapes for printf: any byte survives a line-based read. */
static char *encode_command(const struct rt_session *s, const char *cmd,
			    size_t *len)
{
	size_t n = strlen(cmd);
	char *out = malloc(s->bash ? n + 1 : 4 * n + 2);

	if (!out)
		return NULL;
	if (s->bash) {
		memcpy(out, cmd, n + 1); /* the NUL terminates it */
		*len = n + 1;
		return out;
	}
	for (size_t i = 0; i < n; i++)
		sprintf(out + 4 * i, "\\%03o", (unsigned char)cmd[i]);
	out[4 * n] = '\n';
	*len = 4 * n + 1;
	return out;
}

/*
 * Is the process behind pfd (opened for pid) in this session's cgroup?
 * The pidfd pins it, so once it is known alive after reading /proc/PID,
 * that read was about the same process (no pid reuse in between).
 */
static bool ours(struct rt_session *s, pid_t pid, int pfd)
{
	char path[64], want[128], buf[512];
	struct pollfd p = { .fd = pfd, .events = POLLIN };
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	snprintf(want, sizeof(want), "/%s/e%llu\n", cg_sandbox_name(s->sb->cg),
		 (unsigned long long)s->p.n);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0 || poll(&p, 1, 0) != 0)
		return false;
	buf[n] = '\0';
	return strstr(buf, want) != NULL;
}

/* SIGKILL the processes the running command started (not the shell). */
static void kill_command(struct rt_session *s, const pid_t *before,
			 size_t n_before)
{
	_cleanup_free_ pid_t *now = calloc(MAX_PIDS, sizeof(*now));
	size_t n = now ? read_pids(s, now, MAX_PIDS) : 0;

	for (size_t i = 0; i < n; i++) {
		bool old = now[i] == s->shell_pid;
		int pfd;

		for (size_t j = 0; !old && j < n_before; j++)
			old = now[i] == before[j];
		if (old)
			continue;
		pfd = (int)syscall(SYS_pidfd_open, now[i], 0);
		if (pfd < 0)
			continue;
		if (ours(s, now[i], pfd))
			syscall(SYS_pidfd_send_signal, pfd, SIGKILL, NULL, 0);
		close(pfd);
	}
}

struct sess_run {
	struct rt_session *s;
	const struct rt_exec_req *req;
	struct rt_exec_res *res;
	char *cmd;
	size_t cmd_len, cmd_off;
	char status[32];
	size_t status_len;
	bool done, shell_gone;
	int code;
};

/* The shell's status line: "<exit code>\n". */
static void read_status_line(struct sess_run *x)
{
	char c;
	ssize_t n;

	while ((n = read(x->s->status_fd, &c, 1)) == 1) {
		if (c == '\n') {
			x->status[x->status_len] = '\0';
			x->code = (int)strtol(x->status, NULL, 10);
			x->status_len = 0;
			x->done = true;
			return;
		}
		if (x->status_len < sizeof(x->status) - 1)
			x->status[x->status_len++] = c;
	}
	if (n == 0)
		x->shell_gone = true;
}

static void write_command(struct sess_run *x)
{
	ssize_t n = write(x->s->cmd_fd, x->cmd + x->cmd_off,
			  x->cmd_len - x->cmd_off);

	if (n > 0)
		x->cmd_off += (size_t)n;
	else if (n < 0 && errno != EAGAIN && errno != EINTR)
		x->shell_gone = true;
}

static bool pump(struct sess_run *x, int i)
{
	return rt_pump_output(&x->s->p.fd[i], i == 1 ? RT_STDOUT : RT_STDERR,
			      x->req, x->res, x->s->buf);
}

/* One poll round; false once the command is over. */
static bool step(struct sess_run *x, int wait)
{
	struct rt_session *s = x->s;
	struct pollfd p[4] = {
		{ .fd = x->cmd_off < x->cmd_len ? s->cmd_fd : -1,
		  .events = POLLOUT },
		{ .fd = s->p.fd[1], .events = POLLIN },
		{ .fd = s->p.fd[2], .events = POLLIN },
		{ .fd = s->status_fd, .events = POLLIN },
	};

	if (poll(p, 4, wait) < 0 && errno != EINTR)
		return false;
	if (p[0].revents)
		write_command(x);
	for (int i = 1; i <= 2; i++)
		if (p[i].revents && !pump(x, i))
			x->res->cancelled = true;
	if (p[3].revents)
		read_status_line(x);
	return !x->done && !x->shell_gone;
}

/* Output already in the pipes belongs to the command that just ended. */
static void drain_now(struct sess_run *x)
{
	for (int i = 1; i <= 2; i++)
		while (x->s->p.fd[i] >= 0) {
			struct pollfd p = { .fd = x->s->p.fd[i],
					    .events = POLLIN };

			if (poll(&p, 1, 0) <= 0 || !pump(x, i))
				break;
		}
}

/* The shell exited: its own exit status is the command's. */
static void shell_exited(struct sess_run *x)
{
	struct rt_session *s = x->s;
	uint64_t until = af_now_mono_ns() + 5000000000ull;

	while (!s->p.exited && !s->p.lost && af_now_mono_ns() < until) {
		struct pollfd p = { .fd = s->p.st, .events = POLLIN };

		drain_now(x);
		if (poll(&p, 1, 50) > 0)
			proc_read_status(&s->p);
	}
	drain_now(x);
	x->code = s->p.exited ? proc_exit_code(s->p.wstatus) : 255;
	x->done = true;
	close_session(s, "the shell exited");
}

static void run(struct sess_run *x, const pid_t *before, size_t n_before)
{
	const struct rt_exec_req *req = x->req;
	uint64_t deadline = af_now_mono_ns() + req->timeout_ms * 1000000ull;
	uint64_t kill_at = 0;

	for (;;) {
		uint64_t now = af_now_mono_ns();
		int wait = CANCEL_POLL_MS;

		if (!kill_at && (now >= deadline || x->res->cancelled ||
				 (req->cancelled && req->cancelled(req->ud)))) {
			x->res->timed_out = now >= deadline;
			x->res->cancelled = !x->res->timed_out;
			kill_command(x->s, before, n_before);
			kill_at = now;
		} else if (kill_at &&
			   now - kill_at <= AFTER_KILL_MS * 1000000ull) {
			/* The rest of the command line may start more. */
			kill_command(x->s, before, n_before);
			wait = 20;
		} else if (kill_at) {
			/* Still busy: the command runs in the shell itself. */
			close_session(x->s,
				      "a command timed out and could not be "
				      "interrupted; the shell was killed");
			x->code = 137;
			return;
		} else if (!kill_at &&
			   (deadline - now) / 1000000 < CANCEL_POLL_MS) {
			wait = (int)((deadline - now) / 1000000) + 1;
		}
		if (!step(x, wait))
			break;
	}
	if (x->shell_gone)
		shell_exited(x);
	else
		drain_now(x);
}

int rt_session_exec(struct rt_session *s, const struct rt_exec_req *req,
		    struct rt_exec_res *res)
{
	struct sess_run x = { .s = s, .req = req, .res = res };
	_cleanup_free_ pid_t *before = calloc(MAX_PIDS, sizeof(*before));
	uint64_t start = af_now_mono_ns(), oom_before;
	size_t n_before;

	memset(res, 0, sizeof(*res));
	if (!before)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	if (s->closed || !rt_sandbox_alive(s->sb)) {
		snprintf(res->message, sizeof(res->message), "%s",
			 s->closed ? s->reason : "the sandbox is not running");
		pthread_mutex_unlock(&s->lock);
		return -ESHUTDOWN;
	}
	x.cmd = encode_command(s, req->command, &x.cmd_len);
	if (!x.cmd) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	n_before = read_pids(s, before, MAX_PIDS);
	oom_before = cg_sandbox_oom_kills(s->sb->cg);
	run(&x, before, n_before);
	free(x.cmd);
	res->exit_code = x.code;
	res->duration_ns = af_now_mono_ns() - start;
	rt_explain_oom(s->sb, oom_before, res);
	if (s->closed && res->oom_killed)
		snprintf(s->reason, sizeof(s->reason),
			 "the shell was killed at the sandbox's memory limit");
	if (s->closed && !res->message[0])
		snprintf(res->message, sizeof(res->message), "%s", s->reason);
	pthread_mutex_unlock(&s->lock);
	/* The shell died with its sandbox: not the command's doing. */
	if (s->closed && !rt_sandbox_alive(s->sb)) {
		snprintf(res->message, sizeof(res->message),
			 "the sandbox stopped while the command was running");
		rt_explain_lost(s->sb, oom_before, res);
		return -ENOTCONN;
	}
	return 0;
}

bool rt_session_closed(struct rt_session *s, char *why, size_t len)
{
	bool closed;

	pthread_mutex_lock(&s->lock);
	closed = s->closed;
	if (closed && why)
		snprintf(why, len, "%s", s->reason);
	pthread_mutex_unlock(&s->lock);
	return closed;
}

void rt_session_close(struct rt_session *s)
{
	/* Kill first, unlocked: a running command then ends at once. */
	proc_kill(s->sb, &s->p);
	pthread_mutex_lock(&s->lock);
	close_session(s, "the session was destroyed");
	pthread_mutex_unlock(&s->lock);
}

void rt_session_free(struct rt_session *s)
{
	if (!s)
		return;
	close_session(s, "the session was destroyed");
	pthread_mutex_destroy(&s->lock);
	free(s->buf);
	free(s);
}
