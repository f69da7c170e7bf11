// SPDX-License-Identifier: Apache-2.0
/*
 * The sandbox's root (ARCHITECTURE §7): a tmpfs holding read-only binds of
 * the host's /usr, /bin, /lib*, a generated /etc, /workspace (the overlay),
 * a private /tmp, a fresh /proc with sensitive entries masked, and a
 * minimal /dev. Runs in agentfense-init, single-threaded, in a fresh mount
 * namespace; nothing here is visible on the host.
 */
#include "init.h"
#include "../initproto.h"
#include "agentfense/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define RO_FLAGS (MS_RDONLY | MS_NOSUID | MS_NODEV)

/* Paths here are short (the root is a state-dir path); overflow is fatal. */
#define PATHF(buf, ...)                                           \
	do {                                                      \
		int _n = snprintf(buf, sizeof(buf), __VA_ARGS__); \
		if (_n < 0 || (size_t)_n >= sizeof(buf)) {        \
			errno = ENAMETOOLONG;                     \
			return fail(err, len, "path too long");   \
		}                                                 \
	} while (0)

static int fail(char *err, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t len, const char *fmt, ...)
{
	int e = errno;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
	n = strlen(err);
	if (e && n < len)
		snprintf(err + n, len - n, ": %s", strerror(e));
	return e ? -e : -EIO;
}

/* Make a bind mount (and everything below it) read-only. */
static int make_ro_recursive(const char *path)
{
	struct mount_attr attr = {
		.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
			    MOUNT_ATTR_NODEV,
	};

	return (int)syscall(SYS_mount_setattr, AT_FDCWD, path,
			    AT_RECURSIVE | AT_SYMLINK_NOFOLLOW, &attr,
			    sizeof(attr));
}

static int bind_ro(const char *src, const char *dst, bool dir, char *err,
		   size_t len)
{
	if (dir ? mkdir(dst, 0755) < 0 && errno != EEXIST
		: mknod(dst, S_IFREG | 0644, 0) < 0 && errno != EEXIST)
		return fail(err, len, "create %s", dst);
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return fail(err, len, "bind %s", src);
	if (make_ro_recursive(dst) < 0)
		return fail(err, len, "read-only %s", dst);
	return 0;
}

