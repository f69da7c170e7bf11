// SPDX-License-Identifier: Apache-2.0
/*
 * The bpf-lsm backend's life cycle where LSM programs are refused:
 * bpf_lsm_open fails with EPERM and a reason a user can act on, and leaves
 * nothing behind (no mount, no pin, no fd, no thread). The object still
 * loads its non-LSM parts (maps) here. Pins: a bpffs is mounted when there
 * is none and unmounted again, and reconciliation removes the directories
 * of daemon instances that are gone while leaving live ones alone. Where
 * the kernel does accept LSM programs, open/close is checked instead.
 */
#include <dirent.h>
#include <errno.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../../src/enforce/bpf_lsm_internal.h"
#include "../../src/enforce/enforce_internal.h"
#include "agentfense/cleanup.h"
#include "lsm.h"
#include "lsm.skel.h"
#include "lsm_fixture.h"

static int count_entries(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	int n = 0;

	if (!d)
		return -errno;
	while (readdir(d))
		n++;
	return n;
}

static char *read_all(const char *path)
{
	char *buf = NULL;

	return af_read_file(path, &buf, NULL) == 0 ? buf : NULL;
}

static bool is_bpffs(const char *path)
{
	struct statfs s;

	return statfs(path, &s) == 0 && (long)s.f_type == (long)BPF_FS_MAGIC;
}

static void test_open_refused(void)
{
	_cleanup_free_ char *mounts = read_all("/proc/self/mountinfo");
	_cleanup_free_ char *after = NULL;
	int fds = count_entries("/proc/self/fd");
	int tasks = count_entries("/proc/self/task");
	struct bpf_lsm *b = (void *)1;
	char reason[256] = "", own[PATH_MAX];
	int r = bpf_lsm_open(2, &b, reason, sizeof(reason));

	if (r == 0) {
		printf("SKIP test_open_refused: this kernel accepts BPF LSM "
		       "programs\n");
		bpf_lsm_close(b);
		return;
	}
	printf("bpf_lsm_open: %s\n", reason);
	ASSERT_EQ(r, -EPERM, "refused with EPERM");
	ASSERT_TRUE(b == NULL, "no handle");
	ASSERT_TRUE(strstr(reason, "loading BPF LSM programs") &&
			    strstr(reason, "not permitted") &&
			    strstr(reason, "lsm="),
		    "the reason says what failed and what to check");
	after = read_all("/proc/self/mountinfo");
	ASSERT_TRUE(mounts && after && !strcmp(mounts, after),
		    "nothing mounted");
	/* Our own directory: other daemons on the host may pin (audit). */
	ASSERT_TRUE(lsm_pin_dir(own, sizeof(own)) == 0 &&
			    count_entries(own) == -ENOENT,
		    "nothing pinned");
	ASSERT_EQ(count_entries("/proc/self/fd"), fds, "no fd left open");
	ASSERT_EQ(count_entries("/proc/self/task"), tasks, "no thread left");
	ASSERT_EQ(bpf_lsm_open(0, &b, reason, sizeof(reason)), -EINVAL,
		  "a bad cgroup level");
}

/* Everything but the LSM programs loads here: the maps as declared. */
static void test_maps_load(void)
{
	struct lsm *skel = lsm__open();
	struct bpf_program *p;
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);

	if (!ASSERT_TRUE(skel != NULL, "open the LSM object"))
		return;
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, false);
	if (ASSERT_OK(lsm__load(skel), "load without its programs")) {
		bpf_obj_get_info_by_fd(bpf_map__fd(skel->maps.af_policies),
				       &info, &len);
		ASSERT_EQ(info.type, BPF_MAP_TYPE_HASH_OF_MAPS, "af_policies");
		ASSERT_EQ(info.max_entries, AF_LSM_SANDBOXES_MAX,
			  "af_policies size");
		ASSERT_EQ(bpf_map__type(skel->maps.af_scratch),
			  BPF_MAP_TYPE_TASK_STORAGE, "af_scratch");
		ASSERT_EQ(bpf_map__max_entries(skel->maps.audit_events),
			  AF_LSM_RINGBUF_BYTES, "audit_events");
		ASSERT_EQ(bpf_map__value_size(skel->maps.af_sandboxes),
			  sizeof(struct af_lsm_sandbox), "af_sandboxes value");
	}
	lsm__destroy(skel);
}

