/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Permission policy: the rule model, presets, resolution and `explain`, and
 * the compiler that turns a rule list into the flat matcher the kernel walks
 * (format and walk in bpf/policy_match.h). Semantics: docs/permissions.md.
 */
#ifndef AGENTFENSE_POLICY_H
#define AGENTFENSE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Levels, ordered; the values are the wire's Permission enum. */
enum af_perm {
	AF_PERM_NONE = 1,
	AF_PERM_VIEW = 2,
	AF_PERM_READ = 3,
	AF_PERM_WRITE = 4,
};

/* The wire's PatternType; 0 (UNSPECIFIED) is accepted and means glob. */
enum af_pattern_type {
	AF_PAT_GLOB = 1,
	AF_PAT_DIRECTORY = 2,
	AF_PAT_FILE = 3,
};

/* Budget: rule lists beyond these are rejected, never truncated. */
#define AF_POLICY_RULES_MAX   4096
#define AF_POLICY_PATTERN_MAX 1024

/* Initialize with designated initializers: fields may be added. */
struct af_rule {
	const char *pattern;
	enum af_pattern_type type;
	enum af_perm perm;
	int32_t priority;
	/*
	 * Bytes in pattern when it may hold a NUL (which is then rejected);
	 * 0 means strlen(pattern).
	 */
	size_t pattern_len;
};

struct af_preset {
	const char *name;
	const char *description;
	const struct af_rule *rules;
	size_t n_rules;
};

/* All presets in a stable order; the one source of truth for them. */
const struct af_preset *af_presets(size_t *n);
/* NULL if unknown. */
const struct af_preset *af_preset_find(const char *name);

/* "none", "view", "read", "write"; NULL for other values. */
const char *af_perm_name(enum af_perm perm);
/* Parses those names; -EINVAL otherwise. */
int af_perm_parse(const char *name, enum af_perm *out);
/* "glob", "directory", "file"; NULL for other values. */
const char *af_pattern_type_name(enum af_pattern_type type);

/* A validated, owned copy of an ordered rule list. */
struct af_policy;

/*
 * Validates and copies rules (patterns included). On a bad rule returns
 * -EINVAL and writes e.g. `rule 3 ("/a[b"): unbalanced '['` to err (rule
 * indices count from 0, as rule_index does); more than AF_POLICY_RULES_MAX
 * rules is -E2BIG. Type 0 is stored as AF_PAT_GLOB. Cheap: nothing is
 * compiled here.
 */
int af_policy_new(const struct af_rule *rules, size_t n, struct af_policy **out,
		  char *err, size_t errlen);
/*
 * Presets by name, expanded in order, followed by rules: rules given by the
 * caller come later, so they win full ties against preset rules. An unknown
 * preset is -ENOENT with err naming it.
 */
int af_policy_new_with_presets(const char *const *presets, size_t n_presets,
			       const struct af_rule *rules, size_t n,
			       struct af_policy **out, char *err,
			       size_t errlen);
void af_policy_free(struct af_policy *p);

size_t af_policy_rule_count(const struct af_policy *p);
const struct af_rule *af_policy_rule(const struct af_policy *p, size_t i);

/*
 * The level of a workspace path ("/src/main.py", "/" for the root) and the
 * rule that decided it (-1: no rule, the default applied). A malformed path
 * (no leading '/', empty, "." or ".." components, trailing '/') or a policy
 * that cannot be compiled gives AF_PERM_NONE with -1.
 */
enum af_perm af_policy_explain(const struct af_policy *p, const char *path,
			       bool is_dir, int *rule_index);

enum af_explain_reason {
	AF_EXPLAIN_RULE = 1,	      /* rule_index's rule matched the path */
	AF_EXPLAIN_ROOT,	      /* the root is always at least view */
	AF_EXPLAIN_HIDDEN,	      /* an ancestor directory is none */
	AF_EXPLAIN_DEFAULT,	      /* no rule matches: none (fail closed) */
	AF_EXPLAIN_DIR_TRAVERSE,      /* unmatched dir above visible paths */
	AF_EXPLAIN_DIR_NOTHING_BELOW, /* unmatched dir, nothing visible below */
};

struct af_explanation {
	enum af_perm perm;
	int rule_index; /* the deciding rule, or -1 */
	enum af_explain_reason reason;
	/* AF_EXPLAIN_HIDDEN: length of the hiding ancestor's path. */
	size_t ancestor_len;
	/* Lowest level of the path and of everything that could be below. */
	enum af_perm floor;
};

/* As af_policy_explain, with the reason; -EINVAL for a malformed path. */
int af_policy_explain_ex(const struct af_policy *p, const char *path,
			 bool is_dir, struct af_explanation *out);
/* One line for users, e.g. "an ancestor directory is none". */
const char *af_explain_reason_str(enum af_explain_reason reason);

/* The compiled matcher: a minimized DFA serialized into one flat blob. */
struct af_matcher;

/*
 * -E2BIG with a message naming the limit when the policy does not fit the
 * budget (automaton states, blob bytes); never a truncated matcher.
 */
int af_policy_compile(const struct af_policy *p, struct af_matcher **out,
		      char *err, size_t errlen);
/*
 * As af_policy_compile with the blob's stride forced (1 or 2; 0 picks the
 * fastest that fits), for tests and benchmarks of both walks.
 */
int af_policy_compile_stride(const struct af_policy *p, unsigned stride,
			     struct af_matcher **out, char *err, size_t errlen);
void af_matcher_free(struct af_matcher *m);

/*
 * The serialized matcher (format: bpf/policy_match.h), to copy into the
 * sandbox's BPF map value. size <= AF_PM_BLOB_MAX.
 */
const void *af_matcher_blob(const struct af_matcher *m, size_t *size);

/* Level of a path (same path rules as af_policy_explain). */
enum af_perm af_matcher_lookup(const struct af_matcher *m, const char *path,
			       bool is_dir);
/*
 * Subtree floor: the lowest level among a directory and every path that
 * could exist below it (a rename or move of the directory needs write).
 */
enum af_perm af_matcher_floor(const struct af_matcher *m, const char *path);

struct af_matcher_stats {
	uint32_t states;       /* minimized DFA states */
	uint32_t classes;      /* byte classes */
	uint32_t pair_classes; /* two-byte classes (stride 2) */
	uint32_t stride;       /* bytes consumed per table load */
	uint32_t blob_bytes;
};
void af_matcher_get_stats(const struct af_matcher *m,
			  struct af_matcher_stats *st);

#endif
