"""Policy engine: compile time for 10 / 100 / 1,000 rules, user-space
lookups, and the in-kernel walk per 64- and 256-byte path through
BPF_PROG_TEST_RUN (bench/bench_policy.c, which prints its own table too).
Targets: <= 300 ns per 256-byte path in the kernel; lookup cost flat from
10 to 1,000 rules (within 1.5x)."""
import json
import subprocess
import tempfile

from benchlib import BUILD

EXE = BUILD / "bench" / "bench_policy"


def _row(name, value, unit, **extra):
    return {"name": name, "unit": unit, "n": 1, "p50": value, "p99": value, "mean": value,
            **extra}


def bench_policy(ctx):
    if not EXE.exists():
        raise SystemExit(f"bench policy: {EXE} missing; build the bench_policy target")
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        args = [str(EXE), "--json", f.name] + (["--quick"] if ctx.quick else [])
        subprocess.run(args, check=True, capture_output=True)
        res = json.load(open(f.name))
    rows, first = [], None
    for r in res["results"]:
        n = r["rules"]
        rows.append(_row(f"compile {n} rules", r["compile_us_p50"] / 1000, "ms",
                         extra_states=r["states"], extra_blob_bytes=r["blob_bytes"]))
        look = _row(f"user-space lookup, {n} rules", r["lookup_ns_p50"], "ns",
                    extra_lookups_per_s=r["lookups_per_s"])
        if first is None:
            first = look
        else:
            look.update(baseline=first["name"], ratio_p50=look["p50"] / first["p50"],
                        extra_flat_target="x1.5",
                        extra_flat_met=look["p50"] / first["p50"] <= 1.5)
        rows.append(look)
        rows.append(_row(f"kernel walk, 64-byte path, {n} rules", r["kernel_ns_64B_p50"], "ns"))
        k256 = _row(f"kernel walk, 256-byte path, {n} rules", r["kernel_ns_256B_p50"], "ns")
        k256.update(target=300.0, meets_target=k256["p50"] <= 300.0)
        rows.append(k256)
    return rows


BENCHES = {"policy": bench_policy}
