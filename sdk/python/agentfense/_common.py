"""Pieces the sync and async high-level handles share."""

from __future__ import annotations

import getpass
import os
from typing import Dict, Optional, Tuple, Union

from . import _convert as cv
from .exceptions import (AgentFenseError, CommandExecutionError,
                         FileNotFoundError, InvalidConfigurationError,
                         PermissionDeniedError)
from .presets import DEFAULT_PRESET
from .types import ExecResult

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
