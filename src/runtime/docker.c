// SPDX-License-Identifier: Apache-2.0
/*
 * The container behind a Docker sandbox. It is created from the requested
 * image with no network, no capabilities, no-new-privileges, a read-only
 * root, a private /tmp, the sandbox's limits, and labels naming the
 * sandbox, its codebase and this daemon instance; its entrypoint is the
 * idle launcher bind-mounted read-only from the host.
 */
#define LOG_MOD "docker"
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agentfense/cleanup.h"
#include "agentfense/log.h"
#include "docker.h"

#define IMAGE_MAX 255
/* The mount point for the sandbox's view; init covers it with the overlay. */
#define WORKSPACE_PLACEHOLDER "ro,nosuid,nodev,noexec,size=4k,mode=755"

struct docker_ctx {
	struct docker_api *api;
	char *idle;    /* host path of agentfense-idle */
	char inst[16]; /* this daemon's instance name */
};

struct docker_box {
	struct docker_ctx *d;
	char id[80]; /* container id */
	int pidfd;   /* its pid 1 */
	bool removed;
};

int docker_ctx_new(const char *host, const char *idle_path,
		   const char *instance, struct docker_ctx **out)
{
	_cleanup_free_ struct docker_ctx *d = calloc(1, sizeof(*d));
	int r;

	if (!d)
		return -ENOMEM;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return log_errno(-ENOMEM, "curl_global_init");
	r = docker_api_new(host, &d->api);
	if (r == 0 && !(d->idle = strdup(idle_path ? idle_path : "")))
		r = -ENOMEM;
	if (r < 0) {
		docker_api_free(d->api);
		curl_global_cleanup();
		return r;
	}
	snprintf(d->inst, sizeof(d->inst), "%s", instance);
	*out = TAKE_PTR(d);
	return 0;
}

void docker_ctx_free(struct docker_ctx *d)
{
	if (!d)
		return;
	docker_api_free(d->api);
	free(d->idle);
	free(d);
	curl_global_cleanup();
}

/* Characters of image references; anything else is refused, not escaped. */
static bool image_valid(const char *s)
{
	size_t n = strlen(s);

	return n && n <= IMAGE_MAX &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			 "0123456789._-/:@") == n &&
	       !strstr(s, "..") && s[0] != '/' && s[0] != '.';
}

int docker_check(struct docker_ctx *d, const char *image, char *err,
		 size_t errlen)
{
	_cleanup_free_ char *path = NULL;
	json_t *reply = NULL;
	int st;

	if (!image_valid(image)) {
		snprintf(err, errlen, "\"%s\" is not a valid image reference",
			 image);
		return -EINVAL;
	}
	if (access(d->idle, X_OK) < 0) {
		snprintf(err, errlen,
			 "the docker runtime is not installed on "
			 "this server (launcher %s: %s)",
			 d->idle, strerror(errno));
		return -ENOTSUP;
	}
	st = docker_call(d->api, "GET", "/_ping", NULL, &reply, err, errlen);
	json_decref(reply);
	if (st < 0)
		return st;
	if (st != 200) {
		snprintf(err, errlen,
			 "the Docker daemon at %s is not ready "
			 "(HTTP %d)",
			 docker_api_host(d->api), st);
		return -EHOSTDOWN;
	}
	if (asprintf(&path, "/images/%s/json", image) < 0)
		return -ENOMEM;
	st = docker_call(d->api, "GET", path, NULL, &reply, err, errlen);
	if (st == 404)
		snprintf(err, errlen,
			 "image %s is not present in the Docker "
			 "daemon at %s; pull or import it first",
			 image, docker_api_host(d->api));
	else if (st >= 0 && st != 200)
		snprintf(err, errlen, "cannot inspect image %s: %s", image,
			 docker_message(reply));
	json_decref(reply);
	if (st < 0)
		return st;
	return st == 200 ? 0 : st == 404 ? -ENOENT : -EIO;
}

/* HostConfig's limits: the same numbers the sandbox's cgroup carries. */
static int add_limits(json_t *host, const struct cg_limits *l)
{
	int r = 0;

	if (!l)
		return 0;
	if (l->memory_bytes) {
		/* Memory and swap together, as on the sandbox cgroup. */
		r |= json_object_set_new(
			host, "Memory",
			json_integer((json_int_t)l->memory_bytes));
		r |= json_object_set_new(
			host, "MemorySwap",
			json_integer((json_int_t)l->memory_bytes));
	}
	if (l->pids_max)
		r |= json_object_set_new(host, "PidsLimit",
					 json_integer((json_int_t)l->pids_max));
	if (l->cpu_quota_us) {
		r |= json_object_set_new(host, "CpuPeriod",
					 json_integer(CG_CPU_PERIOD_US));
		r |= json_object_set_new(
			host, "CpuQuota",
			json_integer((json_int_t)l->cpu_quota_us));
	}
	if (l->cpu_shares)
		r |= json_object_set_new(
			host, "CpuShares",
			json_integer((json_int_t)l->cpu_shares));
	return r ? -ENOMEM : 0;
}

