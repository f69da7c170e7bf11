// SPDX-License-Identifier: Apache-2.0
/*
 * Telling a memory-limit kill apart. The kernel's OOM killer sends SIGKILL
 * like anything else; what marks it is the sandbox cgroup's oom_kill
 * counter. A command that ends with 137 while that counter went up is
 * reported as killed by the limit. With several commands running at once
 * in one sandbox, another command's SIGKILL in the same moment could be
 * taken for it: the message is a diagnosis, the exit code stays the
 * kernel's.
 */
#define LOG_MOD "runtime"
#include <stdio.h>

#include "agentfense/log.h"
#include "runtime_internal.h"

#define SIGKILL_EXIT 137

static bool oom_since(struct rt_sandbox *sb, uint64_t before)
{
	return sb->memory_limit && cg_sandbox_oom_kills(sb->cg) > before;
}

static unsigned long long mib(uint64_t bytes)
{
	return (unsigned long long)((bytes + (1 << 20) - 1) >> 20);
}

void rt_explain_oom(struct rt_sandbox *sb, uint64_t oom_before,
		    struct rt_exec_res *res)
{
	if (res->exit_code != SIGKILL_EXIT || !oom_since(sb, oom_before))
		return;
	res->oom_killed = true;
	snprintf(res->message, sizeof(res->message),
		 "killed: the sandbox's memory limit (%llu MiB) was reached",
		 mib(sb->memory_limit));
	log_info("sandbox %s: a command was killed at the memory limit",
		 sb->id);
}

void rt_explain_lost(struct rt_sandbox *sb, uint64_t oom_before,
		     struct rt_exec_res *res)
{
	if (!oom_since(sb, oom_before) || rt_sandbox_alive(sb))
		return;
	res->oom_killed = true;
	snprintf(res->message, sizeof(res->message),
		 "the sandbox stopped: its init was killed when the sandbox's "
		 "memory limit (%llu MiB) was reached",
		 mib(sb->memory_limit));
	log_warn("sandbox %s: its init was killed at the memory limit", sb->id);
}
