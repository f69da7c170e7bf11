// SPDX-License-Identifier: GPL-2.0
/*
 * The trace audit source (bpf/audit_trace.h): the file operations of
 * sandboxed tasks, from tracepoints, on kernels where the bpf-lsm enforcer
 * (which reports its own decisions) does not run.
 *
 * Every system call of every task passes sys_exit: one that is not a file
 * call below returns after a compare chain on its number; a successful one
 * returns there too unless some sandbox records allowed operations. Then a
 * task's sandbox comes from its task storage (af_current_sandbox), and for
 * a task outside any sandbox from a cgroup walk and a hash lookup.
 *
 * The path of a record, most faithful first:
 *  - an object the call resolved and holds open (a successful open, the fd
 *    of ftruncate/fchmod/fchown, the binary of an exec): its workspace path
 *    from the kernel's dentry, exactly as bpf-lsm reports it;
 *  - otherwise the name the process passed, read from its memory when the
 *    call returns (AF_AUDIT_F_AS_PASSED): absolute, or joined to its cwd or
 *    dirfd when that directory is in the workspace or is the sandbox's root,
 *    else kept relative (AF_AUDIT_F_BASE_UNKNOWN). "." and ".." are folded
 *    by the daemon, by name; symbolic links are not followed.
 *
 * Decisions: a call that failed with EACCES or EPERM (or EXDEV for link and
 * rename: Landlock's refusal to reparent) is a denial and always recorded;
 * a call that succeeded is allowed and recorded as the sandbox's mode says
 * (only in the workspace); other failures are not policy decisions.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "audit_calls.h"
#include "audit_event.h"
#include "audit_trace.h"
#include "lsm_decide.h"
#include "lsm_path.h"
#include "task_fd.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_FMODE_WRITE	 0x2
#define AF_FMODE_CREATED 0x100000
#define AF_TRACE_S_IFMT	 00170000
#define AF_TRACE_S_IFDIR 0040000

/* Depth of sandbox cgroups in the v2 hierarchy (set by the loader). */
const volatile int sandbox_cg_level = 2;
/* Wake the reader only past this many unread bytes (set by the loader). */
const volatile __u64 wakeup_bytes = AF_AUDIT_RINGBUF_BYTES / 8;

/* Events lost because the ring buffer was full or no scratch was had. */
__u64 dropped = 0;
/* Bumped by the loader whenever a sandbox leaves audit_sandboxes. */
__u64 sandboxes_gen = 0;
/* Sandboxes whose mode records allowed operations (the loader counts). */
__u32 allowed_wanted = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AF_AUDIT_SANDBOXES_MAX);
	__type(key, __u64);
	__type(value, struct af_audit_sandbox);
} audit_sandboxes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, AF_AUDIT_RINGBUF_BYTES);
} audit_trace_rb SEC(".maps");

struct af_trace_scratch {
	struct af_audit_event ev;
	/* A name joined to its directory may run past ev.path: cut later. */
	char spill[AF_PM_PATH_MAX];
	/* Dentry walks, right-aligned (bpf/lsm_path.h). */
	__u8 buf[AF_LSM_BUF_BYTES];
};

/*
 * Per CPU, one slot per program: runs of one program on one CPU never
 * overlap (the kernel skips a nested run), and each program has its own.
 */
enum { AF_SCRATCH_SYS_EXIT, AF_SCRATCH_EXEC, AF_SCRATCH_SLOTS };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, AF_SCRATCH_SLOTS);
	__type(key, __u32);
	__type(value, struct af_trace_scratch);
} audit_scratch SEC(".maps");

/* A task's sandbox, as last looked up (valid while gen is current). */
struct af_trace_task {
	__u64 gen;
	__u64 cgid;
	__u64 ws_dev;
	__u32 mode;
	__u32 reserved;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct af_trace_task);
} audit_tasks SEC(".maps");

/*
 * The sandbox of the current task: its cached copy, else (and then cached)
 * the cgroup walk and hash lookup, which cost more than all the rest of a
 * call's check. A task stays in its sandbox's cgroup subtree for life; a
 * sandbox leaving the map bumps sandboxes_gen, which voids every copy.
 * Tasks outside sandboxes are not cached: they may yet move into one.
 */
