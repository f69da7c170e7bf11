"""Resource limits: memory (OOM kill -> 137 + message), pids (fork bombs),
cpu quota, captured-output cap, /tmp and delta size caps, and the server's
defaults and maxima.

These run against a daemon of their own, started with small caps so that
hitting them is quick.  Every test destroys its sandboxes and then checks
that no cgroup of theirs is left in any hierarchy.
"""

import os
import re
import subprocess
import time

import grpc
import pytest

import afe2e
import agentfense as af
from agentfense._proto.sandbox.v1 import common_pb2, sandbox_pb2, sandbox_pb2_grpc

MiB = 1 << 20
MAX_OUTPUT = 64 * 1024
TMP_SIZE = 8 * MiB
MAX_DELTA = 64 * MiB
MAX_MEMORY = 1024 * MiB
DEFAULT_PIDS = 256
MAX_PIDS = 4096
MAX_CPU_QUOTA = 400000


class LimitsDaemon(afe2e.Daemon):
    def command(self):
        return super().command() + [
            "--max-output", str(MAX_OUTPUT), "--tmp-size", str(TMP_SIZE),
            "--max-delta", str(MAX_DELTA), "--max-memory", "1G",
            "--default-pids", str(DEFAULT_PIDS), "--max-pids", str(MAX_PIDS),
            "--max-cpu-quota", str(MAX_CPU_QUOTA)]


@pytest.fixture(scope="module")
def ldaemon(daemon):
    """A daemon with small caps; the session daemon stays idle meanwhile."""
    d = LimitsDaemon()
    try:
        d.start()
    except BaseException:
        d.kill()
        d.remove()
        raise
    yield d
    rc = d.stop()
    log = d.log_tail()
    d.remove()
    assert rc == 0, f"agentfensed exited with {rc}:\n{log}"


@pytest.fixture
def lc(ldaemon):
    with af.SandboxClient(ldaemon.endpoint) as c:
        yield c


@pytest.fixture
def raw(ldaemon):
    with grpc.insecure_channel(ldaemon.endpoint) as ch:
        yield sandbox_pb2_grpc.SandboxServiceStub(ch)


@pytest.fixture
def made(lc, ldaemon):
    """make(preset=..., resources=...) -> a started sandbox; all are
    destroyed after the test, and none may leave a cgroup behind."""
    sandboxes, codebases = [], []

    def make(preset="read-only", resources=None, start=True):
        if not codebases:
            cb = lc.create_codebase("limits", owner_id="e2e")
            codebases.append(cb.id)
            lc.upload_file(cb.id, "hello.txt", b"hello\n")
        sb = lc.create_sandbox(codebases[0], preset=preset, resources=resources)
        sandboxes.append(sb.id)
        return lc.start_sandbox(sb.id) if start else sb

    yield make
    for sb in sandboxes:
        try:
            lc.destroy_sandbox(sb)
        except af.SandboxNotFoundError:
            pass
    for cb in codebases:
        lc.delete_codebase(cb)
    left = {sb: afe2e.wait_until(lambda: afe2e.leftovers(sb, ldaemon))
            for sb in sandboxes}
    assert not {k: v for k, v in left.items() if v}, f"left behind: {left}"


def cgroup_knob(sandbox_id, controller, v1_name, v2_name):
    """A limit as the kernel holds it, from the v1 or the v2 hierarchy.
    Sandbox cgroups are named "<daemon instance>-<sandbox id>"."""
    for base, name in ((f"/sys/fs/cgroup/{controller}/agentfense", v1_name),
                       ("/sys/fs/cgroup/agentfense", v2_name)):
        dirs = [d for d in (os.listdir(base) if os.path.isdir(base) else [])
                if d == sandbox_id or d.endswith("-" + sandbox_id)]
        if dirs and os.path.exists(os.path.join(base, dirs[0], name)):
            with open(os.path.join(base, dirs[0], name)) as f:
                return f.read().strip()
    return None


# -- memory -------------------------------------------------------------------

HOG = "python3 -c 'x = []\nwhile True: x.append(bytearray(8 << 20))'"


