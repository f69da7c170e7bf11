"""End-to-end fixtures: one real agentfensed for the session, SDK and raw clients.

The whole suite is skipped, with the reason printed, when not running as root
or when the daemon binary ($AF_BUILD_DIR/src/agentfensed, AF_BUILD_DIR
defaulting to /work/main/build) is missing.  Nothing else skips it.
"""

import os
import pathlib
import subprocess
import sys
import types
import warnings

ROOT = pathlib.Path(__file__).resolve().parents[2]
SDK = ROOT / "sdk" / "python"
if not (SDK / "agentfense" / "_proto" / "sandbox" / "v1" / "sandbox_pb2.py").exists():
    subprocess.run([sys.executable, str(SDK / "gen_proto.py")], check=True)
sys.path.insert(0, str(SDK))

import grpc  # noqa: E402
import pytest  # noqa: E402

import afe2e  # noqa: E402
import agentfense as af  # noqa: E402
from agentfense._proto.sandbox.v1 import (codebase_pb2_grpc,  # noqa: E402
                                          sandbox_pb2_grpc, server_pb2_grpc)


def _skip_reason():
    if os.geteuid() != 0:
        return "e2e tests need root (the daemon creates namespaces, cgroups and mounts)"
    if not os.access(afe2e.daemon_binary(), os.X_OK):
        return (f"daemon binary {afe2e.daemon_binary()} is missing: build the agentfensed "
                "and agentfense-init targets, or point AF_BUILD_DIR at a build")
    return None


def _shutdown_findings(d: afe2e.Daemon, sandbox_ids) -> dict:
    found = {}
    for sb in sandbox_ids:
        # Stopped sandboxes keep their directory (delta) for a restart.
        left = afe2e.wait_until(lambda: afe2e.leftovers(sb, d, dirs=False))
        if left:
            found[sb] = left
    mounts = afe2e.mounts_mentioning(d.tmp)
    if mounts:
        found["mounts under the temp dir"] = mounts
    procs = afe2e.wait_until(lambda: afe2e.processes_with_env(d.marker_name, d.marker_value))
    if procs:
        found["processes with the daemon's environment"] = {p: afe2e.cmdline(p) for p in procs}
    return found


@pytest.fixture(scope="session")
def daemon():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    others = afe2e.other_daemons()
    if others:
        warnings.warn(f"other agentfensed processes are running ({others}); daemons share "
                      "the host's agentfense cgroup subtree and may disturb each other")
    d = afe2e.Daemon()
    try:
        d.start()
    except BaseException:
        d.kill()
        d.remove()
        raise
    yield d
    sandbox_ids = []
    if d.running():
        with af.SandboxClient(d.endpoint) as c:
            try:
                sandbox_ids = [s.id for s in c.list_sandboxes()]
            except af.AgentFenseError:
                pass
    rc = d.stop()
    found = _shutdown_findings(d, sandbox_ids)
    log = d.log_tail()
    for sb in sandbox_ids:
        afe2e.reap(sb)
    d.remove()
    assert rc == 0, f"agentfensed exited with {rc} on SIGTERM:\n{log}"
    assert not found, f"left behind after daemon shutdown: {found}"


@pytest.fixture(autouse=True)
def _needs_daemon(daemon):
    """Every e2e test runs against the daemon (or is skipped with its reason)."""


# Per test, not per session: a test may restart the daemon, and a fresh
# channel does not inherit the old one's reconnect back-off.
@pytest.fixture
def client(daemon):
    with af.SandboxClient(daemon.endpoint) as c:
        yield c


@pytest.fixture
def stubs(daemon):
    """Raw gRPC stubs, to assert the server's exact status codes."""
    with grpc.insecure_channel(daemon.endpoint) as ch:
        yield types.SimpleNamespace(
            sandbox=sandbox_pb2_grpc.SandboxServiceStub(ch),
            codebase=codebase_pb2_grpc.CodebaseServiceStub(ch),
            server=server_pb2_grpc.ServerServiceStub(ch))


class Resources:
    """Codebases and sandboxes a test creates, removed after it (sandboxes first)."""

    def __init__(self, client: af.SandboxClient) -> None:
        self.client = client
        self.codebases = []
        self.sandboxes = []

    def codebase(self, files=None, name="e2e") -> af.Codebase:
        cb = self.client.create_codebase(name, owner_id="e2e")
        self.codebases.append(cb.id)
        for path, content in (files or {}).items():
            self.client.upload_file(cb.id, path, content)
        return cb

    def sandbox(self, codebase_id, preset="read-only", permissions=None,
                start=True, **kw) -> af.SandboxInfo:
        sb = self.client.create_sandbox(codebase_id, permissions=permissions,
                                        preset=preset, **kw)
        self.sandboxes.append(sb.id)
        return self.client.start_sandbox(sb.id) if start else sb

    def cleanup(self) -> None:
        # A fresh channel: the test may have restarted the daemon.
        with af.SandboxClient(self.client.endpoint) as c:
            for sb in self.sandboxes:
                try:
                    c.destroy_sandbox(sb)
                except af.SandboxNotFoundError:
                    pass
            for cb in self.codebases:
                try:
                    c.delete_codebase(cb)
                except af.CodebaseNotFoundError:
                    pass


@pytest.fixture
def res(client):
    r = Resources(client)
    yield r
    r.cleanup()


def status_of(call, *args, **kw) -> grpc.StatusCode:
    """The status code a raw stub call ends with (OK when it succeeds)."""
    try:
        result = call(*args, **kw)
        if hasattr(result, "__iter__") and not hasattr(result, "SerializeToString"):
            list(result)   # server streams report errors while being read
        return grpc.StatusCode.OK
    except grpc.RpcError as err:
        return err.code()


@pytest.fixture
def code_of():
    return status_of


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the daemon's recent log to a failing test's report."""
    outcome = yield
    rep = outcome.get_result()
    d = item.funcargs.get("daemon") if hasattr(item, "funcargs") else None
    if rep.failed and isinstance(d, afe2e.Daemon):
        rep.sections.append(("agentfensed log (tail)", d.log_tail()))
