// SPDX-License-Identifier: Apache-2.0
/*
 * The bpf-lsm backend: load bpf/lsm.bpf.c once, attach one program per
 * hook, pin links and maps under AF_LSM_PIN_ROOT, and from then on only add
 * and remove sandboxes in its maps (bpf_lsm_maps.c). Loading and attaching
 * is also the probe: where the kernel refuses, bpf_lsm_open says why.
 * Denials arrive on the audit ring buffer; until the audit module takes
 * them over they are logged at debug level and passed to an optional sink.
 */
#define LOG_MOD "enforce"
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/util.h"
#include "audit_event.h"
#include "bpf_lsm_internal.h"
#include "enforce_internal.h"
#include "lsm.h"
#include "lsm.skel.h"

/* Records are not signalled one by one: the reader drains this often. */
#define AUDIT_DRAIN_MS 20

struct bpf_lsm {
	struct lsm *skel;
	struct lsm_maps maps;
	struct ring_buffer *rb;
	pthread_t thread;
	bool thread_started;
	bool pinned;
	bool mounted_bpffs;
	atomic_bool stop;
	pthread_mutex_t sink_lock;
	bpf_lsm_audit_fn sink;
	void *sink_ud;
	uint64_t drops_seen;
	char pin_dir[PATH_MAX];
};

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* Verifier logs only at debug level; our caller logs once. */
	if (af_log_get_level() < AF_LOG_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Hooks that newer kernels have and older ones do without. */
static bool optional_prog(const struct lsm *skel, const struct bpf_program *p)
{
	return p == skel->progs.af_inode_set_acl ||
	       p == skel->progs.af_inode_remove_acl;
}

/*
 * Keep the programs this kernel has hooks for, and the inode_setattr
 * variant that matches its signature (an idmap argument since 6.3).
 */
static int select_programs(struct lsm *skel, char *reason, size_t len)
{
	struct btf *btf = btf__load_vmlinux_btf();
	struct bpf_program *p;
	char fn[128];
	int r = 0;

	if (!btf) {
		snprintf(reason, len,
			 "the kernel exposes no BTF "
			 "(/sys/kernel/btf/vmlinux)");
		return -EOPNOTSUPP;
	}
	bpf_object__for_each_program(p, skel->obj)
	{
		const char *hook =
			bpf_program__section_name(p) + strlen("lsm/");
		const struct btf_type *t;
		int id;

		snprintf(fn, sizeof(fn), "bpf_lsm_%s", hook);
		id = btf__find_by_name_kind(btf, fn, BTF_KIND_FUNC);
		if (id < 0 && optional_prog(skel, p)) {
			bpf_program__set_autoload(p, false);
			continue;
		}
		if (id < 0) {
			snprintf(reason, len, "the kernel has no LSM hook %s",
				 hook);
			r = -EOPNOTSUPP;
			break;
		}
		if (strcmp(hook, "inode_setattr") != 0)
			continue;
		t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type);
		bpf_program__set_autoload(
			p, (btf_vlen(t) == 3) ==
				   (p == skel->progs.af_inode_setattr_idmap));
	}
	btf__free(btf);
	return r;
}

/* Why the kernel refused: the BPF LSM off is the usual reason. */
static void explain(const char *what, int err, char *reason, size_t len)
{
	_cleanup_free_ char *lsms = NULL;

	if (af_read_file("/sys/kernel/security/lsm", &lsms, NULL) == 0 &&
	    !strstr(lsms, "bpf")) {
		lsms[strcspn(lsms, "\n")] = '\0';
		snprintf(reason, len,
			 "%s: %s; the BPF LSM is not active (LSMs: %.64s): "
			 "boot with lsm=...,bpf",
			 what, strerror(-err), lsms);
		return;
	}
	snprintf(reason, len, "%s: %s%s", what, strerror(-err),
		 err == -EPERM ? " (the kernel refuses BPF LSM programs here; "
				 "is bpf in its lsm= list?)"
			       : "");
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct bpf_lsm *b = ctx;
	const struct af_audit_event *e = data;

	if (len < sizeof(*e))
		return 0;
	log_debug("sandbox cgroup %llu: %s %.*s %s (%s), pid %u uid %u "
		  "comm %.16s",
		  (unsigned long long)e->cgroup_id, lsm_op_name(e->op),
		  (int)sizeof(e->path), e->path,
		  e->decision == AF_AUDIT_DENY ? "denied" : "allowed",
		  e->err ? strerror(e->err) : "ok", e->pid, e->uid, e->comm);
	pthread_mutex_lock(&b->sink_lock);
	if (b->sink)
		b->sink(e, b->sink_ud);
	pthread_mutex_unlock(&b->sink_lock);
	return 0;
}

