// SPDX-License-Identifier: Apache-2.0
/*
 * agentfense-idle: pid 1 of a Docker sandbox's container. Statically
 * linked, so it runs in any image; bind-mounted read-only by the daemon.
 * The container only lends its namespaces and root: commands are started
 * by agentfense-init from outside. As the pid namespace's reaper this
 * collects orphans that commands leave, and it exits on SIGTERM or SIGINT
 * (pid 1 gets no default signal actions).
 */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>

int main(void)
{
	sigset_t set;

	sigfillset(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);
	for (;;) {
		siginfo_t si;

		if (sigwaitinfo(&set, &si) < 0)
			continue;
		if (si.si_signo == SIGTERM || si.si_signo == SIGINT)
			return 0;
		if (si.si_signo == SIGCHLD)
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
	}
}
