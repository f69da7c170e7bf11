// SPDX-License-Identifier: Apache-2.0
/*
 * afctl map list | dump MAP: the BPF maps agentfensed pinned. MAP is a
 * pinned path or a map's name (af_sandboxes, audit_sandboxes, ...). The
 * per-sandbox maps are decoded (cgroup id, workspace device, audit mode,
 * lost events); every entry also comes as hex bytes, as bpftool prints it.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_event.h"
#include "audit_trace.h"
#include "lsm.h"
#include "main.h"
#include "pins.h"

#define DUMP_MAX_VALUE 4096 /* bigger values are shown by size only */

static int help(struct ctl *c, int argc, char **argv)
{
	return obj_usage(c, "map { list | dump MAP }");
}

static const char *map_type(uint32_t t)
{
	const char *s = libbpf_bpf_map_type_str(t);

	return s ? s : "?";
}

/* Entries of a hash map (-1 for the kinds that have no count). */
static long count_entries(int fd, const struct bpf_map_info *mi)
{
	void *key = calloc(1, mi->key_size ? mi->key_size : 1);
	void *next = calloc(1, mi->key_size ? mi->key_size : 1);
	long n = 0;
	void *prev = NULL;

	if (mi->type != BPF_MAP_TYPE_HASH &&
	    mi->type != BPF_MAP_TYPE_HASH_OF_MAPS)
		n = -1;
	while (n >= 0 && key && next &&
	       bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, mi->key_size);
		prev = key;
		n++;
	}
	free(key);
	free(next);
	return n;
}

static int on_map(void *ud, const char *instance, const char *name,
		  const char *path)
{
	json_t *a = ud;
	struct bpf_map_info mi = { 0 };
	uint32_t n = sizeof(mi);
	int fd = bpf_obj_get(path);

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &mi, &n) < 0) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	json_array_append_new(
		a, json_pack("{s:i, s:s, s:s, s:i, s:i, s:i, s:I, s:i, s:s, "
			     "s:s, s:b}",
			     "id", mi.id, "name", mi.name, "type",
			     map_type(mi.type), "key_bytes", mi.key_size,
			     "value_bytes", mi.value_size, "max_entries",
			     mi.max_entries, "entries",
			     (json_int_t)count_entries(fd, &mi), "flags",
			     mi.map_flags, "pinned", path, "instance", instance,
			     "instance_alive", pin_instance_alive(instance)));
	close(fd);
	return 0;
}

static void plain_list(json_t *a)
{
	size_t i;
	json_t *m;

	if (!json_array_size(a)) {
		printf("no maps pinned under /sys/fs/bpf/agentfense\n");
		return;
	}
	json_array_foreach(a, i, m)
	{
		printf("%lld: %s  name %s  flags 0x%llx\n", jint(m, "id"),
		       jstr(m, "type"), jstr(m, "name"), jint(m, "flags"));
		printf("\tkey %lldB  value %lldB  max_entries %lld",
		       jint(m, "key_bytes"), jint(m, "value_bytes"),
		       jint(m, "max_entries"));
		if (jint(m, "entries") >= 0)
			printf("  entries %lld", jint(m, "entries"));
		printf("\n\tpinned %s%s\n", jstr(m, "pinned"),
		       jint(m, "instance_alive") ? ""
						 : "  (its daemon is gone)");
	}
}

static int do_list(struct ctl *c, int argc, char **argv)
{
	json_t *a;
	int r;

	if (argc > 0)
		return BAD_ARG();
	a = json_array();
	if (!a)
		return p_err(c, AFCTL_ERR, "out of memory");
	r = pins_foreach("map-", on_map, a);
	if (r < 0) {
		json_decref(a);
		return p_err(c, AFCTL_ERR, "reading the pinned maps: %s%s",
			     strerror(-r), geteuid() ? " (run as root)" : "");
	}
	return emit(c, a, plain_list);
}

struct find {
	const char *name;
	char path[1024];
	int matches;
};

static int on_find(void *ud, const char *instance, const char *name,
		   const char *path)
{
	struct find *f = ud;

	if (strcmp(name, f->name))
		return 0;
	snprintf(f->path, sizeof(f->path), "%s", path);
	f->matches++;
	return 0;
}

static json_t *hex_json(const void *p, size_t n)
{
	const unsigned char *b = p;
	json_t *a = json_array();
	char s[8];

	for (size_t i = 0; a && i < n; i++) {
		snprintf(s, sizeof(s), "0x%02x", b[i]);
		json_array_append_new(a, json_string(s));
	}
	return a;
}

static const char *mode_name(uint32_t m)
{
	return m == AF_AUDIT_MODE_ALL	   ? "all"
	       : m == AF_AUDIT_MODE_WRITES ? "writes"
					   : "denied";
}

