"""Sandbox states, command timeouts, and what destroy and daemon shutdown leave behind."""

import threading
import time

import grpc
import pytest

import afe2e
import agentfense as af
from agentfense._proto.sandbox.v1 import sandbox_pb2

SLEEP = ["sleep", "100"]


class Background:
    """Consume an ExecStream on a thread; remember how it ended."""

    def __init__(self, stream: af.ExecStream) -> None:
        self.stream = stream
        self.error = None
        self.ended_at = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        try:
            for _ in self.stream:
                pass
        except BaseException as exc:   # noqa: B902 - reported to the test
            self.error = exc
        self.ended_at = time.monotonic()

    def join(self, timeout):
        self.thread.join(timeout)
        return not self.thread.is_alive()


def test_states_and_exec_on_stopped(client, res, stubs):
    cb = res.codebase({"d/f": b"x"})
    sb = res.sandbox(cb.id, preset="full-access", start=False)
    assert sb.status is af.SandboxStatus.PENDING
    with pytest.raises(af.SandboxNotRunningError) as ei:
        client.exec(sb.id, "true")
    assert ei.value.current_status is af.SandboxStatus.PENDING

    sb = client.start_sandbox(sb.id)
    assert sb.status is af.SandboxStatus.RUNNING and sb.started_at is not None
    assert client.exec(sb.id, "echo kept > d/w.txt").exit_code == 0

    sb = client.stop_sandbox(sb.id)
    assert sb.status is af.SandboxStatus.STOPPED and sb.stopped_at is not None
    assert client.get_sandbox(sb.id).status is af.SandboxStatus.STOPPED
    with pytest.raises(af.SandboxNotRunningError) as ei:
        client.exec(sb.id, "true")
    assert ei.value.current_status is af.SandboxStatus.STOPPED
    req = sandbox_pb2.ExecRequest(sandbox_id=sb.id, command="true")
    with pytest.raises(grpc.RpcError) as raw:
        list(stubs.sandbox.ExecStream(req))
    assert raw.value.code() is grpc.StatusCode.FAILED_PRECONDITION

    sb = client.start_sandbox(sb.id)   # a stopped sandbox keeps its writes
    assert client.exec(sb.id, "cat d/w.txt").stdout == "kept\n"
    client.destroy_sandbox(sb.id)
    with pytest.raises(af.SandboxNotFoundError):
        client.get_sandbox(sb.id)
    assert sb.id not in {s.id for s in client.list_sandboxes()}


def test_list_sandboxes_by_codebase(client, res):
    cb1, cb2 = res.codebase({"f": b"1"}), res.codebase({"f": b"2"})
    a = res.sandbox(cb1.id, start=False, labels={"k": "v"})
    b = res.sandbox(cb2.id, start=False)
    assert [s.id for s in client.list_sandboxes(cb1.id)] == [a.id]
    assert {a.id, b.id} <= {s.id for s in client.list_sandboxes()}
    got = client.get_sandbox(a.id)
    assert got.labels == {"k": "v"} and got.codebase_id == cb1.id
    assert got.permissions == af.get_preset("read-only")
    assert a.id.startswith("sb_") and len(a.id) == 3 + 16


