// SPDX-License-Identifier: Apache-2.0
/*
 * try-syscall: attempt one operation and report how it ended, to check the
 * sandbox's system-call profile from the inside (idea from bubblewrap's
 * tests/try-syscall.c).
 *
 *   try-syscall NAME   prints "NAME: OK" and exits 0 when the call worked,
 *                      else "NAME: EPERM (...)" and exits with the errno;
 *                      a case run in a child that is killed by signal N
 *                      prints "NAME: killed by SIGSYS" and exits 128+N
 *   try-syscall --list one "NAME EXPECT" line per case, EXPECT being what
 *                      the default profile makes of it: allow, deny (the
 *                      profile's errno), enosys, or kill
 *
 * Exit 255 means the case could not be set up (message on stderr).
 *
 * Arguments: the filter decides on the call number and register arguments
 * only, so those are the real ones an attacker would pass (namespace flags,
 * ioctl requests, personality values). The rest are valid up to the point
 * where the kernel would act, so that without the filter the call either
 * works and changes nothing outside this process (io_uring, keyrings,
 * ptrace of our own child, ...) or is refused for lack of privilege; where
 * acting would touch the machine (reboot, kexec, swap, modules, clock) the
 * last argument checked is invalid, so even root running this by hand,
 * unfiltered, changes nothing. Statically linked: it runs in any sandbox.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <linux/kcmp.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <linux/sched.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/quota.h>
#include <sys/syscall.h>
#include <sys/timex.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_open_tree_attr
#define SYS_open_tree_attr 467 /* Linux 6.15 */
#endif
#define X32_SYSCALL_BIT 0x40000000
#define I386_GETPID	20
#define I386_UNSHARE	310

#define ABSENT	      ((uintptr_t) "/try-syscall-absent")
#define FDCWD	      ((uintptr_t)AT_FDCWD)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum expect { ALLOW, DENY, ENOSYS_, KILL };
static const char *const expect_names[] = { "allow", "deny", "enosys", "kill" };

/*
 * A case: fn(op) when set, else syscall(nr, a[0..5]). Results: 0 worked,
 * -errno refused, +N killed by signal N.
 */
struct op {
	const char *name;
	enum expect expect;
	int (*fn)(const struct op *op);
	long nr;
	uintptr_t a[6];
};

static __attribute__((noreturn)) void setup_failed(const char *what)
{
	fprintf(stderr, "try-syscall: cannot set up: %s: %s\n", what,
		strerror(errno));
	exit(255);
}

static int ret(long r)
{
	return r < 0 ? -errno : 0;
}

/* Wait for a child that exits with an errno (0: worked). */
static int child_result(pid_t pid)
{
	int st;

	if (pid < 0)
		setup_failed("fork");
	if (waitpid(pid, &st, 0) < 0)
		setup_failed("waitpid");
	if (WIFSIGNALED(st))
		return WTERMSIG(st);
	return -WEXITSTATUS(st);
}

/* Run fn(op) in a child: for calls that may kill or change the caller. */
static int in_child(int (*fn)(const struct op *), const struct op *op)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(-fn(op));
	return child_result(pid);
}

/* A fresh directory for the mount calls, so they never touch a real one. */
static const char *scratch_dir(void)
{
	static char dir[] = "/tmp/try-syscall.XXXXXX";

	if (!mkdtemp(dir))
		setup_failed("mkdtemp in /tmp");
	return dir;
}

static int try_mount(const struct op *op)
{
	const char *dir = scratch_dir();
	int r = ret(mount("tmpfs", dir, "tmpfs", MS_NOSUID, "size=4k"));

	if (r == 0)
		umount2(dir, MNT_DETACH);
	rmdir(dir);
	return r;
}

/* a[0] on the scratch dir, which is no mount point: a no-op as root. */
static int try_on_dir(const struct op *op)
{
	const char *dir = scratch_dir();
	long r;

	if (op->a[0] == SYS_umount2)
		r = syscall(SYS_umount2, dir, 0);
	else if (op->a[0] == SYS_pivot_root)
		r = syscall(SYS_pivot_root, dir, dir);
	else
		r = syscall(SYS_move_mount, AT_FDCWD, dir, AT_FDCWD, dir, 0);
	r = ret(r);
	rmdir(dir);
	return (int)r;
}

