"""Plain data types of the SDK: what callers build and what the server returns.

These are independent of the wire format; agentfense._convert maps them to
and from the sandbox.v1 protobuf messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any, Dict, List, Mapping, Optional, Union


class Permission(str, Enum):
    """Access level of a path: none < view < read < write."""

    NONE = "none"
    VIEW = "view"
    READ = "read"
    WRITE = "write"


class PatternType(str, Enum):
    """How a rule's pattern is matched against workspace paths."""

    GLOB = "glob"
    DIRECTORY = "directory"
    FILE = "file"


class SandboxStatus(str, Enum):
    UNKNOWN = "unknown"
    PENDING = "pending"
    RUNNING = "running"
    STOPPED = "stopped"
    ERROR = "error"


class SessionStatus(str, Enum):
    UNKNOWN = "unknown"
    ACTIVE = "active"
    CLOSED = "closed"


class RuntimeType(str, Enum):
    """BWRAP is the namespace runtime (the protocol keeps the historical name)."""

    BWRAP = "bwrap"
    DOCKER = "docker"


class OutputType(str, Enum):
    STDOUT = "stdout"
    STDERR = "stderr"


@dataclass
class PermissionRule:
    """One rule: paths matching `pattern` get `permission`.

    Patterns are workspace paths with a leading "/" (ARCHITECTURE §4);
    higher `priority` wins, and at a full tie the later rule wins.
    """

    pattern: str
    permission: Permission = Permission.READ
    type: PatternType = PatternType.GLOB
    priority: int = 0

    def __post_init__(self) -> None:
        # Accept plain strings ("read", "glob") the way dict rules spell them.
        self.permission = Permission(self.permission)
        self.type = PatternType(self.type)
        if not isinstance(self.pattern, str):
            raise TypeError("PermissionRule.pattern must be a str")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise TypeError("PermissionRule.priority must be an int")

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PermissionRule":
        unknown = set(d) - {"pattern", "permission", "type", "priority"}
        if unknown:
            raise ValueError(f"unknown permission rule keys: {sorted(unknown)}")
        if "pattern" not in d:
            raise ValueError("permission rule needs a 'pattern'")
        return cls(**d)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "pattern": self.pattern,
            "permission": self.permission.value,
            "type": self.type.value,
            "priority": self.priority,
        }


RuleLike = Union[PermissionRule, Mapping[str, Any]]


def to_rule(rule: RuleLike) -> PermissionRule:
    """Normalize a PermissionRule or a dict spelling of one."""
    if isinstance(rule, PermissionRule):
        return rule
    if isinstance(rule, Mapping):
        return PermissionRule.from_dict(rule)
    raise TypeError(f"expected PermissionRule or dict, got {type(rule).__name__}")


@dataclass
class ResourceLimits:
    """Per-sandbox limits; None leaves the server default.

    cpu_quota is microseconds of CPU per 100 ms period (50000 = half a core).
    """

    memory_bytes: Optional[int] = None
    cpu_quota: Optional[int] = None
    cpu_shares: Optional[int] = None
    pids_limit: Optional[int] = None


@dataclass
class Codebase:
    id: str
    name: str
    owner_id: str
    size: int = 0
    file_count: int = 0
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None


@dataclass
class FileInfo:
    path: str
    name: str
    is_dir: bool
    size: int = 0
    modified_at: Optional[datetime] = None


@dataclass
class UploadResult:
    codebase_id: str
    file_path: str
    size: int
    checksum: str  # hex SHA-256 of the stored content


@dataclass
class SandboxInfo:
    """A sandbox as the server describes it (the high-level handle is agentfense.Sandbox)."""

    id: str
    codebase_id: str
    status: SandboxStatus
    permissions: List[PermissionRule] = field(default_factory=list)
    labels: Dict[str, str] = field(default_factory=dict)
    created_at: Optional[datetime] = None
    started_at: Optional[datetime] = None
    stopped_at: Optional[datetime] = None
    expires_at: Optional[datetime] = None
    runtime: RuntimeType = RuntimeType.BWRAP
    image: str = ""
    resources: Optional[ResourceLimits] = None
    status_message: str = ""
    enforcer: str = ""
    commit_after_exec: bool = False


