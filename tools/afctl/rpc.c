// SPDX-License-Identifier: Apache-2.0
#include "rpc.h"

#include <errno.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MESSAGE_BYTES (64 * 1024 * 1024)

struct rpc {
	grpc_channel *ch;
};

struct rpc_stream {
	grpc_call *call;
	grpc_completion_queue *cq;
	grpc_metadata_array md;
	bool broken;
};

int rpc_open(const char *target, struct rpc **out)
{
	grpc_arg args[] = {
		{ .type = GRPC_ARG_INTEGER,
		  .key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH,
		  .value.integer = MAX_MESSAGE_BYTES },
	};
	grpc_channel_args ca = { 1, args };
	grpc_channel_credentials *creds = grpc_insecure_credentials_create();
	struct rpc *r = calloc(1, sizeof(*r));

	if (!r)
		return -ENOMEM;
	r->ch = grpc_channel_create(target, creds, &ca);
	grpc_channel_credentials_release(creds);
	*out = r;
	return 0;
}

void rpc_close(struct rpc *r)
{
	if (!r)
		return;
	grpc_channel_destroy(r->ch);
	free(r);
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

static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *d,
				grpc_byte_buffer *bb)
{
	grpc_byte_buffer_reader r;
	ProtobufCMessage *m;
	grpc_slice s;

	if (!grpc_byte_buffer_reader_init(&r, bb))
		return NULL;
	s = grpc_byte_buffer_reader_readall(&r);
	grpc_byte_buffer_reader_destroy(&r);
	m = protobuf_c_message_unpack(d, NULL, GRPC_SLICE_LENGTH(s),
				      GRPC_SLICE_START_PTR(s));
	grpc_slice_unref(s);
	return m;
}

static bool batch(grpc_call *call, grpc_completion_queue *cq,
		  const grpc_op *ops, size_t n)
{
	char tag;
	grpc_event ev;

	if (grpc_call_start_batch(call, ops, n, &tag, NULL) != GRPC_CALL_OK)
		return false;
	ev = grpc_completion_queue_pluck(
		cq, &tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
	return ev.type == GRPC_OP_COMPLETE && ev.success;
}

static gpr_timespec deadline(int timeout_s)
{
	if (timeout_s <= 0)
		return gpr_inf_future(GPR_CLOCK_REALTIME);
	return gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
			    gpr_time_from_seconds(timeout_s, GPR_TIMESPAN));
}

static void cq_done(grpc_completion_queue *cq)
{
	grpc_completion_queue_shutdown(cq);
	while (grpc_completion_queue_pluck(
		       cq, NULL, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
		       .type != GRPC_QUEUE_SHUTDOWN)
		;
	grpc_completion_queue_destroy(cq);
}

int rpc_stream_open(struct rpc *r, const char *method,
		    const ProtobufCMessage *req, int timeout_s,
		    struct rpc_stream **out)
{
	struct rpc_stream *s = calloc(1, sizeof(*s));
	grpc_slice m = grpc_slice_from_static_string(method);
	grpc_op ops[4];
	grpc_byte_buffer *bb;

	if (!s)
		return -ENOMEM;
	s->cq = grpc_completion_queue_create_for_pluck(NULL);
	s->call = grpc_channel_create_call(r->ch, NULL, GRPC_PROPAGATE_DEFAULTS,
					   s->cq, m, NULL, deadline(timeout_s),
					   NULL);
	grpc_metadata_array_init(&s->md);
	bb = pack(req);
	memset(ops, 0, sizeof(ops));
	ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
	ops[1].op = GRPC_OP_SEND_MESSAGE;
	ops[1].data.send_message.send_message = bb;
	ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
	ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
	ops[3].data.recv_initial_metadata.recv_initial_metadata = &s->md;
	/* A failed batch shows as the stream's status at the end. */
	s->broken = !batch(s->call, s->cq, ops, 4);
	grpc_byte_buffer_destroy(bb);
	*out = s;
	return 0;
}

int rpc_stream_next(struct rpc_stream *s, const ProtobufCMessageDescriptor *d,
		    ProtobufCMessage **msg)
{
	grpc_op op = { .op = GRPC_OP_RECV_MESSAGE };
	grpc_byte_buffer *bb = NULL;

	if (s->broken)
		return 0;
	op.data.recv_message.recv_message = &bb;
	if (!batch(s->call, s->cq, &op, 1) || !bb) {
		s->broken = true;
		return 0;
	}
	*msg = unpack(d, bb);
	grpc_byte_buffer_destroy(bb);
	if (!*msg) {
		s->broken = true;
		grpc_call_cancel_with_status(s->call, GRPC_STATUS_INTERNAL,
					     "malformed message", NULL);
		return 0;
	}
	return 1;
}

int rpc_stream_finish(struct rpc_stream *s, char *err, size_t errlen)
{
	grpc_op op = { .op = GRPC_OP_RECV_STATUS_ON_CLIENT };
	grpc_metadata_array trailing;
	grpc_status_code code = GRPC_STATUS_UNKNOWN;
	grpc_slice details = grpc_empty_slice();

	grpc_metadata_array_init(&trailing);
	op.data.recv_status_on_client.trailing_metadata = &trailing;
	op.data.recv_status_on_client.status = &code;
	op.data.recv_status_on_client.status_details = &details;
	if (!batch(s->call, s->cq, &op, 1))
		code = GRPC_STATUS_UNKNOWN;
	snprintf(err, errlen, "%.*s", (int)GRPC_SLICE_LENGTH(details),
		 (const char *)GRPC_SLICE_START_PTR(details));
	grpc_slice_unref(details);
	grpc_metadata_array_destroy(&trailing);
	grpc_metadata_array_destroy(&s->md);
	grpc_call_unref(s->call);
	cq_done(s->cq);
	free(s);
	return (int)code;
}

int rpc_unary(struct rpc *r, const char *method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp_desc,
	      ProtobufCMessage **resp, int timeout_s, char *err, size_t errlen)
{
	struct rpc_stream *s;
	ProtobufCMessage *m = NULL;
	int code;

	*resp = NULL;
	code = rpc_stream_open(r, method, req, timeout_s, &s);
	if (code < 0) {
		snprintf(err, errlen, "%s", strerror(-code));
		return GRPC_STATUS_RESOURCE_EXHAUSTED;
	}
	rpc_stream_next(s, resp_desc, &m);
	code = rpc_stream_finish(s, err, errlen);
	if (code == GRPC_STATUS_OK && !m) {
		snprintf(err, errlen, "no response message");
		code = GRPC_STATUS_INTERNAL;
	}
	if (code != GRPC_STATUS_OK && m) {
		protobuf_c_message_free_unpacked(m, NULL);
		m = NULL;
	}
	*resp = m;
	return code;
}
