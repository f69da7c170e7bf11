// SPDX-License-Identifier: Apache-2.0
/*
 * The built-in presets (ARCHITECTURE §4), defined once here; the API lists
 * them by name and the SDK mirrors them. Shapes and priorities match the
 * public AgentFense presets, so a user rule of the same shape (the
 * everything glob at priority 0) ties with a preset rule and, coming later,
 * wins.
 */
#include <string.h>

#include "agentfense/policy.h"

#define RULE(pat, lvl, prio)                                          \
	{                                                             \
		.pattern = (pat), .type = AF_PAT_GLOB, .perm = (lvl), \
		.priority = (prio)                                    \
	}
#define PRESET(n, d, r)                                        \
	{                                                      \
		.name = (n), .description = (d), .rules = (r), \
		.n_rules = sizeof(r) / sizeof((r)[0])          \
	}

static const struct af_rule view_only[] = {
	RULE("**/*", AF_PERM_VIEW, 0),
};

static const struct af_rule read_only[] = {
	RULE("**/*", AF_PERM_READ, 0),
};

static const struct af_rule agent_safe[] = {
	RULE("**/*", AF_PERM_READ, 0),
	RULE("/output/**", AF_PERM_WRITE, 10),
	RULE("/tmp/**", AF_PERM_WRITE, 10),
	RULE("**/.env*", AF_PERM_NONE, 100),
	RULE("**/secrets/**", AF_PERM_NONE, 100),
	RULE("**/*.key", AF_PERM_NONE, 100),
	RULE("**/*.pem", AF_PERM_NONE, 100),
	RULE("**/credentials*", AF_PERM_NONE, 100),
	RULE("**/.git/**", AF_PERM_NONE, 50),
};

static const struct af_rule development[] = {
	RULE("**/*", AF_PERM_WRITE, 0),
	RULE("**/.env*", AF_PERM_NONE, 100),
	RULE("**/secrets/**", AF_PERM_NONE, 100),
	RULE("**/*.key", AF_PERM_NONE, 100),
	RULE("**/*.pem", AF_PERM_NONE, 100),
};

static const struct af_rule full_access[] = {
	RULE("**/*", AF_PERM_WRITE, 0),
};

static const struct af_preset presets[] = {
	PRESET("view-only", "see every file and directory, read none",
	       view_only),
	PRESET("read-only", "read everything, write nothing", read_only),
	PRESET("agent-safe",
	       "read everything except secrets (.env*, secrets/, *.key, "
	       "*.pem, credentials*, .git/), write /output and /tmp",
	       agent_safe),
	PRESET("development",
	       "write everything except secrets (.env*, secrets/, *.key, "
	       "*.pem)",
	       development),
	PRESET("full-access", "read and write everything", full_access),
};

const struct af_preset *af_presets(size_t *n)
{
	*n = sizeof(presets) / sizeof(presets[0]);
	return presets;
}

const struct af_preset *af_preset_find(const char *name)
{
	for (size_t i = 0; name && i < sizeof(presets) / sizeof(presets[0]);
	     i++)
		if (!strcmp(presets[i].name, name))
			return &presets[i];
	return NULL;
}