/* /usr, /bin, /sbin, /lib*: symlinks copied (merged /usr), dirs bound ro. */
static int host_dirs(const char *root, char *err, size_t len)
{
	static const char *const dirs[] = { "usr",   "bin",   "sbin",  "lib",
					    "lib32", "lib64", "libx32" };
	char src[PATH_MAX], dst[PATH_MAX], target[PATH_MAX];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		struct stat st;
		ssize_t n;
		int r;

		PATHF(src, "/%s", dirs[i]);
		PATHF(dst, "%s/%s", root, dirs[i]);
		if (lstat(src, &st) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			n = readlink(src, target, sizeof(target) - 1);
			if (n < 0)
				return fail(err, len, "readlink %s", src);
			target[n] = '\0';
			if (symlink(target, dst) < 0)
				return fail(err, len, "symlink %s", dst);
		} else if (S_ISDIR(st.st_mode)) {
			r = bind_ro(src, dst, true, err, len);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int write_text(const char *root, const char *name, const char *text,
		      char *err, size_t len)
{
	char path[PATH_MAX];
	int fd;
	ssize_t n;

	PATHF(path, "%s/%s", root, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return fail(err, len, "create %s", path);
	n = write(fd, text, strlen(text));
	close(fd);
	if (n != (ssize_t)strlen(text))
		return fail(err, len, "write %s", path);
	return 0;
}

/* A small generated /etc plus read-only pieces the host's tools need. */
static int etc_setup(const char *root, const char *hostname, char *err,
		     size_t len)
{
	char etc[PATH_MAX], path[PATH_MAX], hosts[512], hn[256];
	static const char passwd[] =
		"root:x:0:0:root:/tmp:/bin/sh\n"
		"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n";
	static const char group[] = "root:x:0:\nnogroup:x:65534:\n";
	static const char nsswitch[] = "passwd: files\ngroup: files\n"
				       "hosts: files\n";
	int r;

	PATHF(etc, "%s/etc", root);
	if (mkdir(etc, 0755) < 0)
		return fail(err, len, "mkdir %s", etc);
	snprintf(hosts, sizeof(hosts),
		 "127.0.0.1\tlocalhost %s\n::1\tlocalhost\n", hostname);
	snprintf(hn, sizeof(hn), "%s\n", hostname);
	if ((r = write_text(etc, "passwd", passwd, err, len)) < 0 ||
	    (r = write_text(etc, "group", group, err, len)) < 0 ||
	    (r = write_text(etc, "nsswitch.conf", nsswitch, err, len)) < 0 ||
	    (r = write_text(etc, "hosts", hosts, err, len)) < 0 ||
	    (r = write_text(etc, "hostname", hn, err, len)) < 0 ||
	    (r = write_text(etc, "resolv.conf", "", err, len)) < 0)
		return r;
	/* Debian routes many commands through /etc/alternatives symlinks. */
	static const char *const binds[] = { "alternatives", "ld.so.cache",
					     "ld.so.conf", "ld.so.conf.d",
					     "localtime" };

	for (size_t i = 0; i < sizeof(binds) / sizeof(binds[0]); i++) {
		struct stat st;
		char src[PATH_MAX];

		PATHF(src, "/etc/%s", binds[i]);
		if (stat(src, &st) < 0)
			continue;
		PATHF(path, "%s/%s", etc, binds[i]);
		r = bind_ro(src, path, S_ISDIR(st.st_mode), err, len);
		if (r < 0)
			return r;
	}
	PATHF(path, "%s/os-release", etc);
	if (symlink("../usr/lib/os-release", path) < 0)
		return fail(err, len, "symlink %s", path);
	return 0;
}

static int dev_setup(const char *root, char *err, size_t len)
{
	static const char *const nodes[] = { "null",   "zero",	  "full",
					     "random", "urandom", "tty" };
	static const char *const links[][2] = {
		{ "fd", "/proc/self/fd" },
		{ "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" },
		{ "stderr", "/proc/self/fd/2" },
	};
	char dev[PATH_MAX], path[PATH_MAX], src[64];

	PATHF(dev, "%s/dev", root);
	if (mkdir(dev, 0755) < 0 ||
	    mount("tmpfs", dev, "tmpfs", MS_NOSUID | MS_NOEXEC,
		  "mode=0755,size=64k,nr_inodes=64") < 0)
		return fail(err, len, "mount %s", dev);
	for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		PATHF(src, "/dev/%s", nodes[i]);
		PATHF(path, "%s/%s", dev, nodes[i]);
		if (mknod(path, S_IFREG | 0666, 0) < 0 ||
		    mount(src, path, NULL, MS_BIND, NULL) < 0)
			return fail(err, len, "bind %s", src);
	}
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		PATHF(path, "%s/%s", dev, links[i][0]);
		if (symlink(links[i][1], path) < 0)
			return fail(err, len, "symlink %s", path);
	}
	PATHF(path, "%s/shm", dev);
	if (mkdir(path, 01777) < 0 ||
	    mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV,
		  "mode=1777,size=64m") < 0)
		return fail(err, len, "mount %s", path);
	/* No new entries in /dev; the bound nodes stay usable. */
	if (mount(NULL, dev, NULL,
		  MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NOEXEC,
		  NULL) < 0)
		return fail(err, len, "remount %s read-only", dev);
	return 0;
}

