"""Exceptions of the SDK and the mapping from gRPC status codes to them.

Every error the SDK raises on behalf of the server derives from
AgentFenseError (alias SandboxError, the upstream SDK's name) and carries the
gRPC status code in `.code` / `.grpc_code` (None for client-side errors).
"""

from __future__ import annotations

import builtins
from typing import Optional

import grpc


class AgentFenseError(Exception):
    """Base class; `message` is human-readable, `details` the server's text."""

    def __init__(
        self,
        message: str,
        *,
        code: Optional[grpc.StatusCode] = None,
        details: Optional[str] = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details

    @property
    def grpc_code(self) -> Optional[grpc.StatusCode]:
        return self.code

    def __str__(self) -> str:
        if self.code is None:
            return self.message
        return f"{self.message} [{self.code.name}]"


SandboxError = AgentFenseError


class ConnectionError(AgentFenseError, builtins.ConnectionError):
    """The server could not be reached at `endpoint`."""

    def __init__(self, endpoint: str, details: Optional[str] = None, **kw) -> None:
        super().__init__(f"cannot reach AgentFense server at {endpoint}: {details}",
                         details=details, **kw)
        self.endpoint = endpoint


class InvalidConfigurationError(AgentFenseError, ValueError):
    """A bad argument, rejected by the SDK or by the server (INVALID_ARGUMENT)."""


class NotFoundError(AgentFenseError):
    """Something named in the request does not exist (NOT_FOUND)."""


class SandboxNotFoundError(NotFoundError):
    def __init__(self, sandbox_id: str, details: Optional[str] = None, **kw) -> None:
        super().__init__(f"sandbox {sandbox_id!r} not found", details=details, **kw)
        self.sandbox_id = sandbox_id


class CodebaseNotFoundError(NotFoundError):
    def __init__(self, codebase_id: str, details: Optional[str] = None, **kw) -> None:
        super().__init__(f"codebase {codebase_id!r} not found", details=details, **kw)
        self.codebase_id = codebase_id


class FileNotFoundError(NotFoundError):
    """A path does not exist in a codebase that does."""

    def __init__(self, codebase_id: str, file_path: str,
                 details: Optional[str] = None, **kw) -> None:
        super().__init__(f"{file_path!r} not found in codebase {codebase_id!r}",
                         details=details, **kw)
        self.codebase_id = codebase_id
        self.file_path = file_path


class AlreadyExistsError(AgentFenseError):
    pass


class FailedPreconditionError(AgentFenseError):
    """The object is in the wrong state for the request (e.g. a codebase in use)."""


class SandboxNotRunningError(FailedPreconditionError):
    """The sandbox is not RUNNING; `current_status` is its status when known."""

    def __init__(self, sandbox_id: str, current_status=None,
                 details: Optional[str] = None, **kw) -> None:
        status = getattr(current_status, "value", current_status)
        super().__init__(f"sandbox {sandbox_id!r} is not running (status: {status})",
                         details=details, **kw)
        self.sandbox_id = sandbox_id
        self.current_status = current_status


class CommandTimeoutError(AgentFenseError):
    """The command ran past its timeout and was killed (DEADLINE_EXCEEDED)."""

    def __init__(self, command: str, timeout: Optional[float],
                 details: Optional[str] = None, **kw) -> None:
        super().__init__(f"command {command!r} timed out after {timeout} s",
                         details=details, **kw)
        self.command = command
        self.timeout = timeout
        self.timeout_seconds = timeout


class CommandExecutionError(AgentFenseError):
    """The command exited non-zero (raised only when asked to)."""

    def __init__(self, command: str, exit_code: int, stdout: str = "",
                 stderr: str = "") -> None:
        tail = stderr[-500:] if stderr else ""
        super().__init__(f"command {command!r} exited with {exit_code}: {tail}")
        self.command = command
        self.exit_code = exit_code
        self.stdout = stdout
        self.stderr = stderr


class PermissionDeniedError(AgentFenseError):
    """The server refused the operation on `path` (PERMISSION_DENIED)."""

    def __init__(self, path: Optional[str] = None, operation: Optional[str] = None,
                 details: Optional[str] = None, **kw) -> None:
        super().__init__(f"permission denied: {operation or 'operation'} on {path}",
                         details=details, **kw)
        self.path = path
        self.operation = operation


class ResourceLimitExceededError(AgentFenseError):
    """A limit or quota was hit (RESOURCE_EXHAUSTED)."""


class UnimplementedError(AgentFenseError):
    """The server does not implement this call (yet)."""


_GENERIC = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidConfigurationError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidConfigurationError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceLimitExceededError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
}


def from_rpc_error(
    err: grpc.RpcError,
    *,
    endpoint: str = "",
    sandbox_id: Optional[str] = None,
    codebase_id: Optional[str] = None,
    file_path: Optional[str] = None,
    command: Optional[str] = None,
    timeout: Optional[float] = None,
) -> AgentFenseError:
    """Turn a failed call into the most specific SDK exception.

    The keyword arguments say what the call was about, so that e.g. NOT_FOUND
    from GetSandbox becomes SandboxNotFoundError(sandbox_id).  Deciding between
    a missing codebase and a missing file needs a server round trip, which
    the client does itself (see SandboxClient._not_found).
    """
    code = err.code() if callable(getattr(err, "code", None)) else grpc.StatusCode.UNKNOWN
    details = err.details() if callable(getattr(err, "details", None)) else str(err)
    kw = {"code": code, "details": details}
    if code == grpc.StatusCode.UNAVAILABLE:
        return ConnectionError(endpoint, details, code=code)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED and command is not None:
        return CommandTimeoutError(command, timeout, **kw)
    if code == grpc.StatusCode.NOT_FOUND:
        if sandbox_id is not None:
            return SandboxNotFoundError(sandbox_id, **kw)
        if codebase_id is not None and file_path is None:
            return CodebaseNotFoundError(codebase_id, **kw)
    if code == grpc.StatusCode.FAILED_PRECONDITION and command is not None:
        return SandboxNotRunningError(sandbox_id or "", None, **kw)
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return PermissionDeniedError(file_path, None, **kw)
    cls = _GENERIC.get(code, AgentFenseError)
    return cls(details or code.name, **kw)
