"""Fixtures of the afctl suite: a daemon of its own, a codebase and a running
sandbox on it, and `afctl`, which runs the binary against that daemon.

Skipped, with the reason printed, when not root or when a binary is
missing ($AF_BUILD_DIR/tools/afctl/afctl, the daemon and its init).
"""

import json
import os
import pathlib
import subprocess
import sys
import types

ROOT = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "sdk" / "python"))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))

import pytest  # noqa: E402

import afe2e  # noqa: E402
import agentfense as af  # noqa: E402


def afctl_binary() -> str:
    return os.path.join(afe2e.build_dir(), "tools", "afctl", "afctl")


def _skip_reason():
    if os.geteuid() != 0:
        return "afctl tests need root (the daemon; pinned BPF objects)"
    for exe in (afctl_binary(), afe2e.daemon_binary()):
        if not os.access(exe, os.X_OK):
            return f"{exe} is missing: build the afctl and agentfensed targets"
    return None


@pytest.fixture(scope="session")
def daemon():
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    d = afe2e.Daemon()
    try:
        d.start()
        yield d
    finally:
        d.stop()
        d.remove()


class Afctl:
    """Runs afctl against one daemon; results carry rc, out, err, and the
    parsed JSON of out when -j/-p was given."""

    def __init__(self, sock: str) -> None:
        self.sock = sock

    def __call__(self, *args, sock=None, timeout=60):
        cmd = [afctl_binary(), "-s", sock or self.sock, *args]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        res = types.SimpleNamespace(rc=p.returncode, out=p.stdout, err=p.stderr,
                                    json=None)
        if "-j" in args or "-p" in args:
            res.json = json.loads(p.stdout) if p.stdout.strip() else None
        return res


@pytest.fixture(scope="session")
def afctl(daemon):
    return Afctl(daemon.sock)


@pytest.fixture(scope="session")
def client(daemon):
    with af.SandboxClient(daemon.endpoint) as c:
        yield c


@pytest.fixture(scope="session")
def world(client):
    """A codebase and a running sandbox on it that has denied something."""
    cb = client.create_codebase("afctl", owner_id="afctl")
    client.upload_file(cb.id, "src/main.py", b"print('hi')\n")
    client.upload_file(cb.id, "secrets/key.pem", b"KEY")
    # Landlock decides creating on the directory: out/ must exist.
    client.upload_file(cb.id, "out/.keep", b"")
    rules = [af.PermissionRule("/out/**", af.Permission.WRITE)]
    sb = client.create_sandbox(cb.id, preset="agent-safe", permissions=rules,
                               labels=af.audit_labels("writes"))
    client.start_sandbox(sb.id)
    client.exec(sb.id, "echo x > /workspace/src/main.py; "
                "echo y > /workspace/out/r.txt")
    yield types.SimpleNamespace(codebase=cb, sandbox=sb)
    for call, arg in ((client.destroy_sandbox, sb.id), (client.delete_codebase, cb.id)):
        try:
            call(arg)
        except af.NotFoundError:
            pass