/* A fresh /proc for the sandbox's pid namespace, host knobs masked. */
static int proc_setup(const char *root, char *err, size_t len)
{
	static const char *const ro[] = { "sys", "sysrq-trigger", "irq", "bus",
					  "fs" };
	static const char *const masked[] = { "kcore",	       "keys",
					      "timer_list",    "sched_debug",
					      "latency_stats", "kallsyms" };
	char proc[PATH_MAX], path[PATH_MAX];

	PATHF(proc, "%s/proc", root);
	if (mkdir(proc, 0555) < 0 ||
	    mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  NULL) < 0)
		return fail(err, len, "mount %s", proc);
	for (size_t i = 0; i < sizeof(ro) / sizeof(ro[0]); i++) {
		PATHF(path, "%s/%s", proc, ro[i]);
		if (access(path, F_OK) < 0)
			continue;
		if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0 ||
		    make_ro_recursive(path) < 0)
			return fail(err, len, "read-only %s", path);
	}
	for (size_t i = 0; i < sizeof(masked) / sizeof(masked[0]); i++) {
		PATHF(path, "%s/%s", proc, masked[i]);
		if (access(path, F_OK) < 0)
			continue;
		if (mount("/dev/null", path, NULL, MS_BIND, NULL) < 0)
			return fail(err, len, "mask %s", path);
	}
	return 0;
}

static int mount_tmp(const char *root, uint64_t size, char *err, size_t len)
{
	char path[PATH_MAX], opts[64];

	PATHF(path, "%s/tmp", root);
	snprintf(opts, sizeof(opts), "mode=1777,size=%llu",
		 (unsigned long long)size);
	if (mkdir(path, 01777) < 0 ||
	    mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, opts) < 0)
		return fail(err, len, "mount %s", path);
	return 0;
}

/* The upper dir at INIT_UPPER_FD, for the daemon (initproto.h). */
static int keep_upper(const char *upper)
{
	int fd = open(upper, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int kept = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, INIT_UPPER_FD);

	if (fd >= 0)
		close(fd);
	if (kept >= 0 && kept != INIT_UPPER_FD) {
		close(kept);
		errno = EBUSY;
		return -1;
	}
	return kept < 0 ? -1 : 0;
}

/*
 * The overlay is mounted from the sandbox dir with relative layer paths,
 * and the snapshot is first bound at dir/lower: the sandbox's mountinfo
 * then names no host path.
 */
int mount_workspace(const struct init_opts *o, const char *root, char *err,
		    size_t len)
{
	char path[PATH_MAX];

	if (chdir(o->dir) < 0)
		return fail(err, len, "chdir %s", o->dir);
	if (o->delta_image[0] && delta_mount(o->delta_image, err, len) < 0)
		return -1;
	if (keep_upper(o->delta_image[0] ? FS_DELTA_MOUNT "/delta" : "delta") <
	    0)
		return fail(err, len, "hold the delta");
	if (mount(o->snapshot, "lower", NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    make_ro_recursive("lower") < 0)
		return fail(err, len, "bind snapshot %s", o->snapshot);
	PATHF(path, "%s/workspace", root);
	if (mkdir(path, 0755) < 0 ||
	    mount("overlay", path, "overlay", MS_NOSUID | MS_NODEV,
		  o->overlay) < 0)
		return fail(err, len, "mount overlay on %s", path);
	return 0;
}

/* pivot_root(".", ".") then detach the old root stacked underneath. */
static int enter_root(const char *root, char *err, size_t len)
{
	if (chdir(root) < 0)
		return fail(err, len, "chdir %s", root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fail(err, len, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return fail(err, len, "detach old root");
	if (chdir("/") < 0)
		return fail(err, len, "chdir /");
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | RO_FLAGS, NULL) < 0)
		return fail(err, len, "remount / read-only");
	return 0;
}

int rootfs_setup(const struct init_opts *o, char *err, size_t len)
{
	char root[PATH_MAX];
	int r;

	errno = 0;
	PATHF(root, "%s/root", o->dir);
	/* Nothing mounted here may propagate back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return fail(err, len, "make / private");
	if (mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV,
		  "mode=0755,size=1m,nr_inodes=256") < 0)
		return fail(err, len, "mount root tmpfs on %s", root);
	if ((r = host_dirs(root, err, len)) < 0 ||
	    (r = etc_setup(root, o->hostname, err, len)) < 0 ||
	    (r = mount_workspace(o, root, err, len)) < 0 ||
	    (r = mount_tmp(root, o->tmp_size, err, len)) < 0 ||
	    (r = dev_setup(root, err, len)) < 0 ||
	    (r = proc_setup(root, err, len)) < 0)
		return r;
	return enter_root(root, err, len);
}
