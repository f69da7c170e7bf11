// SPDX-License-Identifier: Apache-2.0
/*
 * Staged trees into generations: a bulk upload (store_import) and a
 * sandbox's changes (store_commit). A commit checks every change against
 * the current tree first: unchanged since the holder's snapshot (same
 * inode: generations share unchanged files through hard links, and the
 * pinned snapshot keeps its inodes alive), or since the holder's last
 * commit of that path (its mark), or already holding the sandbox's version;
 * anything else is a conflict and nothing is committed.
 */
#define LOG_MOD "store"
#include "agentfense/log.h"

#include "agentfense/cleanup.h"
#include "store-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct ident {
	bool present, is_dir;
	uint64_t ino;
	int64_t size, mtime_ns;
};

static void stage_freep(struct store_stage **st)
{
	store_stage_abort(*st);
}

/* What the tree at root holds at rel; a missing parent means absent. */
static int ident_at(int root, const char *rel, struct ident *id)
{
	_cleanup_close_ int parent = -1;
	const char *base;
	struct stat sb;
	int r;

	memset(id, 0, sizeof(*id));
	r = tree_walk_parent(root, rel, false, &parent, &base, NULL);
	if (r == -ENOENT || r == -EINVAL)
		return 0;
	if (r < 0)
		return r;
	if (fstatat(parent, base, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	id->present = true;
	id->is_dir = S_ISDIR(sb.st_mode);
	if (!id->is_dir) {
		id->ino = sb.st_ino;
		id->size = sb.st_size;
		id->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
			       sb.st_mtim.tv_nsec;
	}
	return 0;
}

static bool same_ident(const struct ident *a, const struct ident *b)
{
	if (a->present != b->present || a->is_dir != b->is_dir)
		return false;
	return !a->present || a->is_dir ||
	       (a->ino == b->ino && a->size == b->size &&
		a->mtime_ns == b->mtime_ns);
}

struct trees {
	struct store *s;
	const char *id, *holder;
	int snap, cur;
};

/* Both generations, under the lock; -ENOENT without a snapshot. */
static int open_trees(struct trees *t, int64_t *cur)
{
	int64_t snap = 0;
	int r;

	r = db_cb_gen(t->s, t->id, cur);
	if (r == 0)
		r = refs_pinned_gen(t->s, t->id, t->holder, &snap);
	if (r == -ENODATA)
		r = -ENOENT;
	if (r < 0)
		return r;
	t->snap = gen_open(t->s, t->id, snap);
	t->cur = gen_open(t->s, t->id, *cur);
	if (t->snap < 0 || t->cur < 0)
		return log_errno(t->snap < 0 ? t->snap : t->cur,
				 "codebase %s: generations", t->id);
	return 0;
}

static void close_trees(struct trees *t)
{
	if (t->snap >= 0)
		close(t->snap);
	if (t->cur >= 0)
		close(t->cur);
}

/* APPLY, COMMITTED or DIFFERS, from the mark or the snapshot. */
static int verdict(struct trees *t, struct store_change *c)
{
	struct ident base, theirs;
	struct mark m;
	bool found;
	int r;

	r = marks_get(t->s, t->id, t->holder, c->path, &m, &found);
	if (r < 0)
		return r;
	if (found && !strcmp(m.view_id, c->view_id)) {
		c->verdict = STORE_COMMITTED;
		return 0;
	}
	if (found)
		base = (struct ident){ .present = m.present,
				       .is_dir = m.is_dir,
				       .ino = m.ino,
				       .size = m.size,
				       .mtime_ns = m.mtime_ns };
	else if ((r = ident_at(t->snap, c->path, &base)) < 0)
		return r;
	r = ident_at(t->cur, c->path, &theirs);
	if (r < 0)
		return r;
	c->verdict = same_ident(&base, &theirs) ? STORE_APPLY : STORE_DIFFERS;
	return 0;
}

int store_commit_check(struct store *s, const char *codebase_id,
		       const char *holder, struct store_change *ch, size_t n)
{
	struct trees t = { s, codebase_id, holder, -1, -1 };
	int64_t cur;
	int r;

	r = store_check_id(codebase_id, NULL);
	if (r < 0)
		return r;
	STORE_LOCK_SCOPE(s);
	r = open_trees(&t, &cur);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = verdict(&t, &ch[i]);
	close_trees(&t);
	return r;
}

static int open_file_at(int root, const char *rel)
{
	_cleanup_close_ int parent = -1;
	const char *base;
	int r;

	r = tree_walk_parent(root, rel, false, &parent, &base, NULL);
	if (r < 0)
		return r;
	r = openat(parent, base, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

/* Same content and execute bits. */
static int same_file(int a, int b, bool *same)
{
	struct stat sa, sb;

	*same = false;
	if (fstat(a, &sa) < 0 || fstat(b, &sb) < 0)
		return -errno;
	if (sa.st_size != sb.st_size ||
	    (sa.st_mode & 0111) != (sb.st_mode & 0111))
		return 0;
	return af_fd_same_content(a, b, same);
}

/* A DIFFERS change: does the tree hold the staged version already? */
static int resolve(struct store_stage *st, int cur, struct store_change *c)
{
	_cleanup_close_ int ours = -1, theirs = -1;
	struct ident id;
	bool same = false;
	int r;

	r = ident_at(cur, c->path, &id);
	if (r < 0)
		return r;
	if (c->op == STORE_OP_DELETE)
		same = !id.present;
	else if (c->op == STORE_OP_MKDIR)
		same = id.present && id.is_dir;
	else if (id.present && !id.is_dir) {
		ours = open_file_at(st->root, c->path);
		theirs = open_file_at(cur, c->path);
		if (ours < 0 || theirs < 0)
			return ours < 0 ? ours : theirs;
		r = same_file(ours, theirs, &same);
		if (r < 0)
			return r;
	}
	c->verdict = same ? STORE_SAME : STORE_CONFLICT;
	return 0;
}

/* Staged entries that must not replace the tree's (it is newer). */
static int unstage(struct store_stage *st, const struct store_change *c)
{
	_cleanup_close_ int parent = -1;
	const char *base;
	struct stat sb;
	int r;

	r = tree_walk_parent(st->root, c->path, false, &parent, &base, NULL);
	if (r < 0)
		return r == -ENOENT ? 0 : r;
	if (fstatat(parent, base, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (S_ISDIR(sb.st_mode)) {
		/* Kept when it holds entries that are committed. */
		if (unlinkat(parent, base, AT_REMOVEDIR) < 0 &&
		    errno != ENOTEMPTY && errno != EEXIST)
			return -errno;
		return 0;
	}
	if (unlinkat(parent, base, 0) < 0)
		return -errno;
	st->files--;
	st->bytes -= sb.st_size;
	return 0;
}

struct commit {
	struct store_stage *st;
	const char *holder;
	struct store_change *ch;
	size_t n;
	const char **skip;
	size_t n_skip;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool applies(const struct store_change *c)
{
	return c->verdict == STORE_APPLY || c->verdict == STORE_SAME;
}

/*
 * Prune the staged tree, and list the paths whose entry in the current tree
 * goes: those deleted, and those replaced (a file or directory of the other
 * type, or an older file).
 */
static int prepare(struct commit *cm)
{
	cm->skip = calloc(cm->n + 1, sizeof(*cm->skip));
	if (!cm->skip)
		return -ENOMEM;
	for (size_t i = 0; i < cm->n; i++) {
		const struct store_change *c = &cm->ch[i];
		int r = 0;

		if (c->verdict == STORE_APPLY)
			cm->skip[cm->n_skip++] = c->path;
		else if (c->op != STORE_OP_DELETE)
			r = unstage(cm->st, c);
		if (r < 0)
			return log_errno(r, "unstaging %s", c->path);
	}
	if (cm->n_skip > 1)
		qsort(cm->skip, cm->n_skip, sizeof(*cm->skip), cmp_str);
	return 0;
}

/* In gen_install's transaction: what the new tree holds where we wrote. */
static int write_marks(struct store *s, void *ud)
{
	struct commit *cm = ud;

	for (size_t i = 0; i < cm->n; i++) {
		const struct store_change *c = &cm->ch[i];
		struct ident id;
		struct mark m;
		int r;

		if (!applies(c))
			continue;
		r = ident_at(cm->st->root, c->path, &id);
		if (r < 0)
			return r;
		m.present = id.present;
		m.is_dir = id.is_dir;
		m.ino = id.ino;
		m.size = id.size;
		m.mtime_ns = id.mtime_ns;
		snprintf(m.view_id, sizeof(m.view_id), "%s", c->view_id);
		r = marks_put(s, cm->st->cb_id, cm->holder, c->path, &m);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Generation cur carried over into st's tree (but skip), made cur+1. */
static int merge_install(struct store_stage *st, int64_t cur,
			 const struct merge_skip *skip, struct gen_install *in,
			 char ***trash, size_t *nt, const char **why)
{
	int64_t rf = 0, rb = 0;
	int r;

	r = merge_tree(st, cur, skip, &rf, &rb, why);
	if (r == 0)
		r = db_cb_totals(st->s, st->cb_id, &in->size, &in->files);
	if (r < 0)
		return r;
	in->size += st->bytes - rb;
	in->files += st->files - rf;
	return gen_install(st, cur, in, trash, nt);
}

static int apply(struct commit *cm, int64_t cur, char ***trash, size_t *nt,
		 const char **why)
{
	struct merge_skip skip;
	struct gen_install in = { .extra = write_marks, .ud = cm };
	int r;

	r = prepare(cm);
	if (r < 0)
		return r;
	skip = (struct merge_skip){ cm->skip, cm->n_skip };
	return merge_install(cm->st, cur, &skip, &in, trash, nt, why);
}

static int commit_locked(struct commit *cm, bool dry_run, char ***trash,
			 size_t *nt, const char **why)
{
	struct trees t = { cm->st->s, cm->st->cb_id, cm->holder, -1, -1 };
	bool conflict = false;
	int64_t cur;
	int r;

	r = open_trees(&t, &cur);
	if (r == -ENOENT)
		r = store_fail(
			why, "the sandbox has no snapshot of the codebase", r);
	for (size_t i = 0; r == 0 && i < cm->n; i++) {
		r = verdict(&t, &cm->ch[i]);
		if (r == 0 && cm->ch[i].verdict == STORE_DIFFERS)
			r = resolve(cm->st, t.cur, &cm->ch[i]);
		conflict |= cm->ch[i].verdict == STORE_CONFLICT;
	}
	close_trees(&t);
	if (r < 0 || dry_run)
		return r;
	if (conflict)
		return store_fail(why,
				  "the codebase changed at these paths since "
				  "the sandbox's snapshot",
				  -EBUSY);
	return apply(cm, cur, trash, nt, why);
}

int store_commit(struct store_stage *st, const char *holder,
		 struct store_change *ch, size_t n, bool dry_run,
		 const char **why)
{
	_cleanup_(stage_freep) struct store_stage *owned = st;
	struct commit cm = { st, holder, ch, n, NULL, 0 };
	char **trash = NULL;
	size_t nt = 0;
	int r;

	if (st->fd >= 0)
		return store_fail(why, "a staged file is incomplete", -EINVAL);
	pthread_mutex_lock(&st->s->lock);
	r = commit_locked(&cm, dry_run, &trash, &nt, why);
	pthread_mutex_unlock(&st->s->lock);
	free(cm.skip);
	store_trash_empty(st->s, trash, nt);
	if (r == 0 && !dry_run)
		log_info("codebase %s: %zu changes of %s committed", st->cb_id,
			 n, holder);
	return r;
}

static int import_locked(struct store_stage *st, char ***trash, size_t *nt,
			 const char **why)
{
	struct gen_install in = { 0 };
	int64_t cur = 0;
	int r;

	r = db_cb_gen(st->s, st->cb_id, &cur);
	if (r == -ENOENT)
		return store_fail(why, "codebase was deleted", r);
	if (r < 0)
		return r;
	return merge_install(st, cur, NULL, &in, trash, nt, why);
}

int store_import(struct store_stage *st, const char **why)
{
	_cleanup_(stage_freep) struct store_stage *owned = st;
	char **trash = NULL;
	size_t nt = 0;
	int r;

	if (st->fd >= 0)
		return store_fail(why,
				  "the last file of the upload is incomplete",
				  -EINVAL);
	pthread_mutex_lock(&st->s->lock);
	r = import_locked(st, &trash, &nt, why);
	pthread_mutex_unlock(&st->s->lock);
	store_trash_empty(st->s, trash, nt);
	if (r == 0)
		log_debug("codebase %s: imported %" PRId64 " files, %" PRId64
			  " bytes",
			  st->cb_id, st->files, st->bytes);
	return r;
}
