// SPDX-License-Identifier: Apache-2.0
/*
 * FileService.UploadArchive: a whole tree in one client stream. After a
 * header, each message carries one ArchiveBatch, encoded and (optionally)
 * zlib-compressed, of at most FILES_MAX_BATCH bytes once inflated, so a
 * hostile stream costs bounded memory. Entries are staged as they come and
 * imported as one new generation at the end (store_import): any error, or
 * the client going away, leaves the codebase as it was.
 */
#define LOG_MOD "api"
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "files.h"
#include "sandbox/v1/files.pb-c.h"
#include "server.h"
#include "svc.h"
#include "wire.h"

#define ENTRY(x) SANDBOX__V1__ARCHIVE_ENTRY_TYPE__ARCHIVE_ENTRY_TYPE_##x
#define ENC(x)	 SANDBOX__V1__ARCHIVE_ENCODING__ARCHIVE_ENCODING_##x

struct file_result {
	char *path;
	int64_t size;
	char checksum[65];
};

struct upload {
	struct api_call *c;
	struct store_stage *st;
	char cb[AF_ID_MAX];
	bool per_file;
	bool in_file;	/* a file's pieces are still to come */
	char path[256]; /* of that file, for messages */
	int64_t remaining;
	struct file_result *res;
	size_t n_res, cap_res;
	int64_t wire_bytes;
	uint8_t *buf; /* inflated batches */
	size_t buf_cap;
};

static void upload_clear(struct upload *u)
{
	store_stage_abort(u->st);
	for (size_t i = 0; i < u->n_res; i++)
		free(u->res[i].path);
	free(u->res);
	free(u->buf);
}

/* Answer a store error about path (or the upload, when path is NULL). */
static void store_error(struct upload *u, int r, const char *path,
			const char *why)
{
	struct api_call *c = u->c;
	uint64_t max_file, max_archive;
	uint32_t max_entries;

	store_limits(c->srv->cfg.store, &max_file, &max_archive, &max_entries);
	if (r == -ENOENT && !path)
		svc_finish_codebase_error(c, r, u->cb);
	else if (r == -EFBIG)
		api_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
				"file \"%s\" is larger than the server's file "
				"size limit (%" PRIu64 " bytes)",
				path, max_file);
	else if (r == -EDQUOT)
		api_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
				"the upload exceeds the server's upload size "
				"limit (%" PRIu64 " bytes) at \"%s\"",
				max_archive, path);
	else if (r == -EMFILE)
		api_call_finish(c, GRPC_STATUS_RESOURCE_EXHAUSTED,
				"the upload has more than %" PRIu32 " entries, "
				"the server's limit",
				max_entries);
	else if (r == -EINVAL)
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT, "\"%s\": %s",
				path ? path : "", why ? why : "rejected");
	else
		api_call_finish(c, api_status_from_errno(r),
				"upload failed%s%s: %s", path ? " at " : "",
				path ? path : "", strerror(-r));
}

