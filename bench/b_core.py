"""Walking-skeleton benchmarks: command latency, sandbox lifecycle, from_local."""
import os
import pathlib
import random
import shutil
import tempfile
import time

from benchlib import summary, timed

from agentfense import Sandbox, SandboxClient


def bench_exec(ctx):
    """sandbox.run("true") through the SDK vs a plain spawn of /bin/sh -c true."""
    n = ctx.iters(300, 50)
    base = summary("spawn /bin/sh -c true (baseline)", ctx.baseline_spawn(n))
    with tempfile.TemporaryDirectory() as d:
        pathlib.Path(d, "f.txt").write_text("x")
        with Sandbox.from_local(d, endpoint=ctx.endpoint) as sb:
            run = summary('sandbox.run("true") via SDK', timed(lambda: sb.run("true"), n),
                          baseline=base, target=3.0)
    return [base, run]


def bench_lifecycle(ctx):
    """create+start and create+start+destroy of a sandbox on one codebase."""
    n = ctx.iters(50, 10)
    c = SandboxClient(ctx.endpoint)
    cb = c.create_codebase("bench-lifecycle", "bench")
    c.upload_file(cb.id, "main.py", b"print('hi')\n")
    starts, totals = [], []
    try:
        for _ in range(n + 3):
            t = time.perf_counter()
            sb = c.create_sandbox(cb.id, permissions=[])
            c.start_sandbox(sb.id)
            t1 = time.perf_counter()
            c.destroy_sandbox(sb.id)
            t2 = time.perf_counter()
            starts.append(t1 - t)
            totals.append(t2 - t)
    finally:
        c.delete_codebase(cb.id)
        c.close()
    base = summary("spawn /bin/sh -c true (baseline)", ctx.baseline_spawn(n))
    return [summary("sandbox create+start", starts[3:], baseline=base, target=20.0),
            summary("sandbox create+start+destroy", totals[3:], baseline=base)]


def make_tree(root, files=1000, total=10 * 1024 * 1024, seed=1):
    rnd = random.Random(seed)
    size = total // files
    for i in range(files):
        d = pathlib.Path(root, f"pkg{i % 20}", f"mod{i % 7}")
        d.mkdir(parents=True, exist_ok=True)
        (d / f"file{i}.py").write_bytes(rnd.randbytes(size))


def bench_from_local(ctx):
    """from_local of a 1,000-file / 10 MB tree (enter and exit of the with block)."""
    n = ctx.iters(7, 3)
    with tempfile.TemporaryDirectory() as d:
        tree = pathlib.Path(d, "tree")
        make_tree(tree)
        copies = []
        for i in range(n):
            t = time.perf_counter()
            shutil.copytree(tree, pathlib.Path(d, f"copy{i}"))
            copies.append(time.perf_counter() - t)
            shutil.rmtree(pathlib.Path(d, f"copy{i}"))
        base = summary("local copytree of the tree (baseline)", copies)
        enter, leave = [], []
        for _ in range(n):
            t = time.perf_counter()
            sb = Sandbox.from_local(tree, endpoint=ctx.endpoint)
            t1 = time.perf_counter()
            sb.destroy()
            t2 = time.perf_counter()
            enter.append(t1 - t)
            leave.append(t2 - t1)
    return [base,
            summary("from_local 1000 files/10 MB + start", enter, baseline=base),
            summary("destroy sandbox + codebase", leave)]


BENCHES = {"exec": bench_exec, "lifecycle": bench_lifecycle, "from_local": bench_from_local}
