"""AsyncSandboxClient: every RPC of the server as a coroutine (grpc.aio).

Methods, arguments and errors are those of SandboxClient; sessions, bulk
upload and the sandbox file calls are in agentfense._async._files.
"""

from __future__ import annotations

from typing import Callable, Iterable, List, Mapping, Optional, Union

import grpc
from grpc import aio

from .. import _convert as cv
from .. import _requests as rq
from .._client_core import ClientCore, PageTokens, lacks_status
from .._proto.sandbox.v1 import codebase_pb2, sandbox_pb2, server_pb2
from .._requests import exec_deadline
from ..client import DEFAULT_CHUNK_SIZE
from ..exceptions import AgentFenseError, CodebaseNotFoundError
from ..types import (Codebase, ExecResult, FileInfo, HealthInfo, PathExplanation,
                     PresetInfo, ResourceLimits, RuleLike, RuntimeType,
                     SandboxInfo, Timeout, UploadResult, timeout_seconds)
from ._files import AsyncFilesMixin
from .stream import AsyncExecStream


class AsyncSandboxClient(AsyncFilesMixin, ClientCore):
    """Low-level async client; use `async with` or `await client.close()`."""

    def __init__(self, endpoint: Optional[str] = None, *, secure: bool = False,
                 credentials: Optional[grpc.ChannelCredentials] = None,
                 timeout: Optional[float] = 60.0,
                 max_message_bytes: Optional[int] = None,
                 chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self._open(aio, endpoint, secure, credentials, timeout, max_message_bytes,
                   chunk_size)

    # -- plumbing ---------------------------------------------------------

    async def close(self) -> None:
        await self._channel.close()

    async def __aenter__(self) -> "AsyncSandboxClient":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def _unary(self, method, request, **ctx):
        try:
            return await method(request, timeout=self._timeout)
        except grpc.RpcError as err:
            raise self._error(err, **ctx) from None

    async def _all_pages(self, method, request: Callable[[str], object]) -> list:
        """The responses of a List call, every page fetched."""
        responses, pages = [], PageTokens()
        while True:
            resp = await self._unary(method, request(pages.token))
            responses.append(resp)
            if not pages.advance(resp.next_page_token):
                return responses

    async def _with_status(self, exc: AgentFenseError) -> AgentFenseError:
        if lacks_status(exc):
            try:
                exc.current_status = (await self.get_sandbox(exc.sandbox_id)).status
            except AgentFenseError:
                pass
        return exc

    # -- codebases --------------------------------------------------------

    async def create_codebase(self, name: str, owner_id: str = "") -> Codebase:
        req = codebase_pb2.CreateCodebaseRequest(name=name, owner_id=owner_id)
        return cv.codebase_from_pb(await self._unary(self._codebases.CreateCodebase, req))

    async def get_codebase(self, codebase_id: str) -> Codebase:
        req = codebase_pb2.GetCodebaseRequest(codebase_id=codebase_id)
        return cv.codebase_from_pb(
            await self._unary(self._codebases.GetCodebase, req, codebase_id=codebase_id))

    async def list_codebases(self, owner_id: str = "", page_size: int = 0) -> List[Codebase]:
        pages = await self._all_pages(self._codebases.ListCodebases, lambda token: (
            codebase_pb2.ListCodebasesRequest(owner_id=owner_id, page_size=page_size,
                                              page_token=token)))
        return [cv.codebase_from_pb(c) for resp in pages for c in resp.codebases]

    async def delete_codebase(self, codebase_id: str) -> None:
        req = codebase_pb2.DeleteCodebaseRequest(codebase_id=codebase_id)
        await self._unary(self._codebases.DeleteCodebase, req, codebase_id=codebase_id)

    async def upload_file(self, codebase_id: str, file_path: str,
                          content: Union[bytes, bytearray, memoryview, str],
                          mode: Optional[int] = None) -> UploadResult:
        """Store one file (bytes or str); for a tree use upload_directory."""
        data = content.encode() if isinstance(content, str) else bytes(content)

        async def chunks():
            yield rq.upload_metadata(codebase_id, file_path, len(data), mode)
            for i in range(0, len(data), self._chunk_size):
                yield codebase_pb2.UploadChunk(data=data[i:i + self._chunk_size])

        try:
            resp = await self._codebases.UploadFiles(chunks())
        except grpc.RpcError as err:
            raise await self._not_found(err, codebase_id, file_path) from None
        return cv.upload_result_from_pb(resp)

    async def download_file(self, codebase_id: str, file_path: str) -> bytes:
        req = codebase_pb2.DownloadFileRequest(codebase_id=codebase_id, file_path=file_path)
        try:
            return b"".join([c.data async for c in self._codebases.DownloadFile(req)])
        except grpc.RpcError as err:
            raise await self._not_found(err, codebase_id, file_path) from None

    async def list_files(self, codebase_id: str, path: str = "",
                         recursive: bool = False) -> List[FileInfo]:
        req = codebase_pb2.ListFilesRequest(codebase_id=codebase_id, path=path,
                                            recursive=recursive)
        try:
            resp = await self._codebases.ListFiles(req, timeout=self._timeout)
        except grpc.RpcError as err:
            raise await self._not_found(err, codebase_id, path) from None
        return [cv.file_info_from_pb(f) for f in resp.files]

    async def _not_found(self, err: grpc.RpcError, codebase_id: str,
                         file_path: str) -> AgentFenseError:
        exc, missing_file = self._file_error(err, codebase_id, file_path)
        if missing_file is None:
            return exc
        try:
            await self.get_codebase(codebase_id)
        except CodebaseNotFoundError as missing:
            return missing
        except AgentFenseError:
            return exc
        return missing_file

    # -- sandboxes --------------------------------------------------------

    async def create_sandbox(self, codebase_id: str,
                             permissions: Optional[Iterable[RuleLike]] = None,
                             preset: Optional[str] = None,
                             labels: Optional[Mapping[str, str]] = None,
                             expires_in: Timeout = None,
                             runtime: Optional[RuntimeType] = None,
                             image: Optional[str] = None,
                             resources: Optional[ResourceLimits] = None,
                             commit_after_exec: bool = False) -> SandboxInfo:
        req = rq.create_sandbox_request(codebase_id, permissions, preset, labels, expires_in,
                                        runtime, image, resources, commit_after_exec)
        return cv.sandbox_from_pb(
            await self._unary(self._sandboxes.CreateSandbox, req, codebase_id=codebase_id))

    async def get_sandbox(self, sandbox_id: str) -> SandboxInfo:
        req = sandbox_pb2.GetSandboxRequest(sandbox_id=sandbox_id)
        return cv.sandbox_from_pb(
            await self._unary(self._sandboxes.GetSandbox, req, sandbox_id=sandbox_id))

    async def list_sandboxes(self, codebase_id: str = "",
                             page_size: int = 0) -> List[SandboxInfo]:
        pages = await self._all_pages(self._sandboxes.ListSandboxes, lambda token: (
            sandbox_pb2.ListSandboxesRequest(codebase_id=codebase_id, page_size=page_size,
                                             page_token=token)))
        return [cv.sandbox_from_pb(s) for resp in pages for s in resp.sandboxes]

    async def start_sandbox(self, sandbox_id: str) -> SandboxInfo:
        req = sandbox_pb2.StartSandboxRequest(sandbox_id=sandbox_id)
        return cv.sandbox_from_pb(
            await self._unary(self._sandboxes.StartSandbox, req, sandbox_id=sandbox_id))

    async def stop_sandbox(self, sandbox_id: str) -> SandboxInfo:
        req = sandbox_pb2.StopSandboxRequest(sandbox_id=sandbox_id)
        return cv.sandbox_from_pb(
            await self._unary(self._sandboxes.StopSandbox, req, sandbox_id=sandbox_id))

    async def destroy_sandbox(self, sandbox_id: str) -> None:
        req = sandbox_pb2.DestroySandboxRequest(sandbox_id=sandbox_id)
        await self._unary(self._sandboxes.DestroySandbox, req, sandbox_id=sandbox_id)

    # -- commands ---------------------------------------------------------

    async def exec(self, sandbox_id: str, command: str,
                   stdin: Union[str, bytes, None] = None,
                   env: Optional[Mapping[str, str]] = None, workdir: Optional[str] = None,
                   timeout: Timeout = None) -> ExecResult:
        secs = timeout_seconds(timeout)
        req = rq.exec_request(sandbox_id, command, stdin, env, workdir, secs)
        try:
            resp = await self._sandboxes.Exec(req, timeout=exec_deadline(secs))
        except grpc.RpcError as err:
            raise await self._exec_error(err, sandbox_id, command, secs) from None
        return cv.exec_result_from_pb(resp, command)

    def exec_stream(self, sandbox_id: str, command: str,
                    stdin: Union[str, bytes, None] = None,
                    env: Optional[Mapping[str, str]] = None,
                    workdir: Optional[str] = None, timeout: Timeout = None) -> AsyncExecStream:
        """`async for chunk in client.exec_stream(...)` (not awaited itself)."""
        secs = timeout_seconds(timeout)
        req = rq.exec_request(sandbox_id, command, stdin, env, workdir, secs)
        call = self._sandboxes.ExecStream(req, timeout=exec_deadline(secs))
        return AsyncExecStream(
            call, command, lambda err: self._exec_error(err, sandbox_id, command, secs))

    async def _exec_error(self, err: grpc.RpcError, sandbox_id: str, command: str,
                          secs: Optional[float]) -> AgentFenseError:
        return await self._with_status(
            self._error(err, sandbox_id=sandbox_id, command=command, timeout=secs))

    # -- server -----------------------------------------------------------

    async def health(self) -> HealthInfo:
        return cv.health_from_pb(
            await self._unary(self._server.Health, server_pb2.HealthRequest()))

    async def list_presets(self) -> List[PresetInfo]:
        resp = await self._unary(self._server.ListPresets, server_pb2.ListPresetsRequest())
        return [cv.preset_from_pb(p) for p in resp.presets]

    async def explain_path(self, path: str, *, sandbox_id: str = "",
                           permissions: Optional[Iterable[RuleLike]] = None,
                           preset: Optional[str] = None,
                           is_dir: bool = False) -> PathExplanation:
        req, ctx = rq.explain_path_request(path, sandbox_id, permissions, preset, is_dir)
        return cv.explanation_from_pb(await self._unary(self._server.ExplainPath, req, **ctx))
