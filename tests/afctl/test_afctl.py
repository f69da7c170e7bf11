"""afctl against a real daemon: every command, plain and JSON (parsed), and
the error paths with their messages and exit statuses (docs/afctl.md):
0 ok, 1 the operation failed, 2 usage, 3 the daemon cannot be reached."""

import json
import subprocess
import time

import pytest

import afe2e
import agentfense as af
from conftest import afctl_binary

OK, ERR, USAGE, UNREACHABLE = 0, 1, 2, 3


def wait_events(afctl, sandbox_id, n, timeout=10.0):
    deadline = time.monotonic() + timeout
    while True:
        r = afctl("-j", "audit", "tail", "--sandbox", sandbox_id, "-n", "100")
        if len(r.json) >= n or time.monotonic() > deadline:
            return r.json
        time.sleep(0.2)


# -- health and feature ------------------------------------------------------

def test_health(afctl):
    r = afctl("health")
    assert r.rc == OK, r.err
    assert "enforcer:" in r.out and "audit:" in r.out
    j = afctl("-j", "health").json
    assert j["version"] and j["enforcer"] in ("bpf-lsm", "landlock", "none")
    assert j["audit_source"] in ("bpf-lsm", "trace", "none")
    assert isinstance(j["audit_dropped"], int)
    assert afctl("-p", "health").out.startswith("{\n")
    assert afctl("hea").rc == OK  # any unambiguous prefix
    assert afctl("he").rc == USAGE  # health or help


def test_feature_probe(afctl):
    r = afctl("feature", "probe")
    assert r.rc == OK, r.err
    for name in ("bpf-lsm", "landlock", "overlay", "cgroup"):
        assert name in r.out
    j = afctl("-j", "feature", "probe").json
    names = {f["name"]: f for f in j["host"]}
    assert {"bpf-lsm", "btf", "landlock", "overlay", "cgroup", "bpffs"} <= set(names)
    assert all(isinstance(f["available"], bool) and f["detail"] for f in j["host"])
    assert j["daemon"]["enforcer"] and "landlock" in j["daemon"]["probe_report"]


def test_feature_probe_without_daemon(afctl, tmp_path):
    """The host probes stand alone: the daemon's absence is said, not fatal."""
    r = afctl("-j", "feature", "probe", sock=str(tmp_path / "none.sock"))
    assert r.rc == OK
    assert "daemon" not in r.json and "not reachable" in r.json["daemon_error"]
    assert "not reachable" in afctl("feature", "probe", sock=str(tmp_path / "x")).out


# -- sandboxes and codebases -------------------------------------------------

def test_sandbox_list_show(afctl, world):
    sb = world.sandbox
    r = afctl("sandbox", "list")
    assert r.rc == OK and sb.id in r.out and "RUNNING" in r.out
    j = afctl("-j", "sandbox", "list").json
    mine = [s for s in j if s["id"] == sb.id]
    assert mine and mine[0]["status"] == "RUNNING" and mine[0]["audit_level"] == "writes"
    assert afctl("-j", "sandbox", "list", "--codebase", world.codebase.id).json == mine
    assert afctl("-j", "sandbox", "list", "--codebase", "cb_0000000000000000").json == []
    r = afctl("sandbox", "show", sb.id)
    assert r.rc == OK and "agentfense.audit=writes" in r.out and "/out/**" in r.out
    j = afctl("-j", "sandbox", "show", sb.id).json
    assert j["id"] == sb.id and j["labels"] == {"agentfense.audit": "writes"}
    assert j["permissions"][-1]["pattern"] == "/out/**"
    assert j["permissions"][-1]["permission"] == "write"


def test_sandbox_stop_destroy(afctl, client, world):
    sb = client.create_sandbox(world.codebase.id, preset="read-only")
    client.start_sandbox(sb.id)
    j = afctl("-j", "sandbox", "stop", sb.id).json
    assert j["status"] == "STOPPED"
    r = afctl("sa", "d", sb.id)  # prefixes
    assert r.rc == OK and "destroyed" in r.out
    with pytest.raises(af.SandboxNotFoundError):
        client.get_sandbox(sb.id)


@pytest.mark.parametrize("verb", ["show", "stop", "destroy"])
def test_sandbox_unknown(afctl, verb):
    r = afctl("sandbox", verb, "sb_0000000000000000")
    assert r.rc == ERR
    assert "Error: sandbox sb_0000000000000000 not found" in r.err
    j = afctl("-j", "sandbox", verb, "sb_0000000000000000")
    assert j.rc == ERR and "not found" in j.json["error"]


