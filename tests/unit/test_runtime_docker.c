// SPDX-License-Identifier: Apache-2.0
/*
 * The Docker runtime's Engine client: the container's create request, and
 * the HTTP exchange (over a unix socket) against a fake Engine that serves
 * canned replies from a thread, so no dockerd is needed.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/runtime/docker.h"
#include "agentfense/util.h"

/* -- the create request ------------------------------------------------ */

static const struct cg_limits limits = { .memory_bytes = 512ull << 20,
					 .pids_max = 100,
					 .cpu_quota_us = 50000,
					 .cpu_shares = 512 };

static json_t *body_for(const struct cg_limits *l)
{
	const struct docker_box_opts o = { .sandbox_id = "sb_0123456789abcdef",
					   .codebase_id = "cb_0123456789abcdef",
					   .image = "python:3.11-slim",
					   .limits = l,
					   .tmp_size = 1 << 20 };

	return docker_create_body(&o, "abcd1234",
				  "/usr/lib/af/agentfense-idle");
}

static const char *str_at(json_t *o, const char *k1, const char *k2)
{
	json_t *v = json_object_get(o, k1);

	return json_string_value(k2 ? json_object_get(v, k2) : v);
}

static json_int_t int_at(json_t *host, const char *k)
{
	json_t *v = json_object_get(host, k);

	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void test_create_body_confines(void **state)
{
	json_t *b = body_for(NULL);
	json_t *host = json_object_get(b, "HostConfig");

	assert_non_null(host);
	assert_string_equal(str_at(b, "Image", NULL), "python:3.11-slim");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(b, "Entrypoint"), 0)),
			    DOCKER_IDLE_PATH);
	assert_int_equal(json_array_size(json_object_get(b, "Cmd")), 0);
	assert_string_equal(str_at(host, "NetworkMode", NULL), "none");
	assert_true(json_is_true(json_object_get(b, "NetworkDisabled")));
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(host, "CapDrop"), 0)),
			    "ALL");
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(host, "SecurityOpt"), 0)),
			    "no-new-privileges");
	assert_true(json_is_true(json_object_get(host, "ReadonlyRootfs")));
	assert_string_equal(str_at(host, "Tmpfs", "/tmp"),
			    "rw,nosuid,nodev,size=1048576,mode=1777");
	assert_non_null(str_at(host, "Tmpfs", "/workspace"));
	assert_string_equal(json_string_value(json_array_get(
				    json_object_get(host, "Binds"), 0)),
			    "/usr/lib/af/agentfense-idle:" DOCKER_IDLE_PATH
			    ":ro");
	assert_string_equal(str_at(b, "Labels", DOCKER_LABEL_SANDBOX),
			    "sb_0123456789abcdef");
	assert_string_equal(str_at(b, "Labels", DOCKER_LABEL_CODEBASE),
			    "cb_0123456789abcdef");
	assert_string_equal(str_at(b, "Labels", DOCKER_LABEL_INSTANCE),
			    "abcd1234");
	/* No limit asked for, none set. */
	assert_null(json_object_get(host, "Memory"));
	assert_null(json_object_get(host, "PidsLimit"));
	assert_null(json_object_get(host, "CpuQuota"));
	json_decref(b);
}

static void test_create_body_limits(void **state)
{
	json_t *b = body_for(&limits);
	json_t *host = json_object_get(b, "HostConfig");

	assert_int_equal(int_at(host, "Memory"), 512 << 20);
	/* Memory and swap together, as on the sandbox's cgroup. */
	assert_int_equal(int_at(host, "MemorySwap"), 512 << 20);
	assert_int_equal(int_at(host, "PidsLimit"), 100);
	assert_int_equal(int_at(host, "CpuPeriod"), CG_CPU_PERIOD_US);
	assert_int_equal(int_at(host, "CpuQuota"), 50000);
	assert_int_equal(int_at(host, "CpuShares"), 512);
	json_decref(b);
}

/* -- a fake Engine --------------------------------------------------------- */

struct fake {
	char dir[64], sock[96];
	int lfd;
	pthread_t thread;
	char last_request[512];
};

/* Route -> canned status and body. */
static void reply_for(const char *req, int *status, const char **body)
{
	*status = 404;
	*body = "{\"message\":\"page not found\"}";
	if (strstr(req, "GET /v1.41/_ping ")) {
		*status = 200;
		*body = "OK";
	} else if (strstr(req, "GET /v1.41/images/present:1/json ")) {
		*status = 200;
		*body = "{\"Id\":\"sha256:1\"}";
	} else if (strstr(req, "GET /v1.41/images/")) {
		*body = "{\"message\":\"No such image\"}";
	}
}

