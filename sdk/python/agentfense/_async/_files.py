"""AsyncSandboxClient's sessions, bulk upload and sandbox file calls."""

from __future__ import annotations

import asyncio
import os
import time
from typing import (TYPE_CHECKING, AsyncIterator, Iterator, List, Mapping,
                    Optional, Sequence)

import grpc

from .. import _archive
from .. import _convert as cv
from .. import _requests as rq
from .. import _upload
from .._proto.sandbox.v1 import files_pb2, sandbox_pb2
from .._requests import exec_deadline
from ..exceptions import AgentFenseError, CommitConflictError
from ..types import (Change, CommitResult, ExecResult, SandboxFileInfo,
                     SessionInfo, Timeout, UploadLimits, UploadSummary,
                     timeout_seconds)
from .session import AsyncSession
from .stream import AsyncExecStream

if TYPE_CHECKING:  # pragma: no cover
    from .client import AsyncSandboxClient

_DONE = object()


async def _in_thread(chunks: Iterator[bytes]) -> AsyncIterator:
    """The writer's messages, each made in a worker thread (reading files
    and compressing must not block the event loop)."""
    loop = asyncio.get_running_loop()
    while True:
        chunk = await loop.run_in_executor(None, next, chunks, _DONE)
        if chunk is _DONE:
            return
        yield chunk