def test_codebase(afctl, client, world):
    cb = world.codebase
    r = afctl("codebase", "list")
    assert r.rc == OK and cb.id in r.out
    j = afctl("-j", "codebase", "list", "--owner", "afctl").json
    assert [c["id"] for c in j] == [cb.id] and j[0]["file_count"] >= 3
    j = afctl("-j", "codebase", "show", cb.id).json
    assert j["name"] == "afctl" and j["owner_id"] == "afctl"
    assert f"files    {j['file_count']} " in afctl("codebase", "show", cb.id).out
    # In use by a sandbox: refused, with the server's reason.
    r = afctl("codebase", "delete", cb.id)
    assert r.rc == ERR and "Error:" in r.err
    other = client.create_codebase("gone", owner_id="afctl-tmp")
    j = afctl("-j", "codebase", "delete", other.id).json
    assert j == {"id": other.id, "deleted": True}
    r = afctl("codebase", "show", other.id)
    assert r.rc == ERR and "not found" in r.err


# -- policy -------------------------------------------------------------------

def test_policy_show(afctl, world):
    r = afctl("policy", "show", world.sandbox.id)
    assert r.rc == OK and "/out/**" in r.out and "PATTERN" in r.out
    j = afctl("-j", "policy", "show", world.sandbox.id).json
    assert j["sandbox_id"] == world.sandbox.id
    assert [x["index"] for x in j["rules"]] == list(range(len(j["rules"])))


def test_policy_explain(afctl, world):
    sb = world.sandbox.id
    j = afctl("-j", "policy", "explain", sb, "/secrets/key.pem").json
    assert j["level"] == "none" and j["rule"]["permission"] == "none"
    # A path as the sandbox (and the audit trail) shows it.
    j = afctl("-j", "policy", "explain", sb, "/workspace/out/r.txt").json
    assert j["path"] == "/out/r.txt" and j["level"] == "write"
    assert j["rule"]["pattern"] == "/out/**" and j["rule_index"] == j["rule"]["index"]
    r = afctl("policy", "explain", sb, "/workspace/src", "--dir")
    assert r.rc == OK and "/src: read" in r.out and "because" in r.out
    r = afctl("policy", "explain", sb, "/a/../b")
    assert r.rc == ERR and "invalid path" in r.err
    r = afctl("policy", "explain", "sb_0000000000000000", "/a")
    assert r.rc == ERR and "not found" in r.err


# -- audit --------------------------------------------------------------------

def test_audit_tail(afctl, world):
    sb = world.sandbox.id
    events = wait_events(afctl, sb, 2)
    seen = {(e["op"], e["path"], e["decision"]) for e in events}
    assert ("open-write", "/workspace/src/main.py", "deny") in seen
    assert ("open-write", "/workspace/out/r.txt", "allow") in seen
    assert all(e["sandbox_id"] == sb for e in events)
    denied = afctl("-j", "audit", "tail", "--sandbox", sb, "--denied").json
    assert denied and all(e["decision"] == "deny" for e in denied)
    one = afctl("-j", "audit", "tail", "--sandbox", sb, "-n", "1").json
    assert one == events[-1:]
    r = afctl("audit", "tail", "--sandbox", sb)
    assert r.rc == OK and "DENY" in r.out and "/workspace/src/main.py" in r.out
    only = afctl("-j", "audit", "tail", "--sandbox", sb, "--path", "/workspace/out/*",
                 "--op", "open-write").json
    assert {e["path"] for e in only} == {"/workspace/out/r.txt"}
    assert afctl("-j", "audit", "tail", "--sandbox", sb, "--since", "-1d").json == events
    assert afctl("-j", "audit", "tail", "--sandbox", sb, "--until", "-1d").json == []


