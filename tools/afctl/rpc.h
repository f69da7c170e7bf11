/* SPDX-License-Identifier: Apache-2.0 */
/*
 * afctl's gRPC client: the gRPC core C API with protobuf-c messages, one
 * blocking call at a time (a private pluck queue per call).
 */
#ifndef AFCTL_RPC_H
#define AFCTL_RPC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

struct rpc;
struct rpc_stream;

int rpc_open(const char *target, struct rpc **out);
void rpc_close(struct rpc *r);

/*
 * One unary call: 0 (GRPC_STATUS_OK) with *resp (free with
 * protobuf_c_message_free_unpacked), or the status code with its details
 * in err. timeout_s 0: none.
 */
int rpc_unary(struct rpc *r, const char *method, const ProtobufCMessage *req,
	      const ProtobufCMessageDescriptor *resp_desc,
	      ProtobufCMessage **resp, int timeout_s, char *err, size_t errlen);

/* A server stream: open, read messages until 0 (its end), then finish. */
int rpc_stream_open(struct rpc *r, const char *method,
		    const ProtobufCMessage *req, int timeout_s,
		    struct rpc_stream **out);
/* 1 and *msg, 0 at the end of the stream (or when it broke). */
int rpc_stream_next(struct rpc_stream *s, const ProtobufCMessageDescriptor *d,
		    ProtobufCMessage **msg);
/* The final status (as rpc_unary's) and free s. */
int rpc_stream_finish(struct rpc_stream *s, char *err, size_t errlen);

#endif
