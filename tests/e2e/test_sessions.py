"""Sessions: a persistent shell per session (issue: execution depth).

Raw stubs, so the exact wire behaviour is what is checked."""

import threading
import time

import grpc
import pytest

from agentfense._proto.sandbox.v1 import common_pb2
from agentfense._proto.sandbox.v1 import sandbox_pb2 as pb

CLOSED = common_pb2.SessionStatus.Value("SESSION_STATUS_CLOSED")
ACTIVE = common_pb2.SessionStatus.Value("SESSION_STATUS_ACTIVE")


@pytest.fixture
def box(res):
    cb = res.codebase({"backend/manage.py": b"print('tests ok')\n",
                       "backend/venv/bin/activate": b"export VIRTUAL_ENV=/workspace/backend/venv\n"})
    return res.sandbox(cb.id, preset="full-access")


def run(stubs, sid, cmd, timeout=None):
    req = pb.SessionExecRequest(session_id=sid, command=cmd)
    if timeout:
        req.timeout.seconds = timeout
    return stubs.sandbox.SessionExec(req)


def out(r):
    return r.stdout_bytes if r.stdout_bytes else r.stdout.encode()


def new_session(stubs, box, **kw):
    return stubs.sandbox.CreateSession(pb.CreateSessionRequest(sandbox_id=box.id, **kw))


def test_state_persists(stubs, box):
    s = new_session(stubs, box)
    assert s.status == ACTIVE and s.shell.endswith("sh")
    # The spec's session example, as written.
    run(stubs, s.id, "cd /workspace/backend")
    run(stubs, s.id, "source venv/bin/activate")
    run(stubs, s.id, "export DEBUG=1")
    r = run(stubs, s.id, "python manage.py test")
    assert r.exit_code == 0 and r.stdout == "tests ok\n"
    r = run(stubs, s.id, 'pwd; echo "$VIRTUAL_ENV $DEBUG"')
    assert r.stdout == "/workspace/backend\n/workspace/backend/venv 1\n"
    run(stubs, s.id, "greet() { echo hello $1; }")
    assert run(stubs, s.id, "greet you").stdout == "hello you\n"


def test_background_job_survives(stubs, box):
    s = new_session(stubs, box)
    run(stubs, s.id, "sleep 60 & echo $! > /tmp/bg")
    r = run(stubs, s.id, "kill -0 $(cat /tmp/bg) && echo alive")
    assert r.stdout == "alive\n"


def test_stderr_separate_and_exit_code(stubs, box):
    s = new_session(stubs, box)
    r = run(stubs, s.id, "echo out; echo err >&2; exit_code() { return 7; }; exit_code")
    assert (r.stdout, r.stderr, r.exit_code) == ("out\n", "err\n", 7)


def test_binary_output_byte_exact(stubs, box):
    s = new_session(stubs, box)
    pattern = bytes(range(256)) * 4096   # 1 MiB, every byte value, NULs included
    r = run(stubs, s.id, "head -c 1048576 /dev/zero | tr '\\0' '\\0' >/dev/null; "
                         "python3 -c \"import sys; sys.stdout.buffer.write(bytes(range(256))*4096)\"")
    assert out(r) == pattern
    assert not r.stdout_truncated


def test_commands_are_queued(stubs, box):
    s = new_session(stubs, box)
    results = []

    def one(i):
        r = run(stubs, s.id, f"echo start{i} >> /tmp/log; sleep 0.3; echo end{i} >> /tmp/log")
        results.append(r.exit_code)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [0, 0, 0]
    lines = run(stubs, s.id, "cat /tmp/log").stdout.split()
    assert len(lines) == 6
    for k in range(0, 6, 2):   # never interleaved: each start is followed by its end
        assert lines[k].replace("start", "end") == lines[k + 1]


def test_timeout_then_reuse(stubs, box):
    s = new_session(stubs, box)
    run(stubs, s.id, "export KEEP=1")
    t = time.monotonic()
    with pytest.raises(grpc.RpcError) as e:
        run(stubs, s.id, "sleep 100; sleep 100", timeout=1)
    assert e.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - t < 10
    r = run(stubs, s.id, "echo $KEEP; pgrep -x sleep || echo none")
    assert r.stdout == "1\nnone\n"
    assert stubs.sandbox.GetSession(pb.GetSessionRequest(session_id=s.id)).status == ACTIVE


