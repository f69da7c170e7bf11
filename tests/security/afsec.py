"""Helpers of the security suites: building codebases, running the probe in a
sandbox, and comparing outcomes with expectations."""

from __future__ import annotations

import json
import os
import pathlib
from typing import Dict, Iterable, List, Mapping, Optional, Sequence

import agentfense as af

HERE = pathlib.Path(__file__).resolve().parent
PROBE_SOURCE = (HERE / "probe.py").read_text()
WS = "/workspace"
LEVELS = ("none", "view", "read", "write")
ENFORCERS = ("bpf-lsm", "landlock")
# One exec runs every case of a suite; the VM (TCG) is slow.
PROBE_TIMEOUT = float(os.environ.get("AF_SECURITY_PROBE_TIMEOUT", "600"))


def ws(path: str) -> str:
    """A workspace path ("/src/a") as the sandbox sees it."""
    return WS + path


def rule(pattern: str, level: str, priority: int = 0,
         type: str = "glob") -> af.PermissionRule:
    return af.PermissionRule(pattern, af.Permission(level), af.PatternType(type), priority)


class Resources:
    """Codebases and sandboxes created through one client, removed at the end
    (sandboxes first)."""

    def __init__(self, client: af.SandboxClient,
                 runtime_args: Optional[Mapping[str, object]] = None) -> None:
        self.client = client
        # runtime= and image= for every sandbox (the Docker runtime's run).
        self.runtime_args = dict(runtime_args or {})
        self.codebases: List[str] = []
        self.sandboxes: List[str] = []

    def codebase(self, files: Mapping[str, bytes], name: str = "security") -> af.Codebase:
        cb = self.client.create_codebase(name, owner_id="security")
        self.codebases.append(cb.id)
        for path, content in files.items():
            self.client.upload_file(cb.id, path, content)
        return cb

    def sandbox(self, codebase_id: str, permissions: Sequence[af.PermissionRule] = (),
                preset: Optional[str] = None) -> af.SandboxInfo:
        sb = self.client.create_sandbox(codebase_id, permissions=list(permissions),
                                        preset=preset, **self.runtime_args)
        self.sandboxes.append(sb.id)
        started = self.client.start_sandbox(sb.id)
        want = self.runtime_args.get("runtime", af.RuntimeType.BWRAP)
        assert started.runtime == want, f"{sb.id} runs on {started.runtime}, not {want}"
        return started

    def cleanup(self) -> None:
        for sb in self.sandboxes:
            try:
                self.client.destroy_sandbox(sb)
            except af.SandboxNotFoundError:
                pass
        for cb in self.codebases:
            try:
                self.client.delete_codebase(cb)
            except af.CodebaseNotFoundError:
                pass


def run_probe(client: af.SandboxClient, sandbox_id: str,
              cases: Iterable[Sequence]) -> Dict[str, str]:
    """Run every case in one exec of probe.py inside the sandbox."""
    cases = [list(c) for c in cases]
    names = [c[0] for c in cases]
    assert len(set(names)) == len(names), "duplicate case names"
    r = client.exec(sandbox_id, "exec python3 -", stdin=PROBE_SOURCE,
                    env={"AF_PROBE_CASES": json.dumps(cases)}, timeout=PROBE_TIMEOUT)
    assert r.exit_code == 0, f"probe failed ({r.exit_code}): {r.stderr}\n{r.message}"
    out = json.loads(r.stdout)
    assert sorted(out) == sorted(names), "probe skipped cases"
    return out


def mismatches(got: Mapping[str, str], want: Mapping[str, str]) -> List[str]:
    return [f"{k}: expected {want[k]}, got {got.get(k)}"
            for k in want if got.get(k) != want[k]]
