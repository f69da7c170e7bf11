/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Reference matcher for the policy tests: a deliberately simple, rule by
 * rule implementation of docs/permissions.md, written apart from
 * src/policy so the two can be compared. Used only by tests and the fuzzer.
 *
 * - Patterns are parsed again here; matching is recursive backtracking over
 *   path components and over the bytes of a name.
 * - "Is anything below this directory visible?" and the subtree floor are
 *   answered by a breadth-first search over concrete descendant paths. It
 *   is exact: bytes that no pattern tells apart are tried once (one byte per
 *   class, found by brute force over all 256), and a descendant whose
 *   per-rule match positions were already seen is not searched again (it has
 *   the same future). Every visited path is judged by the recursive matcher.
 */
#ifndef TEST_POLICY_REF_H
#define TEST_POLICY_REF_H

#include "test_policy_ref_parse.h"

/* ---- matching ----------------------------------------------------------- */

struct ref_path {
	int n;
	const char *c[REF_DEPTH];
	int len[REF_DEPTH];
};

REF_API bool ref_name(const struct ref_tok *t, int nt, const char *s, int n)
{
	if (nt == 0)
		return n == 0;
	if (t->kind == RT_STAR) {
		for (int k = 0; k <= n; k++)
			if (ref_name(t + 1, nt - 1, s + k, n - k))
				return true;
		return false;
	}
	return n > 0 && ref_tok_has(t, s[0]) &&
	       ref_name(t + 1, nt - 1, s + 1, n - 1);
}

REF_API bool ref_comps(const struct ref_rule *r, int ci,
		       const struct ref_path *p, int pi)
{
	const struct ref_comp *c = &r->comp[ci];

	if (ci == r->ncomp)
		return pi == p->n;
	if (c->globstar) {
		for (int k = pi; k <= p->n; k++)
			if (ref_comps(r, ci + 1, p, k))
				return true;
		return false;
	}
	return pi < p->n && ref_name(c->tok, c->ntok, p->c[pi], p->len[pi]) &&
	       ref_comps(r, ci + 1, p, pi + 1);
}

REF_API bool ref_literal_prefix(const struct ref_rule *r,
				const struct ref_path *p)
{
	if (p->n < r->ncomp)
		return false;
	for (int k = 0; k < r->ncomp; k++)
		if (!ref_name(r->comp[k].tok, r->comp[k].ntok, p->c[k],
			      p->len[k]))
			return false;
	return true;
}

REF_API bool ref_match(const struct ref_rule *r, const struct ref_path *p,
		       bool is_dir)
{
	switch (r->type) {
	case AF_PAT_FILE:
		return p->n == r->ncomp && ref_literal_prefix(r, p);
	case AF_PAT_DIRECTORY:
		return ref_literal_prefix(r, p) && (p->n > r->ncomp || is_dir);
	default:
		return (is_dir || !r->dir_only) && ref_comps(r, 0, p, 0);
	}
}

REF_API bool ref_beats(const struct ref_rule *a, int ia,
		       const struct ref_rule *b, int ib)
{
	if (a->prio != b->prio)
		return a->prio > b->prio;
	if (a->type != b->type)
		return a->type > b->type;
	if (a->lit != b->lit)
		return a->lit > b->lit;
	if (a->wild != b->wild)
		return a->wild < b->wild;
	return ia > ib;
}

/* Index of the deciding rule, or -1. */
REF_API int ref_best(const struct ref_policy *rp, const struct ref_path *p,
		     bool is_dir)
{
	int best = -1;

	for (int i = 0; i < rp->n; i++)
		if (ref_match(&rp->r[i], p, is_dir) &&
		    (best < 0 || ref_beats(&rp->r[i], i, &rp->r[best], best)))
			best = i;
	return best;
}

REF_API int ref_raw(const struct ref_policy *rp, const struct ref_path *p,
		    bool is_dir)
{
	int b = ref_best(rp, p, is_dir);

	return b < 0 ? 0 : rp->r[b].perm;
}

/* ---- incremental positions: the search's memory ------------------------ */

/*
 * Positions of a rule after some bytes, as (component, token) pairs. For a
 * `**` component, token 0 means "at a component start", 1 "inside a name it
 * swallows". Directory and file rules are literal components; a directory
 * rule also has a virtual trailing `**` for "below".
 */
struct ref_pos {
	int n;
	short ci[REF_POS_MAX], ti[REF_POS_MAX];
};

REF_API int ref_ncomp(const struct ref_rule *r)
{
	return r->ncomp + (r->type == AF_PAT_DIRECTORY);
}

REF_API bool ref_is_gs(const struct ref_rule *r, int ci)
{
	return ci == r->ncomp ? r->type == AF_PAT_DIRECTORY
			      : r->comp[ci].globstar;
}

