"""A private Docker daemon for the Docker runtime's tests and benchmarks.

It runs Debian's dockerd with its own data root, exec root, pidfile and
socket under a temp dir, with --iptables=false --bridge=none (and no IP
forwarding or masquerading): sandboxes have no network, and a default
dockerd would set the FORWARD policy to DROP, turn on ip_forward and add
docker0 on the host.  The test image is built from Debian packages by
tools/dev/docker-image.sh (cached under .cache/docker/) and imported under
the name the spec's example uses.  Everything is stopped by pid.
"""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
from typing import Optional

TOP = pathlib.Path(__file__).resolve().parents[2]
IMAGE = "python:3.11-slim"
IMAGE_SCRIPT = TOP / "tools" / "dev" / "docker-image.sh"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def dockerd_binary() -> Optional[str]:
    return shutil.which("dockerd") or shutil.which("dockerd", path="/usr/sbin:/usr/bin")


def ensure_installed() -> Optional[str]:
    """None when dockerd is available (installing Debian's docker.io if it is
    missing), else the reason it cannot be."""
    if dockerd_binary():
        return None
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    r = subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                        "docker.io"], capture_output=True, text=True, env=env)
    if dockerd_binary():
        return None
    return f"docker.io cannot be installed: {(r.stderr or r.stdout).strip()[-400:]}"


class _UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("docker", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class DockerDaemon:
    """dockerd in its own temp dir; start() then stop(), or use as a context."""

    def __init__(self) -> None:
        self.tmp = tempfile.mkdtemp(prefix="af-dockerd-")
        self.sock = os.path.join(self.tmp, "docker.sock")
        self.host = f"unix://{self.sock}"
        self.pidfile = os.path.join(self.tmp, "dockerd.pid")
        self.log_path = os.path.join(self.tmp, "dockerd.log")
        # Containers' cgroups go under a parent of our own, removed at stop.
        self.cgroup_parent = os.path.basename(self.tmp)
        self.proc: Optional[subprocess.Popen] = None

    def command(self) -> list:
        config = os.path.join(self.tmp, "daemon.json")
        with open(config, "w") as f:
            f.write("{}\n")   # not the host's /etc/docker/daemon.json
        return [dockerd_binary(), "--config-file", config,
                "--data-root", os.path.join(self.tmp, "data"),
                "--exec-root", os.path.join(self.tmp, "exec"),
                "--pidfile", self.pidfile, "-H", self.host,
                "--iptables=false", "--ip6tables=false", "--bridge=none",
                "--ip-forward=false", "--ip-masq=false", "--userland-proxy=false",
                "--exec-opt", "native.cgroupdriver=cgroupfs",
                "--cgroup-parent", f"/{self.cgroup_parent}", "--log-level=warn"]

    def start(self) -> "DockerDaemon":
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited with {self.proc.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                if self.api("GET", "/_ping")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"dockerd not ready after {READY_TIMEOUT} s:\n{self.log_tail()}")

    def api(self, method: str, path: str, body=None, timeout: float = 60.0):
        """(status, parsed JSON or raw text) of one Engine API request."""
        conn = _UnixHTTP(self.sock, timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data,
                         headers={"Content-Type": "application/json"} if data else {})
            resp = conn.getresponse()
            raw = resp.read().decode(errors="replace")
        finally:
            conn.close()
        try:
            return resp.status, json.loads(raw)
        except ValueError:
            return resp.status, raw

    def has_image(self, name: str = IMAGE) -> bool:
        return self.api("GET", f"/images/{name}/json")[0] == 200

    def import_image(self, name: str = IMAGE) -> None:
        """Build (or take from the cache) the test root fs and import it."""
        if self.has_image(name):
            return
        tar = subprocess.run([str(IMAGE_SCRIPT)], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
        repo, tag = name.rsplit(":", 1)
        conn = _UnixHTTP(self.sock, 600)
        try:
            with open(tar, "rb") as f:
                conn.request("POST", f"/images/create?fromSrc=-&repo={repo}&tag={tag}",
                             body=f, headers={"Content-Type": "application/x-tar",
                                              "Content-Length": str(os.path.getsize(tar))})
            resp = conn.getresponse()
            out = resp.read().decode(errors="replace")
        finally:
            conn.close()
        if resp.status != 200 or not self.has_image(name):
            raise RuntimeError(f"docker import of {tar} failed ({resp.status}): {out[-400:]}")

    def containers(self, label: Optional[str] = None) -> list:
        path = "/containers/json?all=1"
        if label:
            path += "&filters=" + urllib.parse.quote(json.dumps({"label": [label]}))
        status, body = self.api("GET", path)
        return body if status == 200 else []

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM by pid (dockerd stops its containerd), SIGKILL on a hang,
        then remove the temp dir without crossing into a mount."""
        if self.running():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
        mounts = [line.split()[4] for line in lines]
        for m in sorted((m for m in mounts if m.startswith(self.tmp + "/")), key=len,
                        reverse=True):
            subprocess.run(["umount", "-l", m], check=False)
        subprocess.run(["rm", "-rf", "--one-file-system", self.tmp], check=False)
        # The (empty) parent cgroup runc made in every hierarchy.
        for line in lines:
            if " - cgroup" in line:
                try:
                    os.rmdir(os.path.join(line.split()[4], self.cgroup_parent))
                except OSError:
                    pass

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> "DockerDaemon":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
