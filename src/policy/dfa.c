// SPDX-License-Identifier: Apache-2.0
/*
 * Subset construction over byte classes. Three things keep the automaton
 * small for real policies:
 *  - NFA states are replaced by their canonical stand-ins (nfa_bisim.c);
 *  - once a rule sits in a state that accepts every valid continuation (a
 *    trailing `**`, a directory rule below its directory), weaker rules can
 *    never decide anything below: their NFA states are dropped;
 *  - '/' after a directory whose best rule is none leads to the dead state
 *    (none hides its subtree), so nothing below it is built.
 * State 0 is the empty set (dead), state 1 the start (the root), kept apart
 * from equal sets reached deeper because the root is always visible.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

struct sc {
	const struct af_policy *p;
	const struct nfa *n;
	struct dfa *d;
	uint32_t cap_states;
	uint8_t rep[256];   /* a byte of each class */
	uint32_t **set_cls; /* classes in each NFA set */
	uint32_t *set_ncls;
	bool in_nonslash[256]; /* per class */
	uint32_t *pool;	       /* NFA ids of all DFA states */
	size_t pool_len, pool_cap;
	size_t *soff; /* per DFA state */
	uint32_t *slen;
	uint32_t *ht; /* DFA state + 1; 0 = empty slot */
	uint32_t ht_cap;
	uint32_t *mark; /* per NFA state: generation seen */
	uint32_t gen;
	uint32_t *buf;	  /* closure output */
	uint32_t *stack;  /* closure work list */
	uint32_t *common; /* targets on any non-'/' byte */
	uint32_t ncommon;
	uint32_t *pairs; /* (class, target) for other edges */
	uint32_t npairs;
	uint32_t *cls_first; /* per class: start in sorted pairs */
	uint32_t *sorted;
	char *err;
	size_t errlen;
};

static void classes(struct sc *c)
{
	const struct nfa *n = c->n;
	struct dfa *d = c->d;
	uint32_t ncls = 1;

	memset(d->cls, 0, sizeof(d->cls));
	for (uint32_t s = 0; s < n->nsets; s++) {
		int16_t remap[256][2];
		uint32_t k = 0;

		memset(remap, 0xff, sizeof(remap));
		for (int b = 0; b < 256; b++) {
			int in = pat_set_has(n->sets[s], b);

			if (remap[d->cls[b]][in] < 0)
				remap[d->cls[b]][in] = k++;
			d->cls[b] = remap[d->cls[b]][in];
		}
		ncls = k;
	}
	d->nclasses = ncls;
	for (int b = 255; b >= 0; b--)
		c->rep[d->cls[b]] = b;
	d->slash_cls = d->cls['/'];
	for (uint32_t k = 0; k < ncls; k++)
		c->in_nonslash[k] =
			pat_set_has(n->sets[NFA_SET_NONSLASH], c->rep[k]);
}

