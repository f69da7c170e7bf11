// SPDX-License-Identifier: Apache-2.0
/*
 * Serialize a minimized DFA into the blob of bpf/policy_match.h: stride 2
 * (two bytes per table load, through pair classes) when it fits the budget,
 * else stride 1, else -E2BIG. Never a partial table.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../bpf/policy_match.h"
#include "policy_internal.h"

/* Bound on the work to find pair classes (classes^2 * states). */
#define PAIR_WORK_MAX (1ull << 28)

struct pairs {
	uint32_t n;
	uint32_t *cls; /* per (c0, c1), c1 == classes is the pad: pair class */
	uint32_t *rep; /* per pair class: c0 * (classes + 1) + c1 */
};

static uint32_t pair_target(const struct dfa *d, uint32_t q, uint32_t c0,
			    uint32_t c1)
{
	uint32_t t = d->next[(size_t)q * d->nclasses + c0];

	return c1 == d->nclasses ? t : d->next[(size_t)t * d->nclasses + c1];
}

static bool same_pair(const struct dfa *d, uint32_t a, uint32_t b)
{
	uint32_t w = d->nclasses + 1;

	for (uint32_t q = 0; q < d->nstates; q++)
		if (pair_target(d, q, a / w, a % w) !=
		    pair_target(d, q, b / w, b % w))
			return false;
	return true;
}

/* Group byte-class pairs that lead every state to the same state. */
static int pair_classes(const struct dfa *d, struct pairs *pc)
{
	uint32_t w = d->nclasses + 1, np = d->nclasses * w, cap = 16;
	uint32_t *ht;

	while (cap < 2 * np)
		cap *= 2;
	ht = calloc(cap, sizeof(*ht));
	pc->cls = calloc(np, sizeof(*pc->cls));
	pc->rep = calloc(np, sizeof(*pc->rep));
	if (!ht || !pc->cls || !pc->rep) {
		free(ht);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < np; i++) {
		uint64_t h = 0xcbf29ce484222325ull;

		for (uint32_t q = 0; q < d->nstates; q++) {
			h ^= pair_target(d, q, i / w, i % w);
			h *= 0x100000001b3ull;
		}
		for (;; h++) {
			uint32_t e = ht[h & (cap - 1)];

			if (!e) {
				ht[h & (cap - 1)] = i + 1;
				pc->rep[pc->n] = i;
				pc->cls[i] = pc->n++;
				break;
			}
			if (same_pair(d, e - 1, i)) {
				pc->cls[i] = pc->cls[e - 1];
				break;
			}
		}
	}
	free(ht);
	return 0;
}

static void header(const struct dfa *d, uint8_t *blob, uint32_t stride,
		   size_t size, uint32_t rowb)
{
	struct af_pm_header *h = (void *)blob;

	h->magic = AF_PM_MAGIC;
	h->version = AF_PM_VERSION;
	h->stride = stride;
	h->size = size;
	h->states = d->nstates;
	h->classes = d->nclasses;
	h->start = d->start * rowb;
}

static uint8_t *emit1(const struct dfa *d, size_t *size)
{
	uint32_t rowb = 4 * (1 + d->nclasses);
	uint32_t *row_of, *rows;
	uint8_t *blob;

	*size = AF_PM_TABLE_OFF + (size_t)d->nstates * rowb;
	if (*size > AF_PM_BLOB_MAX)
		return NULL;
	blob = calloc(1, *size);
	if (!blob)
		return NULL;
	header(d, blob, 1, *size, rowb);
	row_of = (uint32_t *)(blob + AF_PM_ROW_OF_OFF);
	for (int b = 0; b < 256; b++)
		row_of[b] = 4 + 4 * d->cls[b];
	rows = (uint32_t *)(blob + AF_PM_TABLE_OFF);
	for (uint32_t q = 0; q < d->nstates; q++) {
		uint32_t *row = rows + (size_t)q * (1 + d->nclasses);

		row[0] = d->info[q];
		for (uint32_t k = 0; k < d->nclasses; k++)
			row[1 + k] = d->next[(size_t)q * d->nclasses + k] * rowb;
	}
	return blob;
}

static uint8_t *emit2(const struct dfa *d, const struct pairs *pc,
		      size_t *size)
{
	uint32_t w = d->nclasses + 1, rowb = 4 * (1 + pc->n);
	size_t pair_off = AF_PM_TABLE_OFF + (size_t)d->nstates * rowb;
	struct af_pm_header *h;
	uint32_t *row_of, *col_of, *rows;
	uint16_t *pair;
	uint8_t *blob;

	*size = pair_off + (size_t)d->nclasses * w * 2;
	if (*size > AF_PM_BLOB_MAX || 4 * (1 + pc->n) > UINT16_MAX)
		return NULL;
	blob = calloc(1, *size);
	if (!blob)
		return NULL;
	header(d, blob, 2, *size, rowb);
	h = (void *)blob;
	h->pairs = pc->n;
	h->pair_off = pair_off;
	h->pad_col = 2 * d->nclasses;
	row_of = (uint32_t *)(blob + AF_PM_ROW_OF_OFF);
	col_of = (uint32_t *)(blob + AF_PM_COL_OF_OFF);
	for (int b = 0; b < 256; b++) {
		row_of[b] = pair_off + 2 * w * d->cls[b];
		col_of[b] = 2 * d->cls[b];
	}
	pair = (uint16_t *)(blob + pair_off);
	for (uint32_t i = 0; i < d->nclasses * w; i++)
		pair[i] = 4 * (1 + pc->cls[i]);
	rows = (uint32_t *)(blob + AF_PM_TABLE_OFF);
	for (uint32_t q = 0; q < d->nstates; q++) {
		uint32_t *row = rows + (size_t)q * (1 + pc->n);

		row[0] = d->info[q];
		for (uint32_t j = 0; j < pc->n; j++)
			row[1 + j] = pair_target(d, q, pc->rep[j] / w,
						 pc->rep[j] % w) *
				     rowb;
	}
	return blob;
}

int dfa_emit(const struct dfa *d, struct af_matcher *m, char *err,
	     size_t errlen)
{
	uint64_t work = (uint64_t)d->nclasses * (d->nclasses + 1) * d->nstates;
	struct pairs pc = { 0 };
	size_t need1 = AF_PM_TABLE_OFF +
		       (size_t)d->nstates * 4 * (1 + d->nclasses);
	int r = 0;

	if (work <= PAIR_WORK_MAX && !getenv("AF_PM_STRIDE1")) {
		r = pair_classes(d, &pc);
		if (r == 0)
			m->blob = emit2(d, &pc, &m->size);
	}
	if (r == 0 && !m->blob && need1 <= AF_PM_BLOB_MAX)
		m->blob = emit1(d, &m->size);
	if (m->blob) {
		const struct af_pm_header *h = (const void *)m->blob;

		m->stats = (struct af_matcher_stats){
			.states = d->nstates,
			.classes = d->nclasses,
			.pair_classes = h->stride == 2 ? pc.n : 0,
			.stride = h->stride,
			.blob_bytes = m->size,
		};
	}
	free(pc.cls);
	free(pc.rep);
	if (r < 0 || (!m->blob && need1 <= AF_PM_BLOB_MAX))
		return policy_errf(err, errlen, -ENOMEM,
				   "out of memory serializing the policy");
	if (!m->blob)
		return policy_errf(err, errlen, -E2BIG,
				   "policy too large: its matcher needs %zu "
				   "bytes, more than the %u-byte budget (%u "
				   "states x %u byte classes)",
				   need1, AF_PM_BLOB_MAX, d->nstates,
				   d->nclasses);
	return 0;
}
