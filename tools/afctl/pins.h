/* SPDX-License-Identifier: Apache-2.0 */
#ifndef AFCTL_PINS_H
#define AFCTL_PINS_H

#include <stdbool.h>

/* instance: "audit-PID-START"; name: without its "map-"/"prog-" prefix. */
typedef int (*pin_fn)(void *ud, const char *instance, const char *name,
		      const char *path);
/* Every pinned entry whose name starts with prefix, in name order. */
int pins_foreach(const char *prefix, pin_fn fn, void *ud);
/* Does the daemon instance that pinned into this directory still run? */
bool pin_instance_alive(const char *instance);

#endif
