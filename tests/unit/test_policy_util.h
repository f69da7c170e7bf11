/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers shared by the policy unit tests: rule shorthands, a fixture. */
#ifndef TEST_POLICY_UTIL_H
#define TEST_POLICY_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cmocka.h>

#include "agentfense/policy.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))
#define GLOB(p, l, prio)                                          \
	{                                                         \
		.pattern = (p), .type = AF_PAT_GLOB, .perm = (l), \
		.priority = (prio)                                \
	}
#define DIR(p, l, prio)                                                \
	{                                                              \
		.pattern = (p), .type = AF_PAT_DIRECTORY, .perm = (l), \
		.priority = (prio)                                     \
	}
#define FILE_(p, l, prio)                                         \
	{                                                         \
		.pattern = (p), .type = AF_PAT_FILE, .perm = (l), \
		.priority = (prio)                                \
	}

#define NONE  AF_PERM_NONE
#define VIEW  AF_PERM_VIEW
#define READ  AF_PERM_READ
#define WRITE AF_PERM_WRITE

struct fixture {
	struct af_policy *p;
	struct af_matcher *m;
};

static inline void load(struct fixture *f, const struct af_rule *r, size_t n)
{
	char err[256] = "";

	if (af_policy_new(r, n, &f->p, err, sizeof(err)))
		fail_msg("af_policy_new: %s", err);
	if (af_policy_compile(f->p, &f->m, err, sizeof(err)))
		fail_msg("af_policy_compile: %s", err);
}

static inline void unload(struct fixture *f)
{
	af_matcher_free(f->m);
	af_policy_free(f->p);
}

/* Level from the matcher; explain must agree. */
static inline int level(const struct fixture *f, const char *path, bool is_dir)
{
	enum af_perm got = af_matcher_lookup(f->m, path, is_dir);

	if (af_policy_explain(f->p, path, is_dir, NULL) != got)
		fail_msg("%s: explain and matcher disagree", path);
	return got;
}

static inline void expect_level(const struct fixture *f, const char *path,
				bool is_dir, int want)
{
	int got = level(f, path, is_dir);

	if (got != want)
		fail_msg("%s%s: level %d, want %d", path,
			 is_dir ? " (dir)" : "", got, want);
}

#endif