def test_shell_exit_closes_session(stubs, box):
    s = new_session(stubs, box)
    r = run(stubs, s.id, "echo bye; exit 3")
    assert (r.stdout, r.exit_code) == ("bye\n", 3)
    with pytest.raises(grpc.RpcError) as e:
        run(stubs, s.id, "true")
    assert e.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "closed" in e.value.details()
    assert stubs.sandbox.GetSession(pb.GetSessionRequest(session_id=s.id)).status == CLOSED


def test_destroying_a_closed_session_leaves_other_commands_alone(stubs, box):
    """A shell that exited leaves its cgroup empty, so a later command may
    be given it; destroying the session afterwards must not kill that."""
    s = new_session(stubs, box)
    assert run(stubs, s.id, "exit 0").exit_code == 0
    done = {}

    def later():
        done["r"] = stubs.sandbox.Exec(pb.ExecRequest(
            sandbox_id=box.id, command="sleep 1; echo ok"))

    t = threading.Thread(target=later)
    t.start()
    time.sleep(0.4)
    stubs.sandbox.DestroySession(pb.DestroySessionRequest(session_id=s.id))
    t.join()
    assert (done["r"].exit_code, done["r"].stdout) == (0, "ok\n")


def test_destroy_then_get_shows_closed(stubs, box):
    s = new_session(stubs, box)
    stubs.sandbox.DestroySession(pb.DestroySessionRequest(session_id=s.id))
    got = stubs.sandbox.GetSession(pb.GetSessionRequest(session_id=s.id))
    assert got.status == CLOSED and got.HasField("closed_at")
    listed = stubs.sandbox.ListSessions(pb.ListSessionsRequest(sandbox_id=box.id)).sessions
    assert [x.id for x in listed] == [s.id]


def test_posix_shell_and_env(stubs, box):
    s = new_session(stubs, box, shell="/bin/sh", env={"GREETING": "hi there"})
    assert s.shell == "/bin/sh"
    r = run(stubs, s.id, "cd /usr; x='a b\nc'; printf '%s|' \"$x\" \"$GREETING\"")
    assert r.stdout == "a b\nc|hi there|"
    assert run(stubs, s.id, "pwd").stdout == "/usr\n"


def test_bad_requests(stubs, box, code_of):
    S = stubs.sandbox
    assert code_of(S.ListSessions, pb.ListSessionsRequest(sandbox_id="sb_0000000000000000")) \
        == grpc.StatusCode.NOT_FOUND
    assert code_of(S.GetSession, pb.GetSessionRequest(session_id="sess_0000000000000000")) \
        == grpc.StatusCode.NOT_FOUND
    assert code_of(S.SessionExec, pb.SessionExecRequest(session_id="sess_0000000000000000",
                                                        command="true")) \
        == grpc.StatusCode.NOT_FOUND
    assert code_of(S.CreateSession, pb.CreateSessionRequest(sandbox_id=box.id,
                                                            shell="/bin/nosuchshell")) \
        == grpc.StatusCode.INVALID_ARGUMENT
    assert code_of(S.CreateSession, pb.CreateSessionRequest(sandbox_id=box.id, shell="bash")) \
        == grpc.StatusCode.INVALID_ARGUMENT


def test_session_stream(stubs, box):
    s = new_session(stubs, box)
    req = pb.SessionExecRequest(session_id=s.id, command="echo a; echo b >&2; exit 4")
    msgs = list(stubs.sandbox.SessionExecStream(req))
    data = [(m.type, m.data) for m in msgs if m.data]
    assert (pb.ExecOutput.OUTPUT_TYPE_STDOUT, b"a\n") in data
    assert (pb.ExecOutput.OUTPUT_TYPE_STDERR, b"b\n") in data
    assert msgs[-1].HasField("exit") and msgs[-1].exit.exit_code == 4
