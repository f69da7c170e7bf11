"""Helpers of the end-to-end suite: running agentfensed, and finding what a
sandbox or a daemon left behind (processes, cgroups, mounts, directories).

Importing it puts this checkout's SDK first on sys.path (its stubs generated
if missing): import it before agentfense.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Dict, Iterator, List, Optional, Tuple

ROOT = pathlib.Path(__file__).resolve().parents[2]
SDK = ROOT / "sdk" / "python"
if not (SDK / "agentfense" / "_proto" / "sandbox" / "v1" / "sandbox_pb2.py").exists():
    subprocess.run([sys.executable, str(SDK / "gen_proto.py")], check=True)
sys.path.insert(0, str(SDK))

import grpc  # noqa: E402

from agentfense._proto.sandbox.v1 import server_pb2, server_pb2_grpc  # noqa: E402

CGROUP_ROOT = "/sys/fs/cgroup"
READY_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


def build_dir() -> str:
    return os.environ.get("AF_BUILD_DIR", "/work/main/build")


def daemon_binary() -> str:
    return os.path.join(build_dir(), "src", "agentfensed")


def init_binary() -> str:
    return os.path.join(build_dir(), "src", "agentfense-init")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """One agentfensed in its own temp dir (state dir, socket, log).

    start() and stop() may alternate: a restart keeps the state dir, port
    and socket, like restarting the service.  A unique marker variable is
    put in the daemon's environment so tests can prove it never reaches a
    sandbox, and find any process that inherited it.
    """

    def __init__(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="af-e2e-")
        self.state_dir = os.path.join(self.tmp, "state")
        os.mkdir(self.state_dir)
        self.sock = os.path.join(self.tmp, "agentfensed.sock")
        self.port = free_port()
        self.endpoint = f"127.0.0.1:{self.port}"
        self.log_path = os.path.join(self.tmp, "agentfensed.log")
        self.marker_name = "AF_E2E_LEAK_MARKER"
        self.marker_value = uuid.uuid4().hex
        self.proc: Optional[subprocess.Popen] = None

    def command(self) -> List[str]:
        cmd = [daemon_binary(), "--listen", self.endpoint, "--unix", self.sock,
               "--state-dir", self.state_dir, "--log-level", "debug"]
        if os.path.exists(init_binary()):
            cmd += ["--init", init_binary()]
        # More options for every daemon of the suite (the VM runs need some).
        cmd += os.environ.get("AF_E2E_DAEMON_ARGS", "").split()
        return cmd

    def start(self) -> None:
        env = dict(os.environ)
        env[self.marker_name] = self.marker_value
        with open(self.log_path, "ab") as log:
            # Own session: a Ctrl-C in the terminal reaches pytest, whose
            # teardown then stops the daemon with SIGTERM as a user would.
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, env=env,
                                         start_new_session=True)
        self._wait_ready()

    def start_or_remove(self) -> "Daemon":
        """start(); should that fail, kill the daemon and remove its temp dir
        before the error propagates."""
        try:
            self.start()
        except BaseException:
            self.kill()
            self.remove()
            raise
        return self

    def stop_and_remove(self) -> Tuple[int, str]:
        """stop() and remove(): the exit status, and the log's tail as it was
        before the temp dir went."""
        rc = self.stop()
        log = self.log_tail()
        self.remove()
        return rc, log

    @contextlib.contextmanager
    def lifetime(self) -> Iterator["Daemon"]:
        """Started for the block, then stopped and removed whatever happens
        (its exit status unchecked)."""
        try:
            self.start()
            yield self
        finally:
            self.stop()
            self.remove()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        with grpc.insecure_channel(self.endpoint) as ch:
            stub = server_pb2_grpc.ServerServiceStub(ch)
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"agentfensed exited with {self.proc.returncode} "
                                       f"during start-up:\n{self.log_tail()}")
                try:
                    stub.Health(server_pb2.HealthRequest(), timeout=1.0)
                    return
                except grpc.RpcError:
                    time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"agentfensed not healthy after {READY_TIMEOUT} s:\n"
                           f"{self.log_tail()}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        """Signal the daemon and wait; returns its exit status (SIGKILL on hang: -9)."""
        if not self.running():
            return self.proc.returncode
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.returncode

    def kill(self) -> None:
        if self.running():
            self.proc.kill()
            self.proc.wait()

    def log_tail(self, lines: int = 40) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def remove(self) -> None:
        """Delete the temp dir, never crossing into a mount left behind."""
        for mnt in sorted(mounts_under(self.tmp), key=len, reverse=True):
            subprocess.run(["umount", "-l", mnt], check=False)
        subprocess.run(["rm", "-rf", "--one-file-system", self.tmp], check=False)


# -- what is left behind ----------------------------------------------------

def _read(path: str, mode: str = "r") -> Optional[bytes]:
    try:
        with open(path, mode) as f:
            return f.read()
    except OSError:
        return None


def _pids() -> List[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def ppid_of(pid: int) -> Optional[int]:
    stat = _read(f"/proc/{pid}/stat")
    if stat is None:
        return None
    # comm may hold spaces and parentheses: parse after the last ')'.
    return int(stat.rsplit(")", 1)[1].split()[1])


def descends_from(pid: int, ancestor: int) -> bool:
    seen = set()
    while pid and pid not in seen:
        if pid == ancestor:
            return True
        seen.add(pid)
        pid = ppid_of(pid) or 0
    return False


def cmdline(pid: int) -> List[str]:
    raw = _read(f"/proc/{pid}/cmdline", "rb") or b""
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def sandbox_processes(sandbox_id: str) -> Dict[int, List[str]]:
    """Processes whose cgroup path names the sandbox: pid -> argv."""
    out = {}
    for pid in _pids():
        cg = _read(f"/proc/{pid}/cgroup")
        if cg and sandbox_id in cg:
            out[pid] = cmdline(pid)
    return out


def processes_matching(argv: List[str], ancestor: Optional[int] = None,
                       sandbox_id: Optional[str] = None) -> List[int]:
    """Pids running exactly `argv` that belong to the sandbox's cgroup or
    descend from `ancestor` (the daemon)."""
    found = []
    for pid in _pids():
        if cmdline(pid) != argv:
            continue
        in_sandbox = sandbox_id is not None and sandbox_id in (_read(f"/proc/{pid}/cgroup") or "")
        if in_sandbox or (ancestor is not None and descends_from(pid, ancestor)):
            found.append(pid)
    return found


def processes_with_env(name: str, value: str) -> List[int]:
    """Pids whose environment holds name=value (our daemon's marker)."""
    needle = f"{name}={value}".encode()
    return [pid for pid in _pids()
            if pid != os.getpid()
            and needle in (_read(f"/proc/{pid}/environ", "rb") or b"").split(b"\0")]


def cgroup_dirs(sandbox_id: str) -> List[str]:
    """Directories named like the sandbox under any .../agentfense cgroup subtree."""
    found = []
    for dirpath, dirnames, _ in os.walk(CGROUP_ROOT):
        if "agentfense" in dirpath.split(os.sep):
            found += [os.path.join(dirpath, d) for d in dirnames if sandbox_id in d]
    return found


def mountinfo_lines(pid: object = "self") -> List[str]:
    data = _read(f"/proc/{pid}/mountinfo")
    return data.splitlines() if data else []


def mounts_mentioning(text: str, pids: tuple = ("self",)) -> List[str]:
    return [line for p in pids for line in mountinfo_lines(p) if text in line]


def mounts_under(path: str) -> List[str]:
    path = os.path.realpath(path)
    points = [line.split()[4] for line in mountinfo_lines()]
    return [m for m in points if m == path or m.startswith(path + "/")]


def dirs_named(sandbox_id: str, roots: List[str]) -> List[str]:
    """Directories whose name contains the sandbox id: anywhere under each
    root that is a state dir, or directly inside the others (/tmp, /run...)."""
    found = []
    for root, recursive in roots:
        if not os.path.isdir(root):
            continue
        if recursive:
            for dirpath, dirnames, _ in os.walk(root):
                found += [os.path.join(dirpath, d) for d in dirnames if sandbox_id in d]
        else:
            found += [e.path for e in os.scandir(root)
                      if sandbox_id in e.name and e.is_dir(follow_symlinks=False)]
    return found


def other_daemons(own_pid: Optional[int] = None) -> List[int]:
    """Other agentfensed processes: they share the host's agentfense cgroup subtree."""
    return [pid for pid in _pids()
            if pid != own_pid
            and (_read(f"/proc/{pid}/comm") or "").startswith("agentfensed")]


def wait_until(pred, timeout: float = 5.0, interval: float = 0.05):
    """Poll until pred() returns something falsy or the time is up; return
    its last value, so "nothing is left" reads `assert not wait_until(f)`."""
    deadline = time.monotonic() + timeout
    value = pred()
    while value and time.monotonic() < deadline:
        time.sleep(interval)
        value = pred()
    return value


def leftovers(sandbox_id: str, daemon: Daemon, *, dirs: bool = True) -> Dict[str, list]:
    """Everything a destroyed (or shut down) sandbox must not leave behind."""
    pids = ("self", daemon.pid) if daemon.running() else ("self",)
    found = {
        "processes": sorted(sandbox_processes(sandbox_id).items()),
        "cgroups": cgroup_dirs(sandbox_id),
        "mounts": mounts_mentioning(sandbox_id, pids),
    }
    if dirs:
        found["dirs"] = dirs_named(sandbox_id, [(daemon.state_dir, True), ("/tmp", False),
                                                ("/run", False), ("/dev/shm", False),
                                                ("/run/agentfense", False)])
    return {k: v for k, v in found.items() if v}


def reap(sandbox_id: str) -> None:
    """Remove what a failed test found: kill the sandbox's processes by pid,
    then remove its cgroups deepest first."""
    for pid in sandbox_processes(sandbox_id):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(0.2)
    for d in sorted(cgroup_dirs(sandbox_id), key=len, reverse=True):
        for sub, _, _ in sorted(os.walk(d), key=lambda t: len(t[0]), reverse=True):
            try:
                os.rmdir(sub)
            except OSError:
                pass


def assert_fork_bomb_contained(client, sandbox_id: str) -> None:
    """A fork bomb under a pids limit of 64 ends with its command (well within
    its timeout), the sandbox runs commands again, and no bomb process is left
    (pid 1, the checking shell and ls are all that may remain)."""
    start = time.monotonic()
    client.exec(sandbox_id, "bash -c ':(){ :|:& };:'; sleep 2", timeout=30)
    assert time.monotonic() - start < 25
    for _ in range(3):
        r = client.exec(sandbox_id, "echo alive; ls /workspace", timeout=10)
        assert (r.exit_code, r.stdout) == (0, "alive\nhello.txt\n")
    r = client.exec(sandbox_id, "ls -d /proc/[0-9]* | wc -l")
    assert int(r.stdout) <= 4, "bomb processes survived"
