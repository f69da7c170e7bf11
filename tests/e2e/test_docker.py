"""The Docker runtime (RUNTIME_TYPE_DOCKER) against a real dockerd.

A private dockerd (tests/e2e/afdocker.py: own data root, exec root, pidfile
and socket; --iptables=false --bridge=none) is started for the module, the
test image is imported under the name the spec's example uses, and a daemon
of our own is pointed at it with --docker-host.  Both are stopped by pid at
the end.  The module is skipped, with the reason printed, only when Debian's
docker.io cannot be installed.
"""

import glob
import pathlib
import signal
import subprocess
import time

import grpc
import pytest

import afdocker
import afe2e
import agentfense as af
from agentfense import ResourceLimits, RuntimeType, Sandbox
from agentfense._proto.sandbox.v1 import common_pb2, sandbox_pb2, sandbox_pb2_grpc

MiB = 1 << 20
IMAGE = afdocker.IMAGE
DOCKER = common_pb2.RUNTIME_TYPE_DOCKER


class DockerAgentDaemon(afe2e.Daemon):
    def __init__(self, docker_host: str) -> None:
        super().__init__()
        self.docker_host = docker_host

    def command(self):
        return super().command() + ["--docker-host", self.docker_host]


def _start(d):
    try:
        d.start()
    except BaseException:
        d.kill()
        d.remove()
        raise
    return d


def _host_network_state():
    fwd = pathlib.Path("/proc/sys/net/ipv4/ip_forward").read_text().strip()
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    policy = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True,
                            text=True).stdout.splitlines()[:1]
    return fwd, "docker0" in links, policy


@pytest.fixture(scope="module")
def dockerd(daemon):
    reason = afdocker.ensure_installed()
    if reason:
        pytest.skip(reason)
    before = _host_network_state()
    d = afdocker.DockerDaemon().start()
    try:
        d.import_image()
        yield d
    finally:
        d.stop()
    assert _host_network_state() == before, "dockerd changed the host's network set-up"
    assert not glob.glob(f"/sys/fs/cgroup/*/{d.cgroup_parent}"), "dockerd's cgroups left"


@pytest.fixture(scope="module")
def ddaemon(dockerd):
    d = _start(DockerAgentDaemon(dockerd.host))
    yield d
    rc = d.stop()
    log = d.log_tail()
    d.remove()
    assert rc == 0, f"agentfensed exited with {rc}:\n{log}"
    left = dockerd.containers(f"agentfense.instance")
    assert not left, f"containers left after daemon shutdown: {left}"


@pytest.fixture
def dc(ddaemon):
    with af.SandboxClient(ddaemon.endpoint) as c:
        yield c


@pytest.fixture
def raw(ddaemon):
    with grpc.insecure_channel(ddaemon.endpoint) as ch:
        yield sandbox_pb2_grpc.SandboxServiceStub(ch)


@pytest.fixture
def made(dc, ddaemon, dockerd):
    """make(preset=..., resources=..., files=...) -> a started docker sandbox;
    all are destroyed after the test, leaving no container, process, cgroup
    or mount behind."""
    sandboxes, codebases = [], []

    def make(preset="agent-safe", resources=None, files=None, permissions=None):
        cb = dc.create_codebase("docker", owner_id="e2e")
        codebases.append(cb.id)
        for path, data in (files or {"hello.txt": b"hello\n"}).items():
            dc.upload_file(cb.id, path, data)
        sb = dc.create_sandbox(cb.id, preset=preset, permissions=permissions,
                               runtime=RuntimeType.DOCKER, image=IMAGE, resources=resources)
        sandboxes.append(sb.id)
        return dc.start_sandbox(sb.id)

    yield make
    for sb in sandboxes:
        dc.destroy_sandbox(sb)
    for cb in codebases:
        dc.delete_codebase(cb)
    for sb in sandboxes:
        assert not dockerd.containers(f"agentfense.sandbox={sb}"), f"container of {sb} left"
        left = afe2e.wait_until(lambda: afe2e.leftovers(sb, ddaemon))
        assert not left, f"{sb} left {left}"


