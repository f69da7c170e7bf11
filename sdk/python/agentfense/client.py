"""SandboxClient: one method per RPC of the AgentFense server (sync).

This module holds the plumbing, codebases, sandboxes, commands and the
server calls; sessions, bulk upload and the sandbox file calls are in
agentfense._client_files (mixed into SandboxClient).
"""

from __future__ import annotations

import io
import os
from typing import (IO, Callable, Iterable, Iterator, List, Mapping,
                    Optional, Union)

import grpc

from . import _convert as cv
from . import _requests as rq
from ._client_core import ClientCore, PageTokens, lacks_status
from ._client_files import FilesMixin
from ._proto.sandbox.v1 import codebase_pb2, sandbox_pb2, server_pb2
# exec_deadline and EXEC_GRACE_SECONDS stay importable from here.
from ._requests import EXEC_GRACE_SECONDS, exec_deadline  # noqa: F401
from .audit import AuditMixin
from .exceptions import (AgentFenseError, CodebaseNotFoundError,
                         InvalidConfigurationError)
from .stream import ExecStream
from .types import (Codebase, ExecResult, FileInfo, HealthInfo, PathExplanation,
                    PresetInfo, ResourceLimits, RuleLike, RuntimeType,
                    SandboxInfo, SandboxStatus, Timeout, UploadResult,
                    timeout_seconds)

MiB = 1024 * 1024
KiB = 1024
DEFAULT_CHUNK_SIZE = 256 * KiB
MIN_CHUNK_SIZE, MAX_CHUNK_SIZE = 64 * KiB, 1 * MiB

Content = Union[bytes, bytearray, memoryview, str, IO[bytes]]


