// SPDX-License-Identifier: Apache-2.0
#define LOG_MOD "runtime"
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/policy.h"
#include "agentfense/util.h"
#include "docker.h"
#include "initproto.h"
#include "runtime_internal.h"

#define INIT_READY_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS	      10000

/*
 * This daemon's name among others on the host: a hash of its state dir,
 * so a restart finds (and reaps) exactly its own leftovers.
 */
static const char *instance_name(const char *state_dir, char out[9])
{
	char real[PATH_MAX];
	const char *s = realpath(state_dir, real) ? real : state_dir;
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	snprintf(out, 9, "%08x", h);
	return out;
}

int rt_ctx_new(const struct rt_config *cfg, struct rt_ctx **out)
{
	_cleanup_free_ struct rt_ctx *rt = calloc(1, sizeof(*rt));
	int r;

	if (!rt)
		return -ENOMEM;
	if (access(cfg->init_path, X_OK) < 0)
		return log_errno(-errno, "sandbox init %s", cfg->init_path);
	rt->state_dir = strdup(cfg->state_dir);
	rt->init_path = strdup(cfg->init_path);
	rt->tmp_size = cfg->tmp_size_bytes ? cfg->tmp_size_bytes : 256ull << 20;
	if (!rt->state_dir || !rt->init_path) {
		free(rt->state_dir);
		free(rt->init_path);
		return -ENOMEM;
	}
	r = cfg->max_delta_bytes
		    ? fs_delta_template(cfg->state_dir, cfg->max_delta_bytes,
					&rt->delta_template)
		    : 0;
	instance_name(rt->state_dir, rt->instance);
	if (r == 0)
		r = cg_ctx_new(&(struct cg_config){ .instance = rt->instance },
			       &rt->cg);
	if (r == 0)
		r = rt_docker_init(rt, cfg);
	if (r < 0) {
		cg_ctx_free(rt->cg);
		free(rt->delta_template);
		free(rt->state_dir);
		free(rt->init_path);
		return r;
	}
	*out = TAKE_PTR(rt);
	return 0;
}

void rt_ctx_free(struct rt_ctx *rt)
{
	if (!rt)
		return;
	cg_ctx_free(rt->cg);
	docker_ctx_free(rt->docker);
	free(rt->delta_template);
	free(rt->state_dir);
	free(rt->init_path);
	free(rt);
}

void rt_set_enforcer(struct rt_ctx *rt, struct enf_ctx *enf)
{
	rt->enf = enf;
}

const char *rt_cgroup_layout(const struct rt_ctx *rt)
{
	return cg_layout(rt->cg);
}

int rt_sandbox_level(const struct rt_ctx *rt)
{
	return cg_sandbox_level(rt->cg);
}

int rt_reconcile(struct rt_ctx *rt)
{
	/* No sandbox survives a daemon restart: their inits exit with us. */
	int r = cg_reap_stale(rt->cg, NULL, NULL);
	int q = rt_docker_reconcile(rt);

	return r ? r : q;
}

int rt_check_limits(const struct rt_ctx *rt, const struct cg_limits *l,
		    char *err, size_t errlen)
{
	return cg_check_limits(rt->cg, l, err, errlen);
}

struct init_launch {
	const char *path;
	char *const *argv;
	int ctl_fd, cg_fd;
	int v1_fd[INIT_CGROUP_V1_MAX];
	size_t n_v1;
	int guest_fd; /* docker runtime: the container's pid 1, else -1 */
	int err;      /* errno of a failed execve, written by the child */
};

/*
 * Runs in the clone()d child, sharing the daemon's memory until execve
 * (CLONE_VM|CLONE_VFORK): only syscalls, no allocation, no locks.
 */
static int init_child(void *arg)
{
	struct init_launch *l = arg;
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
				      NULL };

	int ctl = fcntl(l->ctl_fd, F_DUPFD, 16);
	int cg = fcntl(l->cg_fd, F_DUPFD, 16);
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int guest = l->guest_fd >= 0 ? fcntl(l->guest_fd, F_DUPFD, 16) : -1;
	int v1[INIT_CGROUP_V1_MAX];

	/* Lifted first so that the dup2s below cannot clobber each other. */
	for (size_t i = 0; i < l->n_v1; i++)
		if ((v1[i] = fcntl(l->v1_fd[i], F_DUPFD, 16)) < 0)
			null = -1;
	if (ctl < 0 || cg < 0 || null < 0 || dup2(null, 0) < 0 ||
	    dup2(null, 1) < 0 || dup2(ctl, INIT_CTL_FD) < 0 ||
	    dup2(cg, INIT_CGROUP_FD) < 0 ||
	    (l->guest_fd >= 0 &&
	     (guest < 0 || dup2(guest, INIT_GUEST_FD) < 0))) {
		l->err = errno ? errno : EBADF;
		_exit(127);
	}
	/* Init takes every open fd of the v1 range for a cgroup to join. */
	for (int i = 0; i < INIT_CGROUP_V1_MAX; i++) {
		if ((size_t)i >= l->n_v1)
			close(INIT_CGROUP_V1_FD + i);
		else if (dup2(v1[i], INIT_CGROUP_V1_FD + i) < 0)
			_exit(127);
	}
	execve(l->path, l->argv, envp);
	l->err = errno;
	_exit(127);
}