static json_t *host_config(const struct docker_box_opts *o, const char *idle)
{
	char tmp[96], bind[PATH_MAX + 64];
	json_t *host;

	snprintf(tmp, sizeof(tmp), "rw,nosuid,nodev,size=%llu,mode=1777",
		 (unsigned long long)o->tmp_size);
	if ((size_t)snprintf(bind, sizeof(bind), "%s:%s:ro", idle,
			     DOCKER_IDLE_PATH) >= sizeof(bind))
		return NULL;
	host = json_pack("{s:s, s:[s], s:[s], s:b, s:{s:s, s:s}, s:[s], "
			 "s:s, s:{s:s}, s:{s:s}, s:b}",
			 "NetworkMode", "none", "CapDrop", "ALL", "SecurityOpt",
			 "no-new-privileges", "ReadonlyRootfs", 1, "Tmpfs",
			 "/tmp", tmp, "/workspace", WORKSPACE_PLACEHOLDER,
			 "Binds", bind, "IpcMode", "private", "RestartPolicy",
			 "Name", "no", "LogConfig", "Type", "none", "Init", 0);
	if (host && add_limits(host, o->limits) < 0) {
		json_decref(host);
		host = NULL;
	}
	return host;
}

json_t *docker_create_body(const struct docker_box_opts *o,
			   const char *instance, const char *idle_host_path)
{
	json_t *host = host_config(o, idle_host_path);
	json_t *body;

	if (!host)
		return NULL;
	body = json_pack(
		"{s:s, s:[s], s:[], s:s, s:s, s:s, s:b, s:{s:s, "
		"s:s, s:s}, s:O}",
		"Image", o->image, "Entrypoint", DOCKER_IDLE_PATH, "Cmd",
		"Hostname", "sandbox", "User", "0:0", "WorkingDir", "/",
		"NetworkDisabled", 1, "Labels", DOCKER_LABEL_INSTANCE, instance,
		DOCKER_LABEL_SANDBOX, o->sandbox_id, DOCKER_LABEL_CODEBASE,
		o->codebase_id ? o->codebase_id : "", "HostConfig", host);
	json_decref(host);
	return body;
}

static int remove_container(struct docker_ctx *d, const char *ref)
{
	_cleanup_free_ char *path = NULL;
	json_t *reply = NULL;
	char err[256];
	int st;

	if (asprintf(&path, "/containers/%s?force=1&v=1", ref) < 0)
		return -ENOMEM;
	st = docker_call(d->api, "DELETE", path, NULL, &reply, err,
			 sizeof(err));
	if (st < 0)
		log_err("remove container %s: %s", ref, err);
	else if (st != 204 && st != 404)
		log_err("remove container %s: %s", ref, docker_message(reply));
	json_decref(reply);
	return st < 0 ? st : st == 204 || st == 404 ? 0 : -EIO;
}

static int create(struct docker_ctx *d, const struct docker_box_opts *o,
		  struct docker_box *b, char *err, size_t errlen)
{
	char name[128], path[192];
	json_t *body = docker_create_body(o, d->inst, d->idle), *reply = NULL;
	const char *id;
	int st;

	if (!body)
		return -ENOMEM;
	snprintf(name, sizeof(name), "agentfense-%s-%s", d->inst,
		 o->sandbox_id);
	snprintf(path, sizeof(path), "/containers/create?name=%s", name);
	st = docker_call(d->api, "POST", path, body, &reply, err, errlen);
	if (st == 409) {
		/* A leftover of a crash under our name: it is ours to remove.
		 */
		json_decref(reply);
		remove_container(d, name);
		st = docker_call(d->api, "POST", path, body, &reply, err,
				 errlen);
	}
	json_decref(body);
	id = json_string_value(json_object_get(reply, "Id"));
	if (st == 201 && id)
		snprintf(b->id, sizeof(b->id), "%s", id);
	else if (st == 404)
		snprintf(err, errlen,
			 "image %s is not present in the Docker "
			 "daemon; pull or import it first",
			 o->image);
	else if (st >= 0)
		snprintf(err, errlen, "docker cannot create the container: %s",
			 docker_message(reply));
	json_decref(reply);
	if (st < 0)
		return st;
	return st == 201 && b->id[0] ? 0 : st == 404 ? -ENOENT : -EIO;
}