REF_API void ref_pos_add(const struct ref_rule *r, struct ref_pos *ps, int ci,
			 int ti)
{
	for (int k = 0; k < ps->n; k++)
		if (ps->ci[k] == ci && ps->ti[k] == ti)
			return;
	if (ps->n == REF_POS_MAX)
		abort();
	ps->ci[ps->n] = ci;
	ps->ti[ps->n++] = ti;
	/* Closure: skip a star, or let a `**` match zero components. */
	if (ci < ref_ncomp(r) && !ref_is_gs(r, ci) && ti < r->comp[ci].ntok &&
	    r->comp[ci].tok[ti].kind == RT_STAR)
		ref_pos_add(r, ps, ci, ti + 1);
	if (ci < ref_ncomp(r) && ref_is_gs(r, ci) && ti == 0 &&
	    r->type != AF_PAT_DIRECTORY)
		ref_pos_add(r, ps, ci + 1, 0);
}

REF_API void ref_pos_step(const struct ref_rule *r, const struct ref_pos *in,
			  struct ref_pos *out, unsigned char b)
{
	out->n = 0;
	for (int k = 0; k < in->n; k++) {
		int ci = in->ci[k], ti = in->ti[k];

		if (ci >= ref_ncomp(r))
			continue;
		if (ref_is_gs(r, ci)) {
			/* A '/' ends a swallowed name; names are not empty. */
			if (b != '/')
				ref_pos_add(r, out, ci, 1);
			else if (ti == 1)
				ref_pos_add(r, out, ci, 0);
			continue;
		}
		if (b == '/') {
			if (ti == r->comp[ci].ntok && ci + 1 < ref_ncomp(r))
				ref_pos_add(r, out, ci + 1, 0);
			continue;
		}
		if (ti < r->comp[ci].ntok) {
			const struct ref_tok *t = &r->comp[ci].tok[ti];

			if (t->kind == RT_STAR)
				ref_pos_add(r, out, ci, ti);
			else if (ref_tok_has(t, b))
				ref_pos_add(r, out, ci, ti + 1);
		}
	}
}

/* A node of the search: positions of every rule, and the phase. */
struct ref_node {
	struct ref_pos pos[REF_RULES];
	char path[512];
	int len;
	bool in_comp; /* at least one byte of the current component */
};

REF_API size_t ref_key(const struct ref_policy *rp, const struct ref_node *nd,
		       unsigned char *key)
{
	size_t o = 0;

	key[o++] = nd->in_comp;
	for (int i = 0; i < rp->n; i++) {
		const struct ref_pos *ps = &nd->pos[i];
		unsigned short v[REF_POS_MAX];

		/* The set of positions, in a canonical (sorted) order. */
		for (int k = 0; k < ps->n; k++) {
			unsigned short x = ps->ci[k] << 8 | ps->ti[k];
			int j = k;

			while (j > 0 && v[j - 1] > x) {
				v[j] = v[j - 1];
				j--;
			}
			v[j] = x;
		}
		for (int k = 0; k < ps->n; k++) {
			key[o++] = v[k] >> 8;
			key[o++] = v[k] & 0xff;
		}
		key[o++] = 0xff;
	}
	return o;
}

struct ref_seen {
	unsigned char **keys;
	size_t *lens;
	int n, cap;
};

REF_API bool ref_seen_add(struct ref_seen *s, const unsigned char *key,
			  size_t len)
{
	for (int i = 0; i < s->n; i++)
		if (s->lens[i] == len && !memcmp(s->keys[i], key, len))
			return false;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->keys = realloc(s->keys, s->cap * sizeof(*s->keys));
		s->lens = realloc(s->lens, s->cap * sizeof(*s->lens));
	}
	s->keys[s->n] = malloc(len);
	memcpy(s->keys[s->n], key, len);
	s->lens[s->n++] = len;
	return true;
}

REF_API void ref_seen_free(struct ref_seen *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->keys[i]);
	free(s->keys);
	free(s->lens);
}

REF_API void ref_split(const char *path, int len, struct ref_path *p)
{
	p->n = 0;
	for (int i = 1; i < len;) {
		int j = i;

		while (j < len && path[j] != '/')
			j++;
		p->c[p->n] = path + i;
		p->len[p->n++] = j - i;
		i = j + 1;
	}
}

REF_API void ref_start(const struct ref_policy *rp, const char *path, int len,
		       struct ref_node *nd)
{
	memset(nd, 0, sizeof(*nd));
	for (int i = 0; i < rp->n; i++) {
		struct ref_pos tmp;

		ref_pos_add(&rp->r[i], &nd->pos[i], 0, 0);
		for (int k = 1; k < len; k++) {
			ref_pos_step(&rp->r[i], &nd->pos[i], &tmp, path[k]);
			nd->pos[i] = tmp;
		}
	}
	memcpy(nd->path, path, len);
	nd->len = len;
}

REF_API int ref_level(const struct ref_policy *rp, const char *path, int len,
		      bool is_dir);