/* INIT_CONFIG and the Landlock plan's memfd, if there is one. */
static int send_with_fd(int sock, const void *buf, size_t len, int fd)
{
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (fd >= 0) {
		memset(u.b, 0, sizeof(u.b));
		mh.msg_control = u.b;
		mh.msg_controllen = sizeof(u.b);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
}

/* INIT_CONFIG: everything init needs, kept out of its command line. */
static int send_config(struct rt_sandbox *sb)
{
	char overlay[256], tmp[32],
		buf[sizeof(struct init_msg) + 3 * 4096 + 512];
	struct init_msg *m = (struct init_msg *)buf;
	const char *f[INIT_CONFIG_FIELDS];
	char *p = m->data;
	int r;

	r = fs_view_overlay_opts(&sb->view, overlay, sizeof(overlay));
	if (r < 0)
		return r;
	snprintf(tmp, sizeof(tmp), "%llu",
		 (unsigned long long)sb->rt->tmp_size);
	f[0] = sb->view.dir;
	f[1] = sb->view.snapshot;
	f[2] = "sandbox";
	f[3] = overlay;
	f[4] = tmp;
	f[5] = sb->view.delta_image ? FS_DELTA_IMAGE : "";
	memset(m, 0, sizeof(*m));
	m->type = INIT_CONFIG;
	for (int i = 0; i < INIT_CONFIG_FIELDS; i++) {
		size_t n = strlen(f[i]) + 1;

		if (p + n > buf + sizeof(buf))
			return -ENAMETOOLONG;
		memcpy(p, f[i], n);
		p += n;
	}
	return send_with_fd(sb->ctl_fd, buf, (size_t)(p - buf),
			    sb->plan.landlock_fd);
}

/*
 * Init gets fresh namespaces, or in a docker sandbox joins the container's
 * itself (guest mode).
 */
static int launch_init(struct rt_sandbox *sb, int ctl_child, char *err,
		       size_t errlen)
{
	const int own_ns = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC |
			   CLONE_NEWUTS | CLONE_NEWNET;
	const int flags = (sb->guest_pidfd >= 0 ? 0 : own_ns) | CLONE_VM |
			  CLONE_VFORK | CLONE_PIDFD;
	static char *const argv[] = { "agentfense-init", NULL };
	static char *const guest_argv[] = { "agentfense-init", "--guest",
					    NULL };
	const size_t stack_len = 64 * 1024;
	_cleanup_free_ char *stack = NULL;
	struct init_launch l = { .path = sb->rt->init_path,
				 .argv = sb->guest_pidfd >= 0 ? guest_argv
							      : argv,
				 .ctl_fd = ctl_child,
				 .cg_fd = cg_sandbox_dirfd(sb->cg),
				 .guest_fd = sb->guest_pidfd };
	int pidfd = -1, r;

	_Static_assert(INIT_CGROUP_V1_MAX >= CG_V1_MAX, "v1 fd range");
	l.n_v1 = cg_sandbox_v1_dirfds(sb->cg, l.v1_fd);

	stack = malloc(stack_len);
	if (!stack)
		return -ENOMEM;
	sb->init_pid = clone(init_child, stack + stack_len, flags | SIGCHLD, &l,
			     &pidfd);
	if (sb->init_pid < 0) {
		snprintf(err, errlen, "cannot create sandbox namespaces: %s",
			 strerror(errno));
		return log_errno(-errno, "clone sandbox init");
	}
	sb->init_pidfd = pidfd;
	if (l.err) {
		snprintf(err, errlen, "cannot run %s: %s", sb->rt->init_path,
			 strerror(l.err));
		return log_errno(-l.err, "exec %s", sb->rt->init_path);
	}
	r = send_config(sb);
	if (r < 0)
		snprintf(err, errlen, "cannot configure sandbox init: %s",
			 strerror(-r));
	return r;
}

/* Wait for INIT_READY (or the reason init gave up). */
static int await_ready(struct rt_sandbox *sb, char *err, size_t errlen)
{
	char buf[sizeof(struct init_msg) + 1024];
	struct init_msg *m = (struct init_msg *)buf;
	struct pollfd p = { .fd = sb->ctl_fd, .events = POLLIN };
	ssize_t n;
	int r;

	do
		r = poll(&p, 1, INIT_READY_TIMEOUT_MS);
	while (r < 0 && errno == EINTR);
	if (r == 0) {
		snprintf(err, errlen, "sandbox init did not start in time");
		return -ETIMEDOUT;
	}
	n = recv(sb->ctl_fd, buf, sizeof(buf) - 1, 0);
	if (n >= (ssize_t)sizeof(*m) && m->type == INIT_READY) {
		/* READY carries the workspace overlay's device number. */
		sb->workspace_dev = (uint32_t)m->value;
		return 0;
	}
	if (n >= (ssize_t)sizeof(*m) && m->type == INIT_FAILED) {
		buf[n] = '\0';
		snprintf(err, errlen, "sandbox setup failed: %s", m->data);
		log_err("sandbox %s: setup failed: %s", sb->id, m->data);
		return m->value > 0 ? -m->value : -EIO;
	}
	snprintf(err, errlen, "sandbox init exited during setup");
	return -EIO;
}

static void sandbox_release(struct rt_sandbox *sb)
{
	if (sb->ctl_fd >= 0)
		close(sb->ctl_fd);
	if (sb->init_pidfd >= 0)
		close(sb->init_pidfd);
	cg_sandbox_free(sb->cg);
	docker_sandbox_free(sb);
	fs_view_clear(&sb->view);
	enf_plan_clear(&sb->plan);
	pthread_mutex_destroy(&sb->ctl_lock);
	free(sb->id);
	free(sb);
}

static int sockpair(int sv[2])
{
	int size = INIT_SOCKBUF;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	for (int i = 0; i < 2; i++) {
		(void)setsockopt(sv[i], SOL_SOCKET, SO_SNDBUFFORCE, &size,
				 sizeof(size));
		(void)setsockopt(sv[i], SOL_SOCKET, SO_RCVBUFFORCE, &size,
				 sizeof(size));
	}
	return 0;
}

/*
 * A policy that grants write everywhere needs no enforcer; anything else
 * does, and without one the sandbox does not start (fail closed).
 */
static int prepare_enforcer(struct rt_sandbox *sb,
			    const struct rt_start_opts *o, char *err,
			    size_t errlen)
{
	struct rt_ctx *rt = sb->rt;

	sb->plan.landlock_fd = -1;
	if (!o->matcher || af_matcher_floor(o->matcher, "/") == AF_PERM_WRITE)
		return 0;
	if (enf_kind(rt->enf) == ENF_NONE) {
		snprintf(err, errlen,
			 "its rules need an enforcer and none is "
			 "available on this host (%s)",
			 enf_reason(rt->enf));
		return -ENOTSUP;
	}
	sb->enforced = true;
	/* Only bpf-lsm keys its rules by cgroup, which exists by then. */
	return enf_sandbox_prepare(rt->enf, o->matcher, o->snapshot_dir,
				   sb->cg ? cg_sandbox_id(sb->cg) : 0,
				   &sb->plan, err, errlen);
}

/*
 * A Landlock plan walks the codebase's tree, as the hide layer does: the
 * two walks run at once, the plan on a thread of its own (a 1,000-file
 * tree takes 8 ms a walk on the test host). It writes only sb->plan and
 * sb->enforced, which nothing reads before plan_end().
 */
struct plan_job {
	struct rt_sandbox *sb;
	const struct rt_start_opts *o;
	pthread_t thread;
	bool running, done;
	int r;
	char err[512];
};

static void *plan_thread(void *arg)
{
	struct plan_job *j = arg;

	j->r = prepare_enforcer(j->sb, j->o, j->err, sizeof(j->err));
	return NULL;
}

static void plan_begin(struct plan_job *j)
{
	if (enf_kind(j->sb->rt->enf) == ENF_LANDLOCK)
		j->running = pthread_create(&j->thread, NULL, plan_thread, j) ==
			     0; /* else made in plan_end */
}

static void plan_join(struct plan_job *j)
{
	if (!j->running)
		return;
	pthread_join(j->thread, NULL);
	j->running = false;
	j->done = true;
}

/* Rules in place before the sandbox's first process exists. */
static int plan_end(struct plan_job *j, char *err, size_t errlen)
{
	plan_join(j);
	if (!j->done)
		return prepare_enforcer(j->sb, j->o, err, errlen);
	if (j->r < 0)
		snprintf(err, errlen, "%s", j->err);
	return j->r;
}

int rt_sandbox_start(struct rt_ctx *rt, const struct rt_start_opts *o,
		     struct rt_sandbox **out, char *err, size_t errlen)
{
	struct rt_sandbox *sb = calloc(1, sizeof(*sb));
	struct plan_job pj = { .sb = sb, .o = o };
	int sv[2] = { -1, -1 };
	int r;

	if (!sb)
		return -ENOMEM;
	sb->rt = rt;
	sb->ctl_fd = sb->init_pidfd = sb->guest_pidfd = -1;
	/* Before any failure: sandbox_release closes it (0 would be stdin). */
	sb->plan.landlock_fd = -1;
	pthread_mutex_init(&sb->ctl_lock, NULL);
	sb->id = strdup(o->id);
	if (!sb->id) {
		r = -ENOMEM;
		goto fail;
	}
	plan_begin(&pj);
	r = fs_view_prepare(rt->state_dir, o->id, o->snapshot_dir, o->matcher,
			    &sb->view);
	if (r == 0 && rt->delta_template)
		r = fs_delta_attach(&sb->view, rt->delta_template);
	if (r < 0) {
		snprintf(err, errlen, "cannot prepare sandbox filesystem");
		goto fail;
	}
	r = cg_sandbox_create(rt->cg, o->id, &o->limits, &sb->cg);
	if (r < 0) {
		snprintf(err, errlen, "cannot create the sandbox's cgroups%s",
			 r == -EOPNOTSUPP ? ": a limit has no controller" : "");
		goto fail;
	}
	sb->memory_limit = o->limits.memory_bytes;
	r = plan_end(&pj, err, errlen);
	if (r == 0 && o->kind == RT_DOCKER)
		r = docker_sandbox_prepare(sb, o, err, errlen);
	if (r < 0)
		goto fail;
	r = sockpair(sv);
	if (r < 0)
		goto fail;
	sb->ctl_fd = sv[0];
	r = launch_init(sb, sv[1], err, errlen);
	close(sv[1]);
	if (r < 0)
		goto fail;
	r = await_ready(sb, err, errlen);
	if (r == 0 && sb->enforced)
		r = enf_sandbox_set_workspace(rt->enf, cg_sandbox_id(sb->cg),
					      sb->workspace_dev);
	if (r < 0)
		goto fail;
	log_info("sandbox %s started (%s, init pid %d, cgroup id %llu, %s, "
		 "%zu hidden)",
		 o->id, sb->box ? "docker" : "namespaces", sb->init_pid,
		 (unsigned long long)cg_sandbox_id(sb->cg),
		 sb->enforced ? enf_name(rt->enf) : "unrestricted",
		 sb->view.hidden);
	*out = sb;
	return 0;
fail:
	plan_join(&pj);
	rt_sandbox_stop(sb);
	sandbox_release(sb);
	return r < 0 ? r : -EIO;
}

int rt_sandbox_stop(struct rt_sandbox *sb)
{
	int r = 0;

	if (sb->stopped)
		return 0;
	sb->stopped = true;
	/* Closing the control socket makes init exit; cgroup.kill makes sure.
	 */
	pthread_mutex_lock(&sb->ctl_lock);
	if (sb->ctl_fd >= 0) {
		close(sb->ctl_fd);
		sb->ctl_fd = -1;
	}
	pthread_mutex_unlock(&sb->ctl_lock);
	if (sb->cg)
		r = cg_sandbox_destroy(sb->cg, STOP_TIMEOUT_MS);
	if (sb->enforced)
		enf_sandbox_release(sb->rt->enf, cg_sandbox_id(sb->cg));
	if (sb->init_pidfd >= 0) {
		siginfo_t si;

		/* Reap our child; it is dead once its cgroup is empty. */
		while (waitid(P_PIDFD, (id_t)sb->init_pidfd, &si, WEXITED) <
			       0 &&
		       errno == EINTR)
			;
	}
	docker_sandbox_remove(sb);
	return r;
}

void rt_sandbox_free(struct rt_sandbox *sb)
{
	if (sb)
		sandbox_release(sb);
}

int rt_sandbox_remove(struct rt_ctx *rt, const char *id)
{
	return fs_view_remove(rt->state_dir, id);
}

bool rt_sandbox_enforced(const struct rt_sandbox *sb)
{
	return sb->enforced;
}

uint64_t rt_sandbox_cgroup_id(const struct rt_sandbox *sb)
{
	return cg_sandbox_id(sb->cg);
}

uint64_t rt_sandbox_workspace_dev(const struct rt_sandbox *sb)
{
	return sb->workspace_dev;
}

bool rt_sandbox_alive(struct rt_sandbox *sb)
{
	struct pollfd p = { .fd = sb->init_pidfd, .events = POLLIN };

	if (sb->stopped || sb->init_pidfd < 0)
		return false;
	/* A pidfd polls readable once the process has exited. */
	return poll(&p, 1, 0) == 0;
}
