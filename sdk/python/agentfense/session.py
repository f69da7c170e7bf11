"""Session: a persistent shell in a sandbox (sync)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import _common
from .exceptions import AgentFenseError, SessionNotFoundError
from .stream import ExecStream
from .types import ExecResult, SessionInfo, Timeout

if TYPE_CHECKING:  # pragma: no cover
    from .client import SandboxClient


class Session(_common.SessionState["SandboxClient"]):
    """One shell process that keeps its state between commands: the working
    directory, exported variables, functions and background jobs. Commands
    run one at a time (concurrent ones queue); stdout and stderr stay
    separate; a timeout kills the command, not the session.

    Use it as a context manager: leaving the block destroys the session.
    """

    def __init__(self, client: "SandboxClient", info: SessionInfo) -> None:
        super().__init__(client, info)

    def exec(self, command: str, timeout: Timeout = None,
             raise_on_error: bool = False) -> ExecResult:
        """Run command in the shell and wait for it.

        Raises CommandTimeoutError after `timeout` seconds (the command is
        killed, the session kept), SessionClosedError once the shell is
        gone, CommandExecutionError on a non-zero exit if raise_on_error.
        """
        result = self._client.session_exec(self.id, command, timeout=timeout)
        return result.raise_on_error() if raise_on_error else result

    run = exec

    def exec_stream(self, command: str, timeout: Timeout = None) -> ExecStream:
        """Output chunks as they come (see ExecStream)."""
        return self._client.session_exec_stream(self.id, command, timeout=timeout)

    def refresh(self) -> "Session":
        self._info = self._client.get_session(self.id)
        return self

    def close(self) -> None:
        """Destroy the session (kills its shell). Safe to call twice."""
        if self._closed:
            return
        try:
            self._client.destroy_session(self.id)
        except SessionNotFoundError:
            pass
        self._mark_closed()

    destroy = close

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            self.close()
        except AgentFenseError:
            if _common.should_raise_cleanup_error(exc_type, "closing session %s failed", self.id):
                raise
        return False

    def __repr__(self) -> str:
        return f"Session(id={self.id!r}, status={self.status.value})"