static void report_drops(struct bpf_lsm *b)
{
	uint64_t n =
		__atomic_load_n(&b->skel->bss->audit_dropped, __ATOMIC_RELAXED);

	if (n == b->drops_seen)
		return;
	log_warn("%llu audit events lost: the ring buffer was full",
		 (unsigned long long)(n - b->drops_seen));
	b->drops_seen = n;
}

static void *consume(void *arg)
{
	struct bpf_lsm *b = arg;

	while (!atomic_load(&b->stop)) {
		int r = ring_buffer__poll(b->rb, AUDIT_DRAIN_MS);

		/* Not woken for every record: drain whatever is there. */
		if (r >= 0)
			r = ring_buffer__consume(b->rb);
		if (r < 0 && r != -EINTR) {
			log_errno(r, "audit event ring buffer");
			break;
		}
		report_drops(b);
	}
	ring_buffer__consume(b->rb);
	return NULL;
}

/* link-PROG for every attached program, map-MAP for the shared maps. */
static int pin_all(struct bpf_lsm *b, char *reason, size_t len)
{
	const struct bpf_object_skeleton *s = b->skel->skeleton;
	struct bpf_map *maps[] = { b->skel->maps.af_sandboxes,
				   b->skel->maps.af_policies,
				   b->skel->maps.audit_events };
	char path[PATH_MAX + 64];
	int r;

	r = lsm_pin_dir(b->pin_dir, sizeof(b->pin_dir));
	if (r < 0) {
		snprintf(reason, len, "naming the pin directory: %s",
			 strerror(-r));
		return r;
	}
	r = lsm_pin_prepare(b->pin_dir, &b->mounted_bpffs, reason, len);
	if (r < 0)
		return r;
	b->pinned = true;
	for (int i = 0; i < s->prog_cnt && !r; i++) {
		if (!*s->progs[i].link)
			continue; /* not loaded on this kernel */
		snprintf(path, sizeof(path), "%s/link-%s", b->pin_dir,
			 s->progs[i].name);
		r = bpf_link__pin(*s->progs[i].link, path);
	}
	for (size_t i = 0; i < ARRAY_SIZE(maps) && !r; i++) {
		snprintf(path, sizeof(path), "%s/map-%s", b->pin_dir,
			 bpf_map__name(maps[i]));
		r = bpf_map__pin(maps[i], path);
	}
	if (r < 0)
		snprintf(reason, len, "pinning %s: %s", path, strerror(-r));
	return r;
}

/* Load, attach, pin, start the consumer: the steps of bpf_lsm_open. */
static int start(struct bpf_lsm *b, int level, char *reason, size_t len)
{
	int r;

	b->skel = lsm__open();
	if (!b->skel) {
		r = -errno;
		snprintf(reason, len, "opening the LSM object: %s",
			 strerror(-r));
		return r;
	}
	b->skel->rodata->sandbox_cg_level = level;
	r = select_programs(b->skel, reason, len);
	if (r < 0)
		return r;
	r = lsm__load(b->skel);
	if (r < 0) {
		explain("loading BPF LSM programs", r, reason, len);
		return r;
	}
	b->maps.sandboxes = bpf_map__fd(b->skel->maps.af_sandboxes);
	b->maps.policies = bpf_map__fd(b->skel->maps.af_policies);
	r = lsm__attach(b->skel);
	if (r < 0) {
		explain("attaching BPF LSM programs", r, reason, len);
		return r;
	}
	r = pin_all(b, reason, len);
	if (r < 0)
		return r;
	b->rb = ring_buffer__new(bpf_map__fd(b->skel->maps.audit_events),
				 on_event, b, NULL);
	if (!b->rb) {
		r = -errno;
		snprintf(reason, len, "audit ring buffer: %s", strerror(-r));
		return r;
	}
	r = -pthread_create(&b->thread, NULL, consume, b);
	if (r < 0) {
		snprintf(reason, len, "audit consumer: %s", strerror(-r));
		return r;
	}
	b->thread_started = true;
	return 0;
}

