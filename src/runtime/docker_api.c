// SPDX-License-Identifier: Apache-2.0
/*
 * A minimal Docker Engine API client: HTTP over the Engine's unix socket
 * with libcurl, JSON with jansson. One curl handle per request, so any
 * thread may call; requests are few (create, start, inspect, remove).
 */
#define LOG_MOD "docker"
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "docker.h"

/* Pinned: the Engine keeps old versions working; 1.41 is Docker 20.10. */
#define API_PREFIX	   "http://docker/v1.41"
#define REPLY_MAX	   (8u << 20)
#define CALL_TIMEOUT_MS	   60000
#define CONNECT_TIMEOUT_MS 5000

struct docker_api {
	char *host;   /* as given, for messages */
	char *socket; /* its path */
};

struct reply_buf {
	char *data;
	size_t len;
	bool overflow;
};

int docker_api_new(const char *host, struct docker_api **out)
{
	_cleanup_free_ struct docker_api *a = calloc(1, sizeof(*a));
	const char *path = host;

	if (!a)
		return -ENOMEM;
	if (!strncmp(host, "unix://", 7))
		path = host + 7;
	else if (strstr(host, "://"))
		return log_errno(-EINVAL,
				 "docker host %s: only unix:// "
				 "sockets are supported",
				 host);
	if (path[0] != '/')
		return log_errno(-EINVAL,
				 "docker host %s: not an absolute "
				 "socket path",
				 host);
	a->host = strdup(host);
	a->socket = strdup(path);
	if (!a->host || !a->socket) {
		free(a->host);
		free(a->socket);
		return -ENOMEM;
	}
	*out = TAKE_PTR(a);
	return 0;
}

void docker_api_free(struct docker_api *a)
{
	if (!a)
		return;
	free(a->host);
	free(a->socket);
	free(a);
}

const char *docker_api_host(const struct docker_api *a)
{
	return a->host;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
	struct reply_buf *b = ud;
	size_t len = size * n;
	char *d;

	if (b->len + len > REPLY_MAX) {
		b->overflow = true;
		return 0;
	}
	d = realloc(b->data, b->len + len + 1);
	if (!d)
		return 0;
	memcpy(d + b->len, p, len);
	b->data = d;
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

static int curl_errno(const struct docker_api *a, CURLcode c, char *err,
		      size_t errlen)
{
	switch (c) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
		snprintf(err, errlen,
			 "the Docker daemon is not reachable at %s (is "
			 "dockerd running?): %s",
			 a->host, curl_easy_strerror(c));
		return -EHOSTDOWN;
	case CURLE_OPERATION_TIMEDOUT:
		snprintf(err, errlen,
			 "the Docker daemon at %s did not answer "
			 "in time",
			 a->host);
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	default:
		snprintf(err, errlen,
			 "request to the Docker daemon at %s "
			 "failed: %s",
			 a->host, curl_easy_strerror(c));
		return -EIO;
	}
}

static CURL *make_handle(const struct docker_api *a, const char *method,
			 const char *url, const char *body,
			 struct curl_slist *hdrs, struct reply_buf *b)
{
	CURL *h = curl_easy_init();

	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, a->socket);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	/* Threads: no SIGALRM-based timeouts. */
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)CALL_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	else if (strcmp(method, "GET") != 0 && strcmp(method, "DELETE") != 0)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
	return h;
}

int docker_call(const struct docker_api *a, const char *method,
		const char *path, json_t *body, json_t **reply, char *err,
		size_t errlen)
{
	_cleanup_free_ char *url = NULL, *text = NULL;
	struct reply_buf b = { 0 };
	struct curl_slist *hdrs = NULL;
	long status = 0;
	CURLcode c;
	CURL *h;

	*reply = NULL;
	if (asprintf(&url, API_PREFIX "%s", path) < 0)
		return -ENOMEM;
	if (body && !(text = json_dumps(body, JSON_COMPACT)))
		return -ENOMEM;
	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	h = hdrs ? make_handle(a, method, url, text, hdrs, &b) : NULL;
	if (!h) {
		curl_slist_free_all(hdrs);
		return -ENOMEM;
	}
	c = curl_easy_perform(h);
	if (c == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	if (c != CURLE_OK) {
		free(b.data);
		if (b.overflow) {
			snprintf(err, errlen, "reply of %s %s is too large",
				 method, path);
			return -EMSGSIZE;
		}
		return curl_errno(a, c, err, errlen);
	}
	if (b.data)
		*reply = json_loads(b.data, 0, NULL);
	free(b.data);
	return (int)status;
}

const char *docker_message(const json_t *reply)
{
	const char *m = json_string_value(json_object_get(reply, "message"));

	return m ? m : "";
}
