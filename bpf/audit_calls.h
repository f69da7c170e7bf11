/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The file system calls the trace audit source reports (bpf/audit_trace.bpf.c)
 * and what each does to which names, decoded from the registers of its
 * sys_exit. BPF only; after vmlinux.h, the libbpf headers and bpf/lsm.h.
 */
#ifndef AGENTFENSE_AUDIT_CALLS_H
#define AGENTFENSE_AUDIT_CALLS_H

#include "lsm.h"

#define AF_AT_FDCWD	(-100)
#define AF_AT_REMOVEDIR 0x200
#define AF_O_ACCMODE	03
#define AF_O_CREAT	0100
#define AF_O_EXCL	0200
#define AF_O_TRUNC	01000
#define AF_O_DIRECTORY	0200000
#define AF_E_PERM	1
#define AF_E_ACCES	13
#define AF_E_XDEV	18

/* x86_64 system call numbers (sandboxes run the native ABI only). */
enum {
	NR_OPEN = 2,
	NR_EXECVE = 59,
	NR_TRUNCATE = 76,
	NR_FTRUNCATE = 77,
	NR_RENAME = 82,
	NR_MKDIR = 83,
	NR_RMDIR = 84,
	NR_CREAT = 85,
	NR_LINK = 86,
	NR_UNLINK = 87,
	NR_SYMLINK = 88,
	NR_CHMOD = 90,
	NR_FCHMOD = 91,
	NR_CHOWN = 92,
	NR_FCHOWN = 93,
	NR_LCHOWN = 94,
	NR_MKNOD = 133,
	NR_OPENAT = 257,
	NR_MKDIRAT = 258,
	NR_MKNODAT = 259,
	NR_FCHOWNAT = 260,
	NR_UNLINKAT = 263,
	NR_RENAMEAT = 264,
	NR_LINKAT = 265,
	NR_SYMLINKAT = 266,
	NR_FCHMODAT = 268,
	NR_RENAMEAT2 = 316,
	NR_EXECVEAT = 322,
	NR_OPENAT2 = 437,
	NR_FCHMODAT2 = 452,
};

/* One file system call: what it did to which names. */
struct af_call {
	__u32 op, op2;	  /* op2: the second name's (link, rename), or 0 */
	int dfd, dfd2;	  /* what each name is relative to */
	const char *name; /* user pointers */
	const char *name2;
	int fd;		 /* >= 0: the object is this open fd */
	__u32 oflags;	 /* open flags */
	__u8 open, exec; /* an open (op from the file), an exec */
};

static __always_inline __u32 af_open_op_flags(__u32 fl)
{
	if ((fl & AF_O_CREAT) && (fl & AF_O_EXCL))
		return AF_OP_CREATE;
	if ((fl & AF_O_ACCMODE) || (fl & AF_O_TRUNC))
		return AF_OP_OPEN_WRITE;
	return fl & AF_O_DIRECTORY ? AF_OP_OPEN_DIR : AF_OP_OPEN_READ;
}

static __always_inline void af_at(struct af_call *c, __u32 op, long dfd,
				  long name)
{
	c->op = op;
	c->dfd = (int)dfd;
	c->name = (const char *)name;
}

static __always_inline void af_at2(struct af_call *c, __u32 op, long dfd,
				   long name, long dfd2, long name2)
{
	af_at(c, op, dfd, name);
	c->op2 = op == AF_OP_LINK_SRC ? AF_OP_LINK_DST : AF_OP_RENAME_DST;
	c->dfd2 = (int)dfd2;
	c->name2 = (const char *)name2;
}

static __always_inline void af_open(struct af_call *c, long dfd, long name,
				    __u32 fl)
{
	af_at(c, af_open_op_flags(fl), dfd, name);
	c->oflags = fl;
	c->open = 1;
}

