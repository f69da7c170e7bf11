// SPDX-License-Identifier: Apache-2.0
/*
 * landlock backend: turn a sandbox's policy, evaluated over its tree at
 * start, into a Landlock plan (include/agentfense/landlock_plan.h).
 *
 * Landlock only adds rights, and a right granted on a directory covers
 * everything below it. So each directory is granted the rights that every
 * visible entry below it needs (the intersection), and each entry that
 * needs more gets its own rule: every existing path ends up with exactly
 * its level's rights.
 *
 * Entries created later get what their directory grants. What a directory
 * may grant them is read from the policy with a probe: the level a new
 * entry with an arbitrary name ("\1") would get there. Creating and
 * removing entries in a directory (Landlock checks those on the directory)
 * needs that probe to be write and every existing entry in it to be write,
 * so nothing that is not write can be removed. Where this differs from
 * bpf-lsm (new entries whose own name the rules single out), it is
 * documented in docs/security-model.md.
 */
#define LOG_MOD "enforce"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/landlock_plan.h"
#include "agentfense/log.h"
#include "agentfense/policy.h"
#include "agentfense/util.h"
#include "enforce_internal.h"

#define LL_CREATE_RULESET_VERSION (1u << 0)

#define FILE_R (LL_FS_READ_FILE | LL_FS_EXECUTE)
#define FILE_W (FILE_R | LL_FS_WRITE_FILE | LL_FS_TRUNCATE | LL_FS_IOCTL_DEV)
#define DIR_V  LL_FS_READ_DIR
#define DIR_W                                                                  \
	(DIR_V | LL_FS_REMOVE_DIR | LL_FS_REMOVE_FILE | LL_FS_MAKE_DIR |       \
	 LL_FS_MAKE_REG | LL_FS_MAKE_SOCK | LL_FS_MAKE_FIFO | LL_FS_MAKE_SYM | \
	 LL_FS_REFER)
#define WORKSPACE "/workspace"

int landlock_probe_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
			   LL_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

static uint64_t handled_for(int abi)
{
	uint64_t h = (LL_FS_MAKE_SYM << 1) - 1; /* ABI 1 */

	if (abi >= 2)
		h |= LL_FS_REFER;
	if (abi >= 3)
		h |= LL_FS_TRUNCATE;
	if (abi >= 5)
		h |= LL_FS_IOCTL_DEV;
	return h;
}

static uint64_t file_need(enum af_perm p)
{
	return p == AF_PERM_WRITE ? FILE_W : p == AF_PERM_READ ? FILE_R : 0;
}

static uint64_t dir_need(enum af_perm p)
{
	return p == AF_PERM_WRITE ? DIR_W : DIR_V;
}

/* Visible entries of the tree, in the walk's pre-order. */
struct node {
	char *path;
	int parent;
	bool dir;
	enum af_perm level;
	enum af_perm probe; /* dirs: level of a new entry inside */
	bool kids_write;    /* dirs: every visible entry inside is write */
	uint64_t grant_d, grant_f; /* what this subtree may share */
	uint64_t have;		   /* granted on it or an ancestor */
};

struct plan {
	const struct af_matcher *m;
	struct node *nodes;
	size_t n, cap;
	int *stack; /* open directories: node indices */
	size_t depth;
	FILE *out;
	uint64_t handled;
	size_t rules;
};

static int add_node(struct plan *p, const char *path, bool dir,
		    enum af_perm level, int parent)
{
	struct node *n;

