"""Streaming command output, async (ExecStream / SessionExecStream)."""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import AsyncIterator, Awaitable, Callable, List, Optional, Union

import grpc

from .._convert import duration_from
from ..exceptions import AgentFenseError
from ..stream import _TYPES
from ..types import ExecResult, OutputChunk


class AsyncExecStream:
    """`async for chunk in stream`: OutputChunk items as the command writes.

    Once iteration ends, `exit_code`, `duration`, the truncation flags and
    `message` hold what the stream's last message reported. Leaving an
    `async with` block early, or cancel(), cancels the call.
    """

    def __init__(self, call, command: str,
                 map_error: Callable[[grpc.RpcError],
                                     Union[AgentFenseError, Awaitable[AgentFenseError]]]
                 ) -> None:
        self._call = call
        self._map_error = map_error
        self.command = command
        self.exit_code: Optional[int] = None
        self.duration: Optional[timedelta] = None
        self.stdout_truncated = False
        self.stderr_truncated = False
        self.message = ""

    async def __aiter__(self) -> AsyncIterator[OutputChunk]:
        try:
            async for msg in self._call:
                if msg.HasField("exit"):
                    ex = msg.exit
                    self.exit_code = ex.exit_code
                    self.duration = duration_from(ex.duration)
                    self.stdout_truncated = ex.stdout_truncated
                    self.stderr_truncated = ex.stderr_truncated
                    self.message = ex.message
                typ = _TYPES.get(msg.type)
                if typ is not None and msg.data:
                    yield OutputChunk(msg.data, typ)
        except grpc.RpcError as err:
            exc = self._map_error(err)
            if inspect.isawaitable(exc):    # it may ask the server more
                exc = await exc
            raise exc from None

    def cancel(self) -> None:
        self._call.cancel()

    async def __aenter__(self) -> "AsyncExecStream":
        return self

    async def __aexit__(self, *exc) -> None:
        self.cancel()

    async def collect(self) -> ExecResult:
        """Consume the stream into an ExecResult (exact bytes kept)."""
        out: List[bytes] = []
        err: List[bytes] = []
        async for chunk in self:
            (out if chunk.is_stdout else err).append(bytes(chunk))
        stdout, stderr = b"".join(out), b"".join(err)
        return ExecResult(
            stdout=stdout.decode(errors="replace"), stderr=stderr.decode(errors="replace"),
            exit_code=-1 if self.exit_code is None else self.exit_code,
            duration=self.duration, command=self.command,
            stdout_bytes=stdout, stderr_bytes=stderr,
            stdout_truncated=self.stdout_truncated,
            stderr_truncated=self.stderr_truncated, message=self.message)
