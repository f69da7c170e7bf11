// SPDX-License-Identifier: Apache-2.0
/*
 * The enforcer's path walk (bpf/lsm_path.h) in the kernel, on real
 * dentries: the workspace path of what a file descriptor refers to, built
 * from the dentry up to its superblock's root. Edge cases: the root, names
 * of NAME_MAX bytes, paths of exactly AF_PM_PATH_MAX bytes and one more,
 * the deepest path that fits, and a file reached through a bind mount or a
 * symlink (the path is the file's own, not the route to it). Too long
 * fails closed: EACCES and an "unresolved" audit event.
 */
#include <errno.h>
#include <sys/mman.h>

#include "agentfense/cleanup.h"
#include "lsm_env.h"

static struct af_lsm_test_out *out; /* mmap of test_out */
static char label[256];
#define LABEL(...) (snprintf(label, sizeof(label), __VA_ARGS__), label)

/* The walk's answer for fd: the path, or "" and *ret < 0. */
static const char *walk(int fd, int *ret)
{
	static char buf[AF_PM_PATH_MAX + 1];
	struct af_lsm_test_path a = { .fd = fd };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &a,
		    .ctx_size_in = sizeof(a));
	int r = bpf_prog_test_run_opts(bpf_program__fd(E.skel->progs.path_of),
				       &opts);

	*ret = r < 0 || opts.retval ? -EIO : a.ret;
	buf[0] = '\0';
	if (*ret >= 0 && a.len <= AF_PM_PATH_MAX) {
		memcpy(buf, out->path, a.len);
		buf[a.len] = '\0';
	}
	return buf;
}

static void expect_path(int fd, const char *want, const char *what)
{
	int ret;
	const char *got = walk(fd, &ret);

	FX_CHECK(ret >= 0 && !strcmp(got, want), what,
		 "walk %d, got \"%.80s\" (%zu bytes), want \"%.80s\" (%zu)",
		 ret, got, strlen(got), want, strlen(want));
}

static int open_ws(const char *rel, int flags)
{
	char path[PATH_MAX];

	fx_path(&E.ws, rel, path, sizeof(path));
	return open(path, flags | O_CLOEXEC);
}

static void test_simple(void)
{
	static const char *const paths[] = { "/", "/f_read.txt", "/d_write",
					     "/d_write/clean/a.txt" };

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		int fd = open_ws(paths[i], O_PATH);

		expect_path(fd, paths[i], LABEL("walk %s", paths[i]));
		close(fd);
	}
}

