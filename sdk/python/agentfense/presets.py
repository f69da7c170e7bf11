"""Permission presets, mirrored from the server (ARCHITECTURE §4).

The server is the source of truth (ServerService.ListPresets); the e2e suite
checks that these built-in copies are equal to it.  Presets are expanded in
the SDK: the preset's rules come first and the caller's rules after them, so
a caller's rule wins a tie against a preset rule of the same shape.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence, Tuple

from .exceptions import InvalidConfigurationError
from .types import Permission, PermissionRule, RuleLike, to_rule

_N, _V, _R, _W = Permission.NONE, Permission.VIEW, Permission.READ, Permission.WRITE

# Secrets hidden at any depth, above the catch-all and the write rules.
_SECRETS = (("**/.env*", _N, 100), ("**/secrets/**", _N, 100),
            ("**/*.key", _N, 100), ("**/*.pem", _N, 100))

# name -> (description, rules as (pattern, level, priority)); all globs.
# Same text, order and priorities as the server (src/policy/presets.c).
_BUILTIN: Dict[str, Tuple[str, Tuple[Tuple[str, Permission, int], ...]]] = {
    "view-only": (
        "see every file and directory, read none",
        (("**/*", _V, 0),),
    ),
    "read-only": (
        "read everything, write nothing",
        (("**/*", _R, 0),),
    ),
    "agent-safe": (
        "read everything except secrets (.env*, secrets/, *.key, *.pem, "
        "credentials*, .git/), write /output and /tmp",
        (("**/*", _R, 0), ("/output/**", _W, 10), ("/tmp/**", _W, 10))
        + _SECRETS + (("**/credentials*", _N, 100), ("**/.git/**", _N, 50)),
    ),
    "development": (
        "write everything except secrets (.env*, secrets/, *.key, *.pem)",
        (("**/*", _W, 0),) + _SECRETS,
    ),
    "full-access": (
        "read and write everything",
        (("**/*", _W, 0),),
    ),
}

BUILTIN_PRESETS: Tuple[str, ...] = tuple(_BUILTIN)
DEFAULT_PRESET = "view-only"

_descriptions: Dict[str, str] = {n: d for n, (d, _) in _BUILTIN.items()}
_registry: Dict[str, List[PermissionRule]] = {
    n: [PermissionRule(p, perm, priority=prio) for p, perm, prio in rules]
    for n, (_, rules) in _BUILTIN.items()
}


def list_presets() -> List[str]:
    """Names of all presets, built-in first, then registered ones."""
    return list(_registry)


def describe_preset(name: str) -> str:
    _check_known(name)
    return _descriptions.get(name, "")


def get_preset(name: str) -> List[PermissionRule]:
    """A fresh copy of the preset's rules (safe to modify)."""
    _check_known(name)
    return [PermissionRule(r.pattern, r.permission, r.type, r.priority)
            for r in _registry[name]]


def get_preset_dicts(name: str) -> List[dict]:
    return [r.to_dict() for r in get_preset(name)]


def register_preset(name: str, rules: Iterable[RuleLike],
                    description: str = "", *, replace: bool = False) -> None:
    """Add a preset usable by name in this process.

    Built-in presets mirror the server and cannot be replaced; a registered
    one can only be replaced with replace=True.
    """
    if not isinstance(name, str) or not name:
        raise InvalidConfigurationError("preset name must be a non-empty string")
    if name in _BUILTIN:
        raise InvalidConfigurationError(f"preset {name!r} is built in")
    if name in _registry and not replace:
        raise InvalidConfigurationError(f"preset {name!r} is already registered")
    normalized = [to_rule(r) for r in rules]
    if not normalized:
        raise InvalidConfigurationError(f"preset {name!r} has no rules")
    _registry[name] = normalized
    _descriptions[name] = description


def extend_preset(base: str, additions: Optional[Sequence[RuleLike]] = None,
                  overrides: Optional[Sequence[RuleLike]] = None) -> List[PermissionRule]:
    """The preset's rules followed by `additions`, then `overrides`.

    Additions win ties by coming later.  Overrides are also raised above
    every preset rule's priority, so they win even against a more specific
    preset rule.
    """
    rules = get_preset(base) + [to_rule(r) for r in additions or ()]
    top = max(r.priority for r in rules)
    for r in overrides or ():
        rule = to_rule(r)
        rules.append(PermissionRule(rule.pattern, rule.permission, rule.type,
                                    max(rule.priority, top + 1)))
    return rules


def expand_permissions(preset: Optional[str],
                       permissions: Optional[Iterable[RuleLike]]) -> List[PermissionRule]:
    """The rule list sent to the server: preset rules first, caller's after.

    An Ellipsis in `permissions` (`permissions=[...]`, as documentation
    writes "your rules here") is a placeholder and adds no rule.
    """
    rules = get_preset(preset) if preset is not None else []
    return rules + [to_rule(r) for r in permissions or () if r is not Ellipsis]


def _check_known(name: str) -> None:
    if name not in _registry:
        raise InvalidConfigurationError(
            f"unknown preset {name!r}; known: {', '.join(_registry)}")


PRESETS = {name: get_preset_dicts(name) for name in BUILTIN_PRESETS}
PRESET_VIEW_ONLY = PRESETS["view-only"]
PRESET_READ_ONLY = PRESETS["read-only"]
PRESET_AGENT_SAFE = PRESETS["agent-safe"]
PRESET_DEVELOPMENT = PRESETS["development"]
PRESET_FULL_ACCESS = PRESETS["full-access"]