def container_of(dockerd, sandbox_id):
    found = dockerd.containers(f"agentfense.sandbox={sandbox_id}")
    assert len(found) == 1, found
    status, info = dockerd.api("GET", f"/containers/{found[0]['Id']}/json")
    assert status == 200
    return info


# -- the spec's example ---------------------------------------------------------

def test_spec_docker_example_runs_as_written(ddaemon, dockerd, tmp_path, monkeypatch):
    project = tmp_path / "my-project"
    (project / "tests").mkdir(parents=True)
    (project / "tests" / "test_math.py").write_text("def test_add():\n    assert 1 + 1 == 2\n")
    (project / ".env").write_text("TOKEN=secret\n")
    monkeypatch.chdir(tmp_path)
    with Sandbox.from_local(
        "./my-project",
        preset="agent-safe",
        runtime=RuntimeType.DOCKER,
        image="python:3.11-slim",
        resources=ResourceLimits(
            memory_bytes=512 * 1024 * 1024,  # 512 MB
            pids_limit=100,
        ),
        endpoint=ddaemon.endpoint,
    ) as sandbox:
        result = sandbox.run("pytest -p no:cacheprovider", timeout=300)
        assert result.exit_code == 0, result.stdout + result.stderr
        assert "1 passed" in result.stdout
        info = container_of(dockerd, sandbox.id)
        host = info["HostConfig"]
        assert info["Config"]["Image"] == "python:3.11-slim"
        assert info["Config"]["Labels"]["agentfense.sandbox"] == sandbox.id
        assert info["Config"]["Labels"]["agentfense.codebase"] == sandbox.codebase_id
        assert host["NetworkMode"] == "none"
        assert host["CapDrop"] == ["ALL"]
        assert "no-new-privileges" in host["SecurityOpt"]
        assert host["ReadonlyRootfs"] is True
        assert "/tmp" in host["Tmpfs"]
        assert (host["Memory"], host["PidsLimit"]) == (512 * MiB, 100)
        sandbox_id = sandbox.id
    assert not dockerd.containers(f"agentfense.sandbox={sandbox_id}")


def test_memory_limit_kills_with_137_and_a_message(dc, made):
    sb = made(resources=ResourceLimits(memory_bytes=64 * MiB))
    r = dc.exec(sb.id, "python3 -c 'x = []\nwhile True: x.append(bytearray(8 << 20))'",
                timeout=60)
    assert r.exit_code == 137
    assert "memory limit (64 MiB) was reached" in r.message
    assert dc.exec(sb.id, "echo still here").stdout == "still here\n"


def test_pids_limit_contains_a_fork_bomb(dc, made):
    sb = made(resources=ResourceLimits(pids_limit=64))
    afe2e.assert_fork_bomb_contained(dc, sb.id)  # the container's pid 1 counts


# -- exec, streams, sessions: as in the namespace runtime -------------------------

def test_exec_stdin_env_workdir_and_exit_codes(dc, made):
    sb = made(preset="development", files={"src/a.txt": b"A\n"})
    r = dc.exec(sb.id, "cat; echo err >&2; exit 3", stdin="from stdin\n")
    assert (r.exit_code, r.stdout, r.stderr) == (3, "from stdin\n", "err\n")
    r = dc.exec(sb.id, 'echo "$FOO"; pwd; cat a.txt', env={"FOO": "bar"}, workdir="src")
    assert r.stdout == "bar\n/workspace/src\nA\n"
    r = dc.exec(sb.id, "env")
    assert "AF_E2E_LEAK_MARKER" not in r.stdout and "PATH=" in r.stdout
    # The namespace runtime's error, word for word.
    with pytest.raises(af.InvalidConfigurationError, match="workdir /nonexistent: No such"):
        dc.exec(sb.id, "true", workdir="/nonexistent")