/* Names of NAME_MAX bytes; 255 is also the walk's own name limit. */
static void test_long_name(void)
{
	char name[256], want[300];
	int dir = open_ws("/d_write", O_PATH | O_DIRECTORY), fd;

	memset(name, 'n', 255);
	name[255] = '\0';
	fd = openat(dir, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	snprintf(want, sizeof(want), "/d_write/%s", name);
	expect_path(fd, want, "a 255-byte name");
	close(fd);
	close(dir);
}

/*
 * Directories below the workspace root until the path has len bytes with
 * a last file; names of up to 200 bytes. Returns the file's fd.
 */
static int make_path(size_t len, size_t name_max, char *want)
{
	int dir = open_ws("/", O_PATH | O_DIRECTORY), next, fd;
	size_t o = 0;
	char name[256];

	while (len - o > name_max + 1) {
		size_t n = len - o - 1 > name_max + 1 ? name_max : 1;

		memset(name, 'a' + o % 26, n);
		name[n] = '\0';
		if (mkdirat(dir, name, 0755) < 0 && errno != EEXIST)
			break;
		next = openat(dir, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
		close(dir);
		dir = next;
		want[o++] = '/';
		memcpy(want + o, name, n);
		o += n;
	}
	memset(name, 'z', len - o - 1);
	name[len - o - 1] = '\0';
	fd = openat(dir, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	close(dir);
	want[o++] = '/';
	memcpy(want + o, name, len - o);
	want[len] = '\0';
	return fd;
}

static void test_lengths(void)
{
	static const size_t lens[] = { 4000, 4095, AF_PM_PATH_MAX };
	static char want[AF_PM_PATH_MAX + 8];
	int fd, ret;

	for (size_t i = 0; i < ARRAY_SIZE(lens); i++) {
		fd = make_path(lens[i], 200, want);
		expect_path(fd, want, LABEL("a path of %zu bytes", lens[i]));
		close(fd);
	}
	fd = make_path(AF_PM_PATH_MAX + 1, 200, want);
	walk(fd, &ret);
	ASSERT_EQ(ret, -ENAMETOOLONG, "a path of 4097 bytes");
	close(fd);
	/* The deepest path that fits: "/a" 2048 times. */
	fd = make_path(AF_PM_PATH_MAX, 1, want);
	expect_path(fd, want, "2048 components");
	close(fd);
}

/* The file's own path, however it was reached. */
static void test_routes(void)
{
	char target[PATH_MAX], link[PATH_MAX], bind[128];
	int fd;

	fx_path(&E.ws, "/f_view.txt", target, sizeof(target));
	fx_path(&E.ws, "/d_write/link", link, sizeof(link));
	if (!ASSERT_OK(symlink(target, link), "symlink"))
		return;
	fd = open(link, O_PATH | O_CLOEXEC);
	expect_path(fd, "/f_view.txt", "through a symlink");
	close(fd);
	snprintf(bind, sizeof(bind), "%s/bind", E.ws.base);
	fx_path(&E.ws, "/d_read", target, sizeof(target));
	if (!ASSERT_OK(mkdir(bind, 0755), "mkdir") ||
	    !ASSERT_OK(mount(target, bind, NULL, MS_BIND, NULL), "bind mount"))
		return;
	snprintf(link, sizeof(link), "%s/x", bind);
	fd = open(link, O_PATH | O_CLOEXEC);
	expect_path(fd, "/d_read/x", "through a bind mount");
	close(fd);
	umount2(bind, MNT_DETACH);
	/* Another superblock: the path from that one's root. */
	fd = open(E.ws.lower, O_PATH | O_CLOEXEC);
	expect_path(fd, "/lower", "on the tmpfs under the overlay");
	close(fd);
}

/* A path the walk cannot finish is refused, not guessed. */
static void test_fail_closed(void)
{
	static char want[AF_PM_PATH_MAX + 8];
	struct af_lsm_test_args a = { .fd2 = -1, .op = AF_OP_STAT };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &a,
		    .ctx_size_in = sizeof(a));
	char err[256];
	struct lsm_maps maps = {
		bpf_map__fd(E.skel->maps.af_sandboxes),
		bpf_map__fd(E.skel->maps.af_policies),
	};

	if (!ASSERT_OK(lsm_maps_install(&maps, E.cg.id, E.m, err, sizeof(err)),
		       "install") ||
	    !ASSERT_OK(lsm_maps_set_workspace(&maps, E.cg.id, E.ws.dev),
		       "workspace"))
		return;
	a.fd = make_path(AF_PM_PATH_MAX + 1, 200, want);
	ASSERT_OK(bpf_prog_test_run_opts(
			  bpf_program__fd(E.skel->progs.test_object), &opts),
		  "test run");
	ASSERT_EQ(a.ret, -EACCES, "stat a 4097-byte path");
	close(a.fd);
	ring_buffer__consume(E.rb);
	ASSERT_TRUE(E.events == 1 && E.last.flags == AF_AUDIT_F_UNRESOLVED &&
			    !strcmp(E.last.path, "?"),
		    "an unresolved event");
	a.fd = make_path(AF_PM_PATH_MAX, 200, want);
	ASSERT_OK(bpf_prog_test_run_opts(
			  bpf_program__fd(E.skel->progs.test_object), &opts),
		  "test run");
	/* No rule covers it: none, and as an existing object ENOENT. */
	ASSERT_EQ(a.ret, -ENOENT, "stat a 4096-byte path");
	close(a.fd);
	ring_buffer__consume(E.rb);
	ASSERT_TRUE(E.events == 2 &&
			    E.last.path_len ==
				    AF_LSM_WORKSPACE_LEN + AF_PM_PATH_MAX &&
			    !strncmp(E.last.path + AF_LSM_WORKSPACE_LEN, want,
				     AF_PM_PATH_MAX),
		    "the event carries the whole 4096-byte path");
	lsm_maps_remove(&maps, E.cg.id);
}

static int setup(void)
{
	int r = fx_env_setup("af-lsm-path");

	if (r < 0)
		return r;
	out = mmap(NULL, sizeof(*out), PROT_READ, MAP_SHARED,
		   bpf_map__fd(E.skel->maps.test_out), 0);
	return out != MAP_FAILED ? 0 : -1;
}

static void teardown(void)
{
	if (out && out != MAP_FAILED)
		munmap(out, sizeof(*out));
	fx_env_teardown();
}

int main(int argc, char **argv)
{
	if (!fx_start(argc, argv,
		      "loading BPF programs and mounting need root"))
		return 0;
	if (setup() == 0) {
		test_simple();
		test_long_name();
		test_lengths();
		test_routes();
		test_fail_closed();
	} else {
		fx_failures++;
	}
	teardown();
	return fx_summary();
}
