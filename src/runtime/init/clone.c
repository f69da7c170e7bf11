// SPDX-License-Identifier: Apache-2.0
#include "clone.h"

#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__x86_64__)
/*
 * clone3 with a child stack needs a trampoline: the child wakes on the new,
 * empty stack and cannot return through libc's syscall(). It calls fn(arg)
 * and exits with its return value (fn normally execs instead).
 *   long af_clone3(struct clone_args *args, size_t size,
 *                  int (*fn)(void *), void *arg);
 */
long af_clone3(struct clone_args *args, size_t size, int (*fn)(void *),
	       void *arg);
__asm__(".text\n"
	".type af_clone3,@function\n"
	"af_clone3:\n"
	"	mov %rdx, %r8\n" /* fn and arg survive the syscall in r8/r9 */
	"	mov %rcx, %r9\n"
	"	mov $"
	"435"
	", %eax\n" /* __NR_clone3 */
	"	syscall\n"
	"	test %rax, %rax\n"
	"	jz 1f\n"
	"	ret\n"		  /* parent (pid) or error (-errno) */
	"1:	xor %ebp, %ebp\n" /* child: outermost frame */
	"	and $-16, %rsp\n"
	"	mov %r9, %rdi\n"
	"	call *%r8\n"
	"	mov %eax, %edi\n"
	"	mov $60, %eax\n" /* __NR_exit */
	"	syscall\n"
	"	hlt\n"
	".size af_clone3, .-af_clone3\n");

pid_t spawn_vfork_into(int cgroup_fd, int (*fn)(void *), void *arg, void *stack,
		       size_t stack_size)
{
	struct clone_args a;
	long r;

	memset(&a, 0, sizeof(a));
	a.flags = CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP;
	a.exit_signal = SIGCHLD;
	a.stack = (uint64_t)(uintptr_t)stack;
	a.stack_size = stack_size;
	a.cgroup = (uint64_t)cgroup_fd;
	r = af_clone3(&a, sizeof(a), fn, arg);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return (pid_t)r;
}
#else
/* Portable fallback: fork, then move into the cgroup (slower). */
pid_t spawn_vfork_into(int cgroup_fd, int (*fn)(void *), void *arg, void *stack,
		       size_t stack_size)
{
	pid_t pid;

	(void)stack;
	(void)stack_size;
	pid = fork();
	if (pid == 0) {
		int fd =
			openat(cgroup_fd, "cgroup.procs", O_WRONLY | O_CLOEXEC);

		if (fd < 0 || write(fd, "0", 1) != 1)
			_exit(127);
		close(fd);
		_exit(fn(arg));
	}
	return pid;
}
#endif
