/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals of the policy module: parsed rules, the NFA they compile to, the
 * DFA built from it, and the steps from DFA to blob. Pipeline:
 *   parse.c (pattern -> components/atoms) -> nfa.c (rules -> one NFA)
 *   -> dfa.c (subset construction) -> levels.c (effective levels, floor,
 *   none-hiding) -> minimize.c -> emit.c (bpf/policy_match.h blob).
 */
#ifndef AF_POLICY_INTERNAL_H
#define AF_POLICY_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agentfense/policy.h"

/*
 * Budget of the compiler besides AF_PM_BLOB_MAX, which also bounds its
 * memory (about 100 MiB at worst) and time.
 */
#define AF_POLICY_DFA_STATES_MAX (1u << 16)
#define AF_POLICY_DFA_CELLS_MAX	 (1u << 23) /* states x byte classes */
#define AF_POLICY_DFA_POOL_MAX	 (1u << 22) /* NFA ids held by DFA states */

enum pat_atom_kind { ATOM_LIT, ATOM_ANY, ATOM_STAR, ATOM_SET };

struct pat_atom {
	uint8_t kind;
	uint8_t byte;	 /* ATOM_LIT */
	uint64_t set[4]; /* ATOM_SET: member bytes, never '/' */
};

struct pat_comp {
	bool globstar;	/* `**`: zero or more whole components */
	uint32_t atom0; /* first atom in prule.atoms */
	uint32_t natoms;
};

struct prule {
	struct af_rule r; /* r.pattern is `pattern` below */
	char *pattern;	  /* owned, NUL-terminated copy */
	bool dir_only;	  /* glob with a trailing '/' */
	struct pat_comp *comps;
	uint32_t ncomps;
	struct pat_atom *atoms;
	uint32_t natoms;
	uint32_t literals; /* specificity: literal bytes */
	uint32_t wildcards;
	uint32_t rank; /* 0 = loses every tie */
};

struct af_policy {
	struct prule *rules;
	size_t n;
	uint32_t *by_rank; /* rule index of each rank */
	pthread_mutex_t lock;
	struct af_matcher *compiled; /* for explain, built on first use */
	int compile_err;
};

/* parse.c */
int pat_parse(struct prule *pr, const char **why);
void prule_release(struct prule *pr);
bool pat_set_has(const uint64_t set[4], uint8_t b);

/* Resolution order: > 0 when rule a beats rule b. */
int prule_cmp(const struct prule *a, const struct prule *b, size_t ia,
	      size_t ib);

/* nfa.c */
#define NFA_EPS UINT32_MAX
enum { ACC_NONE = 0, ACC_ANY = 1, ACC_DIR = 2 };

struct nfa_edge {
	uint32_t set; /* index into nfa.sets, or NFA_EPS */
	uint32_t to;
};

struct nfa {
	uint32_t nstates;
	uint32_t *rule;	    /* rule index per state */
	uint8_t *acc;	    /* ACC_* per state */
	uint8_t *universal; /* accepts every valid continuation */
	uint32_t *eoff;	    /* edges of state s: edges[eoff[s], eoff[s+1]) */
	struct nfa_edge *edges;
	uint64_t (*sets)[4];
	uint32_t nsets;
	uint32_t *rank_first; /* first state of the rule of each rank */
	uint32_t nrules;
	/*
	 * Stand-in for each state: the first state that accepts the same
	 * continuations in a rule of the same run of consecutive ranks with
	 * one permission. Swapping one for the other never changes a level.
	 */
	uint32_t *canon;
};

#define NFA_SET_NONSLASH 0
#define NFA_SET_SLASH	 1

int nfa_build(const struct af_policy *p, struct nfa *out);
/* nfa.canon, by bisimulation (nfa_bisim.c). */
int nfa_canonicalize(const struct af_policy *p, struct nfa *n);
void nfa_release(struct nfa *n);
/* Rank of the rule owning NFA state s. */
uint32_t nfa_state_rank(const struct nfa *n, const struct af_policy *p,
			uint32_t s);

/* dfa.c */
struct dfa {
	uint32_t nstates;
	uint32_t nclasses;
	uint8_t cls[256];
	uint32_t slash_cls;
	uint32_t start;	 /* DFA_START until minimized */
	uint32_t *next;	 /* nstates * nclasses */
	int32_t *best_f; /* deciding rule as a file, -1 for none */
	int32_t *best_d; /* as a directory */
	uint32_t *info;	 /* AF_PM_INFO(file, dir, floor), after levels */
};

#define DFA_DEAD  0u
#define DFA_START 1u

int dfa_build(const struct af_policy *p, const struct nfa *n, struct dfa *out,
	      char *err, size_t errlen);
void dfa_release(struct dfa *d);

/* levels.c: effective levels, subtree floor, fold none-hiding. */
int dfa_levels(const struct af_policy *p, struct dfa *d);

/* minimize.c: merge equivalent states, then equivalent byte classes. */
int dfa_minimize(struct dfa *d);

/* emit.c */
struct af_matcher {
	uint8_t *blob;
	size_t size;
	struct af_matcher_stats stats;
};

/* stride 0 picks 2 when it fits, else 1. */
int dfa_emit(const struct dfa *d, unsigned stride, struct af_matcher *m,
	     char *err, size_t errlen);

/* explain.c: per-prefix best rules by simulating the NFA. */
int policy_compiled(const struct af_policy *p, const struct af_matcher **out);

/* Small helpers. */
void *xreallocarray(void *p, size_t n, size_t size);
int policy_errf(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Checks a workspace path; its length or -EINVAL. */
int policy_path_check(const char *path);

#endif
