// SPDX-License-Identifier: Apache-2.0
/*
 * A sandbox's changes into its codebase (ARCHITECTURE §6). The runtime
 * gives the views, fs finds the changes, the store checks them against
 * what was committed since the snapshot and makes the new generation.
 * Here: which changes may be committed at all. Only paths the sandbox's
 * rules make writable are: whatever got into the delta otherwise (a
 * fallback enforcer lets files created later inherit their directory's
 * rights) is reported and left alone, and paths hidden from the sandbox
 * are never reported as deleted (fs), so never touched.
 */
#define LOG_MOD "api"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/policy.h"
#include "agentfense/runtime.h"
#include "files.h"
#include "server.h"
#include "svc.h"

#define MAX_CHANGES 100000

static const char *not_committable(const struct fs_change *fc)
{
	if (fc->level == AF_PERM_NONE)
		return "hidden by the sandbox's rules";
	if (fc->is_other)
		return "symbolic links and special files are not committed";
	if (fc->level != AF_PERM_WRITE)
		return "not writable under the sandbox's rules";
	return NULL;
}

/* At or below one of paths ("/a" selects "/a" and "/a/b"); all if none. */
static bool selected(const char *path, char *const *paths, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(paths[i]);

		if (len == 1 && paths[i][0] == '/')
			return true;
		if (!strncmp(path, paths[i], len) &&
		    (path[len] == '\0' || path[len] == '/'))
			return true;
	}
	return n == 0;
}

static enum store_op op_of(const struct fs_change *fc)
{
	if (fc->kind == FS_DELETED)
		return STORE_OP_DELETE;
	return fc->is_dir ? STORE_OP_MKDIR : STORE_OP_PUT;
}

/*
 * A type change is reported as a deletion and an addition of one path; the
 * store gets the addition only (it replaces what is there).
 */
static bool replaced(const struct commit_plan *p, size_t i)
{
	return p->changes[i].kind == FS_DELETED && i + 1 < p->n &&
	       !strcmp(p->changes[i].path, p->changes[i + 1].path);
}

static void build_ops(struct commit_plan *p, char *const *paths, size_t n)
{
	for (size_t i = 0; i < p->n; i++) {
		struct commit_item *it = &p->items[i];

		it->fc = &p->changes[i];
		it->selected = selected(it->fc->path, paths, n);
		it->reason = not_committable(it->fc);
		if (!it->selected || it->reason || replaced(p, i))
			continue;
		it->store_op = true;
		p->ops[p->n_ops++] = (struct store_change){
			.path = it->fc->path + 1,
			.op = op_of(it->fc),
			.view_id = it->fc->view_id,
		};
	}
}

/* Open the three views; the plan keeps them for staging and checks. */
static int open_views(struct sb_access *a, struct commit_plan *p)
{
	int r;

	p->view = p->upper = p->snap = -1;
	r = rt_sandbox_view_fd(a->rt, &p->view);
	if (r == 0)
		r = rt_sandbox_upper_fd(a->rt, &p->upper);
	if (r == 0)
		r = rt_sandbox_snapshot_fd(a->rt, &p->snap);
	return r;
}

int files_plan(struct sb_access *a, char *const *paths, size_t n_paths,
	       struct commit_plan *p, char *err, size_t errlen)
{
	int r;

	memset(p, 0, sizeof(*p));
	r = open_views(a, p);
	if (r < 0) {
		snprintf(err, errlen, "cannot reach sandbox %s's files: %s",
			 a->id, strerror(-r));
		return r;
	}
	r = fs_changes(p->upper, p->view, p->snap, a->m, MAX_CHANGES,
		       &p->changes, &p->n);
	if (r == -E2BIG)
		snprintf(err, errlen, "more than %d changes", MAX_CHANGES);
	else if (r < 0)
		snprintf(err, errlen, "listing changes: %s", strerror(-r));
	if (r < 0)
		return r;
	p->items = calloc(p->n + 1, sizeof(*p->items));
	p->ops = calloc(p->n + 1, sizeof(*p->ops));
	if (!p->items || !p->ops) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	build_ops(p, paths, n_paths);
	return 0;
}

void files_plan_clear(struct commit_plan *p)
{
	fs_changes_free(p->changes, p->n);
	free(p->items);
	free(p->ops);
	if (p->view >= 0)
		close(p->view);
	if (p->upper >= 0)
		close(p->upper);
	if (p->snap >= 0)
		close(p->snap);
	memset(p, 0, sizeof(*p));
}

/* Items take their ops' verdicts (a replaced path its addition's). */
static void spread_verdicts(struct commit_plan *p)
{
	size_t k = 0;

	for (size_t i = 0; i < p->n; i++)
		if (p->items[i].store_op)
			p->items[i].verdict = p->ops[k++].verdict;
	for (size_t i = p->n; i-- > 0;)
		if (replaced(p, i))
			p->items[i].verdict = p->items[i + 1].verdict;
}

/* A path that changed since the snapshot: does it hold our version? */
static int resolve(struct sb_access *a, struct commit_plan *p,
		   struct store_change *c)
{
	struct store *s = registry_config(a->reg)->store;
	_cleanup_close_ int theirs = -1, ours = -1;
	const char *why = NULL;
	struct stat ts, os;
	bool same = false;
	int r;

