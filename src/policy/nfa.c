// SPDX-License-Identifier: Apache-2.0
/*
 * Rules to one NFA over path bytes (the path without its leading '/').
 * States are numbered rule by rule in resolution order, weakest rule first,
 * so "the best matching rule" is always the highest-numbered accepting
 * state, and dropping every rule weaker than some rule is a cut of a sorted
 * state set.
 *
 * Components never match empty names: `*` alone needs one byte, and `**`
 * stands for whole non-empty components, so no state accepts right after a
 * '/' and "a//b" matches nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

struct raw_edge {
	uint32_t from;
	uint32_t set;
	uint32_t to;
};

struct builder {
	struct nfa *n;
	uint32_t cap_states;
	struct raw_edge *edges;
	uint32_t nedges;
	uint32_t cap_edges;
	uint32_t cap_sets;
	uint32_t byte_set[256]; /* interned one-byte sets, or UINT32_MAX */
	uint32_t rule;
	uint8_t acc; /* ACC_ANY, or ACC_DIR for dir-only globs */
	int err;
};

static uint32_t new_state(struct builder *b)
{
	struct nfa *n = b->n;

	if (b->err)
		return 0;
	if (n->nstates == b->cap_states) {
		uint32_t cap = b->cap_states ? b->cap_states * 2 : 256;
		uint32_t *rule = xreallocarray(n->rule, cap, sizeof(*rule));
		uint8_t *acc, *uni;

		if (rule)
			n->rule = rule;
		acc = rule ? xreallocarray(n->acc, cap, 1) : NULL;
		if (acc)
			n->acc = acc;
		uni = acc ? xreallocarray(n->universal, cap, 1) : NULL;
		if (!uni) {
			b->err = -ENOMEM;
			return 0;
		}
		n->universal = uni;
		b->cap_states = cap;
	}
	n->rule[n->nstates] = b->rule;
	n->acc[n->nstates] = ACC_NONE;
	n->universal[n->nstates] = 0;
	return n->nstates++;
}

static void edge(struct builder *b, uint32_t from, uint32_t set, uint32_t to)
{
	if (b->err)
		return;
	if (b->nedges == b->cap_edges) {
		uint32_t cap = b->cap_edges ? b->cap_edges * 2 : 512;
		struct raw_edge *e = xreallocarray(b->edges, cap, sizeof(*e));

		if (!e) {
			b->err = -ENOMEM;
			return;
		}
		b->edges = e;
		b->cap_edges = cap;
	}
	b->edges[b->nedges++] = (struct raw_edge){ from, set, to };
}

static uint32_t step(struct builder *b, uint32_t from, uint32_t set)
{
	uint32_t to = new_state(b);

	edge(b, from, set, to);
	return to;
}

/* One or more non-'/' bytes: a whole component of any name. */
static uint32_t any_comp(struct builder *b, uint32_t from)
{
	uint32_t c = step(b, from, NFA_SET_NONSLASH);

	edge(b, c, NFA_SET_NONSLASH, c);
	return c;
}

static uint32_t set_intern(struct builder *b, const uint64_t bits[4])
{
	struct nfa *n = b->n;

	for (uint32_t i = 0; i < n->nsets; i++)
		if (!memcmp(n->sets[i], bits, sizeof(n->sets[i])))
			return i;
	if (n->nsets == b->cap_sets) {
		uint32_t cap = b->cap_sets ? b->cap_sets * 2 : 64;
		uint64_t(*s)[4] = xreallocarray(n->sets, cap, sizeof(*s));

		if (!s) {
			b->err = -ENOMEM;
			return 0;
		}
		n->sets = s;
		b->cap_sets = cap;
	}
	memcpy(n->sets[n->nsets], bits, sizeof(n->sets[0]));
	return n->nsets++;
}

static uint32_t byte_set(struct builder *b, uint8_t c)
{
	uint64_t bits[4] = { 0 };

	if (b->byte_set[c] != UINT32_MAX)
		return b->byte_set[c];
	bits[c >> 6] = 1ull << (c & 63);
	b->byte_set[c] = set_intern(b, bits);
	return b->byte_set[c];
}

static uint32_t comp(struct builder *b, uint32_t cur, const struct prule *pr,
		     const struct pat_comp *pc)
{
	const struct pat_atom *atoms = pr->atoms + pc->atom0;

	if (pc->natoms == 1 && atoms[0].kind == ATOM_STAR)
		return any_comp(b, cur);
	for (uint32_t k = 0; k < pc->natoms; k++) {
		const struct pat_atom *a = &atoms[k];
		uint32_t t;

		switch (a->kind) {
		case ATOM_LIT:
			cur = step(b, cur, byte_set(b, a->byte));
			break;
		case ATOM_ANY:
			cur = step(b, cur, NFA_SET_NONSLASH);
			break;
		case ATOM_SET:
			cur = step(b, cur, set_intern(b, a->set));
			break;
		case ATOM_STAR:
			t = new_state(b);
			edge(b, cur, NFA_EPS, t);
			edge(b, t, NFA_SET_NONSLASH, t);
			cur = t;
			break;
		}
	}
	return cur;
}

/* A trailing `**`: zero or more components after cur, all accepted. */
static void subtree(struct builder *b, uint32_t cur, uint8_t acc)
{
	uint32_t sl = step(b, cur, NFA_SET_SLASH);
	uint32_t c = any_comp(b, sl);

	edge(b, c, NFA_SET_SLASH, sl);
	if (b->err)
		return;
	b->n->acc[c] = acc;
	b->n->universal[sl] = b->n->universal[c] = acc == ACC_ANY;
}