/* The per-sandbox maps, decoded; NULL for the others. */
static json_t *formatted(const char *name, const struct bpf_map_info *mi,
			 const void *key, const void *value)
{
	uint64_t cgid;
	char dev[32];

	if (mi->key_size != sizeof(cgid))
		return NULL;
	memcpy(&cgid, key, sizeof(cgid));
	if (!strcmp(name, "af_sandboxes") &&
	    mi->value_size == sizeof(struct af_lsm_sandbox)) {
		const struct af_lsm_sandbox *v = value;

		snprintf(dev, sizeof(dev), "%llu:%llu",
			 (unsigned long long)(v->ws_dev >> 20),
			 (unsigned long long)(v->ws_dev & 0xfffff));
		return json_pack("{s:I, s:s, s:s, s:I}", "cgroup_id",
				 (json_int_t)cgid, "workspace_dev", dev,
				 "audit_mode", mode_name(v->audit_mode),
				 "audit_dropped", (json_int_t)v->audit_dropped);
	}
	if (!strcmp(name, "audit_sandboxes") &&
	    mi->value_size == sizeof(struct af_audit_sandbox)) {
		const struct af_audit_sandbox *v = value;

		snprintf(dev, sizeof(dev), "%llu:%llu",
			 (unsigned long long)(v->ws_dev >> 20),
			 (unsigned long long)(v->ws_dev & 0xfffff));
		return json_pack("{s:I, s:s, s:s, s:I}", "cgroup_id",
				 (json_int_t)cgid, "workspace_dev", dev,
				 "audit_mode", mode_name(v->mode), "dropped",
				 (json_int_t)v->dropped);
	}
	if (!strcmp(name, "af_policies") && mi->value_size == 4)
		return json_pack("{s:I, s:i}", "cgroup_id", (json_int_t)cgid,
				 "rules_map_id", *(const uint32_t *)value);
	return NULL;
}

static json_t *entry_json(const char *name, const struct bpf_map_info *mi,
			  const void *key, const void *value)
{
	json_t *o = json_pack("{s:o}", "key", hex_json(key, mi->key_size));
	json_t *f = formatted(name, mi, key, value);

	if (mi->value_size <= DUMP_MAX_VALUE)
		json_object_set_new(o, "value",
				    hex_json(value, mi->value_size));
	else
		json_object_set_new(o, "value_bytes",
				    json_integer(mi->value_size));
	if (f)
		json_object_set_new(o, "formatted", f);
	return o;
}

static int dump_entries(int fd, const struct bpf_map_info *mi, json_t *a)
{
	char *key = calloc(1, mi->key_size), *next = calloc(1, mi->key_size);
	char *value = calloc(1, mi->value_size);
	void *prev = NULL;
	int r = key && next && value ? 0 : -ENOMEM;

	while (r == 0 && bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, mi->key_size);
		prev = key;
		if (bpf_map_lookup_elem(fd, key, value) < 0) {
			if (errno == ENOENT)
				continue; /* gone between the two calls */
			r = -errno;
			break;
		}
		json_array_append_new(a, entry_json(mi->name, mi, key, value));
	}
	free(key);
	free(next);
	free(value);
	return r;
}

static void plain_dump(json_t *a)
{
	size_t i, j;
	json_t *e, *b;

	json_array_foreach(a, i, e)
	{
		json_t *f = json_object_get(e, "formatted");

		if (json_is_object(f)) {
			const char *k;
			json_t *v;

			json_object_foreach(f, k, v)
			{
				if (json_is_string(v))
					printf("%s %s  ", k,
					       json_string_value(v));
				else
					printf("%s %lld  ", k,
					       (long long)json_integer_value(
						       v));
			}
			printf("\n");
			continue;
		}
		printf("key:");
		json_array_foreach(json_object_get(e, "key"), j, b)
			printf(" %s", json_string_value(b) + 2);
		printf("  value:");
		json_array_foreach(json_object_get(e, "value"), j, b)
			printf(" %s", json_string_value(b) + 2);
		if (json_object_get(e, "value_bytes"))
			printf(" (%lld bytes)", jint(e, "value_bytes"));
		printf("\n");
	}
	printf("Found %zu element%s\n", json_array_size(a),
	       json_array_size(a) == 1 ? "" : "s");
}

/* MAP: a path, or the name of exactly one pinned map. */
static int resolve(struct ctl *c, const char *arg, char *path, size_t len)
{
	struct find f = { .name = arg };

	if (arg[0] == '/') {
		snprintf(path, len, "%s", arg);
		return AFCTL_OK;
	}
	if (!strncmp(arg, "map-", 4))
		f.name += 4;
	pins_foreach("map-", on_find, &f);
	if (f.matches == 1) {
		snprintf(path, len, "%s", f.path);
		return AFCTL_OK;
	}
	if (f.matches > 1)
		return p_err(c, AFCTL_ERR,
			     "%d daemon instances pinned a map %s: name one by "
			     "its path (afctl map list)",
			     f.matches, f.name);
	return p_err(c, AFCTL_ERR, "no pinned map named %s (afctl map list)",
		     f.name);
}

static int do_dump(struct ctl *c, int argc, char **argv)
{
	struct bpf_map_info mi = { 0 };
	uint32_t n = sizeof(mi);
	char path[1024];
	json_t *a;
	int fd, r;

	ONLY_ARGS(1);
	r = resolve(c, argv[0], path, sizeof(path));
	if (r != AFCTL_OK)
		return r;
	fd = bpf_obj_get(path);
	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &mi, &n) < 0) {
		r = p_err(c, AFCTL_ERR, "%s: not a pinned map: %s", path,
			  strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	if (mi.type == BPF_MAP_TYPE_RINGBUF) {
		close(fd);
		return p_err(c, AFCTL_ERR,
			     "%s is a ring buffer: the daemon consumes its "
			     "records (see afctl audit)",
			     mi.name);
	}
	a = json_array();
	r = dump_entries(fd, &mi, a);
	close(fd);
	if (r < 0) {
		json_decref(a);
		return p_err(c, AFCTL_ERR, "dumping %s: %s", mi.name,
			     strerror(-r));
	}
	return emit(c, a, plain_dump);
}

int do_map(struct ctl *c, int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "list", do_list },
		{ "show", do_list },
		{ "dump", do_dump },
		{ NULL, NULL },
	};

	return cmd_select(c, cmds, argc, argv, help);
}
