"""The Python SDK overview's examples (../shared/spec/python-sdk-overview.txt),
run as written: each example's text is executed as is, from a directory
holding the projects it names, against the e2e daemon (reached through
$AGENTFENSE_ENDPOINT, as the examples name no endpoint; the low-level one
names localhost:9000 and gets a daemon there). The Docker example runs in
test_docker.py. The "Before AgentFense SDK" block is pseudo-code (it calls
os.walk(...) and create_codebase(...) with elisions) and cannot run as is.
"""

import contextlib
import io
import socket
import textwrap
import time

import pytest

import afe2e
import agentfense as af
from agentfense import (CommandExecutionError, Permission, PermissionRule,
                        Sandbox, SandboxNotRunningError)

TLDR = '''
from agentfense import Sandbox
# One line: upload files, set permissions, start sandbox, auto-cleanup
with Sandbox.from_local("./my-project", preset="agent-safe") as sandbox:
    result = sandbox.run("python analyze.py")
'''

THREE_LINES = '''
# 3 lines: upload, execute, cleanup
with Sandbox.from_local("./project", preset="agent-safe") as sandbox:
    result = sandbox.run("make test")
'''

HIGH_LEVEL_SYNC = '''
from agentfense import Sandbox
with Sandbox.from_local("./my-project") as sandbox:
    result = sandbox.run("pytest")
    print(result.stdout)
'''

HIGH_LEVEL_ASYNC = '''
from agentfense import AsyncSandbox
import asyncio
async def run_tests():
    async with await AsyncSandbox.from_local("./project") as sandbox:
        result = await sandbox.run("pytest")
        return result.stdout
asyncio.run(run_tests())
'''

LOW_LEVEL = '''
from agentfense import SandboxClient
client = SandboxClient(endpoint="localhost:9000")
# Create codebase once
codebase = client.create_codebase(name="shared-repo", owner_id="team_A")
# Upload files manually
client.upload_file(codebase.id, "main.py", b"...")
# Create multiple sandboxes from same codebase
sandbox1 = client.create_sandbox(codebase.id, permissions=[...])
sandbox2 = client.create_sandbox(codebase.id, permissions=[...])
# Explicit lifecycle
client.start_sandbox(sandbox1.id)
result = client.exec(sandbox1.id, command="python main.py")
client.destroy_sandbox(sandbox1.id)
'''

MINIMAL = '''
from agentfense import Sandbox
# Simplest possible usage
with Sandbox.from_local("./my-project") as sandbox:
    result = sandbox.run("ls -la")
    print(result.stdout)
'''

CUSTOM_PERMISSIONS = '''
from agentfense import Sandbox, PermissionRule, Permission
with Sandbox.from_local(
    "./my-project",
    preset="read-only",
    permissions=[
        PermissionRule(pattern="/output/**", permission=Permission.WRITE),
        PermissionRule(pattern="/secrets/**", permission=Permission.NONE),
    ]
) as sandbox:
    result = sandbox.run("python process.py")
'''

SESSION = '''
with Sandbox.from_local("./my-project") as sandbox:
    with sandbox.session() as session:
        # All these commands run in the same shell process
        session.exec("cd /workspace/backend")
        session.exec("source venv/bin/activate")
        session.exec("export DEBUG=1")
        result = session.exec("python manage.py test")
        print(result.stdout)
'''

ASYNC_TEN = '''
import asyncio
from agentfense import AsyncSandbox
async def run_in_sandbox(project_path):
    async with await AsyncSandbox.from_local(project_path) as sandbox:
        return await sandbox.run("make test")
async def main():
    projects = [f"./project-{i}" for i in range(10)]
    tasks = [run_in_sandbox(p) for p in projects]
    results = await asyncio.gather(*tasks)
    for i, result in enumerate(results):
        print(f"Project {i}: {result.exit_code}")
asyncio.run(main())
'''

ERRORS = '''
from agentfense import (
    Sandbox,
    CommandTimeoutError,
    CommandExecutionError,
    PermissionDeniedError,
    SandboxNotRunningError,
)
try:
    with Sandbox.from_local("./project") as sandbox:
        result = sandbox.run("make build", timeout=60, raise_on_error=True)
except CommandTimeoutError as e:
    # Command took > 60 seconds
    print(f"Timed out: {e.command}")
except CommandExecutionError as e:
    # Non-zero exit code
    print(f"Failed with code {e.exit_code}: {e.stderr}")
except PermissionDeniedError as e:
    # Tried to access blocked file
    print(f"Permission denied: {e.path}")
except SandboxNotRunningError as e:
    # Sandbox not started or already stopped
    print(f"Sandbox not running: {e.current_status}")
'''

