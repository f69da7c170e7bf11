"""Docker runtime: a command in a Docker sandbox vs the namespace runtime vs
`docker exec`, all measured in one run against a private dockerd.

A Docker sandbox's commands do not go through `docker exec`: the Engine API
only creates, starts and removes the container, and agentfense-init, joined
to the container's namespaces, forks each command (target: <= 5 ms per
command through the SDK). The `docker exec` rows run `true` in the same
container through the Engine API and through the CLI, and `docker run`
starts a container per command, for reference.
"""
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

from benchlib import Context, summary, timed

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "e2e"))
import afdocker  # noqa: E402

from agentfense import RuntimeType, Sandbox  # noqa: E402


def api_exec(dk, cid, cmd=("true",)):
    """`docker exec` through the Engine API: create the exec, start it
    attached, read until the stream ends."""
    status, body = dk.api("POST", f"/containers/{cid}/exec",
                          {"Cmd": list(cmd), "AttachStdout": True, "AttachStderr": True})
    assert status == 201, body
    conn = afdocker._UnixHTTP(dk.sock, 60)
    try:
        conn.request("POST", f"/exec/{body['Id']}/start", body=b'{"Detach":false,"Tty":false}',
                     headers={"Content-Type": "application/json"})
        conn.getresponse().read()
    finally:
        conn.close()


def run_true_interleaved(sandboxes, n, warmup=3):
    """run("true") in each sandbox in turn, so a load change on the host
    hits every runtime alike: per sandbox, the wall time through the SDK and
    the server's own exec duration."""
    wall = [[] for _ in sandboxes]
    server = [[] for _ in sandboxes]
    for i in range(warmup + n):
        for k, sb in enumerate(sandboxes):
            t = time.perf_counter()
            r = sb.run("true")
            if i >= warmup:
                wall[k].append(time.perf_counter() - t)
                server[k].append(r.duration.total_seconds())
    return wall, server


def docker_cli():
    return shutil.which("docker", path="/usr/bin") or shutil.which("docker")


def bench_docker(ctx):
    """run("true") in a Docker sandbox vs a namespace sandbox vs docker exec."""
    reason = afdocker.ensure_installed()
    if reason:
        print(f"   skipped: {reason}")
        return []
    n, m = ctx.iters(300, 40), ctx.iters(50, 10)
    with afdocker.DockerDaemon() as dk, tempfile.TemporaryDirectory() as d:
        dk.import_image()
        pathlib.Path(d, "f.txt").write_text("x")
        with Context(quick=ctx.quick, extra_args=["--docker-host", dk.host]) as dctx, \
                Sandbox.from_local(d, endpoint=dctx.endpoint) as ns, \
                Sandbox.from_local(d, endpoint=dctx.endpoint, runtime=RuntimeType.DOCKER,
                                   image=afdocker.IMAGE) as dsb:
            cid = dk.containers(f"agentfense.sandbox={dsb.id}")[0]["Id"]
            (ns_wall, dk_wall), (ns_server, dk_server) = run_true_interleaved([ns, dsb], n)
            ns_row = summary('namespace sandbox: run("true") via SDK', ns_wall)
            dk_row = summary('docker sandbox: run("true") via SDK', dk_wall,
                             baseline=ns_row, target=5.0)
            ns_srv = summary("namespace sandbox: exec in the server", ns_server)
            dk_srv = summary("docker sandbox: exec in the server", dk_server,
                             baseline=ns_srv)
            api = summary("docker exec true (Engine API)", timed(lambda: api_exec(dk, cid), m),
                          baseline=dk_row)
            cli_cmd = [docker_cli(), "-H", dk.host, "exec", cid, "true"]
            cli = summary("docker exec true (CLI)",
                          timed(lambda: subprocess.run(cli_cmd, check=True), m),
                          baseline=dk_row)
            run_cmd = [docker_cli(), "-H", dk.host, "run", "--rm", "--network", "none",
                       afdocker.IMAGE, "true"]
            run = summary("docker run --rm true (CLI)",
                          timed(lambda: subprocess.run(run_cmd, check=True), m // 2, warmup=1),
                          baseline=dk_row)
    return [ns_row, dk_row, ns_srv, dk_srv, api, cli, run]


BENCHES = {"docker": bench_docker}
