/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reference matcher, part one: the rule model and the pattern parser,
 * written apart from src/policy/parse.c. See test_policy_ref.h.
 */
#ifndef TEST_POLICY_REF_PARSE_H
#define TEST_POLICY_REF_PARSE_H

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/policy.h"

/* Not every test uses every helper. */
#ifndef REF_API
#define REF_API static __attribute__((unused))
#endif

#define REF_RULES   16
#define REF_COMPS   32
#define REF_TOKS    48
#define REF_POS_MAX 128
#define REF_DEPTH   48

enum { RT_LIT, RT_ANY, RT_STAR, RT_SET };

struct ref_tok {
	int kind;
	unsigned char c;
	unsigned char set[32];
};

struct ref_comp {
	bool globstar;
	int ntok;
	struct ref_tok tok[REF_TOKS];
};

struct ref_rule {
	int type, perm, prio;
	bool dir_only;
	int ncomp;
	struct ref_comp comp[REF_COMPS];
	int lit, wild;
};

struct ref_policy {
	int n;
	struct ref_rule r[REF_RULES];
	unsigned char reps[256]; /* one byte per class of name bytes */
	int nreps;
};

/* ---- parsing ---------------------------------------------------------- */

REF_API void ref_set_add(unsigned char *set, int b)
{
	set[b / 8] |= 1 << (b % 8);
}

REF_API bool ref_set_has(const unsigned char *set, int b)
{
	return set[b / 8] >> (b % 8) & 1;
}

REF_API int ref_class(const char *name, size_t len, unsigned char *set)
{
	static const char *const names[] = {
		"alnum", "alpha", "blank", "cntrl", "digit", "graph",
		"lower", "print", "punct", "space", "upper", "xdigit"
	};
	static int (*const fns[])(int) = {
		isalnum, isalpha, isblank, iscntrl, isdigit, isgraph,
		islower, isprint, ispunct, isspace, isupper, isxdigit
	};

	for (int k = 0; k < 12; k++) {
		if (strlen(names[k]) != len || memcmp(names[k], name, len))
			continue;
		for (int b = 1; b < 128; b++)
			if (b != '/' && fns[k](b))
				ref_set_add(set, b);
		return 0;
	}
	return -1;
}

/* s[*i] is '['. */
REF_API int ref_bracket(const char *s, size_t n, size_t *i, struct ref_tok *t)
{
	size_t j = *i + 1;
	bool neg = false, first = true;

	memset(t, 0, sizeof(*t));
	t->kind = RT_SET;
	if (j < n && (s[j] == '!' || s[j] == '^')) {
		neg = true;
		j++;
	}
	for (;; first = false) {
		int lo, hi;

		if (j >= n)
			return -1;
		if (s[j] == ']' && !first)
			break;
		if (s[j] == '[' && j + 1 < n && s[j + 1] == ':') {
			size_t e = j + 2;

			while (e + 1 < n && !(s[e] == ':' && s[e + 1] == ']'))
				e++;
			if (e + 1 >= n ||
			    ref_class(s + j + 2, e - (j + 2), t->set) < 0)
				return -1;
			j = e + 2;
			continue;
		}
		if (s[j] == '\\' && ++j >= n)
			return -1;
		lo = hi = (unsigned char)s[j++];
		if (j + 1 < n && s[j] == '-' && s[j + 1] != ']') {
			j++;
			if (s[j] == '\\' && ++j >= n)
				return -1;
			hi = (unsigned char)s[j++];
		}
		if (lo == '/' || hi == '/' || lo >= 0x80 || hi >= 0x80 ||
		    hi < lo)
			return -1;
		for (int b = lo; b <= hi; b++)
			if (b != '/')
				ref_set_add(t->set, b);
	}
	if (neg) {
		for (int b = 0; b < 32; b++)
			t->set[b] = ~t->set[b];
		t->set[0] &= ~1; /* NUL */
		t->set['/' / 8] &= ~(1 << ('/' % 8));
	}
	*i = j + 1;
	return 0;
}

REF_API int ref_glob_comp(const char *s, size_t n, struct ref_comp *c)
{
	c->ntok = 0;
	c->globstar = n == 2 && s[0] == '*' && s[1] == '*';
	if (c->globstar)
		return 0;
	for (size_t i = 0; i < n;) {
		struct ref_tok *t;

		if (c->ntok == REF_TOKS)
			return -2; /* too big for this reference */
		t = &c->tok[c->ntok];
		memset(t, 0, sizeof(*t));
		if (s[i] == '[') {
			if (ref_bracket(s, n, &i, t) < 0)
				return -1;
			c->ntok++;
			continue;
		}
		if (s[i] == '*') {
			if (!c->ntok || c->tok[c->ntok - 1].kind != RT_STAR)
				t->kind = RT_STAR, c->ntok++;
			i++;
			continue;
		}
		if (s[i] == '?') {
			t->kind = RT_ANY;
			c->ntok++;
			i++;
			continue;
		}
		if (s[i] == '\\' && ++i >= n)
			return -1;
		t->kind = RT_LIT;
		t->c = s[i++];
		c->ntok++;
	}
	return 0;
}

