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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* In DIR: the capped delta's image, and where init mounts it. */
#define FS_DELTA_IMAGE "delta.img"
#define FS_DELTA_MOUNT "dmnt"

struct af_matcher;

struct fs_view {
	char *dir;	/* STATE/sandboxes/<id> */
	char *snapshot; /* the immutable codebase tree */
	char *hide;	/* DIR/hide: whiteouts for `none` entries */
	size_t hidden;	/* entries the hide layer removes */
	char *lower;	/* DIR/lower: where init binds the snapshot */
	char *upper;	/* DIR/delta */
	char *work;	/* DIR/work: overlay workdir */
	char *rootmnt;	/* DIR/root: mount point for the sandbox root tmpfs */
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
int fs_view_prepare(const char *state_dir, const char *id, const char *snapshot,
		    const struct af_matcher *m, struct fs_view *v);
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

/*
 * openat2 below dirfd: never out of it, through a symbolic link (the last
 * component included) or onto another mount. O_CLOEXEC is added.
 */
int fs_open_beneath(int dirfd, const char *rel, int flags);

/*
 * Server-side access to a running sandbox's /workspace (view_fd, from the
 * runtime) under its compiled rules, as its own processes would have it:
 * a path that is `none`, or below a `none` directory, does not exist.
 * Paths are workspace paths ("/src/a.py"; "" or "/" is the root).
 */
struct fs_entry {
	char *path;	  /* "/src/a.py" */
	const char *name; /* last component, inside path */
	bool is_dir, is_symlink;
	int64_t size;
	uint32_t mode;
	int64_t mtime_ns;
	int level; /* enum af_perm */
};

/*
 * A file's content: -ENOENT (missing or hidden), -EACCES (`view`: listed,
 * not read), -EISDIR, -ELOOP (a symbolic link at or on the way to path:
 * never followed), -EINVAL (a bad path or a special file). *fd is O_RDONLY.
 */
int fs_view_open(int view_fd, const struct af_matcher *m, const char *path,
		 int *fd);
/*
 * A directory's visible entries (all below it when recursive, in path
 * order), or the entry itself for anything else. -E2BIG past max entries.
 */
int fs_view_list(int view_fd, const struct af_matcher *m, const char *path,
		 bool recursive, size_t max, struct fs_entry **out, size_t *n);
void fs_entries_free(struct fs_entry *e, size_t n);

/*
 * The sandbox's changes against its snapshot: found through the delta
 * (upper_fd: whiteouts, opaque and redirected directories mark whole
 * regions), decided by comparing what the sandbox sees (view_fd) with the
 * snapshot (snap_fd). Entries hidden from the sandbox are never reported as
 * deleted. In path order.
 */
enum fs_change_kind { FS_ADDED = 1, FS_MODIFIED, FS_DELETED };

struct fs_change {
	char *path; /* "/a/b" */
	enum fs_change_kind kind;
	bool is_dir;
	bool is_other; /* a symbolic link or special file */
	int64_t size;  /* the sandbox's version */
	uint32_t mode;
	int level; /* enum af_perm of the path */
	/* Identity of the sandbox's version ("-" when deleted). */
	char view_id[96];
};

int fs_changes(int upper_fd, int view_fd, int snap_fd,
	       const struct af_matcher *m, size_t max, struct fs_change **out,
	       size_t *n);
void fs_changes_free(struct fs_change *c, size_t n);

#endif
