// SPDX-License-Identifier: Apache-2.0
#define LOG_MOD "api"
#include "call.h"

#include <errno.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/support/alloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "agentfense/log.h"
#include "wire.h"

/* Run one batch and wait for it: the call's CQ is private to this thread. */
static bool call_batch(struct api_call *c, const grpc_op *ops, size_t n)
{
	char tag;
	grpc_call_error e;
	grpc_event ev;

	e = grpc_call_start_batch(c->call, ops, n, &tag, NULL);
	if (e != GRPC_CALL_OK) {
		log_err("%s: start_batch failed (%d)", c->method->path, e);
		return false;
	}
	ev = grpc_completion_queue_pluck(
		c->cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static grpc_byte_buffer *pack(const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	grpc_slice slice = grpc_slice_malloc(len);
	grpc_byte_buffer *bb;

	protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(slice));
	bb = grpc_raw_byte_buffer_create(&slice, 1);
	grpc_slice_unref(slice);
	return bb;
}

/* NULL for a malformed message; *nul set when a string held a NUL. */
static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *d,
				grpc_byte_buffer *bb, bool *nul)
{
	grpc_byte_buffer_reader r;
	grpc_slice s;
	ProtobufCMessage *m = NULL;

	*nul = false;
	if (!grpc_byte_buffer_reader_init(&r, bb))
		return NULL;
	s = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	if (wire_strings_ok(d, GRPC_SLICE_START_PTR(s), GRPC_SLICE_LENGTH(s)))
		m = protobuf_c_message_unpack(d, NULL, GRPC_SLICE_LENGTH(s),
					      GRPC_SLICE_START_PTR(s));
	else
		*nul = true;
	grpc_slice_unref(s);
	return m;
}

static void refuse(struct api_call *c, const ProtobufCMessageDescriptor *d,
		   bool nul)
{
	if (nul)
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"malformed %s: a string field holds a NUL "
				"byte, or the encoding is broken",
				d->name);
	else
		api_call_finish(c, GRPC_STATUS_INVALID_ARGUMENT,
				"malformed %s message", d->name);
}

ProtobufCMessage *api_call_request(struct api_call *c)
{
	ProtobufCMessage *m = NULL;
	bool nul = false;

	if (c->payload)
		m = unpack(c->method->request, c->payload, &nul);
	if (!m)
		refuse(c, c->method->request, nul);
	return m;
}

int api_call_read(struct api_call *c, const ProtobufCMessageDescriptor *d,
		  ProtobufCMessage **msg)
{
	grpc_byte_buffer *bb = NULL;
	grpc_op op = { .op = GRPC_OP_RECV_MESSAGE };
	bool nul;

	op.data.recv_message.recv_message = &bb;
	if (!call_batch(c, &op, 1)) {
		api_call_finish(c, GRPC_STATUS_CANCELLED, "stream broken");
		return -ECONNRESET;
	}
	if (!bb)
		return 0;
	*msg = unpack(d, bb, &nul);
	grpc_byte_buffer_destroy(bb);
	if (!*msg) {
		refuse(c, d, nul);
		return -EBADMSG;
	}
	return 1;
}

int api_call_write(struct api_call *c, const ProtobufCMessage *msg)
{
	grpc_op ops[2];
	size_t n = 0;
	grpc_byte_buffer *bb;
	bool ok;

	memset(ops, 0, sizeof(ops));
	if (!c->initial_md_sent) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		c->initial_md_sent = true;
	}
	bb = pack(msg);
	ops[n].op = GRPC_OP_SEND_MESSAGE;
	ops[n++].data.send_message.send_message = bb;
	ok = call_batch(c, ops, n);
	grpc_byte_buffer_destroy(bb);
	return ok ? 0 : -ECANCELED;
}

static int finish(struct api_call *c, const ProtobufCMessage *msg,
		  grpc_status_code code, const char *details)
{
	grpc_op ops[3];
	size_t n = 0;
	grpc_byte_buffer *bb = NULL;
	grpc_slice ds = grpc_slice_from_copied_string(details ? details : "");
	bool ok;

	if (c->finished)
		return 0;
	c->finished = true;
	memset(ops, 0, sizeof(ops));
	if (!c->initial_md_sent) {
		ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
		c->initial_md_sent = true;
	}
	if (msg) {
		bb = pack(msg);
		ops[n].op = GRPC_OP_SEND_MESSAGE;
		ops[n++].data.send_message.send_message = bb;
	}
	ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
	ops[n].data.send_status_from_server.status = code;
	ops[n++].data.send_status_from_server.status_details = &ds;
	ok = call_batch(c, ops, n);
	if (bb)
		grpc_byte_buffer_destroy(bb);
	grpc_slice_unref(ds);
	return ok ? 0 : -ECANCELED;
}

int api_call_reply(struct api_call *c, const ProtobufCMessage *msg)
{
	return finish(c, msg, GRPC_STATUS_OK, NULL);
}

int api_call_finish(struct api_call *c, grpc_status_code code, const char *fmt,
		    ...)
{
	char details[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(details, sizeof(details), fmt, ap);
	va_end(ap);
	if (code != GRPC_STATUS_OK)
		log_debug("%s -> status %d: %s", c->method->path, code,
			  details);
	return finish(c, NULL, code, details);
}

bool api_call_cancelled(struct api_call *c)
{
	grpc_event ev;

	if (!c->close_done) {
		ev = grpc_completion_queue_pluck(c->cq, &c->close_tag,
						 gpr_time_0(GPR_CLOCK_REALTIME),
						 NULL);
		if (ev.type == GRPC_OP_COMPLETE)
			c->close_done = true;
	}
	return c->close_done && c->cancelled;
}

bool api_call_still_wanted(struct api_call *c)
{
	grpc_op op = { .op = GRPC_OP_SEND_INITIAL_METADATA };

	/*
	 * A cancel closes both directions of the stream at once, so once its
	 * end was read, a send fails if the end was a cancel. Waiting for
	 * RECV_CLOSE_ON_SERVER alone is a race: it may complete just after.
	 */
	if (!c->initial_md_sent) {
		c->initial_md_sent = true;
		if (!call_batch(c, &op, 1))
			return false;
	}
	return !api_call_cancelled(c);
}

grpc_status_code api_status_from_errno(int err)
{
	switch (err) {
	case -ENOENT:
		return GRPC_STATUS_NOT_FOUND;
	case -EINVAL:
	case -ENAMETOOLONG:
	case -ENOTDIR:
	case -EISDIR:
	case -ELOOP:
		return GRPC_STATUS_INVALID_ARGUMENT;
	case -EEXIST:
		return GRPC_STATUS_ALREADY_EXISTS;
	case -EBUSY:
	case -ENOTCONN:
		return GRPC_STATUS_FAILED_PRECONDITION;
	case -EFBIG:
	case -E2BIG:
	case -ENOSPC:
	case -EDQUOT:
	case -EMFILE:
	case -EAGAIN:
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	case -EPERM:
	case -EACCES:
		return GRPC_STATUS_PERMISSION_DENIED;
	case -ETIMEDOUT:
		return GRPC_STATUS_DEADLINE_EXCEEDED;
	case -ECANCELED:
		return GRPC_STATUS_CANCELLED;
	case -EOPNOTSUPP:
		return GRPC_STATUS_UNIMPLEMENTED;
	default:
		return GRPC_STATUS_INTERNAL;
	}
}