ANALYZE = '''\
import os
print("files:", sorted(os.listdir(".")))
try:
    open(".env").read()
    print(".env readable")
except OSError as e:
    print(".env blocked:", e.strerror)
'''

PROCESS = '''\
import os
open("output/result.txt", "w").write("processed\\n")
print("secrets visible" if os.path.exists("secrets") else "secrets hidden")
'''


def make_project(root):
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.py").write_text("print('hi')\n")
    (root / "README.md").write_text("# project\n")
    (root / ".env").write_text("TOKEN=hunter2\n")
    (root / "secrets").mkdir()
    (root / "secrets" / "api.key").write_text("k\n")
    (root / "output").mkdir()
    (root / "analyze.py").write_text(ANALYZE)
    (root / "process.py").write_text(PROCESS)
    (root / "Makefile").write_text("test:\n\t@python -c \"print('tests pass')\"\n"
                                   "build:\n\t@echo building; exit 3\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_ok.py").write_text("def test_ok():\n    assert True\n")
    (root / "backend" / "venv" / "bin").mkdir(parents=True)
    (root / "backend" / "venv" / "bin" / "activate").write_text(
        "export VIRTUAL_ENV=/workspace/backend/venv\n")
    (root / "backend" / "manage.py").write_text("print('manage: tests ok')\n")
    return root


@pytest.fixture
def workdir(tmp_path, daemon, monkeypatch):
    """A directory holding my-project, project and project-0..9; the
    examples run from it and reach the daemon through the environment."""
    make_project(tmp_path / "my-project")
    make_project(tmp_path / "project")
    for i in range(10):
        make_project(tmp_path / f"project-{i}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AGENTFENSE_ENDPOINT", daemon.endpoint)
    return tmp_path


def run_example(source, ns=None):
    """Execute an example's text; returns (namespace, what it printed)."""
    ns = {} if ns is None else ns
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(textwrap.dedent(source), "<spec example>", "exec"), ns)
    return ns, out.getvalue()


def server_state(endpoint):
    with af.SandboxClient(endpoint) as c:
        return ({s.id for s in c.list_sandboxes()}, {cb.id for cb in c.list_codebases()})


@pytest.fixture
def nothing_left(daemon):
    """The examples clean up after themselves: nothing is left on the server."""
    before = server_state(daemon.endpoint)
    yield
    assert server_state(daemon.endpoint) == before


def test_tldr_agent_safe(workdir, nothing_left):
    ns, _ = run_example(TLDR)
    r = ns["result"]
    assert r.exit_code == 0, r.stderr
    # .env and secrets/ are invisible; the rest readable.
    assert "'.env'" not in r.stdout and "'secrets'" not in r.stdout
    assert "'analyze.py'" in r.stdout and ".env blocked: No such file" in r.stdout


def test_three_lines_make_test(workdir, nothing_left):
    ns, _ = run_example(THREE_LINES, {"Sandbox": Sandbox})
    assert ns["result"].exit_code == 0 and ns["result"].stdout == "tests pass\n"


def test_high_level_sync_pytest(workdir, nothing_left):
    ns, out = run_example(HIGH_LEVEL_SYNC)
    # view-only: pytest sees the tree but reads nothing, and says so.
    assert "test session starts" in out and out == ns["result"].stdout + "\n"


def test_high_level_async_pytest(workdir, nothing_left):
    import asyncio

    ns, _ = run_example(HIGH_LEVEL_ASYNC)
    assert "test session starts" in asyncio.run(ns["run_tests"]())


def _free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Port9000Daemon(afe2e.Daemon):
    def __init__(self):
        super().__init__()
        self.port = 9000
        self.endpoint = "127.0.0.1:9000"


@pytest.fixture
def daemon_9000(daemon):
    if not _free(9000):
        pytest.skip("port 9000 is in use: the low-level example names localhost:9000")
    d = Port9000Daemon()
    d.start()
    yield d
    rc = d.stop()
    d.remove()
    assert rc == 0


def test_low_level_client(workdir, daemon_9000):
    ns, _ = run_example(LOW_LEVEL)
    client, cb = ns["client"], ns["codebase"]
    # `[...]` is a placeholder: no rule, so nothing is visible (fail closed).
    assert ns["result"].exit_code != 0 and "main.py" in ns["result"].stderr
    assert client.download_file(cb.id, "main.py") == b"..."
    ids = {s.id for s in client.list_sandboxes()}
    assert ns["sandbox2"].id in ids and ns["sandbox1"].id not in ids
    client.destroy_sandbox(ns["sandbox2"].id)
    client.delete_codebase(cb.id)
    client.close()


