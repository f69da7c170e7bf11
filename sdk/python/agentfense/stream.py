"""Streaming command output (SandboxService.ExecStream)."""

from __future__ import annotations

from datetime import timedelta
from typing import Callable, Iterator, List, Optional

import grpc

from ._convert import duration_from
from ._proto.sandbox.v1 import sandbox_pb2
from .exceptions import AgentFenseError
from .types import ExecResult, OutputChunk, OutputType

_TYPES = {
    sandbox_pb2.ExecOutput.OUTPUT_TYPE_STDOUT: OutputType.STDOUT,
    sandbox_pb2.ExecOutput.OUTPUT_TYPE_STDERR: OutputType.STDERR,
}


class ExecStream:
    """Iterate a running command's output as OutputChunk items.

    Once iteration ends, `exit_code`, `duration`, the truncation flags and
    `message` hold what the server reported in the stream's last message
    (exit_code stays None if the server sent none).  Leaving a `with` block
    early, or calling cancel(), cancels the call.
    """

    def __init__(self, call, command: str,
                 map_error: Callable[[grpc.RpcError], AgentFenseError]) -> None:
        self._call = call
        self._map_error = map_error
        self.command = command
        self.exit_code: Optional[int] = None
        self.duration: Optional[timedelta] = None
        self.stdout_truncated = False
        self.stderr_truncated = False
        self.message = ""

    def __iter__(self) -> Iterator[OutputChunk]:
        try:
            for msg in self._call:
                if msg.HasField("exit"):
                    self._record_exit(msg.exit)
                typ = _TYPES.get(msg.type)
                if typ is not None and msg.data:
                    yield OutputChunk(msg.data, typ)
        except grpc.RpcError as err:
            raise self._map_error(err) from None

    def _record_exit(self, ex: sandbox_pb2.ExecExit) -> None:
        self.exit_code = ex.exit_code
        self.duration = duration_from(ex.duration)
        self.stdout_truncated = ex.stdout_truncated
        self.stderr_truncated = ex.stderr_truncated
        self.message = ex.message

    def cancel(self) -> None:
        self._call.cancel()

    def __enter__(self) -> "ExecStream":
        return self

    def __exit__(self, *exc) -> None:
        self.cancel()

    def collect(self) -> ExecResult:
        """Consume the stream into an ExecResult (exact bytes kept)."""
        out: List[bytes] = []
        err: List[bytes] = []
        for chunk in self:
            (out if chunk.is_stdout else err).append(bytes(chunk))
        stdout, stderr = b"".join(out), b"".join(err)
        return ExecResult(
            stdout=stdout.decode(errors="replace"),
            stderr=stderr.decode(errors="replace"),
            exit_code=-1 if self.exit_code is None else self.exit_code,
            duration=self.duration, command=self.command,
            stdout_bytes=stdout, stderr_bytes=stderr,
            stdout_truncated=self.stdout_truncated,
            stderr_truncated=self.stderr_truncated, message=self.message)