static __always_inline int af_current_sandbox(struct af_trace_task *out)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 gen = *(volatile __u64 *)&sandboxes_gen;
	struct af_audit_sandbox *sb;
	struct af_trace_task *c;

	c = bpf_task_storage_get(&audit_tasks, task, 0, 0);
	if (c && c->gen == gen) {
		*out = *c;
		return 1;
	}
	out->cgid = bpf_get_current_ancestor_cgroup_id(sandbox_cg_level);
	sb = bpf_map_lookup_elem(&audit_sandboxes, &out->cgid);
	if (!sb || !sb->ws_dev)
		return 0;
	out->gen = gen;
	out->ws_dev = sb->ws_dev;
	out->mode = sb->mode;
	out->reserved = 0;
	if (!c)
		c = bpf_task_storage_get(&audit_tasks, task, 0,
					 BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (c) /* else uncached: the next call looks it up again */
		*c = *out;
	return 1;
}

static __always_inline struct af_trace_scratch *af_scratch(__u32 slot)
{
	return bpf_map_lookup_elem(&audit_scratch, &slot);
}

/* A record lost: counted for everyone and for its sandbox, never silent. */
static __always_inline void af_lost(__u64 cgid)
{
	struct af_audit_sandbox *sb;

	__sync_fetch_and_add(&dropped, 1);
	sb = bpf_map_lookup_elem(&audit_sandboxes, &cgid);
	if (sb)
		__sync_fetch_and_add(&sb->dropped, 1);
}

static __always_inline int af_writes(__u32 op)
{
	return af_lsm_op_need(op) == AF_LEVEL_WRITE;
}

static __always_inline void af_header(struct af_trace_scratch *s, __u64 cgid,
				      __u32 op, int err)
{
	__u64 id = bpf_get_current_pid_tgid();

	s->ev.ts_ns = bpf_ktime_get_ns();
	s->ev.cgroup_id = cgid;
	s->ev.pid = id >> 32;
	s->ev.tid = (__u32)id;
	s->ev.uid = (__u32)bpf_get_current_uid_gid();
	s->ev.op = op;
	s->ev.decision = err ? AF_AUDIT_DENY : AF_AUDIT_ALLOW;
	s->ev.err = err;
	s->ev.flags = 0;
	s->ev.path_len = 0;
	bpf_get_current_comm(s->ev.comm, sizeof(s->ev.comm));
}

static __always_inline void af_send(struct af_trace_scratch *s)
{
	__u64 size = AF_AUDIT_EVENT_SIZE((__u64)s->ev.path_len);

	barrier_var(size);
	if (size > sizeof(s->ev))
		size = sizeof(s->ev);
	/* Woken only past wakeup_bytes (audit_event.h says why). */
	if (bpf_ringbuf_output(&audit_trace_rb, &s->ev, size,
			       AF_RB_WAKE_FLAG(&audit_trace_rb, wakeup_bytes)))
		af_lost(s->ev.cgroup_id);
}

/*
 * ev.path = "/workspace" + d's path. 0, or -1 when d is not in the
 * workspace; a path that cannot be walked is "?" (AF_AUDIT_F_UNRESOLVED).
 */
static __noinline int af_exact_path(struct af_trace_scratch *s,
				    struct dentry *d, __u64 ws_dev)
{
	__u64 len;
	int pos;

	if (!d || d->d_sb->s_dev != ws_dev)
		return -1;
	pos = af_path_of(d, s->buf);
	if (pos < 0 || pos >= AF_PM_PATH_MAX) {
		s->ev.flags |= AF_AUDIT_F_UNRESOLVED;
		s->ev.path[0] = '?';
		s->ev.path[1] = '\0';
		s->ev.path_len = 1;
		return 0;
	}
	__builtin_memcpy(s->ev.path, AF_LSM_WORKSPACE, AF_LSM_WORKSPACE_LEN);
	len = AF_PM_PATH_MAX - (__u64)pos;
	barrier_var(len);
	if (len == 1 || len > AF_PM_PATH_MAX)
		len = 0; /* the root: "/workspace" */
	bpf_probe_read_kernel(s->ev.path + AF_LSM_WORKSPACE_LEN, len,
			      s->buf + (AF_PM_PATH_MAX - len));
	s->ev.path[AF_LSM_WORKSPACE_LEN + len] = '\0';
	s->ev.path_len = AF_LSM_WORKSPACE_LEN + len;
	return 0;
}

