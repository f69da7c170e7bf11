"""SIGKILL the daemon mid-exec and mid-session; a restart reconciles."""

import signal
import threading
import time

import grpc
import pytest

import afe2e
import agentfense as af
from agentfense._proto.sandbox.v1 import sandbox_pb2 as pb
from agentfense._proto.sandbox.v1 import sandbox_pb2_grpc


def wait_for(pred, timeout=10.0):
    """Poll until pred() is truthy (afe2e.wait_until waits for falsy)."""
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.05)
    return pred()


@pytest.fixture
def own_daemon(daemon):   # `daemon`: skips like the rest of the suite
    d = afe2e.Daemon()
    d.start()
    yield d
    d.kill()
    d.remove()


def test_sigkill_mid_exec_then_restart(own_daemon):
    d = own_daemon
    c = af.SandboxClient(d.endpoint)
    cb = c.create_codebase("crash", "e2e")
    c.upload_file(cb.id, "src/main.py", b"print('hi')\n")
    sb = c.create_sandbox(cb.id, preset="full-access")
    c.start_sandbox(sb.id)
    c.exec(sb.id, "echo kept > /workspace/delta.txt")
    ch = grpc.insecure_channel(d.endpoint)
    stub = sandbox_pb2_grpc.SandboxServiceStub(ch)
    sess = stub.CreateSession(pb.CreateSessionRequest(sandbox_id=sb.id))
    errors = []

    def long_exec():
        try:
            stub.Exec(pb.ExecRequest(sandbox_id=sb.id, command="sleep 300"))
        except grpc.RpcError as e:
            errors.append(e.code())

    def long_session():
        try:
            stub.SessionExec(pb.SessionExecRequest(session_id=sess.id, command="sleep 300"))
        except grpc.RpcError as e:
            errors.append(e.code())

    threads = [threading.Thread(target=long_exec), threading.Thread(target=long_session)]
    for t in threads:
        t.start()
    # init, the session's shell and both sleeps (plus exec's sh, if any)
    assert wait_for(lambda: len(afe2e.sandbox_processes(sb.id)) >= 4)
    d.stop(signal.SIGKILL)
    for t in threads:
        t.join(10)
    assert len(errors) == 2   # both calls ended with the daemon

    # With the daemon dead, its sandboxes die with it: no process, no mount.
    assert not afe2e.wait_until(lambda: afe2e.sandbox_processes(sb.id), timeout=10)
    assert not afe2e.mounts_mentioning(d.state_dir)

    d.start()
    c = af.SandboxClient(d.endpoint)
    info = c.get_sandbox(sb.id)
    assert info.status == af.SandboxStatus.STOPPED
    # Reconciled: the stale cgroups are gone.
    assert not afe2e.cgroup_dirs(sb.id)
    # The codebase is intact, the delta too: restart and read it back.
    assert c.download_file(cb.id, "src/main.py") == b"print('hi')\n"
    c.start_sandbox(sb.id)
    assert c.exec(sb.id, "cat /workspace/delta.txt").stdout == "kept\n"
    c.destroy_sandbox(sb.id)
    c.delete_codebase(cb.id)
    ch.close()
    assert d.stop() == 0
    assert not afe2e.cgroup_dirs(sb.id)
