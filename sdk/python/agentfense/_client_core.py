"""What SandboxClient and AsyncSandboxClient share: the channel and stubs,
turning a failed call into the SDK's exception, and the page tokens of the
List calls. Whatever makes a call stays in each client (sync or async)."""

from __future__ import annotations

from typing import Optional, Tuple

import grpc

from ._endpoint import channel_options, grpc_target, resolve_endpoint
from ._proto.sandbox.v1 import (codebase_pb2_grpc, files_pb2, files_pb2_grpc,
                                sandbox_pb2_grpc, server_pb2_grpc)
from .exceptions import (AgentFenseError, FileNotFoundError, NotFoundError,
                         SandboxNotRunningError, from_rpc_error)

UPLOAD_ARCHIVE = "/sandbox.v1.FileService/UploadArchive"


class ClientCore:
    """Base of both clients; `api` is grpc or grpc.aio (same channel calls)."""

    def _open(self, api, endpoint: Optional[str], secure: bool,
              credentials: Optional[grpc.ChannelCredentials], timeout: Optional[float],
              max_message_bytes: Optional[int], chunk_size: int) -> None:
        self.endpoint = resolve_endpoint(endpoint)
        target = grpc_target(self.endpoint)
        options = channel_options(max_message_bytes)
        if secure or credentials is not None:
            creds = credentials or grpc.ssl_channel_credentials()
            self._channel = api.secure_channel(target, creds, options=options)
        else:
            self._channel = api.insecure_channel(target, options=options)
        self._timeout = timeout
        self._chunk_size = chunk_size
        self._sandboxes = sandbox_pb2_grpc.SandboxServiceStub(self._channel)
        self._codebases = codebase_pb2_grpc.CodebaseServiceStub(self._channel)
        self._server = server_pb2_grpc.ServerServiceStub(self._channel)
        self._files = files_pb2_grpc.FileServiceStub(self._channel)

    def _error(self, err: grpc.RpcError, **ctx) -> AgentFenseError:
        return from_rpc_error(err, endpoint=self.endpoint, **ctx)

    def _session_error(self, err: grpc.RpcError, session_id: str, command: str,
                       secs: Optional[float]) -> AgentFenseError:
        return self._error(err, session_id=session_id, command=command, timeout=secs)

    def _file_error(self, err: grpc.RpcError, codebase_id: str, file_path: str
                    ) -> Tuple[AgentFenseError, Optional[FileNotFoundError]]:
        """The error of a failed codebase file call and, when its NOT_FOUND may
        mean the codebase or the file, the file's error: the one to raise if
        GetCodebase then finds the codebase."""
        exc = self._error(err, codebase_id=codebase_id, file_path=file_path)
        if type(exc) is not NotFoundError:
            return exc, None
        return exc, FileNotFoundError(codebase_id, file_path, code=exc.code,
                                      details=exc.details)

    def _archive_method(self):
        # Messages come encoded (ArchiveWriter): no serializer on the way out.
        return self._channel.stream_unary(
            UPLOAD_ARCHIVE, request_serializer=None,
            response_deserializer=files_pb2.UploadArchiveResult.FromString)


def lacks_status(exc: AgentFenseError) -> bool:
    """A SandboxNotRunningError learns the sandbox's current status (with a
    GetSandbox) when the error did not say it."""
    return isinstance(exc, SandboxNotRunningError) and exc.current_status is None


class PageTokens:
    """The page_token of each request of a List call: the next one the
    server names, until it names none or one already seen."""

    def __init__(self) -> None:
        self.token = ""
        self._seen: set = set()

    def advance(self, next_token: str) -> bool:
        """Take the server's next_page_token; False when the listing is done."""
        if not next_token or next_token in self._seen:
            return False
        self._seen.add(next_token)
        self.token = next_token
        return True
