"""SandboxClient's sessions, bulk upload and sandbox file calls (sync)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Iterable, List, Mapping, Optional, Sequence

import grpc

from . import _archive
from . import _convert as cv
from . import _requests as rq
from . import _upload
from ._proto.sandbox.v1 import files_pb2, sandbox_pb2
from ._requests import exec_deadline
from .exceptions import AgentFenseError, CommitConflictError
from .session import Session
from .stream import ExecStream
from .types import (Change, CommitResult, ExecResult, SandboxFileInfo,
                    SessionInfo, Timeout, UploadLimits, UploadSummary,
                    timeout_seconds)

if TYPE_CHECKING:  # pragma: no cover
    from .client import SandboxClient


class _Aborted(Exception):
    """Ends a request stream whose producer failed (grpc then cancels it)."""


class FilesMixin:
    """Mixed into SandboxClient (which provides _unary, _error, stubs)."""

    # -- sessions ---------------------------------------------------------

    def create_session(self: "SandboxClient", sandbox_id: str,
                       shell: Optional[str] = None,
                       env: Optional[Mapping[str, str]] = None) -> SessionInfo:
        """Start a persistent shell (default: bash where the sandbox has it)."""
        req = rq.create_session_request(sandbox_id, shell, env)
        try:
            resp = self._sandboxes.CreateSession(req, timeout=self._timeout)
        except grpc.RpcError as err:
            raise self._with_status(self._error(err, sandbox_id=sandbox_id)) from None
        return cv.session_from_pb(resp)

    def session(self: "SandboxClient", sandbox_id: str, shell: Optional[str] = None,
                env: Optional[Mapping[str, str]] = None) -> Session:
        """A Session handle (a context manager that destroys it on exit)."""
        return Session(self, self.create_session(sandbox_id, shell, env))

    def get_session(self: "SandboxClient", session_id: str) -> SessionInfo:
        req = sandbox_pb2.GetSessionRequest(session_id=session_id)
        return cv.session_from_pb(
            self._unary(self._sandboxes.GetSession, req, session_id=session_id))

    def list_sessions(self: "SandboxClient", sandbox_id: str) -> List[SessionInfo]:
        req = sandbox_pb2.ListSessionsRequest(sandbox_id=sandbox_id)
        resp = self._unary(self._sandboxes.ListSessions, req, sandbox_id=sandbox_id)
        return [cv.session_from_pb(s) for s in resp.sessions]

    def destroy_session(self: "SandboxClient", session_id: str) -> None:
        req = sandbox_pb2.DestroySessionRequest(session_id=session_id)
        self._unary(self._sandboxes.DestroySession, req, session_id=session_id)

    def session_exec(self: "SandboxClient", session_id: str, command: str,
                     timeout: Timeout = None) -> ExecResult:
        secs = timeout_seconds(timeout)
        req = rq.session_exec_request(session_id, command, secs)
        try:
            resp = self._sandboxes.SessionExec(req, timeout=exec_deadline(secs))
        except grpc.RpcError as err:
            raise self._session_error(err, session_id, command, secs) from None
        return cv.exec_result_from_pb(resp, command)

    def session_exec_stream(self: "SandboxClient", session_id: str, command: str,
                            timeout: Timeout = None) -> ExecStream:
        secs = timeout_seconds(timeout)
        req = rq.session_exec_request(session_id, command, secs)
        call = self._sandboxes.SessionExecStream(req, timeout=exec_deadline(secs))
        return ExecStream(call, command,
                          lambda err: self._session_error(err, session_id, command, secs))

    # -- bulk upload ------------------------------------------------------

    def get_upload_limits(self: "SandboxClient") -> UploadLimits:
        return cv.limits_from_pb(self._unary(self._files.GetUploadLimits,
                                             files_pb2.GetUploadLimitsRequest()))

    def upload_directory(self: "SandboxClient", codebase_id: str, path: "os.PathLike[str] | str",
                         *, ignore_patterns: Optional[Sequence[str]] = None,
                         use_gitignore: bool = True, use_default_ignores: bool = True,
                         max_file_size: Optional[int] = None,
                         on_large_file: str = "warn", compression: str = "auto",
                         progress: _upload.Progress = None,
                         per_file_results: bool = False) -> UploadSummary:
        """Upload a local tree in one stream; it lands in the codebase as a
        whole or (on any error, Ctrl-C included) not at all.

        Ignore rules: gitignore semantics (.gitignore at every level,
        .sandboxignore, the SDK's defaults, ignore_patterns). Files above the
        size limit are handled per on_large_file; symbolic links and special
        files are left out. Everything left out is in the summary's
        `skipped`. progress: a callable taking UploadProgress, or True for a
        progress bar on stderr.
        """
        started = time.monotonic()
        scan = _upload.plan(path, self.get_upload_limits(),
                            ignore_patterns=ignore_patterns, use_gitignore=use_gitignore,
                            use_default_ignores=use_default_ignores,
                            max_file_size=max_file_size, on_large_file=on_large_file)
        return self.upload_scan(codebase_id, scan, compression=compression,
                                progress=progress, per_file_results=per_file_results,
                                started=started)

    def upload_scan(self: "SandboxClient", codebase_id: str, scan: "_archive.Scan", *,
                    compression: str = "auto", progress: _upload.Progress = None,
                    per_file_results: bool = False,
                    started: Optional[float] = None) -> UploadSummary:
        """Send what a scan (agentfense._archive.scan / _upload.plan) found."""
        started = time.monotonic() if started is None else started
        writer = _upload.writer(codebase_id, scan, compression=compression,
                                progress=progress, per_file_results=per_file_results)
        resp = self._send_archive(codebase_id, writer)
        return cv.upload_summary_from_pb(resp, codebase_id, scan.skipped,
                                         time.monotonic() - started)

    def _send_archive(self: "SandboxClient", codebase_id: str,
                      chunks: Iterable[files_pb2.ArchiveChunk]) -> files_pb2.UploadArchiveResult:
        failure: List[BaseException] = []
        calls: list = []

        def requests():
            try:
                for c in chunks:
                    yield c if isinstance(c, bytes) else c.SerializeToString()
            except GeneratorExit:
                # grpc closes the iterator once the call is over (the server
                # may answer before the upload ends): its status says why.
                raise
            except BaseException as exc:
                failure.append(exc)
                # Cancelled before the stream could end cleanly: the server
                # imports nothing. (grpc itself cancels on an Exception only.)
                if calls:
                    calls[0].cancel()
                    return
                raise _Aborted() from None

        fut = self._archive_method().future(requests())
        calls.append(fut)
        try:
            return fut.result()
        except BaseException as exc:
            fut.cancel()
            if failure:
                raise failure[0] from None
            if isinstance(exc, grpc.RpcError):
                raise self._error(exc, codebase_id=codebase_id) from None
            raise

    # -- a running sandbox's files ----------------------------------------

    def read_sandbox_file(self: "SandboxClient", sandbox_id: str, path: str,
                          offset: int = 0, length: int = 0) -> bytes:
        """A file as the running sandbox sees it (its writes included),
        under its rules: FileNotFoundError for a hidden or missing file,
        PermissionDeniedError for a view-only one."""
        req = rq.read_sandbox_file_request(sandbox_id, path, offset, length)
        try:
            return b"".join(c.data for c in self._files.ReadSandboxFile(req))
        except grpc.RpcError as err:
            raise self._with_status(self._error(
                err, sandbox_id=sandbox_id, file_path=req.path, operation="read")) from None

    def list_sandbox_files(self: "SandboxClient", sandbox_id: str, path: str = "/",
                           recursive: bool = False) -> List[SandboxFileInfo]:
        req = rq.list_sandbox_files_request(sandbox_id, path, recursive)
        try:
            resp = self._files.ListSandboxFiles(req, timeout=self._timeout)
        except grpc.RpcError as err:
            raise self._with_status(self._error(
                err, sandbox_id=sandbox_id, file_path=req.path, operation="list")) from None
        return [cv.sandbox_file_from_pb(f) for f in resp.files]

    def list_changes(self: "SandboxClient", sandbox_id: str) -> List[Change]:
        """What the running sandbox changed against its snapshot."""
        req = files_pb2.ListChangesRequest(sandbox_id=sandbox_id)
        try:
            resp = self._files.ListChanges(req, timeout=self._timeout)
        except grpc.RpcError as err:
            raise self._with_status(self._error(err, sandbox_id=sandbox_id)) from None
        return [cv.change_from_pb(c) for c in resp.changes]

    def commit_changes(self: "SandboxClient", sandbox_id: str,
                       paths: Optional[Sequence[str]] = None,
                       dry_run: bool = False) -> CommitResult:
        """Commit the sandbox's changes (at or below `paths`, or all) into its
        codebase as a new generation. CommitConflictError (with the paths)
        when the codebase changed there since the snapshot: then nothing is
        committed."""
        req = rq.commit_changes_request(sandbox_id, paths, dry_run)
        try:
            resp = self._files.CommitChanges(req, timeout=self._timeout)
        except grpc.RpcError as err:
            exc = self._with_status(self._error(err, sandbox_id=sandbox_id))
            if isinstance(exc, CommitConflictError):
                exc.paths = self._conflicts(sandbox_id, paths)
            raise exc from None
        return cv.commit_from_pb(resp, dry_run)

    def _conflicts(self: "SandboxClient", sandbox_id: str,
                   paths: Optional[Sequence[str]]) -> List[str]:
        try:
            return [c.path for c in self.commit_changes(sandbox_id, paths, True).conflicts]
        except AgentFenseError:
            return []