/* 1 when nr is a file call we report, with c filled from its arguments. */
static __always_inline int af_decode(struct pt_regs *regs, struct af_call *c)
{
	long a0 = regs->di, a1 = regs->si, a2 = regs->dx, a3 = regs->r10;
	__u64 how = 0;

	c->fd = -1;
	switch (regs->orig_ax) {
	case NR_OPEN:
		af_open(c, AF_AT_FDCWD, a0, a1);
		break;
	case NR_CREAT:
		af_open(c, AF_AT_FDCWD, a0, AF_O_CREAT | AF_O_TRUNC | 1);
		c->op = AF_OP_CREATE;
		break;
	case NR_OPENAT:
		af_open(c, a0, a1, a2);
		break;
	case NR_OPENAT2:
		bpf_probe_read_user(&how, sizeof(how), (void *)a2);
		af_open(c, a0, a1, (__u32)how);
		break;
	case NR_EXECVE:
		af_at(c, AF_OP_EXEC, AF_AT_FDCWD, a0);
		c->exec = 1;
		break;
	case NR_EXECVEAT:
		af_at(c, AF_OP_EXEC, a0, a1);
		c->exec = 1;
		break;
	case NR_TRUNCATE:
		af_at(c, AF_OP_TRUNCATE, AF_AT_FDCWD, a0);
		break;
	case NR_FTRUNCATE:
		c->op = AF_OP_TRUNCATE;
		c->fd = (int)a0;
		break;
	case NR_UNLINK:
		af_at(c, AF_OP_UNLINK, AF_AT_FDCWD, a0);
		break;
	case NR_RMDIR:
		af_at(c, AF_OP_RMDIR, AF_AT_FDCWD, a0);
		break;
	case NR_UNLINKAT:
		af_at(c, a2 & AF_AT_REMOVEDIR ? AF_OP_RMDIR : AF_OP_UNLINK, a0,
		      a1);
		break;
	case NR_MKDIR:
		af_at(c, AF_OP_MKDIR, AF_AT_FDCWD, a0);
		break;
	case NR_MKDIRAT:
		af_at(c, AF_OP_MKDIR, a0, a1);
		break;
	case NR_MKNOD:
		af_at(c, AF_OP_CREATE, AF_AT_FDCWD, a0);
		break;
	case NR_MKNODAT:
		af_at(c, AF_OP_CREATE, a0, a1);
		break;
	case NR_SYMLINK: /* the link's name is the entry made */
		af_at(c, AF_OP_SYMLINK, AF_AT_FDCWD, a1);
		break;
	case NR_SYMLINKAT:
		af_at(c, AF_OP_SYMLINK, a1, a2);
		break;
	case NR_RENAME:
		af_at2(c, AF_OP_RENAME_SRC, AF_AT_FDCWD, a0, AF_AT_FDCWD, a1);
		break;
	case NR_RENAMEAT:
	case NR_RENAMEAT2:
		af_at2(c, AF_OP_RENAME_SRC, a0, a1, a2, a3);
		break;
	case NR_LINK:
		af_at2(c, AF_OP_LINK_SRC, AF_AT_FDCWD, a0, AF_AT_FDCWD, a1);
		break;
	case NR_LINKAT:
		af_at2(c, AF_OP_LINK_SRC, a0, a1, a2, a3);
		break;
	case NR_CHMOD:
		af_at(c, AF_OP_CHMOD, AF_AT_FDCWD, a0);
		break;
	case NR_FCHMODAT:
	case NR_FCHMODAT2:
		af_at(c, AF_OP_CHMOD, a0, a1);
		break;
	case NR_FCHMOD:
		c->op = AF_OP_CHMOD;
		c->fd = (int)a0;
		break;
	case NR_CHOWN:
	case NR_LCHOWN:
		af_at(c, AF_OP_CHOWN, AF_AT_FDCWD, a0);
		break;
	case NR_FCHOWNAT:
		af_at(c, AF_OP_CHOWN, a0, a1);
		break;
	case NR_FCHOWN:
		c->op = AF_OP_CHOWN;
		c->fd = (int)a0;
		break;
	default:
		return 0;
	}
	return 1;
}

static __always_inline int af_is_denial(int err, __u32 op)
{
	return err == AF_E_ACCES || err == AF_E_PERM ||
	       (err == AF_E_XDEV &&
		(op == AF_OP_LINK_SRC || op == AF_OP_RENAME_SRC));
}

#endif
