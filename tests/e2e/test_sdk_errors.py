"""Every SDK exception, provoked for real against the daemon, with its
attributes and the gRPC status code it carries (streams included)."""

import asyncio
import socket

import grpc
import pytest

import agentfense as af

C = grpc.StatusCode
BOGUS_SB, BOGUS_CB, BOGUS_SESS = ("sb_00000000000000ff", "cb_00000000000000ff",
                                  "sess_00000000000000ff")


@pytest.fixture
def project(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print('hi')\n")
    (tmp_path / ".env").write_text("S=1\n")
    return tmp_path


@pytest.fixture
def box(project, daemon):
    with af.Sandbox.from_local(project, preset="agent-safe", endpoint=daemon.endpoint) as sb:
        yield sb


def test_command_timeout(box):
    with pytest.raises(af.CommandTimeoutError) as ei:
        box.run("sleep 30", timeout=1)
    e = ei.value
    assert (e.command, e.timeout, e.code) == ("sleep 30", 1, C.DEADLINE_EXCEEDED)
    assert box.run("echo alive").stdout == "alive\n"   # the sandbox survives


def test_command_timeout_in_a_stream(box):
    with pytest.raises(af.CommandTimeoutError) as ei:
        for _ in box.exec_stream("echo start; sleep 30", timeout=1):
            pass
    assert ei.value.command == "echo start; sleep 30" and ei.value.timeout == 1


def test_command_execution_error(box):
    with pytest.raises(af.CommandExecutionError) as ei:
        box.run("echo out; echo err >&2; exit 5", raise_on_error=True)
    e = ei.value
    assert (e.command, e.exit_code, e.stdout, e.stderr) == \
        ("echo out; echo err >&2; exit 5", 5, "out\n", "err\n")
    assert e.code is None                       # raised by the SDK, not the server
    assert box.run("exit 5").exit_code == 5    # not raised unless asked


def test_permission_denied(project, daemon):
    with af.Sandbox.from_local(project, endpoint=daemon.endpoint) as sb:   # view-only
        with pytest.raises(af.PermissionDeniedError) as ei:
            sb.read_file("src/main.py")
        assert (ei.value.path, ei.value.operation, ei.value.code) == \
            ("/src/main.py", "read", C.PERMISSION_DENIED)
        with pytest.raises(af.PermissionDeniedError) as ei:
            sb.write_file("/src/new.py", "x = 1\n")
        assert (ei.value.path, ei.value.operation) == ("/src/new.py", "write")


def test_sandbox_not_running(project, daemon):
    with af.Sandbox.from_local(project, endpoint=daemon.endpoint, auto_start=False) as sb:
        with pytest.raises(af.SandboxNotRunningError) as ei:
            sb.run("ls")
        assert ei.value.current_status is af.SandboxStatus.PENDING
        assert ei.value.sandbox_id == sb.id and ei.value.code is C.FAILED_PRECONDITION
        sb.start()
        sb.stop()
        for call in (lambda: sb.run("ls"), lambda: list(sb.exec_stream("ls")),
                     lambda: sb.session(), lambda: sb.read_file("src/main.py"),
                     lambda: sb.list_files(), lambda: sb.changes(), lambda: sb.commit()):
            with pytest.raises(af.SandboxNotRunningError) as ei:
                call()
            assert ei.value.current_status is af.SandboxStatus.STOPPED


def test_sandbox_not_found(client, daemon):
    with pytest.raises(af.SandboxNotFoundError) as ei:
        client.get_sandbox(BOGUS_SB)
    assert (ei.value.sandbox_id, ei.value.code) == (BOGUS_SB, C.NOT_FOUND)
    with pytest.raises(af.SandboxNotFoundError):
        af.Sandbox.connect(BOGUS_SB, endpoint=daemon.endpoint)
    with pytest.raises(af.SandboxNotFoundError):
        list(client.exec_stream(BOGUS_SB, "ls"))
    with pytest.raises(af.SandboxNotFoundError):
        client.read_sandbox_file(BOGUS_SB, "/x")


def test_codebase_not_found(client, daemon):
    with pytest.raises(af.CodebaseNotFoundError) as ei:
        client.get_codebase(BOGUS_CB)
    assert (ei.value.codebase_id, ei.value.code) == (BOGUS_CB, C.NOT_FOUND)
    with pytest.raises(af.CodebaseNotFoundError):
        af.Sandbox.from_codebase(BOGUS_CB, endpoint=daemon.endpoint)
    with pytest.raises(af.CodebaseNotFoundError):
        client.download_file(BOGUS_CB, "x")


def test_file_not_found(box, client):
    with pytest.raises(af.FileNotFoundError) as ei:
        client.download_file(box.codebase_id, "nope.txt")
    assert (ei.value.codebase_id, ei.value.file_path) == (box.codebase_id, "nope.txt")
    # A hidden file does not exist for the sandbox, exactly like a missing one.
    for path in ("/.env", "/nope.txt"):
        with pytest.raises(af.FileNotFoundError) as ei:
            box.read_file(path)
        assert (ei.value.sandbox_id, ei.value.path) == (box.id, path)


def test_session_not_found(client):
    for call in (lambda: client.get_session(BOGUS_SESS),
                 lambda: client.session_exec(BOGUS_SESS, "true"),
                 lambda: list(client.session_exec_stream(BOGUS_SESS, "true")),
                 lambda: client.destroy_session(BOGUS_SESS)):
        with pytest.raises(af.SessionNotFoundError) as ei:
            call()
        assert (ei.value.session_id, ei.value.code) == (BOGUS_SESS, C.NOT_FOUND)


def test_session_closed(box):
    s = box.session()
    assert s.exec("exit 3").exit_code == 3       # the shell exits: session closed
    with pytest.raises(af.SessionClosedError) as ei:
        s.exec("true")
    assert (ei.value.session_id, ei.value.code) == (s.id, C.FAILED_PRECONDITION)
    with box.session() as t:
        pass                                     # destroyed on leaving the block
    with pytest.raises(af.SessionClosedError):
        t.exec("true")
    with pytest.raises(af.SessionClosedError):
        list(t.exec_stream("true"))


def test_session_timeout_keeps_the_session(box):
    with box.session() as s:
        s.exec("export KEEP=1")
        with pytest.raises(af.CommandTimeoutError) as ei:
            s.exec("sleep 30", timeout=1)
        assert ei.value.command == "sleep 30"
        assert s.exec("echo $KEEP").stdout == "1\n"


def test_connection_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for endpoint in (f"127.0.0.1:{port}", "unix:///nonexistent/agentfense.sock"):
        with af.SandboxClient(endpoint, timeout=5) as c:
            with pytest.raises(af.ConnectionError) as ei:
                c.health()
        assert ei.value.endpoint == endpoint and ei.value.code is C.UNAVAILABLE


def test_invalid_configuration(client, project, daemon):
    cb = client.create_codebase("e2e-bad", owner_id="e2e")
    try:
        with pytest.raises(af.InvalidConfigurationError) as ei:
            client.create_sandbox(cb.id, permissions=[af.PermissionRule("/a[")])
        assert ei.value.code is C.INVALID_ARGUMENT and "/a[" in ei.value.details
    finally:
        client.delete_codebase(cb.id)
    with pytest.raises(af.InvalidConfigurationError) as ei:
        af.SandboxClient("not an endpoint")
    assert ei.value.code is None
    with pytest.raises(af.InvalidConfigurationError):
        af.Sandbox.from_local(project, preset="no-such-preset", endpoint=daemon.endpoint)


def test_resource_limit_exceeded(client):
    cb = client.create_codebase("e2e-limits", owner_id="e2e")
    try:
        limit = client.get_upload_limits().max_file_size
        with pytest.raises(af.ResourceLimitExceededError) as ei:
            client.upload_file(cb.id, "huge.bin", b"", total_size=limit + 1)
        assert ei.value.code is C.RESOURCE_EXHAUSTED
    finally:
        client.delete_codebase(cb.id)


def test_commit_conflict(project, daemon, client):
    with af.Sandbox.from_local(project, preset="full-access", endpoint=daemon.endpoint) as a:
        with af.Sandbox.from_codebase(a.codebase_id, preset="full-access",
                                      endpoint=daemon.endpoint) as b:
            a.write_file("src/main.py", "print('a')\n")
            b.write_file("src/main.py", "print('b')\n")
            b.write_file("src/other.py", "x = 1\n")
            a.commit()
            with pytest.raises(af.CommitConflictError) as ei:
                b.commit()
            e = ei.value
            assert (e.sandbox_id, e.paths, e.code) == (b.id, ["/src/main.py"], C.ABORTED)
            # Nothing of b's commit landed.
            assert client.download_file(a.codebase_id, "src/main.py") == b"print('a')\n"
            with pytest.raises(af.FileNotFoundError):
                client.download_file(a.codebase_id, "src/other.py")


def test_all_errors_share_one_base_with_an_enum_code(box):
    with pytest.raises(af.AgentFenseError) as ei:
        box.run("sleep 5", timeout=1)
    assert isinstance(ei.value.code, grpc.StatusCode) and ei.value.grpc_code is ei.value.code


def test_async_errors(project, daemon):
    async def main():
        async with await af.AsyncSandbox.from_local(project, preset="agent-safe",
                                                    endpoint=daemon.endpoint) as sb:
            with pytest.raises(af.CommandTimeoutError):
                await sb.run("sleep 30", timeout=1)
            with pytest.raises(af.CommandTimeoutError):
                async for _ in sb.exec_stream("sleep 30", timeout=1):
                    pass
            with pytest.raises(af.CommandExecutionError):
                await sb.run("exit 4", raise_on_error=True)
            with pytest.raises(af.FileNotFoundError):
                await sb.read_file(".env")
            with pytest.raises(af.PermissionDeniedError):
                await sb.write_file("src/x.py", "x")
            async with sb.session() as s:
                await s.exec("exit 1")
                with pytest.raises(af.SessionClosedError):
                    await s.exec("true")
            await sb.stop()
            with pytest.raises(af.SandboxNotRunningError) as ei:
                await sb.run("ls")
            assert ei.value.current_status is af.SandboxStatus.STOPPED
            with pytest.raises(af.SandboxNotRunningError) as ei:
                async for _ in sb.exec_stream("ls"):
                    pass
            assert ei.value.current_status is af.SandboxStatus.STOPPED
        async with af.AsyncSandboxClient(daemon.endpoint) as c:
            with pytest.raises(af.SandboxNotFoundError):
                await c.get_sandbox(BOGUS_SB)
            with pytest.raises(af.SessionNotFoundError):
                await c.get_session(BOGUS_SESS)
            with pytest.raises(af.CodebaseNotFoundError):
                await c.get_codebase(BOGUS_CB)
        async with af.AsyncSandboxClient("unix:///nonexistent/x.sock", timeout=5) as c:
            with pytest.raises(af.ConnectionError):
                await c.health()

    asyncio.run(main())