static int try_setns(const struct op *op)
{
	int fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		setup_failed("open /proc/self/ns/net");
	return ret(syscall(SYS_setns, fd, CLONE_NEWNET));
}

/* Attach to a process of our own: allowed by the kernel without privilege. */
static int try_ptrace(const struct op *op)
{
	pid_t pid = fork();
	int r;

	if (pid < 0)
		setup_failed("fork");
	if (pid == 0)
		for (;;)
			pause();
	r = ret(syscall(SYS_ptrace, PTRACE_ATTACH, pid, 0, 0));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return r;
}

/* a[0]: copy between two buffers of ours through the remote-memory call. */
static int try_process_vm(const struct op *op)
{
	char a[8] = "abcdefg", b[8] = "";
	struct iovec local = { b, sizeof(b) }, remote = { a, sizeof(a) };

	return ret(syscall(op->a[0], getpid(), &local, 1, &remote, 1, 0));
}

static int try_kcmp(const struct op *op)
{
	return ret(syscall(SYS_kcmp, getpid(), getpid(), KCMP_VM, 0, 0));
}

/* Take a copy of one of our own fds through a pidfd of ourselves. */
static int try_pidfd_getfd(const struct op *op)
{
	long pidfd = syscall(SYS_pidfd_open, getpid(), 0);

	return ret(syscall(SYS_pidfd_getfd, pidfd, pidfd, 0));
}

static int try_finit_module(const struct op *op)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		setup_failed("open /proc/self/exe");
	return ret(syscall(SYS_finit_module, fd, "", 0)); /* not a module */
}

static int try_quotactl_fd(const struct op *op)
{
	uint32_t fmt;
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		setup_failed("open /");
	return ret(syscall(SYS_quotactl_fd, fd, QCMD(Q_GETFMT, USRQUOTA), 0,
			   &fmt));
}

/* Without a controlling terminal (new session) this hangs up nothing. */
static int vhangup_alone(const struct op *op)
{
	setsid();
	return ret(syscall(SYS_vhangup));
}

static int try_vhangup(const struct op *op)
{
	return in_child(vhangup_alone, op);
}

static int try_unshare(const struct op *op)
{
	return ret(syscall(SYS_unshare, op->a[0]));
}

/* clone() without a new stack: the child returns here, like fork(). */
static int try_clone(const struct op *op)
{
	long pid = syscall(SYS_clone, op->a[0], 0, 0, 0, 0);

	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return -errno;
	return child_result((pid_t)pid);
}

static int try_clone3(const struct op *op)
{
	struct clone_args args = { .flags = op->a[0], .exit_signal = SIGCHLD };
	long pid = syscall(SYS_clone3, &args, sizeof(args));

	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return -errno;
	return child_result((pid_t)pid);
}

static int try_fork(const struct op *op)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return -errno;
	return child_result(pid);
}

static void *thread_main(void *arg)
{
	return arg;
}

/* glibc tries clone3 first: this also shows its fallback to clone. */
static int try_thread(const struct op *op)
{
	pthread_t t;
	int r = pthread_create(&t, NULL, thread_main, NULL);

	if (r)
		return -r;
	return -pthread_join(t, NULL);
}

/* posix_spawn (CLONE_VM|CLONE_VFORK) of ourselves running "getpid". */
static int try_spawn(const struct op *op)
{
	char *argv[] = { "try-syscall", "getpid", NULL };
	char *envp[] = { NULL };
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int r;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	r = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	return r ? -r : child_result(pid);
}

