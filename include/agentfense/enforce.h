/* SPDX-License-Identifier: Apache-2.0 */
/*
 * enforce: the kernel enforcers of a sandbox's compiled policy.
 *
 *  bpf-lsm   LSM programs attached once, pinned under /sys/fs/bpf/agentfense,
 *            deciding every file operation of a sandboxed task from the
 *            sandbox's compiled matcher, found by cgroup id (exact
 *            semantics, files created later included).
 *  landlock  the policy evaluated over the sandbox's tree at start and
 *            turned into a Landlock ruleset that init applies to every
 *            command before exec (fallback where LSM programs cannot load).
 *
 * Both are paired with the hide layer (fs), which removes `none` entries
 * from the sandbox's view. Selection (--enforcer=auto|bpf-lsm|landlock)
 * probes by trial load and attach and says why it chose what it chose.
 */
#ifndef AGENTFENSE_ENFORCE_H
#define AGENTFENSE_ENFORCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct af_matcher;
struct enf_ctx;

enum enf_mode { ENF_MODE_AUTO = 0, ENF_MODE_BPF_LSM, ENF_MODE_LANDLOCK };
enum enf_kind { ENF_NONE = 0, ENF_BPF_LSM, ENF_LANDLOCK };

int enf_mode_parse(const char *s, enum enf_mode *out);

/*
 * Probe and select. With an explicit mode that is not available: -ENOTSUP
 * and *reason says why (the daemon then refuses to start). With auto and
 * nothing available: ENF_NONE, and sandboxes whose policy needs an
 * enforcer are refused at start.
 */
int enf_ctx_new(enum enf_mode mode, int sandbox_cg_level, struct enf_ctx **out,
		char *reason, size_t len);
void enf_ctx_free(struct enf_ctx *e);
enum enf_kind enf_kind(const struct enf_ctx *e);
const char *
enf_name(const struct enf_ctx *e); /* "bpf-lsm", "landlock", "none" */
const char *enf_reason(const struct enf_ctx *e); /* why it was chosen */
int enf_landlock_abi(const struct enf_ctx *e);	 /* 0 when unavailable */
/* One line per probed feature, for health / `afctl feature probe`. */
const char *enf_probe_report(const struct enf_ctx *e);
/* Remove what an earlier daemon left (pinned programs, map entries). */
int enf_reconcile(struct enf_ctx *e);

/* What a sandbox's init must apply, prepared by enf_sandbox_prepare. */
struct enf_plan {
	int landlock_fd; /* memfd with the ruleset description, or -1 */
	size_t landlock_rules;
};

/*
 * Before the sandbox's first process runs. landlock: evaluate the matcher
 * over the sandbox's tree (snapshot, minus hidden entries) and write the
 * ruleset description for init (format: src/enforce/landlock_plan.h).
 * bpf-lsm: install the matcher for cgroup_id (fail closed: an error means
 * the sandbox must not start).
 */
int enf_sandbox_prepare(struct enf_ctx *e, const struct af_matcher *m,
			const char *snapshot, uint64_t cgroup_id,
			struct enf_plan *plan, char *err, size_t errlen);
/*
 * The sandbox's /workspace overlay is mounted (init reported READY with its
 * device number): bpf-lsm scopes its checks to that filesystem.
 */
int enf_sandbox_set_workspace(struct enf_ctx *e, uint64_t cgroup_id,
			      uint64_t dev);
/* After the sandbox stopped: remove its state (bpf-lsm map entries). */
int enf_sandbox_release(struct enf_ctx *e, uint64_t cgroup_id);
void enf_plan_clear(struct enf_plan *plan);

/*
 * Audit: bpf-lsm reports its own decisions (bpf/audit_event.h records on
 * its ring buffer); the other enforcers do not, and the audit module has a
 * source of its own for them.
 */
struct af_audit_event;
typedef void (*enf_audit_fn)(const struct af_audit_event *e, void *ud);
bool enf_reports_audit(const struct enf_ctx *e);
/* fn runs on the enforcer's consumer thread; NULL stops it. */
void enf_set_audit_sink(struct enf_ctx *e, enf_audit_fn fn, void *ud);
/* Which allowed operations a sandbox reports too (enum af_audit_mode). */
int enf_sandbox_set_audit_mode(struct enf_ctx *e, uint64_t cgroup_id,
			       unsigned int mode);
/* Events lost to a full ring buffer: in all, and one running sandbox's. */
uint64_t enf_audit_dropped(const struct enf_ctx *e);
int enf_sandbox_audit_dropped(const struct enf_ctx *e, uint64_t cgroup_id,
			      uint64_t *out);
/* "open-read", "rename-src", ... for an event's op; "?" if unknown. */
const char *enf_op_name(unsigned int op);

/*
 * Pins of the daemon's BPF objects: AF_LSM_PIN_ROOT/<prefix><pid>-<start
 * time> per daemon instance and user ("bpf-lsm-", "audit-"), so a new
 * daemon never collides with what a crashed one left. enf_pin_prepare
 * mounts a bpffs at /sys/fs/bpf if there is none (*mounted says so) and
 * creates dir; enf_pin_remove unpins everything in dir and removes it;
 * enf_pin_release removes the root if empty and unmounts the bpffs if we
 * mounted it and nothing is left; enf_pin_reconcile removes the
 * directories of instances that are gone and returns their count.
 */
int enf_pin_dir(const char *prefix, char *buf, size_t len);
int enf_pin_prepare(const char *dir, bool *mounted, char *err, size_t len);
int enf_pin_remove(const char *dir);
void enf_pin_release(bool mounted);
int enf_pin_reconcile(const char *prefix, const char *own_dir);

#endif
