/* SPDX-License-Identifier: Apache-2.0 */
#ifndef AF_INIT_CLONE_H
#define AF_INIT_CLONE_H

#include <sys/types.h>

/*
 * Start fn(arg) in a child that shares our memory until it execs
 * (CLONE_VM|CLONE_VFORK, as posix_spawn does) and is born directly in the
 * cgroup behind cgroup_fd (CLONE_INTO_CGROUP). Both matter for speed here:
 * no page tables are copied, and no cgroup migration (a write lock on the
 * cgroup threadgroup rwsem) is paid. fn runs on `stack` and must only make
 * syscalls (no allocation, no writes to shared state) before execve.
 * Returns the child's pid, or -1 with errno set.
 */
pid_t spawn_vfork_into(int cgroup_fd, int (*fn)(void *), void *arg, void *stack,
		       size_t stack_size);

#endif