/* A map pinned as a stale daemon would have left it. */
static int pin_stale(const char *dir)
{
	char path[PATH_MAX + 16];
	int fd, r;

	if (mkdir(dir, 0700) < 0)
		return -errno;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "stale", 4, 4, 1, NULL);
	if (fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/map-af_sandboxes", dir);
	r = bpf_obj_pin(fd, path) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* A pid that does not run: from the top of the pid range down. */
static int dead_pid(void)
{
	char path[64];

	for (int pid = 4194303; pid > 1; pid--) {
		snprintf(path, sizeof(path), "/proc/%d", pid);
		if (access(path, F_OK) < 0)
			return pid;
	}
	return -1;
}

static void test_pins(void)
{
	char own[PATH_MAX], stale[PATH_MAX], live[PATH_MAX], err[256], *stat1;
	unsigned long long start1 = 0;
	bool mounted = false;
	const char *p;

	/* Our own mount namespace, with no bpffs at AF_LSM_BPFFS. */
	if (!ASSERT_OK(unshare(CLONE_NEWNS), "unshare") ||
	    !ASSERT_OK(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL),
		       "private mounts"))
		return;
	while (is_bpffs(AF_LSM_BPFFS) && umount2(AF_LSM_BPFFS, MNT_DETACH) == 0)
		;
	ASSERT_OK(lsm_pin_dir(own, sizeof(own)), "pin dir name");
	ASSERT_TRUE(strstr(own, AF_LSM_PIN_ROOT "/" AF_LSM_PIN_PREFIX),
		    "pin dir under the root");
	if (!ASSERT_OK(lsm_pin_prepare(own, &mounted, err, sizeof(err)),
		       "prepare"))
		return;
	ASSERT_TRUE(mounted && is_bpffs(AF_LSM_BPFFS), "a bpffs was mounted");
	/* A stale instance and a live one (pid 1 with its start time). */
	snprintf(stale, sizeof(stale), "%s/%s%d-123", AF_LSM_PIN_ROOT,
		 AF_LSM_PIN_PREFIX, dead_pid());
	stat1 = read_all("/proc/1/stat");
	p = stat1 ? strrchr(stat1, ')') : NULL;
	for (int f = 2; p && f < 22; f++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%llu", &start1);
	free(stat1);
	snprintf(live, sizeof(live), "%s/%s1-%llu", AF_LSM_PIN_ROOT,
		 AF_LSM_PIN_PREFIX, start1);
	ASSERT_OK(pin_stale(stale), "pin a stale instance");
	ASSERT_OK(pin_stale(live), "pin a live instance");
	ASSERT_OK(pin_stale(own) == -EEXIST ? 0 : -1, "own dir exists");
	ASSERT_EQ(lsm_pin_reconcile(own), 1, "one stale instance removed");
	ASSERT_EQ(count_entries(stale), -ENOENT, "stale pins gone");
	ASSERT_EQ(count_entries(live), 3, "live pins kept");
	ASSERT_EQ(count_entries(own), 2, "own dir kept");
	ASSERT_OK(lsm_pin_remove(live), "remove");
	ASSERT_OK(lsm_pin_remove(own), "remove own");
	lsm_pin_release(mounted);
	ASSERT_TRUE(!is_bpffs(AF_LSM_BPFFS), "our bpffs unmounted");
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, ap);
}

int main(int argc, char **argv)
{
	fx_verbose = argc > 1 && !strcmp(argv[1], "-v");
	if (geteuid() != 0) {
		printf("SKIP: loading BPF programs needs root\n");
		return 0;
	}
	libbpf_set_print(print_libbpf);
	test_open_refused();
	test_maps_load();
	test_pins(); /* last: it leaves this process in its own namespace */
	printf("%s: %d passed, %d failed\n", fx_failures ? "FAIL" : "PASS",
	       fx_passes, fx_failures);
	return fx_failures ? 1 : 0;
}