def test_timeout_kills_the_whole_tree(dc, made, ddaemon):
    sb = made()
    with pytest.raises(af.CommandTimeoutError):
        dc.exec(sb.id, "sleep 1000 & sleep 1001", timeout=1)
    assert not afe2e.wait_until(lambda: afe2e.processes_matching(["sleep", "1000"],
                                                                 sandbox_id=sb.id))
    assert not afe2e.processes_matching(["sleep", "1001"], sandbox_id=sb.id)
    assert dc.exec(sb.id, "echo ok").stdout == "ok\n"


def test_exec_stream(dc, made):
    sb = made()
    chunks = list(dc.exec_stream(sb.id, "echo out; echo err >&2; exit 4"))
    out = b"".join(c for c in chunks if c.type == af.OutputType.STDOUT)
    err = b"".join(c for c in chunks if c.type == af.OutputType.STDERR)
    assert (out, err) == (b"out\n", b"err\n")


def test_session_keeps_state_and_survives_a_timeout(raw, made):
    sb = made(preset="development", files={"sub/x": b"x"})
    sess = raw.CreateSession(sandbox_pb2.CreateSessionRequest(sandbox_id=sb.id))

    def run(cmd, secs=0):
        req = sandbox_pb2.SessionExecRequest(session_id=sess.id, command=cmd)
        if secs:
            req.timeout.seconds = secs
        return raw.SessionExec(req, timeout=30)

    try:
        run("cd /workspace/sub && export K=v")
        assert run('pwd; echo "$K"').stdout == "/workspace/sub\nv\n"
        with pytest.raises(grpc.RpcError) as e:
            run("sleep 100", secs=1)
        assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert run("echo $K").stdout == "v\n"
    finally:
        raw.DestroySession(sandbox_pb2.DestroySessionRequest(session_id=sess.id))


# -- isolation and permissions ------------------------------------------------------

def test_container_isolation(dc, made):
    sb = made()
    r = dc.exec(sb.id, "grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status;"
                       "ls /sys/class/net; touch /usr/x 2>&1; touch /tmp/ok && echo tmp-ok;"
                       "cat /etc/hostname")
    status = dict(line.split(":\t") for line in r.stdout.splitlines() if ":\t" in line)
    assert status["CapEff"] == status["CapBnd"] == "0000000000000000"
    assert (status["NoNewPrivs"], status["Seccomp"]) == ("1", "2")
    assert "\nlo\n" in "\n" + r.stdout and "eth0" not in r.stdout
    assert "Read-only file system" in r.stdout and "tmp-ok" in r.stdout
    assert r.stdout.strip().endswith("sandbox")
    # The host's paths never show in the container's mount table.
    r = dc.exec(sb.id, "cat /proc/self/mountinfo")
    assert "af-e2e-" not in r.stdout and "/workspace" in r.stdout


def test_agent_safe_rules_hold(dc, made):
    sb = made(files={"src/main.py": b"print(1)\n", ".env": b"K=V\n",
                     "secrets/key.txt": b"k\n", "output/.keep": b""})
    r = dc.exec(sb.id, "ls -A /workspace; cat /workspace/.env 2>&1;"
                       "(echo x > /workspace/src/main.py) 2>&1;"
                       "echo y > /workspace/output/o && echo wrote")
    lines = r.stdout.splitlines()
    assert lines[:2] == ["output", "src"], r.stdout
    assert "/workspace/.env: No such file or directory" in lines[2]
    assert "Permission denied" in lines[3] and lines[4] == "wrote"


# -- errors -----------------------------------------------------------------------

