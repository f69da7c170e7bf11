/* SPDX-License-Identifier: Apache-2.0 */
/*
 * runtime: the namespace runtime (RUNTIME_TYPE_BWRAP on the wire; no bwrap
 * binary is involved). A running sandbox is one init process
 * (agentfense-init) holding the sandbox's mount, pid, ipc, uts, net and
 * cgroup namespaces; commands are forked by that init on request, so a
 * command costs about one fork+exec.
 *
 * The docker runtime (RUNTIME_TYPE_DOCKER) runs the same init, in guest
 * mode, inside a container created through the Docker Engine API: the
 * container provides the namespaces and the image's root file system, init
 * adds /workspace and applies the same enforcement to every command, so
 * exec, sessions, timeouts and limits behave alike in both runtimes.
 */
#ifndef AGENTFENSE_RUNTIME_H
#define AGENTFENSE_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentfense/cgroup.h"

struct af_matcher;
struct enf_ctx;
struct rt_ctx;
struct rt_sandbox;

struct rt_config {
	const char *state_dir;
	const char *init_path;	  /* agentfense-init binary */
	uint64_t tmp_size_bytes;  /* size of each sandbox's /tmp tmpfs */
	uint64_t max_delta_bytes; /* cap on each sandbox's delta; 0: none */
	/* Docker runtime: the Engine's socket (NULL: the default one). */
	const char *docker_host;
	const char *idle_path; /* agentfense-idle, the containers' pid 1 */
};

int rt_ctx_new(const struct rt_config *cfg, struct rt_ctx **out);
void rt_ctx_free(struct rt_ctx *rt);
/* The enforcer sandboxes start under (borrowed; NULL: none available). */
void rt_set_enforcer(struct rt_ctx *rt, struct enf_ctx *enf);
const char *rt_cgroup_layout(const struct rt_ctx *rt);
/* Depth of sandbox cgroups in the cgroup v2 hierarchy. */
int rt_sandbox_level(const struct rt_ctx *rt);
/* Remove what an earlier daemon left (cgroups, processes, containers). */
int rt_reconcile(struct rt_ctx *rt);
/*
 * Can a docker sandbox start from image? 0, or with a message in err:
 * -EHOSTDOWN when the Docker daemon is not reachable, -ENOTSUP when the
 * runtime is not installed, -ENOENT when the image is not present,
 * -EINVAL for a bad image reference.
 */
int rt_docker_check(struct rt_ctx *rt, const char *image, char *err,
		    size_t errlen);
/* 0 when the host can enforce l, else -EOPNOTSUPP with a reason in err. */
int rt_check_limits(const struct rt_ctx *rt, const struct cg_limits *l,
		    char *err, size_t errlen);

enum rt_kind { RT_NAMESPACE = 0, RT_DOCKER };

struct rt_start_opts {
	enum rt_kind kind;
	const char *id;		  /* sandbox id, also its cgroup name */
	const char *codebase_id;  /* for the container's labels */
	const char *image;	  /* RT_DOCKER: the container's image */
	const char *snapshot_dir; /* immutable codebase tree */
	const char *hostname;
	struct cg_limits limits; /* zeros: none */
	/* The compiled policy: hide layer and enforcer rules come from it. */
	const struct af_matcher *matcher;
};

/* err receives a message for the client on failure. */
int rt_sandbox_start(struct rt_ctx *rt, const struct rt_start_opts *o,
		     struct rt_sandbox **out, char *err, size_t errlen);
/* Kill every process, wait for them, remove cgroups. Keeps the delta. */
int rt_sandbox_stop(struct rt_sandbox *sb);
void rt_sandbox_free(struct rt_sandbox *sb);
/* Remove a (stopped) sandbox's delta and directory. */
int rt_sandbox_remove(struct rt_ctx *rt, const char *id);
uint64_t rt_sandbox_cgroup_id(const struct rt_sandbox *sb);
/* st_dev of the sandbox's /workspace, as stat(2) reports it there. */
uint64_t rt_sandbox_workspace_dev(const struct rt_sandbox *sb);
/* False when the policy needed no enforcer (write everywhere). */
bool rt_sandbox_enforced(const struct rt_sandbox *sb);
/* False once the sandbox's init has died (crash or OOM kill). */
bool rt_sandbox_alive(struct rt_sandbox *sb);
/*
 * Server-side access to a running sandbox's files (fs_view_*, fs_changes):
 * an O_PATH fd of its /workspace as its processes see it, of its delta's
 * upper directory, and of its snapshot. -ENOTCONN once it has stopped.
 */
int rt_sandbox_view_fd(struct rt_sandbox *sb, int *fd);
int rt_sandbox_upper_fd(struct rt_sandbox *sb, int *fd);
int rt_sandbox_snapshot_fd(struct rt_sandbox *sb, int *fd);

enum rt_stream { RT_STDOUT = 1, RT_STDERR = 2 };

struct rt_exec_req {
	const char *command; /* run as /bin/sh -c COMMAND */
	const void *stdin_data;
	size_t stdin_len;
	const char *const *env; /* "KEY=VALUE" entries added to the clean env */
	size_t n_env;
	const char *workdir; /* absolute inside the sandbox, or relative to
				/workspace */
	uint64_t timeout_ms;
	size_t max_output; /* per stream cap when capturing */
	/*
	 * Streaming: when set, output goes here as it is produced instead of
	 * being captured; a non-zero return stops the command (client gone).
	 */
	int (*on_output)(void *ud, enum rt_stream s, const void *data,
			 size_t len);
	/* Polled a few times a second; true kills the command. */
	bool (*cancelled)(void *ud);
	void *ud;
};

struct rt_buf {
	char *data;
	size_t len;
	bool truncated;
};

struct rt_exec_res {
	int exit_code;	 /* 128+N when killed by signal N */
	bool oom_killed; /* by the sandbox's memory limit */
	bool timed_out;
	bool cancelled;
	uint64_t duration_ns;
	struct rt_buf out, err; /* when captured */
	char message[256];	/* set when the command ended abnormally */
};

/*
 * Run a command to completion. 0 with *res filled (whatever the exit
 * code); -ENOTCONN if the sandbox died; -EINVAL for a bad request (message
 * in res->message).
 */
int rt_exec(struct rt_sandbox *sb, const struct rt_exec_req *req,
	    struct rt_exec_res *res);
void rt_exec_res_clear(struct rt_exec_res *res);

/*
 * Sessions: a persistent shell (bash runs commands without a fork per
 * command; other shells work too) that keeps cwd, exported env, functions
 * and background jobs across commands. Commands on one session run one at
 * a time; a timeout kills what the command started and keeps the session.
 */
struct rt_session;

/* -ENOENT when the shell does not exist in the sandbox. */
int rt_session_start(struct rt_sandbox *sb, const char *shell,
		     const char *const *env, size_t n_env,
		     struct rt_session **out, char *err, size_t errlen);
/*
 * Uses req's command, timeout, max_output, on_output and cancelled (no
 * stdin, env or workdir: the shell's state applies). -ESHUTDOWN when the
 * session is closed (res->message says why). A command that makes the
 * shell exit returns normally and closes the session.
 */
int rt_session_exec(struct rt_session *s, const struct rt_exec_req *req,
		    struct rt_exec_res *res);
bool rt_session_closed(struct rt_session *s, char *why, size_t len);
/* Kill the shell and everything it started. */
void rt_session_close(struct rt_session *s);
void rt_session_free(struct rt_session *s);

#endif
