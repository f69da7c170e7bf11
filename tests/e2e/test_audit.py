"""The audit trail end to end (ARCHITECTURE §8, docs/afctl-audit.md).

Completeness: a workload inside a sandbox performs a known list of
accesses, allowed and denied, of every operation kind; the trail must hold
each with the right sandbox, operation, path and decision, and nothing of
processes outside the sandbox (a host process working on the same files
through /proc/PID/root, a second sandbox).  Then levels, filters, follow,
retention, and a flood beyond the kernel buffer whose loss is counted.

The daemon's source decides what "each" means where the sources differ
(docs/afctl-audit.md "Sources"): on this host the trace source (landlock),
in the test VM the bpf-lsm enforcer's hooks.
"""

import json
import os
import pathlib
import subprocess
import threading
import time

import grpc
import pytest

import afe2e
import agentfense as af
from agentfense._proto.sandbox.v1 import audit_pb2, audit_pb2_grpc

HERE = pathlib.Path(__file__).resolve().parent
WORKLOAD = (HERE / "audit_workload.py").read_text()
WS = "/workspace"

FILES = {
    "ro/data.txt": b"data",
    "ro/other.txt": b"other",
    "view/v.txt": b"view only",
    "rw/w.txt": b"w",
    "rw/t.txt": b"truncate me",
    "rw/old.txt": b"old",
    "rw/gone.txt": b"gone",
    "rw/src.txt": b"src",
    "rw/run.sh": b"#!/bin/sh\nexit 0\n",
    ".env": b"SECRET=1",
}
RULES = [af.PermissionRule("/view/**", af.Permission.VIEW),
         af.PermissionRule("/rw/**", af.Permission.WRITE),
         af.PermissionRule(".env", af.Permission.NONE)]

# name, op, args: every operation kind allowed (in rw/) and denied.
CASES = [
    ("read_ok", "open", f"{WS}/ro/data.txt", "r"),
    ("read_deny", "open", f"{WS}/view/v.txt", "r"),
    ("write_ok", "open", f"{WS}/rw/w.txt", "w"),
    ("write_deny", "open", f"{WS}/ro/data.txt", "w"),
    ("create_ok", "open", f"{WS}/rw/new.txt", "cx"),
    ("create_deny", "open", f"{WS}/ro/new.txt", "cx"),
    ("unlink_ok", "unlink", f"{WS}/rw/gone.txt"),
    ("unlink_deny", "unlink", f"{WS}/ro/other.txt"),
    ("rename_ok", "rename", f"{WS}/rw/old.txt", f"{WS}/rw/renamed.txt"),
    ("rename_deny", "rename", f"{WS}/ro/data.txt", f"{WS}/ro/moved.txt"),
    ("link_ok", "link", f"{WS}/rw/src.txt", f"{WS}/rw/hard.txt"),
    ("link_deny", "link", f"{WS}/ro/data.txt", f"{WS}/rw/hard2.txt"),
    ("truncate_ok", "truncate", f"{WS}/rw/t.txt"),
    ("truncate_deny", "truncate", f"{WS}/ro/data.txt"),
    ("chmod_ok", "chmod", f"{WS}/rw/run.sh", "755"),
    ("chmod_ro", "chmod", f"{WS}/ro/other.txt", "600"),
    ("exec_ok", "exec", f"{WS}/rw/run.sh"),
    ("exec_deny", "exec", f"{WS}/view/v.txt"),
    ("mkdir_ok", "mkdir", f"{WS}/rw/d"),
    ("rmdir_ok", "rmdir", f"{WS}/rw/d"),
    ("mkdir_deny", "mkdir", f"{WS}/ro/d"),
    ("symlink_ok", "symlink", "w.txt", f"{WS}/rw/sl"),
    ("symlink_deny", "symlink", "data.txt", f"{WS}/ro/sl"),
    ("relative_deny", "chdir_open", f"{WS}/ro", "data.txt", "w"),
    ("dotdot_deny", "open", f"{WS}/rw/../ro/data.txt", "w"),
    ("dirfd_deny", "dirfd_unlink", f"{WS}/ro", "other.txt"),
]
DENIED = {"read_deny", "write_deny", "create_deny", "unlink_deny", "rename_deny",
          "link_deny", "truncate_deny", "exec_deny", "mkdir_deny", "symlink_deny",
          "relative_deny", "dotdot_deny", "dirfd_deny"}


def run_workload(client, sandbox_id, cases):
    r = client.exec(sandbox_id, "exec python3 -", stdin=WORKLOAD,
                    env={"AF_AUDIT_CASES": json.dumps([list(c) for c in cases])},
                    workdir="/tmp", timeout=120)
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def decision_of(op, outcome):
    if outcome == "ok":
        return "allow"
    if outcome in ("EACCES", "EPERM") or (outcome == "EXDEV" and op in ("rename", "link")):
        return "deny"
    return None  # not the policy's decision: nothing is recorded


