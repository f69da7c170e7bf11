"""The session daemon of the suites that run a real agentfensed (tests/e2e,
tests/security): when a suite cannot run here, and the daemon's life, whose
end must be clean."""

import contextlib
import os
import warnings
from typing import Dict, Iterable, Iterator, Optional

import afe2e  # first: this checkout's SDK
import agentfense as af


def skip_reason(suite: str) -> Optional[str]:
    """Why `suite` ("e2e tests", ...) cannot run here; None when it can."""
    if os.geteuid() != 0:
        return f"{suite} need root (the daemon creates namespaces, cgroups and mounts)"
    if not os.access(afe2e.daemon_binary(), os.X_OK):
        return (f"daemon binary {afe2e.daemon_binary()} is missing: build the agentfensed "
                "and agentfense-init targets, or point AF_BUILD_DIR at a build")
    return None


def shutdown_findings(d: afe2e.Daemon, sandbox_ids: Iterable[str]) -> Dict[str, object]:
    """What a daemon shut down with SIGTERM left behind."""
    found: Dict[str, object] = {}
    for sb in sandbox_ids:
        # Stopped sandboxes keep their directory (delta) for a restart.
        left = afe2e.wait_until(lambda: afe2e.leftovers(sb, d, dirs=False))
        if left:
            found[sb] = left
    mounts = afe2e.mounts_mentioning(d.tmp)
    if mounts:
        found["mounts under the temp dir"] = mounts
    procs = afe2e.wait_until(lambda: afe2e.processes_with_env(d.marker_name, d.marker_value))
    if procs:
        found["processes with the daemon's environment"] = {p: afe2e.cmdline(p) for p in procs}
    return found


@contextlib.contextmanager
def serving(d: afe2e.Daemon) -> Iterator[afe2e.Daemon]:
    """The body of a session's `daemon` fixture: d runs for the block; then
    SIGTERM must end it with status 0, leaving nothing behind (what it did
    leave is reaped before the failure is reported)."""
    others = afe2e.other_daemons()
    if others:
        warnings.warn(f"other agentfensed processes are running ({others}); daemons share "
                      "the host's agentfense cgroup subtree and may disturb each other")
    yield d.start_or_remove()
    sandbox_ids = []
    if d.running():
        with af.SandboxClient(d.endpoint) as c:
            try:
                sandbox_ids = [s.id for s in c.list_sandboxes()]
            except af.AgentFenseError:
                pass
    rc = d.stop()
    found = shutdown_findings(d, sandbox_ids)
    log = d.log_tail()
    for sb in sandbox_ids:
        afe2e.reap(sb)
    d.remove()
    assert rc == 0, f"agentfensed exited with {rc} on SIGTERM:\n{log}"
    assert not found, f"left behind after daemon shutdown: {found}"