def test_oom_kill_is_137_with_message(lc, made):
    sb = made(resources=af.ResourceLimits(memory_bytes=64 * MiB))
    assert lc.get_sandbox(sb.id).resources.memory_bytes == 64 * MiB
    assert cgroup_knob(sb.id, "memory", "memory.limit_in_bytes",
                       "memory.max") == str(64 * MiB)
    r = lc.exec(sb.id, HOG, timeout=60)
    assert r.exit_code == 137
    assert "memory limit (64 MiB) was reached" in r.message
    # The sandbox survives its command's OOM kill.
    r = lc.exec(sb.id, "echo still here")
    assert (r.exit_code, r.stdout, r.message) == (0, "still here\n", "")


def test_oom_kill_in_a_session(made, raw):
    sb = made(resources=af.ResourceLimits(memory_bytes=64 * MiB))
    sess = raw.CreateSession(sandbox_pb2.CreateSessionRequest(sandbox_id=sb.id))
    try:
        r = raw.SessionExec(sandbox_pb2.SessionExecRequest(
            session_id=sess.id, command=HOG), timeout=60)
        assert r.exit_code == 137
        assert "memory limit (64 MiB) was reached" in r.message
        r = raw.SessionExec(sandbox_pb2.SessionExecRequest(
            session_id=sess.id, command="echo ok"), timeout=30)
        assert (r.exit_code, r.stdout) == (0, "ok\n")
    finally:
        raw.DestroySession(sandbox_pb2.DestroySessionRequest(session_id=sess.id))


def test_plain_sigkill_is_not_called_oom(lc, made):
    sb = made(resources=af.ResourceLimits(memory_bytes=64 * MiB))
    r = lc.exec(sb.id, "kill -KILL $$")
    assert (r.exit_code, r.message) == (137, "")


# -- pids ---------------------------------------------------------------------

FORK_COUNT = """python3 -c '
import errno, os, time
n = 0
try:
    while True:
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
        n += 1
except OSError as e:
    print(n, e.errno)
'"""


def test_pids_limit_is_enforced_and_observable(lc, made):
    sb = made(resources=af.ResourceLimits(pids_limit=32))
    assert lc.get_sandbox(sb.id).resources.pids_limit == 32
    assert cgroup_knob(sb.id, "pids", "pids.max", "pids.max") == "32"
    r = lc.exec(sb.id, FORK_COUNT, timeout=60)
    forked, err = map(int, r.stdout.split())
    assert err == 11  # EAGAIN from fork at the limit
    # The count includes the sandbox init and the command itself.
    assert 20 <= forked <= 30, r.stdout
    # The sleeping children went with the command; the limit is free again.
    assert lc.exec(sb.id, FORK_COUNT, timeout=60).stdout.split()[0] == str(forked)


def test_fork_bomb_is_contained(lc, made):
    sb = made(resources=af.ResourceLimits(pids_limit=64))
    afe2e.assert_fork_bomb_contained(lc, sb.id)


def test_default_pids_limit_applies(lc, made):
    sb = made()
    assert lc.get_sandbox(sb.id).resources.pids_limit == DEFAULT_PIDS
    assert cgroup_knob(sb.id, "pids", "pids.max", "pids.max") == str(DEFAULT_PIDS)


# -- cpu ----------------------------------------------------------------------

BUSY = """python3 -c '
import os, time
end = time.monotonic() + 1.0
while time.monotonic() < end:
    pass
t = os.times()
print(t.user + t.system)
'"""


def test_cpu_quota_caps_a_busy_loop(lc, made):
    sb = made(resources=af.ResourceLimits(cpu_quota=20000, cpu_shares=512))
    assert cgroup_knob(sb.id, "cpu", "cpu.cfs_quota_us", "cpu.max").split()[0] == "20000"
    used = float(lc.exec(sb.id, BUSY, timeout=30).stdout)
    # 20 ms per 100 ms: about 0.2 s of CPU in a second; unlimited is ~1 s.
    assert 0.05 < used < 0.45, used


# -- output, /tmp and delta caps ----------------------------------------------

