"""Shared pieces of the benchmarks: a daemon of our own, timing, statistics."""
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import tempfile
import time
import pathlib

TOP = pathlib.Path(__file__).resolve().parent.parent
BUILD = pathlib.Path(os.environ.get("AF_BUILD_DIR", TOP / "build"))


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def summary(name, values_s, unit="ms", baseline=None, target=None, **extra):
    """A result row: p50/p99 (in unit) and the ratio to a baseline row."""
    scale = {"ms": 1e3, "us": 1e6, "s": 1.0}[unit]
    r = {"name": name, "unit": unit, "n": len(values_s),
         "p50": pct(values_s, 50) * scale, "p99": pct(values_s, 99) * scale,
         "mean": statistics.fmean(values_s) * scale}
    if baseline:
        r["baseline"] = baseline["name"]
        r["ratio_p50"] = r["p50"] / baseline["p50"] if baseline["p50"] else None
    if target is not None:
        r["target"] = target
        r["meets_target"] = r["p50"] <= target
    r.update(extra)
    return r


def fmt(r):
    s = f"{r['name']:<44} p50 {r['p50']:9.3f} {r['unit']}  p99 {r['p99']:9.3f} {r['unit']}  n={r['n']}"
    if r.get("ratio_p50") is not None:
        s += f"  x{r['ratio_p50']:.2f} vs {r['baseline']}"
    if "target" in r:
        s += f"  target <= {r['target']} {r['unit']}: {'met' if r['meets_target'] else 'MISSED'}"
    for k, v in r.items():
        if k.startswith("extra_"):
            s += f"  {k[6:]}={v}"
    return s


def machine():
    return {"kernel": platform.release(), "cpus": os.cpu_count(),
            "load": os.getloadavg()}


def timed(fn, n, warmup=3):
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Context:
    """Starts agentfensed on a private state dir and unix socket."""

    def __init__(self, quick=False, extra_args=()):
        self.quick = quick
        self.extra_args = list(extra_args)  # more daemon options
        self.tmp = pathlib.Path(tempfile.mkdtemp(prefix="af-bench."))
        self.sock = self.tmp / "agentfensed.sock"
        self.endpoint = f"unix://{self.sock}"
        self.proc = None

    def iters(self, full, quick):
        return quick if self.quick else full

    def __enter__(self):
        daemon = BUILD / "src" / "agentfensed"
        if not daemon.exists():
            raise SystemExit(f"bench: {daemon} missing; build first (tools/dev/build.sh)")
        self.log = open(self.tmp / "daemon.log", "w")
        self.proc = subprocess.Popen(
            [str(daemon), "--state-dir", str(self.tmp / "state"), "--unix", str(self.sock),
             "--listen", f"127.0.0.1:{free_port()}", "--log-level", "warn",
             *self.extra_args],
            stderr=self.log)
        from agentfense import SandboxClient
        for _ in range(100):
            try:
                SandboxClient(self.endpoint).health()
                break
            except Exception:
                time.sleep(0.05)
        else:
            raise SystemExit("bench: daemon did not come up; see " + str(self.tmp / "daemon.log"))
        return self

    def __exit__(self, *exc):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=60)
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def baseline_spawn(self, n, cmd="true"):
        """posix_spawn of /bin/sh -c CMD, timed in C."""
        exe = BUILD / "bench" / "baseline_spawn"
        out = subprocess.run([str(exe), str(n), cmd], check=True, capture_output=True,
                             text=True).stdout.split()
        return [int(x) / 1e9 for x in out]
