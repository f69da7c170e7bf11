"""Pieces the sync and async high-level handles share."""

from __future__ import annotations

import getpass
import logging
import os
from typing import (Any, Callable, Dict, Generic, Iterable, List, Optional,
                    Tuple, Type, TypeVar, Union)

from . import _convert as cv
from .exceptions import (AgentFenseError, CommandExecutionError,
                         FileNotFoundError, InvalidConfigurationError,
                         PermissionDeniedError, SandboxNotFoundError)
from .presets import DEFAULT_PRESET, expand_permissions
from .types import (Codebase, ExecResult, PermissionRule, RuleLike, RuntimeType,
                    SandboxInfo, SandboxStatus, SessionInfo, SessionStatus,
                    UploadSummary)

log = logging.getLogger("agentfense")

C = TypeVar("C")
# (remove, id, what to tolerate): one step of a teardown, sync or async.
Removal = Tuple[Callable[[str], Any], str, Union[Type[BaseException], Tuple[()]]]

# Writes go through a command in the sandbox, so its rules (enforced by the
# kernel on that command) decide, exactly as for the sandbox's own writes.
WRITE_SCRIPT = 'mkdir -p -- "$(dirname -- "$AF_WRITE_PATH")" && cat > "$AF_WRITE_PATH"'


def default_owner() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "agentfense"


def codebase_name(root: str, given: Optional[str]) -> str:
    return given or os.path.basename(os.path.abspath(root)) or "codebase"


def preset_or_default(preset: Optional[str]) -> str:
    """As the upstream SDK: no preset means the default one (view-only)."""
    return DEFAULT_PRESET if preset is None else preset


def check_dir(root) -> str:
    root = os.fspath(root)
    if not os.path.isdir(root):
        raise InvalidConfigurationError(f"not a directory: {root!r}")
    return root


def local_args(path, preset: Optional[str],
               permissions: Optional[Iterable[RuleLike]]) -> Tuple[str, List[PermissionRule]]:
    """from_local's directory and rules, checked before anything is created."""
    root = check_dir(path)
    return root, expand_permissions(preset_or_default(preset), permissions)


def new_codebase_args(root: str, name: Optional[str],
                      owner_id: Optional[str]) -> Tuple[str, str]:
    """(name, owner_id) of the codebase from_local creates."""
    return codebase_name(root, name), owner_id or default_owner()


def should_raise_cleanup_error(exc_type, warning: str, ident: str) -> bool:
    """Cleanup failed while leaving a `with` block: raise that error if the
    block ended normally, else log it (it must not mask the block's error)."""
    if exc_type is None:
        return True
    log.warning(warning, ident, exc_info=True)
    return False


def write_request(path: str, content: Union[str, bytes]) -> Tuple[str, bytes, Dict[str, str]]:
    """(workspace path, bytes, env) of a write_file command."""
    if isinstance(content, str):
        content = content.encode()
    wpath = cv.workspace_path(path)
    if wpath == "/":
        raise InvalidConfigurationError("write_file needs a file path")
    return wpath, bytes(content), {"AF_WRITE_PATH": "/workspace" + wpath}


def write_error(result: ExecResult, wpath: str, sandbox_id: str) -> Optional[AgentFenseError]:
    """The error of a failed write_file command, or None when it worked."""
    if result.exit_code == 0:
        return None
    err = result.stderr
    if "Permission denied" in err or "Read-only file system" in err:
        return PermissionDeniedError(wpath, "write", details=err.strip())
    if "No such file or directory" in err:
        return FileNotFoundError(None, wpath, err.strip(), sandbox_id=sandbox_id)
    return CommandExecutionError(result.command, result.exit_code, result.stdout, err)


class SandboxState(Generic[C]):
    """What Sandbox and AsyncSandbox (over client type C) hold and report."""

    def __init__(self, client: C, info: SandboxInfo, *,
                 owns_sandbox: bool, owns_codebase: bool, owns_client: bool,
                 upload: Optional[UploadSummary] = None) -> None:
        self._client = client
        self._info = info
        self._owns_sandbox = owns_sandbox
        self._owns_codebase = owns_codebase
        self._owns_client = owns_client
        self._upload = upload
        self._codebase: Optional[Codebase] = None
        self._destroyed = False

    @property
    def id(self) -> str:
        return self._info.id

    @property
    def codebase_id(self) -> str:
        return self._info.codebase_id

    @property
    def status(self) -> SandboxStatus:
        """Status as last seen (see refresh())."""
        return self._info.status

    @property
    def runtime(self) -> RuntimeType:
        return self._info.runtime

    @property
    def info(self) -> SandboxInfo:
        return self._info

    @property
    def client(self) -> C:
        return self._client

    @property
    def upload(self) -> Optional[UploadSummary]:
        """What from_local uploaded and what it left out (else None)."""
        return self._upload

    def _removals(self, delete_codebase: Optional[bool]) -> List[Removal]:
        """destroy()'s steps: the sandbox (already gone is fine), then the
        codebase if this object created it or the caller asks."""
        steps: List[Removal] = [(self._client.destroy_sandbox, self.id, SandboxNotFoundError)]
        if self._owns_codebase if delete_codebase is None else delete_codebase:
            steps.append((self._client.delete_codebase, self.codebase_id, ()))
        return steps


class UndoState(Generic[C]):
    """What a failed from_local / from_codebase must remove (the sandbox
    first); the sync and async undo context managers do the removing."""

    def __init__(self, client: C, close_client: bool) -> None:
        self.client = client
        self.close_client = close_client
        self.codebase_id: Optional[str] = None
        self.sandbox_id: Optional[str] = None

    def _removals(self) -> List[Tuple[Callable[[str], Any], str, str]]:
        """(remove, id, the warning if that fails) for what exists so far."""
        steps = []
        if self.sandbox_id is not None:
            steps.append((self.client.destroy_sandbox, self.sandbox_id,
                          "could not destroy sandbox %s"))
        if self.codebase_id is not None:
            steps.append((self.client.delete_codebase, self.codebase_id,
                          "could not delete codebase %s"))
        return steps


class SessionState(Generic[C]):
    """What Session and AsyncSession (over client type C) hold and report."""

    def __init__(self, client: C, info: SessionInfo) -> None:
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
        """Status as last seen (see refresh())."""
        return self._info.status

    @property
    def info(self) -> SessionInfo:
        return self._info

    def _mark_closed(self) -> None:
        self._closed = True
        self._info.status = SessionStatus.CLOSED
