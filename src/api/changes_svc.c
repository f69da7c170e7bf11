// SPDX-License-Identifier: Apache-2.0
/* FileService.ListChanges and CommitChanges (the work is in commit.c). */
#define LOG_MOD "api"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/util.h"
#include "files.h"
#include "sandbox/v1/files.pb-c.h"
#include "server.h"
#include "svc.h"

#define KIND(x)	  SANDBOX__V1__CHANGE_KIND__CHANGE_KIND_##x
#define MAX_PATHS 1024

static void to_wire(const struct commit_item *it, Sandbox__V1__Change *w)
{
	const struct fs_change *fc = it->fc;

	sandbox__v1__change__init(w);
	w->path = fc->path;
	w->kind = fc->kind == FS_ADDED	   ? KIND(ADDED)
		  : fc->kind == FS_DELETED ? KIND(DELETED)
					   : KIND(MODIFIED);
	w->is_dir = fc->is_dir;
	w->size = fc->size;
	w->mode = fc->mode;
	w->permission = (Sandbox__V1__Permission)fc->level;
	w->committable = !it->reason;
	w->reason = (char *)(it->reason ? it->reason : "");
	w->committed = it->verdict == STORE_COMMITTED;
	w->conflict = it->verdict == STORE_CONFLICT;
}

/* Wire changes for the items where pick(it) holds, into *out. */
struct wire_list {
	Sandbox__V1__Change *w;
	Sandbox__V1__Change **pw;
	size_t n;
};

static int collect(const struct commit_plan *p,
		   bool (*pick)(const struct commit_item *),
		   struct wire_list *l)
{
	l->w = calloc(p->n + 1, sizeof(*l->w));
	l->pw = calloc(p->n + 1, sizeof(*l->pw));
	l->n = 0;
	if (!l->w || !l->pw)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++) {
		if (!pick(&p->items[i]))
			continue;
		to_wire(&p->items[i], &l->w[l->n]);
		l->pw[l->n] = &l->w[l->n];
		l->n++;
	}
	return 0;
}

static void wire_list_free(struct wire_list *l)
{
	free(l->w);
	free(l->pw);
}

static bool any(const struct commit_item *it)
{
	return true;
}

static bool was_committed(const struct commit_item *it)
{
	return it->selected && !it->reason &&
	       (it->verdict == STORE_APPLY || it->verdict == STORE_SAME);
}

static bool was_skipped(const struct commit_item *it)
{
	return it->selected && (it->reason || it->verdict == STORE_COMMITTED);
}

static bool conflicts(const struct commit_item *it)
{
	return it->selected && it->verdict == STORE_CONFLICT;
}

/* Answer an error of files_plan / files_commit. */
static void plan_error(struct api_call *c, int r, const char *id,
		       const char *err)
{
	if (r == -ENOTCONN)
		api_call_finish(c, GRPC_STATUS_FAILED_PRECONDITION,
				"sandbox %s stopped", id);
	else if (r == -E2BIG)
		api_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
				"sandbox %s: %s", id, err);
	else if (r == -EAGAIN)
		api_call_finish(c, GRPC_STATUS_ABORTED, "sandbox %s: %s", id,
				err);
	else if (r == -ENOENT)
		api_call_finish(c, GRPC_STATUS_FAILED_PRECONDITION,
				"sandbox %s: %s", id, err);
	else
		api_call_finish(c, api_status_from_errno(r), "sandbox %s: %s",
				id, err);
}

void files_list_changes(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__ListChangesRequest *req =
		(void *)api_call_request(c);
	Sandbox__V1__ListChangesResponse out =
		SANDBOX__V1__LIST_CHANGES_RESPONSE__INIT;
	struct commit_plan p = { .view = -1, .upper = -1, .snap = -1 };
	struct wire_list l = { 0 };
	struct sb_access a;
	char err[256] = "";
	int r;

	if (!req || !files_access_begin(c, req->sandbox_id, &a))
		return;
	r = files_plan(&a, NULL, 0, &p, err, sizeof(err));
	if (r == 0)
		r = files_plan_check(&a, &p);
	if (r == 0)
		r = collect(&p, any, &l);
	if (r < 0) {
		plan_error(c, r, a.id, err[0] ? err : strerror(-r));
	} else {
		out.changes = l.pw;
		out.n_changes = l.n;
		api_call_reply(c, &out.base);
	}
	wire_list_free(&l);
	files_plan_clear(&p);
	files_access_end(&a);
}

/* The request's paths as workspace paths ("/a/b"); false when answered. */
static bool parse_paths(struct api_call *c,
			const Sandbox__V1__CommitChangesRequest *req,
			char ***out)
{
	char **v = calloc(req->n_paths + 1, sizeof(*v));
	const char *why = NULL;

	if (req->n_paths > MAX_PATHS || !v) {
		free(v);
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"at most %d paths", MAX_PATHS);
		return false;
	}
	for (size_t i = 0; i < req->n_paths; i++) {
		const char *p = req->paths[i];
		char norm[4096] = "/";

		if (strcmp(p, "/") && strcmp(p, "") &&
		    af_path_normalize(p, strlen(p), norm + 1, sizeof(norm) - 1,
				      &why) < 0) {
			api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
					"invalid path \"%s\": %s", p, why);
			while (i--)
				free(v[i]);
			free(v);
			return false;
		}
		v[i] = strdup(norm);
	}
	*out = v;
	return true;
}

static void reply_commit(struct api_call *c, const struct commit_plan *p)
{
	Sandbox__V1__CommitChangesResponse out =
		SANDBOX__V1__COMMIT_CHANGES_RESPONSE__INIT;
	struct wire_list done = { 0 }, skipped = { 0 }, conf = { 0 };

	if (collect(p, was_committed, &done) < 0 ||
	    collect(p, was_skipped, &skipped) < 0 ||
	    collect(p, conflicts, &conf) < 0) {
		svc_finish_oom(c);
	} else {
		out.committed = done.pw;
		out.n_committed = done.n;
		out.skipped = skipped.pw;
		out.n_skipped = skipped.n;
		out.conflicts = conf.pw;
		out.n_conflicts = conf.n;
		api_call_reply(c, &out.base);
	}
	wire_list_free(&done);
	wire_list_free(&skipped);
	wire_list_free(&conf);
}

static void commit_with(struct api_call *c,
			const Sandbox__V1__CommitChangesRequest *req,
			struct sb_access *a, char **paths)
{
	struct commit_plan p = { .view = -1, .upper = -1, .snap = -1 };
	char err[512] = "", list[400];
	int r;

	r = files_plan(a, paths, req->n_paths, &p, err, sizeof(err));
	if (r == 0)
		r = files_commit(a, &p, req->dry_run, err, sizeof(err));
	if (r == -EBUSY) {
		files_conflicts_text(&p, list, sizeof(list));
		api_call_finish(c, GRPC_STATUS_ABORTED,
				"nothing committed: the codebase changed since "
				"sandbox %s's snapshot at %s",
				a->id, list);
	} else if (r < 0) {
		plan_error(c, r, a->id, err[0] ? err : strerror(-r));
	} else {
		reply_commit(c, &p);
	}
	files_plan_clear(&p);
}

void files_commit_changes(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__CommitChangesRequest *req =
		(void *)api_call_request(c);
	char **paths = NULL;
	struct sb_access a;

	if (!req || !parse_paths(c, req, &paths))
		return;
	if (files_access_begin(c, req->sandbox_id, &a)) {
		commit_with(c, req, &a, paths);
		files_access_end(&a);
	}
	for (size_t i = 0; i < req->n_paths; i++)
		free(paths[i]);
	free(paths);
}