/* The directory a relative name of the current task starts from. */
static __always_inline struct dentry *af_base(struct task_struct *t, int dfd)
{
	struct file *f;

	if (dfd == AF_AT_FDCWD)
		return t->fs->pwd.dentry;
	f = af_fd_file(t, dfd);
	return f ? f->f_path.dentry : NULL;
}

/* The directory part of a relative name: its length, or -1 if unknown. */
static __always_inline int af_join_base(struct af_trace_scratch *s, int dfd,
					__u64 ws_dev)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct dentry *base = af_base(t, dfd);

	if (base && af_exact_path(s, base, ws_dev) == 0 &&
	    !(s->ev.flags & AF_AUDIT_F_UNRESOLVED))
		return s->ev.path_len;
	s->ev.flags &= ~AF_AUDIT_F_UNRESOLVED;
	/* The sandbox's own root (a relative name from "/"). */
	if (base && base == t->fs->root.dentry)
		return 0;
	return -1;
}

/*
 * ev.path = the name the process passed (user memory, or kernel memory
 * for an exec's file name), joined to its directory. 0, or -1 when the
 * name cannot be read.
 */
static __noinline int af_passed_path(struct af_trace_scratch *s,
				     const char *name, int dfd, __u64 ws_dev,
				     int kernel)
{
	char c0 = 0;
	__u64 off = 0;
	long n;

	s->ev.flags |= AF_AUDIT_F_AS_PASSED;
	if (kernel ? bpf_probe_read_kernel(&c0, 1, name)
		   : bpf_probe_read_user(&c0, 1, name))
		return -1;
	if (c0 != '/') {
		int base = af_join_base(s, dfd, ws_dev);

		if (base < 0) {
			s->ev.flags |= AF_AUDIT_F_BASE_UNKNOWN;
		} else {
			off = (__u64)base;
			barrier_var(off);
			if (off > AF_AUDIT_PATH_MAX - 2)
				off = AF_AUDIT_PATH_MAX - 2;
			s->ev.path[off++] = '/';
		}
	}
	barrier_var(off);
	if (off > AF_AUDIT_PATH_MAX - 1)
		off = AF_AUDIT_PATH_MAX - 1;
	n = kernel ? bpf_probe_read_kernel_str(s->ev.path + off, AF_PM_PATH_MAX,
					       name)
		   : bpf_probe_read_user_str(s->ev.path + off, AF_PM_PATH_MAX,
					     name);
	if (n <= 0)
		return -1;
	if (n >= AF_PM_PATH_MAX)
		s->ev.flags |= AF_AUDIT_F_TRUNCATED;
	n += off - 1;
	if (n > AF_AUDIT_PATH_MAX - 1) {
		n = AF_AUDIT_PATH_MAX - 1;
		s->ev.path[AF_AUDIT_PATH_MAX - 1] = '\0';
		s->ev.flags |= AF_AUDIT_F_TRUNCATED;
	}
	s->ev.path_len = n;
	return 0;
}

/* Allowed operations are recorded in the workspace only. */
static __always_inline int af_in_workspace(struct af_trace_scratch *s)
{
	char c = s->ev.path[AF_LSM_WORKSPACE_LEN];

	if (s->ev.flags & AF_AUDIT_F_BASE_UNKNOWN)
		return 0;
	if (!(s->ev.flags & AF_AUDIT_F_AS_PASSED))
		return 1; /* exact paths are only taken in the workspace */
	if (c != '/' && c != '\0')
		return 0;
	AF_PM_UNROLL
	for (int i = 0; i < AF_LSM_WORKSPACE_LEN; i++)
		if (s->ev.path[i] != AF_LSM_WORKSPACE[i])
			return 0;
	return 1;
}

/*
 * One name of a call that was not left holding its object, as passed (the
 * header is in s already).
 */
static __noinline void af_report_name(struct af_trace_scratch *s,
				      const char *name, int dfd, __u64 ws_dev)
{
	if (af_passed_path(s, name, dfd, ws_dev, 0) < 0)
		return;
	if (s->ev.err || af_in_workspace(s))
		af_send(s);
}

