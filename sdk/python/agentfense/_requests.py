"""The request messages of the sync and async clients, built from the SDK's
arguments. Pure: the two clients differ only in how they send them."""

from __future__ import annotations

from typing import Dict, Iterable, Mapping, Optional, Sequence, Tuple

from . import _convert as cv
from ._proto.sandbox.v1 import (codebase_pb2, files_pb2, sandbox_pb2,
                                server_pb2)
from .presets import expand_permissions
from .types import ResourceLimits, RuleLike, RuntimeType, timeout_seconds

# Extra time the client waits beyond a command's own timeout, so that the
# server's DEADLINE_EXCEEDED (with the process tree killed) arrives first.
EXEC_GRACE_SECONDS = 30.0


def exec_deadline(secs: Optional[float]) -> Optional[float]:
    return None if secs is None else secs + EXEC_GRACE_SECONDS


def exec_request(sandbox_id: str, command: str, stdin, env: Optional[Mapping[str, str]],
                 workdir: Optional[str], timeout: Optional[float]) -> sandbox_pb2.ExecRequest:
    req = sandbox_pb2.ExecRequest(sandbox_id=sandbox_id, command=command,
                                  env=dict(env or {}), workdir=workdir or "")
    if isinstance(stdin, (bytes, bytearray, memoryview)):
        req.stdin_bytes = bytes(stdin)
    elif stdin is not None:
        req.stdin = stdin
    if timeout is not None:
        req.timeout.CopyFrom(cv.duration_to(timeout))
    return req


def session_exec_request(session_id: str, command: str,
                         timeout: Optional[float]) -> sandbox_pb2.SessionExecRequest:
    req = sandbox_pb2.SessionExecRequest(session_id=session_id, command=command)
    if timeout is not None:
        req.timeout.CopyFrom(cv.duration_to(timeout))
    return req


def create_sandbox_request(codebase_id: str, permissions: Optional[Iterable[RuleLike]],
                           preset: Optional[str], labels: Optional[Mapping[str, str]],
                           expires_in, runtime: Optional[RuntimeType], image: Optional[str],
                           resources: Optional[ResourceLimits],
                           commit_after_exec: bool) -> sandbox_pb2.CreateSandboxRequest:
    """A `preset` is expanded here, its rules before `permissions`."""
    rules = expand_permissions(preset, permissions)
    req = sandbox_pb2.CreateSandboxRequest(
        codebase_id=codebase_id, permissions=cv.rules_to_pb(rules),
        labels=dict(labels or {}), runtime=cv.runtime_to_pb(runtime),
        image=image or "", resources=cv.resources_to_pb(resources),
        commit_after_exec=commit_after_exec)
    secs = timeout_seconds(expires_in)
    if secs is not None:
        req.expires_in.CopyFrom(cv.duration_to(secs))
    return req


def create_session_request(sandbox_id: str, shell: Optional[str],
                           env: Optional[Mapping[str, str]]) -> sandbox_pb2.CreateSessionRequest:
    return sandbox_pb2.CreateSessionRequest(sandbox_id=sandbox_id, shell=shell or "",
                                            env=dict(env or {}))


def upload_metadata(codebase_id: str, file_path: str, size: int,
                    mode: Optional[int]) -> codebase_pb2.UploadChunk:
    """The first message of an UploadFiles stream."""
    meta = codebase_pb2.UploadChunk.Metadata(
        codebase_id=codebase_id, file_path=file_path, total_size=size, mode=mode or 0)
    return codebase_pb2.UploadChunk(metadata=meta)


def explain_path_request(path: str, sandbox_id: str,
                         permissions: Optional[Iterable[RuleLike]], preset: Optional[str],
                         is_dir: bool) -> Tuple[server_pb2.ExplainPathRequest, Dict[str, str]]:
    """The request, and what its error is about (the sandbox, when one is named)."""
    rules = expand_permissions(preset, permissions)
    req = server_pb2.ExplainPathRequest(sandbox_id=sandbox_id,
                                        permissions=cv.rules_to_pb(rules),
                                        path=path, is_dir=is_dir)
    return req, ({"sandbox_id": sandbox_id} if sandbox_id else {})


# The sandbox file calls take workspace paths ("/a/b"): req.path is what an
# error names.

def read_sandbox_file_request(sandbox_id: str, path: str, offset: int,
                              length: int) -> files_pb2.ReadSandboxFileRequest:
    return files_pb2.ReadSandboxFileRequest(sandbox_id=sandbox_id,
                                            path=cv.workspace_path(path),
                                            offset=offset, length=length)


def list_sandbox_files_request(sandbox_id: str, path: str,
                               recursive: bool) -> files_pb2.ListSandboxFilesRequest:
    return files_pb2.ListSandboxFilesRequest(sandbox_id=sandbox_id,
                                             path=cv.workspace_path(path),
                                             recursive=recursive)


def commit_changes_request(sandbox_id: str, paths: Optional[Sequence[str]],
                           dry_run: bool) -> files_pb2.CommitChangesRequest:
    return files_pb2.CommitChangesRequest(
        sandbox_id=sandbox_id, paths=[cv.workspace_path(p) for p in paths or ()],
        dry_run=dry_run)