class SandboxClient(FilesMixin, AuditMixin, ClientCore):
    """Low-level, synchronous client.

    endpoint: "host:port", "unix:///path" or "unix:/path"; when omitted,
    $AGENTFENSE_ENDPOINT or "localhost:9000". `timeout` is the deadline in
    seconds of ordinary calls (uploads, downloads and commands have their own).
    """

    def __init__(self, endpoint: Optional[str] = None, *, secure: bool = False,
                 credentials: Optional[grpc.ChannelCredentials] = None,
                 timeout: Optional[float] = 60.0,
                 max_message_bytes: Optional[int] = None,
                 chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        if not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE:
            raise InvalidConfigurationError(
                f"chunk_size must be between {MIN_CHUNK_SIZE} and {MAX_CHUNK_SIZE}")
        self._open(grpc, endpoint, secure, credentials, timeout, max_message_bytes,
                   chunk_size)

    # -- plumbing ---------------------------------------------------------

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> "SandboxClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _unary(self, method, request, **ctx):
        try:
            return method(request, timeout=self._timeout)
        except grpc.RpcError as err:
            raise self._error(err, **ctx) from None

    def _all_pages(self, method, request: Callable[[str], object]) -> Iterator:
        """The responses of a List call, every page fetched."""
        pages = PageTokens()
        while True:
            resp = self._unary(method, request(pages.token))
            yield resp
            if not pages.advance(resp.next_page_token):
                return

    def _with_status(self, exc: AgentFenseError) -> AgentFenseError:
        """A SandboxNotRunningError learns the sandbox's current status."""
        if lacks_status(exc):
            try:
                exc.current_status = self.get_sandbox(exc.sandbox_id).status
            except AgentFenseError:
                pass
        return exc

    # -- codebases --------------------------------------------------------

    def create_codebase(self, name: str, owner_id: str = "") -> Codebase:
        req = codebase_pb2.CreateCodebaseRequest(name=name, owner_id=owner_id)
        return cv.codebase_from_pb(self._unary(self._codebases.CreateCodebase, req))

    def get_codebase(self, codebase_id: str) -> Codebase:
        req = codebase_pb2.GetCodebaseRequest(codebase_id=codebase_id)
        return cv.codebase_from_pb(
            self._unary(self._codebases.GetCodebase, req, codebase_id=codebase_id))

    def list_codebases(self, owner_id: str = "", page_size: int = 0) -> List[Codebase]:
        """All codebases (of `owner_id` when given), every page fetched."""
        pages = self._all_pages(self._codebases.ListCodebases, lambda token: (
            codebase_pb2.ListCodebasesRequest(owner_id=owner_id, page_size=page_size,
                                              page_token=token)))
        return [cv.codebase_from_pb(c) for resp in pages for c in resp.codebases]

    def delete_codebase(self, codebase_id: str) -> None:
        req = codebase_pb2.DeleteCodebaseRequest(codebase_id=codebase_id)
        self._unary(self._codebases.DeleteCodebase, req, codebase_id=codebase_id)

    def upload_file(self, codebase_id: str, file_path: str, content: Content,
                    total_size: Optional[int] = None,
                    mode: Optional[int] = None) -> UploadResult:
        """Store one file, streamed in chunks of 64 KiB to 1 MiB.

        `content` is bytes, a str (stored as UTF-8) or a binary file object
        read from its current position. `mode`: with an execute bit the file
        is stored executable (0755), else 0644. For a whole tree, use
        upload_directory (one stream, far faster).
        """
        if isinstance(content, str):
            content = content.encode()
        if isinstance(content, (bytes, bytearray, memoryview)):
            source: IO[bytes] = io.BytesIO(content)
            size = len(content) if total_size is None else total_size
        else:
            source = content
            size = _remaining_size(content) if total_size is None else total_size
        failure: List[BaseException] = []
        chunks = self._upload_chunks(codebase_id, file_path, source, size, mode,
                                     failure)
        try:
            resp = self._codebases.UploadFiles(chunks)
        except grpc.RpcError as err:
            if failure:
                # Reading the content failed; grpc cancelled the upload.
                raise failure[0] from None
            raise self._not_found(err, codebase_id, file_path) from None
        return cv.upload_result_from_pb(resp)

    def _upload_chunks(self, codebase_id: str, file_path: str, source: IO[bytes],
                       size: int, mode: Optional[int],
                       failure: List[BaseException]) -> Iterator:
        yield rq.upload_metadata(codebase_id, file_path, size, mode)
        try:
            while True:
                data = source.read(self._chunk_size)
                if not data:
                    return
                yield codebase_pb2.UploadChunk(data=bytes(data))
        except GeneratorExit:
            raise   # the call is over (the server answered): not a failure
        except BaseException as exc:
            # Raised on (as an Exception, which grpc answers by cancelling the
            # call) rather than ending the stream cleanly: a short stream
            # must never be stored as the file.
            failure.append(exc)
            if isinstance(exc, Exception):
                raise
            raise RuntimeError("upload aborted") from None

    def download_file(self, codebase_id: str, file_path: str) -> bytes:
        req = codebase_pb2.DownloadFileRequest(codebase_id=codebase_id,
                                               file_path=file_path)
        try:
            return b"".join(c.data for c in self._codebases.DownloadFile(req))
        except grpc.RpcError as err:
            raise self._not_found(err, codebase_id, file_path) from None

    def list_files(self, codebase_id: str, path: str = "",
                   recursive: bool = False) -> List[FileInfo]:
        req = codebase_pb2.ListFilesRequest(codebase_id=codebase_id, path=path,
                                            recursive=recursive)
        try:
            resp = self._codebases.ListFiles(req, timeout=self._timeout)
        except grpc.RpcError as err:
            raise self._not_found(err, codebase_id, path) from None
        return [cv.file_info_from_pb(f) for f in resp.files]

    def _not_found(self, err: grpc.RpcError, codebase_id: str,
                   file_path: str) -> AgentFenseError:
        """NOT_FOUND on a file call: tell a missing codebase from a missing file."""
        exc, missing_file = self._file_error(err, codebase_id, file_path)
        if missing_file is None:
            return exc
        try:
            self.get_codebase(codebase_id)
        except CodebaseNotFoundError as missing:
            return missing
        except AgentFenseError:
            return exc
        return missing_file

    # -- sandboxes --------------------------------------------------------

    def create_sandbox(self, codebase_id: str,
                       permissions: Optional[Iterable[RuleLike]] = None,
                       preset: Optional[str] = None,
                       labels: Optional[Mapping[str, str]] = None,
                       expires_in: Timeout = None,
                       runtime: Optional[RuntimeType] = None,
                       image: Optional[str] = None,
                       resources: Optional[ResourceLimits] = None,
                       commit_after_exec: bool = False) -> SandboxInfo:
        """Create a sandbox (PENDING) over a codebase.

        A `preset` is expanded here, its rules before `permissions`.
        commit_after_exec: commit the sandbox's changes into the codebase
        after every command (a failure shows in the command's message).
        """
        req = rq.create_sandbox_request(codebase_id, permissions, preset, labels, expires_in,
                                        runtime, image, resources, commit_after_exec)
        return cv.sandbox_from_pb(
            self._unary(self._sandboxes.CreateSandbox, req, codebase_id=codebase_id))

    def get_sandbox(self, sandbox_id: str) -> SandboxInfo:
        req = sandbox_pb2.GetSandboxRequest(sandbox_id=sandbox_id)
        return cv.sandbox_from_pb(
            self._unary(self._sandboxes.GetSandbox, req, sandbox_id=sandbox_id))

    def list_sandboxes(self, codebase_id: str = "", page_size: int = 0) -> List[SandboxInfo]:
        pages = self._all_pages(self._sandboxes.ListSandboxes, lambda token: (
            sandbox_pb2.ListSandboxesRequest(codebase_id=codebase_id, page_size=page_size,
                                             page_token=token)))
        return [cv.sandbox_from_pb(s) for resp in pages for s in resp.sandboxes]

    def start_sandbox(self, sandbox_id: str) -> SandboxInfo:
        req = sandbox_pb2.StartSandboxRequest(sandbox_id=sandbox_id)
        return cv.sandbox_from_pb(
            self._unary(self._sandboxes.StartSandbox, req, sandbox_id=sandbox_id))

    def stop_sandbox(self, sandbox_id: str) -> SandboxInfo:
        req = sandbox_pb2.StopSandboxRequest(sandbox_id=sandbox_id)
        return cv.sandbox_from_pb(
            self._unary(self._sandboxes.StopSandbox, req, sandbox_id=sandbox_id))

    def destroy_sandbox(self, sandbox_id: str) -> None:
        req = sandbox_pb2.DestroySandboxRequest(sandbox_id=sandbox_id)
        self._unary(self._sandboxes.DestroySandbox, req, sandbox_id=sandbox_id)

    # -- commands ---------------------------------------------------------

    def exec(self, sandbox_id: str, command: str,
             stdin: Union[str, bytes, None] = None,
             env: Optional[Mapping[str, str]] = None, workdir: Optional[str] = None,
             timeout: Timeout = None) -> ExecResult:
        """Run `command` with /bin/sh -c in the sandbox and wait for it.

        timeout: seconds or timedelta (server default 30 s); on expiry the
        whole process tree is killed and CommandTimeoutError raised.
        """
        secs = timeout_seconds(timeout)
        req = rq.exec_request(sandbox_id, command, stdin, env, workdir, secs)
        try:
            resp = self._sandboxes.Exec(req, timeout=exec_deadline(secs))
        except grpc.RpcError as err:
            raise self._exec_error(err, sandbox_id, command, secs) from None
        return cv.exec_result_from_pb(resp, command)

    def exec_stream(self, sandbox_id: str, command: str,
                    stdin: Union[str, bytes, None] = None,
                    env: Optional[Mapping[str, str]] = None,
                    workdir: Optional[str] = None,
                    timeout: Timeout = None) -> ExecStream:
        """Like exec(), but output arrives as it is written (see ExecStream)."""
        secs = timeout_seconds(timeout)
        req = rq.exec_request(sandbox_id, command, stdin, env, workdir, secs)
        call = self._sandboxes.ExecStream(req, timeout=exec_deadline(secs))
        return ExecStream(
            call, command, lambda err: self._exec_error(err, sandbox_id, command, secs))

    def _exec_error(self, err: grpc.RpcError, sandbox_id: str, command: str,
                    secs: Optional[float]) -> AgentFenseError:
        return self._with_status(
            self._error(err, sandbox_id=sandbox_id, command=command, timeout=secs))

    # -- server -----------------------------------------------------------

    def health(self) -> HealthInfo:
        return cv.health_from_pb(
            self._unary(self._server.Health, server_pb2.HealthRequest()))

    def list_presets(self) -> List[PresetInfo]:
        """The presets as the server defines them."""
        resp = self._unary(self._server.ListPresets, server_pb2.ListPresetsRequest())
        return [cv.preset_from_pb(p) for p in resp.presets]

    def explain_path(self, path: str, *, sandbox_id: str = "",
                     permissions: Optional[Iterable[RuleLike]] = None,
                     preset: Optional[str] = None,
                     is_dir: bool = False) -> PathExplanation:
        """Which level `path` gets, under a sandbox's rules or the given ones."""
        req, ctx = rq.explain_path_request(path, sandbox_id, permissions, preset, is_dir)
        return cv.explanation_from_pb(
            self._unary(self._server.ExplainPath, req, **ctx))


def _remaining_size(f: IO[bytes]) -> int:
    """Bytes left in a file object, or 0 ("unknown") when it cannot tell."""
    try:
        return os.fstat(f.fileno()).st_size - f.tell()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return 0


__all__ = ["SandboxClient", "SandboxStatus"]
