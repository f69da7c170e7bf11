// SPDX-License-Identifier: Apache-2.0
/*
 * Where the bpf-lsm enforcer pins its links and maps, and cleaning up what
 * a crashed daemon left there. Each daemon instance pins into its own
 * directory, AF_LSM_PIN_ROOT/bpf-lsm-<pid>-<start time>: a pinned link
 * keeps its program attached after the daemon dies (the sandboxes it left
 * stay confined), and the next daemon removes it once it runs its own.
 */
#define LOG_MOD "enforce"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/enforce.h"
#include "agentfense/log.h"
#include "agentfense/util.h"
#include "bpf_lsm_internal.h"
#include "lsm.h"

/* A decimal number at s ending at end (or NUL). */
static int parse_ull(const char *s, char end, unsigned long long *out)
{
	char *e;

	errno = 0;
	*out = strtoull(s, &e, 10);
	if (errno || e == s || (*e != end && *e != '\0'))
		return -EINVAL;
	return 0;
}

/* Field 22 of /proc/PID/stat: start time in clock ticks after boot. */
static int start_time(pid_t pid, unsigned long long *out)
{
	_cleanup_free_ char *buf = NULL;
	char path[64];
	const char *p;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	r = af_read_file(path, &buf, NULL);
	if (r < 0)
		return r;
	/* comm may hold spaces and ')': fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	for (int field = 2; field < 22; field++) {
		p = strchr(p + 1, ' ');
		if (!p)
			return -EINVAL;
	}
	return parse_ull(p + 1, ' ', out);
}

int enf_pin_dir(const char *prefix, char *buf, size_t len)
{
	unsigned long long start;
	int r = start_time(getpid(), &start), n;

	if (r < 0)
		return r;
	n = snprintf(buf, len, "%s/%s%d-%llu", AF_LSM_PIN_ROOT, prefix,
		     (int)getpid(), start);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool is_bpffs(const char *path)
{
	struct statfs s;

	return statfs(path, &s) == 0 && (long)s.f_type == (long)BPF_FS_MAGIC;
}

int enf_pin_prepare(const char *dir, bool *mounted, char *err, size_t len)
{
	const char *step = NULL;
	int r;

	*mounted = false;
	if (!is_bpffs(AF_LSM_BPFFS)) {
		if (mount("bpf", AF_LSM_BPFFS, "bpf",
			  MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") < 0)
			step = "mounting a bpffs at " AF_LSM_BPFFS;
		else
			*mounted = true;
	}
	if (!step && mkdir(AF_LSM_PIN_ROOT, 0700) < 0 && errno != EEXIST)
		step = "creating " AF_LSM_PIN_ROOT;
	if (!step && mkdir(dir, 0700) < 0)
		step = "creating the pin directory";
	if (!step) {
		if (*mounted)
			log_info("mounted a bpffs at %s", AF_LSM_BPFFS);
		return 0;
	}
	r = -errno;
	snprintf(err, len, "%s: %s", step, strerror(-r));
	return r;
}

int enf_pin_remove(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* Unpinning drops the pin's reference; a link then detaches. */
		if (unlinkat(dirfd(d), de->d_name, 0) < 0 && !r)
			r = -errno;
	}
	if (rmdir(dir) < 0 && !r)
		r = -errno;
	return r;
}

static bool bpffs_empty(void)
{
	_cleanup_closedir_ DIR *d = opendir(AF_LSM_BPFFS);
	struct dirent *de;

	if (!d)
		return false;
	/* The kernel's own entries (maps.debug, progs.debug) have dots. */
	while ((de = readdir(d)))
		if (!strchr(de->d_name, '.'))
			return false;
	return true;
}

void enf_pin_release(bool mounted)
{
	/* Other parts of the daemon may pin here too: only if empty. */
	if (rmdir(AF_LSM_PIN_ROOT) < 0 && errno != ENOENT &&
	    errno != ENOTEMPTY && errno != EEXIST)
		log_warn_errno(-errno, "removing %s", AF_LSM_PIN_ROOT);
	if (mounted && bpffs_empty() && umount2(AF_LSM_BPFFS, 0) < 0)
		log_warn_errno(-errno, "unmounting the bpffs at %s",
			       AF_LSM_BPFFS);
}

/* Is "PREFIX-PID-START" a daemon instance that still runs? */
static bool instance_alive(const char *prefix, const char *name)
{
	const char *p = name + strlen(prefix), *dash;
	unsigned long long pid, start, now;

	dash = strchr(p, '-');
	if (!dash || parse_ull(p, '-', &pid) < 0 || pid > INT_MAX ||
	    parse_ull(dash + 1, '\0', &start) < 0)
		return false;
	return start_time((pid_t)pid, &now) == 0 && now == start;
}

int enf_pin_reconcile(const char *prefix, const char *own_dir)
{
	_cleanup_closedir_ DIR *d = opendir(AF_LSM_PIN_ROOT);
	const char *own = strrchr(own_dir, '/');
	struct dirent *de;
	char path[PATH_MAX];
	int removed = 0, r;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0 ||
		    (own && !strcmp(de->d_name, own + 1)))
			continue;
		if (instance_alive(prefix, de->d_name)) {
			log_warn("%s/%s belongs to a daemon that still runs; "
				 "left alone",
				 AF_LSM_PIN_ROOT, de->d_name);
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", AF_LSM_PIN_ROOT,
			 de->d_name);
		r = enf_pin_remove(path);
		if (r < 0) {
			log_warn_errno(r, "removing stale pins in %s", path);
			continue;
		}
		log_info("removed stale pins %s", path);
		removed++;
	}
	return removed;
}