	r = store_file_open(s, a->codebase_id, c->path, &theirs, &why);
	if (c->op == STORE_OP_DELETE)
		same = r == -ENOENT || r == -EINVAL;
	else if (c->op == STORE_OP_MKDIR)
		same = r == -EISDIR;
	else if (r == 0) {
		ours = fs_open_beneath(p->view, c->path,
				       O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
		if (ours >= 0 && fstat(ours, &os) == 0 &&
		    fstat(theirs, &ts) == 0 && S_ISREG(os.st_mode) &&
		    os.st_size == ts.st_size &&
		    !(os.st_mode & 0111) == !(ts.st_mode & 0111)) {
			r = af_fd_same_content(ours, theirs, &same);
			if (r < 0)
				return r;
		}
	}
	c->verdict = same ? STORE_SAME : STORE_CONFLICT;
	return 0;
}

int files_plan_check(struct sb_access *a, struct commit_plan *p)
{
	struct store *s = registry_config(a->reg)->store;
	int r;

	r = store_commit_check(s, a->codebase_id, a->id, p->ops, p->n_ops);
	for (size_t i = 0; r == 0 && i < p->n_ops; i++)
		if (p->ops[i].verdict == STORE_DIFFERS)
			r = resolve(a, p, &p->ops[i]);
	if (r == 0)
		spread_verdicts(p);
	return r;
}

/* The sandbox's version of each file and directory, into st. */
static int stage(struct commit_plan *p, struct store_stage *st, char *err,
		 size_t errlen)
{
	for (size_t i = 0; i < p->n_ops; i++) {
		const struct store_change *c = &p->ops[i];
		_cleanup_close_ int fd = -1;
		const char *why = NULL;
		int r = 0;

		if (c->op == STORE_OP_MKDIR)
			r = store_stage_mkdir(st, c->path, &why);
		else if (c->op == STORE_OP_PUT) {
			fd = fs_open_beneath(p->view, c->path,
					     O_RDONLY | O_NOFOLLOW |
						     O_NONBLOCK);
			r = fd < 0 ? fd
				   : store_stage_copy(st, c->path, fd, &why);
		}
		if (r < 0) {
			snprintf(err, errlen, "/%s: %s", c->path,
				 why ? why
				 : r == -ENOENT
					 ? "it changed while committing; try "
					   "again"
					 : strerror(-r));
			return r == -ENOENT ? -EAGAIN : r;
		}
	}
	return 0;
}

int files_commit(struct sb_access *a, struct commit_plan *p, bool dry_run,
		 char *err, size_t errlen)
{
	struct store *s = registry_config(a->reg)->store;
	struct store_stage *st = NULL;
	const char *why = NULL;
	int r;

	if (dry_run || p->n_ops == 0)
		return files_plan_check(a, p);
	r = store_stage_begin(s, a->codebase_id, &st, &why);
	if (r < 0) {
		snprintf(err, errlen, "codebase %s: %s", a->codebase_id,
			 why ? why : strerror(-r));
		return r;
	}
	r = stage(p, st, err, errlen);
	if (r < 0) {
		store_stage_abort(st);
		return r;
	}
	r = store_commit(st, a->id, p->ops, p->n_ops, false, &why);
	spread_verdicts(p);
	if (r < 0 && r != -EBUSY)
		snprintf(err, errlen, "%s", why ? why : strerror(-r));
	return r;
}

/* "/a, /b and 3 more" of the conflicting paths, into buf. */
void files_conflicts_text(const struct commit_plan *p, char *buf, size_t len)
{
	size_t used = 0, shown = 0, total = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < p->n; i++) {
		if (p->items[i].verdict != STORE_CONFLICT ||
		    !p->items[i].store_op)
			continue;
		total++;
		if (used + strlen(p->changes[i].path) + 16 >= len)
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
					 shown ? ", " : "", p->changes[i].path);
		shown++;
	}
	if (total > shown)
		snprintf(buf + used, len - used, " and %zu more",
			 total - shown);
}

static bool wants_commit(struct sb_entry *e)
{
	bool on;

	pthread_mutex_lock(&e->lock);
	on = e->rec->commit_after_exec;
	pthread_mutex_unlock(&e->lock);
	return on;
}

void files_after_command(struct registry *reg, struct sb_entry *e,
			 struct rt_exec_res *res)
{
	struct commit_plan p = { .view = -1, .upper = -1, .snap = -1 };
	struct sb_access a;
	char err[256] = "", conflicts[160];
	size_t len = strlen(res->message);
	int r;

	if (!wants_commit(e))
		return;
	r = files_access_held(reg, e, &a);
	if (r == 0)
		r = files_plan(&a, NULL, 0, &p, err, sizeof(err));
	if (r == 0)
		r = files_commit(&a, &p, false, err, sizeof(err));
	if (r == -EBUSY) {
		files_conflicts_text(&p, conflicts, sizeof(conflicts));
		snprintf(err, sizeof(err),
			 "the codebase changed since the snapshot at %s",
			 conflicts);
	}
	if (r < 0) {
		log_warn("sandbox %s: commit after the command failed: %s",
			 a.id, err);
		snprintf(res->message + len, sizeof(res->message) - len,
			 "%scommit after the command failed: %s",
			 len ? "; " : "", err);
	}
	files_plan_clear(&p);
	files_access_end(&a);
}
