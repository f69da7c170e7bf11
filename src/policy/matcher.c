// SPDX-License-Identifier: Apache-2.0
/* af_policy_compile and user-space lookups through the shared walk. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MOD "policy"
#include "agentfense/log.h"
#include "../../bpf/policy_match.h"
#include "policy_internal.h"

static bool bad_component(const char *c, size_t n)
{
	return n == 0 || (n == 1 && c[0] == '.') ||
	       (n == 2 && c[0] == '.' && c[1] == '.');
}

/* The path is "/" or "/c1/.../cn": no empty, "." or ".." components. */
int policy_path_check(const char *path)
{
	const char *c, *end, *slash;
	size_t len;

	if (!path || path[0] != '/')
		return -EINVAL;
	len = strnlen(path, AF_PM_PATH_MAX);
	if (len >= AF_PM_PATH_MAX)
		return -EINVAL;
	end = path + len;
	for (c = path + 1; len > 1 && c <= end; c = slash + 1) {
		slash = memchr(c, '/', end - c);
		if (!slash)
			slash = end;
		if (bad_component(c, slash - c))
			return -EINVAL;
	}
	return len;
}

static int compile(const struct af_policy *p, unsigned stride,
		   struct af_matcher *m, char *err, size_t errlen)
{
	struct nfa nfa;
	struct dfa dfa;
	int r;

	r = nfa_build(p, &nfa);
	if (r == 0)
		r = nfa_canonicalize(p, &nfa);
	if (r < 0) {
		nfa_release(&nfa);
		return policy_errf(err, errlen, r,
				   "out of memory compiling policy");
	}
	r = dfa_build(p, &nfa, &dfa, err, errlen);
	if (r == 0) {
		dfa.start = DFA_START;
		r = dfa_levels(p, &dfa);
		if (r == 0)
			r = dfa_minimize(&dfa);
		if (r < 0)
			policy_errf(err, errlen, r,
				    "out of memory compiling policy");
	}
	if (r == 0)
		r = dfa_emit(&dfa, stride, m, err, errlen);
	dfa_release(&dfa);
	nfa_release(&nfa);
	return r;
}

int af_policy_compile_stride(const struct af_policy *p, unsigned stride,
			     struct af_matcher **out, char *err, size_t errlen)
{
	struct af_matcher *m;
	int r;

	*out = NULL;
	if (stride > 2)
		return policy_errf(err, errlen, -EINVAL, "no stride %u",
				   stride);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	r = compile(p, stride, m, err, errlen);
	if (r < 0) {
		af_matcher_free(m);
		return r;
	}
	log_debug("compiled %zu rules: %u states, %u classes, stride %u, "
		  "%u bytes",
		  p->n, m->stats.states, m->stats.classes, m->stats.stride,
		  m->stats.blob_bytes);
	*out = m;
	return 0;
}

int af_policy_compile(const struct af_policy *p, struct af_matcher **out,
		      char *err, size_t errlen)
{
	return af_policy_compile_stride(p, 0, out, err, errlen);
}

void af_matcher_free(struct af_matcher *m)
{
	if (!m)
		return;
	free(m->blob);
	free(m);
}

const void *af_matcher_blob(const struct af_matcher *m, size_t *size)
{
	*size = m->size;
	return m->blob;
}

static uint32_t info(const struct af_matcher *m, const char *path)
{
	int len = policy_path_check(path);

	if (len < 0)
		return AF_PM_INFO_NONE;
	return af_pm_walk(m->blob, (const __u8 *)path, 0, len);
}

enum af_perm af_matcher_lookup(const struct af_matcher *m, const char *path,
			       bool is_dir)
{
	return af_pm_level(info(m, path), is_dir);
}

enum af_perm af_matcher_floor(const struct af_matcher *m, const char *path)
{
	return af_pm_floor(info(m, path));
}

void af_matcher_get_stats(const struct af_matcher *m,
			  struct af_matcher_stats *st)
{
	*st = m->stats;
}
