import pytest

from agentfense import (InvalidConfigurationError, PatternType, Permission,
                        PermissionRule, extend_preset, get_preset,
                        get_preset_dicts, list_presets, register_preset)
from agentfense import presets as P

BUILTIN = ["view-only", "read-only", "agent-safe", "development", "full-access"]


def levels(name):
    return {r.pattern: r.permission for r in get_preset(name)}


def test_builtin_presets_in_stable_order():
    assert list_presets()[:5] == BUILTIN
    assert P.DEFAULT_PRESET == "view-only"


@pytest.mark.parametrize("name, level", [("view-only", Permission.VIEW),
                                         ("read-only", Permission.READ),
                                         ("full-access", Permission.WRITE)])
def test_single_rule_presets(name, level):
    rules = get_preset(name)
    assert [r.permission for r in rules] == [level]


def test_agent_safe_matches_architecture_table():
    rules = [(r.pattern, r.permission, r.priority) for r in get_preset("agent-safe")]
    N, W = Permission.NONE, Permission.WRITE
    assert rules == [
        ("**/*", Permission.READ, 0),          # everything → read
        ("/output/**", W, 10), ("/tmp/**", W, 10),
        ("**/.env*", N, 100), ("**/secrets/**", N, 100), ("**/*.key", N, 100),
        ("**/*.pem", N, 100), ("**/credentials*", N, 100),
        ("**/.git/**", N, 50),
    ]


def test_development_hides_secrets_and_writes_the_rest():
    rules = [(r.pattern, r.permission, r.priority) for r in get_preset("development")]
    N = Permission.NONE
    assert rules == [("**/*", Permission.WRITE, 0), ("**/.env*", N, 100),
                     ("**/secrets/**", N, 100), ("**/*.key", N, 100), ("**/*.pem", N, 100)]


def test_presets_are_globs_with_descriptions():
    for name in BUILTIN:
        assert P.describe_preset(name)
        assert {r.type for r in get_preset(name)} == {PatternType.GLOB}


def test_get_preset_returns_independent_copies():
    rules = get_preset("read-only")
    rules[0].permission = Permission.WRITE
    rules.append(PermissionRule("/x"))
    assert get_preset("read-only") == [PermissionRule(rules[0].pattern, Permission.READ)]
    assert get_preset_dicts("read-only") == [r.to_dict() for r in get_preset("read-only")]


def test_unknown_preset_is_a_configuration_error():
    with pytest.raises(InvalidConfigurationError, match="unknown preset 'nope'"):
        get_preset("nope")
    with pytest.raises(ValueError):   # InvalidConfigurationError is a ValueError
        P.expand_permissions("nope", None)


def test_expand_puts_preset_rules_first():
    user = [{"pattern": "/out/**", "permission": "write"}, PermissionRule("/a", "none")]
    rules = P.expand_permissions("view-only", user)
    assert rules == get_preset("view-only") + [
        PermissionRule("/out/**", Permission.WRITE), PermissionRule("/a", Permission.NONE)]
    assert P.expand_permissions(None, user)[0].pattern == "/out/**"
    assert P.expand_permissions(None, None) == []


def test_extend_preset_additions_and_overrides():
    base = get_preset("agent-safe")
    rules = extend_preset("agent-safe",
                          additions=[{"pattern": "/data/**", "permission": "write"}],
                          overrides=[{"pattern": ".env*", "permission": "read"}])
    assert rules[:len(base)] == base
    assert rules[len(base)] == PermissionRule("/data/**", Permission.WRITE)
    over = rules[-1]
    assert over.pattern == ".env*" and over.permission is Permission.READ
    assert over.priority == 101 > max(r.priority for r in rules[:-1])


def test_register_preset_round_trip_and_protection():
    name = "test-data-science"
    register_preset(name, [{"pattern": "**/*.csv", "permission": "read"}], "csv only")
    try:
        assert name in list_presets()
        assert get_preset(name) == [PermissionRule("**/*.csv", Permission.READ)]
        assert P.describe_preset(name) == "csv only"
        with pytest.raises(InvalidConfigurationError):
            register_preset(name, [PermissionRule("/a")])
        register_preset(name, [PermissionRule("/b")], replace=True)
        assert get_preset(name) == [PermissionRule("/b")]
    finally:
        P._registry.pop(name, None)
        P._descriptions.pop(name, None)
    with pytest.raises(InvalidConfigurationError, match="built in"):
        register_preset("read-only", [PermissionRule("/a", "write")], replace=True)
    with pytest.raises(InvalidConfigurationError):
        register_preset("empty", [])
