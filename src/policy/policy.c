// SPDX-License-Identifier: Apache-2.0
/* The policy object: validation, owned copies, resolution order. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/cleanup.h"
#include "policy_internal.h"

void *xreallocarray(void *p, size_t n, size_t size)
{
	if (size && n > SIZE_MAX / size)
		return NULL;
	return realloc(p, n && size ? n * size : 1);
}

int policy_errf(char *err, size_t errlen, int r, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return r;
}

static const char *const perm_names[] = {
	[AF_PERM_NONE] = "none",
	[AF_PERM_VIEW] = "view",
	[AF_PERM_READ] = "read",
	[AF_PERM_WRITE] = "write",
};

const char *af_perm_name(enum af_perm perm)
{
	return perm >= AF_PERM_NONE && perm <= AF_PERM_WRITE ? perm_names[perm]
							     : NULL;
}

int af_perm_parse(const char *name, enum af_perm *out)
{
	for (int v = AF_PERM_NONE; name && v <= AF_PERM_WRITE; v++) {
		if (!strcmp(name, perm_names[v])) {
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

const char *af_pattern_type_name(enum af_pattern_type type)
{
	switch (type) {
	case AF_PAT_GLOB:
		return "glob";
	case AF_PAT_DIRECTORY:
		return "directory";
	case AF_PAT_FILE:
		return "file";
	}
	return NULL;
}

/* A pattern for an error message: quoted-safe, bounded. */
static void show_pattern(char *out, size_t outlen, const char *s, size_t len)
{
	size_t o = 0, i;

	for (i = 0; i < len && o + 8 < outlen && i < 64; i++) {
		unsigned char c = s[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			o += snprintf(out + o, outlen - o, "\\x%02x", c);
		else
			out[o++] = c;
	}
	if (i < len)
		o += snprintf(out + o, outlen - o, "...");
	out[o] = '\0';
}

static int rule_error(char *err, size_t errlen, size_t i, const char *pat,
		      size_t len, const char *why)
{
	char shown[300];

	show_pattern(shown, sizeof(shown), pat ? pat : "", pat ? len : 0);
	return policy_errf(err, errlen, -EINVAL, "rule %zu (\"%s\"): %s", i,
			   shown, why);
}

static int rule_copy(struct prule *pr, const struct af_rule *in, size_t i,
		     char *err, size_t errlen)
{
	size_t len = in->pattern_len ? in->pattern_len
				     : (in->pattern ? strlen(in->pattern) : 0);
	const char *why = NULL;
	int r;

	if (!in->pattern)
		return rule_error(err, errlen, i, NULL, 0,
				  "pattern is missing");
	if ((int)in->type < 0 || in->type > AF_PAT_FILE)
		return rule_error(err, errlen, i, in->pattern, len,
				  "unknown pattern type");
	if (in->perm < AF_PERM_NONE || in->perm > AF_PERM_WRITE)
		return rule_error(err, errlen, i, in->pattern, len,
				  in->perm ? "permission must be none, view, "
					     "read or write"
					   : "permission is unspecified");
	pr->r = *in;
	pr->r.type = in->type ? in->type : AF_PAT_GLOB;
	pr->r.pattern_len = len;
	pr->pattern = malloc(len + 1);
	if (!pr->pattern)
		return -ENOMEM;
	memcpy(pr->pattern, in->pattern, len);
	pr->pattern[len] = '\0';
	pr->r.pattern = pr->pattern;
	r = pat_parse(pr, &why);
	if (r == -EINVAL)
		return rule_error(err, errlen, i, in->pattern, len, why);
	return r;
}

static int cmp_rank(const void *a, const void *b, void *arg)
{
	const struct af_policy *p = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return prule_cmp(&p->rules[x], &p->rules[y], x, y);
}

/* Resolution order as ranks: a total order, weakest first. */
static void rank(struct af_policy *p)
{
	for (size_t i = 0; i < p->n; i++)
		p->by_rank[i] = i;
	qsort_r(p->by_rank, p->n, sizeof(*p->by_rank), cmp_rank, p);
	for (size_t r = 0; r < p->n; r++)
		p->rules[p->by_rank[r]].rank = r;
}

int af_policy_new(const struct af_rule *rules, size_t n, struct af_policy **out,
		  char *err, size_t errlen)
{
	struct af_policy *p;
	int r = 0;

	*out = NULL;
	if (n > AF_POLICY_RULES_MAX)
		return policy_errf(err, errlen, -E2BIG,
				   "too many rules: %zu, at most %u", n,
				   AF_POLICY_RULES_MAX);
	if (n && !rules)
		return policy_errf(err, errlen, -EINVAL, "no rules given");
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	pthread_mutex_init(&p->lock, NULL);
	p->rules = calloc(n ? n : 1, sizeof(*p->rules));
	p->by_rank = calloc(n ? n : 1, sizeof(*p->by_rank));
	if (!p->rules || !p->by_rank)
		r = -ENOMEM;
	for (size_t i = 0; r == 0 && i < n; i++) {
		p->n = i + 1;
		r = rule_copy(&p->rules[i], &rules[i], i, err, errlen);
	}
	if (r < 0) {
		af_policy_free(p);
		return r;
	}
	p->n = n;
	rank(p);
	*out = p;
	return 0;
}

int af_policy_new_with_presets(const char *const *presets, size_t n_presets,
			       const struct af_rule *rules, size_t n,
			       struct af_policy **out, char *err, size_t errlen)
{
	_cleanup_free_ struct af_rule *all = NULL;
	size_t total = n, k = 0;

	*out = NULL;
	for (size_t i = 0; i < n_presets; i++) {
		const struct af_preset *ps = af_preset_find(presets[i]);

		if (!ps)
			return policy_errf(err, errlen, -ENOENT,
					   "unknown preset \"%s\"", presets[i]);
		total += ps->n_rules;
	}
	all = calloc(total ? total : 1, sizeof(*all));
	if (!all)
		return -ENOMEM;
	for (size_t i = 0; i < n_presets; i++) {
		const struct af_preset *ps = af_preset_find(presets[i]);

		memcpy(all + k, ps->rules, ps->n_rules * sizeof(*all));
		k += ps->n_rules;
	}
	if (n)
		memcpy(all + k, rules, n * sizeof(*all));
	return af_policy_new(all, total, out, err, errlen);
}

void af_policy_free(struct af_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; p->rules && i < p->n; i++)
		prule_release(&p->rules[i]);
	free(p->rules);
	free(p->by_rank);
	af_matcher_free(p->compiled);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

size_t af_policy_rule_count(const struct af_policy *p)
{
	return p ? p->n : 0;
}

const struct af_rule *af_policy_rule(const struct af_policy *p, size_t i)
{
	return p && i < p->n ? &p->rules[i].r : NULL;
}
