/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What the tests of bpf/lsm_test.bpf.c (test_lsm_{audit,hooks,path}.c)
 * share: the fixture's overlay workspace and a sandbox cgroup we sit in,
 * the lsm_test skeleton loaded for sandboxes at cgroup level 2 as the
 * daemon makes them, its audit ring buffer (events counted, the last one
 * kept), the enforce module's maps, and the fixture's rules compiled.
 */
#ifndef AF_TESTS_LSM_ENV_H
#define AF_TESTS_LSM_ENV_H

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "../../src/enforce/bpf_lsm_internal.h"
#include "audit_event.h"
#include "lsm_fixture.h"
#include "lsm_test.h"
#include "lsm_test.skel.h"

struct fx_env {
	struct lsm_test *skel;
	struct lsm_maps maps;
	struct ring_buffer *rb;
	struct fx_ws ws;
	struct fx_cg cg;
	struct af_matcher *m;
	struct af_audit_event last; /* the last audit event seen */
	int events;
};

static struct fx_env E;

static int fx_on_event(void *ctx, void *data, size_t len)
{
	if (len >= sizeof(E.last)) {
		memcpy(&E.last, data, sizeof(E.last));
		E.events++;
	}
	return 0;
}

/* Everything but the sandbox's map entries; cg_name names our cgroup. */
static int fx_env_setup(const char *cg_name)
{
	int r;

	if ((r = fx_ws_setup(&E.ws)) < 0)
		return printf("FAIL overlay workspace: %s\n", strerror(-r)), r;
	if ((r = fx_cg_setup(&E.cg, cg_name)) < 0 ||
	    (r = fx_cg_join(E.cg.exec)) < 0)
		return printf("FAIL sandbox cgroup: %s\n", strerror(-r)), r;
	E.skel = lsm_test__open();
	if (!E.skel)
		return printf("FAIL open lsm_test: %s\n", strerror(errno)), -1;
	E.skel->rodata->sandbox_cg_level = 2;
	if ((r = lsm_test__load(E.skel)) < 0)
		return printf("FAIL load lsm_test: %s\n", strerror(-r)), r;
	E.maps.sandboxes = bpf_map__fd(E.skel->maps.af_sandboxes);
	E.maps.policies = bpf_map__fd(E.skel->maps.af_policies);
	E.rb = ring_buffer__new(bpf_map__fd(E.skel->maps.audit_events),
				fx_on_event, NULL, NULL);
	E.m = fx_matcher();
	return E.rb && E.m ? 0 : -1;
}

/* Our cgroup as a sandbox: the fixture's rules and its workspace. */
static int __attribute__((unused)) fx_env_install(void)
{
	char err[256];
	int r;

	if ((r = lsm_maps_install(&E.maps, E.cg.id, E.m, err, sizeof(err))) < 0)
		return printf("FAIL install: %s\n", err), r;
	if ((r = lsm_maps_set_workspace(&E.maps, E.cg.id, E.ws.dev)) < 0)
		return printf("FAIL set workspace: %s\n", strerror(-r)), r;
	return 0;
}

static void fx_env_teardown(void)
{
	ring_buffer__free(E.rb);
	lsm_test__destroy(E.skel);
	af_matcher_free(E.m);
	fx_cg_teardown(&E.cg);
	fx_ws_teardown(&E.ws);
}

#endif
