"""AgentFense Python SDK: run untrusted code against real codebases with
per-path permissions enforced by the kernel.

    from agentfense import Sandbox

    with Sandbox.from_local("./my-project", preset="agent-safe") as sandbox:
        result = sandbox.run("ls -la")
        print(result.stdout)

Layers: Sandbox / AsyncSandbox (high level, own and clean up what they
create), SandboxClient / AsyncSandboxClient (one method per RPC), Session
objects, presets, types and exceptions.
"""

try:
    from ._proto.sandbox.v1 import files_pb2 as _check  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the checkout
    raise ImportError(
        "agentfense._proto is missing or stale: generate it with "
        "`/usr/bin/python3 sdk/python/gen_proto.py` (or build the py_proto target)"
    ) from exc

from ._async import (AsyncExecStream, AsyncSandbox, AsyncSandboxClient,
                     AsyncSession)
from ._ignore import DEFAULT_IGNORES
from ._progress import ProgressBar
from .audit import (AUDIT_LABEL, AuditEvent, AuditGap, AuditStats,
                    audit_labels)
from .client import SandboxClient
from .exceptions import (AgentFenseError, AlreadyExistsError,
                         CodebaseNotFoundError, CommandExecutionError,
                         CommandTimeoutError, CommitConflictError,
                         ConnectionError, FailedPreconditionError,
                         FileNotFoundError, InvalidConfigurationError,
                         NotFoundError, PermissionDeniedError,
                         ResourceLimitExceededError, SandboxError,
                         SandboxNotFoundError, SandboxNotRunningError,
                         ServiceUnavailableError, SessionClosedError,
                         SessionNotFoundError, UnimplementedError, UploadError,
                         UploadWarning)
from .presets import (PRESET_AGENT_SAFE, PRESET_DEVELOPMENT, PRESET_FULL_ACCESS,
                      PRESET_READ_ONLY, PRESET_VIEW_ONLY, PRESETS,
                      extend_preset, get_preset, get_preset_dicts, list_presets,
                      register_preset)
from .sandbox import Sandbox
from .session import Session
from .stream import ExecStream
from .types import (Change, ChangeKind, Codebase, CommitResult, ExecResult,
                    FileInfo, HealthInfo, OutputChunk, OutputType,
                    PathExplanation, PatternType, Permission, PermissionRule,
                    PresetInfo, ResourceLimits, RuntimeType, SandboxFileInfo,
                    SandboxInfo, SandboxStatus, SessionInfo, SessionStatus,
                    SkippedFile, UploadLimits, UploadProgress, UploadResult,
                    UploadSummary)

__version__ = "0.2.0"

__all__ = [
    # audit trail
    "AUDIT_LABEL", "AuditEvent", "AuditGap", "AuditStats", "audit_labels",
    "Sandbox", "AsyncSandbox", "SandboxClient", "AsyncSandboxClient",
    "Session", "AsyncSession", "ExecStream", "AsyncExecStream", "ProgressBar",
    "DEFAULT_IGNORES",
    # types
    "Change", "ChangeKind", "Codebase", "CommitResult", "ExecResult", "FileInfo",
    "HealthInfo", "OutputChunk", "OutputType", "PathExplanation", "PatternType",
    "Permission", "PermissionRule", "PresetInfo", "ResourceLimits", "RuntimeType",
    "SandboxFileInfo", "SandboxInfo", "SandboxStatus", "SessionInfo",
    "SessionStatus", "SkippedFile", "UploadLimits", "UploadProgress",
    "UploadResult", "UploadSummary",
    # presets
    "PRESETS", "PRESET_AGENT_SAFE", "PRESET_DEVELOPMENT", "PRESET_FULL_ACCESS",
    "PRESET_READ_ONLY", "PRESET_VIEW_ONLY", "extend_preset", "get_preset",
    "get_preset_dicts", "list_presets", "register_preset",
    # exceptions
    "AgentFenseError", "SandboxError", "AlreadyExistsError",
    "CodebaseNotFoundError", "CommandExecutionError", "CommandTimeoutError",
    "CommitConflictError", "ConnectionError", "FailedPreconditionError",
    "FileNotFoundError", "InvalidConfigurationError", "NotFoundError",
    "PermissionDeniedError", "ResourceLimitExceededError",
    "SandboxNotFoundError", "SandboxNotRunningError", "ServiceUnavailableError",
    "SessionClosedError", "SessionNotFoundError", "UnimplementedError",
    "UploadError", "UploadWarning",
]
