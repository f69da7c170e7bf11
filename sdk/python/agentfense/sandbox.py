"""Sandbox: the high-level handle that owns a sandbox (and its codebase) for a `with` block."""

from __future__ import annotations

import getpass
import logging
import os
from typing import Iterable, List, Mapping, Optional, Union

from ._local import iter_local_files
from .client import SandboxClient
from .exceptions import (AgentFenseError, InvalidConfigurationError,
                         SandboxNotFoundError)
from .presets import DEFAULT_PRESET, expand_permissions
from .stream import ExecStream
from .types import (ExecResult, ResourceLimits, RuleLike, RuntimeType,
                    SandboxInfo, SandboxStatus, Timeout)

log = logging.getLogger("agentfense")


class Sandbox:
    """A sandbox plus the resources this object is responsible for removing.

    Use it as a context manager: on leaving the block, for any reason
    (exceptions and KeyboardInterrupt included), the sandbox is destroyed
    and, when this object created it, the codebase deleted.
    """

    def __init__(self, client: SandboxClient, info: SandboxInfo, *,
                 owns_sandbox: bool, owns_codebase: bool, owns_client: bool) -> None:
        self._client = client
        self._info = info
        self._owns_sandbox = owns_sandbox
        self._owns_codebase = owns_codebase
        self._owns_client = owns_client
        self._destroyed = False

    # -- construction -----------------------------------------------------

    @classmethod
    def from_local(cls, path: Union[str, os.PathLike], preset: Optional[str] = DEFAULT_PRESET,
                   permissions: Optional[Iterable[RuleLike]] = None,
                   runtime: RuntimeType = RuntimeType.BWRAP, image: Optional[str] = None,
                   resources: Optional[ResourceLimits] = None,
                   endpoint: Optional[str] = None, *, secure: bool = False,
                   owner_id: Optional[str] = None, codebase_name: Optional[str] = None,
                   labels: Optional[Mapping[str, str]] = None, expires_in: Timeout = None,
                   auto_start: bool = True,
                   client: Optional[SandboxClient] = None) -> "Sandbox":
        """Upload a local directory as a new codebase and open a sandbox on it.

        Every regular file is uploaded except interpreter caches and
        virtualenvs (__pycache__, .venv, any directory holding pyvenv.cfg);
        symbolic links are skipped, not followed; empty directories are not
        recreated.  If any step fails, whatever was already created is
        removed before the error propagates.
        """
        root = os.fspath(path)
        if not os.path.isdir(root):
            raise InvalidConfigurationError(f"not a directory: {root!r}")
        rules = expand_permissions(preset, permissions)  # bad preset: fail before creating
        name = codebase_name or os.path.basename(os.path.abspath(root)) or "codebase"
        c = client or SandboxClient(endpoint, secure=secure)
        with _Undo(c, close_client=client is None) as undo:
            undo.codebase_id = c.create_codebase(name, owner_id or _default_owner()).id
            for rel, local in iter_local_files(root):
                with open(local, "rb") as f:
                    c.upload_file(undo.codebase_id, rel, f)
            info = undo.open_sandbox(undo.codebase_id, auto_start, permissions=rules,
                                     labels=labels, expires_in=expires_in, runtime=runtime,
                                     image=image, resources=resources)
        return cls(c, info, owns_sandbox=True, owns_codebase=True,
                   owns_client=client is None)

    @classmethod
    def from_codebase(cls, codebase_id: str, preset: Optional[str] = DEFAULT_PRESET,
                      permissions: Optional[Iterable[RuleLike]] = None,
                      runtime: RuntimeType = RuntimeType.BWRAP, image: Optional[str] = None,
                      resources: Optional[ResourceLimits] = None,
                      endpoint: Optional[str] = None, *, secure: bool = False,
                      labels: Optional[Mapping[str, str]] = None,
                      expires_in: Timeout = None, auto_start: bool = True,
                      client: Optional[SandboxClient] = None) -> "Sandbox":
        """Open a sandbox on an existing codebase (which is left in place on exit)."""
        c = client or SandboxClient(endpoint, secure=secure)
        with _Undo(c, close_client=client is None) as undo:
            info = undo.open_sandbox(codebase_id, auto_start, permissions=permissions,
                                     preset=preset, labels=labels, expires_in=expires_in,
                                     runtime=runtime, image=image, resources=resources)
        return cls(c, info, owns_sandbox=True, owns_codebase=False,
                   owns_client=client is None)

    @classmethod
    def connect(cls, sandbox_id: str, endpoint: Optional[str] = None, *,
                secure: bool = False) -> "Sandbox":
        """Attach to an existing sandbox; leaving a `with` block does not destroy it."""
        c = SandboxClient(endpoint, secure=secure)
        try:
            info = c.get_sandbox(sandbox_id)
        except BaseException:
            c.close()
            raise
        return cls(c, info, owns_sandbox=False, owns_codebase=False, owns_client=True)

    # -- state ------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._info.id

    @property
    def codebase_id(self) -> str:
        return self._info.codebase_id

    @property
    def status(self) -> SandboxStatus:
        """Status as last seen (see refresh())."""
        return self._info.status

    @property
    def info(self) -> SandboxInfo:
        return self._info

    @property
    def client(self) -> SandboxClient:
        return self._client

    def refresh(self) -> "Sandbox":
        self._info = self._client.get_sandbox(self.id)
        return self

    def start(self) -> "Sandbox":
        self._info = self._client.start_sandbox(self.id)
        return self

    def stop(self) -> "Sandbox":
        self._info = self._client.stop_sandbox(self.id)
        return self

    # -- commands ---------------------------------------------------------

    def run(self, command: str, timeout: Timeout = None,
            env: Optional[Mapping[str, str]] = None, workdir: Optional[str] = None,
            raise_on_error: bool = False) -> ExecResult:
        """Run a shell command; timeout in seconds (or a timedelta)."""
        result = self.exec(command, env=env, workdir=workdir, timeout=timeout)
        return result.raise_on_error() if raise_on_error else result

    def exec(self, command: str, stdin: Union[str, bytes, None] = None,
             env: Optional[Mapping[str, str]] = None, workdir: Optional[str] = None,
             timeout: Timeout = None) -> ExecResult:
        return self._client.exec(self.id, command, stdin=stdin, env=env,
                                 workdir=workdir, timeout=timeout)

    def exec_stream(self, command: str, stdin: Union[str, bytes, None] = None,
                    env: Optional[Mapping[str, str]] = None,
                    workdir: Optional[str] = None, timeout: Timeout = None) -> ExecStream:
        """Output chunks as they come: each is bytes with a `.type` (stdout/stderr)."""
        return self._client.exec_stream(self.id, command, stdin=stdin, env=env,
                                        workdir=workdir, timeout=timeout)

    # -- teardown ---------------------------------------------------------

    def destroy(self, delete_codebase: Optional[bool] = None) -> None:
        """Destroy the sandbox, then delete the codebase if this object created
        it (or if delete_codebase=True).  Safe to call more than once."""
        if self._destroyed:
            return
        if delete_codebase is None:
            delete_codebase = self._owns_codebase
        errors: List[BaseException] = []
        try:
            try:
                self._client.destroy_sandbox(self.id)
            except SandboxNotFoundError:
                pass
            except AgentFenseError as exc:
                errors.append(exc)
            if delete_codebase:
                try:
                    self._client.delete_codebase(self.codebase_id)
                except AgentFenseError as exc:
                    errors.append(exc)
            self._destroyed = True
        finally:
            if self._owns_client:
                self._client.close()
        if errors:
            raise errors[0]

    def close(self) -> None:
        """Release what this object owns: destroy() if it owns the sandbox."""
        if self._owns_sandbox:
            self.destroy()
        elif self._owns_client:
            self._client.close()

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            self.close()
        except AgentFenseError:
            if exc_type is None:
                raise
            # Do not mask the error that ended the block.
            log.warning("cleanup of sandbox %s failed", self.id, exc_info=True)
        return False

    def __repr__(self) -> str:
        return f"Sandbox(id={self.id!r}, status={self.status.value})"