	if (p->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 256;
		struct node *v = realloc(p->nodes, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->nodes = v;
		p->cap = cap;
	}
	n = &p->nodes[p->n];
	*n = (struct node){ .path = strdup(path),
			    .parent = parent,
			    .dir = dir,
			    .level = level,
			    .kids_write = true };
	if (!n->path)
		return -ENOMEM;
	if (dir) {
		char probe[PATH_MAX];

		if ((size_t)snprintf(probe, sizeof(probe), "%s/\1", path) >=
		    sizeof(probe))
			return -ENAMETOOLONG;
		n->probe = af_matcher_lookup(p->m, probe, false);
	}
	p->n++;
	return 0;
}

static int visit(void *ud, int parent_fd, const char *name, const char *path,
		 const struct stat *st)
{
	struct plan *p = ud;
	bool dir = S_ISDIR(st->st_mode);
	enum af_perm level;
	const char *slash = strrchr(path, '/');
	size_t plen = (size_t)(slash - path);
	int r;

	(void)parent_fd;
	(void)name;
	/* Pop to this entry's parent: the walk is depth-first. */
	while (p->depth > 1) {
		const char *top = p->nodes[p->stack[p->depth - 1]].path;

		if (strlen(top) == plen && !strncmp(top, path, plen))
			break;
		p->depth--;
	}
	if (!dir && !S_ISREG(st->st_mode))
		return 0; /* symlinks resolve to paths with their own rules */
	level = af_matcher_lookup(p->m, path, dir);
	if (level == AF_PERM_NONE)
		return AF_WALK_SKIP; /* hidden by the hide layer */
	r = add_node(p, path, dir, level, p->stack[p->depth - 1]);
	if (r < 0)
		return r;
	if (dir) {
		int *s = realloc(p->stack, (p->depth + 1) * sizeof(*s));

		if (!s)
			return -ENOMEM;
		p->stack = s;
		p->stack[p->depth++] = (int)p->n - 1;
	}
	return 0;
}

static int emit(struct plan *p, const char *prefix, const char *path,
		uint64_t access)
{
	struct ll_plan_rule rule = { 0 };
	size_t plen = strlen(prefix), len = strlen(path);

	access &= p->handled;
	if (!access)
		return 0;
	if (plen + len > UINT16_MAX)
		return -ENAMETOOLONG;
	if (++p->rules > LL_PLAN_MAX_RULES)
		return -E2BIG;
	rule.access = access;
	rule.path_len = (uint16_t)(plen + len);
	if (fwrite(&rule, sizeof(rule), 1, p->out) != 1 ||
	    fwrite(prefix, 1, plen, p->out) != plen ||
	    fwrite(path, 1, len, p->out) != len)
		return -EIO;
	return 0;
}

/* Outside the workspace: the host's read-only tools, /dev, /tmp, /proc. */
static int emit_system(struct plan *p)
{
	static const struct {
		const char *path;
		uint64_t access;
	} sys[] = {
		{ "/", DIR_V },
		{ "/usr", FILE_R | DIR_V },
		{ "/etc", FILE_R | DIR_V },
		{ "/bin", FILE_R | DIR_V },
		{ "/sbin", FILE_R | DIR_V },
		{ "/lib", FILE_R | DIR_V },
		{ "/lib32", FILE_R | DIR_V },
		{ "/lib64", FILE_R | DIR_V },
		{ "/libx32", FILE_R | DIR_V },
		{ "/dev", FILE_W | DIR_V },
		{ "/dev/shm", FILE_W | DIR_W },
		{ "/tmp", FILE_W | DIR_W },
		{ "/proc", LL_FS_READ_FILE | LL_FS_WRITE_FILE | DIR_V },
	};
	int r = 0;

	for (size_t i = 0; r == 0 && i < ARRAY_SIZE(sys); i++)
		r = emit(p, "", sys[i].path, sys[i].access);
	return r;
}

/* Bottom-up: a directory may share what all its visible entries need. */
static void intersect(struct plan *p)
{
	for (size_t i = p->n; i-- > 1;)
		if (p->nodes[i].level != AF_PERM_WRITE)
			p->nodes[p->nodes[i].parent].kids_write = false;
	for (size_t i = 0; i < p->n; i++) {
		struct node *n = &p->nodes[i];

		if (!n->dir)
			continue;
		n->grant_d = dir_need(n->probe == AF_PERM_WRITE && n->kids_write
					      ? AF_PERM_WRITE
					      : AF_PERM_VIEW);
		n->grant_f = file_need(n->probe);
	}
	for (size_t i = p->n; i-- > 1;) {
		struct node *n = &p->nodes[i], *up = &p->nodes[n->parent];

		if (n->dir) {
			up->grant_d &= n->grant_d;
			up->grant_f &= n->grant_f;
		} else {
			up->grant_f &= file_need(n->level);
		}
	}
}

/* Top-down: grant each node what its ancestors did not already give. */
static int emit_tree(struct plan *p)
{
	int r = 0;

	for (size_t i = 0; r == 0 && i < p->n; i++) {
		struct node *n = &p->nodes[i];
		uint64_t have = i ? p->nodes[n->parent].have : 0;
		uint64_t want =
			n->dir ? n->grant_d | n->grant_f : file_need(n->level);

		n->have = have | want;
		r = emit(p, WORKSPACE, n->path, want & ~have);
	}
	return r;
}

static int write_header(struct plan *p, int abi)
{
	struct ll_plan_header h = { .abi = (uint32_t)abi };

	memcpy(h.magic, LL_PLAN_MAGIC, sizeof(h.magic));
	h.handled_fs = p->handled;
	if (abi >= 6)
		h.scoped = LL_SCOPE_ABSTRACT_UNIX_SOCKET | LL_SCOPE_SIGNAL;
	h.n_rules = (uint32_t)p->rules;
	return pwrite(fileno(p->out), &h, sizeof(h), 0) == sizeof(h) ? 0 : -EIO;
}

static int build(struct plan *p, int abi, const char *snapshot)
{
	_cleanup_close_ int fd =
		open(snapshot, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct ll_plan_header blank = { 0 };
	int r;

	if (fd < 0)
		return -errno;
	r = add_node(p, "", true, af_matcher_lookup(p->m, "/", true), -1);
	p->stack = malloc(sizeof(*p->stack));
	if (r < 0 || !p->stack)
		return -ENOMEM;
	p->stack[p->depth++] = 0;
	r = af_walk_types(fd, visit, p);
	if (r < 0)
		return r;
	intersect(p);
	if (fwrite(&blank, sizeof(blank), 1, p->out) != 1)
		return -EIO;
	r = emit_system(p);
	if (r == 0)
		r = emit_tree(p);
	if (r == 0 && fflush(p->out) != 0)
		r = -EIO;
	return r == 0 ? write_header(p, abi) : r;
}

int landlock_plan(int abi, const struct af_matcher *m, const char *snapshot,
		  int *memfd, size_t *n_rules, char *err, size_t errlen)
{
	struct plan p = { .m = m, .handled = handled_for(abi) };
	int fd = memfd_create("agentfense-landlock",
			      MFD_CLOEXEC | MFD_ALLOW_SEALING);
	int r;

	if (fd < 0)
		return log_errno(-errno, "memfd for the landlock plan");
	p.out = fdopen(dup(fd), "w");
	r = p.out ? build(&p, abi, snapshot) : -errno;
	if (p.out)
		fclose(p.out);
	for (size_t i = 0; i < p.n; i++)
		free(p.nodes[i].path);
	free(p.nodes);
	free(p.stack);
	/* Sealed: init reads exactly what was planned. */
	if (r == 0 &&
	    fcntl(fd, F_ADD_SEALS,
		  F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		snprintf(err, errlen, "cannot plan the landlock ruleset: %s",
			 r == -E2BIG ? "too many distinct rules"
				     : strerror(-r));
		return log_errno(r, "landlock plan for %s", snapshot);
	}
	*memfd = fd;
	*n_rules = p.rules;
	return 0;
}
