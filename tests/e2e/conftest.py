"""End-to-end fixtures: one real agentfensed for the session, SDK and raw clients.

The whole suite is skipped, with the reason printed, when not running as root
or when the daemon binary ($AF_BUILD_DIR/src/agentfensed, AF_BUILD_DIR
defaulting to /work/main/build) is missing.  Nothing else skips it.
"""

import types

import grpc
import pytest

import afe2e  # first: this checkout's SDK
import afsuite
import agentfense as af
from agentfense._proto.sandbox.v1 import (codebase_pb2_grpc, sandbox_pb2_grpc,
                                          server_pb2_grpc)


@pytest.fixture(scope="session")
def daemon():
    reason = afsuite.skip_reason("e2e tests")
    if reason:
        pytest.skip(reason)
    with afsuite.serving(afe2e.Daemon()) as d:
        yield d


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