def _default_owner() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "agentfense"


class _Undo:
    """Remove what a failed construction created, then let its error propagate.

    Whatever fails inside the block (KeyboardInterrupt included), the sandbox
    and codebase recorded so far are removed on a best-effort basis; a
    failure to remove them is logged, never raised over the original error.
    """

    def __init__(self, client: SandboxClient, close_client: bool) -> None:
        self.client = client
        self.close_client = close_client
        self.codebase_id: Optional[str] = None
        self.sandbox_id: Optional[str] = None

    def open_sandbox(self, codebase_id: str, auto_start: bool, **create) -> SandboxInfo:
        info = self.client.create_sandbox(codebase_id, **create)
        self.sandbox_id = info.id
        return self.client.start_sandbox(info.id) if auto_start else info

    def __enter__(self) -> "_Undo":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            return False
        if self.sandbox_id is not None:
            try:
                self.client.destroy_sandbox(self.sandbox_id)
            except AgentFenseError:
                log.warning("could not destroy sandbox %s", self.sandbox_id, exc_info=True)
        if self.codebase_id is not None:
            try:
                self.client.delete_codebase(self.codebase_id)
            except AgentFenseError:
                log.warning("could not delete codebase %s", self.codebase_id, exc_info=True)
        if self.close_client:
            self.client.close()
        return False
