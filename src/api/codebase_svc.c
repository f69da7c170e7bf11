// SPDX-License-Identifier: Apache-2.0
/* sandbox.v1.CodebaseService. */
#define LOG_MOD "api"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/store.h"
#include "convert.h"
#include "sandbox/v1/codebase.pb-c.h"
#include "server.h"
#include "svc.h"

#define MAX_NAME 256

static struct store *store_of(struct api_call *c)
{
	return c->srv->cfg.store;
}

static bool check_codebase_id(struct api_call *c, const char *id)
{
	return svc_check_id(c, "codebase_id", "cb_", id, true);
}

static void to_wire(const struct store_codebase *cb, Sandbox__V1__Codebase *w,
		    Google__Protobuf__Timestamp *created,
		    Google__Protobuf__Timestamp *updated)
{
	sandbox__v1__codebase__init(w);
	w->id = (char *)cb->id;
	w->name = cb->name;
	w->owner_id = cb->owner_id;
	w->size = cb->size;
	w->file_count = cb->file_count;
	conv_timestamp(created, (uint64_t)cb->created_at_ns);
	conv_timestamp(updated, (uint64_t)cb->updated_at_ns);
	w->created_at = created;
	w->updated_at = updated;
}

static void reply_codebase(struct api_call *c, const struct store_codebase *cb)
{
	Sandbox__V1__Codebase w;
	Google__Protobuf__Timestamp t1, t2;

	to_wire(cb, &w, &t1, &t2);
	api_call_reply(c, &w.base);
}

static void create_codebase(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__CreateCodebaseRequest *req =
		(void *)api_call_request(c);
	struct store_codebase cb = { 0 };
	int r;

	if (!req)
		return;
	if (!req->name[0] || strlen(req->name) > MAX_NAME ||
	    strlen(req->owner_id) > MAX_NAME) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"name is required and name and owner_id must "
				"be at most %d bytes",
				MAX_NAME);
		return;
	}
	r = store_codebase_create(store_of(c), req->name, req->owner_id, &cb);
	if (r < 0) {
		api_call_finish(c, api_status_from_errno(r),
				"cannot create codebase: %s", strerror(-r));
		return;
	}
	reply_codebase(c, &cb);
	store_codebase_clear(&cb);
}

static void get_codebase(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__GetCodebaseRequest *req =
		(void *)api_call_request(c);
	struct store_codebase cb = { 0 };
	int r;

	if (!req || !check_codebase_id(c, req->codebase_id))
		return;
	r = store_codebase_get(store_of(c), req->codebase_id, &cb);
	if (r < 0) {
		svc_finish_codebase_error(c, r, req->codebase_id);
		return;
	}
	reply_codebase(c, &cb);
	store_codebase_clear(&cb);
}

static void list_codebases(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__ListCodebasesRequest *req =
		(void *)api_call_request(c);
	Sandbox__V1__ListCodebasesResponse resp =
		SANDBOX__V1__LIST_CODEBASES_RESPONSE__INIT;
	struct store_codebase *cbs = NULL;
	_cleanup_free_ Sandbox__V1__Codebase *w = NULL;
	_cleanup_free_ Sandbox__V1__Codebase **pw = NULL;
	_cleanup_free_ Google__Protobuf__Timestamp *ts = NULL;
	size_t n = 0;
	bool more = false;
	int r;

	if (!req)
		return;
	if (req->page_size < 0) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"page_size must not be negative");
		return;
	}
	if (!svc_check_id(c, "page_token", "cb_", req->page_token, false))
		return;
	r = store_codebase_list(store_of(c), req->owner_id, req->page_token,
				svc_page_limit(req->page_size), &cbs, &n,
				&more);
	if (r < 0) {
		api_call_finish(c, api_status_from_errno(r),
				"cannot list codebases: %s", strerror(-r));
		return;
	}
	w = calloc(n + 1, sizeof(*w));
	pw = calloc(n + 1, sizeof(*pw));
	ts = calloc(2 * n + 1, sizeof(*ts));
	if (!w || !pw || !ts) {
		store_codebase_list_free(cbs, n);
		svc_finish_oom(c);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		to_wire(&cbs[i], &w[i], &ts[2 * i], &ts[2 * i + 1]);
		pw[i] = &w[i];
	}
	resp.codebases = pw;
	resp.n_codebases = n;
	if (more && n)
		resp.next_page_token = cbs[n - 1].id;
	api_call_reply(c, &resp.base);
	store_codebase_list_free(cbs, n);
}

