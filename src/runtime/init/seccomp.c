// SPDX-License-Identifier: Apache-2.0
/*
 * The default system-call profile (docs/security-model.md, "System calls").
 * Everything is allowed except the calls below, which fail with an errno
 * rather than killing the caller, so that programs probing for a feature
 * degrade gracefully. Only the native ABI is accepted: a call made through
 * another one (int 0x80, x32) kills the process, because a filter written
 * for x86_64 syscall numbers means nothing there.
 *
 * The child that installs the program shares agentfense-init's memory
 * until execve, where libseccomp (which allocates) must not run: so the
 * filter is built and exported to plain BPF once, here, and the child only
 * hands that buffer to prctl().
 */
#include "seccomp.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentfense/cleanup.h"

/* The compiled profile, read by af_seccomp_apply() in the vfork child. */
static struct sock_fprog prepared;

/* Refused whatever their arguments; the reasons are in the document. */
static const char *const denied[] = {
	/* The filesystem view is built by init and fixed. */
	"mount",
	"umount2",
	"pivot_root",
	"move_mount",
	"open_tree",
	"open_tree_attr",
	"fsopen",
	"fsconfig",
	"fsmount",
	"fspick",
	"mount_setattr",
	"chroot",
	"setns",
	/* Kernel attack surface reachable without any privilege. */
	"bpf",
	"perf_event_open",
	"io_uring_setup",
	"io_uring_enter",
	"io_uring_register",
	"userfaultfd",
	"keyctl",
	"add_key",
	"request_key",
	/* Reading or steering other processes. */
	"ptrace",
	"process_vm_readv",
	"process_vm_writev",
	"kcmp",
	"pidfd_getfd",
	/* File handles skip the path walk our permissions are checked on. */
	"open_by_handle_at",
	"name_to_handle_at",
	/* Machine-wide state: kernel code, power, swap, clock, logs, ports. */
	"kexec_load",
	"kexec_file_load",
	"init_module",
	"finit_module",
	"delete_module",
	"reboot",
	"swapon",
	"swapoff",
	"acct",
	"syslog",
	"quotactl",
	"quotactl_fd",
	"vhangup",
	"iopl",
	"ioperm",
	"settimeofday",
	"clock_settime",
	"adjtimex",
	"clock_adjtime",
	/* Removed from recent kernels; still refused on older ones. */
	"lookup_dcookie",
	"nfsservctl",
};

/*
 * Calls newer than the libseccomp we may be built against, by native
 * number, so that an old libseccomp cannot silently leave them open.
 */
static const struct {
	const char *name;
	int nr;
} late_calls[] = {
#if defined(__x86_64__)
	{ "open_tree_attr", 467 },
#endif
};

/*
 * clone() and unshare() may not create namespaces. In clone()'s flags the
 * bit of CLONE_NEWTIME (0x80) belongs to the exit signal, which no real
 * signal (at most 64) sets: one list serves both calls.
 */
static const uint64_t ns_flags[] = {
	CLONE_NEWNS,   CLONE_NEWCGROUP, CLONE_NEWUTS, CLONE_NEWIPC,
	CLONE_NEWUSER, CLONE_NEWPID,	CLONE_NEWNET, CLONE_NEWTIME,
};

/* Terminal ioctls that type into, or drive, a terminal others read. */
static const uint64_t tty_requests[] = { TIOCSTI, TIOCLINUX };

/* Also reported by af_seccomp_rule_name(): refused for some arguments. */
static const char *const arg_rules[] = { "clone", "unshare", "clone3", "ioctl",
					 "personality" };

/*
 * Put "seccomp: what[ name]: why" in err, set errno, and return r (a
 * negative errno).
 */
static int fail(char *err, size_t len, int r, const char *what,
		const char *name)
{
	snprintf(err, len, "seccomp: %s%s%s: %s", what, name ? " " : "",
		 name ? name : "", strerror(-r));
	errno = -r;
	return r;
}

static int resolve(const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	for (size_t i = 0; nr == __NR_SCMP_ERROR && i < ARRAY_SIZE(late_calls);
	     i++)
		if (!strcmp(late_calls[i].name, name))
			nr = late_calls[i].nr;
	return nr;
}