/* The host pid of the container's pid 1 (0 when not running). */
static int inspect_pid(struct docker_box *b, char *err, size_t errlen)
{
	char path[128];
	json_t *reply = NULL, *state;
	json_int_t pid = 0;
	int st;

	snprintf(path, sizeof(path), "/containers/%s/json", b->id);
	st = docker_call(b->d->api, "GET", path, NULL, &reply, err, errlen);
	state = json_object_get(reply, "State");
	if (st == 200 && json_is_true(json_object_get(state, "Running")))
		pid = json_integer_value(json_object_get(state, "Pid"));
	else if (st >= 0)
		snprintf(err, errlen, "the container is not running: %s",
			 st == 200 ? json_string_value(
					     json_object_get(state, "Error"))
					     ?: "it exited"
				   : docker_message(reply));
	json_decref(reply);
	if (st < 0)
		return st;
	return pid > 0 && pid <= INT_MAX ? (int)pid : -ESRCH;
}

static int start_and_pin(struct docker_box *b, char *err, size_t errlen)
{
	char path[128];
	json_t *reply = NULL;
	int st, pid;

	snprintf(path, sizeof(path), "/containers/%s/start", b->id);
	st = docker_call(b->d->api, "POST", path, NULL, &reply, err, errlen);
	if (st >= 0 && st != 204 && st != 304)
		snprintf(err, errlen, "docker cannot start the container: %s",
			 docker_message(reply));
	json_decref(reply);
	if (st < 0)
		return st;
	if (st != 204 && st != 304)
		return -EIO;
	pid = inspect_pid(b, err, errlen);
	if (pid < 0)
		return pid;
	b->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (b->pidfd < 0) {
		int e = errno;

		snprintf(err, errlen, "the container's process %d: %s", pid,
			 strerror(e));
		return -e;
	}
	/* Still the same container once pinned (no pid reuse in between). */
	if (inspect_pid(b, err, errlen) != pid) {
		snprintf(err, errlen, "the container exited while starting");
		return -ESRCH;
	}
	return 0;
}

int docker_box_start(struct docker_ctx *d, const struct docker_box_opts *o,
		     struct docker_box **out, char *err, size_t errlen)
{
	struct docker_box *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	b->d = d;
	b->pidfd = -1;
	if (!image_valid(o->image)) {
		snprintf(err, errlen, "\"%s\" is not a valid image reference",
			 o->image);
		free(b);
		return -EINVAL;
	}
	r = create(d, o, b, err, errlen);
	if (r == 0)
		r = start_and_pin(b, err, errlen);
	if (r < 0) {
		log_err("sandbox %s: %s", o->sandbox_id, err);
		docker_box_remove(b);
		docker_box_free(b);
		return r;
	}
	log_debug("sandbox %s: container %.12s started", o->sandbox_id, b->id);
	*out = b;
	return 0;
}

int docker_box_pidfd(const struct docker_box *b)
{
	return b->pidfd;
}

int docker_box_remove(struct docker_box *b)
{
	int r;

	if (!b || b->removed || !b->id[0])
		return 0;
	r = remove_container(b->d, b->id);
	if (r == 0)
		b->removed = true;
	return r;
}

void docker_box_free(struct docker_box *b)
{
	if (!b)
		return;
	if (b->pidfd >= 0)
		close(b->pidfd);
	free(b);
}

/* No sandbox survives a daemon restart: every container of ours goes. */
int docker_reconcile(struct docker_ctx *d)
{
	char path[256], err[256];
	json_t *reply = NULL, *c;
	size_t i;
	int st, r = 0;

	/* filters={"label":["agentfense.instance=<inst>"]}, URL-encoded. */
	snprintf(path, sizeof(path),
		 "/containers/"
		 "json?all=1&filters=%%7B%%22label%%22%%3A%%5B%%"
		 "22" DOCKER_LABEL_INSTANCE "%%3D%s%%22%%5D%%7D",
		 d->inst);
	st = docker_call(d->api, "GET", path, NULL, &reply, err, sizeof(err));
	if (st != 200 || !json_is_array(reply)) {
		/* Not an error: the docker runtime is optional. */
		log_info("no containers reconciled: %s",
			 st < 0 ? err : docker_message(reply));
		json_decref(reply);
		return 0;
	}
	json_array_foreach(reply, i, c)
	{
		const char *id = json_string_value(json_object_get(c, "Id"));

		if (!id)
			continue;
		if (remove_container(d, id) < 0)
			r = -EIO;
		else
			log_info("removed orphaned container %.12s", id);
	}
	json_decref(reply);
	return r;
}
