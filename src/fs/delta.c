// SPDX-License-Identifier: Apache-2.0
/*
 * The size cap on a sandbox's delta. The copy-on-write layer lives in an
 * ext4 image of the cap's size (a sparse file, so it costs only what is
 * written), which the sandbox init loop-mounts inside its own mount
 * namespace: a full image gives ENOSPC in the sandbox, and the mount and
 * the loop device (autoclear) go away with the sandbox however it ends,
 * daemon crash included. Formatting takes ~100 ms, so the daemon formats a
 * template once per cap size and each sandbox gets a sparse copy of it
 * (well under a millisecond). The image has no journal: the sandbox's
 * namespace unmounts it cleanly even when the daemon dies, and a host
 * crash loses nothing a journal would have kept consistent that matters
 * for a scratch layer.
 */
#define LOG_MOD "fs"
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/fs.h"
#include "agentfense/log.h"
#include "agentfense/util.h"

#define MIN_DELTA (16ull << 20)

extern char **environ;

static const char *find_mkfs(void)
{
	static const char *const paths[] = { "/usr/sbin/mkfs.ext4",
					     "/sbin/mkfs.ext4" };

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* mkfs.ext4 into path (an existing empty file of the right size). */
static int format(const char *path, uint64_t size)
{
	const char *mkfs = find_mkfs();
	char blocks[32];
	/* No journal, inode tables initialised lazily, nothing reserved. */
	char *argv[] = { "mkfs.ext4",
			 "-q",
			 "-F",
			 "-O",
			 "^has_journal",
			 "-E",
			 "lazy_itable_init=1,nodiscard",
			 "-m",
			 "0",
			 "-b",
			 "4096",
			 "-L",
			 "af-delta",
			 (char *)path,
			 blocks,
			 NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r, status;

	if (!mkfs)
		return log_errno(-ENOENT, "mkfs.ext4 (e2fsprogs) is needed to "
					  "cap sandbox deltas");
	snprintf(blocks, sizeof(blocks), "%" PRIu64, size / 4096);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	r = -posix_spawn(&pid, mkfs, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (r < 0)
		return log_errno(r, "run %s", mkfs);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		log_err("%s %s failed (status %d)", mkfs, path, status);
		return -EIO;
	}
	return 0;
}

int fs_delta_template(const char *state_dir, uint64_t size, char **out)
{
	_cleanup_free_ char *path = NULL, *tmp = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (size < MIN_DELTA)
		return log_errno(-EINVAL,
				 "the delta cap must be at least %llu "
				 "MiB",
				 MIN_DELTA >> 20);
	size &= ~4095ull;
	if (asprintf(&path, "%s/delta-template-%" PRIu64 ".img", state_dir,
		     size) < 0 ||
	    asprintf(&tmp, "%s.tmp", path) < 0)
		return -ENOMEM;
	if (stat(path, &st) == 0 && (uint64_t)st.st_size == size) {
		*out = TAKE_PTR(path);
		return 0;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		return log_errno(-errno, "create %s", tmp);
	r = format(tmp, size);
	if (r == 0 && (fsync(fd) < 0 || rename(tmp, path) < 0))
		r = log_errno(-errno, "install %s", path);
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	log_info("sandbox deltas are capped at %" PRIu64 " MiB (template %s)",
		 size >> 20, path);
	*out = TAKE_PTR(path);
	return 0;
}

/* Copy only the allocated ranges; holes stay holes. */
static int copy_sparse(int in, int out, off_t size)
{
	off_t pos = 0;

	if (ftruncate(out, size) < 0)
		return -errno;
	for (;;) {
		off_t data = lseek(in, pos, SEEK_DATA), hole;
		loff_t src, dst;

		if (data < 0)
			return errno == ENXIO ? 0 : -errno;
		hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			return -errno;
		src = dst = data;
		while (src < hole) {
			ssize_t n = copy_file_range(in, &src, out, &dst,
						    (size_t)(hole - src), 0);

			if (n <= 0)
				return n < 0 ? -errno : -EIO;
		}
		pos = hole;
	}
}

static int copy_template(const char *template, const char *dst)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int in = -1, out = -1;
	struct stat st;
	int r;

	if (asprintf(&tmp, "%s.tmp", dst) < 0)
		return -ENOMEM;
	in = open(template, O_RDONLY | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0)
		return log_errno(-errno, "open %s", template);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0)
		return log_errno(-errno, "create %s", tmp);
	r = copy_sparse(in, out, st.st_size);
	/* Renamed only whole: a restart never finds half an image. */
	if (r == 0 && rename(tmp, dst) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return log_errno(r, "copy %s to %s", template, dst);
	}
	return 0;
}

int fs_delta_attach(struct fs_view *v, const char *template)
{
	_cleanup_free_ char *img = NULL, *mnt = NULL;
	int r;

	if (asprintf(&img, "%s/" FS_DELTA_IMAGE, v->dir) < 0 ||
	    asprintf(&mnt, "%s/" FS_DELTA_MOUNT, v->dir) < 0)
		return -ENOMEM;
	/* A restarted sandbox keeps its image, and so its delta. */
	if (access(img, F_OK) < 0) {
		r = copy_template(template, img);
		if (r < 0)
			return r;
	}
	r = af_mkdir_p(mnt, 0755);
	if (r < 0)
		return log_errno(r, "mkdir %s", mnt);
	v->delta_image = TAKE_PTR(img);
	return 0;
}
