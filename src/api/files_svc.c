// SPDX-License-Identifier: Apache-2.0
/* sandbox.v1.FileService: the method table and what its RPCs share. */
#define LOG_MOD "api"
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/policy.h"
#include "agentfense/runtime.h"
#include "files.h"
#include "sandbox/v1/files.pb-c.h"
#include "server.h"
#include "svc.h"

/* The rules of a copy of the record, compiled. */
static int compile_rules(const Sandbox__V1__Sandbox *rec, struct af_matcher **m)
{
	char err[256];
	int r = svc_compile_rules(rec->permissions, rec->n_permissions, m, err,
				  sizeof(err));

	if (r < 0)
		log_err("sandbox %s: its rules no longer compile: %s", rec->id,
			err);
	return r;
}

/* Compiled outside the entry's lock: a big policy takes a while. */
static int fill(struct sb_access *a)
{
	_cleanup_(svc_freep) Sandbox__V1__Sandbox *rec = svc_sandbox_copy(a->e);

	if (!rec)
		return -ENOMEM;
	snprintf(a->id, sizeof(a->id), "%s", rec->id);
	snprintf(a->codebase_id, sizeof(a->codebase_id), "%s",
		 rec->codebase_id);
	return compile_rules(rec, &a->m);
}

bool files_access_begin(struct api_call *c, const char *sandbox_id,
			struct sb_access *a)
{
	int status;

	memset(a, 0, sizeof(*a));
	a->reg = svc_registry(c);
	a->e = svc_find_sandbox(c, sandbox_id);
	if (!a->e)
		return false;
	a->rt = sandbox_exec_begin(a->e, &status);
	if (!a->rt) {
		api_call_finish(c, GRPC_STATUS_FAILED_PRECONDITION,
				"sandbox %s is %s; its files are reachable "
				"while it runs: start it first",
				sandbox_id, sandbox_status_name(status));
		registry_put(a->reg, a->e);
		a->e = NULL;
		return false;
	}
	if (fill(a) < 0) {
		api_call_finish(c, GRPC_STATUS_INTERNAL,
				"sandbox %s: cannot compile its rules",
				sandbox_id);
		files_access_end(a);
		return false;
	}
	return true;
}

int files_access_held(struct registry *reg, struct sb_entry *e,
		      struct sb_access *a)
{
	memset(a, 0, sizeof(*a));
	a->reg = reg;
	pthread_mutex_lock(&e->lock);
	a->rt = e->rt;
	pthread_mutex_unlock(&e->lock);
	if (!a->rt)
		return -ENOTCONN;
	a->e = e;
	a->held = true;
	return fill(a);
}

void files_access_end(struct sb_access *a)
{
	af_matcher_free(a->m);
	a->m = NULL;
	if (a->e && a->rt && !a->held) {
		sandbox_exec_end(a->e);
		registry_put(a->reg, a->e);
	}
	a->e = NULL;
}

static void get_limits(struct api_call *c)
{
	_cleanup_(svc_freep) ProtobufCMessage *req = api_call_request(c);
	Sandbox__V1__UploadLimits out = SANDBOX__V1__UPLOAD_LIMITS__INIT;
	uint64_t file, archive;
	uint32_t entries;

	if (!req)
		return;
	store_limits(c->srv->cfg.store, &file, &archive, &entries);
	out.max_file_size = (int64_t)file;
	out.max_archive_size = (int64_t)archive;
	out.max_archive_entries = (int32_t)entries;
	out.max_batch_size = FILES_MAX_BATCH;
	api_call_reply(c, &out.base);
}

#define M(name, kind, req, fn) \
	API_METHOD("/sandbox.v1.FileService/", name, kind, req, fn)

const struct api_method api_file_methods[] = {
	M("UploadArchive", API_CLIENT_STREAM, archive_chunk,
	  files_upload_archive),
	M("GetUploadLimits", API_UNARY, get_upload_limits_request, get_limits),
	M("ReadSandboxFile", API_SERVER_STREAM, read_sandbox_file_request,
	  files_read),
	M("ListSandboxFiles", API_UNARY, list_sandbox_files_request,
	  files_list),
	M("ListChanges", API_UNARY, list_changes_request, files_list_changes),
	M("CommitChanges", API_UNARY, commit_changes_request,
	  files_commit_changes),
};
const size_t api_file_n_methods = ARRAY_SIZE(api_file_methods);
