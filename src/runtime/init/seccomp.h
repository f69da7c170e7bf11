/* SPDX-License-Identifier: Apache-2.0 */
#ifndef AF_INIT_SECCOMP_H
#define AF_INIT_SECCOMP_H

#include <stdbool.h>
#include <stddef.h>

/*
 * The default system-call profile of sandboxed commands (docs/
 * security-model.md, "System calls"). agentfense-init builds it once,
 * then every command's vfork-style child installs it just before execve.
 */

/*
 * Build the profile with libseccomp and keep the compiled program in this
 * process's memory. Refused calls fail with deny_errno (EPERM in the
 * sandbox; tests pick a value no kernel path returns, to tell the filter's
 * refusal from the kernel's own). Returns 0, or -errno with errno set and
 * a reason in err.
 */
int af_seccomp_prepare(int deny_errno, char *err, size_t errlen);

/*
 * The same, adding the rules the landlock enforcer needs (ro_trunc): open
 * and openat refuse O_RDONLY|O_TRUNC with EACCES, openat2 is ENOSYS.
 */
int af_seccomp_prepare_ex(int deny_errno, bool ro_trunc, char *err,
			  size_t errlen);

/*
 * Install the prepared program on the calling process, with no_new_privs.
 * Makes syscalls only (safe in a child sharing our memory). Returns 0, or
 * -errno with errno set; -EINVAL when nothing was prepared.
 */
int af_seccomp_apply(void);

/* Free the prepared program (tests; init keeps it for its lifetime). */
void af_seccomp_release(void);

/*
 * The i-th system call the profile refuses, wholly or for some arguments
 * (NULL past the end): tests check that each has a try-syscall case.
 */
const char *af_seccomp_rule_name(size_t i);

#endif
