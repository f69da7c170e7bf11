// SPDX-License-Identifier: Apache-2.0
/*
 * The trace source: load bpf/audit_trace.bpf.c, attach its tracepoint
 * programs, pin programs and maps for afctl (AF_LSM_PIN_ROOT/audit-PID-
 * START; programs, not links: the tracepoints detach when the daemon
 * exits), and drain the ring buffer on a thread of its own.
 *
 * The programs are attached only while a sandbox is traced: a tracepoint
 * on sys_exit puts every system call of every task on the kernel's slow
 * path, which the host should not pay when no sandbox runs.
 *
 * The programs wake the reader only when the buffer fills up; otherwise
 * the thread drains it every DRAIN_MS (an event reaches its log within
 * that, plus the log's flush period).
 */
#define LOG_MOD "audit"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "agentfense/cleanup.h"
#include "agentfense/enforce.h"
#include "agentfense/log.h"
#include "audit_event.h"
#include "audit_internal.h"
#include "audit_trace.h"
#include "audit_trace.skel.h"

#define DRAIN_MS 20

struct trace_src {
	struct audit_trace *skel;
	struct ring_buffer *rb;
	trace_event_fn fn;
	void *ud;
	pthread_t thread;
	bool thread_started, pinned, mounted_bpffs;
	atomic_bool stop;
	pthread_mutex_t lock; /* tracked, and attaching */
	unsigned tracked;     /* sandboxes in the map: attached when > 0 */
	char pin_dir[PATH_MAX];
};

static int on_record(void *ctx, void *data, size_t len)
{
	struct trace_src *t = ctx;

	if (len >= AF_AUDIT_EVENT_SIZE(0))
		t->fn(t->ud, data, len);
	return 0;
}

