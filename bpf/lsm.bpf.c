// SPDX-License-Identifier: GPL-2.0
/*
 * The bpf-lsm enforcer: one program per LSM hook, attached once for the
 * whole host, deciding the file operations of sandboxed tasks from their
 * sandbox's compiled rules (ARCHITECTURE §4, errno for errno). Each
 * program honours an earlier program's verdict, then asks lsm_hooks.h;
 * tasks outside a sandbox cost one map lookup.
 *
 * Hooks and what they cover:
 *   file_open            open for read / write / O_TRUNC, opendir, exec
 *   inode_getattr        stat, lstat (hidden paths: ENOENT)
 *   mmap_file, file_mprotect   mappings, shared writable ones need write
 *   file_ioctl           chattr (FS_IOC_SETFLAGS, FS_IOC_FSSETXATTR)
 *   path_truncate, path_chmod, path_chown, inode_setattr (utimes and the
 *   rest), inode_setxattr/removexattr, inode_set/remove_acl (6.2+)
 *   path_unlink, path_rmdir
 *   path_mknod (creat, open O_CREAT, mknod), path_mkdir, path_symlink
 *   path_link (source needs write, then a new entry)
 *   path_rename (the source with its subtree, then the new entry; a second
 *   program the other way for RENAME_EXCHANGE)
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "lsm_hooks.h"

char LICENSE[] SEC("license") = "GPL";

SEC("lsm/file_open")
int BPF_PROG(af_file_open, struct file *file, int ret)
{
	return ret ?: af_hook_file_open(file);
}

SEC("lsm/file_ioctl")
int BPF_PROG(af_file_ioctl, struct file *file, unsigned int cmd,
	     unsigned long arg, int ret)
{
	return ret ?: af_hook_file_ioctl(file, cmd);
}

SEC("lsm/mmap_file")
int BPF_PROG(af_mmap_file, struct file *file, unsigned long reqprot,
	     unsigned long prot, unsigned long flags, int ret)
{
	return ret ?: af_hook_mmap_file(file, prot, flags);
}

SEC("lsm/file_mprotect")
int BPF_PROG(af_file_mprotect, struct vm_area_struct *vma,
	     unsigned long reqprot, unsigned long prot, int ret)
{
	return ret ?: af_hook_mprotect(vma->vm_file, vma->vm_flags, prot);
}

SEC("lsm/inode_getattr")
int BPF_PROG(af_inode_getattr, const struct path *path, int ret)
{
	return ret ?: af_hook_object(path->dentry, AF_OP_STAT);
}

SEC("lsm/path_truncate")
int BPF_PROG(af_path_truncate, const struct path *path, int ret)
{
	return ret ?: af_hook_object(path->dentry, AF_OP_TRUNCATE);
}

SEC("lsm/path_chmod")
int BPF_PROG(af_path_chmod, const struct path *path, umode_t mode, int ret)
{
	return ret ?: af_hook_object(path->dentry, AF_OP_CHMOD);
}

SEC("lsm/path_chown")
int BPF_PROG(af_path_chown, const struct path *path, unsigned int uid,
	     unsigned int gid, int ret)
{
	return ret ?: af_hook_object(path->dentry, AF_OP_CHOWN);
}

/*
 * utimes and every other attribute change. The hook gained an idmap
 * argument in 6.3; the loader keeps the variant that fits the kernel.
 */
SEC("lsm/inode_setattr")
int BPF_PROG(af_inode_setattr, struct dentry *dentry, struct iattr *attr,
	     int ret)
{
	return ret ?: af_hook_object(dentry, AF_OP_SETATTR);
}

SEC("lsm/inode_setattr")
int BPF_PROG(af_inode_setattr_idmap, struct mnt_idmap *idmap,
	     struct dentry *dentry, struct iattr *attr, int ret)
{
	return ret ?: af_hook_object(dentry, AF_OP_SETATTR);
}

/* The first argument is a user namespace on 6.1, an idmap from 6.3. */
SEC("lsm/inode_setxattr")
int BPF_PROG(af_inode_setxattr, void *ns, struct dentry *dentry,
	     const char *name, const void *value, size_t size, int flags,
	     int ret)
{
	return ret ?: af_hook_object(dentry, AF_OP_XATTR);
}

SEC("lsm/inode_removexattr")
int BPF_PROG(af_inode_removexattr, void *ns, struct dentry *dentry,
	     const char *name, int ret)
{
	return ret ?: af_hook_object(dentry, AF_OP_XATTR);
}

/* 6.2+: POSIX ACLs no longer go through the xattr hooks. */
SEC("lsm/inode_set_acl")
int BPF_PROG(af_inode_set_acl, struct mnt_idmap *idmap, struct dentry *dentry,
	     const char *acl_name, struct posix_acl *kacl, int ret)
{
	return ret ?: af_hook_object(dentry, AF_OP_XATTR);
}

SEC("lsm/inode_remove_acl")
int BPF_PROG(af_inode_remove_acl, struct mnt_idmap *idmap,
	     struct dentry *dentry, const char *acl_name, int ret)
{
	return ret ?: af_hook_object(dentry, AF_OP_XATTR);
}

SEC("lsm/path_unlink")
int BPF_PROG(af_path_unlink, const struct path *dir, struct dentry *dentry,
	     int ret)
{
	return ret ?: af_hook_object(dentry, AF_OP_UNLINK);
}

SEC("lsm/path_rmdir")
int BPF_PROG(af_path_rmdir, const struct path *dir, struct dentry *dentry,
	     int ret)
{
	return ret ?: af_hook_object(dentry, AF_OP_RMDIR);
}

/* creat(2), open(O_CREAT) of a new file, and mknod(2). */
SEC("lsm/path_mknod")
int BPF_PROG(af_path_mknod, const struct path *dir, struct dentry *dentry,
	     umode_t mode, unsigned int dev, int ret)
{
	return ret ?: af_hook_new_entry(dentry, AF_OP_CREATE);
}

SEC("lsm/path_mkdir")
int BPF_PROG(af_path_mkdir, const struct path *dir, struct dentry *dentry,
	     umode_t mode, int ret)
{
	return ret ?: af_hook_new_entry(dentry, AF_OP_MKDIR);
}

SEC("lsm/path_symlink")
int BPF_PROG(af_path_symlink, const struct path *dir, struct dentry *dentry,
	     const char *old_name, int ret)
{
	return ret ?: af_hook_new_entry(dentry, AF_OP_SYMLINK);
}

SEC("lsm/path_link")
int BPF_PROG(af_path_link, struct dentry *old_dentry,
	     const struct path *new_dir, struct dentry *new_dentry, int ret)
{
	return ret ?: af_hook_link(old_dentry, new_dentry);
}

/* Two programs whose verdicts combine in either order: lsm_hooks.h. */
SEC("lsm/path_rename")
int BPF_PROG(af_path_rename, const struct path *old_dir,
	     struct dentry *old_dentry, const struct path *new_dir,
	     struct dentry *new_dentry, unsigned int flags, int ret)
{
	return af_hook_rename(ret, old_dentry, new_dentry);
}

SEC("lsm/path_rename")
int BPF_PROG(af_path_rename_exchange, const struct path *old_dir,
	     struct dentry *old_dentry, const struct path *new_dir,
	     struct dentry *new_dentry, unsigned int flags, int ret)
{
	return af_hook_rename_exchange(ret, old_dentry, new_dentry, flags);
}
