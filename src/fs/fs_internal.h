/* SPDX-License-Identifier: Apache-2.0 */
/* Shared by the fs module's files only. */
#ifndef AF_FS_INTERNAL_H
#define AF_FS_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "agentfense/policy.h"

/*
 * A workspace path ("/a/b", "a/b"; "" and "/" are the root) as the policy
 * spells it (out: "/a/b" or "/") and as a lookup below the root spells it
 * (*rel: "a/b" or "."). -EINVAL for traversal, empty components, NUL.
 */
int fs_path_split(const char *path, char out[PATH_MAX], const char **rel);

/* Is any ancestor directory of path `none`? */
bool fs_below_hidden(const struct af_matcher *m, const char *path);
/*
 * The level the sandbox's rules give path, `none` when any ancestor
 * directory is `none` (nothing below a hidden directory exists).
 */
enum af_perm fs_level(const struct af_matcher *m, const char *path,
		      bool is_dir);

/* lstat of rel below dirfd, never through a symbolic link. */
int fs_lstat_beneath(int dirfd, const char *rel, struct stat *st);

#endif
