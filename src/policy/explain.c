// SPDX-License-Identifier: Apache-2.0
/*
 * explain(path): the level comes from the compiled matcher (the answer the
 * kernel gives), the deciding rule from simulating the rules' NFA over the
 * path, prefix by prefix, without the compiler's prunings.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MOD "policy"
#include "agentfense/log.h"
#include "../../bpf/policy_match.h"
#include "policy_internal.h"

struct sim {
	const struct nfa *n;
	uint32_t *cur, ncur;
	uint32_t *nxt;
	uint32_t *mark, gen;
};

static void add(struct sim *s, uint32_t *set, uint32_t *len, uint32_t q)
{
	if (s->mark[q] == s->gen)
		return;
	s->mark[q] = s->gen;
	set[(*len)++] = q;
	/* Epsilon edges, depth first. */
	for (uint32_t e = s->n->eoff[q]; e < s->n->eoff[q + 1]; e++)
		if (s->n->edges[e].set == NFA_EPS)
			add(s, set, len, s->n->edges[e].to);
}

static void sim_step(struct sim *s, uint8_t b)
{
	uint32_t len = 0;

	s->gen++;
	for (uint32_t i = 0; i < s->ncur; i++) {
		uint32_t q = s->cur[i];

		for (uint32_t e = s->n->eoff[q]; e < s->n->eoff[q + 1]; e++) {
			uint32_t set = s->n->edges[e].set;

			if (set != NFA_EPS && pat_set_has(s->n->sets[set], b))
				add(s, s->nxt, &len, s->n->edges[e].to);
		}
	}
	memcpy(s->cur, s->nxt, len * sizeof(*s->cur));
	s->ncur = len;
}

/* States are numbered by rank: the highest accepting one decides. */
static int sim_best(const struct sim *s, bool as_dir)
{
	uint32_t top = 0;
	bool found = false;

	for (uint32_t i = 0; i < s->ncur; i++) {
		uint8_t acc = s->n->acc[s->cur[i]];

		if ((acc == ACC_ANY || (as_dir && acc == ACC_DIR)) &&
		    (!found || s->cur[i] > top)) {
			top = s->cur[i];
			found = true;
		}
	}
	return found ? (int)s->n->rule[top] : -1;
}

int policy_compiled(const struct af_policy *p, const struct af_matcher **out)
{
	/* A cache on a const object: the lock makes it safe to share. */
	struct af_policy *mp = (struct af_policy *)p;
	char err[256];
	int r;

	pthread_mutex_lock(&mp->lock);
	if (!mp->compiled && !mp->compile_err) {
		r = af_policy_compile(p, &mp->compiled, err, sizeof(err));
		if (r < 0) {
			log_warn("cannot explain: %s", err);
			mp->compile_err = r;
		}
	}
	*out = mp->compiled;
	r = mp->compile_err;
	pthread_mutex_unlock(&mp->lock);
	return r;
}

static enum af_perm level(const struct af_matcher *m, const char *path,
			  size_t len, bool is_dir)
{
	return af_pm_level(af_pm_walk(m->blob, (const __u8 *)path, 0, len),
			   is_dir);
}

static void decide(const struct sim *s, const struct af_matcher *m,
		   const char *path, size_t len, bool is_dir,
		   struct af_explanation *out)
{
	uint32_t info = af_pm_walk(m->blob, (const __u8 *)path, 0, len);

	out->perm = af_pm_level(info, is_dir);
	out->floor = is_dir ? af_pm_floor(info) : out->perm;
	out->rule_index = sim_best(s, is_dir);
	if (out->rule_index >= 0)
		out->reason = AF_EXPLAIN_RULE;
	else if (!is_dir)
		out->reason = AF_EXPLAIN_DEFAULT;
	else if (out->perm > AF_PERM_NONE)
		out->reason = AF_EXPLAIN_DIR_TRAVERSE;
	else
		out->reason = AF_EXPLAIN_DIR_NOTHING_BELOW;
}

static int walk(const struct af_policy *p, const struct af_matcher *m,
		struct sim *s, const char *path, size_t len, bool is_dir,
		struct af_explanation *out)
{
	s->gen++;
	for (size_t r = 0; r < p->n; r++)
		add(s, s->cur, &s->ncur, s->n->rank_first[r]);
	for (size_t i = 1; i < len; i++) {
		if (path[i] == '/' && level(m, path, i, true) == AF_PERM_NONE) {
			out->perm = out->floor = AF_PERM_NONE;
			out->rule_index = sim_best(s, true);
			out->reason = AF_EXPLAIN_HIDDEN;
			out->ancestor_len = i;
			return 0;
		}
		sim_step(s, path[i]);
	}
	decide(s, m, path, len, is_dir || len == 1, out);
	if (len == 1 && (out->rule_index < 0 ||
			 p->rules[out->rule_index].r.perm != out->perm)) {
		out->rule_index = -1;
		out->reason = AF_EXPLAIN_ROOT;
	}
	return 0;
}

int af_policy_explain_ex(const struct af_policy *p, const char *path,
			 bool is_dir, struct af_explanation *out)
{
	const struct af_matcher *m;
	struct nfa n;
	struct sim s = { .n = &n };
	int len = policy_path_check(path), r;

	memset(out, 0, sizeof(*out));
	out->perm = out->floor = AF_PERM_NONE;
	out->rule_index = -1;
	out->reason = AF_EXPLAIN_DEFAULT;
	if (len < 0)
		return len;
	r = policy_compiled(p, &m);
	if (r < 0)
		return r;
	r = nfa_build(p, &n);
	if (r < 0)
		return r;
	s.cur = calloc(n.nstates + 1, sizeof(*s.cur));
	s.nxt = calloc(n.nstates + 1, sizeof(*s.nxt));
	s.mark = calloc(n.nstates + 1, sizeof(*s.mark));
	r = s.cur && s.nxt && s.mark ? walk(p, m, &s, path, len, is_dir, out)
				     : -ENOMEM;
	free(s.cur);
	free(s.nxt);
	free(s.mark);
	nfa_release(&n);
	return r;
}

enum af_perm af_policy_explain(const struct af_policy *p, const char *path,
			       bool is_dir, int *rule_index)
{
	struct af_explanation e;

	af_policy_explain_ex(p, path, is_dir, &e);
	if (rule_index)
		*rule_index = e.rule_index;
	return e.perm;
}

const char *af_explain_reason_str(enum af_explain_reason reason)
{
	switch (reason) {
	case AF_EXPLAIN_RULE:
		return "the rule at rule_index matches the path";
	case AF_EXPLAIN_ROOT:
		return "the workspace root is always at least view";
	case AF_EXPLAIN_HIDDEN:
		return "an ancestor directory is none, which hides everything "
		       "below it";
	case AF_EXPLAIN_DEFAULT:
		return "no rule matches: none (fail closed)";
	case AF_EXPLAIN_DIR_TRAVERSE:
		return "no rule matches this directory; it is view because "
		       "something below it is visible";
	case AF_EXPLAIN_DIR_NOTHING_BELOW:
		return "no rule matches this directory and nothing below it "
		       "is visible: none";
	}
	return "unknown";
}
