// SPDX-License-Identifier: Apache-2.0
#define LOG_MOD "audit"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/audit.h"
#include "agentfense/log.h"
#include "exec_trace.h"
#include "exec_trace.skel.h"

struct audit {
	struct exec_trace *skel;
	struct ring_buffer *rb;
	pthread_t thread;
	atomic_bool stop;
};

static int on_exec(void *ctx, void *data, size_t len)
{
	const struct af_exec_event *e = data;

	if (len < sizeof(*e))
		return 0;
	log_debug("exec in sandbox cgroup %llu: pid %u uid %u comm %.16s %s",
		  (unsigned long long)e->cgroup_id, e->pid, e->uid, e->comm,
		  e->filename);
	return 0;
}

static void *consume(void *arg)
{
	struct audit *a = arg;

	while (!atomic_load(&a->stop)) {
		int r = ring_buffer__poll(a->rb, 200);

		if (r < 0 && r != -EINTR) {
			log_errno(r, "exec event ring buffer");
			break;
		}
	}
	return NULL;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* libbpf's own chatter only at debug level; our caller logs once. */
	if (af_log_get_level() < AF_LOG_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

int audit_start(int sandbox_level, struct audit **out)
{
	struct audit *a = calloc(1, sizeof(*a));
	int r;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	if (sandbox_level < 1) {
		free(a);
		log_warn("sandbox exec tracer unavailable: the depth of sandbox "
			 "cgroups is unknown (cgroup namespace)");
		return -ENOTSUP;
	}
	libbpf_set_print(libbpf_quiet);
	a->skel = exec_trace__open();
	if (!a->skel) {
		r = -errno;
		goto fail;
	}
	a->skel->rodata->sandbox_cg_level = sandbox_level;
	r = exec_trace__load(a->skel);
	if (r == 0)
		r = exec_trace__attach(a->skel);
	if (r < 0)
		goto fail;
	a->rb = ring_buffer__new(bpf_map__fd(a->skel->maps.exec_events), on_exec,
				 a, NULL);
	if (!a->rb) {
		r = -errno;
		goto fail;
	}
	r = -pthread_create(&a->thread, NULL, consume, a);
	if (r < 0)
		goto fail;
	log_info("sandbox exec tracer attached (tp_btf/sched_process_exec)");
	*out = a;
	return 0;
fail:
	log_warn_errno(r, "sandbox exec tracer unavailable, running without it");
	ring_buffer__free(a->rb);
	exec_trace__destroy(a->skel);
	free(a);
	return r;
}

void audit_stop(struct audit *a)
{
	if (!a)
		return;
	atomic_store(&a->stop, true);
	pthread_join(a->thread, NULL);
	ring_buffer__free(a->rb);
	exec_trace__destroy(a->skel);
	free(a);
}

int audit_sandbox_add(struct audit *a, uint64_t cgroup_id, const char *id)
{
	__u32 flags = 0;

	if (!a)
		return 0;
	if (bpf_map__update_elem(a->skel->maps.sandbox_cgroups, &cgroup_id,
				 sizeof(cgroup_id), &flags, sizeof(flags),
				 BPF_ANY) < 0)
		return log_errno(-errno, "tracing sandbox %s", id);
	return 0;
}

int audit_sandbox_remove(struct audit *a, uint64_t cgroup_id)
{
	if (!a)
		return 0;
	if (bpf_map__delete_elem(a->skel->maps.sandbox_cgroups, &cgroup_id,
				 sizeof(cgroup_id), 0) < 0 &&
	    errno != ENOENT)
		return -errno;
	return 0;
}
