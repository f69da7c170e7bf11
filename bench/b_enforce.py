"""Enforcement cost: 1M open+close over 1,000 files on the host, in a
sandbox's overlay with no enforcer, and with the enforcer (landlock here;
bpf-lsm inside the Debian 6.1 VM when it boots — TCG emulation, so absolute
numbers there are slow, ratios still tell). Every loop runs on CPU 0; the
enforcer's ratio is the median of each round's ratio to the overlay alone
measured just before it."""
import json
import subprocess

from benchlib import BUILD, TOP


def _row(name, ns, base=None, target=None):
    r = {"name": name, "unit": "ns", "n": 1, "p50": ns, "p99": ns, "mean": ns}
    if base:
        r["baseline"] = base["name"]
        r["ratio_p50"] = ns / base["p50"]
    if target is not None:
        r["target"] = target
        r["meets_target"] = r["ratio_p50"] <= target
        r["unit"] = "ns"
    return r


def _rows(where, res):
    host = _row(f"{where}: host open+close", res["host_ns"])
    overlay = _row(f"{where}: sandbox overlay, no enforcer", res["overlay_ns"], host)
    enf = _row(f"{where}: sandbox overlay + {res['enforcer']}", res["enforced_ns"], overlay)
    # The median of each round's ratio (the host's speed drifts between
    # rounds), not the ratio of medians.
    enf["ratio_p50"] = res["enforced_vs_overlay"]
    enf["extra_vs_overlay_target"] = "x1.10"
    enf["extra_meets_target"] = res["enforced_vs_overlay"] <= 1.10
    return [host, overlay, enf]


def bench_enforce(ctx):
    n = ctx.iters(1000000, 100000)
    exe = [str(BUILD / "bench" / "bench_runtime_enforce"),
           str(BUILD / "bench" / "baseline_openloop"), str(n), "5"]
    out = subprocess.run(exe, check=True, capture_output=True, text=True).stdout
    rows = _rows("host kernel", json.loads(out.strip().splitlines()[-1]))
    vm = subprocess.run([str(TOP / "tests" / "vm" / "run"), "--timeout", "1500", "--",
                         *exe[:2], str(n // 10), "3", "bpf-lsm"],
                        capture_output=True, text=True)
    if vm.returncode == 0:
        rows += _rows("VM 6.1 (TCG)", json.loads(vm.stdout.strip().splitlines()[-1]))
    else:
        print(f"   (no VM numbers: tests/vm/run exited {vm.returncode}: "
              f"{vm.stderr.strip().splitlines()[-1] if vm.stderr.strip() else ''})")
    return rows


BENCHES = {"enforce": bench_enforce}