@dataclass
class ExecResult:
    """Outcome of one command.

    `stdout`/`stderr` are text (invalid UTF-8 shows as U+FFFD); the
    `*_bytes` fields hold the exact bytes the command wrote.
    """

    stdout: str
    stderr: str
    exit_code: int
    duration: Optional[timedelta] = None
    command: str = ""
    stdout_bytes: Optional[bytes] = None
    stderr_bytes: Optional[bytes] = None
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    message: str = ""

    def __post_init__(self) -> None:
        if self.stdout_bytes is None:
            self.stdout_bytes = self.stdout.encode()
        if self.stderr_bytes is None:
            self.stderr_bytes = self.stderr.encode()

    @property
    def success(self) -> bool:
        return self.exit_code == 0

    @property
    def output(self) -> str:
        """stdout followed by stderr (their interleaving is not preserved)."""
        return self.stdout + self.stderr

    def raise_on_error(self) -> "ExecResult":
        """Raise CommandExecutionError on a non-zero exit code, else return self."""
        if not self.success:
            from .exceptions import CommandExecutionError

            raise CommandExecutionError(
                self.command, self.exit_code, self.stdout, self.stderr
            )
        return self


class OutputChunk(bytes):
    """A piece of a streamed command's output: bytes tagged with its stream.

    Being bytes, a chunk can be decoded or written to a file directly;
    `.type` says whether it came from stdout or stderr.
    """

    type: OutputType

    def __new__(cls, data: bytes, type: OutputType) -> "OutputChunk":
        self = super().__new__(cls, data)
        self.type = OutputType(type)
        return self

    @property
    def is_stdout(self) -> bool:
        return self.type is OutputType.STDOUT

    @property
    def is_stderr(self) -> bool:
        return self.type is OutputType.STDERR

    def __repr__(self) -> str:
        return f"OutputChunk({bytes(self)!r}, {self.type.value})"


@dataclass
class PresetInfo:
    """A preset as the server defines it (agentfense.presets mirrors these)."""

    name: str
    description: str
    rules: List[PermissionRule]


@dataclass
class HealthInfo:
    version: str
    enforcer: str
    enforcer_reason: str
    sandboxes_running: int
    sandboxes_total: int
    uptime_seconds: int
    cgroup_layout: str


@dataclass
class PathExplanation:
    """Which level a path gets and which rule decided (rule_index -1: default)."""

    permission: Permission
    rule_index: int
    rule: Optional[PermissionRule]
    reason: str


@dataclass
class SessionInfo:
    """A session as the server describes it (the handle is agentfense.Session)."""

    id: str
    sandbox_id: str
    status: SessionStatus
    shell: str = ""
    created_at: Optional[datetime] = None
    closed_at: Optional[datetime] = None


@dataclass
class SandboxFileInfo:
    """An entry of a running sandbox's /workspace, as the sandbox sees it."""

    path: str                      # "/src/main.py"
    name: str
    is_dir: bool
    size: int = 0
    modified_at: Optional[datetime] = None
    permission: Permission = Permission.NONE   # its level under the rules
    mode: int = 0
    is_symlink: bool = False


class ChangeKind(str, Enum):
    ADDED = "added"
    MODIFIED = "modified"
    DELETED = "deleted"


@dataclass
class Change:
    """Something a sandbox changed against its snapshot of the codebase."""

    path: str
    kind: ChangeKind
    is_dir: bool = False
    size: int = 0
    mode: int = 0
    permission: Permission = Permission.NONE
    committable: bool = True
    reason: str = ""               # why it cannot be committed
    committed: bool = False        # by an earlier commit of this sandbox
    conflict: bool = False         # the codebase changed here meanwhile


@dataclass
class CommitResult:
    committed: List[Change] = field(default_factory=list)
    skipped: List[Change] = field(default_factory=list)
    conflicts: List[Change] = field(default_factory=list)   # dry runs only
    dry_run: bool = False


@dataclass
class UploadLimits:
    max_file_size: int = 0          # 0: none
    max_archive_size: int = 0       # content of one bulk upload; 0: none
    max_archive_entries: int = 0
    max_batch_size: int = 0


@dataclass
class UploadProgress:
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    path: str = ""                  # the file being sent


@dataclass
class SkippedFile:
    """A local entry an upload left out, and why (never silently)."""

    path: str
    reason: str
    size: int = 0


@dataclass
class UploadSummary:
    codebase_id: str
    files: int = 0
    directories: int = 0
    bytes: int = 0
    wire_bytes: int = 0              # as sent, after compression
    seconds: float = 0.0
    skipped: List[SkippedFile] = field(default_factory=list)
    results: List[UploadResult] = field(default_factory=list)


Timeout = Union[int, float, timedelta, None]


def timeout_seconds(timeout: Timeout) -> Optional[float]:
    """Seconds as a float from int/float seconds or a timedelta; None stays None."""
    if timeout is None:
        return None
    if isinstance(timeout, timedelta):
        secs = timeout.total_seconds()
    elif isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        secs = float(timeout)
    else:
        raise TypeError("timeout must be seconds (int/float) or a timedelta")
    if secs <= 0:
        raise ValueError("timeout must be positive")
    return secs
