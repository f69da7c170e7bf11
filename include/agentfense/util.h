/* SPDX-License-Identifier: Apache-2.0 */
/* Small helpers shared by the daemon's modules (src/common). */
#ifndef AGENTFENSE_UTIL_H
#define AGENTFENSE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* IDs are PREFIX + 16 lowercase hex characters from getrandom(). */
#define AF_ID_HEX_LEN 16
#define AF_ID_MAX     32
int af_id_new(const char *prefix, char *out, size_t outlen);
bool af_id_valid(const char *prefix, const char *id);

/*
 * Validate a path relative to a tree root as the wire carries it
 * ("src/main.py" or "/src/main.py"). Rejects empty paths, NUL, "." and ".."
 * components, empty components ("a//b"), and paths longer than PATH_MAX.
 * On success writes the normalised form without a leading '/' to out.
 * Returns 0 or -EINVAL with *why set to a static reason.
 */
int af_path_normalize(const char *path, size_t len, char *out, size_t outlen,
		      const char **why);

/* Time in nanoseconds: CLOCK_MONOTONIC and CLOCK_REALTIME. */
uint64_t af_now_mono_ns(void);
uint64_t af_now_real_ns(void);

/* mkdir -p with mode; existing directories are fine. */
int af_mkdir_p(const char *path, mode_t mode);
/*
 * Remove a tree below dirfd/name without following symlinks or crossing
 * mount points. A missing entry is success.
 */
int af_rm_rf_at(int dirfd, const char *name);
int af_rm_rf(const char *path);

/* Full-length I/O that retries on EINTR and short counts. */
ssize_t af_read_full(int fd, void *buf, size_t len);
int af_write_full(int fd, const void *buf, size_t len);
/*
 * Do two open files hold the same bytes (read from their current offsets
 * to the end)? 0 with *same set, or a negative errno.
 */
int af_fd_same_content(int a, int b, bool *same);
/* Read a small file (< 64 KiB) into a NUL-terminated malloc'd buffer. */
int af_read_file(const char *path, char **out, size_t *len);
/* Write a string to a file (cgroup knobs); O_WRONLY, no create. */
int af_write_file_at(int dirfd, const char *name, const char *s);

/*
 * Walk the tree below dirfd (not following symlinks, not crossing mounts),
 * parents before children, entries of a directory in name order. path is
 * the entry's path from the root with a leading '/' ("/src/a.py"). cb
 * returns 0 to go on (and descend into a directory), AF_WALK_SKIP to not
 * descend, or a negative errno to stop the walk with that error.
 */
#define AF_WALK_SKIP	  1
#define AF_WALK_MAX_DEPTH 4096
struct stat;
typedef int (*af_walk_fn)(void *ud, int parent_fd, const char *name,
			  const char *path, const struct stat *st);
int af_walk(int dirfd, af_walk_fn cb, void *ud);
/*
 * The same walk for callbacks that look at the file type only: st has just
 * st_mode's type bits, taken from the directory entries (a stat per entry
 * only where the file system does not give the type).
 */
int af_walk_types(int dirfd, af_walk_fn cb, void *ud);

/* Copy with truncation (always NUL-terminated); returns strlen(src). */
size_t af_strlcpy(char *dst, const char *src, size_t size);

/* Lowercase hex encoding; out must have 2*len+1 bytes. */
void af_hex(const unsigned char *in, size_t len, char *out);

#endif