def test_minimal(workdir, nothing_left):
    ns, out = run_example(MINIMAL)
    names = ns["result"].stdout.split()
    for name in ["README.md", "src", ".env", "secrets", "output"]:
        assert name in names
    assert out == ns["result"].stdout + "\n"


def test_custom_permissions(workdir, nothing_left):
    ns, _ = run_example(CUSTOM_PERMISSIONS)
    assert ns["result"].exit_code == 0, ns["result"].stderr
    assert ns["result"].stdout == "secrets hidden\n"


def test_session(workdir, nothing_left):
    ns, out = run_example(SESSION, {"Sandbox": Sandbox})
    # view-only: manage.py is visible, not readable; the shell kept its
    # state between commands (cwd, exported variable) all the same.
    assert "manage.py" in ns["result"].stderr
    session = ns["session"]
    assert session.status is af.SessionStatus.CLOSED
    assert out == ns["result"].stdout + "\n"


def test_session_state_is_kept(workdir):
    with Sandbox.from_local("./my-project", preset="full-access") as sandbox:
        with sandbox.session() as session:
            session.exec("cd /workspace/backend")
            session.exec("source venv/bin/activate")
            session.exec("export DEBUG=1")
            result = session.exec("python manage.py test")
            assert result.stdout == "manage: tests ok\n"
            r = session.exec('pwd; echo "$VIRTUAL_ENV $DEBUG"')
            assert r.stdout == "/workspace/backend\n/workspace/backend/venv 1\n"


def test_ten_sandboxes_concurrently(workdir, nothing_left):
    t = time.monotonic()
    _, out = run_example(ASYNC_TEN)
    elapsed = time.monotonic() - t
    lines = out.splitlines()
    assert lines == [f"Project {i}: {lines[i].split(': ')[1]}" for i in range(10)]
    # view-only: make sees the Makefile but may not read it.
    assert {line.split(": ")[1] for line in lines} == {"2"}
    t = time.monotonic()
    with Sandbox.from_local("./project-0") as sandbox:
        sandbox.run("make test")
    one = time.monotonic() - t
    assert elapsed < 10 * one, (elapsed, one)   # they did overlap


def test_error_handling(workdir, nothing_left):
    _, out = run_example(ERRORS)
    assert out.startswith("Failed with code 2: make: ")


def test_error_handling_each_branch(workdir):
    with pytest.raises(CommandExecutionError) as ei:
        with Sandbox.from_local("./project", preset="read-only") as sandbox:
            sandbox.run("make build", timeout=60, raise_on_error=True)
    assert (ei.value.exit_code, ei.value.stdout) == (2, "building\n")
    with pytest.raises(af.CommandTimeoutError) as ei:
        with Sandbox.from_local("./project") as sandbox:
            sandbox.run("sleep 30", timeout=1, raise_on_error=True)
    assert (ei.value.command, ei.value.timeout) == ("sleep 30", 1)
    with pytest.raises(af.PermissionDeniedError) as ei:
        with Sandbox.from_local("./project") as sandbox:
            sandbox.read_file("/analyze.py")
    assert ei.value.path == "/analyze.py"
    with Sandbox.from_local("./project") as sandbox:
        sandbox.stop()
        with pytest.raises(SandboxNotRunningError) as ei:
            sandbox.run("ls")
        assert ei.value.current_status == "stopped"


def test_cleanup_on_keyboard_interrupt(workdir, nothing_left):
    with pytest.raises(KeyboardInterrupt):
        with Sandbox.from_local("./my-project") as sandbox:
            assert sandbox.status is af.SandboxStatus.RUNNING
            raise KeyboardInterrupt


def test_from_local_failure_removes_what_it_created(workdir, nothing_left):
    with pytest.raises(af.InvalidConfigurationError) as ei:
        Sandbox.from_local("./my-project", permissions=[PermissionRule("/bad[")])
    assert ei.value.code is not None   # rejected by the server, after the upload


def test_custom_permissions_semantics(workdir):
    with Sandbox.from_local(
        "./my-project",
        preset="read-only",
        permissions=[
            PermissionRule(pattern="/output/**", permission=Permission.WRITE),
            PermissionRule(pattern="/secrets/**", permission=Permission.NONE),
        ]
    ) as sandbox:
        assert sandbox.run("cat src/main.py").stdout == "print('hi')\n"
        assert sandbox.run("echo done > output/result.txt").exit_code == 0
        assert sandbox.read_file("/output/result.txt") == "done\n"
        assert sandbox.run("echo no > src/main.py").exit_code != 0
        r = sandbox.run("cat secrets/api.key")
        assert r.exit_code != 0 and "No such file" in r.stderr
