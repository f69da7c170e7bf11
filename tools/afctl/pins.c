// SPDX-License-Identifier: Apache-2.0
/*
 * The BPF objects agentfensed pins: AF_LSM_PIN_ROOT/<instance>/ with
 * link-NAME (bpf-lsm: the link keeps its program attached), prog-NAME
 * (audit: the program; the tracepoint detaches with the daemon) and
 * map-NAME entries, one directory per daemon instance ("bpf-lsm-PID-START",
 * "audit-PID-START").
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lsm.h"
#include "pins.h"

static int cmp_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int visible_filter(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

/* Field 22 of /proc/PID/stat, the start time, as a string. */
static bool same_start(long pid, const char *start)
{
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 22; field++)
		p = strchr(p + 1, ' ');
	return p && !strncmp(p + 1, start, strlen(start)) &&
	       p[1 + strlen(start)] == ' ';
}

bool pin_instance_alive(const char *instance)
{
	const char *dash = strrchr(instance, '-');
	char *end;
	long pid;

	/* "bpf-lsm-PID-START" and "audit-PID-START": the last two fields. */
	if (!dash)
		return false;
	for (const char *p = dash - 1; p > instance; p--)
		if (*p == '-') {
			pid = strtol(p + 1, &end, 10);
			return end == dash && same_start(pid, dash + 1);
		}
	return false;
}

int pins_foreach(const char *prefix, pin_fn fn, void *ud)
{
	struct dirent **inst = NULL;
	int n = scandir(AF_LSM_PIN_ROOT, &inst, visible_filter, cmp_name);
	int r = 0;

	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		char dir[512], path[1024];
		struct dirent **ents = NULL;
		int m;

		snprintf(dir, sizeof(dir), "%s/%s", AF_LSM_PIN_ROOT,
			 inst[i]->d_name);
		m = scandir(dir, &ents, visible_filter, cmp_name);
		for (int j = 0; j < m; j++) {
			const char *name = ents[j]->d_name;

			if (r == 0 && !strncmp(name, prefix, strlen(prefix))) {
				snprintf(path, sizeof(path), "%s/%s", dir,
					 name);
				r = fn(ud, inst[i]->d_name,
				       name + strlen(prefix), path);
			}
			free(ents[j]);
		}
		free(ents);
		free(inst[i]);
	}
	free(inst);
	return r;
}
