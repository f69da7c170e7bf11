"""Execution depth: session exec latency, and 200 sandboxes at once."""
import concurrent.futures
import time

import grpc

from benchlib import summary, timed

from agentfense import SandboxClient
from agentfense._proto.sandbox.v1 import sandbox_pb2 as pb
from agentfense._proto.sandbox.v1 import sandbox_pb2_grpc


def _rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bench_session(ctx):
    """session.exec("true") vs a fresh sandbox.run("true"), same sandbox."""
    n = ctx.iters(300, 50)
    c = SandboxClient(ctx.endpoint)
    cb = c.create_codebase("bench-session", "bench")
    c.upload_file(cb.id, "f", b"x")
    sb = c.create_sandbox(cb.id, preset="full-access")
    c.start_sandbox(sb.id)
    ch = grpc.insecure_channel(ctx.endpoint)
    stub = sandbox_pb2_grpc.SandboxServiceStub(ch)
    try:
        base = summary('sandbox.run("true") (baseline)', timed(lambda: c.exec(sb.id, "true"), n))
        s = stub.CreateSession(pb.CreateSessionRequest(sandbox_id=sb.id))
        req = pb.SessionExecRequest(session_id=s.id, command="true")
        sess = summary('session exec "true"', timed(lambda: stub.SessionExec(req), n),
                       baseline=base, target=1.0)
    finally:
        ch.close()
        c.destroy_sandbox(sb.id)
        c.delete_codebase(cb.id)
        c.close()
    return [base, sess]


def bench_concurrency(ctx):
    """N sandboxes started at once, each running one command; memory per idle sandbox."""
    n = ctx.iters(200, 40)
    c = SandboxClient(ctx.endpoint)
    cb = c.create_codebase("bench-many", "bench")
    c.upload_file(cb.id, "main.py", b"print('ok')\n")
    rss0 = _rss_kb(ctx.proc.pid)
    ids, lat, failures = [], [], 0

    def one(_):
        t = time.perf_counter()
        cl = SandboxClient(ctx.endpoint)
        try:
            sb = cl.create_sandbox(cb.id, preset="read-only")
            ids.append(sb.id)
            cl.start_sandbox(sb.id)
            r = cl.exec(sb.id, "python3 main.py")
            ok = r.exit_code == 0 and r.stdout == "ok\n"
        finally:
            cl.close()
        return ok, time.perf_counter() - t

    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        for ok, dt in pool.map(one, range(n)):
            failures += not ok
            lat.append(dt)
    wall = time.perf_counter() - t0
    time.sleep(1)
    rss1 = _rss_kb(ctx.proc.pid)
    per = (rss1 - rss0) / max(1, len(ids))
    for sid in ids:
        c.destroy_sandbox(sid)
    c.delete_codebase(cb.id)
    c.close()
    r = summary(f"{n} sandboxes at once: create+start+run each", lat, unit="s",
                extra_ok=n - failures, extra_failed=failures,
                extra_wall_s=round(wall, 2))
    mem = {"name": "daemon RSS per idle sandbox", "unit": "KiB", "n": len(ids),
           "p50": per, "p99": per, "mean": per, "target": 2048,
           "meets_target": per <= 2048}
    return [r, mem]


BENCHES = {"session": bench_session, "concurrency": bench_concurrency}
