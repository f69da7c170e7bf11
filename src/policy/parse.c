// SPDX-License-Identifier: Apache-2.0
/*
 * Pattern parsing: a rule's pattern becomes a list of components, each a
 * `**` or a sequence of atoms (literal byte, `?`, `*`, `[...]`). Globs follow
 * gitignore; directory and file patterns are literal paths.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

struct parser {
	const char *s;
	size_t len;
	size_t i;
	struct prule *pr;
	uint32_t cap_atoms;
	uint32_t cap_comps;
	const char *why;
};

bool pat_set_has(const uint64_t set[4], uint8_t b)
{
	return set[b >> 6] >> (b & 63) & 1;
}

static void set_add(uint64_t set[4], uint8_t b)
{
	set[b >> 6] |= 1ull << (b & 63);
}

static int fail(struct parser *ps, const char *why)
{
	ps->why = why;
	return -EINVAL;
}

static struct pat_atom *atom_push(struct parser *ps, uint8_t kind)
{
	struct prule *pr = ps->pr;
	struct pat_atom *a;

	if (pr->natoms == ps->cap_atoms) {
		uint32_t cap = ps->cap_atoms ? ps->cap_atoms * 2 : 16;

		a = xreallocarray(pr->atoms, cap, sizeof(*a));
		if (!a)
			return NULL;
		pr->atoms = a;
		ps->cap_atoms = cap;
	}
	a = &pr->atoms[pr->natoms++];
	memset(a, 0, sizeof(*a));
	a->kind = kind;
	return a;
}

static int comp_push(struct parser *ps, bool globstar, uint32_t atom0)
{
	struct prule *pr = ps->pr;

	if (pr->ncomps == ps->cap_comps) {
		uint32_t cap = ps->cap_comps ? ps->cap_comps * 2 : 8;
		struct pat_comp *c = xreallocarray(pr->comps, cap, sizeof(*c));

		if (!c)
			return -ENOMEM;
		pr->comps = c;
		ps->cap_comps = cap;
	}
	pr->comps[pr->ncomps++] = (struct pat_comp){
		.globstar = globstar,
		.atom0 = atom0,
		.natoms = pr->natoms - atom0,
	};
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int);
} char_classes[] = {
	{ "alnum", isalnum }, { "alpha", isalpha }, { "blank", isblank },
	{ "cntrl", iscntrl }, { "digit", isdigit }, { "graph", isgraph },
	{ "lower", islower }, { "print", isprint }, { "punct", ispunct },
	{ "space", isspace }, { "upper", isupper }, { "xdigit", isxdigit },
};

/* `[:name:]` inside brackets; ps->i is at the inner '['. */
static int bracket_class(struct parser *ps, uint64_t set[4])
{
	const char *name = ps->s + ps->i + 2;
	const char *end = memmem(name, ps->len - (ps->i + 2), ":]", 2);

	if (!end)
		return fail(ps, "unbalanced '[:' in a bracket expression");
	for (size_t k = 0; k < sizeof(char_classes) / sizeof(char_classes[0]);
	     k++) {
		if (strlen(char_classes[k].name) != (size_t)(end - name) ||
		    memcmp(char_classes[k].name, name, end - name))
			continue;
		/* ASCII only: the C locale's classes, '/' never included. */
		for (int b = 1; b < 128; b++)
			if (b != '/' && char_classes[k].fn(b))
				set_add(set, b);
		ps->i = end + 2 - ps->s;
		return 0;
	}
	return fail(ps, "unknown character class in a bracket expression");
}

/* One member byte of a bracket, honouring a backslash escape. */
static int bracket_byte(struct parser *ps, uint8_t *out)
{
	if (ps->s[ps->i] == '\\') {
		if (++ps->i >= ps->len)
			return fail(ps, "unbalanced '['");
	}
	*out = ps->s[ps->i++];
	if (*out == '/')
		return fail(ps, "'/' inside [...] never matches");
	if (*out >= 0x80)
		return fail(ps, "non-ASCII byte inside [...]; brackets match "
				"single bytes");
	return 0;
}