def test_output_cap_is_reported(lc, made):
    sb = made()
    r = lc.exec(sb.id, "head -c 200000 /dev/zero | tr '\\0' o; "
                       "head -c 100 /dev/zero | tr '\\0' e >&2")
    assert r.exit_code == 0
    assert r.stdout == "o" * MAX_OUTPUT and r.stdout_truncated
    assert r.stderr == "e" * 100 and not r.stderr_truncated
    assert "cap" in r.message
    r = lc.exec(sb.id, "echo small")
    assert (r.stdout, r.stdout_truncated, r.message) == ("small\n", False, "")


def test_tmp_is_capped(lc, made):
    sb = made()
    r = lc.exec(sb.id, "dd if=/dev/zero of=/tmp/fill bs=1M count=16")
    assert r.exit_code != 0
    assert "No space left on device" in r.stderr
    assert lc.exec(sb.id, "rm /tmp/fill && echo x > /tmp/small && cat /tmp/small").stdout == "x\n"


def test_delta_is_capped_and_kept_across_restart(lc, made, ldaemon):
    sb = made(preset="development")
    r = lc.exec(sb.id, "dd if=/dev/zero of=/workspace/fill bs=1M count=100")
    assert r.exit_code != 0
    assert "No space left on device" in r.stderr
    r = lc.exec(sb.id, "rm /workspace/fill && echo kept > /workspace/new.txt")
    assert r.exit_code == 0, r.stderr
    # The image is a sparse file: it costs what was written, not the cap.
    img = os.path.join(ldaemon.state_dir, "sandboxes", sb.id, "delta.img")
    assert os.stat(img).st_size == MAX_DELTA
    lc.stop_sandbox(sb.id)
    assert not loop_devices_of(img)
    lc.start_sandbox(sb.id)
    assert lc.exec(sb.id, "cat /workspace/new.txt").stdout == "kept\n"


def loop_devices_of(path):
    out = subprocess.run(["losetup", "-j", path], capture_output=True, text=True)
    return out.stdout.strip()


# -- defaults and maxima ------------------------------------------------------

@pytest.mark.parametrize("field, value, name", [
    ("memory_bytes", 2048 * MiB, "memory_bytes"),
    ("pids_limit", MAX_PIDS + 1, "pids_limit"),
    ("cpu_quota", MAX_CPU_QUOTA + 1, "cpu_quota"),
    ("memory_bytes", 1 * MiB, "memory_bytes"),    # below the minimum
    ("pids_limit", 2, "pids_limit"),
    ("cpu_shares", 1 << 20, "cpu_shares"),
])
def test_out_of_range_request_is_rejected(raw, lc, field, value, name):
    cb = lc.create_codebase("limits-bad", owner_id="e2e")
    try:
        req = sandbox_pb2.CreateSandboxRequest(
            codebase_id=cb.id, resources=common_pb2.ResourceLimits(**{field: value}))
        with pytest.raises(grpc.RpcError) as err:
            raw.CreateSandbox(req)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert name in err.value.details()
        assert not [s for s in lc.list_sandboxes(cb.id)]
    finally:
        lc.delete_codebase(cb.id)


def test_record_shows_applied_limits(lc, made):
    sb = made(start=False)
    res = lc.get_sandbox(sb.id).resources
    # No memory or cpu default, but a maximum: the maximum applies.
    assert res.memory_bytes == MAX_MEMORY
    assert res.cpu_quota == MAX_CPU_QUOTA
    assert res.pids_limit == DEFAULT_PIDS
    assert res.cpu_shares is None
    sb = made(resources=af.ResourceLimits(memory_bytes=128 * MiB, cpu_quota=50000),
              start=False)
    res = lc.get_sandbox(sb.id).resources
    assert (res.memory_bytes, res.cpu_quota, res.pids_limit) == (
        128 * MiB, 50000, DEFAULT_PIDS)


def test_no_cgroup_subtree_entries_left(ldaemon, lc):
    """After the tests above, the subtrees hold nothing of this daemon's."""
    ids = {s.id for s in lc.list_sandboxes()}
    for root in ("unified", "memory", "pids", "cpu", ""):
        base = f"/sys/fs/cgroup/{root}/agentfense"
        if os.path.isdir(base):
            left = [d for d in os.listdir(base) if re.match(r"sb_", d) and d in ids]
            assert not left, f"{base}: {left}"