static int set_classes(struct sc *c)
{
	const struct nfa *n = c->n;

	c->set_cls = calloc(n->nsets, sizeof(*c->set_cls));
	c->set_ncls = calloc(n->nsets, sizeof(*c->set_ncls));
	if (!c->set_cls || !c->set_ncls)
		return -ENOMEM;
	for (uint32_t s = 0; s < n->nsets; s++) {
		c->set_cls[s] = calloc(c->d->nclasses, sizeof(uint32_t));
		if (!c->set_cls[s])
			return -ENOMEM;
		for (uint32_t k = 0; k < c->d->nclasses; k++)
			if (pat_set_has(n->sets[s], c->rep[k]))
				c->set_cls[s][c->set_ncls[s]++] = k;
	}
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/*
 * Epsilon closure of the seeds into c->buf as canonical states, sorted and
 * unique; returns the count.
 */
static uint32_t closure(struct sc *c, const uint32_t *seeds, uint32_t nseeds,
			const uint32_t *more, uint32_t nmore)
{
	const struct nfa *n = c->n;
	uint32_t len = 0, top = 0;
	uint32_t *stack = c->stack;

	c->gen++;
	for (uint32_t i = 0; i < nseeds + nmore; i++) {
		uint32_t s = i < nseeds ? seeds[i] : more[i - nseeds];

		if (c->mark[s] != c->gen) {
			c->mark[s] = c->gen;
			stack[top++] = s;
		}
	}
	while (top) {
		uint32_t s = stack[--top];

		c->buf[len++] = n->canon[s];
		for (uint32_t e = n->eoff[s]; e < n->eoff[s + 1]; e++) {
			uint32_t t = n->edges[e].to;

			if (n->edges[e].set != NFA_EPS || c->mark[t] == c->gen)
				continue;
			c->mark[t] = c->gen;
			stack[top++] = t;
		}
	}
	if (len < 2)
		return len;
	qsort(c->buf, len, sizeof(*c->buf), cmp_u32);
	top = 1; /* now: the unique count */
	for (uint32_t i = 1; i < len; i++)
		if (c->buf[i] != c->buf[top - 1])
			c->buf[top++] = c->buf[i];
	return top;
}

/* Drop rules weaker than the best rule in a universal state. */
static uint32_t prune(struct sc *c, uint32_t **set, uint32_t len)
{
	const struct nfa *n = c->n;
	uint32_t *s = *set, lo, floor_id;

	for (uint32_t i = len; i-- > 0;) {
		if (!n->universal[s[i]])
			continue;
		floor_id = n->rank_first[nfa_state_rank(n, c->p, s[i])];
		for (lo = 0; lo < len && s[lo] < floor_id; lo++)
			;
		*set = s + lo;
		return len - lo;
	}
	return len;
}

static uint64_t hash_set(const uint32_t *s, uint32_t len)
{
	uint64_t h = 0xcbf29ce484222325ull ^ len;

	for (uint32_t i = 0; i < len; i++) {
		h ^= s[i];
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h;
}

static bool same_set(const struct sc *c, uint32_t st, const uint32_t *s,
		     uint32_t len)
{
	return c->slen[st] == len &&
	       (!len || !memcmp(c->pool + c->soff[st], s, len * sizeof(*s)));
}

static int grow_states(struct sc *c)
{
	struct dfa *d = c->d;
	uint32_t cap = c->cap_states ? c->cap_states * 2 : 64;
	uint32_t *next;

	next = xreallocarray(d->next, (size_t)cap * d->nclasses, sizeof(*next));
	if (next)
		d->next = next;
	c->soff = next ? xreallocarray(c->soff, cap, sizeof(*c->soff)) : NULL;
	c->slen =
		c->soff ? xreallocarray(c->slen, cap, sizeof(*c->slen)) : NULL;
	if (!c->slen)
		return -ENOMEM;
	c->cap_states = cap;
	return 0;
}

static int rehash(struct sc *c)
{
	uint32_t cap = c->ht_cap ? c->ht_cap * 2 : 1024;
	uint32_t *ht = calloc(cap, sizeof(*ht));

	if (!ht)
		return -ENOMEM;
	for (uint32_t st = 0; st < c->d->nstates; st++) {
		uint64_t h;

		if (st == DFA_START)
			continue;
		h = hash_set(c->pool + c->soff[st], c->slen[st]);
		while (ht[h & (cap - 1)])
			h++;
		ht[h & (cap - 1)] = st + 1;
	}
	free(c->ht);
	c->ht = ht;
	c->ht_cap = cap;
	return 0;
}

static int add_state(struct sc *c, const uint32_t *s, uint32_t len)
{
	struct dfa *d = c->d;

	if (d->nstates >= AF_POLICY_DFA_STATES_MAX ||
	    (uint64_t)(d->nstates + 1) * d->nclasses > AF_POLICY_DFA_CELLS_MAX)
		return policy_errf(c->err, c->errlen, -E2BIG,
				   "policy too complex: more than %u automaton "
				   "states; use fewer or simpler patterns",
				   d->nstates);
	if (c->pool_len + len > AF_POLICY_DFA_POOL_MAX)
		return policy_errf(c->err, c->errlen, -E2BIG,
				   "policy too complex: its automaton tracks "
				   "too many pattern positions at once");
	if (d->nstates == c->cap_states && grow_states(c) < 0)
		return -ENOMEM;
	if (c->pool_len + len > c->pool_cap) {
		size_t cap = c->pool_cap ? c->pool_cap * 2 : 4096;
		uint32_t *pool;

		while (cap < c->pool_len + len)
			cap *= 2;
		pool = xreallocarray(c->pool, cap, sizeof(*pool));
		if (!pool)
			return -ENOMEM;
		c->pool = pool;
		c->pool_cap = cap;
	}
	if (len)
		memcpy(c->pool + c->pool_len, s, len * sizeof(*s));
	c->soff[d->nstates] = c->pool_len;
	c->slen[d->nstates] = len;
	c->pool_len += len;
	return d->nstates++;
}

/* The DFA state for an NFA set, added if new. */
static int intern(struct sc *c, const uint32_t *s, uint32_t len)
{
	uint64_t h;
	int st;

	if ((c->d->nstates + 1) * 2 > c->ht_cap && rehash(c) < 0)
		return -ENOMEM;
	h = hash_set(s, len);
	for (;; h++) {
		uint32_t v = c->ht[h & (c->ht_cap - 1)];

		if (!v)
			break;
		if (v - 1 != DFA_START && same_set(c, v - 1, s, len))
			return v - 1;
	}
	st = add_state(c, s, len);
	if (st >= 0)
		c->ht[h & (c->ht_cap - 1)] = st + 1;
	return st;
}

/* The best rule among accepting states (highest id = strongest rule). */
static int32_t best(const struct sc *c, const uint32_t *s, uint32_t len,
		    bool as_dir)
{
	for (uint32_t i = len; i-- > 0;) {
		uint8_t acc = c->n->acc[s[i]];

		if (acc == ACC_ANY || (as_dir && acc == ACC_DIR))
			return c->n->rule[s[i]];
	}
	return -1;
}

/* Split the NFA edges leaving state st by class. */
static void gather(struct sc *c, uint32_t st)
{
	const struct nfa *n = c->n;
	const uint32_t *s = c->pool + c->soff[st];
	uint32_t ncls = c->d->nclasses, pos[256];

	c->ncommon = 0;
	c->npairs = 0;
	for (uint32_t i = 0; i < c->slen[st]; i++) {
		for (uint32_t e = n->eoff[s[i]]; e < n->eoff[s[i] + 1]; e++) {
			const struct nfa_edge *ed = &n->edges[e];

			if (ed->set == NFA_EPS)
				continue;
			if (ed->set == NFA_SET_NONSLASH) {
				c->common[c->ncommon++] = ed->to;
				continue;
			}
			for (uint32_t k = 0; k < c->set_ncls[ed->set]; k++) {
				c->pairs[2 * c->npairs] =
					c->set_cls[ed->set][k];
				c->pairs[2 * c->npairs + 1] = ed->to;
				c->npairs++;
			}
		}
	}
	/* Counting sort of the targets by class. */
	memset(c->cls_first, 0, (ncls + 1) * sizeof(*c->cls_first));
	for (uint32_t i = 0; i < c->npairs; i++)
		c->cls_first[c->pairs[2 * i] + 1]++;
	for (uint32_t k = 0; k < ncls; k++)
		c->cls_first[k + 1] += c->cls_first[k];
	memcpy(pos, c->cls_first, ncls * sizeof(*pos));
	for (uint32_t i = 0; i < c->npairs; i++)
		c->sorted[pos[c->pairs[2 * i]]++] = c->pairs[2 * i + 1];
}

static int target(struct sc *c, uint32_t k, int *common_id)
{
	uint32_t nb = c->cls_first[k + 1] - c->cls_first[k];
	uint32_t len, *set;
	bool ns = c->in_nonslash[k];

	if (!nb && (!ns || *common_id >= 0))
		return ns ? *common_id : (int)DFA_DEAD;
	len = closure(c, c->sorted + c->cls_first[k], nb, c->common,
		      ns ? c->ncommon : 0);
	set = c->buf;
	len = prune(c, &set, len);
	if (nb)
		return intern(c, set, len);
	return *common_id = intern(c, set, len);
}

static int expand(struct sc *c, uint32_t st)
{
	struct dfa *d = c->d;
	int32_t bd = best(c, c->pool + c->soff[st], c->slen[st], true);
	bool hides = bd >= 0 && c->p->rules[bd].r.perm == AF_PERM_NONE;
	int common_id = -1;

	gather(c, st);
	for (uint32_t k = 0; k < d->nclasses; k++) {
		int t;

		if (k == d->slash_cls && (hides || st == DFA_START)) {
			/* Below a none directory; or "//" at the root. */
			d->next[(size_t)st * d->nclasses + k] = DFA_DEAD;
			continue;
		}
		t = target(c, k, &common_id);
		if (t < 0)
			return t;
		d->next[(size_t)st * d->nclasses + k] = t;
	}
	return 0;
}

static int sc_init(struct sc *c)
{
	const struct nfa *n = c->n;
	uint32_t most = n->nstates + 1;
	size_t edges = n->eoff[n->nstates];

	classes(c);
	c->mark = calloc(most, sizeof(*c->mark));
	c->buf = calloc(most, sizeof(*c->buf));
	c->stack = calloc(most, sizeof(*c->stack));
	c->sorted = calloc(edges * c->d->nclasses + 1, sizeof(uint32_t));
	c->common = calloc(edges + 1, sizeof(*c->common));
	c->pairs = calloc(2 * (edges * c->d->nclasses + 1), sizeof(uint32_t));
	c->cls_first = calloc(c->d->nclasses + 1, sizeof(*c->cls_first));
	c->pool_cap = 4096;
	c->pool = calloc(c->pool_cap, sizeof(*c->pool));
	if (!c->mark || !c->buf || !c->stack || !c->sorted || !c->common ||
	    !c->pairs || !c->cls_first || !c->pool)
		return -ENOMEM;
	return set_classes(c);
}

static void sc_release(struct sc *c)
{
	for (uint32_t s = 0; c->set_cls && s < c->n->nsets; s++)
		free(c->set_cls[s]);
	free(c->set_cls);
	free(c->set_ncls);
	free(c->pool);
	free(c->soff);
	free(c->slen);
	free(c->ht);
	free(c->mark);
	free(c->buf);
	free(c->stack);
	free(c->common);
	free(c->pairs);
	free(c->cls_first);
	free(c->sorted);
}

static int construct(struct sc *c)
{
	struct dfa *d = c->d;
	uint32_t len, *set;
	int r;

	r = intern(c, NULL, 0); /* DFA_DEAD */
	if (r < 0)
		return r;
	len = closure(c, c->n->rank_first, c->n->nrules, NULL, 0);
	set = c->buf;
	len = prune(c, &set, len);
	r = add_state(c, set, len); /* DFA_START, not in the hash table */
	if (r < 0)
		return r;
	for (uint32_t st = 0; st < d->nstates; st++) {
		r = expand(c, st);
		if (r < 0)
			return r;
	}
	d->best_f = calloc(d->nstates, sizeof(*d->best_f));
	d->best_d = calloc(d->nstates, sizeof(*d->best_d));
	if (!d->best_f || !d->best_d)
		return -ENOMEM;
	for (uint32_t st = 0; st < d->nstates; st++) {
		const uint32_t *s = c->pool + c->soff[st];

		d->best_f[st] = best(c, s, c->slen[st], false);
		d->best_d[st] = best(c, s, c->slen[st], true);
	}
	return 0;
}

int dfa_build(const struct af_policy *p, const struct nfa *n, struct dfa *out,
	      char *err, size_t errlen)
{
	struct sc c = {
		.p = p,
		.n = n,
		.d = out,
		.err = err,
		.errlen = errlen,
	};
	int r;

	memset(out, 0, sizeof(*out));
	r = sc_init(&c);
	if (r == 0)
		r = construct(&c);
	sc_release(&c);
	if (r == -ENOMEM)
		policy_errf(err, errlen, r, "out of memory compiling policy");
	return r;
}

void dfa_release(struct dfa *d)
{
	free(d->next);
	free(d->best_f);
	free(d->best_d);
	free(d->info);
	memset(d, 0, sizeof(*d));
}
