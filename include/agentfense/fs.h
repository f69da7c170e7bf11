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
#include <stdint.h>

/* In DIR: the capped delta's image, and where init mounts it. */
#define FS_DELTA_IMAGE "delta.img"
#define FS_DELTA_MOUNT "dmnt"

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
	/*
	 * DIR/delta.img when the delta is capped: then upper and work live
	 * in that image, mounted by init at DIR/dmnt, not in DIR/delta.
	 */
	char *delta_image;
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
/*
 * The ext4 image every capped delta starts from, made once per size in
 * state_dir (needs mkfs.ext4); *out is its path.
 */
int fs_delta_template(const char *state_dir, uint64_t size, char **out);
/* Give the view a capped delta: a copy of template unless one exists. */
int fs_delta_attach(struct fs_view *v, const char *template);
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