/* A pty of our own when /dev/ptmx exists, else /dev/null: never fd 0. */
static int terminal(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	const char *pts = NULL;
	int fd = -1;

	if (m >= 0 && grantpt(m) == 0 && unlockpt(m) == 0)
		pts = ptsname(m);
	if (pts)
		fd = open(pts, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		setup_failed("open a terminal or /dev/null");
	return fd;
}

/* a[0] is the full 64-bit request as passed in the register. */
static int try_tty_ioctl(const struct op *op)
{
	char arg =
		6; /* TIOCSTI: the byte typed; TIOCLINUX: a read-only query */

	return ret(syscall(SYS_ioctl, terminal(), op->a[0], &arg));
}

static int try_fionread(const struct op *op)
{
	int p[2], n;

	if (pipe2(p, O_CLOEXEC) < 0)
		setup_failed("pipe");
	return ret(ioctl(p[0], FIONREAD, &n));
}

static long int80(long nr, long arg)
{
	long r;

	__asm__ volatile("int $0x80"
			 : "=a"(r)
			 : "a"(nr), "b"(arg)
			 : "memory", "r8", "r9", "r10", "r11");
	return r;
}

/* The 32-bit ABI from a 64-bit process: the classic filter evasion. */
static int int80_child(const struct op *op)
{
	long r = int80((long)op->a[0], (long)op->a[1]);

	return r < 0 ? (int)r : 0;
}

static int x32_child(const struct op *op)
{
	return ret(syscall(X32_SYSCALL_BIT | op->a[0]));
}

/* In a child, since the filter kills a process calling through them. */
static int try_int80(const struct op *op)
{
	return in_child(int80_child, op);
}

static int try_x32(const struct op *op)
{
	return in_child(x32_child, op);
}

static struct perf_event_attr perf_attr = {
	.type = PERF_TYPE_SOFTWARE,
	.size = sizeof(struct perf_event_attr),
	.config = PERF_COUNT_SW_TASK_CLOCK,
	.disabled = 1,
	.exclude_kernel = 1,
	.exclude_hv = 1,
};
static union bpf_attr bpf_map = { .map_type = BPF_MAP_TYPE_ARRAY,
				  .key_size = 4,
				  .value_size = 4,
				  .max_entries = 1 };
static struct io_uring_params uring_params;
static struct mount_attr no_change;
static struct {
	unsigned int bytes;
	int type;
	uint32_t ino, gen;
} made_up_handle = { 8, 1 /* FILEID_INO32_GEN */, 2, 0 };
static struct {
	unsigned int bytes;
	int type;
	unsigned char h[128];
} handle_buf = { 128, 0, { 0 } };
static int mount_id;
static uint32_t quota_fmt;
static unsigned char not_a_module[64];
static struct timespec bad_time = { 0, 2000000000 }; /* tv_nsec > 1e9 */
static struct timex query_only; /* modes 0: read the clock state */

/* A case run by fn(op), or a plain syscall(nr, args...). */
#define FN(name, expect, fn, ...)    \
	{                            \
		name, expect, fn, 0, \
		{                    \
			__VA_ARGS__  \
		}                    \
	}
#define RAW(name, expect, nr, ...)      \
	{                               \
		name, expect, NULL, nr, \
		{                       \
			__VA_ARGS__     \
		}                       \
	}
#define NS(n, flag)                                \
	FN("unshare-" n, DENY, try_unshare, flag), \
		FN("clone-" n, DENY, try_clone, (flag) | SIGCHLD)
#define STR(s) ((uintptr_t)(s))
#define PTR(p) ((uintptr_t)(p))

static const struct op ops[] = {
	/* Mounts. */
	FN("mount", DENY, try_mount),
	FN("umount2", DENY, try_on_dir, SYS_umount2),
	FN("pivot_root", DENY, try_on_dir, SYS_pivot_root),
	FN("move_mount", DENY, try_on_dir, SYS_move_mount),
	RAW("open_tree", DENY, SYS_open_tree, FDCWD, STR("/tmp"),
	    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC),
	RAW("open_tree_attr", DENY, SYS_open_tree_attr, FDCWD, STR("/tmp"),
	    OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC),
	RAW("fsopen", DENY, SYS_fsopen, STR("tmpfs"), FSOPEN_CLOEXEC),
	/* No context fd can be had with fsopen refused: fd -1 (EBADF). */
	RAW("fsconfig", DENY, SYS_fsconfig, PTR(-1), FSCONFIG_SET_STRING,
	    STR("size"), STR("4k")),
	RAW("fsmount", DENY, SYS_fsmount, PTR(-1), FSMOUNT_CLOEXEC),
	RAW("fspick", DENY, SYS_fspick, FDCWD, STR("/tmp"), FSPICK_CLOEXEC),
	RAW("mount_setattr", DENY, SYS_mount_setattr, FDCWD, STR("/tmp"), 0,
	    PTR(&no_change), sizeof(no_change)),
	RAW("chroot", DENY, SYS_chroot, STR("/")),
	FN("setns", DENY, try_setns),
	/* Kernel surface open to the unprivileged. */
	RAW("bpf", DENY, SYS_bpf, BPF_MAP_CREATE, PTR(&bpf_map),
	    sizeof(bpf_map)),
	RAW("perf_event_open", DENY, SYS_perf_event_open, PTR(&perf_attr), 0,
	    PTR(-1), PTR(-1), PERF_FLAG_FD_CLOEXEC),
	RAW("io_uring_setup", DENY, SYS_io_uring_setup, 1, PTR(&uring_params)),
	/* No ring can be had with io_uring_setup refused: fd -1 (EBADF). */
	RAW("io_uring_enter", DENY, SYS_io_uring_enter, PTR(-1)),
	RAW("io_uring_register", DENY, SYS_io_uring_register, PTR(-1),
	    IORING_UNREGISTER_BUFFERS),
	RAW("userfaultfd", DENY, SYS_userfaultfd,
	    O_CLOEXEC | UFFD_USER_MODE_ONLY),
	RAW("keyctl", DENY, SYS_keyctl, KEYCTL_GET_KEYRING_ID,
	    PTR(KEY_SPEC_PROCESS_KEYRING), 1),
	RAW("add_key", DENY, SYS_add_key, STR("user"), STR("try-syscall"),
	    STR("x"), 1, PTR(KEY_SPEC_PROCESS_KEYRING)),
	RAW("request_key", DENY, SYS_request_key, STR("user"),
	    STR("try-syscall:absent"), 0, PTR(KEY_SPEC_PROCESS_KEYRING)),
	/* Other processes. */
	FN("ptrace", DENY, try_ptrace),
	FN("process_vm_readv", DENY, try_process_vm, SYS_process_vm_readv),
	FN("process_vm_writev", DENY, try_process_vm, SYS_process_vm_writev),
	FN("kcmp", DENY, try_kcmp),
	FN("pidfd_getfd", DENY, try_pidfd_getfd),
	/* File handles. */
	RAW("open_by_handle_at", DENY, SYS_open_by_handle_at, FDCWD,
	    PTR(&made_up_handle), O_RDONLY | O_CLOEXEC),
	RAW("name_to_handle_at", DENY, SYS_name_to_handle_at, FDCWD, STR("/"),
	    PTR(&handle_buf), PTR(&mount_id), 0),
	/* Machine-wide state; the last argument checked is invalid. */
	RAW("kexec_load", DENY, SYS_kexec_load, 0, 1000 /* segments > max */),
	RAW("kexec_file_load", DENY, SYS_kexec_file_load, PTR(-1), PTR(-1), 1,
	    STR(""), 1UL << 31 /* unknown flag */),
	RAW("init_module", DENY, SYS_init_module, PTR(not_a_module),
	    sizeof(not_a_module), STR("")),
	FN("finit_module", DENY, try_finit_module),
	RAW("delete_module", DENY, SYS_delete_module, STR("try_syscall_absent"),
	    O_NONBLOCK),
	RAW("reboot", DENY, SYS_reboot, LINUX_REBOOT_MAGIC1,
	    LINUX_REBOOT_MAGIC2, 0x7a7a7a7a /* no such command */),
	RAW("swapon", DENY, SYS_swapon, ABSENT, 0),
	RAW("swapoff", DENY, SYS_swapoff, ABSENT),
	RAW("acct", DENY, SYS_acct, ABSENT),
	RAW("syslog", DENY, SYS_syslog, 10 /* size of the log */),
	RAW("quotactl", DENY, SYS_quotactl, QCMD(Q_GETFMT, USRQUOTA), ABSENT, 0,
	    PTR(&quota_fmt)),
	FN("quotactl_fd", DENY, try_quotactl_fd),
	FN("vhangup", DENY, try_vhangup),
	RAW("iopl", DENY, SYS_iopl, 0 /* no raise */),
	RAW("ioperm", DENY, SYS_ioperm, 0x80, 1, 0 /* turn off */),
	RAW("settimeofday", DENY, SYS_settimeofday, 0, 0),
	RAW("clock_settime", DENY, SYS_clock_settime, CLOCK_REALTIME,
	    PTR(&bad_time)),
	RAW("adjtimex", DENY, SYS_adjtimex, PTR(&query_only)),
	RAW("clock_adjtime", DENY, SYS_clock_adjtime, CLOCK_REALTIME,
	    PTR(&query_only)),
	/* Gone from recent kernels (ENOSYS there without the filter). */
	RAW("lookup_dcookie", DENY, SYS_lookup_dcookie),
	RAW("nfsservctl", DENY, SYS_nfsservctl),
	/* Namespaces, by flag; high bits (ignored by clone) change nothing. */
	NS("user", CLONE_NEWUSER),
	NS("mount", CLONE_NEWNS),
	NS("pid", CLONE_NEWPID),
	NS("net", CLONE_NEWNET),
	NS("ipc", CLONE_NEWIPC),
	NS("uts", CLONE_NEWUTS),
	NS("cgroup", CLONE_NEWCGROUP),
	FN("unshare-time", DENY, try_unshare, CLONE_NEWTIME),
	FN("clone-user-high", DENY, try_clone,
	   (1UL << 32) | CLONE_NEWUSER | SIGCHLD),
	FN("clone3-user", ENOSYS_, try_clone3, CLONE_NEWUSER),
	FN("clone3-plain", ENOSYS_, try_clone3, 0),
	/* Terminal ioctls, also with junk above the 32 bits the kernel reads.
	 */
	FN("ioctl-tiocsti", DENY, try_tty_ioctl, TIOCSTI),
	FN("ioctl-tiocsti-high", DENY, try_tty_ioctl,
	   0xffffffff00000000UL | TIOCSTI),
	FN("ioctl-tioclinux", DENY, try_tty_ioctl, TIOCLINUX),
	FN("ioctl-tioclinux-high", DENY, try_tty_ioctl,
	   0x100000000UL | TIOCLINUX),
	RAW("personality-noaslr", DENY, SYS_personality,
	    0x0040000 /* ADDR_NO_RANDOMIZE */),
	RAW("personality-linux32", DENY, SYS_personality,
	    0x0008 /* PER_LINUX32 */),
	RAW("personality-high", DENY, SYS_personality, 0xffffffff00040000UL),
	/* Only the wrap-around pair of the profile's rules (bits 31, 0). */
	RAW("personality-upper", DENY, SYS_personality, 0xffffff00),
	/* Other ABIs, in a child: int 0x80 (i386 numbers), x32. */
	FN("int80-getpid", KILL, try_int80, I386_GETPID),
	FN("int80-unshare-user", KILL, try_int80, I386_UNSHARE, CLONE_NEWUSER),
	FN("x32-getpid", KILL, try_x32, SYS_getpid),
	/* Controls: what programs do every day must keep working. */
	RAW("getpid", ALLOW, SYS_getpid),
	FN("fork", ALLOW, try_fork),
	FN("clone-plain", ALLOW, try_clone, SIGCHLD),
	FN("thread", ALLOW, try_thread),
	FN("spawn", ALLOW, try_spawn),
	FN("unshare-files", ALLOW, try_unshare, CLONE_FILES),
	FN("ioctl-fionread", ALLOW, try_fionread),
	RAW("personality-query", ALLOW, SYS_personality, 0xffffffff),
	RAW("personality-linux", ALLOW, SYS_personality, 0),
};

static int run(const struct op *op)
{
	const uintptr_t *a = op->a;

	if (op->fn)
		return op->fn(op);
	return ret(syscall(op->nr, a[0], a[1], a[2], a[3], a[4], a[5]));
}

static int report(const struct op *op, int r)
{
	const char *name;

	if (r == 0) {
		printf("%s: OK\n", op->name);
		return 0;
	}
	if (r > 0) {
		printf("%s: killed by SIG%s\n", op->name, sigabbrev_np(r));
		return 128 + r;
	}
	name = strerrorname_np(-r);
	printf("%s: %s (%s)\n", op->name, name ? name : "?", strerror(-r));
	return -r;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
			printf("%s %s\n", ops[i].name,
			       expect_names[ops[i].expect]);
		return 0;
	}
	for (size_t i = 0; argc == 2 && i < ARRAY_SIZE(ops); i++) {
		if (!strcmp(argv[1], ops[i].name)) {
			int r = run(&ops[i]);

			fflush(stderr);
			return report(&ops[i], r);
		}
	}
	fprintf(stderr, "usage: try-syscall NAME | --list\n");
	return 255;
}