def requirements(case, outcome, source):
    """What the trail must hold for one case: a list of groups, each a set of
    acceptable (op, path), with the decision they must carry."""
    name, op, *args = case
    decision = decision_of(op, outcome)
    if decision is None:
        return None, []
    if op == "open":
        path, how = args
        path = os.path.normpath(path)
        if how == "cx":
            groups = [{("create", path)}]
            if decision == "allow":
                groups.append({("open-write", path)})
            return decision, groups
        return decision, [{({"r": "open-read", "w": "open-write"}[how], path)}]
    if op == "chdir_open":
        return decision, [{("open-write" if args[2] == "w" else "open-read",
                            os.path.join(args[0], args[1]))}]
    if op == "dirfd_unlink":
        return decision, [{("unlink", os.path.join(*args))}]
    if op in ("rename", "link"):
        src, dst = (f"{op}-src", args[0]), (f"{op}-dst", args[1])
        # A refusal names the side refused (bpf-lsm) or both sides (trace).
        return decision, ([{src}, {dst}] if decision == "allow" else [{src, dst}])
    if op == "symlink":
        return decision, [{("symlink", args[1])}]
    if op == "exec" and decision == "deny" and source == "bpf-lsm":
        # Stored files are 0644: the kernel's permission check refuses
        # before any LSM hook runs. The trace source sees the EACCES.
        return decision, []
    return decision, [{(op, args[0])}]


def events_of(client, sandbox_id, **query):
    return [e for e in client.audit(sandbox_id, **query) if isinstance(e, af.AuditEvent)]


def settle(client, sandbox_id, want, timeout=30.0, quiet=1.0):
    """Events of the sandbox once at least `want` are in and no more come
    for `quiet` seconds (events arrive within the source's drain interval
    plus a log flush; later in the emulated VM)."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while True:
        evs = events_of(client, sandbox_id)
        now = time.monotonic()
        if last is None or len(evs) != len(last):
            last, since = evs, now
        elif len(evs) >= want and now - since >= quiet:
            return evs
        if now > deadline:
            return evs
        time.sleep(0.2)


def missing(events, sandbox_id, cases, outcomes, source):
    have = {(e.op, e.path, e.decision) for e in events}
    out = []
    for case in cases:
        decision, groups = requirements(case, outcomes[case[0]], source)
        for group in groups:
            if not any((op, path, decision) in have for op, path in group):
                out.append(f"{case[0]} ({outcomes[case[0]]}): no {decision} event of {sorted(group)}")
    return out


@pytest.fixture
def source(client):
    """Where the daemon's events come from: bpf-lsm, trace or none."""
    return client.audit_stats().source


def test_completeness(client, res, daemon, source):
    """Every access of the workload is in the trail, exactly as it happened."""
    if source == "none":
        pytest.skip("the daemon has no audit source here: "
                    f"{client.audit_stats().source_reason}")
    cb = res.codebase(FILES)
    sb = res.sandbox(cb.id, preset="read-only", permissions=RULES,
                     labels=af.audit_labels("all"))
    outcomes = run_workload(client, sb.id, CASES)
    ops = {name: op for name, op, *_ in CASES}
    # The workload did what it was meant to: else the trail proves nothing.
    assert all(decision_of(ops[c], outcomes[c]) == "deny" for c in DENIED), outcomes
    assert all(outcomes[c] == "ok" for c in ops if c.endswith("_ok")), outcomes
    # Landlock has no right for chmod (docs/security-model.md); bpf-lsm refuses.
    assert outcomes["chmod_ro"] == ("EACCES" if source == "bpf-lsm" else "ok")

    # Events arrive within the source's drain interval and a log flush; in
    # the VM (emulated) the consumer may lag the workload by seconds.
    events = []

    def still_missing():
        events[:] = events_of(client, sb.id)
        return missing(events, sb.id, CASES, outcomes, source)

    assert not afe2e.wait_until(still_missing, timeout=60, interval=0.5), events
    for e in events:
        assert e.sandbox_id == sb.id
        assert e.source == source
        assert e.path.startswith(WS) or e.denied, e
        if e.denied:
            assert e.errno and e.error, e
    # Nothing of the hidden file: it does not exist in the sandbox.
    assert not [e for e in events if ".env" in e.path]


