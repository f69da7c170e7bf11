"""The Python SDK overview's examples, as written, plus Sandbox's cleanup promises."""

import pytest

import agentfense as af
from agentfense import (CommandExecutionError, Permission, PermissionRule,
                        Sandbox, SandboxNotRunningError)


@pytest.fixture
def project(tmp_path):
    root = tmp_path / "my-project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "main.py").write_text("print('hi')\n")
    (root / "README.md").write_text("# project\n")
    (root / ".env").write_text("TOKEN=hunter2\n")
    (root / "secrets").mkdir()
    (root / "secrets" / "api.key").write_text("k\n")
    (root / "output").mkdir()
    (root / "output" / ".keep").write_text("")
    return root


@pytest.fixture
def endpoint(daemon, monkeypatch):
    # The examples name no endpoint: they reach the daemon through the environment.
    monkeypatch.setenv("AGENTFENSE_ENDPOINT", daemon.endpoint)
    return daemon.endpoint


def codebase_ids(endpoint):
    with af.SandboxClient(endpoint) as c:
        return {cb.id for cb in c.list_codebases()}


def sandbox_ids(endpoint):
    with af.SandboxClient(endpoint) as c:
        return {s.id for s in c.list_sandboxes()}


def test_minimal_example(project, endpoint, monkeypatch):
    before = codebase_ids(endpoint)
    monkeypatch.chdir(project.parent)
    with Sandbox.from_local("./my-project") as sandbox:
        result = sandbox.run("ls -la")
        print(result.stdout)
        assert result.exit_code == 0, result.stderr
        for name in ["README.md", "src", ".env", "secrets", "output"]:
            assert name in result.stdout.split()
        assert sandbox.info.permissions == af.get_preset("view-only")
        sid, cid = sandbox.id, sandbox.codebase_id
    assert codebase_ids(endpoint) == before
    assert sid not in sandbox_ids(endpoint) and cid not in codebase_ids(endpoint)


def test_custom_permissions_example(project, endpoint):
    with Sandbox.from_local(
        str(project),
        preset="read-only",
        permissions=[
            PermissionRule(pattern="/output/**", permission=Permission.WRITE),
            PermissionRule(pattern="/secrets/**", permission=Permission.NONE),
        ]
    ) as sandbox:
        assert sandbox.run("cat src/main.py").stdout == "print('hi')\n"
        assert sandbox.run("echo done > output/result.txt").exit_code == 0
        assert sandbox.run("cat output/result.txt").stdout == "done\n"
        assert sandbox.run("echo no > src/main.py").exit_code != 0
        r = sandbox.run("cat secrets/api.key")
        assert r.exit_code != 0 and "No such file" in r.stderr


def test_agent_safe_example(project, endpoint):
    with Sandbox.from_local(str(project), preset="agent-safe") as sandbox:
        listing = sandbox.run("ls -A /workspace").stdout.split()
        assert ".env" not in listing and "secrets" not in listing
        assert "README.md" in listing
        r = sandbox.run("cat .env")
        assert r.exit_code != 0 and "No such file" in r.stderr
        assert sandbox.run("echo r > output/r.txt").exit_code == 0


def test_error_handling_example(project, endpoint):
    with pytest.raises(CommandExecutionError) as ei:
        with Sandbox.from_local(str(project)) as sandbox:
            sandbox.run("echo failing >&2; exit 2", timeout=60, raise_on_error=True)
    assert ei.value.exit_code == 2 and ei.value.stderr == "failing\n"

    with Sandbox.from_local(str(project)) as sandbox:
        sandbox.stop()
        with pytest.raises(SandboxNotRunningError) as ei:
            sandbox.run("ls")
        assert ei.value.current_status == "stopped"


def test_cleanup_on_keyboard_interrupt(project, endpoint):
    before_cb, before_sb = codebase_ids(endpoint), sandbox_ids(endpoint)
    with pytest.raises(KeyboardInterrupt):
        with Sandbox.from_local(str(project)) as sandbox:
            assert sandbox.status is af.SandboxStatus.RUNNING
            raise KeyboardInterrupt
    assert codebase_ids(endpoint) == before_cb
    assert sandbox_ids(endpoint) == before_sb


def test_from_local_failure_removes_what_it_created(project, endpoint):
    before_cb, before_sb = codebase_ids(endpoint), sandbox_ids(endpoint)
    with pytest.raises(af.InvalidConfigurationError) as ei:
        Sandbox.from_local(str(project), permissions=[PermissionRule("/bad[")])
    assert ei.value.code is not None   # rejected by the server, after the upload
    assert codebase_ids(endpoint) == before_cb
    assert sandbox_ids(endpoint) == before_sb


def test_manual_low_level_flow(project, endpoint):
    client = af.SandboxClient("localhost:" + endpoint.rsplit(":", 1)[1])
    cb = client.create_codebase(name="shared-repo", owner_id="team_A")
    try:
        client.upload_file(cb.id, "main.py", b"print('Hello, World!')")
        sandbox1 = client.create_sandbox(cb.id, permissions=[{"pattern": "**/*.py",
                                                             "permission": "read"}])
        client.start_sandbox(sandbox1.id)
        result = client.exec(sandbox1.id, command="cat main.py")
        assert result.stdout == "print('Hello, World!')"
        client.destroy_sandbox(sandbox1.id)
    finally:
        client.delete_codebase(cb.id)
        client.close()
