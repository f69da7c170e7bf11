"""Exceptions of the SDK and the mapping from gRPC status codes to them.

Every error the SDK raises derives from AgentFenseError (alias SandboxError,
the upstream SDK's name). Errors that come from the server carry its gRPC
status code as an enum in `.code` (also `.grpc_code`) and its message in
`.details`; errors raised by the SDK itself (CommandExecutionError, a bad
argument caught before any call) have code None.
"""

from __future__ import annotations

import builtins
import re
from typing import List, Optional

import grpc


class AgentFenseError(Exception):
    """Base class; `message` is human-readable, `details` the server's text."""

    def __init__(self, message: str, *, code: Optional[grpc.StatusCode] = None,
                 details: Optional[str] = None) -> None:
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


class ServiceUnavailableError(AgentFenseError):
    """The server answered, but something it needs is unavailable (e.g. the
    Docker daemon behind RuntimeType.DOCKER)."""


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


class SessionNotFoundError(NotFoundError):
    def __init__(self, session_id: str, details: Optional[str] = None, **kw) -> None:
        super().__init__(f"session {session_id!r} not found", details=details, **kw)
        self.session_id = session_id


class FileNotFoundError(NotFoundError):
    """A path does not exist in a codebase (or in a sandbox's view)."""

    def __init__(self, codebase_id: Optional[str], file_path: str,
                 details: Optional[str] = None, *, sandbox_id: Optional[str] = None,
                 **kw) -> None:
        where = f"sandbox {sandbox_id!r}" if sandbox_id else f"codebase {codebase_id!r}"
        super().__init__(f"{file_path!r} not found in {where}", details=details, **kw)
        self.codebase_id = codebase_id
        self.sandbox_id = sandbox_id
        self.file_path = file_path
        self.path = file_path


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


class SessionClosedError(FailedPreconditionError):
    """The session's shell is gone (it exited, was destroyed, or its sandbox stopped)."""

    def __init__(self, session_id: str, details: Optional[str] = None, **kw) -> None:
        super().__init__(f"session {session_id!r} is closed", details=details, **kw)
        self.session_id = session_id


class CommitConflictError(AgentFenseError):
    """A commit found the codebase changed since the sandbox's snapshot at
    `paths`; nothing was committed (ABORTED)."""

    def __init__(self, sandbox_id: str, paths: List[str],
                 details: Optional[str] = None, **kw) -> None:
        shown = ", ".join(paths[:10]) + (" ..." if len(paths) > 10 else "")
        super().__init__(f"commit of sandbox {sandbox_id!r} conflicts at {shown}",
                         details=details, **kw)
        self.sandbox_id = sandbox_id
        self.paths = paths


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
    """The sandbox's rules refuse the operation on `path` (PERMISSION_DENIED)."""

    def __init__(self, path: Optional[str] = None, operation: Optional[str] = None,
                 details: Optional[str] = None, **kw) -> None:
        super().__init__(f"permission denied: {operation or 'operation'} on {path}",
                         details=details, **kw)
        self.path = path
        self.operation = operation


class ResourceLimitExceededError(AgentFenseError):
    """A limit or quota was hit (RESOURCE_EXHAUSTED): `resource` names it
    when known ("file_size", "upload_size", ...), `limit` is its value and
    `path` the file concerned."""

    def __init__(self, message: str, *, resource: Optional[str] = None,
                 limit: Optional[int] = None, path: Optional[str] = None, **kw) -> None:
        super().__init__(message, **kw)
        self.resource = resource
        self.limit = limit
        self.path = path


class UploadError(AgentFenseError):
    """A local file could not be uploaded (unreadable, changed meanwhile)."""

    def __init__(self, file_path: str, reason: str, codebase_id: Optional[str] = None,
                 **kw) -> None:
        super().__init__(f"cannot upload {file_path!r}: {reason}", **kw)
        self.file_path = file_path
        self.reason = reason
        self.codebase_id = codebase_id


class UploadWarning(AgentFenseError, UserWarning):
    """Files left out of an upload (e.g. above the file size limit)."""


