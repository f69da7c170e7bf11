// SPDX-License-Identifier: Apache-2.0
/*
 * Canonical NFA states. Real policies repeat shapes: "/pkg/mod1/" then
 * "*.py", "/pkg/mod2/" then "*.py", ... After their distinct prefixes, the
 * threads of such rules are the same automaton, yet each rule's thread
 * would give the DFA states of its own. When two rules sit next to each
 * other in resolution order with the same permission, a thread of one can
 * stand in for a thread of the other that accepts the same continuations:
 * every other rule ranks above both or below both, and whichever of the two
 * wins gives the same level. "Accepts the same continuations" is decided by
 * bisimulation (same acceptance, edges on the same byte sets to equivalent
 * states), found by partition refinement.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

struct bisim {
	const struct nfa *n;
	uint32_t *cls, *ncls;
	uint32_t *ht, cap;
	uint64_t *sig;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h * 0xff51afd7ed558ccdull;
}

/* Order-independent hash of a state's class and out-edges. */
static uint64_t signature(const struct bisim *b, uint32_t q)
{
	const struct nfa *n = b->n;
	uint64_t h = mix(b->cls[q], n->acc[q] | n->universal[q] << 8), sum = 0;

	for (uint32_t e = n->eoff[q]; e < n->eoff[q + 1]; e++)
		sum += mix(n->edges[e].set, b->cls[n->edges[e].to]);
	return mix(h, sum);
}

static bool same_edges(const struct bisim *b, uint32_t p, uint32_t q)
{
	const struct nfa *n = b->n;

	if (b->cls[p] != b->cls[q] ||
	    n->eoff[p + 1] - n->eoff[p] != n->eoff[q + 1] - n->eoff[q])
		return false;
	/* Each edge of p has an equal edge at q (edge lists are short). */
	for (uint32_t e = n->eoff[p]; e < n->eoff[p + 1]; e++) {
		bool found = false;

		for (uint32_t f = n->eoff[q]; f < n->eoff[q + 1] && !found; f++)
			found = n->edges[e].set == n->edges[f].set &&
				b->cls[n->edges[e].to] ==
					b->cls[n->edges[f].to];
		if (!found)
			return false;
	}
	return true;
}

static uint32_t refine(struct bisim *b)
{
	const struct nfa *n = b->n;
	uint32_t k = 0, mask = b->cap - 1;

	memset(b->ht, 0, b->cap * sizeof(*b->ht));
	for (uint32_t q = 0; q < n->nstates; q++)
		b->sig[q] = signature(b, q);
	for (uint32_t q = 0; q < n->nstates; q++) {
		for (uint64_t h = b->sig[q];; h++) {
			uint32_t e = b->ht[h & mask];

			if (!e) {
				b->ht[h & mask] = q + 1;
				b->ncls[q] = k++;
				break;
			}
			if (b->sig[e - 1] == b->sig[q] &&
			    same_edges(b, e - 1, q)) {
				b->ncls[q] = b->ncls[e - 1];
				break;
			}
		}
	}
	memcpy(b->cls, b->ncls, n->nstates * sizeof(*b->cls));
	return k;
}

/* Runs of consecutive ranks with one permission. */
static uint32_t *runs(const struct af_policy *p)
{
	uint32_t *run = calloc(p->n ? p->n : 1, sizeof(*run));

	for (size_t r = 1; run && r < p->n; r++) {
		const struct prule *a = &p->rules[p->by_rank[r - 1]];
		const struct prule *b = &p->rules[p->by_rank[r]];

		run[r] = run[r - 1] + (a->r.perm != b->r.perm);
	}
	return run;
}

static int pick(struct bisim *b, const struct af_policy *p, struct nfa *n)
{
	uint32_t *run = runs(p), *first, mask = b->cap - 1;

	if (!run)
		return -ENOMEM;
	first = b->ht; /* reuse: (class, run) -> first state + 1 */
	memset(first, 0, b->cap * sizeof(*first));
	for (uint32_t q = 0; q < n->nstates; q++) {
		uint32_t rq = run[nfa_state_rank(n, p, q)];

		for (uint64_t h = mix(b->cls[q], rq);; h++) {
			uint32_t e = first[h & mask];

			if (!e) {
				first[h & mask] = q + 1;
				n->canon[q] = q;
				break;
			}
			if (b->cls[e - 1] == b->cls[q] &&
			    run[nfa_state_rank(n, p, e - 1)] == rq) {
				n->canon[q] = e - 1;
				break;
			}
		}
	}
	free(run);
	return 0;
}

int nfa_canonicalize(const struct af_policy *p, struct nfa *n)
{
	struct bisim b = { .n = n, .cap = 16 };
	uint32_t k = 0, prev;
	int r = -ENOMEM;

	while (b.cap < 2 * n->nstates)
		b.cap *= 2;
	n->canon = malloc((n->nstates + 1) * sizeof(*n->canon));
	b.cls = calloc(n->nstates + 1, sizeof(*b.cls));
	b.ncls = calloc(n->nstates + 1, sizeof(*b.ncls));
	b.sig = calloc(n->nstates + 1, sizeof(*b.sig));
	b.ht = calloc(b.cap, sizeof(*b.ht));
	if (n->canon && b.cls && b.ncls && b.sig && b.ht) {
		/* From one class, split until stable. */
		do {
			prev = k;
			k = refine(&b);
		} while (k != prev);
		r = pick(&b, p, n);
	}
	free(b.cls);
	free(b.ncls);
	free(b.sig);
	free(b.ht);
	return r;
}
