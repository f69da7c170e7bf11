"""AsyncSession: a persistent shell in a sandbox (async)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from ..exceptions import AgentFenseError, SessionNotFoundError
from ..types import ExecResult, SessionInfo, SessionStatus, Timeout
from .stream import AsyncExecStream

if TYPE_CHECKING:  # pragma: no cover
    from .client import AsyncSandboxClient

log = logging.getLogger("agentfense")


class AsyncSession:
    """As agentfense.Session, with coroutines; `async with` destroys it."""

    def __init__(self, client: "AsyncSandboxClient", info: SessionInfo) -> None:
        self._client = client
        self._info = info
        self._closed = False

    @property
    def id(self) -> str:
        return self._info.id

    @property
    def sandbox_id(self) -> str:
        return self._info.sandbox_id

    @property
    def shell(self) -> str:
        return self._info.shell

    @property
    def status(self) -> SessionStatus:
        return self._info.status

    @property
    def info(self) -> SessionInfo:
        return self._info

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
        self._closed = True
        self._info.status = SessionStatus.CLOSED

    destroy = close

    async def __aenter__(self) -> "AsyncSession":
        return self

    async def __aexit__(self, exc_type, exc, tb) -> bool:
        try:
            await self.close()
        except AgentFenseError:
            if exc_type is None:
                raise
            log.warning("closing session %s failed", self.id, exc_info=True)
        return False

    def __repr__(self) -> str:
        return f"AsyncSession(id={self.id!r}, status={self.status.value})"
