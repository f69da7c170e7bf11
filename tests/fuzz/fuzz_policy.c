// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer target for the pattern parser and the compiler. The input is
 * lines: "@path" lines are paths to ask about, any other line is a rule
 * whose first byte picks type, permission and priority and whose rest
 * (NULs included) is the pattern. Properties checked:
 *  - validation agrees with the reference matcher's parser;
 *  - a valid policy compiles (or is refused with -E2BIG), in both blob
 *    formats (stride 1 for half the inputs, it costs a compile), and
 *    every lookup, floor and explain agrees with the
 *    reference matcher (tests/unit/test_policy_ref.h);
 *  - malformed paths are none; nothing crashes or leaks (ASan, UBSan).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/log.h"
#include "agentfense/policy.h"
#include "test_policy_ref.h"

#define MAX_RULES   6
#define MAX_PATHS   8
#define MAX_PATTERN 64
#define MAX_PATH    128

struct input {
	int nrules, npaths;
	struct af_rule rules[MAX_RULES];
	char pats[MAX_RULES][MAX_PATTERN + 1];
	char paths[MAX_PATHS + 4][MAX_PATH + 1];
};

static void parse(const uint8_t *data, size_t size, struct input *in)
{
	static const char *const fixed[] = { "/", "/a", "/a/b", "/.env" };

	memset(in, 0, sizeof(*in));
	for (size_t i = 0; i < size;) {
		const uint8_t *nl = memchr(data + i, '\n', size - i);
		size_t len = (nl ? (size_t)(nl - data) : size) - i;
		const uint8_t *line = data + i;

		i += len + 1;
		if (len && line[0] == '@' && in->npaths < MAX_PATHS) {
			size_t n = strnlen((const char *)line + 1, len - 1);

			n = n < MAX_PATH ? n : MAX_PATH;
			memcpy(in->paths[in->npaths++], line + 1, n);
		} else if (len && in->nrules < MAX_RULES) {
			int k = in->nrules++;
			uint8_t c = line[0];

			len = len - 1 < MAX_PATTERN ? len - 1 : MAX_PATTERN;
			memcpy(in->pats[k], line + 1, len);
			in->rules[k] = (struct af_rule){
				.pattern = in->pats[k],
				.type = c & 3,
				.perm = (c >> 2) & 7,
				.priority = ((c >> 5) & 3) - 1,
				.pattern_len = len,
			};
		}
	}
	for (size_t k = 0; k < 4; k++)
		strcpy(in->paths[in->npaths++], fixed[k]);
}

static bool valid_path(const char *path)
{
	size_t len = strlen(path);

	if (path[0] != '/')
		return false;
	for (size_t i = 1; len > 1 && i <= len;) {
		size_t j = i;

		while (j < len && path[j] != '/')
			j++;
		if (j == i || (j - i == 1 && path[i] == '.') ||
		    (j - i == 2 && path[i] == '.' && path[i + 1] == '.'))
			return false;
		i = j + 1;
	}
	return true;
}

static void mismatch(const struct input *in, const char *path, const char *what,
		     int got, int want)
{
	fprintf(stderr, "MISMATCH %s on \"%s\": compiled %d, reference %d\n",
		what, path, got, want);
	for (int i = 0; i < in->nrules; i++)
		fprintf(stderr, "  rule %d: type %d perm %d prio %d \"%s\"\n",
			i, in->rules[i].type, in->rules[i].perm,
			in->rules[i].priority, in->pats[i]);
	__builtin_trap();
}

static void check_path(const struct input *in, const struct ref_policy *rp,
		       const struct af_policy *p, struct af_matcher *const *m,
		       const char *path)
{
	int len = strlen(path);

	if (!valid_path(path)) {
		for (int s = 0; s < 2; s++)
			if (af_matcher_lookup(m[s], path, true) != AF_PERM_NONE)
				mismatch(in, path, "malformed path", 0, 1);
		return;
	}
	for (int d = 0; d < 2; d++) {
		int want = ref_level(rp, path, len, d);

		for (int s = 0; s < 2; s++)
			if ((int)af_matcher_lookup(m[s], path, d) != want)
				mismatch(in, path, d ? "dir level" : "level",
					 af_matcher_lookup(m[s], path, d),
					 want);
		if ((int)af_policy_explain(p, path, d, NULL) != want)
			mismatch(in, path, "explain", 0, want);
	}
	for (int s = 0; s < 2; s++)
		if ((int)af_matcher_floor(m[s], path) !=
		    ref_floor(rp, path, len))
			mismatch(in, path, "floor",
				 af_matcher_floor(m[s], path),
				 ref_floor(rp, path, len));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	af_log_set_level(AF_LOG_ERR); /* budget refusals are expected */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct input in;
	static struct ref_policy rp;
	struct af_policy *p = NULL;
	struct af_matcher *m[2] = { NULL, NULL };
	char err[256];
	int ref, r;

	parse(data, size, &in);
	ref = ref_policy_init(&rp, in.rules, in.nrules);
	r = af_policy_new(in.rules, in.nrules, &p, err, sizeof(err));
	if (ref != -2 && (ref == -1) != (r == -EINVAL)) {
		fprintf(stderr, "validation: reference %d, policy %d (%s)\n",
			ref, r, err);
		mismatch(&in, "-", "validation", r, ref);
	}
	if (r < 0)
		return 0;
	/* Stride 2, and stride 1 for odd-sized inputs (half the time). */
	r = af_policy_compile_stride(p, 2, &m[0], err, sizeof(err));
	if (r == 0)
		r = af_policy_compile_stride(p, size & 1 ? 1 : 2, &m[1], err,
					     sizeof(err));
	if (r != 0 && r != -E2BIG)
		__builtin_trap();
	for (int i = 0; r == 0 && ref == 0 && i < in.npaths; i++)
		check_path(&in, &rp, p, m, in.paths[i]);
	af_matcher_free(m[0]);
	af_matcher_free(m[1]);
	af_policy_free(p);
	return 0;
}
