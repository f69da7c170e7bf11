// SPDX-License-Identifier: Apache-2.0
/*
 * The Docker runtime's part of a sandbox's life (the rest is shared with
 * the namespace runtime, sandbox.c): the container is started after the
 * sandbox's cgroups and enforcer rules exist and before init, which then
 * runs in guest mode inside it; it is removed after everything in the
 * sandbox's cgroups is dead.
 *
 * Limits: the container gets the sandbox's limits (Docker applies them to
 * its own cgroup, where only the idle pid 1 runs), and the sandbox's cgroup
 * carries them too, as in the namespace runtime: that is where init and
 * every command run, so memory/pids/cpu limits, OOM reporting, timeouts
 * (cgroup.kill) and the bpf-lsm cgroup key behave exactly alike.
 */
#define LOG_MOD "runtime"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agentfense/log.h"
#include "docker.h"
#include "runtime_internal.h"

#define DEFAULT_DOCKER_HOST "unix:///var/run/docker.sock"

int rt_docker_init(struct rt_ctx *rt, const struct rt_config *cfg)
{
	const char *host = cfg->docker_host;
	int r;

	if (!host || !host[0])
		host = DEFAULT_DOCKER_HOST;
	r = docker_ctx_new(host, cfg->idle_path, rt->instance, &rt->docker);
	/* A host we cannot use leaves the namespace runtime working. */
	if (r == -EINVAL) {
		log_warn("docker runtime disabled: cannot use %s", host);
		return 0;
	}
	return r;
}

int rt_docker_check(struct rt_ctx *rt, const char *image, char *err,
		    size_t errlen)
{
	if (!rt->docker) {
		snprintf(err, errlen,
			 "the docker runtime is not configured "
			 "on this server");
		return -ENOTSUP;
	}
	if (!image || !image[0]) {
		snprintf(err, errlen,
			 "image is required for the docker "
			 "runtime");
		return -EINVAL;
	}
	return docker_check(rt->docker, image, err, errlen);
}

int rt_docker_reconcile(struct rt_ctx *rt)
{
	return rt->docker ? docker_reconcile(rt->docker) : 0;
}

int docker_sandbox_prepare(struct rt_sandbox *sb, const struct rt_start_opts *o,
			   char *err, size_t errlen)
{
	const struct docker_box_opts bo = { .sandbox_id = o->id,
					    .codebase_id = o->codebase_id,
					    .image = o->image ? o->image : "",
					    .limits = &o->limits,
					    .tmp_size = sb->rt->tmp_size };
	int r;

	if (!sb->rt->docker) {
		snprintf(err, errlen,
			 "the docker runtime is not configured "
			 "on this server");
		return -ENOTSUP;
	}
	r = docker_box_start(sb->rt->docker, &bo, &sb->box, err, errlen);
	if (r == 0)
		sb->guest_pidfd = docker_box_pidfd(sb->box);
	return r;
}

void docker_sandbox_remove(struct rt_sandbox *sb)
{
	if (sb->box)
		docker_box_remove(sb->box);
}

void docker_sandbox_free(struct rt_sandbox *sb)
{
	docker_box_free(sb->box);
	sb->box = NULL;
	sb->guest_pidfd = -1;
}