/* A bracket expression; ps->i is at '['. */
static int parse_bracket(struct parser *ps)
{
	uint64_t set[4] = { 0 };
	bool neg = false, first = true;
	struct pat_atom *a;
	int r;

	ps->i++;
	if (ps->i < ps->len && (ps->s[ps->i] == '!' || ps->s[ps->i] == '^')) {
		neg = true;
		ps->i++;
	}
	for (;;) {
		uint8_t lo, hi;

		if (ps->i >= ps->len)
			return fail(ps, "unbalanced '['");
		if (ps->s[ps->i] == ']' && !first)
			break;
		first = false;
		if (ps->s[ps->i] == '[' && ps->i + 1 < ps->len &&
		    ps->s[ps->i + 1] == ':') {
			r = bracket_class(ps, set);
			if (r < 0)
				return r;
			continue;
		}
		r = bracket_byte(ps, &lo);
		if (r < 0)
			return r;
		hi = lo;
		if (ps->i + 1 < ps->len && ps->s[ps->i] == '-' &&
		    ps->s[ps->i + 1] != ']') {
			ps->i++;
			r = bracket_byte(ps, &hi);
			if (r < 0)
				return r;
			if (hi < lo)
				return fail(ps, "reversed range in [...]");
		}
		for (unsigned b = lo; b <= hi; b++)
			if (b != '/')
				set_add(set, b);
	}
	ps->i++; /* ']' */
	a = atom_push(ps, ATOM_SET);
	if (!a)
		return -ENOMEM;
	for (int w = 0; w < 4; w++)
		a->set[w] = neg ? ~set[w] : set[w];
	if (neg) {
		/* Never '/', never NUL (paths cannot hold it). */
		a->set[0] &= ~(1ull << '/' | 1ull);
	}
	return 0;
}

/* Atoms of one glob component up to '/' or the end. */
static int parse_glob_comp(struct parser *ps)
{
	size_t start = ps->i;
	uint32_t atom0 = ps->pr->natoms;
	struct pat_atom *a;
	int r;

	while (ps->i < ps->len && ps->s[ps->i] != '/') {
		char c = ps->s[ps->i];

		if (c == '[') {
			r = parse_bracket(ps);
			if (r < 0)
				return r;
			continue;
		}
		ps->i++;
		if (c == '*') {
			/* Runs of '*' are one '*' unless they are all of `**`.
			 */
			if (ps->pr->natoms > atom0 &&
			    ps->pr->atoms[ps->pr->natoms - 1].kind == ATOM_STAR)
				continue;
			if (!atom_push(ps, ATOM_STAR))
				return -ENOMEM;
			continue;
		}
		if (c == '?') {
			if (!atom_push(ps, ATOM_ANY))
				return -ENOMEM;
			continue;
		}
		if (c == '\\') {
			if (ps->i >= ps->len)
				return fail(ps,
					    "pattern ends with a lone '\\'");
			c = ps->s[ps->i++];
			if (c == '/')
				return fail(ps, "escaped '/' is not allowed");
		}
		a = atom_push(ps, ATOM_LIT);
		if (!a)
			return -ENOMEM;
		a->byte = (uint8_t)c;
	}
	if (ps->i == start)
		return fail(ps, "empty path component ('//')");
	if (ps->i - start == 2 && !memcmp(ps->s + start, "**", 2)) {
		ps->pr->natoms = atom0;
		return comp_push(ps, true, atom0);
	}
	return comp_push(ps, false, atom0);
}

static bool comp_is_dots(const struct prule *pr, const struct pat_comp *c)
{
	if (c->globstar || c->natoms == 0 || c->natoms > 2)
		return false;
	for (uint32_t k = 0; k < c->natoms; k++) {
		const struct pat_atom *a = &pr->atoms[c->atom0 + k];

		if (a->kind != ATOM_LIT || a->byte != '.')
			return false;
	}
	return true;
}

/* Basename patterns get a leading `**`; `**` runs collapse to one. */
static int glob_normalize(struct parser *ps, bool anchored)
{
	struct prule *pr = ps->pr;
	uint32_t k = 0;

	if (!anchored) {
		if (comp_push(ps, true, pr->natoms) < 0)
			return -ENOMEM;
		memmove(pr->comps + 1, pr->comps,
			(pr->ncomps - 1) * sizeof(*pr->comps));
		pr->comps[0] =
			(struct pat_comp){ .globstar = true, .atom0 = 0 };
	}
	for (uint32_t j = 0; j < pr->ncomps; j++) {
		if (k && pr->comps[j].globstar && pr->comps[k - 1].globstar)
			continue;
		pr->comps[k++] = pr->comps[j];
	}
	pr->ncomps = k;
	return 0;
}

