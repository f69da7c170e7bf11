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

/* The walk reaches rows starting at most AF_PM_ROW_MAX into the table. */
static bool rows_reachable(const struct dfa *d, uint32_t rowb)
{
	return (uint64_t)(d->nstates - 1) * rowb <= AF_PM_ROW_MAX;
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

/* Stride 1: one entry per byte class. */
static int emit1(const struct dfa *d, struct af_matcher *m)
{
	uint32_t rowb = 4 * (1 + d->nclasses);
	size_t size = AF_PM_TABLE_OFF + (size_t)d->nstates * rowb;
	uint32_t *byte_col, *rows;
	uint8_t *blob;

	if (size > AF_PM_BLOB_MAX || !rows_reachable(d, rowb))
		return -E2BIG;
	blob = calloc(1, size);
	if (!blob)
		return -ENOMEM;
	header(d, blob, 1, size, rowb);
	byte_col = (uint32_t *)(blob + AF_PM_BYTE_OFF);
	for (int b = 0; b < 256; b++)
		byte_col[b] = 4 + 4 * d->cls[b];
	rows = (uint32_t *)(blob + AF_PM_TABLE_OFF);
	for (uint32_t q = 0; q < d->nstates; q++) {
		uint32_t *row = rows + (size_t)q * (1 + d->nclasses);

		row[0] = d->info[q];
		for (uint32_t k = 0; k < d->nclasses; k++)
			row[1 + k] =
				d->next[(size_t)q * d->nclasses + k] * rowb;
	}
	m->blob = blob;
	m->size = size;
	return 0;
}

/* Stride 2: one entry per pair class. */
static int emit2(const struct dfa *d, const struct pairs *pc,
		 struct af_matcher *m)
{
	uint32_t w = d->nclasses + 1, rowb = 4 * (1 + pc->n);
	size_t size = AF_PM_TABLE_OFF + (size_t)d->nstates * rowb;
	uint32_t *rows;
	uint16_t *pair;
	uint8_t *blob;

	if (size > AF_PM_BLOB_MAX || rowb - 4 > AF_PM_COL_MAX ||
	    !rows_reachable(d, rowb))
		return -E2BIG;
	blob = calloc(1, size);
	if (!blob)
		return -ENOMEM;
	header(d, blob, 2, size, rowb);
	((struct af_pm_header *)blob)->pairs = pc->n;
	/* Two path bytes b0 | b1 << 8; b1 = 0 (no NUL in paths): b0, end. */
	pair = (uint16_t *)(blob + AF_PM_PAIR_OFF);
	for (uint32_t v = 0; v < 65536; v++) {
		uint32_t c0 = d->cls[v & 0xff];
		uint32_t c1 = v >> 8 ? d->cls[v >> 8] : d->nclasses;

		pair[v] = 4 * (1 + pc->cls[c0 * w + c1]);
	}
	rows = (uint32_t *)(blob + AF_PM_TABLE_OFF);
	for (uint32_t q = 0; q < d->nstates; q++) {
		uint32_t *row = rows + (size_t)q * (1 + pc->n);

		row[0] = d->info[q];
		for (uint32_t j = 0; j < pc->n; j++)
			row[1 + j] = pair_target(d, q, pc->rep[j] / w,
						 pc->rep[j] % w) *
				     rowb;
	}
	m->blob = blob;
	m->size = size;
	return 0;
}

int dfa_emit(const struct dfa *d, unsigned stride, struct af_matcher *m,
	     char *err, size_t errlen)
{
	uint64_t work = (uint64_t)d->nclasses * (d->nclasses + 1) * d->nstates;
	struct pairs pc = { 0 };
	int r = -E2BIG;

	if (stride != 1 && work <= PAIR_WORK_MAX) {
		r = pair_classes(d, &pc);
		if (r == 0)
			r = emit2(d, &pc, m);
	}
	if (r == -E2BIG && stride != 2)
		r = emit1(d, m);
	if (r == 0) {
		uint32_t used = ((const struct af_pm_header *)m->blob)->stride;

		m->stats = (struct af_matcher_stats){
			.states = d->nstates,
			.classes = d->nclasses,
			.pair_classes = used == 2 ? pc.n : 0,
			.stride = used,
			.blob_bytes = m->size,
		};
	}
	free(pc.cls);
	free(pc.rep);
	if (r == -E2BIG)
		return policy_errf(err, errlen, r,
				   "policy too large: its matcher (%u states "
				   "x %u byte classes) does not fit the "
				   "%u-byte budget",
				   d->nstates, d->nclasses, AF_PM_BLOB_MAX);
	if (r < 0)
		return policy_errf(err, errlen, r,
				   "out of memory serializing the policy");
	return 0;
}
