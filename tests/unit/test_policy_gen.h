/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Generator of random rule sets and paths for the differential tests (unit,
 * BPF, same seed, same draws): small alphabets so that patterns and paths
 * meet often, every pattern construct, all three rule types.
 */
#ifndef TEST_POLICY_GEN_H
#define TEST_POLICY_GEN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/policy.h"

#ifndef REF_API
#define REF_API static __attribute__((unused))
#endif

REF_API uint64_t gen_state;

REF_API uint32_t gen_rand(void)
{
	/* xorshift64*: fixed seed, same sequence everywhere. */
	gen_state ^= gen_state >> 12;
	gen_state ^= gen_state << 25;
	gen_state ^= gen_state >> 27;
	return (gen_state * 0x2545f4914f6cdd1dull) >> 32;
}

/*
 * Rule sets to generate: `def`, or AF_POLICY_DIFF_SETS for slow runs
 * (valgrind, emulated VMs), which then skip the case-count target.
 */
REF_API int gen_sets(int def, bool *full)
{
	const char *v = getenv("AF_POLICY_DIFF_SETS");
	int n = v ? atoi(v) : 0;

	*full = n <= 0;
	if (!*full)
		printf("AF_POLICY_DIFF_SETS=%d: fewer cases than the target\n",
		       n);
	return *full ? def : n;
}

REF_API int gen_pick(int n)
{
	return gen_rand() % n;
}

REF_API void gen_name(char *out, size_t *o, const char *alphabet)
{
	int n = 1 + gen_pick(3);

	do {
		for (int k = 0; k < n; k++)
			out[*o + k] = alphabet[gen_pick(strlen(alphabet))];
	} while ((n == 1 && out[*o] == '.') ||
		 (n == 2 && out[*o] == '.' && out[*o + 1] == '.'));
	*o += n;
}

REF_API void gen_glob_comp(char *out, size_t *o)
{
	static const char *const atoms[] = { "a",   "b",    ".",    "?",
					     "*",   "[ab]", "[!a]", "[a-b]",
					     "\\*", "a",    "b",    "*" };
	int n = 1 + gen_pick(3);

	if (gen_pick(5) == 0) {
		memcpy(out + *o, "**", 2);
		*o += 2;
		return;
	}
	for (int k = 0; k < n; k++) {
		const char *a = atoms[gen_pick(12)];

		memcpy(out + *o, a, strlen(a));
		*o += strlen(a);
	}
}

struct gen_rules {
	int n;
	struct af_rule r[8];
	char pat[8][64];
};

REF_API void gen_rule_set(struct gen_rules *g)
{
	g->n = 1 + gen_pick(5);
	for (int i = 0; i < g->n; i++) {
		char *s = g->pat[i];
		size_t o = 0;
		int kind = gen_pick(10), ncomp = 1 + gen_pick(3);

		g->r[i].type = kind < 7	  ? AF_PAT_GLOB
			       : kind < 9 ? AF_PAT_DIRECTORY
					  : AF_PAT_FILE;
		if (kind == 7 && gen_pick(4) == 0)
			ncomp = 0;
		if (gen_pick(2))
			s[o++] = '/';
		for (int c = 0; c < ncomp; c++) {
			if (c)
				s[o++] = '/';
			if (g->r[i].type == AF_PAT_GLOB)
				gen_glob_comp(s, &o);
			else
				gen_name(s, &o, "ab.");
		}
		if (g->r[i].type != AF_PAT_FILE && gen_pick(6) == 0)
			s[o++] = '/';
		if (o == 0)
			s[o++] = '/';
		s[o] = '\0';
		g->r[i].pattern = s;
		g->r[i].pattern_len = 0;
		g->r[i].perm = 1 + gen_pick(4);
		g->r[i].priority = gen_pick(4) == 0 ? gen_pick(3) - 1 : 0;
	}
}

REF_API int gen_path(char *out, bool *is_dir)
{
	int n = gen_pick(5);
	size_t o = 0;

	out[o++] = '/';
	for (int c = 0; c < n; c++) {
		if (c)
			out[o++] = '/';
		gen_name(out, &o, "ab.z");
	}
	out[o] = '\0';
	*is_dir = n == 0 || gen_pick(2);
	return o;
}

#endif
