"""AsyncSession: a persistent shell in a sandbox (async)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import _common
from ..exceptions import AgentFenseError, SessionNotFoundError
from ..types import ExecResult, SessionInfo, Timeout
from .stream import AsyncExecStream

if TYPE_CHECKING:  # pragma: no cover
    from .client import AsyncSandboxClient


class AsyncSession(_common.SessionState["AsyncSandboxClient"]):
    """As agentfense.Session, with coroutines; `async with` destroys it."""

    def __init__(self, client: "AsyncSandboxClient", info: SessionInfo) -> None:
        super().__init__(client, info)

    async def exec(self, command: str, timeout: Timeout = None,
                   raise_on_error: bool = False) -> ExecResult:
        result = await self._client.session_exec(self.id, command, timeout=timeout)
        return result.raise_on_error() if raise_on_error else result

    run = exec

    def exec_stream(self, command: str, timeout: Timeout = None) -> AsyncExecStream:
        return self._client.session_exec_stream(self.id, command, timeout=timeout)

    async def refresh(self) -> "AsyncSession":
        self._info = await self._client.get_session(self.id)
        return self

    async def close(self) -> None:
        if self._closed:
            return
        try:
            await self._client.destroy_session(self.id)
        except SessionNotFoundError:
            pass
        self._mark_closed()

    destroy = close

    async def __aenter__(self) -> "AsyncSession":
        return self

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        try:
            await self.close()
        except AgentFenseError:
            if _common.should_raise_cleanup_error(exc_type, "closing session %s failed", self.id):
                raise
        return False

    def __repr__(self) -> str:
        return f"AsyncSession(id={self.id!r}, status={self.status.value})"