static void *serve(void *arg)
{
	struct fake *f = arg;
	int c;

	while ((c = accept(f->lfd, NULL, NULL)) >= 0) {
		char req[4096], out[512];
		ssize_t n = read(c, req, sizeof(req) - 1);
		const char *body;
		int status, len;

		if (n > 0) {
			req[n] = '\0';
			af_strlcpy(f->last_request, req,
				   sizeof(f->last_request));
			reply_for(req, &status, &body);
			len = snprintf(out, sizeof(out),
				       "HTTP/1.1 %d X\r\nContent-Type: "
				       "application/json\r\nContent-Length: "
				       "%zu\r\nConnection: close\r\n\r\n%s",
				       status, strlen(body), body);
			(void)!write(c, out, (size_t)len);
		}
		close(c);
	}
	return NULL;
}

static int fake_setup(void **state)
{
	struct fake *f = calloc(1, sizeof(*f));
	struct sockaddr_un a = { .sun_family = AF_UNIX };

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/af-fake-docker.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->sock, sizeof(f->sock), "%s/docker.sock", f->dir);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", f->sock);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->lfd >= 0);
	assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(f->lfd, 8), 0);
	assert_int_equal(pthread_create(&f->thread, NULL, serve, f), 0);
	*state = f;
	return 0;
}

static int fake_teardown(void **state)
{
	struct fake *f = *state;

	/* Wakes accept() with an error: the thread ends. */
	shutdown(f->lfd, SHUT_RDWR);
	pthread_join(f->thread, NULL);
	close(f->lfd);
	unlink(f->sock);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct docker_ctx *ctx_at(const char *sock)
{
	char host[160];
	struct docker_ctx *d = NULL;

	snprintf(host, sizeof(host), "unix://%s", sock);
	/* Any executable stands in for the launcher. */
	assert_int_equal(docker_ctx_new(host, "/bin/true", "abcd1234", &d), 0);
	return d;
}

static void test_check_present_image(void **state)
{
	struct fake *f = *state;
	struct docker_ctx *d = ctx_at(f->sock);
	char err[256] = "";

	assert_int_equal(docker_check(d, "present:1", err, sizeof(err)), 0);
	assert_non_null(
		strstr(f->last_request, "GET /v1.41/images/present:1/json"));
	docker_ctx_free(d);
}

static void test_check_missing_image(void **state)
{
	struct fake *f = *state;
	struct docker_ctx *d = ctx_at(f->sock);
	char err[256] = "";

	assert_int_equal(docker_check(d, "absent:2", err, sizeof(err)),
			 -ENOENT);
	assert_non_null(strstr(err, "image absent:2 is not present"));
	docker_ctx_free(d);
}

static void test_check_bad_reference(void **state)
{
	struct fake *f = *state;
	struct docker_ctx *d = ctx_at(f->sock);
	char err[256] = "";

	assert_int_equal(docker_check(d, "a b", err, sizeof(err)), -EINVAL);
	assert_int_equal(docker_check(d, "../x", err, sizeof(err)), -EINVAL);
	assert_int_equal(docker_check(d, "", err, sizeof(err)), -EINVAL);
	docker_ctx_free(d);
}

static void test_engine_not_running(void **state)
{
	struct docker_ctx *d = ctx_at("/nonexistent/docker.sock");
	char err[256] = "";

	assert_int_equal(docker_check(d, "present:1", err, sizeof(err)),
			 -EHOSTDOWN);
	assert_non_null(strstr(err, "Docker daemon is not reachable"));
	assert_non_null(strstr(err, "unix:///nonexistent/docker.sock"));
	docker_ctx_free(d);
}

static void test_only_unix_hosts(void **state)
{
	struct docker_api *a = NULL;

	assert_int_equal(docker_api_new("tcp://127.0.0.1:2375", &a), -EINVAL);
	assert_int_equal(docker_api_new("relative.sock", &a), -EINVAL);
	assert_int_equal(docker_api_new("/run/docker.sock", &a), 0);
	assert_string_equal(docker_api_host(a), "/run/docker.sock");
	docker_api_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_body_confines),
		cmocka_unit_test(test_create_body_limits),
		cmocka_unit_test_setup_teardown(test_check_present_image,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_check_missing_image,
						fake_setup, fake_teardown),
		cmocka_unit_test_setup_teardown(test_check_bad_reference,
						fake_setup, fake_teardown),
		cmocka_unit_test(test_engine_not_running),
		cmocka_unit_test(test_only_unix_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