REF_API bool ref_dots(const struct ref_comp *c)
{
	if (c->globstar || c->ntok < 1 || c->ntok > 2)
		return false;
	for (int k = 0; k < c->ntok; k++)
		if (c->tok[k].kind != RT_LIT || c->tok[k].c != '.')
			return false;
	return true;
}

REF_API int ref_parse(struct ref_rule *r, const char *pat, size_t n, int type)
{
	bool glob = type == AF_PAT_GLOB || type == 0, anchored;
	size_t i = 0;

	memset(r, 0, sizeof(*r));
	if (n == 0 || n > 1024 || memchr(pat, 0, n))
		return -1;
	if (pat[n - 1] == '/') {
		if (type == AF_PAT_FILE)
			return -1;
		r->dir_only = glob;
		n--;
	}
	anchored = !glob || memchr(pat, '/', n);
	if (n && pat[0] == '/')
		i = 1;
	if (i >= n)
		return glob || type == AF_PAT_FILE ? -1 : 0;
	while (i <= n) {
		size_t j = i;

		while (j < n && pat[j] != '/')
			j++;
		if (j == i)
			return -1;
		if (r->ncomp == REF_COMPS - 1)
			return -2;
		if (glob) {
			int e = ref_glob_comp(pat + i, j - i,
					      &r->comp[r->ncomp]);

			if (e)
				return e;
		} else {
			struct ref_comp *c = &r->comp[r->ncomp];

			if (j - i > REF_TOKS)
				return -2;
			for (size_t k = i; k < j; k++)
				c->tok[c->ntok++] =
					(struct ref_tok){ .kind = RT_LIT,
							  .c = pat[k] };
		}
		if (ref_dots(&r->comp[r->ncomp]))
			return -1;
		r->ncomp++;
		i = j + 1;
	}
	if (!anchored) {
		memmove(r->comp + 1, r->comp, r->ncomp * sizeof(r->comp[0]));
		memset(&r->comp[0], 0, sizeof(r->comp[0]));
		r->comp[0].globstar = true;
		r->ncomp++;
	}
	for (int k = 1; k < r->ncomp; k++) {
		if (r->comp[k].globstar && r->comp[k - 1].globstar) {
			memmove(r->comp + k, r->comp + k + 1,
				(r->ncomp - k - 1) * sizeof(r->comp[0]));
			r->ncomp--;
			k--;
		}
	}
	return 0;
}

REF_API void ref_specificity(struct ref_rule *r)
{
	for (int c = 0; c < r->ncomp; c++) {
		if (r->comp[c].globstar)
			r->wild++;
		for (int k = 0; k < r->comp[c].ntok; k++) {
			if (r->comp[c].tok[k].kind == RT_LIT)
				r->lit++;
			else
				r->wild++;
		}
	}
}

REF_API bool ref_tok_has(const struct ref_tok *t, unsigned char b)
{
	switch (t->kind) {
	case RT_LIT:
		return t->c == b;
	case RT_SET:
		return ref_set_has(t->set, b);
	default:
		return b != '/' && b != 0;
	}
}

/* Byte classes: bytes every token treats alike, by brute force. */
REF_API void ref_classes(struct ref_policy *rp)
{
	static unsigned char sig[256][REF_RULES * REF_COMPS * REF_TOKS];
	int nsig = 0;

	rp->nreps = 0;
	for (int b = 1; b < 256; b++) {
		int len = 0, k;

		if (b == '/')
			continue;
		for (int i = 0; i < rp->n; i++)
			for (int c = 0; c < rp->r[i].ncomp; c++)
				for (int t = 0; t < rp->r[i].comp[c].ntok; t++)
					sig[nsig][len++] = ref_tok_has(
						&rp->r[i].comp[c].tok[t], b);
		for (k = 0; k < nsig; k++)
			if (!memcmp(sig[k], sig[nsig], len))
				break;
		if (k == nsig) {
			rp->reps[rp->nreps++] = b;
			nsig++;
		}
	}
}

REF_API int ref_positions(const struct ref_rule *r)
{
	int n = 2;

	for (int c = 0; c < r->ncomp; c++)
		n += r->comp[c].ntok + 2;
	return n;
}

/*
 * 0; -1 when af_policy_new should reject the rules too; -2 when they are
 * valid but too large for this reference (callers skip those).
 */
REF_API int ref_policy_init(struct ref_policy *rp, const struct af_rule *rules,
			    int n)
{
	if (n > REF_RULES)
		return -2;
	rp->n = n;
	for (int i = 0; i < n; i++) {
		const struct af_rule *in = &rules[i];
		struct ref_rule *r = &rp->r[i];
		size_t len =
			in->pattern_len ? in->pattern_len : strlen(in->pattern);
		int e;

		if (in->perm < 1 || in->perm > 4 || (int)in->type < 0 ||
		    in->type > 3)
			return -1;
		if (len > 1024 || memchr(in->pattern, 0, len))
			return -1;
		if (len > 2 * REF_TOKS)
			return -2;
		e = ref_parse(r, in->pattern, len, in->type);
		if (e < 0)
			return e;
		if (ref_positions(r) > REF_POS_MAX)
			return -2;
		r->type = in->type ? (int)in->type : AF_PAT_GLOB;
		r->perm = in->perm;
		r->prio = in->priority;
		ref_specificity(r);
	}
	ref_classes(rp);
	return 0;
}

#endif