static int parse_glob(struct parser *ps)
{
	bool anchored;
	int r;

	if (ps->len && ps->s[ps->len - 1] == '/') {
		ps->pr->dir_only = true;
		ps->len--;
	}
	if (ps->len == 0)
		return fail(ps, "pattern names only the root; use '**' to "
				"match everything");
	anchored = memchr(ps->s, '/', ps->len) != NULL;
	if (ps->s[0] == '/')
		ps->i = 1;
	for (;;) {
		r = parse_glob_comp(ps);
		if (r < 0)
			return r;
		if (comp_is_dots(ps->pr, &ps->pr->comps[ps->pr->ncomps - 1]))
			return fail(ps, "'.' and '..' components are not "
					"allowed");
		if (ps->i >= ps->len)
			break;
		ps->i++; /* '/' */
		if (ps->i >= ps->len)
			return fail(ps, "empty path component ('//')");
	}
	return glob_normalize(ps, anchored);
}

/* Directory and file patterns: a literal path. */
static int parse_literal(struct parser *ps, bool is_dir)
{
	struct prule *pr = ps->pr;

	if (ps->s[ps->len - 1] == '/') {
		if (!is_dir)
			return fail(ps, "a file pattern cannot end with '/'");
		ps->len--;
	}
	if (ps->len && ps->s[0] == '/')
		ps->i = 1;
	if (ps->i >= ps->len) {
		if (!is_dir)
			return fail(ps, "a file pattern cannot name the root");
		return 0; /* the whole workspace */
	}
	for (;;) {
		size_t start = ps->i;
		uint32_t atom0 = pr->natoms;

		while (ps->i < ps->len && ps->s[ps->i] != '/') {
			struct pat_atom *a = atom_push(ps, ATOM_LIT);

			if (!a)
				return -ENOMEM;
			a->byte = (uint8_t)ps->s[ps->i++];
		}
		if (ps->i == start)
			return fail(ps, "empty path component ('//')");
		if (comp_push(ps, false, atom0) < 0)
			return -ENOMEM;
		if (comp_is_dots(pr, &pr->comps[pr->ncomps - 1]))
			return fail(ps, "'.' and '..' components are not "
					"allowed");
		if (ps->i >= ps->len)
			return 0;
		ps->i++;
		if (ps->i >= ps->len)
			return fail(ps, "empty path component ('//')");
	}
}

static void specificity(struct prule *pr)
{
	pr->literals = 0;
	pr->wildcards = 0;
	for (uint32_t c = 0; c < pr->ncomps; c++) {
		const struct pat_comp *pc = &pr->comps[c];

		if (pc->globstar) {
			pr->wildcards++;
			continue;
		}
		for (uint32_t k = 0; k < pc->natoms; k++) {
			if (pr->atoms[pc->atom0 + k].kind == ATOM_LIT)
				pr->literals++;
			else
				pr->wildcards++;
		}
	}
}

int pat_parse(struct prule *pr, const char **why)
{
	struct parser ps = {
		.s = pr->pattern,
		.len = pr->r.pattern_len,
		.pr = pr,
	};
	int r;

	if (ps.len == 0)
		return *why = "empty pattern", -EINVAL;
	if (ps.len > AF_POLICY_PATTERN_MAX)
		return *why = "pattern is longer than 1024 bytes", -EINVAL;
	if (memchr(ps.s, '\0', ps.len))
		return *why = "pattern contains a NUL byte", -EINVAL;
	if (pr->r.type == AF_PAT_GLOB)
		r = parse_glob(&ps);
	else
		r = parse_literal(&ps, pr->r.type == AF_PAT_DIRECTORY);
	if (r == -EINVAL)
		*why = ps.why;
	if (r == 0)
		specificity(pr);
	return r;
}

void prule_release(struct prule *pr)
{
	free(pr->pattern);
	free(pr->comps);
	free(pr->atoms);
}

static int cmp_num(int64_t a, int64_t b)
{
	return (a > b) - (a < b);
}

int prule_cmp(const struct prule *a, const struct prule *b, size_t ia,
	      size_t ib)
{
	int c;

	c = cmp_num(a->r.priority, b->r.priority);
	if (!c) /* file (3) > directory (2) > glob (1) */
		c = cmp_num(a->r.type, b->r.type);
	if (!c)
		c = cmp_num(a->literals, b->literals);
	if (!c)
		c = cmp_num(b->wildcards, a->wildcards);
	if (!c) /* a full tie goes to the later rule */
		c = cmp_num(ia, ib);
	return c;
}
