// SPDX-License-Identifier: Apache-2.0
/*
 * afctl prog list: the BPF programs agentfensed pinned (bpf-lsm links,
 * audit programs), with what the kernel says of them: id, type, tag,
 * where they are attached, and run counts when kernel.bpf_stats_enabled.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "main.h"
#include "pins.h"

static int help(struct ctl *c, int argc, char **argv)
{
	return obj_usage(c, "prog list");
}

/* ns since boot (load_time) -> seconds since the epoch. */
static int64_t boot_to_epoch(uint64_t ns)
{
	struct timespec boot, real;

	clock_gettime(CLOCK_BOOTTIME, &boot);
	clock_gettime(CLOCK_REALTIME, &real);
	return (int64_t)real.tv_sec - (int64_t)boot.tv_sec +
	       (int64_t)(ns / 1000000000ull);
}

/* The link that attaches a program, if any, as "type[/attach type]". */
static void attachment(uint32_t prog_id, char *buf, size_t len)
{
	uint32_t id = 0;

	snprintf(buf, len, "-");
	while (bpf_link_get_next_id(id, &id) == 0) {
		struct bpf_link_info li = { 0 };
		uint32_t n = sizeof(li);
		int fd = bpf_link_get_fd_by_id(id);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &li, &n) == 0 &&
		    li.prog_id == prog_id) {
			const char *t = libbpf_bpf_link_type_str(li.type);

			snprintf(buf, len, "%s link %u", t ? t : "?", id);
			close(fd);
			return;
		}
		close(fd);
	}
}

static json_t *prog_json(int fd, const char *instance, const char *path)
{
	struct bpf_prog_info pi = { 0 };
	uint32_t n = sizeof(pi);
	const char *type;
	char tag[BPF_TAG_SIZE * 2 + 1], attach[64];

	if (bpf_obj_get_info_by_fd(fd, &pi, &n) < 0)
		return NULL;
	for (int i = 0; i < BPF_TAG_SIZE; i++)
		snprintf(tag + 2 * i, 3, "%02x", pi.tag[i]);
	type = libbpf_bpf_prog_type_str(pi.type);
	attachment(pi.id, attach, sizeof(attach));
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:i, s:i, "
			 "s:s, s:s, s:b}",
			 "id", pi.id, "name", pi.name, "type",
			 type ? type : "?", "tag", tag, "attached", attach,
			 "loaded_at", (json_int_t)boot_to_epoch(pi.load_time),
			 "run_cnt", (json_int_t)pi.run_cnt, "run_time_ns",
			 (json_int_t)pi.run_time_ns, "xlated_bytes",
			 pi.xlated_prog_len, "jited_bytes", pi.jited_prog_len,
			 "pinned", path, "instance", instance, "instance_alive",
			 pin_instance_alive(instance));
}

struct list {
	json_t *a;
	int errors;
};

/* A pinned link or program: the program's details either way. */
static int on_pin(void *ud, const char *instance, const char *name,
		  const char *path)
{
	struct list *l = ud;
	int fd = bpf_obj_get(path), pfd = fd;
	struct bpf_link_info li = { 0 };
	uint32_t n = sizeof(li);
	json_t *o = NULL;

	if (fd >= 0 && !strncmp(strrchr(path, '/') + 1, "link-", 5)) {
		pfd = -1;
		if (bpf_obj_get_info_by_fd(fd, &li, &n) == 0)
			pfd = bpf_prog_get_fd_by_id(li.prog_id);
	}
	if (pfd >= 0)
		o = prog_json(pfd, instance, path);
	if (o)
		json_array_append_new(l->a, o);
	else
		l->errors++;
	if (pfd >= 0 && pfd != fd)
		close(pfd);
	if (fd >= 0)
		close(fd);
	return 0;
}

static void plain(json_t *a)
{
	size_t i;
	json_t *p;
	char t[32];

	if (!json_array_size(a)) {
		printf("no programs pinned under /sys/fs/bpf/agentfense\n");
		return;
	}
	json_array_foreach(a, i, p)
	{
		printf("%lld: %s  name %s  tag %s\n", jint(p, "id"),
		       jstr(p, "type"), jstr(p, "name"), jstr(p, "tag"));
		printf("\tattached %s  loaded_at %s  xlated %lldB  jited "
		       "%lldB\n",
		       jstr(p, "attached"),
		       fmt_time(jint(p, "loaded_at"), t, sizeof(t)),
		       jint(p, "xlated_bytes"), jint(p, "jited_bytes"));
		if (jint(p, "run_cnt"))
			printf("\trun_cnt %lld  run_time_ns %lld\n",
			       jint(p, "run_cnt"), jint(p, "run_time_ns"));
		printf("\tpinned %s%s\n", jstr(p, "pinned"),
		       jint(p, "instance_alive") ? ""
						 : "  (its daemon is gone)");
	}
}

static int do_list(struct ctl *c, int argc, char **argv)
{
	struct list l = { NULL, 0 };
	int r;

	if (argc > 0)
		return BAD_ARG();
	l.a = json_array();
	if (!l.a)
		return p_err(c, AFCTL_ERR, "out of memory");
	r = pins_foreach("link-", on_pin, &l);
	if (r == 0)
		r = pins_foreach("prog-", on_pin, &l);
	if (r < 0 || l.errors) {
		json_decref(l.a);
		return p_err(c, AFCTL_ERR, "reading the pinned programs: %s%s",
			     strerror(r < 0 ? -r : errno),
			     geteuid() ? " (run as root)" : "");
	}
	return emit(c, l.a, plain);
}

int do_prog(struct ctl *c, int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "list", do_list },
		{ "show", do_list },
		{ NULL, NULL },
	};

	return cmd_select(c, cmds, argc, argv, help);
}