static void delete_codebase(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__DeleteCodebaseRequest *req =
		(void *)api_call_request(c);
	Sandbox__V1__Empty empty = SANDBOX__V1__EMPTY__INIT;
	char holder[AF_ID_MAX] = "";
	int r;

	if (!req || !check_codebase_id(c, req->codebase_id))
		return;
	r = store_codebase_delete(store_of(c), req->codebase_id, holder);
	if (r == -EBUSY)
		api_call_finish(c, GRPC_STATUS_FAILED_PRECONDITION,
				"codebase %s is in use by sandbox %s; destroy "
				"the sandbox first",
				req->codebase_id, holder);
	else if (r < 0)
		svc_finish_codebase_error(c, r, req->codebase_id);
	else
		api_call_reply(c, &empty.base);
}

/* Answer an upload error from the store. */
static void upload_error(struct api_call *c, int r, const char *cb,
			 const char *path, const char *why)
{
	if (r == -ENOENT)
		svc_finish_codebase_error(c, r, cb);
	else if (r == -EINVAL)
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"invalid file path \"%s\": %s", path,
				why ? why : "rejected");
	else if (r == -EFBIG)
		api_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
				"file \"%s\" is larger than its announced "
				"total_size or the server's file size cap",
				path);
	else
		api_call_finish(c, api_status_from_errno(r),
				"upload of \"%s\" failed: %s", path,
				strerror(-r));
}

/* The data messages of an upload; false if the call was answered. */
static bool upload_body(struct api_call *c, struct store_upload *u,
			const char *cb, const char *path, int64_t announced)
{
	int64_t got = 0;

	for (;;) {
		Sandbox__V1__UploadChunk *m = NULL;
		int r = api_call_read(c, &sandbox__v1__upload_chunk__descriptor,
				      (ProtobufCMessage **)&m);

		if (r == 0)
			return true;
		if (r < 0)
			return false;
		if (m->content_case !=
		    SANDBOX__V1__UPLOAD_CHUNK__CONTENT_DATA) {
			svc_free(&m->base);
			api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
					"one file per upload stream: metadata "
					"may only come first");
			return false;
		}
		got += (int64_t)m->data.len;
		if (announced > 0 && got > announced) {
			svc_free(&m->base);
			api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
					"\"%s\": more data than the %lld bytes "
					"total_size announced",
					path, (long long)announced);
			return false;
		}
		r = store_upload_write(u, m->data.data, m->data.len);
		svc_free(&m->base);
		if (r < 0) {
			upload_error(c, r, cb, path, NULL);
			return false;
		}
	}
}

static void upload_files(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__UploadChunk *m = NULL;
	Sandbox__V1__UploadResult res = SANDBOX__V1__UPLOAD_RESULT__INIT;
	struct store_upload_result ur;
	struct store_upload *u = NULL;
	const Sandbox__V1__UploadChunk__Metadata *md;
	const char *why = NULL;
	int r;

	r = api_call_read(c, &sandbox__v1__upload_chunk__descriptor,
			  (ProtobufCMessage **)&m);
	if (r < 0)
		return;
	if (r == 0 ||
	    m->content_case != SANDBOX__V1__UPLOAD_CHUNK__CONTENT_METADATA) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"the first upload message must carry metadata");
		return;
	}
	md = m->metadata;
	if (!check_codebase_id(c, md->codebase_id))
		return;
	if (md->total_size < 0) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"total_size must not be negative");
		return;
	}
	r = store_upload_begin(store_of(c), md->codebase_id, md->file_path,
			       md->total_size, &u, &why);
	if (r < 0) {
		upload_error(c, r, md->codebase_id, md->file_path, why);
		return;
	}
	store_upload_set_mode(u, md->mode);
	if (!upload_body(c, u, md->codebase_id, md->file_path,
			 md->total_size)) {
		store_upload_abort(u);
		return;
	}
	/*
	 * A client that cancels can look like one that ended its stream: a
	 * cancelled call must not store what arrived (with no total_size,
	 * nothing else would tell a short file from a whole one).
	 */
	if (!api_call_still_wanted(c)) {
		store_upload_abort(u);
		api_call_finish(c, GRPC_STATUS_CANCELLED,
				"upload of \"%s\" cancelled", md->file_path);
		return;
	}
	r = store_upload_commit(u, &ur, &why);
	if (r < 0) {
		upload_error(c, r, md->codebase_id, md->file_path, why);
		return;
	}
	res.codebase_id = md->codebase_id;
	res.file_path = ur.path;
	res.size = ur.size;
	res.checksum = ur.checksum;
	api_call_reply(c, &res.base);
}