/* `**` as the whole pattern: the root and everything below it. */
static void everything(struct builder *b, uint32_t s0, uint8_t acc)
{
	uint32_t c = any_comp(b, s0);
	uint32_t sl = step(b, c, NFA_SET_SLASH);

	edge(b, sl, NFA_SET_NONSLASH, c);
	if (b->err)
		return;
	b->n->acc[s0] = acc;
	b->n->acc[c] = acc;
	b->n->universal[sl] = b->n->universal[c] = acc == ACC_ANY;
}

static void build_glob(struct builder *b, const struct prule *pr, uint32_t s0)
{
	uint32_t cur = s0, k = pr->ncomps;
	bool need_sep = false;

	if (k == 1 && pr->comps[0].globstar) {
		everything(b, s0, b->acc);
		return;
	}
	for (uint32_t i = 0; i < k && !b->err; i++) {
		const struct pat_comp *pc = &pr->comps[i];
		uint32_t any;

		if (!pc->globstar) {
			if (need_sep)
				cur = step(b, cur, NFA_SET_SLASH);
			cur = comp(b, cur, pr, pc);
			need_sep = true;
		} else if (i == 0) {
			/* Leading: (component '/')* then the rest. */
			any = any_comp(b, cur);
			edge(b, any, NFA_SET_SLASH, cur);
		} else if (i == k - 1) {
			/* Trailing: the path so far, or anything below it. */
			if (b->err)
				return;
			b->n->acc[cur] = b->acc;
			subtree(b, cur, b->acc);
			return;
		} else {
			/* Middle: '/' (component '/')* then the rest. */
			cur = step(b, cur, NFA_SET_SLASH);
			any = any_comp(b, cur);
			edge(b, any, NFA_SET_SLASH, cur);
			need_sep = false;
		}
	}
	if (!b->err)
		b->n->acc[cur] = b->acc;
}

/* Directory and file rules: the literal path (and below, for a dir). */
static void build_literal(struct builder *b, const struct prule *pr,
			  uint32_t s0)
{
	uint32_t cur = s0;

	for (uint32_t i = 0; i < pr->ncomps && !b->err; i++) {
		if (i)
			cur = step(b, cur, NFA_SET_SLASH);
		cur = comp(b, cur, pr, &pr->comps[i]);
	}
	if (b->err)
		return;
	if (pr->r.type == AF_PAT_FILE) {
		b->n->acc[cur] = ACC_ANY;
	} else if (pr->ncomps == 0) {
		everything(b, s0, ACC_ANY);
		b->n->acc[s0] = ACC_DIR;
	} else {
		b->n->acc[cur] = ACC_DIR;
		subtree(b, cur, ACC_ANY);
	}
}

static int cmp_edge(const void *a, const void *b)
{
	const struct raw_edge *x = a, *y = b;

	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	return (x->to > y->to) - (x->to < y->to);
}

static int finish(struct builder *b)
{
	struct nfa *n = b->n;

	n->eoff = calloc(n->nstates + 1, sizeof(*n->eoff));
	n->edges = calloc(b->nedges ? b->nedges : 1, sizeof(*n->edges));
	if (!n->eoff || !n->edges)
		return -ENOMEM;
	if (b->nedges)
		qsort(b->edges, b->nedges, sizeof(*b->edges), cmp_edge);
	for (uint32_t i = 0; i < b->nedges; i++) {
		n->eoff[b->edges[i].from + 1]++;
		n->edges[i] =
			(struct nfa_edge){ b->edges[i].set, b->edges[i].to };
	}
	for (uint32_t s = 0; s < n->nstates; s++)
		n->eoff[s + 1] += n->eoff[s];
	return 0;
}

int nfa_build(const struct af_policy *p, struct nfa *out)
{
	struct builder b = { .n = out };
	uint64_t nonslash[4] = { ~0ull, ~0ull, ~0ull, ~0ull };
	uint64_t slash[4] = { 1ull << '/', 0, 0, 0 };
	int r;

	memset(out, 0, sizeof(*out));
	memset(b.byte_set, 0xff, sizeof(b.byte_set));
	nonslash[0] &= ~(1ull << '/' | 1ull);
	set_intern(&b, nonslash); /* NFA_SET_NONSLASH */
	set_intern(&b, slash);	  /* NFA_SET_SLASH */
	b.byte_set['/'] = NFA_SET_SLASH;
	out->nrules = p->n;
	out->rank_first = calloc(p->n + 1, sizeof(*out->rank_first));
	if (!out->rank_first)
		return -ENOMEM;
	for (size_t rank = 0; rank < p->n && !b.err; rank++) {
		const struct prule *pr = &p->rules[p->by_rank[rank]];
		uint32_t s0;

		b.rule = p->by_rank[rank];
		b.acc = pr->dir_only ? ACC_DIR : ACC_ANY;
		out->rank_first[rank] = out->nstates;
		s0 = new_state(&b);
		if (pr->r.type == AF_PAT_GLOB)
			build_glob(&b, pr, s0);
		else
			build_literal(&b, pr, s0);
	}
	out->rank_first[p->n] = out->nstates;
	r = b.err ? b.err : finish(&b);
	free(b.edges);
	return r;
}

void nfa_release(struct nfa *n)
{
	free(n->rule);
	free(n->acc);
	free(n->universal);
	free(n->eoff);
	free(n->edges);
	free(n->sets);
	free(n->rank_first);
	free(n->canon);
	memset(n, 0, sizeof(*n));
}

uint32_t nfa_state_rank(const struct nfa *n, const struct af_policy *p,
			uint32_t s)
{
	return p->rules[n->rule[s]].rank;
}