def test_timeout_kills_the_whole_tree_quickly(client, res, stubs, daemon):
    cb = res.codebase({"f": b"x"})
    sb = res.sandbox(cb.id)
    cmd = "sleep 100 & sleep 100; wait"

    # Through the SDK, while watching the processes appear and disappear.
    start = time.monotonic()
    bg = Background(client.exec_stream(sb.id, cmd, timeout=3))
    seen = afe2e.wait_until(
        lambda: len(afe2e.processes_matching(SLEEP, daemon.pid, sb.id)) < 2, timeout=2.5)
    assert not seen, "both sleeps should be running (else this test could not fail)"
    assert bg.join(15), "the stream did not end after the timeout"
    assert isinstance(bg.error, af.CommandTimeoutError), bg.error
    assert bg.error.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert bg.ended_at - start < 8
    assert not afe2e.wait_until(lambda: afe2e.processes_matching(SLEEP, daemon.pid, sb.id))

    # Unary Exec: the server's own status code, well before our deadline.
    req = sandbox_pb2.ExecRequest(sandbox_id=sb.id, command=cmd)
    req.timeout.FromSeconds(2)
    start = time.monotonic()
    with pytest.raises(grpc.RpcError) as raw:
        stubs.sandbox.Exec(req, timeout=30)
    assert raw.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - start < 8
    assert not afe2e.wait_until(lambda: afe2e.processes_matching(SLEEP, daemon.pid, sb.id))

    with pytest.raises(af.CommandTimeoutError) as ei:
        client.exec(sb.id, cmd, timeout=1)
    assert (ei.value.command, ei.value.timeout) == (cmd, 1)
    # The sandbox survives its command's timeout.
    assert client.exec(sb.id, "echo alive").stdout == "alive\n"


def test_destroy_leaves_nothing_behind(client, res, daemon):
    cb = res.codebase({"d/f": b"x"})
    sb = res.sandbox(cb.id, preset="full-access")
    assert client.exec(sb.id, "echo data > d/new.txt && echo t > /tmp/t").exit_code == 0
    bg = Background(client.exec_stream(sb.id, "sleep 1000", timeout=120))
    assert not afe2e.wait_until(
        lambda: not afe2e.processes_matching(["sleep", "1000"], daemon.pid, sb.id))
    # The checks below must be able to see a live sandbox's traces.
    assert afe2e.sandbox_processes(sb.id), "no process found in the sandbox's cgroup"
    assert afe2e.cgroup_dirs(sb.id), "no cgroup named after the sandbox"
    assert afe2e.dirs_named(sb.id, [(daemon.state_dir, True)]), "no sandbox dir in state"
    try:
        client.destroy_sandbox(sb.id)
        left = afe2e.wait_until(lambda: afe2e.leftovers(sb.id, daemon))
        assert not left, f"left behind after destroy: {left}"
        assert bg.join(10), "the running command's stream did not end on destroy"
        assert bg.error is not None   # the command never finished normally
    finally:
        afe2e.reap(sb.id)


def test_shutdown_stops_everything_and_restart_keeps_state(client, res, daemon):
    cb = res.codebase({"keep.bin": bytes(range(256)), "d/f": b"x"})
    sb = res.sandbox(cb.id, preset="full-access")
    assert client.exec(sb.id, "echo delta > d/w.txt").exit_code == 0
    bg = Background(client.exec_stream(sb.id, "sleep 1000", timeout=120))
    assert not afe2e.wait_until(
        lambda: not afe2e.processes_matching(["sleep", "1000"], daemon.pid, sb.id))

    start = time.monotonic()
    rc = daemon.stop()
    stop_secs = time.monotonic() - start
    try:
        assert rc == 0, f"exit status {rc} on SIGTERM:\n{daemon.log_tail()}"
        assert stop_secs < 15
        left = afe2e.wait_until(lambda: afe2e.leftovers(sb.id, daemon, dirs=False))
        assert not left, f"left behind after shutdown: {left}"
        assert not afe2e.mounts_mentioning(daemon.tmp)
        assert not afe2e.wait_until(
            lambda: afe2e.processes_with_env(daemon.marker_name, daemon.marker_value))
        assert bg.join(10)
    finally:
        afe2e.reap(sb.id)
        daemon.start()

    with af.SandboxClient(daemon.endpoint) as fresh:
        assert fresh.download_file(cb.id, "keep.bin") == bytes(range(256))
        info = fresh.get_sandbox(sb.id)
        assert info.status is af.SandboxStatus.STOPPED, info
        fresh.start_sandbox(sb.id)
        assert fresh.exec(sb.id, "cat d/w.txt").stdout == "delta\n"