static void download_file(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__DownloadFileRequest *req =
		(void *)api_call_request(c);
	_cleanup_free_ uint8_t *buf = malloc(SVC_CHUNK);
	_cleanup_close_ int fd = -1;
	struct store_codebase cb = { 0 };
	const char *why = NULL;
	int r;

	if (!req || !check_codebase_id(c, req->codebase_id))
		return;
	r = store_codebase_get(store_of(c), req->codebase_id, &cb);
	store_codebase_clear(&cb);
	if (r < 0) {
		svc_finish_codebase_error(c, r, req->codebase_id);
		return;
	}
	r = store_file_open(store_of(c), req->codebase_id, req->file_path, &fd,
			    &why);
	if (r == -ENOENT) {
		api_call_finish(c, GRPC_STATUS_NOT_FOUND,
				"file \"%s\" not found in codebase %s",
				req->file_path, req->codebase_id);
		return;
	}
	if (r < 0 || !buf) {
		upload_error(c, r ? r : -ENOMEM, req->codebase_id,
			     req->file_path,
			     r == -EISDIR ? "is a directory" : why);
		return;
	}
	svc_stream_file(c, fd, buf, 0, 0);
}

static void list_files(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__ListFilesRequest *req =
		(void *)api_call_request(c);
	Sandbox__V1__ListFilesResponse resp =
		SANDBOX__V1__LIST_FILES_RESPONSE__INIT;
	struct store_file_info *fi = NULL;
	_cleanup_free_ Sandbox__V1__FileInfo *w = NULL;
	_cleanup_free_ Sandbox__V1__FileInfo **pw = NULL;
	_cleanup_free_ Google__Protobuf__Timestamp *ts = NULL;
	const char *why = NULL;
	size_t n = 0;
	int r;

	if (!req || !check_codebase_id(c, req->codebase_id))
		return;
	r = store_list_files(store_of(c), req->codebase_id, req->path,
			     req->recursive, &fi, &n, &why);
	if (r == -EINVAL) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"invalid path \"%s\": %s", req->path,
				why ? why : "rejected");
		return;
	}
	if (r < 0) {
		svc_finish_codebase_error(c, r, req->codebase_id);
		return;
	}
	w = calloc(n + 1, sizeof(*w));
	pw = calloc(n + 1, sizeof(*pw));
	ts = calloc(n + 1, sizeof(*ts));
	if (!w || !pw || !ts) {
		store_file_infos_free(fi, n);
		svc_finish_oom(c);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		sandbox__v1__file_info__init(&w[i]);
		w[i].path = fi[i].path;
		w[i].name = fi[i].name;
		w[i].is_dir = fi[i].is_dir;
		w[i].size = fi[i].size;
		conv_timestamp(&ts[i], (uint64_t)fi[i].modified_at_ns);
		w[i].modified_at = &ts[i];
		pw[i] = &w[i];
	}
	resp.files = pw;
	resp.n_files = n;
	api_call_reply(c, &resp.base);
	store_file_infos_free(fi, n);
}

#define M(name, kind, req, fn) \
	API_METHOD("/sandbox.v1.CodebaseService/", name, kind, req, fn)

const struct api_method api_codebase_methods[] = {
	M("CreateCodebase", API_UNARY, create_codebase_request,
	  create_codebase),
	M("GetCodebase", API_UNARY, get_codebase_request, get_codebase),
	M("ListCodebases", API_UNARY, list_codebases_request, list_codebases),
	M("DeleteCodebase", API_UNARY, delete_codebase_request,
	  delete_codebase),
	M("UploadFiles", API_CLIENT_STREAM, upload_chunk, upload_files),
	M("DownloadFile", API_SERVER_STREAM, download_file_request,
	  download_file),
	M("ListFiles", API_UNARY, list_files_request, list_files),
};
const size_t api_codebase_n_methods = ARRAY_SIZE(api_codebase_methods);