static void *drain(void *arg)
{
	struct trace_src *t = arg;

	while (!atomic_load(&t->stop)) {
		int r = ring_buffer__poll(t->rb, DRAIN_MS);

		/* Not woken for every record: drain whatever is there. */
		if (r >= 0)
			r = ring_buffer__consume(t->rb);
		if (r < 0 && r != -EINTR) {
			log_errno(r, "audit ring buffer");
			break;
		}
	}
	ring_buffer__consume(t->rb);
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

/* prog-NAME for every program, map-NAME for the shared maps. */
static int pin_all(struct trace_src *t, char *why, size_t len)
{
	struct bpf_program *p;
	struct bpf_map *maps[] = { t->skel->maps.audit_sandboxes,
				   t->skel->maps.audit_trace_rb };
	char path[PATH_MAX + 64];
	int r = enf_pin_dir(AF_AUDIT_PIN_PREFIX, t->pin_dir,
			    sizeof(t->pin_dir));

	if (r == 0)
		r = enf_pin_prepare(t->pin_dir, &t->mounted_bpffs, why, len);
	if (r < 0)
		return r;
	t->pinned = true;
	bpf_object__for_each_program(p, t->skel->obj)
	{
		snprintf(path, sizeof(path), "%s/prog-%s", t->pin_dir,
			 bpf_program__name(p));
		r = bpf_program__pin(p, path);
		if (r < 0)
			break;
	}
	for (size_t i = 0; i < ARRAY_SIZE(maps) && r == 0; i++) {
		snprintf(path, sizeof(path), "%s/map-%s", t->pin_dir,
			 bpf_map__name(maps[i]));
		r = bpf_map__pin(maps[i], path);
	}
	if (r < 0)
		snprintf(why, len, "pinning %s: %s", path, strerror(-r));
	return r;
}

static int start(struct trace_src *t, int level, uint32_t rb_bytes, char *why,
		 size_t len)
{
	int r;

	t->skel = audit_trace__open();
	if (!t->skel) {
		r = -errno;
		snprintf(why, len, "opening the trace object: %s",
			 strerror(-r));
		return r;
	}
	t->skel->rodata->sandbox_cg_level = level;
	t->skel->rodata->wakeup_bytes = rb_bytes / 8;
	r = bpf_map__set_max_entries(t->skel->maps.audit_trace_rb, rb_bytes);
	if (r == 0)
		r = audit_trace__load(t->skel);
	if (r < 0) {
		snprintf(why, len, "loading the trace programs: %s%s",
			 strerror(-r),
			 r == -EPERM ? " (are BPF programs allowed here?)"
				     : "");
		return r;
	}
	/* The probe: attaching works here. Then idle until a sandbox runs. */
	r = audit_trace__attach(t->skel);
	if (r < 0) {
		snprintf(why, len,
			 "attaching to sys_exit and sched_process_exec: "
			 "%s",
			 strerror(-r));
		return r;
	}
	audit_trace__detach(t->skel);
	r = pin_all(t, why, len);
	if (r < 0)
		return r;
	enf_pin_reconcile(AF_AUDIT_PIN_PREFIX, t->pin_dir);
	t->rb = ring_buffer__new(bpf_map__fd(t->skel->maps.audit_trace_rb),
				 on_record, t, NULL);
	if (!t->rb) {
		r = -errno;
		snprintf(why, len, "audit ring buffer: %s", strerror(-r));
		return r;
	}
	r = -pthread_create(&t->thread, NULL, drain, t);
	if (r < 0) {
		snprintf(why, len, "audit consumer: %s", strerror(-r));
		return r;
	}
	t->thread_started = true;
	return 0;
}

int trace_open(int cg_level, uint32_t ringbuf_bytes, trace_event_fn fn,
	       void *ud, struct trace_src **out, char *why, size_t len)
{
	struct trace_src *t;
	int r;

	*out = NULL;
	if (cg_level < 1) {
		snprintf(why, len,
			 "the depth of sandbox cgroups is unknown "
			 "(the daemon runs in a cgroup namespace)");
		return -ENOTSUP;
	}
	if (ringbuf_bytes < 4096 || (ringbuf_bytes & (ringbuf_bytes - 1))) {
		snprintf(why, len,
			 "ring buffer size %u is not a power of two "
			 "of at least 4096",
			 ringbuf_bytes);
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->fn = fn;
	t->ud = ud;
	pthread_mutex_init(&t->lock, NULL);
	libbpf_set_print(libbpf_quiet);
	r = start(t, cg_level, ringbuf_bytes, why, len);
	if (r < 0) {
		trace_close(t);
		return r;
	}
	*out = t;
	return 0;
}

void trace_close(struct trace_src *t)
{
	int r;

	if (!t)
		return;
	if (t->thread_started) {
		atomic_store(&t->stop, true);
		pthread_join(t->thread, NULL);
	}
	ring_buffer__free(t->rb);
	if (t->pinned) {
		r = enf_pin_remove(t->pin_dir);
		if (r < 0)
			log_warn_errno(r, "unpinning %s", t->pin_dir);
	}
	audit_trace__destroy(t->skel);
	if (t->pinned)
		enf_pin_release(t->mounted_bpffs);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* The kernel's dev_t (12 bits of major, 20 of minor) of a stat st_dev. */
static uint64_t kernel_dev(uint64_t st_dev)
{
	uint64_t maj = major(st_dev), min = minor(st_dev);

	if (maj >= (1u << 12) || min >= (1u << 20))
		return 0;
	return maj << 20 | min;
}

int trace_sandbox_add(struct trace_src *t, uint64_t cgroup_id, uint64_t st_dev,
		      uint32_t mode)
{
	struct af_audit_sandbox v = { .ws_dev = kernel_dev(st_dev),
				      .mode = mode };

	int r = 0;

	if (!v.ws_dev)
		return -EINVAL;
	pthread_mutex_lock(&t->lock);
	/* Attached first, so that the sandbox's first operation is seen. */
	if (t->tracked == 0)
		r = audit_trace__attach(t->skel);
	if (r == 0 && bpf_map__update_elem(t->skel->maps.audit_sandboxes,
					   &cgroup_id, sizeof(cgroup_id), &v,
					   sizeof(v), BPF_NOEXIST) < 0)
		r = -errno;
	if (r == 0) {
		t->tracked++;
		if (mode != AF_AUDIT_MODE_DENIED)
			__atomic_fetch_add(&t->skel->bss->allowed_wanted, 1,
					   __ATOMIC_SEQ_CST);
	} else if (t->tracked == 0) {
		audit_trace__detach(t->skel);
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

int trace_sandbox_remove(struct trace_src *t, uint64_t cgroup_id)
{
	struct af_audit_sandbox v;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	if (bpf_map__lookup_and_delete_elem(t->skel->maps.audit_sandboxes,
					    &cgroup_id, sizeof(cgroup_id), &v,
					    sizeof(v), 0) < 0) {
		r = -errno;
	} else {
		/* Voids the programs' per-task copies of the entry. */
		__atomic_fetch_add(&t->skel->bss->sandboxes_gen, 1,
				   __ATOMIC_SEQ_CST);
		if (v.mode != AF_AUDIT_MODE_DENIED)
			__atomic_fetch_sub(&t->skel->bss->allowed_wanted, 1,
					   __ATOMIC_SEQ_CST);
		if (--t->tracked == 0)
			audit_trace__detach(t->skel);
	}
	pthread_mutex_unlock(&t->lock);
	return r == -ENOENT ? 0 : r;
}

int trace_sandbox_dropped(struct trace_src *t, uint64_t cgroup_id,
			  uint64_t *out)
{
	struct af_audit_sandbox v;

	if (bpf_map__lookup_elem(t->skel->maps.audit_sandboxes, &cgroup_id,
				 sizeof(cgroup_id), &v, sizeof(v), 0) < 0)
		return -errno;
	*out = v.dropped;
	return 0;
}

uint64_t trace_dropped(const struct trace_src *t)
{
	return __atomic_load_n(&t->skel->bss->dropped, __ATOMIC_RELAXED);
}
