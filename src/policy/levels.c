// SPDX-License-Identifier: Apache-2.0
/*
 * From "best rule per state" to the levels the walk reports.
 *
 * Any state can end a path (the end of a component). For a state q:
 *   file level   = its best rule's level, or none (fail closed);
 *   dir level    = its best rule's level, or, when no rule matches, view if
 *                  something below can be visible (V) and none otherwise;
 *   subtree floor = the lowest level of q as a directory and of every path
 *                  that could exist below it.
 * V is a least fixpoint (a witness is a finite path), the floor a greatest
 * one (a minimum over everything reachable). Both run over the byte graph:
 * within a component (non-'/' bytes) and across a '/'. Then '/' after a
 * none directory is pointed at the dead state, which is how the walk hides
 * a none directory's subtree.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../bpf/policy_match.h"
#include "policy_internal.h"

struct lv {
	struct dfa *d;
	bool ns[256];	   /* class holds bytes a name can contain */
	uint32_t *rev_off; /* predecessors over non-'/' bytes */
	uint32_t *rev;
	uint32_t *rsl_off; /* predecessors over '/' */
	uint32_t *rsl;
	uint8_t *lf, *ld; /* rule levels, 0 = no rule */
	uint8_t *ef, *ed; /* effective levels */
	uint32_t *queue;
	bool *queued;
};

static uint32_t nxt(const struct dfa *d, uint32_t q, uint32_t k)
{
	return d->next[(size_t)q * d->nclasses + k];
}

/* Predecessor lists, one CSR for non-'/' classes and one for '/'. */
static int reverse(struct lv *l)
{
	struct dfa *d = l->d;
	uint32_t *pos;
	size_t ne = 0;

	l->rev_off = calloc(d->nstates + 1, sizeof(*l->rev_off));
	l->rsl_off = calloc(d->nstates + 1, sizeof(*l->rsl_off));
	if (!l->rev_off || !l->rsl_off)
		return -ENOMEM;
	for (uint32_t q = 0; q < d->nstates; q++) {
		for (uint32_t k = 0; k < d->nclasses; k++) {
			if (l->ns[k]) {
				l->rev_off[nxt(d, q, k) + 1]++;
				ne++;
			}
		}
		l->rsl_off[nxt(d, q, d->slash_cls) + 1]++;
	}
	for (uint32_t q = 0; q < d->nstates; q++) {
		l->rev_off[q + 1] += l->rev_off[q];
		l->rsl_off[q + 1] += l->rsl_off[q];
	}
	l->rev = calloc(ne + 1, sizeof(*l->rev));
	l->rsl = calloc(d->nstates + 1, sizeof(*l->rsl));
	pos = calloc(2 * (size_t)d->nstates, sizeof(*pos));
	if (!l->rev || !l->rsl || !pos) {
		free(pos);
		return -ENOMEM;
	}
	memcpy(pos, l->rev_off, d->nstates * sizeof(*pos));
	memcpy(pos + d->nstates, l->rsl_off, d->nstates * sizeof(*pos));
	for (uint32_t q = 0; q < d->nstates; q++) {
		for (uint32_t k = 0; k < d->nclasses; k++)
			if (l->ns[k])
				l->rev[pos[nxt(d, q, k)]++] = q;
		l->rsl[pos[d->nstates + nxt(d, q, d->slash_cls)]++] = q;
	}
	free(pos);
	return 0;
}

static void push(struct lv *l, uint32_t *tail, uint32_t q)
{
	if (l->queued[q])
		return;
	l->queued[q] = true;
	l->queue[(*tail)++ % l->d->nstates] = q;
}

/*
 * V: is anything below this directory visible? Least fixpoint, over a work
 * list of the states that can end a visible path (W): those whose rules
 * give a level above none, their predecessors within a component, and
 * unmatched directories once V holds for them.
 */
static int visible_below(struct lv *l, bool *v)
{
	struct dfa *d = l->d;
	bool *x = calloc(d->nstates, 1); /* a name from here can be W */
	uint32_t head = 0, tail = 0;

	if (!x)
		return -ENOMEM;
	for (uint32_t q = 0; q < d->nstates; q++)
		if (l->lf[q] > AF_PERM_NONE || l->ld[q] > AF_PERM_NONE)
			push(l, &tail, q);
	while (head != tail) {
		uint32_t p = l->queue[head++ % d->nstates];

		for (uint32_t i = l->rev_off[p]; i < l->rev_off[p + 1]; i++) {
			uint32_t s = l->rev[i];

			push(l, &tail, s);
			if (x[s])
				continue;
			x[s] = true;
			for (uint32_t j = l->rsl_off[s]; j < l->rsl_off[s + 1];
			     j++) {
				uint32_t q = l->rsl[j];

				v[q] = true;
				if (!l->ld[q])
					push(l, &tail, q);
			}
		}
	}
	free(x);
	return 0;
}

static uint8_t min8(uint8_t a, uint8_t b)
{
	return a < b ? a : b;
}