def test_nothing_from_outside(client, res, source):
    """A host process on the same files, and another sandbox, leave nothing
    in this sandbox's trail."""
    if source == "none":
        pytest.skip("no audit source on this host")
    cb = res.codebase(FILES)
    sb = res.sandbox(cb.id, preset="read-only", permissions=RULES,
                     labels=af.audit_labels("all"))
    other = res.sandbox(cb.id, preset="read-only", permissions=RULES,
                        labels=af.audit_labels("all"))
    run_workload(client, sb.id, CASES[:2])
    mine = settle(client, sb.id, 2)
    # The host reaches the sandbox's workspace through its init's root.
    pid = min(afe2e.sandbox_processes(sb.id))
    root = f"/proc/{pid}/root{WS}"
    with open(f"{root}/rw/outside.txt", "w") as f:
        f.write("host")
    with open(f"{root}/ro/data.txt") as f:
        f.read()
    os.unlink(f"{root}/rw/outside.txt")
    run_workload(client, other.id, [("other", "open", f"{WS}/ro/other.txt", "r")])
    theirs = settle(client, other.id, 1)
    time.sleep(1.0)
    after = events_of(client, sb.id)
    assert [(e.op, e.path) for e in after] == [(e.op, e.path) for e in mine]
    assert not [e for e in after if "outside" in e.path]
    assert {e.pid for e in theirs}.isdisjoint({e.pid for e in after})
    assert all(e.sandbox_id == other.id for e in theirs)


@pytest.mark.parametrize("level", ["denied", "writes", "all"])
def test_levels(client, res, source, level):
    """Denials always; allowed changes from "writes"; allowed reads at "all"."""
    if source == "none":
        pytest.skip("no audit source on this host")
    cb = res.codebase(FILES)
    sb = res.sandbox(cb.id, preset="read-only", permissions=RULES,
                     labels=af.audit_labels(level))
    cases = [c for c in CASES if c[0] in ("read_ok", "write_ok", "write_deny")]
    run_workload(client, sb.id, cases)
    events = settle(client, sb.id, {"denied": 1, "writes": 2, "all": 3}[level], timeout=5)
    seen = {(e.op, e.path, e.decision) for e in events}
    assert ("open-write", f"{WS}/ro/data.txt", "deny") in seen
    assert (("open-write", f"{WS}/rw/w.txt", "allow") in seen) == (level != "denied")
    assert (("open-read", f"{WS}/ro/data.txt", "allow") in seen) == (level == "all")
    assert client.get_sandbox(sb.id).labels[af.AUDIT_LABEL] == level


def test_bad_level_is_refused(client, res, code_of, stubs):
    cb = res.codebase({"a": b"a"})
    with pytest.raises(af.InvalidConfigurationError):
        af.audit_labels("everything")
    with pytest.raises(af.AgentFenseError) as exc:
        res.sandbox(cb.id, labels={af.AUDIT_LABEL: "everything"})
    assert exc.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "agentfense.audit" in exc.value.details


def test_query_filters(client, res, source):
    if source == "none":
        pytest.skip("no audit source on this host")
    cb = res.codebase(FILES)
    sb = res.sandbox(cb.id, preset="read-only", permissions=RULES,
                     labels=af.audit_labels("all"))
    start = time.time()
    run_workload(client, sb.id, [c for c in CASES if c[0].startswith(("read", "write"))])
    settle(client, sb.id, 4)
    denied = events_of(client, sb.id, denied=True)
    assert denied and all(e.denied for e in denied)
    assert {e.path for e in events_of(client, sb.id, path=f"{WS}/view/*")} == {f"{WS}/view/v.txt"}
    assert {e.op for e in events_of(client, sb.id, ops=["open-write"])} == {"open-write"}
    last = events_of(client, sb.id, limit=1, tail=True)
    assert len(last) == 1 and last[0] == events_of(client, sb.id)[-1]
    assert len(events_of(client, sb.id, limit=2)) == 2
    assert events_of(client, sb.id, until=start - 60) == []
    assert len(events_of(client, sb.id, since=start - 60)) >= 4


def test_query_errors(client, stubs, code_of):
    stub = audit_pb2_grpc.AuditServiceStub(grpc.insecure_channel(client.endpoint))
    with pytest.raises(af.SandboxNotFoundError):
        list(client.audit("sb_0000000000000000"))
    bad = [audit_pb2.AuditQuery(sandbox_id="nope"),
           audit_pb2.AuditQuery(limit=-1),
           audit_pb2.AuditQuery(ops=["open-everything"]),
           audit_pb2.AuditQuery(decision=7)]
    for q in bad:
        assert code_of(stub.QueryAudit, q) == grpc.StatusCode.INVALID_ARGUMENT, q
    with pytest.raises(af.SandboxNotFoundError):
        client.audit_stats("sb_0000000000000000")


