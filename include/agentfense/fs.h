/* SPDX-License-Identifier: Apache-2.0 */
/*
 * fs: the per-sandbox filesystem view. A sandbox directory holds the
 * copy-on-write delta (overlay upper + work) and the mount point of the
 * sandbox's root. The overlay itself is mounted by the sandbox init inside
 * the sandbox's own mount namespace, so the host's mount table never holds
 * it and a dead sandbox leaves no mount behind.
 */
#ifndef AGENTFENSE_FS_H
#define AGENTFENSE_FS_H

#include <stddef.h>

struct af_matcher;

struct fs_view {
	char *dir;      /* STATE/sandboxes/<id> */
	char *snapshot; /* the immutable codebase tree */
	char *hide;     /* DIR/hide: whiteouts for `none` entries */
	size_t hidden;  /* entries the hide layer removes */
	char *lower;    /* DIR/lower: where init binds the snapshot */
	char *upper;    /* DIR/delta */
	char *work;     /* DIR/work: overlay workdir */
	char *rootmnt;  /* DIR/root: mount point for the sandbox root tmpfs */
};

/*
 * Create (or reuse, for a restart) the sandbox directory for a view over
 * the immutable snapshot directory; with a matcher, also (re)build the
 * hide layer from it.
 */
int fs_view_prepare(const char *state_dir, const char *id,
		    const char *snapshot, const struct af_matcher *m,
		    struct fs_view *v);
/* Whiteouts in hide_dir for every `none` entry of snapshot under m. */
int fs_hide_build(const char *snapshot, const struct af_matcher *m,
		  const char *hide_dir, size_t *hidden);
/* Release the strings only. */
void fs_view_clear(struct fs_view *v);
/* Remove the sandbox directory and its delta (destroy). */
int fs_view_remove(const char *state_dir, const char *id);
/*
 * overlay mount options, relative to v->dir (init mounts from there, so the
 * sandbox's mountinfo shows no host path); -ENAMETOOLONG if too long.
 */
int fs_view_overlay_opts(const struct fs_view *v, char *buf, size_t len);

#endif