/* Floor: greatest fixpoint of minima, from write downwards. */
static int floors(struct lv *l, uint8_t *fd)
{
	struct dfa *d = l->d;
	uint8_t *y = malloc(d->nstates), *z = malloc(d->nstates);
	uint32_t head = 0, tail = 0;

	if (!y || !z) {
		free(y);
		free(z);
		return -ENOMEM;
	}
	memset(y, AF_PERM_WRITE, d->nstates);
	memset(z, AF_PERM_WRITE, d->nstates);
	memset(fd, AF_PERM_WRITE, d->nstates);
	memset(l->queued, 0, d->nstates);
	for (uint32_t q = 0; q < d->nstates; q++)
		push(l, &tail, q);
	while (head != tail) {
		uint32_t q = l->queue[head++ % d->nstates];
		uint8_t ny = AF_PERM_WRITE, nf, nz;

		l->queued[q] = false;
		for (uint32_t k = 0; k < d->nclasses; k++)
			if (l->ns[k])
				ny = min8(ny, z[nxt(d, q, k)]);
		nf = min8(l->ed[q],
			  q == DFA_START ? ny : y[nxt(d, q, d->slash_cls)]);
		nz = min8(min8(l->ef[q], nf), ny);
		if (ny == y[q] && nf == fd[q] && nz == z[q])
			continue;
		y[q] = ny;
		fd[q] = nf;
		z[q] = nz;
		push(l, &tail, q);
		for (uint32_t i = l->rev_off[q]; i < l->rev_off[q + 1]; i++)
			push(l, &tail, l->rev[i]);
		for (uint32_t i = l->rsl_off[q]; i < l->rsl_off[q + 1]; i++)
			push(l, &tail, l->rsl[i]);
	}
	free(y);
	free(z);
	return 0;
}

static void effective(struct lv *l, const bool *v)
{
	struct dfa *d = l->d;

	for (uint32_t q = 0; q < d->nstates; q++) {
		l->ef[q] = l->lf[q] ? l->lf[q] : AF_PERM_NONE;
		l->ed[q] = l->ld[q] ? l->ld[q]
			   : v[q]   ? AF_PERM_VIEW
				    : AF_PERM_NONE;
	}
	/* The root is always visible, and it is a directory. */
	if (l->ed[DFA_START] < AF_PERM_VIEW)
		l->ed[DFA_START] = AF_PERM_VIEW;
	l->ef[DFA_START] = l->ed[DFA_START];
	/* A none directory hides everything below it. */
	for (uint32_t q = 0; q < d->nstates; q++)
		if (l->ed[q] == AF_PERM_NONE)
			d->next[(size_t)q * d->nclasses + d->slash_cls] =
				DFA_DEAD;
}

static int levels(struct lv *l, const struct af_policy *p)
{
	struct dfa *d = l->d;
	uint8_t *fd;
	bool *v;
	int r;

	for (uint32_t q = 0; q < d->nstates; q++) {
		l->lf[q] = d->best_f[q] < 0 ? 0 : p->rules[d->best_f[q]].r.perm;
		l->ld[q] = d->best_d[q] < 0 ? 0 : p->rules[d->best_d[q]].r.perm;
	}
	r = reverse(l);
	if (r < 0)
		return r;
	v = calloc(d->nstates, sizeof(*v));
	if (!v)
		return -ENOMEM;
	r = visible_below(l, v);
	if (r == 0)
		effective(l, v);
	free(v);
	if (r < 0)
		return r;
	/* Folding changed '/' edges: predecessors again, then floors. */
	free(l->rev_off);
	free(l->rev);
	free(l->rsl_off);
	free(l->rsl);
	l->rev_off = l->rev = l->rsl_off = l->rsl = NULL;
	r = reverse(l);
	fd = r ? NULL : malloc(d->nstates);
	if (!fd)
		return -ENOMEM;
	r = floors(l, fd);
	for (uint32_t q = 0; r == 0 && q < d->nstates; q++)
		d->info[q] = AF_PM_INFO(l->ef[q], l->ed[q], fd[q]);
	free(fd);
	return r;
}

int dfa_levels(const struct af_policy *p, struct dfa *d)
{
	struct lv l = { .d = d };
	size_t n = d->nstates;
	int r = -ENOMEM;

	for (int b = 1; b < 256; b++)
		if (b != '/')
			l.ns[d->cls[b]] = true;
	d->info = calloc(n, sizeof(*d->info));
	l.lf = calloc(n, 1);
	l.ld = calloc(n, 1);
	l.ef = calloc(n, 1);
	l.ed = calloc(n, 1);
	l.queue = calloc(n, sizeof(*l.queue));
	l.queued = calloc(n, sizeof(*l.queued));
	if (d->info && l.lf && l.ld && l.ef && l.ed && l.queue && l.queued)
		r = levels(&l, p);
	free(l.lf);
	free(l.ld);
	free(l.ef);
	free(l.ed);
	free(l.queue);
	free(l.queued);
	free(l.rev_off);
	free(l.rev);
	free(l.rsl_off);
	free(l.rsl);
	return r;
}
