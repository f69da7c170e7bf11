"""ServerService (health, presets, explain) and the ways to reach the daemon."""

import pytest

import agentfense as af
from agentfense import presets as sdk_presets


def test_health(client):
    h = client.health()
    assert h.version
    assert h.enforcer in {"bpf-lsm", "landlock", "none"}
    assert h.enforcer_reason
    assert h.cgroup_layout in {"unified", "hybrid"}
    assert 0 <= h.sandboxes_running <= h.sandboxes_total
    assert h.uptime_seconds >= 0


def test_health_counts_sandboxes(client, res):
    before = client.health()
    cb = res.codebase({"f": b"x"})
    res.sandbox(cb.id, start=False)
    res.sandbox(cb.id, start=True)
    after = client.health()
    assert after.sandboxes_total == before.sandboxes_total + 2
    assert after.sandboxes_running == before.sandboxes_running + 1


@pytest.mark.parametrize("form", ["unix://{}", "unix:{}"])
def test_unix_socket_endpoints(daemon, form):
    with af.SandboxClient(form.format(daemon.sock)) as c:
        assert c.health().version


def test_environment_endpoint(daemon, monkeypatch):
    monkeypatch.setenv("AGENTFENSE_ENDPOINT", daemon.endpoint)
    with af.SandboxClient() as c:
        assert c.endpoint == daemon.endpoint and c.health().version


def test_sdk_presets_mirror_the_server(client):
    server = {p.name: p for p in client.list_presets()}
    assert list(server)[:5] == list(sdk_presets.BUILTIN_PRESETS)
    for name in sdk_presets.BUILTIN_PRESETS:
        assert server[name].rules == af.get_preset(name), name
        assert server[name].description == sdk_presets.describe_preset(name), name


@pytest.mark.parametrize("preset, path, is_dir, level", [
    ("agent-safe", "/secrets/token.txt", False, af.Permission.NONE),
    ("agent-safe", "/a/b/secrets/c/d.txt", False, af.Permission.NONE),
    ("agent-safe", "/.git/config", False, af.Permission.NONE),
    ("agent-safe", "/app/.env.local", False, af.Permission.NONE),
    ("agent-safe", "/deep/x/server.key", False, af.Permission.NONE),
    ("agent-safe", "/credentials.json", False, af.Permission.NONE),
    ("agent-safe", "/src/main.py", False, af.Permission.READ),
    ("agent-safe", "/output/r.txt", False, af.Permission.WRITE),
    ("agent-safe", "/tmp/x", False, af.Permission.WRITE),
    ("view-only", "/main.py", False, af.Permission.VIEW),
    ("development", "/src/main.py", False, af.Permission.WRITE),
    ("development", "/secrets", True, af.Permission.NONE),
])
def test_explain_presets(client, preset, path, is_dir, level):
    got = client.explain_path(path, preset=preset, is_dir=is_dir)
    assert got.permission is level, got


def test_explain_user_rule_wins_tie_against_preset(client):
    # The same shape as the preset's catch-all, appended later: it wins the tie.
    catch_all = af.get_preset("view-only")[0].pattern
    got = client.explain_path("/main.py", preset="view-only",
                              permissions=[af.PermissionRule(catch_all, af.Permission.READ)])
    assert got.permission is af.Permission.READ
    assert got.rule_index == 1 and got.rule.permission is af.Permission.READ


def test_explain_under_a_sandbox(client, res):
    cb = res.codebase({"f": b"x"})
    sb = res.sandbox(cb.id, preset="agent-safe")
    assert client.explain_path("/.env", sandbox_id=sb.id).permission is af.Permission.NONE
    assert client.explain_path("/f", sandbox_id=sb.id).permission is af.Permission.READ
