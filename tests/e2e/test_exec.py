"""Running commands: output, exit codes, stdin, workdir, environment, streaming."""

import concurrent.futures
import time

import pytest

import agentfense as af


@pytest.fixture
def sb(res):
    cb = res.codebase({"hello.txt": b"hello world\n", "sub/dir/f.txt": b"deep\n"})
    return res.sandbox(cb.id, preset="read-only")


def test_cat_ls_pwd(client, sb):
    r = client.exec(sb.id, "cat hello.txt")
    assert (r.stdout, r.stderr, r.exit_code) == ("hello world\n", "", 0)
    assert r.success and r.command == "cat hello.txt"
    assert r.duration is not None and r.duration.total_seconds() >= 0
    r = client.exec(sb.id, "ls /workspace")
    assert r.stdout.split() == ["hello.txt", "sub"]
    assert client.exec(sb.id, "pwd").stdout == "/workspace\n"


def test_workdir(client, sb):
    assert client.exec(sb.id, "pwd", workdir="/workspace/sub/dir").stdout == "/workspace/sub/dir\n"
    # A relative workdir is taken below /workspace.
    assert client.exec(sb.id, "pwd", workdir="sub").stdout == "/workspace/sub\n"
    assert client.exec(sb.id, "cat f.txt", workdir="/workspace/sub/dir").stdout == "deep\n"
    assert client.exec(sb.id, "pwd", workdir="/tmp").stdout == "/tmp\n"


@pytest.mark.parametrize("command, code", [
    ("true", 0), ("false", 1), ("exit 3", 3), ("exit 255", 255),
    ("no-such-command-xyz", 127), ("kill -KILL $$", 137),
])
def test_exit_codes(client, sb, command, code):
    assert client.exec(sb.id, command).exit_code == code


def test_stdout_and_stderr_are_separate(client, sb):
    r = client.exec(sb.id, "echo out; echo err >&2; echo out2")
    assert (r.stdout, r.stderr) == ("out\nout2\n", "err\n")


def test_stdin_text_and_binary(client, sb):
    assert client.exec(sb.id, "cat", stdin="line1\nline2\n").stdout == "line1\nline2\n"
    assert client.exec(sb.id, "wc -l", stdin="a\nb\nc\n").stdout.strip() == "3"
    raw = bytes(range(256))
    r = client.exec(sb.id, "cat", stdin=raw)
    assert r.stdout_bytes == raw
    # No stdin given: the command reads EOF at once instead of hanging.
    r = client.exec(sb.id, "cat", timeout=10)
    assert (r.stdout, r.exit_code) == ("", 0)


def test_environment_is_clean(client, sb, daemon):
    r = client.exec(sb.id, "env")
    assert r.exit_code == 0
    env = dict(line.split("=", 1) for line in r.stdout.splitlines() if "=" in line)
    assert daemon.marker_name not in env
    assert daemon.marker_value not in r.stdout
    # Nothing else from the daemon's (i.e. this test run's) environment either.
    assert "PYTEST_CURRENT_TEST" not in env and "AF_BUILD_DIR" not in env
    assert "PATH" in env


def test_env_variables_are_passed(client, sb):
    r = client.exec(sb.id, 'printf "%s|%s" "$FOO" "$EMPTY_OK"',
                    env={"FOO": "bar baz", "EMPTY_OK": ""})
    assert r.stdout == "bar baz|"
    # Variables do not persist between commands.
    assert client.exec(sb.id, 'printf "%s" "$FOO"').stdout == ""


def test_invalid_utf8_output_is_byte_exact(client, sb):
    r = client.exec(sb.id, r"printf '\377\376ok\200'; printf 'e\303' >&2")
    assert r.stdout_bytes == b"\xff\xfeok\x80"
    assert r.stderr_bytes == b"e\xc3"
    assert "\ufffd" in r.stdout and r.stdout.endswith("\ufffd")
    assert "ok" in r.stdout


def test_large_output_fits_or_is_reported(client, sb):
    r = client.exec(sb.id, "head -c 6000000 /dev/zero")   # beyond gRPC's 4 MiB default
    assert r.exit_code == 0
    if r.stdout_truncated:
        assert len(r.stdout_bytes) < 6000000
    else:
        assert r.stdout_bytes == b"\0" * 6000000


def test_exec_stream_types_chunks_and_exit_code(client, sb):
    stream = client.exec_stream(
        sb.id, r"printf out1; printf 'err1' >&2; sleep 0.2; printf 'out2\377'; exit 7")
    chunks = list(stream)
    assert all(isinstance(c, af.OutputChunk) for c in chunks)
    out = b"".join(c for c in chunks if c.type is af.OutputType.STDOUT)
    err = b"".join(c for c in chunks if c.type is af.OutputType.STDERR)
    assert (out, err) == (b"out1out2\xff", b"err1")
    assert stream.exit_code == 7
    assert stream.duration is not None and stream.duration.total_seconds() >= 0.2


def test_exec_stream_delivers_output_before_exit(client, sb):
    start = time.monotonic()
    with client.exec_stream(sb.id, "echo first; sleep 3; echo second") as stream:
        first = next(iter(stream))
        assert bytes(first) == b"first\n"
        assert time.monotonic() - start < 2.5   # did not wait for the command to end


def test_sandbox_run_and_raise_on_error(client, res):
    cb = res.codebase({"a": b"1"})
    sbox = af.Sandbox.from_codebase(cb.id, preset="read-only", client=client)
    with sbox:
        assert sbox.run("cat a").stdout == "1"
        with pytest.raises(af.CommandExecutionError) as ei:
            sbox.run("echo oops >&2; exit 4", raise_on_error=True)
        assert (ei.value.exit_code, ei.value.stderr) == (4, "oops\n")
    with pytest.raises(af.SandboxNotFoundError):
        client.get_sandbox(sbox.id)
    client.get_codebase(cb.id)   # from_codebase leaves the codebase in place


def test_each_command_gets_an_empty_cgroup_of_its_own(client, sb):
    """Exec cgroups are reused once emptied; one that had to be killed is
    not (kernels that count kills would SIGKILL what is cloned into it)."""
    def cgroup():
        r = client.exec(sb.id, "cat /proc/self/cgroup")
        assert r.exit_code == 0, r.stderr
        return [ln for ln in r.stdout.splitlines() if ln.startswith("0::")][0]

    first = cgroup()
    assert cgroup() == first  # emptied on its own: reused
    # A straggler outlives its command: the cgroup is killed, so removed.
    r = client.exec(sb.id, "sleep 100 >/dev/null 2>&1 & echo started")
    assert (r.exit_code, r.stdout) == (0, "started\n")
    for _ in range(5):
        assert client.exec(sb.id, "true").exit_code == 0  # not 137
    assert cgroup() != first


def test_concurrent_commands_have_separate_cgroups(client, sb):
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda _: client.exec(sb.id, "sleep 0.5; grep ^0:: /proc/self/cgroup"),
                             range(4)))
    assert all(o.exit_code == 0 for o in outs), [o.stderr for o in outs]
    assert len({o.stdout for o in outs}) == 4