def test_follow_until_destroyed(client, res, source):
    """follow streams new events and ends when its sandbox is destroyed; the
    log outlives the sandbox."""
    if source == "none":
        pytest.skip("no audit source on this host")
    cb = res.codebase(FILES)
    sb = res.sandbox(cb.id, preset="read-only", permissions=RULES)
    got, done = [], threading.Event()

    def follow():
        for rec in client.audit(sb.id, follow=True):
            got.append(rec)
        done.set()

    t = threading.Thread(target=follow, daemon=True)
    t.start()
    time.sleep(0.5)
    run_workload(client, sb.id, [("w", "open", f"{WS}/ro/data.txt", "w")])
    afe2e.wait_until(lambda: not got, timeout=10)
    assert got and got[0].path == f"{WS}/ro/data.txt" and got[0].denied, got
    client.destroy_sandbox(sb.id)
    assert done.wait(15), "follow did not end with its sandbox"
    kept = events_of(client, sb.id)
    assert [(e.op, e.path) for e in kept] == [("open-write", f"{WS}/ro/data.txt")]


# -- a daemon of its own: small buffer and logs, no retention ----------------

LOG_FILE = 4 << 20  # a flood (~7 MB of lines) takes two: one rotation, none dropped


class SmallDaemon(afe2e.Daemon):
    def command(self):
        return super().command() + [
            "--audit-ringbuf", "4096", "--audit-file-size", str(LOG_FILE),
            "--audit-keep", "1", "--audit-retention", "0"]


@pytest.fixture(scope="module")
def small():
    d = SmallDaemon()
    try:
        d.start()
        yield d
    finally:
        d.stop()
        d.remove()


def afctl_json(daemon, *args):
    exe = os.path.join(afe2e.build_dir(), "tools", "afctl", "afctl")
    if not os.access(exe, os.X_OK):
        pytest.skip(f"{exe} is missing: build the afctl target")
    p = subprocess.run([exe, "-j", "-s", daemon.sock, *args], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    return json.loads(p.stdout)


def test_flood_is_counted_never_silent(small):
    """More events than the kernel buffer holds: the loss shows in the API,
    in afctl, and as gaps in the log; the log stays bounded and, retention
    0, goes with the sandbox."""
    with af.SandboxClient(small.endpoint) as c:
        if c.audit_stats().source == "none":
            pytest.skip(f"no audit source here: {c.audit_stats().source_reason}")
        cb = c.create_codebase("flood", "e2e")
        c.upload_file(cb.id, "f.txt", b"x")
        sb = c.create_sandbox(cb.id, preset="read-only", labels=af.audit_labels("all"))
        try:
            c.start_sandbox(sb.id)
            n = 30000
            r = c.exec(sb.id, "python3 -c 'import os\nfor i in range(%d): "
                       "os.close(os.open(\"/workspace/f.txt\", 0))'" % n, timeout=120)
            assert r.exit_code == 0, r.stderr
            c.stop_sandbox(sb.id)
            # The last events drain from the buffer after the stop.
            afe2e.wait_until(lambda: c.audit_stats(sb.id).sandboxes[0].events !=
                             (time.sleep(0.3) or c.audit_stats(sb.id).sandboxes[0].events))
            st = c.audit_stats(sb.id)
            mine = st.sandboxes[0]
            if st.source == "bpf-lsm" and not st.dropped_kernel:
                pytest.skip("the bpf-lsm enforcer's buffer (4 MiB, fixed) kept up "
                            "with this flood; its loss counting is bpf.test_lsm_audit's")
            assert st.dropped_kernel > 0 and mine.dropped > 0, st
            records = list(c.audit(sb.id))
            gaps = sum(x.lost for x in records if isinstance(x, af.AuditGap))
            opens = [x for x in records if isinstance(x, af.AuditEvent)
                     and x.path == "/workspace/f.txt"]
            assert gaps == mine.dropped
            # Rotated once, every file within bounds, nothing dropped yet.
            logs = sorted(pathlib.Path(small.state_dir, "audit").glob(sb.id + ".jsonl*"))
            assert [p.name[len(sb.id):] for p in logs] == [".jsonl", ".jsonl.1"]
            assert all(p.stat().st_size <= LOG_FILE for p in logs)
            assert mine.log_bytes == sum(p.stat().st_size for p in logs)
            assert len(opens) + gaps >= n
            stats = afctl_json(small, "audit", "stats", "--sandbox", sb.id)
            assert stats["dropped_kernel"] > 0
            assert stats["sandboxes"][0]["dropped"] == mine.dropped
            assert afctl_json(small, "health")["audit_dropped"] > 0
        finally:
            c.destroy_sandbox(sb.id)
            c.delete_codebase(cb.id)
        # Retention 0: the log goes once the last events are in.
        gone = afe2e.wait_until(lambda: os.path.exists(
            os.path.join(small.state_dir, "audit", sb.id + ".jsonl")), timeout=15)
        assert not gone
        with pytest.raises(af.SandboxNotFoundError):
            list(c.audit(sb.id))
