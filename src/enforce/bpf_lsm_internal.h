/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Pieces of the bpf-lsm backend (bpf_lsm.c), apart so that tests can run
 * them against the maps of bpf/lsm_test.bpf.c, which share the layout of
 * bpf/lsm.bpf.c's.
 */
#ifndef AF_ENFORCE_BPF_LSM_INTERNAL_H
#define AF_ENFORCE_BPF_LSM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentfense/enforce.h"
#include "lsm.h"

struct af_matcher;

/* The per-sandbox maps (bpf/lsm.h): af_sandboxes and af_policies. */
struct lsm_maps {
	int sandboxes;
	int policies;
};

/*
 * Install a sandbox's matcher: its blob in a fresh, frozen inner map, then
 * the sandbox entry with no workspace yet. A cgroup id that already has
 * either is -EEXIST; on any failure nothing is left behind.
 */
int lsm_maps_install(const struct lsm_maps *mp, uint64_t cgroup_id,
		     const struct af_matcher *m, char *err, size_t errlen);
/* st_dev as stat(2) reports it for the workspace root. */
int lsm_maps_set_workspace(const struct lsm_maps *mp, uint64_t cgroup_id,
			   uint64_t st_dev);
/* The sandbox entry first (that one delete ends enforcement), then rules. */
int lsm_maps_remove(const struct lsm_maps *mp, uint64_t cgroup_id);
/* The kernel's dev_t (major << 20 | minor) of a stat(2) st_dev; 0 if none. */
uint64_t lsm_kernel_dev(uint64_t st_dev);

/* "open-read", "rename-src", ... for enum af_lsm_op; "?" if unknown. */
const char *lsm_op_name(unsigned int op);
/* The sandbox's audit mode (enum af_audit_mode) and its lost events. */
int lsm_maps_set_audit_mode(const struct lsm_maps *mp, uint64_t cgroup_id,
			    uint32_t mode);
int lsm_maps_audit_dropped(const struct lsm_maps *mp, uint64_t cgroup_id,
			   uint64_t *out);

/*
 * Pins: AF_LSM_PIN_ROOT/bpf-lsm-<pid>-<start time> per daemon instance,
 * so a new daemon never collides with what a crashed one left.
 *
 * lsm_pin_dir: this process's directory name. lsm_pin_prepare: make sure
 * a bpffs is mounted at AF_LSM_BPFFS (*mounted says we mounted it) and
 * create dir; err says which step failed. lsm_pin_remove: unpin everything in
 * dir and remove it. lsm_pin_release: remove the root if empty, unmount the
 * bpffs if we mounted it and nothing else is pinned there.
 */
static inline int lsm_pin_dir(char *buf, size_t len)
{
	return enf_pin_dir(AF_LSM_PIN_PREFIX, buf, len);
}
static inline int lsm_pin_prepare(const char *dir, bool *mounted, char *err,
				  size_t len)
{
	return enf_pin_prepare(dir, mounted, err, len);
}
static inline int lsm_pin_remove(const char *dir)
{
	return enf_pin_remove(dir);
}
static inline void lsm_pin_release(bool mounted)
{
	enf_pin_release(mounted);
}
/* Remove the directories of daemon instances that are gone; their count. */
static inline int lsm_pin_reconcile(const char *own_dir)
{
	return enf_pin_reconcile(AF_LSM_PIN_PREFIX, own_dir);
}

#endif
