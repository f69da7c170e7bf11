/* SPDX-License-Identifier: Apache-2.0 */
/* Backends behind include/agentfense/enforce.h. */
#ifndef AF_ENFORCE_INTERNAL_H
#define AF_ENFORCE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

struct af_matcher;

/*
 * bpf-lsm backend (bpf_lsm.c). bpf_lsm_open loads, attaches and pins the
 * LSM programs (trial load + attach is the probe): -EPERM/-EOPNOTSUPP/...
 * with *reason set when LSM programs cannot be used here.
 */
struct bpf_lsm;
int bpf_lsm_open(int sandbox_cg_level, struct bpf_lsm **out, char *reason,
		 size_t len);
/* Detach, unpin, free. */
void bpf_lsm_close(struct bpf_lsm *b);
/* Remove pins and map entries an earlier daemon left. */
int bpf_lsm_reconcile(struct bpf_lsm *b);
/* Install / remove one sandbox's matcher, keyed by its cgroup id. */
int bpf_lsm_install(struct bpf_lsm *b, uint64_t cgroup_id,
		    const struct af_matcher *m, char *err, size_t errlen);
/* dev: st_dev of the sandbox's /workspace as stat(2) reports it. */
int bpf_lsm_set_workspace(struct bpf_lsm *b, uint64_t cgroup_id, uint64_t dev);
int bpf_lsm_remove(struct bpf_lsm *b, uint64_t cgroup_id);
/*
 * Audit events (bpf/audit_event.h) are logged at debug level and, when a
 * sink is set, passed to it on the consumer thread (NULL: none).
 */
struct af_audit_event;
typedef void (*bpf_lsm_audit_fn)(const struct af_audit_event *e, void *ud);
void bpf_lsm_set_audit_sink(struct bpf_lsm *b, bpf_lsm_audit_fn fn, void *ud);
int bpf_lsm_set_audit_mode(struct bpf_lsm *b, uint64_t cgroup_id,
			   uint32_t mode);
uint64_t bpf_lsm_audit_dropped(const struct bpf_lsm *b);
int bpf_lsm_sandbox_dropped(const struct bpf_lsm *b, uint64_t cgroup_id,
			    uint64_t *out);

/* landlock backend (landlock.c): the ABI version, 0 if unavailable. */
int landlock_probe_abi(void);
int landlock_plan(int abi, const struct af_matcher *m, const char *snapshot,
		  int *memfd, size_t *n_rules, char *err, size_t errlen);

#endif
