/* SPDX-License-Identifier: Apache-2.0 */
#ifndef AF_RUNTIME_INTERNAL_H
#define AF_RUNTIME_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "agentfense/cgroup.h"
#include "agentfense/enforce.h"
#include "agentfense/fs.h"
#include "agentfense/runtime.h"

struct docker_ctx;
struct docker_box;

struct rt_ctx {
	char *state_dir;
	char *init_path;
	uint64_t tmp_size;
	char *delta_template; /* image capped deltas start from; NULL: none */
	struct cg_ctx *cg;
	struct enf_ctx *enf; /* borrowed from the daemon */
	char instance[9];    /* this daemon among others on the host */
	struct docker_ctx *docker;
};

struct rt_sandbox {
	struct rt_ctx *rt;
	char *id;
	struct cg_sandbox *cg;
	struct fs_view view;
	pid_t init_pid;
	int init_pidfd;
	int ctl_fd;
	pthread_mutex_t ctl_lock; /* one INIT_EXEC datagram at a time */
	atomic_uint_fast64_t next_exec;
	struct enf_plan plan;	/* what init applies (Landlock) */
	bool enforced;		/* rules installed for this sandbox */
	uint64_t workspace_dev; /* st_dev of the sandbox's /workspace */
	uint64_t memory_limit;	/* bytes, 0: none (for OOM messages) */
	bool stopped;
	struct docker_box *box; /* docker runtime: the container */
	int guest_pidfd;	/* its pid 1, whose namespaces init joins */
};

/* docker_sandbox.c: the docker runtime's steps of a sandbox's life. */
int rt_docker_init(struct rt_ctx *rt, const struct rt_config *cfg);
int rt_docker_reconcile(struct rt_ctx *rt);
/* Start the container (after cgroups and rules, before init). */
int docker_sandbox_prepare(struct rt_sandbox *sb, const struct rt_start_opts *o,
			   char *err, size_t errlen);
/* Remove the container (after every process of the sandbox is dead). */
void docker_sandbox_remove(struct rt_sandbox *sb);
void docker_sandbox_free(struct rt_sandbox *sb);

/*
 * A command that ended by SIGKILL while the sandbox's OOM-kill counter
 * went up past oom_before was killed by the memory limit: say so.
 */
void rt_explain_oom(struct rt_sandbox *sb, uint64_t oom_before,
		    struct rt_exec_res *res);
/* The same when the command was lost because the sandbox died. */
void rt_explain_lost(struct rt_sandbox *sb, uint64_t oom_before,
		     struct rt_exec_res *res);

/* A process started by init: a command, or a session's shell. */
#define PROC_KILL_WAIT_MS 5000

struct proc_spec {
	const char *const *argv; /* NULL-terminated, argv[0] an absolute path */
	const char *const *env;	 /* "K=V" over the clean base env */
	size_t n_env;
	const char *workdir;  /* absolute, or relative to /workspace */
	const int *extra_fds; /* become fds 3, 4, ... in the process */
	size_t n_extra_fds;
};

struct rt_proc {
	uint64_t n; /* its cgroup: <sandbox>/e<n> */
	int cgfd;
	bool has_cgroup;
	int fd[3]; /* our ends: stdin (write), stdout, stderr (read) */
	int st;	   /* status socket from init */
	pid_t pid; /* in the sandbox's pid namespace */
	bool exited, lost, spawn_failed;
	int wstatus, spawn_errno;
	char message[256];
};

void proc_init(struct rt_proc *p);
int proc_spawn(struct rt_sandbox *sb, const struct proc_spec *ps,
	       struct rt_proc *p);
/* Consume one status message (non-blocking). */
void proc_read_status(struct rt_proc *p);
/* Kill everything in the process's cgroup and remove the cgroup. */
int proc_kill(struct rt_sandbox *sb, struct rt_proc *p);
void proc_release(struct rt_proc *p);
void proc_close_fd(int *fd);
int proc_exit_code(int wstatus);
/*
 * Read one chunk from an output pipe into req's callback or res's buffer;
 * closes *fd at EOF. False when the streaming client has gone away.
 */
bool rt_pump_output(int *fd, enum rt_stream which,
		    const struct rt_exec_req *req, struct rt_exec_res *res,
		    char *buf);
#define RT_READ_CHUNK (64 * 1024)

#endif