class UnimplementedError(AgentFenseError):
    """The server does not implement this call."""


_GENERIC = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidConfigurationError,
    grpc.StatusCode.OUT_OF_RANGE: InvalidConfigurationError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.UNIMPLEMENTED: UnimplementedError,
}

# Our server's RESOURCE_EXHAUSTED messages, for the error's attributes.
_LIMITS = [
    (re.compile(r'file "(?P<path>[^"]*)" is larger than the server\'s file size '
                r'limit \((?P<limit>\d+) bytes\)'), "file_size"),
    (re.compile(r'upload size limit \((?P<limit>\d+) bytes\) at "(?P<path>[^"]*)"'),
     "upload_size"),
    (re.compile(r'more than (?P<limit>\d+) entries'), "upload_entries"),
    (re.compile(r'(?P<limit>\d+) sandboxes'), "sandboxes"),
    (re.compile(r'(?P<limit>\d+) active sessions'), "sessions"),
]


def _resource_error(details: str, kw: dict) -> ResourceLimitExceededError:
    for rx, resource in _LIMITS:
        m = rx.search(details)
        if m:
            g = m.groupdict()
            return ResourceLimitExceededError(
                details, resource=resource, limit=int(g["limit"]),
                path=g.get("path"), **kw)
    return ResourceLimitExceededError(details or "resource exhausted", **kw)


def _answered_by_server(err: grpc.RpcError) -> bool:
    """A status the server sent, rather than one the channel made up."""
    debug = getattr(err, "debug_error_string", None)
    text = debug() if callable(debug) else ""
    return "received from peer" in (text or "")


def from_rpc_error(err: grpc.RpcError, *, endpoint: str = "",
                   sandbox_id: Optional[str] = None,
                   codebase_id: Optional[str] = None,
                   session_id: Optional[str] = None,
                   file_path: Optional[str] = None,
                   command: Optional[str] = None,
                   timeout: Optional[float] = None,
                   operation: Optional[str] = None) -> AgentFenseError:
    """Turn a failed call into the most specific SDK exception.

    The keyword arguments say what the call was about, so that e.g. NOT_FOUND
    from GetSandbox becomes SandboxNotFoundError(sandbox_id). Telling a
    missing codebase from a missing file, and filling a not-running
    sandbox's current status, take a server round trip that the clients do
    themselves.
    """
    code = err.code() if callable(getattr(err, "code", None)) else grpc.StatusCode.UNKNOWN
    details = err.details() if callable(getattr(err, "details", None)) else str(err)
    details = details or ""
    kw = {"code": code, "details": details}
    if code == grpc.StatusCode.UNAVAILABLE:
        if _answered_by_server(err):
            return ServiceUnavailableError(details, **kw)
        return ConnectionError(endpoint, details, code=code)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED and command is not None:
        return CommandTimeoutError(command, timeout, **kw)
    if code == grpc.StatusCode.NOT_FOUND:
        if session_id is not None:
            return SessionNotFoundError(session_id, **kw)
        if sandbox_id is not None and file_path is not None:
            if "sandbox" in details and "not found" in details:
                return SandboxNotFoundError(sandbox_id, **kw)
            return FileNotFoundError(None, file_path, sandbox_id=sandbox_id, **kw)
        if sandbox_id is not None:
            return SandboxNotFoundError(sandbox_id, **kw)
        if codebase_id is not None and file_path is None:
            return CodebaseNotFoundError(codebase_id, **kw)
    if code == grpc.StatusCode.FAILED_PRECONDITION:
        if session_id is not None and "is closed" in details:
            return SessionClosedError(session_id, **kw)
        if sandbox_id is not None and (command is not None or "start it first" in details
                                       or "stopped" in details):
            return SandboxNotRunningError(sandbox_id, None, **kw)
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return PermissionDeniedError(file_path, operation, **kw)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return _resource_error(details, kw)
    if code == grpc.StatusCode.ABORTED and sandbox_id is not None and "snapshot" in details:
        return CommitConflictError(sandbox_id, [], **kw)
    cls = _GENERIC.get(code, AgentFenseError)
    return cls(details or code.name, **kw)
