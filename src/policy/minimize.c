// SPDX-License-Identifier: Apache-2.0
/*
 * Moore minimization: states start in blocks by their info word (what a path
 * ending there gets) and split until every block's members agree on the
 * block of each successor. Then byte classes that every state treats alike
 * merge. The dead state stays at 0 so zeroed memory keeps failing closed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

struct part {
	const struct dfa *d;
	uint32_t *block;
	uint32_t *nblock;
	uint32_t *ht;
	uint32_t ht_cap;
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h;
}

static uint64_t sig_hash(const struct part *pt, uint32_t q)
{
	const struct dfa *d = pt->d;
	const uint32_t *row = d->next + (size_t)q * d->nclasses;
	uint64_t h = mix(0, pt->block[q]);

	for (uint32_t k = 0; k < d->nclasses; k++)
		h = mix(h, pt->block[row[k]]);
	return h;
}

static bool sig_equal(const struct part *pt, uint32_t a, uint32_t b)
{
	const struct dfa *d = pt->d;
	const uint32_t *ra = d->next + (size_t)a * d->nclasses;
	const uint32_t *rb = d->next + (size_t)b * d->nclasses;

	if (pt->block[a] != pt->block[b])
		return false;
	for (uint32_t k = 0; k < d->nclasses; k++)
		if (pt->block[ra[k]] != pt->block[rb[k]])
			return false;
	return true;
}

/* One refinement round; returns the number of blocks. */
static uint32_t refine(struct part *pt)
{
	uint32_t n = 0, mask = pt->ht_cap - 1;

	memset(pt->ht, 0, pt->ht_cap * sizeof(*pt->ht));
	for (uint32_t q = 0; q < pt->d->nstates; q++) {
		uint64_t h = sig_hash(pt, q);

		for (;; h++) {
			uint32_t e = pt->ht[h & mask];

			if (!e) {
				pt->ht[h & mask] = q + 1;
				pt->nblock[q] = n++;
				break;
			}
			if (sig_equal(pt, e - 1, q)) {
				pt->nblock[q] = pt->nblock[e - 1];
				break;
			}
		}
	}
	memcpy(pt->block, pt->nblock, pt->d->nstates * sizeof(*pt->block));
	return n;
}

static uint32_t initial(struct part *pt)
{
	const struct dfa *d = pt->d;
	uint32_t n = 0, mask = pt->ht_cap - 1;

	memset(pt->ht, 0, pt->ht_cap * sizeof(*pt->ht));
	for (uint32_t q = 0; q < d->nstates; q++) {
		uint64_t h = mix(0, d->info[q]);

		for (;; h++) {
			uint32_t e = pt->ht[h & mask];

			if (!e) {
				pt->ht[h & mask] = q + 1;
				pt->block[q] = n++;
				break;
			}
			if (d->info[e - 1] == d->info[q]) {
				pt->block[q] = pt->block[e - 1];
				break;
			}
		}
	}
	return n;
}

/* Rebuild d with one state per block, the dead state's block first. */
static int rebuild(struct dfa *d, const uint32_t *block, uint32_t nb)
{
	uint32_t *order = malloc(nb * sizeof(*order));
	uint32_t *rep = calloc(nb, sizeof(*rep));
	uint32_t *next = malloc((size_t)nb * d->nclasses * sizeof(*next));
	uint32_t *info = malloc(nb * sizeof(*info));
	uint32_t id = 0;

	if (!order || !rep || !next || !info) {
		free(order);
		free(rep);
		free(next);
		free(info);
		return -ENOMEM;
	}
	memset(order, 0xff, nb * sizeof(*order));
	order[block[DFA_DEAD]] = id++;
	for (uint32_t q = 0; q < d->nstates; q++) {
		if (order[block[q]] == UINT32_MAX)
			order[block[q]] = id++;
		rep[order[block[q]]] = q;
	}
	for (uint32_t b = 0; b < nb; b++) {
		const uint32_t *row = d->next + (size_t)rep[b] * d->nclasses;

		for (uint32_t k = 0; k < d->nclasses; k++)
			next[(size_t)b * d->nclasses + k] =
				order[block[row[k]]];
		info[b] = d->info[rep[b]];
	}
	d->start = order[block[d->start]];
	free(d->next);
	free(d->info);
	free(d->best_f);
	free(d->best_d);
	d->best_f = d->best_d = NULL;
	d->next = next;
	d->info = info;
	d->nstates = nb;
	free(order);
	free(rep);
	return 0;
}

static bool same_column(const struct dfa *d, uint32_t a, uint32_t b)
{
	for (uint32_t q = 0; q < d->nstates; q++)
		if (d->next[(size_t)q * d->nclasses + a] !=
		    d->next[(size_t)q * d->nclasses + b])
			return false;
	return true;
}

/* Merge classes whose columns are identical. */
static int merge_classes(struct dfa *d)
{
	uint32_t map[256], reps[256], n = 0, *next;
	uint64_t h[256];

	for (uint32_t k = 0; k < d->nclasses; k++) {
		h[k] = 0;
		for (uint32_t q = 0; q < d->nstates; q++)
			h[k] = mix(h[k], d->next[(size_t)q * d->nclasses + k]);
		map[k] = UINT32_MAX;
		for (uint32_t j = 0; j < n && map[k] == UINT32_MAX; j++)
			if (h[reps[j]] == h[k] && same_column(d, reps[j], k))
				map[k] = j;
		if (map[k] == UINT32_MAX) {
			reps[n] = k;
			map[k] = n++;
		}
	}
	if (n == d->nclasses)
		return 0;
	next = calloc((size_t)d->nstates * n, sizeof(*next));
	if (!next)
		return -ENOMEM;
	for (uint32_t q = 0; q < d->nstates; q++)
		for (uint32_t j = 0; j < n; j++)
			next[(size_t)q * n + j] =
				d->next[(size_t)q * d->nclasses + reps[j]];
	for (int b = 0; b < 256; b++)
		d->cls[b] = map[d->cls[b]];
	d->slash_cls = map[d->slash_cls];
	d->nclasses = n;
	free(d->next);
	d->next = next;
	return 0;
}

int dfa_minimize(struct dfa *d)
{
	struct part pt = { .d = d };
	uint32_t nb, prev;
	int r = -ENOMEM;

	pt.ht_cap = 16;
	while (pt.ht_cap < 2 * d->nstates)
		pt.ht_cap *= 2;
	pt.block = malloc(d->nstates * sizeof(*pt.block));
	pt.nblock = malloc(d->nstates * sizeof(*pt.nblock));
	pt.ht = malloc(pt.ht_cap * sizeof(*pt.ht));
	if (pt.block && pt.nblock && pt.ht) {
		nb = initial(&pt);
		do {
			prev = nb;
			nb = refine(&pt);
		} while (nb != prev);
		r = rebuild(d, pt.block, nb);
	}
	free(pt.block);
	free(pt.nblock);
	free(pt.ht);
	return r ? r : merge_classes(d);
}
