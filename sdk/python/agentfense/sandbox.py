"""Sandbox: the high-level handle that owns a sandbox (and its codebase) for a `with` block."""

from __future__ import annotations

import logging
import os
from typing import Iterable, List, Mapping, Optional, Sequence, Union

from . import _common, _upload
from .client import SandboxClient
from .exceptions import AgentFenseError
from .presets import DEFAULT_PRESET
from .session import Session
from .stream import ExecStream
from .types import (Change, Codebase, CommitResult, ExecResult, ResourceLimits,
                    RuleLike, RuntimeType, SandboxFileInfo, SandboxInfo, Timeout,
                    UploadSummary)

log = logging.getLogger("agentfense")


class Sandbox(_common.SandboxState[SandboxClient]):
    """A sandbox plus the resources this object is responsible for removing.

    Use it as a context manager: on leaving the block, for any reason
    (exceptions and KeyboardInterrupt included), the sandbox is destroyed
    and, when this object created it, the codebase deleted.
    """

    def __init__(self, client: SandboxClient, info: SandboxInfo, *,
                 owns_sandbox: bool, owns_codebase: bool, owns_client: bool,
                 upload: Optional[UploadSummary] = None) -> None:
        super().__init__(client, info, owns_sandbox=owns_sandbox,
                         owns_codebase=owns_codebase, owns_client=owns_client,
                         upload=upload)

    # -- construction -----------------------------------------------------

    @classmethod
    def from_local(cls, path: Union[str, "os.PathLike[str]"],
                   preset: Optional[str] = DEFAULT_PRESET,
                   permissions: Optional[Iterable[RuleLike]] = None,
                   runtime: RuntimeType = RuntimeType.BWRAP, image: Optional[str] = None,
                   resources: Optional[ResourceLimits] = None,
                   endpoint: Optional[str] = None, *, secure: bool = False,
                   owner_id: Optional[str] = None, codebase_name: Optional[str] = None,
                   labels: Optional[Mapping[str, str]] = None, expires_in: Timeout = None,
                   auto_start: bool = True, client: Optional[SandboxClient] = None,
                   ignore_patterns: Optional[Sequence[str]] = None,
                   use_gitignore: bool = True, use_default_ignores: bool = True,
                   max_file_size: Optional[int] = None, on_large_file: str = "warn",
                   compression: str = "auto", progress: _upload.Progress = None,
                   commit_after_exec: bool = False) -> "Sandbox":
        """Upload a local directory as a new codebase and open a sandbox on it.

        The tree goes up in one stream (see SandboxClient.upload_directory
        for the ignore rules, size limits and `progress`); what was left out
        is in `sandbox.upload.skipped`. If any step fails, Ctrl-C included,
        whatever was already created is removed before the error propagates.
        """
        root, rules = _common.local_args(path, preset, permissions)  # bad ones fail early
        c = client or SandboxClient(endpoint, secure=secure)
        with _Undo(c, close_client=client is None) as undo:
            scan = _upload.plan(root, c.get_upload_limits(), ignore_patterns=ignore_patterns,
                                use_gitignore=use_gitignore,
                                use_default_ignores=use_default_ignores,
                                max_file_size=max_file_size, on_large_file=on_large_file)
            undo.codebase_id = c.create_codebase(
                *_common.new_codebase_args(root, codebase_name, owner_id)).id
            summary = c.upload_scan(undo.codebase_id, scan, compression=compression,
                                    progress=progress)
            info = undo.open_sandbox(undo.codebase_id, auto_start, permissions=rules,
                                     labels=labels, expires_in=expires_in, runtime=runtime,
                                     image=image, resources=resources,
                                     commit_after_exec=commit_after_exec)
        return cls(c, info, owns_sandbox=True, owns_codebase=True,
                   owns_client=client is None, upload=summary)

    @classmethod
    def from_codebase(cls, codebase_id: str, preset: Optional[str] = DEFAULT_PRESET,
                      permissions: Optional[Iterable[RuleLike]] = None,
                      runtime: RuntimeType = RuntimeType.BWRAP, image: Optional[str] = None,
                      resources: Optional[ResourceLimits] = None,
                      endpoint: Optional[str] = None, *, secure: bool = False,
                      labels: Optional[Mapping[str, str]] = None,
                      expires_in: Timeout = None, auto_start: bool = True,
                      client: Optional[SandboxClient] = None,
                      commit_after_exec: bool = False) -> "Sandbox":
        """Open a sandbox on an existing codebase (which is left in place on exit)."""
        c = client or SandboxClient(endpoint, secure=secure)
        with _Undo(c, close_client=client is None) as undo:
            info = undo.open_sandbox(codebase_id, auto_start, permissions=permissions,
                                     preset=_common.preset_or_default(preset),
                                     labels=labels, expires_in=expires_in,
                                     runtime=runtime, image=image, resources=resources,
                                     commit_after_exec=commit_after_exec)
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

    # -- state (id, status, info... in _common.SandboxState) ---------------

    @property
    def codebase(self) -> Codebase:
        if self._codebase is None:
            self._codebase = self._client.get_codebase(self.codebase_id)
        return self._codebase

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

    def session(self, shell: Optional[str] = None,
                env: Optional[Mapping[str, str]] = None) -> Session:
        """A persistent shell; `with sandbox.session() as s:` closes it after."""
        return self._client.session(self.id, shell=shell, env=env)

    # -- files, through the sandbox's view --------------------------------

    def read_file_bytes(self, path: str) -> bytes:
        """A file as the sandbox sees it (its own writes included), under its
        rules: FileNotFoundError when hidden or missing, PermissionDeniedError
        when view-only. The sandbox must be running."""
        return self._client.read_sandbox_file(self.id, path)

    def read_file(self, path: str, encoding: str = "utf-8") -> str:
        return self.read_file_bytes(path).decode(encoding, errors="replace")

    def write_file(self, path: str, content: Union[str, bytes]) -> None:
        """Write a file as a command in the sandbox would (its rules apply;
        parents are created): PermissionDeniedError where it may not write."""
        wpath, data, env = _common.write_request(path, content)
        result = self.exec(_common.WRITE_SCRIPT, stdin=data, env=env)
        err = _common.write_error(result, wpath, self.id)
        if err:
            raise err

    def list_files(self, path: str = "/", recursive: bool = False) -> List[SandboxFileInfo]:
        """Entries the sandbox can see, with each one's permission level."""
        return self._client.list_sandbox_files(self.id, path, recursive)

    def changes(self) -> List[Change]:
        """What the sandbox changed against its snapshot of the codebase."""
        return self._client.list_changes(self.id)

    def commit(self, paths: Optional[Sequence[str]] = None,
               dry_run: bool = False) -> CommitResult:
        """Commit the sandbox's changes into its codebase (all, or those at
        or below `paths`). CommitConflictError if the codebase changed there
        meanwhile (nothing is committed then)."""
        return self._client.commit_changes(self.id, paths, dry_run)

    # -- audit trail (agentfense.audit) -----------------------------------

    def audit(self, **options):
        """This sandbox's audit events: see agentfense.audit.query."""
        return self._client.audit(self.id, **options)

    # -- teardown ---------------------------------------------------------

    def destroy(self, delete_codebase: Optional[bool] = None) -> None:
        """Destroy the sandbox, then delete the codebase if this object created
        it (or if delete_codebase=True). Safe to call more than once."""
        if self._destroyed:
            return
        errors: List[BaseException] = []
        try:
            for remove, ident, tolerated in self._removals(delete_codebase):
                try:
                    remove(ident)
                except tolerated:
                    pass
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
            if _common.should_raise_cleanup_error(exc_type, "cleanup of sandbox %s failed", self.id):
                raise
        return False

    def __repr__(self) -> str:
        return f"Sandbox(id={self.id!r}, status={self.status.value})"


class _Undo(_common.UndoState[SandboxClient]):
    """Remove what a failed construction created, then let its error propagate.

    Whatever fails inside the block (KeyboardInterrupt included), the sandbox
    and codebase recorded so far are removed on a best-effort basis; a
    failure to remove them is logged, never raised over the original error.
    """

    def open_sandbox(self, codebase_id: str, auto_start: bool, **create) -> SandboxInfo:
        info = self.client.create_sandbox(codebase_id, **create)
        self.sandbox_id = info.id
        return self.client.start_sandbox(info.id) if auto_start else info

    def __enter__(self) -> "_Undo":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            return False
        for remove, ident, warning in self._removals():
            try:
                remove(ident)
            except AgentFenseError:
                log.warning(warning, ident, exc_info=True)
        if self.close_client:
            self.client.close()
        return False
