/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What each hook decides, given the kernel objects it is passed: the LSM
 * programs (bpf/lsm.bpf.c) are one-line wrappers around these, and the
 * BPF_PROG_TEST_RUN wrappers (bpf/lsm_test.bpf.c) call them with objects
 * taken from real file descriptors. BPF only; after lsm_core.h.
 *
 * Overlayfs: an open of a workspace file also opens the file underneath
 * (the "backing" or "real" file) from inside the kernel. On 6.1 that second
 * open reaches file_open with the overlay's path but the real inode; later
 * kernels give it the real path, on another superblock. Either way it is
 * not decided again: the open the task asked for already was, on the path
 * it asked for. Copy-up and whiteouts work on the layers' superblocks,
 * which are not the workspace, so they are not ours to decide either.
 */
#ifndef AGENTFENSE_LSM_HOOKS_H
#define AGENTFENSE_LSM_HOOKS_H

#include "lsm_core.h"

#define AF_FMODE_WRITE	     0x2
#define AF_FMODE_EXEC	     0x20
#define AF_O_TRUNC	     01000
#define AF_PROT_WRITE	     0x2
#define AF_MAP_TYPE	     0x0f
#define AF_MAP_PRIVATE	     0x02
#define AF_VM_SHARED	     0x08
#define AF_RENAME_EXCHANGE   0x2
#define AF_FS_IOC_SETFLAGS   0x40086602u
#define AF_FS_IOC32_SETFLAGS 0x40046602u
#define AF_FS_IOC_FSSETXATTR 0x401c5820u

/* The kernel's own open of an overlay file's backing file (6.1). */
static __always_inline int af_is_backing(struct file *file)
{
	return file->f_inode != file->f_path.dentry->d_inode;
}

static __always_inline __u32 af_open_op(struct file *file, int is_dir)
{
	if (is_dir)
		return AF_OP_OPEN_DIR;
	if ((file->f_mode & AF_FMODE_WRITE) || (file->f_flags & AF_O_TRUNC))
		return AF_OP_OPEN_WRITE;
	/*
	 * An exec's open is marked in f_flags (__FMODE_EXEC); f_mode gets
	 * FMODE_EXEC too on some kernels only.
	 */
	if ((file->f_mode & AF_FMODE_EXEC) || (file->f_flags & AF_FMODE_EXEC))
		return AF_OP_EXEC;
	return AF_OP_OPEN_READ;
}

static __always_inline int af_hook_file_open(struct file *file)
{
	struct dentry *d = file->f_path.dentry;
	struct af_req r;
	int dir;

	/* Cheapest first: two loads tell the kernel's own backing opens. */
	if (af_is_backing(file) || !af_req_begin(&r))
		return 0;
	dir = af_is_dir(d);
	return af_check(&r, d, af_open_op(file, dir), dir);
}

/* Attribute flags (chattr) are changed through an fd of any mode. */
static __always_inline int af_hook_file_ioctl(struct file *file,
					      unsigned int cmd)
{
	struct af_req r;

	if (cmd != AF_FS_IOC_SETFLAGS && cmd != AF_FS_IOC32_SETFLAGS &&
	    cmd != AF_FS_IOC_FSSETXATTR)
		return 0;
	if (af_is_backing(file) || !af_req_begin(&r))
		return 0;
	return af_check(&r, file->f_path.dentry, AF_OP_FILEATTR,
			af_is_dir(file->f_path.dentry));
}

static __always_inline int
af_hook_mmap_file(struct file *file, unsigned long prot, unsigned long flags)
{
	struct af_req r;
	__u32 op = AF_OP_MMAP;

	if (!file || !af_req_begin(&r))
		return 0;
	if ((prot & AF_PROT_WRITE) && (flags & AF_MAP_TYPE) != AF_MAP_PRIVATE)
		op = AF_OP_MMAP_WRITE;
	return af_check(&r, file->f_path.dentry, op, 0);
}

/* Only making a shared file mapping writable changes the file. */
static __always_inline int
af_hook_mprotect(struct file *file, unsigned long vm_flags, unsigned long prot)
{
	struct af_req r;

	if (!file || !(prot & AF_PROT_WRITE) || !(vm_flags & AF_VM_SHARED))
		return 0;
	if (!af_req_begin(&r))
		return 0;
	return af_check(&r, file->f_path.dentry, AF_OP_MMAP_WRITE, 0);
}

/* An existing object: stat, or an operation that changes it. */
static __always_inline int af_hook_object(struct dentry *d, __u32 op)
{
	struct af_req r;

	if (!af_req_begin(&r))
		return 0;
	return af_check(&r, d, op, af_is_dir(d));
}

/* A new entry; its dentry is still negative, so its type comes from op. */
static __always_inline int af_hook_new_entry(struct dentry *d, __u32 op)
{
	struct af_req r;

	if (!af_req_begin(&r))
		return 0;
	return af_check(&r, d, op, op == AF_OP_MKDIR);
}

/* A hard link needs write on the file linked to, then a new entry. */
static __always_inline int af_hook_link(struct dentry *old_dentry,
					struct dentry *new_dentry)
{
	struct af_req r;

	if (!af_req_begin(&r))
		return 0;
	return af_check(&r, old_dentry, AF_OP_LINK_SRC, 0)
		       ?: af_check(&r, new_dentry, AF_OP_LINK_DST, 0);
}

/*
 * rename is two programs on the hook: what moves needs write (a directory:
 * on everything below it too, its subtree floor), and where it lands is a
 * new entry of its type; an exchange moves both ways, the second program's
 * half. Split, each verifies in a fraction of the steps four checks take in
 * one program on recent kernels. The kernel may run them in either order,
 * so their verdicts combine the same either way: ENOENT (a hidden path
 * reads as absent) wins over EACCES, and any other earlier verdict stands.
 */
static __always_inline int af_rename_verdict(int ret, int own)
{
	return own == -AF_LSM_ENOENT ? own : ret ?: own;
}

static __always_inline int af_hook_rename(int ret, struct dentry *old_dentry,
					  struct dentry *new_dentry)
{
	struct af_req r;
	int dir;

	if ((ret && ret != -AF_LSM_EACCES) || !af_req_begin(&r))
		return ret;
	dir = af_is_dir(old_dentry);
	return af_rename_verdict(
		ret,
		af_check(&r, old_dentry, AF_OP_RENAME_SRC, dir)
			?: af_check(&r, new_dentry, AF_OP_RENAME_DST, dir));
}

static __always_inline int af_hook_rename_exchange(int ret,
						   struct dentry *old_dentry,
						   struct dentry *new_dentry,
						   unsigned int flags)
{
	struct af_req r;
	int dir;

	if (!(flags & AF_RENAME_EXCHANGE) || (ret && ret != -AF_LSM_EACCES) ||
	    !af_req_begin(&r))
		return ret;
	dir = af_is_dir(new_dentry);
	return af_rename_verdict(
		ret,
		af_check(&r, new_dentry, AF_OP_RENAME_SRC, dir)
			?: af_check(&r, old_dentry, AF_OP_RENAME_DST, dir));
}

#endif
