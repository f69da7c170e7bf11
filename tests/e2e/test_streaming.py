"""ExecStream delivers output as it is produced, then the exit code."""

import time

import grpc

from agentfense._proto.sandbox.v1 import sandbox_pb2 as pb


def test_chunks_arrive_while_running(stubs, res):
    cb = res.codebase({"f": b"x"})
    sb = res.sandbox(cb.id)
    req = pb.ExecRequest(sandbox_id=sb.id,
                         command="for i in 1 2 3; do echo tick$i; sleep 1; done; exit 5")
    start = time.monotonic()
    arrivals = []
    last = None
    for m in stubs.sandbox.ExecStream(req):
        if m.data:
            arrivals.append((time.monotonic() - start, m.data))
        last = m
    # One chunk per second, not all at the end.
    assert [d for _, d in arrivals] == [b"tick1\n", b"tick2\n", b"tick3\n"]
    assert arrivals[0][0] < 0.9 and arrivals[1][0] < 1.9
    assert arrivals[2][0] - arrivals[0][0] > 1.5
    assert last.HasField("exit") and last.exit.exit_code == 5


def test_nonzero_exit_is_a_normal_end(stubs, res):
    cb = res.codebase({"f": b"x"})
    sb = res.sandbox(cb.id)
    msgs = list(stubs.sandbox.ExecStream(pb.ExecRequest(sandbox_id=sb.id, command="false")))
    assert msgs[-1].exit.exit_code == 1


def test_cancel_kills_the_command(stubs, res):
    cb = res.codebase({"f": b"x"})
    sb = res.sandbox(cb.id, preset="full-access")
    stream = stubs.sandbox.ExecStream(pb.ExecRequest(
        sandbox_id=sb.id, command="echo started; exec sleep 300"))
    first = next(stream)
    assert first.data == b"started\n"
    stream.cancel()
    # The command is gone shortly after the client left.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        r = stubs.sandbox.Exec(pb.ExecRequest(sandbox_id=sb.id,
                                              command="pgrep -x sleep || echo none"))
        if r.stdout == "none\n":
            break
        time.sleep(0.2)
    assert r.stdout == "none\n"


def test_timeout_on_stream(stubs, res):
    cb = res.codebase({"f": b"x"})
    sb = res.sandbox(cb.id)
    req = pb.ExecRequest(sandbox_id=sb.id, command="echo a; sleep 30")
    req.timeout.seconds = 1
    got = []
    try:
        for m in stubs.sandbox.ExecStream(req):
            got.append(m.data)
        code = grpc.StatusCode.OK
    except grpc.RpcError as e:
        code = e.code()
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert b"a\n" in got
