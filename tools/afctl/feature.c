// SPDX-License-Identifier: Apache-2.0
/*
 * afctl feature probe: what this host offers the daemon, and why not where
 * it does not. Local probes read the kernel's own answers (the active LSM
 * list, the Landlock ABI, /proc/filesystems, the cgroup mounts); the
 * daemon's verdict (its trial load and attach of the LSM programs, its
 * audit source) is added when it can be reached.
 */
#include <errno.h>
#include <linux/landlock.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "main.h"

static int help(struct ctl *c, int argc, char **argv)
{
	return obj_usage(c, "feature probe");
}

static json_t *feature(const char *name, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static json_t *feature(const char *name, bool ok, const char *fmt, ...)
{
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	return json_pack("{s:s, s:b, s:s}", "name", name, "available", ok,
			 "detail", detail);
}

/* Does a line of the file hold s? *line: the last line read (free it). */
static bool file_has(const char *path, const char *s, char **line)
{
	FILE *f = fopen(path, "re");
	size_t cap = 0;
	bool found = false;

	*line = NULL;
	if (!f)
		return false;
	while (!found && getline(line, &cap, f) > 0)
		found = strstr(*line, s) != NULL;
	fclose(f);
	return found;
}

static json_t *probe_bpf_lsm(void)
{
	char *lsms = NULL;
	bool active;
	json_t *j;

	if (access("/sys/kernel/security/lsm", R_OK) < 0)
		return feature("bpf-lsm", false,
			       "cannot tell: securityfs is not mounted at "
			       "/sys/kernel/security");
	active = file_has("/sys/kernel/security/lsm", "bpf", &lsms);
	if (lsms)
		lsms[strcspn(lsms, "\n")] = '\0';
	j = active ? feature("bpf-lsm", true, "the BPF LSM is active (%s)",
			     lsms)
		   : feature("bpf-lsm", false,
			     "the BPF LSM is not active (LSMs: %s): boot with "
			     "lsm=...,bpf",
			     lsms ? lsms : "?");
	free(lsms);
	return j;
}

static json_t *probe_btf(void)
{
	if (access("/sys/kernel/btf/vmlinux", R_OK) == 0)
		return feature("btf", true, "/sys/kernel/btf/vmlinux");
	return feature("btf", false,
		       "the kernel exposes no BTF: no BPF "
		       "enforcer or audit source");
}

static json_t *probe_landlock(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0,
			   LANDLOCK_CREATE_RULESET_VERSION);

	if (abi < 0)
		return feature("landlock", false, "%s",
			       errno == EOPNOTSUPP ? "Landlock is disabled "
						     "(boot with lsm=...,"
						     "landlock)"
			       : errno == ENOSYS ? "the kernel has no Landlock"
						 : strerror(errno));
	if (abi < 3)
		return feature(
			"landlock", false,
			"ABI %ld cannot control truncation (ABI 3, Linux "
			"6.2, is needed)",
			abi);
	return feature("landlock", true, "ABI %ld", abi);
}

static json_t *probe_overlay(void)
{
	char *line = NULL;
	bool ok = file_has("/proc/filesystems", "overlay", &line);

	free(line);
	return ok ? feature("overlay", true, "overlayfs is registered")
		  : feature("overlay", false,
			    "overlayfs is not registered (modprobe overlay)");
}

static json_t *probe_cgroups(void)
{
	char *v2 = NULL, *v1 = NULL;
	bool has_v2 = file_has("/proc/self/mountinfo", " - cgroup2 ", &v2);
	bool has_v1 = file_has("/proc/self/mountinfo", " - cgroup ", &v1);
	json_t *j;

	if (has_v2 && !has_v1)
		j = feature("cgroup", true, "unified (cgroup v2 only)");
	else if (has_v2)
		j = feature(
			"cgroup", true,
			"hybrid: cgroup v2 for identity, v1 controllers for "
			"limits");
	else
		j = feature("cgroup", false,
			    "no cgroup v2 hierarchy: sandboxes have no "
			    "identity for the BPF programs");
	free(v2);
	free(v1);
	return j;
}

static json_t *probe_bpffs(void)
{
	char *line = NULL;
	bool ok = file_has("/proc/self/mountinfo", " - bpf ", &line);

	free(line);
	return feature("bpffs", true, "%s",
		       ok ? "mounted"
			  : "not mounted (the daemon mounts one at "
			    "/sys/fs/bpf when it pins)");
}

static void plain(json_t *o)
{
	json_t *f, *d = json_object_get(o, "daemon");
	size_t i;

	printf("kernel %s\n", jstr(o, "kernel"));
	json_array_foreach(json_object_get(o, "host"), i, f)
		printf("  %-9s %-3s %s\n", jstr(f, "name"),
		       jint(f, "available") ? "yes" : "no", jstr(f, "detail"));
	if (!json_is_object(d)) {
		printf("daemon: %s\n", jstr(o, "daemon_error"));
		return;
	}
	printf("daemon (agentfensed %s)\n", jstr(d, "version"));
	printf("  enforcer  %s: %s\n", jstr(d, "enforcer"),
	       jstr(d, "enforcer_reason"));
	printf("  probes    %s", jstr(d, "probe_report"));
	printf("  audit     %s: %s\n", jstr(d, "audit_source"),
	       jstr(d, "audit_reason"));
	printf("  cgroup    %s\n", jstr(d, "cgroup_layout"));
}

static int do_probe(struct ctl *c, int argc, char **argv)
{
	struct utsname u;
	json_t *o, *host, *d;
	int ret = AFCTL_OK;

	if (argc > 0)
		return BAD_ARG();
	uname(&u);
	host = json_pack("[o, o, o, o, o, o]", probe_bpf_lsm(), probe_btf(),
			 probe_landlock(), probe_overlay(), probe_cgroups(),
			 probe_bpffs());
	o = json_pack("{s:s, s:o}", "kernel", u.release, "host", host);
	/* The daemon's view is extra: its absence is said, not an error. */
	c->quiet = true;
	d = health_json(c, &ret);
	c->quiet = false;
	if (d)
		json_object_set_new(o, "daemon", d);
	else
		json_object_set_new(o, "daemon_error",
				    json_string("not reachable: only host "
						"probes shown"));
	return emit(c, o, plain);
}

int do_feature(struct ctl *c, int argc, char **argv)
{
	static const struct cmd cmds[] = {
		{ "probe", do_probe },
		{ NULL, NULL },
	};

	return cmd_select(c, cmds, argc, argv, help);
}