class AsyncFilesMixin:
    # -- sessions ---------------------------------------------------------

    async def create_session(self: "AsyncSandboxClient", sandbox_id: str,
                             shell: Optional[str] = None,
                             env: Optional[Mapping[str, str]] = None) -> SessionInfo:
        req = rq.create_session_request(sandbox_id, shell, env)
        try:
            resp = await self._sandboxes.CreateSession(req, timeout=self._timeout)
        except grpc.RpcError as err:
            raise await self._with_status(self._error(err, sandbox_id=sandbox_id)) from None
        return cv.session_from_pb(resp)

    async def session(self: "AsyncSandboxClient", sandbox_id: str,
                      shell: Optional[str] = None,
                      env: Optional[Mapping[str, str]] = None) -> AsyncSession:
        return AsyncSession(self, await self.create_session(sandbox_id, shell, env))

    async def get_session(self: "AsyncSandboxClient", session_id: str) -> SessionInfo:
        req = sandbox_pb2.GetSessionRequest(session_id=session_id)
        return cv.session_from_pb(
            await self._unary(self._sandboxes.GetSession, req, session_id=session_id))

    async def list_sessions(self: "AsyncSandboxClient", sandbox_id: str) -> List[SessionInfo]:
        req = sandbox_pb2.ListSessionsRequest(sandbox_id=sandbox_id)
        resp = await self._unary(self._sandboxes.ListSessions, req, sandbox_id=sandbox_id)
        return [cv.session_from_pb(s) for s in resp.sessions]

    async def destroy_session(self: "AsyncSandboxClient", session_id: str) -> None:
        req = sandbox_pb2.DestroySessionRequest(session_id=session_id)
        await self._unary(self._sandboxes.DestroySession, req, session_id=session_id)

    async def session_exec(self: "AsyncSandboxClient", session_id: str, command: str,
                           timeout: Timeout = None) -> ExecResult:
        secs = timeout_seconds(timeout)
        req = rq.session_exec_request(session_id, command, secs)
        try:
            resp = await self._sandboxes.SessionExec(req, timeout=exec_deadline(secs))
        except grpc.RpcError as err:
            raise self._session_error(err, session_id, command, secs) from None
        return cv.exec_result_from_pb(resp, command)

    def session_exec_stream(self: "AsyncSandboxClient", session_id: str, command: str,
                            timeout: Timeout = None) -> AsyncExecStream:
        secs = timeout_seconds(timeout)
        req = rq.session_exec_request(session_id, command, secs)
        call = self._sandboxes.SessionExecStream(req, timeout=exec_deadline(secs))
        return AsyncExecStream(call, command,
                               lambda err: self._session_error(err, session_id, command, secs))

    # -- bulk upload ------------------------------------------------------

    async def get_upload_limits(self: "AsyncSandboxClient") -> UploadLimits:
        return cv.limits_from_pb(await self._unary(self._files.GetUploadLimits,
                                                   files_pb2.GetUploadLimitsRequest()))

    async def upload_directory(self: "AsyncSandboxClient", codebase_id: str,
                               path: "os.PathLike[str] | str", *,
                               ignore_patterns: Optional[Sequence[str]] = None,
                               use_gitignore: bool = True, use_default_ignores: bool = True,
                               max_file_size: Optional[int] = None,
                               on_large_file: str = "warn", compression: str = "auto",
                               progress: _upload.Progress = None,
                               per_file_results: bool = False) -> UploadSummary:
        """As SandboxClient.upload_directory (progress is called from a
        worker thread)."""
        started = time.monotonic()
        limits = await self.get_upload_limits()
        loop = asyncio.get_running_loop()
        scan = await loop.run_in_executor(None, lambda: _upload.plan(
            path, limits, ignore_patterns=ignore_patterns, use_gitignore=use_gitignore,
            use_default_ignores=use_default_ignores, max_file_size=max_file_size,
            on_large_file=on_large_file))
        return await self.upload_scan(codebase_id, scan, compression=compression,
                                      progress=progress, per_file_results=per_file_results,
                                      started=started)

    async def upload_scan(self: "AsyncSandboxClient", codebase_id: str,
                          scan: "_archive.Scan", *, compression: str = "auto",
                          progress: _upload.Progress = None,
                          per_file_results: bool = False,
                          started: Optional[float] = None) -> UploadSummary:
        started = time.monotonic() if started is None else started
        writer = _upload.writer(codebase_id, scan, compression=compression,
                                progress=progress, per_file_results=per_file_results)
        failure: List[BaseException] = []

        async def requests():
            try:
                async for chunk in _in_thread(iter(writer)):
                    yield chunk
            except BaseException as exc:
                failure.append(exc)
                raise

        call = self._archive_method()(requests())
        try:
            resp = await call
        except BaseException as exc:
            # grpc.aio cancels the call when the request iterator fails.
            call.cancel()
            if failure:
                raise failure[0] from None
            if isinstance(exc, grpc.RpcError):
                raise self._error(exc, codebase_id=codebase_id) from None
            raise
        return cv.upload_summary_from_pb(resp, codebase_id, scan.skipped,
                                         time.monotonic() - started)

    # -- a running sandbox's files ----------------------------------------

    async def read_sandbox_file(self: "AsyncSandboxClient", sandbox_id: str, path: str,
                                offset: int = 0, length: int = 0) -> bytes:
        req = rq.read_sandbox_file_request(sandbox_id, path, offset, length)
        try:
            return b"".join([c.data async for c in self._files.ReadSandboxFile(req)])
        except grpc.RpcError as err:
            raise await self._with_status(self._error(
                err, sandbox_id=sandbox_id, file_path=req.path, operation="read")) from None

    async def list_sandbox_files(self: "AsyncSandboxClient", sandbox_id: str,
                                 path: str = "/",
                                 recursive: bool = False) -> List[SandboxFileInfo]:
        req = rq.list_sandbox_files_request(sandbox_id, path, recursive)
        try:
            resp = await self._files.ListSandboxFiles(req, timeout=self._timeout)
        except grpc.RpcError as err:
            raise await self._with_status(self._error(
                err, sandbox_id=sandbox_id, file_path=req.path, operation="list")) from None
        return [cv.sandbox_file_from_pb(f) for f in resp.files]

    async def list_changes(self: "AsyncSandboxClient", sandbox_id: str) -> List[Change]:
        req = files_pb2.ListChangesRequest(sandbox_id=sandbox_id)
        try:
            resp = await self._files.ListChanges(req, timeout=self._timeout)
        except grpc.RpcError as err:
            raise await self._with_status(self._error(err, sandbox_id=sandbox_id)) from None
        return [cv.change_from_pb(c) for c in resp.changes]

    async def commit_changes(self: "AsyncSandboxClient", sandbox_id: str,
                             paths: Optional[Sequence[str]] = None,
                             dry_run: bool = False) -> CommitResult:
        req = rq.commit_changes_request(sandbox_id, paths, dry_run)
        try:
            resp = await self._files.CommitChanges(req, timeout=self._timeout)
        except grpc.RpcError as err:
            exc = await self._with_status(self._error(err, sandbox_id=sandbox_id))
            if isinstance(exc, CommitConflictError):
                exc.paths = await self._conflicts(sandbox_id, paths)
            raise exc from None
        return cv.commit_from_pb(resp, dry_run)

    async def _conflicts(self: "AsyncSandboxClient", sandbox_id: str,
                         paths: Optional[Sequence[str]]) -> List[str]:
        try:
            dry = await self.commit_changes(sandbox_id, paths, True)
        except AgentFenseError:
            return []
        return [c.path for c in dry.conflicts]