int bpf_lsm_open(int sandbox_cg_level, struct bpf_lsm **out, char *reason,
		 size_t len)
{
	struct bpf_lsm *b;
	int r;

	*out = NULL;
	if (sandbox_cg_level < 1) {
		snprintf(reason, len, "bad sandbox cgroup level %d",
			 sandbox_cg_level);
		return -EINVAL;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	pthread_mutex_init(&b->sink_lock, NULL);
	libbpf_set_print(libbpf_quiet);
	r = start(b, sandbox_cg_level, reason, len);
	if (r < 0) {
		log_debug("bpf-lsm unavailable: %s", reason);
		bpf_lsm_close(b);
		return r;
	}
	log_info("bpf-lsm: programs attached, pinned in %s", b->pin_dir);
	*out = b;
	return 0;
}

void bpf_lsm_close(struct bpf_lsm *b)
{
	int r;

	if (!b)
		return;
	if (b->thread_started) {
		atomic_store(&b->stop, true);
		pthread_join(b->thread, NULL);
		report_drops(b);
	}
	ring_buffer__free(b->rb);
	if (b->pinned) {
		r = lsm_pin_remove(b->pin_dir);
		if (r < 0)
			log_warn_errno(r, "unpinning %s", b->pin_dir);
	}
	/* Closing the links detaches the programs. */
	lsm__destroy(b->skel);
	if (b->pinned)
		lsm_pin_release(b->mounted_bpffs);
	pthread_mutex_destroy(&b->sink_lock);
	free(b);
}

int bpf_lsm_reconcile(struct bpf_lsm *b)
{
	int r = lsm_pin_reconcile(b->pin_dir);

	if (r < 0)
		return log_errno(r, "looking for stale pins in %s",
				 AF_LSM_PIN_ROOT);
	return 0;
}

int bpf_lsm_install(struct bpf_lsm *b, uint64_t cgroup_id,
		    const struct af_matcher *m, char *err, size_t errlen)
{
	/* err goes to the caller, who decides the sandbox cannot start. */
	return lsm_maps_install(&b->maps, cgroup_id, m, err, errlen);
}

int bpf_lsm_set_workspace(struct bpf_lsm *b, uint64_t cgroup_id, uint64_t dev)
{
	int r = lsm_maps_set_workspace(&b->maps, cgroup_id, dev);

	if (r < 0)
		return log_errno(r,
				 "bpf-lsm: workspace %llu:%llu of sandbox "
				 "cgroup %llu",
				 (unsigned long long)major(dev),
				 (unsigned long long)minor(dev),
				 (unsigned long long)cgroup_id);
	return 0;
}

int bpf_lsm_remove(struct bpf_lsm *b, uint64_t cgroup_id)
{
	int r = lsm_maps_remove(&b->maps, cgroup_id);

	if (r < 0)
		return log_errno(r, "bpf-lsm: removing sandbox cgroup %llu",
				 (unsigned long long)cgroup_id);
	return 0;
}

int bpf_lsm_set_audit_mode(struct bpf_lsm *b, uint64_t cgroup_id, uint32_t mode)
{
	return lsm_maps_set_audit_mode(&b->maps, cgroup_id, mode);
}

uint64_t bpf_lsm_audit_dropped(const struct bpf_lsm *b)
{
	return __atomic_load_n(&b->skel->bss->audit_dropped, __ATOMIC_RELAXED);
}

int bpf_lsm_sandbox_dropped(const struct bpf_lsm *b, uint64_t cgroup_id,
			    uint64_t *out)
{
	return lsm_maps_audit_dropped(&b->maps, cgroup_id, out);
}

void bpf_lsm_set_audit_sink(struct bpf_lsm *b, bpf_lsm_audit_fn fn, void *ud)
{
	pthread_mutex_lock(&b->sink_lock);
	b->sink = fn;
	b->sink_ud = ud;
	pthread_mutex_unlock(&b->sink_lock);
}