static int add_denied(scmp_filter_ctx ctx, uint32_t act, char *err, size_t len)
{
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++) {
		int nr = resolve(denied[i]);
		int r;

		/* A name we cannot place would be a hole: fail closed. */
		if (nr == __NR_SCMP_ERROR)
			return fail(err, len, -ENOSYS, "unknown system call",
				    denied[i]);
		r = seccomp_rule_add(ctx, act, nr, 0);
		if (r < 0)
			return fail(err, len, r, "rule for", denied[i]);
	}
	return 0;
}

/* Deny `name` when any namespace flag is set in its first argument. */
static int add_ns_rules(scmp_filter_ctx ctx, uint32_t act, const char *name)
{
	int nr = seccomp_syscall_resolve_name(name);

	for (size_t i = 0; i < ARRAY_SIZE(ns_flags); i++) {
		int r = seccomp_rule_add(ctx, act, nr, 1,
					 SCMP_A0_64(SCMP_CMP_MASKED_EQ,
						    ns_flags[i], ns_flags[i]));

		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * The kernel reads an ioctl request as a 32-bit int: compare only those
 * bits, so a request with junk in the upper half cannot slip past.
 */
static int add_tty_rules(scmp_filter_ctx ctx, uint32_t act)
{
	for (size_t i = 0; i < ARRAY_SIZE(tty_requests); i++) {
		int r = seccomp_rule_add(ctx, act, SCMP_SYS(ioctl), 1,
					 SCMP_A1_64(SCMP_CMP_MASKED_EQ,
						    0xffffffffULL,
						    tty_requests[i]));

		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * personality() may only query (0xffffffff) or set the default persona
 * (0): the other values turn off ASLR, make data executable, or fake the
 * kernel version. libseccomp cannot compare one argument twice in a rule,
 * so "neither all zeros nor all ones" over the 32 bits the kernel reads is
 * spelt as "bit i is 1 and bit i+1 (cyclically) is 0 for some i", which
 * holds exactly when the value has both a 1 and a 0.
 */
static int add_personality_rules(scmp_filter_ctx ctx, uint32_t act)
{
	for (unsigned int i = 0; i < 32; i++) {
		uint64_t bit = 1ULL << i, next = 1ULL << ((i + 1) % 32);
		int r = seccomp_rule_add(
			ctx, act, SCMP_SYS(personality), 1,
			SCMP_A0_64(SCMP_CMP_MASKED_EQ, bit | next, bit));

		if (r < 0)
			return r;
	}
	return 0;
}

/*
 * Landlock mode only. open(O_RDONLY|O_TRUNC) truncates without asking for
 * write access, and on overlayfs the copy-up already empties the file
 * before Landlock's truncate check (which runs after the open) refuses it.
 * So such opens are refused outright, with the errno of a refused
 * truncation. openat2 keeps its flags in memory, out of the filter's
 * sight: ENOSYS, and callers fall back to openat. (bpf-lsm decides
 * O_TRUNC at open, before any copy-up, and needs neither.)
 */
static int add_trunc_rules(scmp_filter_ctx ctx)
{
	const uint64_t mask = O_ACCMODE | O_TRUNC;
	int r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(open), 1,
				 SCMP_A1_64(SCMP_CMP_MASKED_EQ, mask, O_TRUNC));

	if (r == 0)
		r = seccomp_rule_add(
			ctx, SCMP_ACT_ERRNO(EACCES), SCMP_SYS(openat), 1,
			SCMP_A2_64(SCMP_CMP_MASKED_EQ, mask, O_TRUNC));
	if (r == 0)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
				     SCMP_SYS(openat2), 0);
	return r;
}

static int build(scmp_filter_ctx ctx, int deny_errno, bool ro_trunc, char *err,
		 size_t len)
{
	uint32_t act = SCMP_ACT_ERRNO((uint32_t)deny_errno);
	int r;

	/*
	 * libseccomp probes the kernel with seccomp(2) for the actions it may
	 * use, and the probe fails where that call is filtered or emulated
	 * (valgrind). We need Linux 5.7+ anyway (CLONE_INTO_CGROUP), which
	 * has all of API level 3 (SCMP_ACT_KILL_PROCESS).
	 */
	if (seccomp_api_get() < 3 && (r = seccomp_api_set(3)) < 0)
		return fail(err, len, r, "libseccomp API level", NULL);
	r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
			     SCMP_ACT_KILL_PROCESS);
	if (r < 0)
		return fail(err, len, r, "bad-arch action", NULL);
	/* A binary tree keeps the cost of allowed calls low. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (r < 0)
		return fail(err, len, r, "optimize", NULL);
	r = add_denied(ctx, act, err, len);
	if (r < 0)
		return r;
	if ((r = add_ns_rules(ctx, act, "clone")) < 0 ||
	    (r = add_ns_rules(ctx, act, "unshare")) < 0)
		return fail(err, len, r, "namespace rules", NULL);
	/*
	 * clone3 passes its flags in memory, which a filter cannot read.
	 * ENOSYS makes glibc (2.34+) fall back to clone(), checked above.
	 */
	r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (r < 0)
		return fail(err, len, r, "rule for clone3", NULL);
	if ((r = add_tty_rules(ctx, act)) < 0)
		return fail(err, len, r, "ioctl rules", NULL);
	if ((r = add_personality_rules(ctx, act)) < 0)
		return fail(err, len, r, "personality rules", NULL);
	if (ro_trunc && (r = add_trunc_rules(ctx)) < 0)
		return fail(err, len, r, "read-only truncation rules", NULL);
	return 0;
}

/* libseccomp 2.5 exports only to an fd: go through a memfd. */
static int export_prog(scmp_filter_ctx ctx, struct sock_fprog *prog, char *err,
		       size_t len)
{
	_cleanup_close_ int fd = memfd_create("af-seccomp", MFD_CLOEXEC);
	_cleanup_free_ struct sock_filter *insns = NULL;
	struct stat st;
	int r;

	if (fd < 0)
		return fail(err, len, -errno, "memfd", NULL);
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		return fail(err, len, r, "export", NULL);
	if (fstat(fd, &st) < 0)
		return fail(err, len, -errno, "export size", NULL);
	if (st.st_size <= 0 || st.st_size % sizeof(*insns) ||
	    st.st_size / sizeof(*insns) > BPF_MAXINSNS)
		return fail(err, len, -E2BIG, "exported program", NULL);
	insns = malloc((size_t)st.st_size);
	if (!insns)
		return fail(err, len, -ENOMEM, "export", NULL);
	if (pread(fd, insns, (size_t)st.st_size, 0) != st.st_size)
		return fail(err, len, -EIO, "read back", NULL);
	prog->len = (unsigned short)(st.st_size / sizeof(*insns));
	prog->filter = TAKE_PTR(insns);
	return 0;
}

int af_seccomp_prepare(int deny_errno, char *err, size_t errlen)
{
	return af_seccomp_prepare_ex(deny_errno, false, err, errlen);
}

int af_seccomp_prepare_ex(int deny_errno, bool ro_trunc, char *err,
			  size_t errlen)
{
	scmp_filter_ctx ctx;
	int r;

	if (deny_errno <= 0 || deny_errno > 4095)
		return fail(err, errlen, -EINVAL, "deny errno", NULL);
	af_seccomp_release();
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return fail(err, errlen, -ENOMEM, "init", NULL);
	r = build(ctx, deny_errno, ro_trunc, err, errlen);
	if (r == 0)
		r = export_prog(ctx, &prepared, err, errlen);
	seccomp_release(ctx);
	return r;
}

int af_seccomp_apply(void)
{
	if (!prepared.filter) {
		errno = EINVAL;
		return -EINVAL;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prepared, 0, 0) < 0)
		return -errno;
	return 0;
}

void af_seccomp_release(void)
{
	free(prepared.filter);
	prepared = (struct sock_fprog){ 0 };
}

const char *af_seccomp_rule_name(size_t i)
{
	if (i < ARRAY_SIZE(denied))
		return denied[i];
	i -= ARRAY_SIZE(denied);
	return i < ARRAY_SIZE(arg_rules) ? arg_rules[i] : NULL;
}