/* The object behind a file: its exact path, in the workspace only. */
static __always_inline void af_report_file(const struct af_trace_task *sb,
					   struct af_trace_scratch *s, __u32 op,
					   int err, struct file *f)
{
	af_header(s, sb->cgid, op, err);
	if (af_exact_path(s, f->f_path.dentry, sb->ws_dev) == 0)
		af_send(s);
}

static __always_inline __u32 af_file_op(struct file *f)
{
	struct inode *inode = f->f_inode;

	if (inode && (inode->i_mode & AF_TRACE_S_IFMT) == AF_TRACE_S_IFDIR)
		return AF_OP_OPEN_DIR;
	if ((f->f_mode & AF_FMODE_WRITE) || (f->f_flags & AF_O_TRUNC))
		return AF_OP_OPEN_WRITE;
	return AF_OP_OPEN_READ;
}

/* A successful open: the file it made (and so created), as bpf-lsm sees. */
static __always_inline void af_opened(const struct af_trace_task *sb,
				      struct af_trace_scratch *s, int fd)
{
	struct file *f = af_fd_file(bpf_get_current_task_btf(), fd);
	__u32 op;

	if (!f)
		return;
	op = af_file_op(f);
	if ((f->f_mode & AF_FMODE_CREATED) && af_audit_wanted(sb->mode, 0, 1))
		af_report_file(sb, s, AF_OP_CREATE, 0, f);
	if (af_audit_wanted(sb->mode, 0, af_writes(op)))
		af_report_file(sb, s, op, 0, f);
}

SEC("tp_btf/sys_exit")
int BPF_PROG(af_sys_exit, struct pt_regs *regs, long ret)
{
	struct af_call c = {};
	struct af_trace_task sb;
	struct af_trace_scratch *s;
	struct file *f;
	int err = ret < 0 ? (int)-ret : 0;

	if (!af_decode(regs, &c))
		return 0;
	/*
	 * Before the sandbox is looked up: a failure that is not a refusal is
	 * never recorded, and most calls succeed, which with no sandbox
	 * recording allowed operations ends here too.
	 */
	if (err ? !af_is_denial(err, c.op)
		: !*(volatile __u32 *)&allowed_wanted)
		return 0;
	if (!af_current_sandbox(&sb))
		return 0;
	if (!err &&
	    (c.exec || !af_audit_wanted(sb.mode, 0, c.open || af_writes(c.op))))
		return 0; /* a successful exec is sched_process_exec's */
	s = af_scratch(AF_SCRATCH_SYS_EXIT);
	if (!s) {
		af_lost(sb.cgid);
		return 0;
	}
	if (!err && c.open) {
		af_opened(&sb, s, (int)ret);
		return 0;
	}
	if (c.fd >= 0) {
		f = af_fd_file(bpf_get_current_task_btf(), c.fd);
		if (f)
			af_report_file(&sb, s, c.op, err, f);
		return 0;
	}
	af_header(s, sb.cgid, c.op, err);
	af_report_name(s, c.name, c.dfd, sb.ws_dev);
	if (!c.op2)
		return 0;
	af_header(s, sb.cgid, c.op2, err);
	af_report_name(s, c.name2, c.dfd2, sb.ws_dev);
	return 0;
}

/*
 * A successful exec: the binary's exact path, or for a script (whose file
 * the kernel has let go by now) the name it was run by.
 */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(af_exec, struct task_struct *p, pid_t old_pid,
	     struct linux_binprm *bprm)
{
	struct af_trace_task sb;
	struct af_trace_scratch *s;

	if (!*(volatile __u32 *)&allowed_wanted || !af_current_sandbox(&sb) ||
	    !af_audit_wanted(sb.mode, 0, 0))
		return 0;
	s = af_scratch(AF_SCRATCH_EXEC);
	if (!s) {
		af_lost(sb.cgid);
		return 0;
	}
	af_header(s, sb.cgid, AF_OP_EXEC, 0);
	if (af_exact_path(s, bprm->file->f_path.dentry, sb.ws_dev) == 0) {
		af_send(s);
		return 0;
	}
	if (bprm->filename == bprm->interp)
		return 0; /* a binary outside the workspace */
	if (af_passed_path(s, bprm->filename, AF_AT_FDCWD, sb.ws_dev, 1) == 0 &&
	    af_in_workspace(s))
		af_send(s);
	return 0;
}