enum { REF_VISIBLE, REF_FLOOR };

/*
 * Search the descendants of directory `path`. REF_VISIBLE: 1 if some
 * descendant can be above none. REF_FLOOR: the lowest effective level of
 * any descendant (write when all are write).
 */
REF_API int ref_search(const struct ref_policy *rp, const char *path, int len,
		       int mode)
{
	struct ref_seen seen = { 0 };
	struct ref_node *q = NULL;
	int nq = 0, cap = 0, head = 0, out = mode == REF_VISIBLE ? 0 : 4;
	unsigned char key[REF_RULES * (2 * REF_POS_MAX + 1) + 1];
	struct ref_node start;

	ref_start(rp, path, len, &start);
	if (len == 1) {
		start.len = 0; /* the root's children are "/x" */
	} else {
		for (int i = 0; i < rp->n; i++) {
			struct ref_pos tmp;

			ref_pos_step(&rp->r[i], &start.pos[i], &tmp, '/');
			start.pos[i] = tmp;
		}
	}
	start.path[start.len++] = '/';
	start.in_comp = false;
	q = malloc(sizeof(*q));
	q[nq++] = start;
	cap = 1;
	while (head < nq) {
		struct ref_node cur = q[head++];

		for (int c = 0; c <= rp->nreps; c++) {
			unsigned char b = c < rp->nreps ? rp->reps[c] : '/';
			struct ref_node nx;
			struct ref_path p;
			int lf, ld, ed;

			if (b == '/' && !cur.in_comp)
				continue;
			if (cur.len + 1 >= (int)sizeof(cur.path))
				continue; /* cannot happen for small sets */
			for (int i = 0; i < rp->n; i++)
				ref_pos_step(&rp->r[i], &cur.pos[i], &nx.pos[i],
					     b);
			memcpy(nx.path, cur.path, cur.len);
			nx.len = cur.len;
			nx.path[nx.len++] = b;
			nx.in_comp = b != '/';
			if (nx.in_comp) {
				ref_split(nx.path, nx.len, &p);
				lf = ref_raw(rp, &p, false);
				ld = ref_raw(rp, &p, true);
				if (mode == REF_VISIBLE && (lf > 1 || ld > 1)) {
					out = 1;
					goto done;
				}
				if (mode == REF_FLOOR) {
					ed = ld ? ld
					     : ref_search(rp, nx.path, nx.len,
							  REF_VISIBLE)
						     ? 2
						     : 1;
					out = out < (lf ? lf : 1)
						      ? out
						      : (lf ? lf : 1);
					out = out < ed ? out : ed;
					if (out == 1)
						goto done;
				}
			} else {
				/* Descend only through a dir not hidden. */
				ref_split(cur.path, cur.len, &p);
				if (ref_raw(rp, &p, true) == 1)
					continue;
			}
			if (!ref_seen_add(&seen, key, ref_key(rp, &nx, key)))
				continue;
			if (nq == cap) {
				cap *= 2;
				q = realloc(q, cap * sizeof(*q));
			}
			q[nq++] = nx;
		}
	}
done:
	free(q);
	ref_seen_free(&seen);
	return out;
}

/* Effective level of a path ("/" or "/a/b"), per docs/permissions.md. */
REF_API int ref_level(const struct ref_policy *rp, const char *path, int len,
		      bool is_dir)
{
	struct ref_path p;
	int raw;

	ref_split(path, len, &p);
	if (p.n == 0) {
		raw = ref_raw(rp, &p, true);
		return raw > 2 ? raw : 2;
	}
	for (int k = 1; k < p.n; k++) {
		int alen = p.c[k] - path - 1;

		if (ref_level(rp, path, alen, true) == 1)
			return 1;
	}
	raw = ref_raw(rp, &p, is_dir);
	if (raw)
		return raw;
	if (!is_dir)
		return 1;
	return ref_search(rp, path, len, REF_VISIBLE) ? 2 : 1;
}

/* Subtree floor of a directory path. */
REF_API int ref_floor(const struct ref_policy *rp, const char *path, int len)
{
	int self = ref_level(rp, path, len, true), below;

	if (self == 1)
		return 1;
	below = ref_search(rp, path, len, REF_FLOOR);
	return self < below ? self : below;
}

/* The rule explain should name: the hiding ancestor's, or the path's. */
REF_API int ref_rule(const struct ref_policy *rp, const char *path, int len,
		     bool is_dir)
{
	struct ref_path p;

	ref_split(path, len, &p);
	for (int k = 1; k < p.n; k++) {
		int alen = p.c[k] - path - 1;
		struct ref_path a;

		if (ref_level(rp, path, alen, true) == 1) {
			ref_split(path, alen, &a);
			return ref_best(rp, &a, true);
		}
	}
	return ref_best(rp, &p, is_dir || p.n == 0);
}

#endif
