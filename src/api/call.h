/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One gRPC call, served synchronously by its own thread. Each call is bound
 * to a private pluck completion queue (as gRPC's own sync server does), so a
 * handler reads, writes and finishes with blocking helpers.
 */
#ifndef AF_API_CALL_H
#define AF_API_CALL_H

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>

struct api_server;
struct api_call;

typedef void (*api_handler_fn)(struct api_call *c);

enum api_method_kind {
	API_UNARY,	   /* one request, one response */
	API_SERVER_STREAM, /* one request, a stream of responses */
	API_CLIENT_STREAM, /* a stream of requests, one response */
};

struct api_method {
	const char *path; /* "/sandbox.v1.SandboxService/CreateSandbox" */
	enum api_method_kind kind;
	const ProtobufCMessageDescriptor *request;
	api_handler_fn handler;
};

/*
 * A method table row: API_METHOD("/sandbox.v1.X/", "Name", API_UNARY,
 * name_request, fn) takes the generated sandbox__v1__name_request__descriptor.
 */
#define API_METHOD(svc, name, kind, req, fn)                          \
	{                                                             \
		svc name, kind, &sandbox__v1__##req##__descriptor, fn \
	}

struct api_call {
	grpc_call *call;
	grpc_completion_queue *cq;
	gpr_timespec deadline;
	grpc_metadata_array md;
	grpc_byte_buffer *payload; /* first request (unary, server stream) */
	const struct api_method *method;
	struct api_server *srv;
	bool initial_md_sent;
	bool finished;
	bool close_done; /* RECV_CLOSE_ON_SERVER completed */
	int cancelled;	 /* set by RECV_CLOSE_ON_SERVER */
	char close_tag;	 /* address used as the close tag */
};

/* Unpack the first request message; on failure answers INVALID_ARGUMENT. */
ProtobufCMessage *api_call_request(struct api_call *c);
/*
 * Read the next message of a client stream. Returns 1 and *msg, 0 at the
 * end of the stream, or a negative errno (the client went away or sent
 * garbage; the call has then been finished with an error status).
 */
int api_call_read(struct api_call *c, const ProtobufCMessageDescriptor *d,
		  ProtobufCMessage **msg);
/* Send one message of a server stream. -ECANCELED if the client is gone. */
int api_call_write(struct api_call *c, const ProtobufCMessage *msg);
/* Unary success: response and OK status in one batch. */
int api_call_reply(struct api_call *c, const ProtobufCMessage *msg);
/* Finish with a status (OK ends a server stream). */
int api_call_finish(struct api_call *c, grpc_status_code code, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));
/* True once the client cancelled or disconnected (cheap, non-blocking). */
bool api_call_cancelled(struct api_call *c);
/*
 * After a client stream's end was read: did the client end it, rather than
 * cancel? Sends the initial metadata to find out. A call that stores what
 * the client sent asks this before storing it.
 */
bool api_call_still_wanted(struct api_call *c);

/*
 * Map a negative errno from a lower module to a status code: -ENOENT →
 * NOT_FOUND, -EINVAL → INVALID_ARGUMENT, -EBUSY → FAILED_PRECONDITION, ...
 */
grpc_status_code api_status_from_errno(int err);

#endif