def test_audit_follow(afctl, client, world):
    """follow prints events as JSON lines as they happen and ends with its
    sandbox."""
    sb = client.create_sandbox(world.codebase.id, preset="read-only")
    client.start_sandbox(sb.id)
    p = subprocess.Popen([afctl_binary(), "-s", afctl.sock, "-j", "audit", "follow",
                          "--sandbox", sb.id], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(0.5)
        client.exec(sb.id, "echo x > /workspace/src/main.py")
        e = json.loads(p.stdout.readline())
        assert e["op"] == "open-write" and e["decision"] == "deny"
        assert e["path"] == "/workspace/src/main.py"
        client.destroy_sandbox(sb.id)
        assert p.wait(timeout=15) == OK
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_audit_stats(afctl, world):
    sb = world.sandbox.id
    wait_events(afctl, sb, 2)
    j = afctl("-j", "audit", "stats", "--sandbox", sb).json
    assert j["source"] in ("bpf-lsm", "trace")
    assert [s["sandbox_id"] for s in j["sandboxes"]] == [sb]
    s = j["sandboxes"][0]
    assert s["level"] == "writes" and s["recording"] and s["events"] >= 2
    assert s["dropped"] == 0 and s["log_bytes"] > 0
    r = afctl("audit", "stats")
    assert r.rc == OK and "lost:" in r.out and sb in r.out


def test_audit_errors(afctl):
    r = afctl("audit", "tail", "--sandbox", "sb_0000000000000000")
    assert r.rc == ERR and "not found" in r.err
    r = afctl("audit", "tail", "--op", "open-everything")
    assert r.rc == ERR and "unknown operation" in r.err
    assert afctl("audit", "tail", "-n", "many").rc == USAGE
    assert afctl("audit", "tail", "--since", "yesterday").rc == USAGE
    assert afctl("audit", "tail", "--bogus").rc == USAGE
    j = afctl("-j", "audit", "stats", "--sandbox", "nope")
    assert j.rc == ERR and j.json["error"]


# -- pinned BPF objects --------------------------------------------------------

def ours(objects, daemon):
    """The pinned objects of our daemon (others may run on this host)."""
    return [o for o in objects if o["instance"].endswith(f"-{daemon.pid}-" +
                                                         o["instance"].split("-")[-1])]


def test_prog_list(afctl, client, daemon, world):
    """Our daemon's programs, attached while a sandbox (world's) runs."""
    j = ours(afctl("-j", "prog", "list").json, daemon)
    source = client.audit_stats().source
    names = {p["name"] for p in j}
    if source == "trace":
        assert {"af_sys_exit", "af_exec"} <= names
    if source == "bpf-lsm":
        assert "af_file_open" in names
    for p in j:
        assert p["id"] > 0 and p["tag"] and p["pinned"].startswith("/sys/fs/bpf/agentfense/")
        assert p["attached"] != "-" and p["instance_alive"]
    r = afctl("prog", "list")
    assert r.rc == OK
    for name in names:
        assert f"name {name}" in r.out


def test_map_list_dump(afctl, client, world, daemon):
    j = ours(afctl("-j", "map", "list").json, daemon)
    source = client.audit_stats().source
    per_sandbox = {"trace": "audit_sandboxes", "bpf-lsm": "af_sandboxes"}.get(source)
    if per_sandbox is None:
        pytest.skip("no audit source: nothing pinned")
    maps = {m["name"]: m for m in j}
    assert per_sandbox in maps and maps[per_sandbox]["entries"] >= 1
    assert "max_entries" in afctl("map", "list").out
    dump = afctl("-j", "map", "dump", maps[per_sandbox]["pinned"]).json
    modes = [e["formatted"]["audit_mode"] for e in dump]
    assert "writes" in modes
    assert all(len(e["key"]) == 8 for e in dump)
    r = afctl("map", "dump", maps[per_sandbox]["pinned"])
    assert r.rc == OK and "cgroup_id" in r.out and "Found" in r.out
    ring = [m for m in j if m["type"] == "ringbuf"][0]
    r = afctl("map", "dump", ring["pinned"])
    assert r.rc == ERR and "ring buffer" in r.err
    r = afctl("map", "dump", "no_such_map")
    assert r.rc == ERR and "no pinned map" in r.err


# -- usage and the daemon being down ---------------------------------------------

@pytest.mark.parametrize("args", [(), ("bogus",), ("p", "list"), ("sandbox",),
                                  ("sandbox", "show"), ("sandbox", "list", "extra"),
                                  ("--bogus", "health"), ("policy", "explain", "sb_x")])
def test_usage_errors(afctl, args):
    r = afctl(*args)
    assert r.rc == USAGE, (args, r.out, r.err)
    assert r.err.strip()


def test_usage_errors_json(afctl):
    r = afctl("-j", "bogus")
    assert r.rc == USAGE and "unknown command" in r.json["error"]
    r = afctl("-j", "p", "list")
    assert r.rc == USAGE and "ambiguous" in r.json["error"]


def test_help_and_version(afctl):
    r = afctl("help")
    assert r.rc == OK and "OBJECT" in r.out and "audit" in r.out
    r = afctl("-V")
    assert r.rc == OK and r.out.startswith("afctl ")


@pytest.mark.parametrize("args", [("health",), ("sandbox", "list"), ("codebase", "list"),
                                  ("audit", "tail"), ("audit", "stats"),
                                  ("policy", "show", "sb_0000000000000000")])
def test_daemon_down(afctl, tmp_path, args):
    sock = str(tmp_path / "absent.sock")
    r = afctl(*args, sock=sock)
    assert r.rc == UNREACHABLE, r.err
    assert f"cannot reach agentfensed at unix:{sock}" in r.err
    j = afctl("-j", *args, sock=sock)
    assert j.rc == UNREACHABLE and "cannot reach" in j.json["error"]


def test_daemon_down_local_commands_work(afctl, tmp_path):
    """prog and map read the pinned objects, not the daemon."""
    sock = str(tmp_path / "absent.sock")
    assert afctl("-j", "prog", "list", sock=sock).rc == OK
    assert afctl("-j", "map", "list", sock=sock).rc == OK
