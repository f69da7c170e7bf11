"""AgentFense Python SDK: run untrusted code against real codebases with
per-path permissions enforced by the kernel.

    from agentfense import Sandbox

    with Sandbox.from_local("./my-project", preset="agent-safe") as sandbox:
        result = sandbox.run("ls -la")
        print(result.stdout)

Layers: Sandbox (high level, owns and cleans up what it creates),
SandboxClient (one method per RPC), presets, types and exceptions.
"""

try:
    from ._proto.sandbox.v1 import sandbox_pb2 as _check  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the checkout
    raise ImportError(
        "agentfense._proto is missing: generate it with "
        "`/usr/bin/python3 sdk/python/gen_proto.py` (or build the py_proto target)"
    ) from exc

from .client import SandboxClient
from .exceptions import (AgentFenseError, AlreadyExistsError,
                         CodebaseNotFoundError, CommandExecutionError,
                         CommandTimeoutError, ConnectionError,
                         FailedPreconditionError, FileNotFoundError,
                         InvalidConfigurationError, NotFoundError,
                         PermissionDeniedError, ResourceLimitExceededError,
                         SandboxError, SandboxNotFoundError,
                         SandboxNotRunningError, UnimplementedError)
from .presets import (PRESET_AGENT_SAFE, PRESET_DEVELOPMENT, PRESET_FULL_ACCESS,
                      PRESET_READ_ONLY, PRESET_VIEW_ONLY, PRESETS,
                      extend_preset, get_preset, get_preset_dicts, list_presets,
                      register_preset)
from .sandbox import Sandbox
from .stream import ExecStream
from .types import (Codebase, ExecResult, FileInfo, HealthInfo, OutputChunk,
                    OutputType, PathExplanation, PatternType, Permission,
                    PermissionRule, PresetInfo, ResourceLimits, RuntimeType,
                    SandboxInfo, SandboxStatus, SessionStatus, UploadResult)

__version__ = "0.1.0"

__all__ = [
    "Sandbox", "SandboxClient", "ExecStream",
    # types
    "Codebase", "ExecResult", "FileInfo", "HealthInfo", "OutputChunk",
    "OutputType", "PathExplanation", "PatternType", "Permission",
    "PermissionRule", "PresetInfo", "ResourceLimits", "RuntimeType",
    "SandboxInfo", "SandboxStatus", "SessionStatus", "UploadResult",
    # presets
    "PRESETS", "PRESET_AGENT_SAFE", "PRESET_DEVELOPMENT", "PRESET_FULL_ACCESS",
    "PRESET_READ_ONLY", "PRESET_VIEW_ONLY", "extend_preset", "get_preset",
    "get_preset_dicts", "list_presets", "register_preset",
    # exceptions
    "AgentFenseError", "SandboxError", "AlreadyExistsError",
    "CodebaseNotFoundError", "CommandExecutionError", "CommandTimeoutError",
    "ConnectionError", "FailedPreconditionError", "FileNotFoundError",
    "InvalidConfigurationError", "NotFoundError", "PermissionDeniedError",
    "ResourceLimitExceededError", "SandboxNotFoundError",
    "SandboxNotRunningError", "UnimplementedError",
]
