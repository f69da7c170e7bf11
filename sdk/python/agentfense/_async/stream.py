"""Streaming command output, async (ExecStream / SessionExecStream)."""

from __future__ import annotations

import inspect
from typing import AsyncIterator, Awaitable, Callable, Union

import grpc

from ..exceptions import AgentFenseError
from ..stream import Collected, StreamState
from ..types import ExecResult, OutputChunk


class AsyncExecStream(StreamState):
    """`async for chunk in stream`: OutputChunk items as the command writes.

    Once iteration ends, `exit_code`, `duration`, the truncation flags and
    `message` hold what the stream's last message reported. Leaving an
    `async with` block early, or cancel(), cancels the call.
    """

    def __init__(self, call, command: str,
                 map_error: Callable[[grpc.RpcError],
                                     Union[AgentFenseError, Awaitable[AgentFenseError]]]
                 ) -> None:
        super().__init__(call, command, map_error)

    async def __aiter__(self) -> AsyncIterator[OutputChunk]:
        try:
            async for msg in self._call:
                chunk = self._chunk(msg)
                if chunk is not None:
                    yield chunk
        except grpc.RpcError as err:
            exc = self._map_error(err)
            if inspect.isawaitable(exc):    # it may ask the server more
                exc = await exc
            raise exc from None

    async def __aenter__(self) -> "AsyncExecStream":
        return self

    async def __aexit__(self, *exc) -> None:
        self.cancel()

    async def collect(self) -> ExecResult:
        """Consume the stream into an ExecResult (exact bytes kept)."""
        output = Collected()
        async for chunk in self:
            output.add(chunk)
        return self._result(output)
