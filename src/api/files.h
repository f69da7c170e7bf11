/* SPDX-License-Identifier: Apache-2.0 */
/*
 * sandbox.v1.FileService (proto/sandbox/v1/files.proto): bulk upload
 * (archive_svc.c), file access through a sandbox's view (view_svc.c), its
 * changes and their commit (changes_svc.c, commit.c).
 */
#ifndef AF_API_FILES_H
#define AF_API_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "agentfense/fs.h"
#include "agentfense/store.h"
#include "agentfense/util.h"
#include "call.h"
#include "registry.h"

/* Largest ArchiveBatch accepted, encoded (before compression). */
#define FILES_MAX_BATCH (16 << 20)

struct af_matcher;
struct rt_sandbox;
struct rt_exec_res;

/* A running sandbox, held like a command (a stop waits for us). */
struct sb_access {
	struct registry *reg;
	struct sb_entry *e;
	struct rt_sandbox *rt;
	struct af_matcher *m; /* its rules, compiled */
	char id[AF_ID_MAX];
	char codebase_id[AF_ID_MAX];
	bool held; /* the caller's references, not ours */
};

/* Answers the call (NOT_FOUND, FAILED_PRECONDITION...) when false. */
bool files_access_begin(struct api_call *c, const char *sandbox_id,
			struct sb_access *a);
/* Without a call: for commits after a command (e->execs held). */
int files_access_held(struct registry *reg, struct sb_entry *e,
		      struct sb_access *a);
void files_access_end(struct sb_access *a);

/* One change of the sandbox and what a commit makes of it. */
struct commit_item {
	struct fs_change *fc;
	bool selected;	    /* named by the request (or all) */
	const char *reason; /* why it cannot be committed; NULL: it can */
	bool store_op;	    /* handed to the store (see commit.c) */
	enum store_verdict verdict;
};

struct commit_plan {
	int view, upper, snap; /* the sandbox's fds (runtime) */
	struct fs_change *changes;
	size_t n;
	struct commit_item *items;
	struct store_change *ops;
	size_t n_ops;
};

/*
 * List the sandbox's changes into plan, selecting those at or below paths
 * (all when n_paths is 0). 0, or a negative errno with err set.
 */
int files_plan(struct sb_access *a, char *const *paths, size_t n_paths,
	       struct commit_plan *plan, char *err, size_t errlen);
/* Verdicts without committing (ListChanges): conflicts resolved by content. */
int files_plan_check(struct sb_access *a, struct commit_plan *plan);
/*
 * Stage and commit the plan's committable changes: -EBUSY on conflicts
 * (verdicts say which), other errors with err set.
 */
int files_commit(struct sb_access *a, struct commit_plan *plan, bool dry_run,
		 char *err, size_t errlen);
void files_plan_clear(struct commit_plan *plan);
/* "/a, /b and 3 more": the paths whose verdict is a conflict. */
void files_conflicts_text(const struct commit_plan *plan, char *buf,
			  size_t len);

/*
 * After a command of a sandbox created with commit_after_exec: commit all
 * its changes; a failure is added to res->message. The caller holds an
 * exec reference on e.
 */
void files_after_command(struct registry *reg, struct sb_entry *e,
			 struct rt_exec_res *res);

/* archive_svc.c, view_svc.c, changes_svc.c */
void files_upload_archive(struct api_call *c);
void files_read(struct api_call *c);
void files_list(struct api_call *c);
void files_list_changes(struct api_call *c);
void files_commit_changes(struct api_call *c);

#endif