def test_missing_image_is_a_clear_error(dc, raw):
    cb = dc.create_codebase("docker-missing", owner_id="e2e")
    try:
        start = time.monotonic()
        with pytest.raises(grpc.RpcError) as e:
            raw.CreateSandbox(sandbox_pb2.CreateSandboxRequest(
                codebase_id=cb.id, runtime=DOCKER, image="no-such-image:1"), timeout=30)
        assert time.monotonic() - start < 10
        assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "no-such-image:1 is not present" in e.value.details()
        with pytest.raises(grpc.RpcError) as e:
            raw.CreateSandbox(sandbox_pb2.CreateSandboxRequest(
                codebase_id=cb.id, runtime=DOCKER), timeout=30)
        assert e.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        dc.delete_codebase(cb.id)


def test_docker_not_running_is_unavailable(daemon, tmp_path):
    d = _start(DockerAgentDaemon(f"unix://{tmp_path}/no-docker.sock"))
    try:
        with af.SandboxClient(d.endpoint) as c, grpc.insecure_channel(d.endpoint) as ch:
            cb = c.create_codebase("docker-down", owner_id="e2e")
            stub = sandbox_pb2_grpc.SandboxServiceStub(ch)
            with pytest.raises(grpc.RpcError) as e:
                stub.CreateSandbox(sandbox_pb2.CreateSandboxRequest(
                    codebase_id=cb.id, runtime=DOCKER, image=IMAGE), timeout=30)
            assert e.value.code() == grpc.StatusCode.UNAVAILABLE
            assert "Docker daemon is not reachable" in e.value.details()
            c.delete_codebase(cb.id)
    finally:
        assert d.stop() == 0, d.log_tail()
        d.remove()


# -- lifecycle ----------------------------------------------------------------------

def test_stop_removes_the_container_and_start_makes_a_new_one(dc, made, dockerd):
    sb = made(preset="development")
    dc.exec(sb.id, "echo kept > /workspace/new.txt")
    first = container_of(dockerd, sb.id)["Id"]
    dc.stop_sandbox(sb.id)
    assert not dockerd.containers(f"agentfense.sandbox={sb.id}")
    dc.start_sandbox(sb.id)
    assert container_of(dockerd, sb.id)["Id"] != first
    assert dc.exec(sb.id, "cat /workspace/new.txt").stdout == "kept\n"


def test_container_killed_from_outside_stops_the_sandbox(dc, made, dockerd):
    sb = made()
    cid = container_of(dockerd, sb.id)["Id"]
    assert dockerd.api("POST", f"/containers/{cid}/kill")[0] == 204
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            dc.exec(sb.id, "true")
        except af.SandboxNotRunningError:
            break
        time.sleep(0.2)
    else:
        pytest.fail("commands still run after the container was killed")


def test_restart_removes_orphaned_containers(dockerd, daemon):
    d = _start(DockerAgentDaemon(dockerd.host))
    try:
        with af.SandboxClient(d.endpoint) as c:
            cb = c.create_codebase("docker-restart", owner_id="e2e")
            c.upload_file(cb.id, "f.txt", b"f\n")
            sb = c.create_sandbox(cb.id, preset="read-only", runtime=RuntimeType.DOCKER,
                                  image=IMAGE)
            c.start_sandbox(sb.id)
        assert dockerd.containers(f"agentfense.sandbox={sb.id}")
        d.stop(signal.SIGKILL)      # a crash: nothing is cleaned up
        d.start()
        assert not dockerd.containers(f"agentfense.sandbox={sb.id}"), "orphan kept"
        with af.SandboxClient(d.endpoint) as c:
            assert c.get_sandbox(sb.id).status == af.SandboxStatus.STOPPED
            c.start_sandbox(sb.id)
            assert c.exec(sb.id, "cat /workspace/f.txt").stdout == "f\n"
            c.destroy_sandbox(sb.id)
            c.delete_codebase(cb.id)
        assert not afe2e.wait_until(lambda: afe2e.leftovers(sb.id, d))
    finally:
        assert d.stop() == 0, d.log_tail()
        d.remove()