static int add_result(struct upload *u, const struct store_upload_result *sr)
{
	struct file_result *v;

	if (!u->per_file)
		return 0;
	if (u->n_res == u->cap_res) {
		size_t cap = u->cap_res ? 2 * u->cap_res : 256;

		v = realloc(u->res, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		u->res = v;
		u->cap_res = cap;
	}
	v = &u->res[u->n_res];
	v->path = strdup(sr->path);
	if (!v->path)
		return -ENOMEM;
	v->size = sr->size;
	memcpy(v->checksum, sr->checksum, sizeof(v->checksum));
	u->n_res++;
	return 0;
}

/* Data of the current file; ends it once its size has come. */
static bool file_data(struct upload *u, const ProtobufCBinaryData *d)
{
	struct store_upload_result sr;
	const char *why = NULL;
	int r;

	if ((int64_t)d->len > u->remaining) {
		api_call_finish(u->c, GRPC_STATUS_INVALID_ARGUMENT,
				"\"%s\": more data than its size", u->path);
		return false;
	}
	r = d->len ? store_stage_file_write(u->st, d->data, d->len) : 0;
	u->remaining -= (int64_t)d->len;
	if (r == 0 && u->remaining == 0) {
		u->in_file = false;
		r = store_stage_file_end(u->st, &sr, &why);
		if (r == 0)
			r = add_result(u, &sr);
	}
	if (r < 0)
		store_error(u, r, u->path, why);
	return r == 0;
}

static bool new_entry(struct upload *u, const Sandbox__V1__ArchiveEntry *e)
{
	const char *why = NULL;
	int r;

	if (u->in_file) {
		api_call_finish(u->c, GRPC_STATUS_INVALID_ARGUMENT,
				"\"%s\" ended before its size", u->path);
		return false;
	}
	if (e->type == ENTRY(DIRECTORY)) {
		r = e->data.len ? -EINVAL
				: store_stage_mkdir(u->st, e->path, &why);
		if (r < 0)
			store_error(u, r, e->path,
				    why ? why : "a directory has no data");
		return r == 0;
	}
	if (e->type != ENTRY(FILE)) {
		api_call_finish(u->c, GRPC_STATUS_INVALID_ARGUMENT,
				"\"%s\": only files and directories are "
				"stored (no symbolic links or special files)",
				e->path);
		return false;
	}
	r = store_stage_file_begin(u->st, e->path, e->mode, e->size, &why);
	if (r < 0) {
		store_error(u, r, e->path, why);
		return false;
	}
	snprintf(u->path, sizeof(u->path), "%s", e->path);
	u->in_file = true;
	u->remaining = e->size;
	return file_data(u, &e->data);
}

static bool entries(struct upload *u, const Sandbox__V1__ArchiveBatch *b)
{
	for (size_t i = 0; i < b->n_entries; i++) {
		const Sandbox__V1__ArchiveEntry *e = b->entries[i];
		bool ok;

		if (e->path[0])
			ok = new_entry(u, e);
		else if (u->in_file)
			ok = file_data(u, &e->data);
		else {
			api_call_finish(u->c, GRPC_STATUS_INVALID_ARGUMENT,
					"an entry without a path continues no "
					"file");
			ok = false;
		}
		if (!ok)
			return false;
	}
	return true;
}

static int grow(struct upload *u, size_t size)
{
	uint8_t *b;

	if (size <= u->buf_cap)
		return 0;
	b = realloc(u->buf, size);
	if (!b)
		return -ENOMEM;
	u->buf = b;
	u->buf_cap = size;
	return 0;
}

/* Exactly size bytes out of the zlib stream in, with nothing left over. */
static bool inflate_exact(uint8_t *out, size_t size,
			  const ProtobufCBinaryData *in)
{
	z_stream z = { .next_in = in->data,
		       .avail_in = (uInt)in->len,
		       .next_out = out,
		       .avail_out = (uInt)size };
	int r;

	if (in->len > UINT32_MAX || inflateInit(&z) != Z_OK)
		return false;
	r = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	return r == Z_STREAM_END && z.avail_out == 0 && z.avail_in == 0;
}

/* One batch message: its bytes, inflated when compressed, then unpacked. */
static bool batch(struct upload *u, const Sandbox__V1__ArchiveChunk *m)
{
	Sandbox__V1__ArchiveBatch *b;
	const uint8_t *data = m->batch.data;
	size_t size = (size_t)m->batch_size;
	bool ok;

	if (m->header || m->batch_size <= 0 ||
	    m->batch_size > FILES_MAX_BATCH ||
	    (m->encoding == ENC(IDENTITY) && m->batch.len != size)) {
		api_call_finish(u->c, GRPC_STATUS_INVALID_ARGUMENT,
				"a batch needs batch_size (1 to %d bytes, the "
				"size of the encoded batch), the header only "
				"comes first",
				FILES_MAX_BATCH);
		return false;
	}
	u->wire_bytes += (int64_t)m->batch.len;
	if (m->encoding == ENC(ZLIB)) {
		if (grow(u, size) < 0 ||
		    !inflate_exact(u->buf, size, &m->batch)) {
			api_call_finish(u->c, GRPC_STATUS_INVALID_ARGUMENT,
					"a batch does not inflate to its "
					"batch_size");
			return false;
		}
		data = u->buf;
	} else if (m->encoding != ENC(IDENTITY)) {
		api_call_finish(u->c, GRPC_STATUS_INVALID_ARGUMENT,
				"unknown batch encoding %d", m->encoding);
		return false;
	}
	b = wire_strings_ok(&sandbox__v1__archive_batch__descriptor, data, size)
		    ? sandbox__v1__archive_batch__unpack(NULL, size, data)
		    : NULL;
	if (!b) {
		api_call_finish(u->c, GRPC_STATUS_INVALID_ARGUMENT,
				"malformed batch (or a path holding a NUL)");
		return false;
	}
	ok = entries(u, b);
	svc_free(&b->base);
	return ok;
}

static void reply(struct upload *u, const struct store_stage_totals *t)
{
	Sandbox__V1__UploadArchiveResult out =
		SANDBOX__V1__UPLOAD_ARCHIVE_RESULT__INIT;
	_cleanup_free_ Sandbox__V1__UploadResult *w =
		calloc(u->n_res + 1, sizeof(*w));
	_cleanup_free_ Sandbox__V1__UploadResult **pw =
		calloc(u->n_res + 1, sizeof(*pw));
	if (!w || !pw) {
		svc_finish_oom(u->c);
		return;
	}
	for (size_t i = 0; i < u->n_res; i++) {
		sandbox__v1__upload_result__init(&w[i]);
		w[i].codebase_id = u->cb;
		w[i].file_path = u->res[i].path;
		w[i].size = u->res[i].size;
		w[i].checksum = u->res[i].checksum;
		pw[i] = &w[i];
	}
	out.codebase_id = u->cb;
	out.files = (int32_t)t->files;
	out.directories = (int32_t)t->dirs;
	out.bytes = t->bytes;
	out.wire_bytes = u->wire_bytes;
	out.results = pw;
	out.n_results = u->n_res;
	api_call_reply(u->c, &out.base);
}

/*
 * The rest of the stream; false once the call has been answered. Only an
 * explicit end counts: a cancelled stream reads like a finished one.
 */
static bool body(struct upload *u)
{
	bool end = false;

	for (;;) {
		_cleanup_(svc_freep) Sandbox__V1__ArchiveChunk *m = NULL;
		int r = api_call_read(u->c,
				      &sandbox__v1__archive_chunk__descriptor,
				      (ProtobufCMessage **)&m);

		if (r < 0)
			return false;
		if (r == 0)
			break;
		if (end || (m->end && (m->header || m->batch.len))) {
			api_call_finish(u->c, GRPC_STATUS_INVALID_ARGUMENT,
					"the end message comes last, alone");
			return false;
		}
		end = m->end;
		if (!end && !batch(u, m))
			return false;
	}
	if (!end || !api_call_still_wanted(u->c)) {
		api_call_finish(u->c, GRPC_STATUS_CANCELLED,
				"the upload stopped before its end: nothing "
				"was stored");
		return false;
	}
	if (u->in_file) {
		api_call_finish(u->c, GRPC_STATUS_INVALID_ARGUMENT,
				"the stream ended inside \"%s\"", u->path);
		return false;
	}
	return true;
}

static bool header(struct upload *u)
{
	_cleanup_(svc_freep) Sandbox__V1__ArchiveChunk *m = NULL;
	const char *why = NULL;
	int r;

	r = api_call_read(u->c, &sandbox__v1__archive_chunk__descriptor,
			  (ProtobufCMessage **)&m);
	if (r < 0)
		return false;
	if (r == 0 || !m->header || m->batch.len) {
		api_call_finish(u->c, GRPC_STATUS_INVALID_ARGUMENT,
				"the first message must carry the header "
				"only");
		return false;
	}
	if (!svc_check_id(u->c, "codebase_id", "cb_", m->header->codebase_id,
			  true))
		return false;
	snprintf(u->cb, sizeof(u->cb), "%s", m->header->codebase_id);
	u->per_file = m->header->per_file_results;
	r = store_stage_begin(u->c->srv->cfg.store, u->cb, &u->st, &why);
	if (r < 0)
		store_error(u, r, NULL, why);
	else if (!u->per_file)
		store_stage_skip_digests(u->st); /* 7 ms of CPU per 10 MB */
	return r == 0;
}

void files_upload_archive(struct api_call *c)
{
	struct upload u = { .c = c };
	struct store_stage_totals t;
	const char *why = NULL;
	int r;

	if (header(&u) && body(&u)) {
		store_stage_totals(u.st, &t);
		r = store_import(u.st, &why);
		u.st = NULL; /* freed by the import */
		if (r == -EINVAL)
			api_call_finish(
				c, GRPC_STATUS_INVALID_ARGUMENT,
				"the upload does not fit the codebase's "
				"tree: %s",
				why ? why : "rejected");
		else if (r < 0)
			store_error(&u, r, NULL, why);
		else
			reply(&u, &t);
	}
	upload_clear(&u);
}
