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


class Collected:
    """A stream's output as collect() gathers it."""

    def __init__(self) -> None:
        self.out: List[bytes] = []
        self.err: List[bytes] = []

    def add(self, chunk: OutputChunk) -> None:
        (self.out if chunk.is_stdout else self.err).append(bytes(chunk))


class StreamState:
    """What ExecStream and AsyncExecStream make of the messages they read:
    the output chunks, and the exit the last message reports."""

    def __init__(self, call, command: str, map_error: Callable) -> None:
        self._call = call
        self._map_error = map_error
        self.command = command
        self.exit_code: Optional[int] = None
        self.duration: Optional[timedelta] = None
        self.stdout_truncated = False
        self.stderr_truncated = False
        self.message = ""

    def _chunk(self, msg: sandbox_pb2.ExecOutput) -> Optional[OutputChunk]:
        """The message's output, if any, after recording its exit, if any."""
        if msg.HasField("exit"):
            self._record_exit(msg.exit)
        typ = _TYPES.get(msg.type)
        if typ is not None and msg.data:
            return OutputChunk(msg.data, typ)
        return None

    def _record_exit(self, ex: sandbox_pb2.ExecExit) -> None:
        self.exit_code = ex.exit_code
        self.duration = duration_from(ex.duration)
        self.stdout_truncated = ex.stdout_truncated
        self.stderr_truncated = ex.stderr_truncated
        self.message = ex.message

    def _result(self, output: "Collected") -> ExecResult:
        """The ExecResult of the whole stream (exact bytes kept)."""
        stdout, stderr = b"".join(output.out), b"".join(output.err)
        return ExecResult(
            stdout=stdout.decode(errors="replace"),
            stderr=stderr.decode(errors="replace"),
            exit_code=-1 if self.exit_code is None else self.exit_code,
            duration=self.duration, command=self.command,
            stdout_bytes=stdout, stderr_bytes=stderr,
            stdout_truncated=self.stdout_truncated,
            stderr_truncated=self.stderr_truncated, message=self.message)

    def cancel(self) -> None:
        self._call.cancel()


class ExecStream(StreamState):
    """Iterate a running command's output as OutputChunk items.

    Once iteration ends, `exit_code`, `duration`, the truncation flags and
    `message` hold what the server reported in the stream's last message
    (exit_code stays None if the server sent none).  Leaving a `with` block
    early, or calling cancel(), cancels the call.
    """

    def __init__(self, call, command: str,
                 map_error: Callable[[grpc.RpcError], AgentFenseError]) -> None:
        super().__init__(call, command, map_error)

    def __iter__(self) -> Iterator[OutputChunk]:
        try:
            for msg in self._call:
                chunk = self._chunk(msg)
                if chunk is not None:
                    yield chunk
        except grpc.RpcError as err:
            raise self._map_error(err) from None

    def __enter__(self) -> "ExecStream":
        return self

    def __exit__(self, *exc) -> None:
        self.cancel()

    def collect(self) -> ExecResult:
        """Consume the stream into an ExecResult (exact bytes kept)."""
        output = Collected()
        for chunk in self:
            output.add(chunk)
        return self._result(output)
