// SPDX-License-Identifier: Apache-2.0
/*
 * FileService.ReadSandboxFile and ListSandboxFiles: a running sandbox's
 * /workspace as its processes see it, under its rules (fs/access.c does
 * the lookups; the runtime hands out the view).
 */
#define LOG_MOD "api"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "agentfense/runtime.h"
#include "convert.h"
#include "files.h"
#include "sandbox/v1/files.pb-c.h"
#include "server.h"
#include "svc.h"

#define MAX_LIST 100000

/* Answer an error of fs_view_* about path. */
static void view_error(struct api_call *c, int r, const char *id,
		       const char *path)
{
	switch (r) {
	case -ENOENT:
	case -ENOTDIR:
		api_call_finish(c, GRPC_STATUS_NOT_FOUND,
				"\"%s\" does not exist in sandbox %s", path,
				id);
		break;
	case -EACCES:
		api_call_finish(c, GRPC_STATUS_PERMISSION_DENIED,
				"\"%s\" is view-only under sandbox %s's rules: "
				"it is listed, not read",
				path, id);
		break;
	case -EISDIR:
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"\"%s\" is a directory: list it", path);
		break;
	case -ELOOP:
		api_call_finish(c, GRPC_STATUS_FAILED_PRECONDITION,
				"\"%s\" is, or is below, a symbolic link, "
				"which the server does not follow",
				path);
		break;
	case -EINVAL:
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"\"%s\" is not a valid workspace path or names "
				"a special file",
				path);
		break;
	case -E2BIG:
		api_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
				"more than %d entries below \"%s\"", MAX_LIST,
				path);
		break;
	case -ENOTCONN:
		api_call_finish(c, GRPC_STATUS_FAILED_PRECONDITION,
				"sandbox %s stopped", id);
		break;
	default:
		api_call_finish(c, api_status_from_errno(r),
				"sandbox %s: \"%s\": %s", id, path,
				strerror(-r));
	}
}

/* The file, opened as the sandbox may; answers the call on failure. */
static int open_in_view(struct api_call *c, const char *sandbox_id,
			const char *path)
{
	struct sb_access a;
	_cleanup_close_ int view = -1;
	int fd = -1, r;

	if (!files_access_begin(c, sandbox_id, &a))
		return -1;
	r = rt_sandbox_view_fd(a.rt, &view);
	if (r == 0)
		r = fs_view_open(view, a.m, path, &fd);
	/* The open fd is enough: a stop need not wait for our client. */
	files_access_end(&a);
	if (r < 0) {
		view_error(c, r, sandbox_id, path);
		return -1;
	}
	return fd;
}

static void stream_file(struct api_call *c, int fd, int64_t off, int64_t len)
{
	_cleanup_free_ uint8_t *buf = malloc(SVC_CHUNK);

	if (!buf) {
		svc_finish_oom(c);
		return;
	}
	svc_stream_file(c, fd, buf, off, len);
}

void files_read(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__ReadSandboxFileRequest *req =
		(void *)api_call_request(c);
	_cleanup_close_ int fd = -1;

	if (!req)
		return;
	if (req->offset < 0 || req->length < 0) {
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"offset and length must not be negative");
		return;
	}
	fd = open_in_view(c, req->sandbox_id, req->path);
	if (fd >= 0)
		stream_file(c, fd, req->offset, req->length);
}

static void reply_list(struct api_call *c, const struct fs_entry *e, size_t n)
{
	Sandbox__V1__ListSandboxFilesResponse out =
		SANDBOX__V1__LIST_SANDBOX_FILES_RESPONSE__INIT;
	_cleanup_free_ Sandbox__V1__SandboxFileInfo *w =
		calloc(n + 1, sizeof(*w));
	_cleanup_free_ Sandbox__V1__SandboxFileInfo **pw =
		calloc(n + 1, sizeof(*pw));
	_cleanup_free_ Google__Protobuf__Timestamp *ts =
		calloc(n + 1, sizeof(*ts));

	if (!w || !pw || !ts) {
		svc_finish_oom(c);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		sandbox__v1__sandbox_file_info__init(&w[i]);
		w[i].path = e[i].path;
		w[i].name = (char *)e[i].name;
		w[i].is_dir = e[i].is_dir;
		w[i].is_symlink = e[i].is_symlink;
		w[i].size = e[i].size;
		w[i].mode = e[i].mode;
		w[i].permission = (Sandbox__V1__Permission)e[i].level;
		conv_timestamp(&ts[i], (uint64_t)e[i].mtime_ns);
		w[i].modified_at = &ts[i];
		pw[i] = &w[i];
	}
	out.files = pw;
	out.n_files = n;
	api_call_reply(c, &out.base);
}

void files_list(struct api_call *c)
{
	_cleanup_(svc_freep) Sandbox__V1__ListSandboxFilesRequest *req =
		(void *)api_call_request(c);
	_cleanup_close_ int view = -1;
	struct fs_entry *e = NULL;
	struct sb_access a;
	size_t n = 0;
	int r;

	if (!req || !files_access_begin(c, req->sandbox_id, &a))
		return;
	r = rt_sandbox_view_fd(a.rt, &view);
	if (r == 0)
		r = fs_view_list(view, a.m, req->path, req->recursive, MAX_LIST,
				 &e, &n);
	files_access_end(&a);
	if (r < 0)
		view_error(c, r, req->sandbox_id, req->path);
	else
		reply_list(c, e, n);
	fs_entries_free(e, n);
}
