"""Mapping between SDK types and sandbox.v1 protobuf messages (the clients'
whole requests are built in agentfense._requests)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Iterable, List, Optional

from google.protobuf import duration_pb2, timestamp_pb2

from ._proto.sandbox.v1 import (codebase_pb2, common_pb2, files_pb2,
                                sandbox_pb2, server_pb2)
from .types import (Change, ChangeKind, Codebase, CommitResult, ExecResult,
                    FileInfo, HealthInfo, PathExplanation, PatternType,
                    Permission, PermissionRule, PresetInfo, ResourceLimits,
                    RuntimeType, SandboxFileInfo, SandboxInfo, SandboxStatus,
                    SessionInfo, SessionStatus, SkippedFile, UploadLimits,
                    UploadResult, UploadSummary)

_PERM_TO_PB = {
    Permission.NONE: common_pb2.PERMISSION_NONE,
    Permission.VIEW: common_pb2.PERMISSION_VIEW,
    Permission.READ: common_pb2.PERMISSION_READ,
    Permission.WRITE: common_pb2.PERMISSION_WRITE,
}
_PERM_FROM_PB = {v: k for k, v in _PERM_TO_PB.items()}

_TYPE_TO_PB = {
    PatternType.GLOB: common_pb2.PATTERN_TYPE_GLOB,
    PatternType.DIRECTORY: common_pb2.PATTERN_TYPE_DIRECTORY,
    PatternType.FILE: common_pb2.PATTERN_TYPE_FILE,
}
_TYPE_FROM_PB = {v: k for k, v in _TYPE_TO_PB.items()}
# The wire's UNSPECIFIED pattern type means glob.
_TYPE_FROM_PB[common_pb2.PATTERN_TYPE_UNSPECIFIED] = PatternType.GLOB

_STATUS_FROM_PB = {
    common_pb2.SANDBOX_STATUS_PENDING: SandboxStatus.PENDING,
    common_pb2.SANDBOX_STATUS_RUNNING: SandboxStatus.RUNNING,
    common_pb2.SANDBOX_STATUS_STOPPED: SandboxStatus.STOPPED,
    common_pb2.SANDBOX_STATUS_ERROR: SandboxStatus.ERROR,
}

_RUNTIME_TO_PB = {
    RuntimeType.BWRAP: common_pb2.RUNTIME_TYPE_BWRAP,
    RuntimeType.DOCKER: common_pb2.RUNTIME_TYPE_DOCKER,
}
_RUNTIME_FROM_PB = {v: k for k, v in _RUNTIME_TO_PB.items()}


def ts(msg: timestamp_pb2.Timestamp) -> Optional[datetime]:
    """A Timestamp as an aware UTC datetime; an unset one (0) as None."""
    if msg.seconds == 0 and msg.nanos == 0:
        return None
    return datetime.fromtimestamp(msg.seconds, tz=timezone.utc) + timedelta(
        microseconds=msg.nanos // 1000)


def duration_from(msg: duration_pb2.Duration) -> timedelta:
    return timedelta(seconds=msg.seconds, microseconds=msg.nanos // 1000)


def duration_to(seconds: float) -> duration_pb2.Duration:
    d = duration_pb2.Duration()
    d.FromNanoseconds(int(round(seconds * 1e9)))
    return d


def rule_to_pb(rule: PermissionRule) -> common_pb2.PermissionRule:
    return common_pb2.PermissionRule(
        pattern=rule.pattern, type=_TYPE_TO_PB[rule.type],
        permission=_PERM_TO_PB[rule.permission], priority=rule.priority)


def rule_from_pb(msg: common_pb2.PermissionRule) -> PermissionRule:
    # An out-of-range level from a newer server reads as NONE (fail closed).
    return PermissionRule(
        pattern=msg.pattern,
        permission=_PERM_FROM_PB.get(msg.permission, Permission.NONE),
        type=_TYPE_FROM_PB.get(msg.type, PatternType.GLOB),
        priority=msg.priority)


def runtime_to_pb(runtime: Optional[RuntimeType]) -> int:
    if runtime is None:
        return common_pb2.RUNTIME_TYPE_UNSPECIFIED
    return _RUNTIME_TO_PB[RuntimeType(runtime)]


def resources_to_pb(res: Optional[ResourceLimits]) -> Optional[common_pb2.ResourceLimits]:
    if res is None:
        return None
    return common_pb2.ResourceLimits(
        memory_bytes=res.memory_bytes or 0, cpu_quota=res.cpu_quota or 0,
        cpu_shares=res.cpu_shares or 0, pids_limit=res.pids_limit or 0)


def _resources_from_pb(msg: common_pb2.ResourceLimits) -> Optional[ResourceLimits]:
    vals = [msg.memory_bytes, msg.cpu_quota, msg.cpu_shares, msg.pids_limit]
    if not any(vals):
        return None
    return ResourceLimits(*(v or None for v in vals))


def codebase_from_pb(msg: codebase_pb2.Codebase) -> Codebase:
    return Codebase(id=msg.id, name=msg.name, owner_id=msg.owner_id,
                    size=msg.size, file_count=msg.file_count,
                    created_at=ts(msg.created_at), updated_at=ts(msg.updated_at))


def file_info_from_pb(msg: codebase_pb2.FileInfo) -> FileInfo:
    return FileInfo(path=msg.path, name=msg.name, is_dir=msg.is_dir,
                    size=msg.size, modified_at=ts(msg.modified_at))


def upload_result_from_pb(msg: codebase_pb2.UploadResult) -> UploadResult:
    return UploadResult(codebase_id=msg.codebase_id, file_path=msg.file_path,
                        size=msg.size, checksum=msg.checksum)


def upload_summary_from_pb(msg: files_pb2.UploadArchiveResult, codebase_id: str,
                           skipped: List[SkippedFile], seconds: float) -> UploadSummary:
    return UploadSummary(
        codebase_id=codebase_id, files=msg.files, directories=msg.directories,
        bytes=msg.bytes, wire_bytes=msg.wire_bytes, seconds=seconds, skipped=skipped,
        results=[upload_result_from_pb(r) for r in msg.results])


def sandbox_from_pb(msg: sandbox_pb2.Sandbox) -> SandboxInfo:
    return SandboxInfo(
        id=msg.id, codebase_id=msg.codebase_id,
        status=_STATUS_FROM_PB.get(msg.status, SandboxStatus.UNKNOWN),
        permissions=[rule_from_pb(r) for r in msg.permissions],
        labels=dict(msg.labels),
        created_at=ts(msg.created_at), started_at=ts(msg.started_at),
        stopped_at=ts(msg.stopped_at), expires_at=ts(msg.expires_at),
        runtime=_RUNTIME_FROM_PB.get(msg.runtime, RuntimeType.BWRAP),
        image=msg.image, resources=_resources_from_pb(msg.resources),
        status_message=msg.status_message, enforcer=msg.enforcer,
        commit_after_exec=msg.commit_after_exec)


def exec_result_from_pb(msg: sandbox_pb2.ExecResult, command: str) -> ExecResult:
    # The *_bytes extensions are set only when the text fields are lossy.
    return ExecResult(
        stdout=msg.stdout, stderr=msg.stderr, exit_code=msg.exit_code,
        duration=duration_from(msg.duration), command=command,
        stdout_bytes=msg.stdout_bytes if msg.stdout_bytes else None,
        stderr_bytes=msg.stderr_bytes if msg.stderr_bytes else None,
        stdout_truncated=msg.stdout_truncated,
        stderr_truncated=msg.stderr_truncated, message=msg.message)


def rules_to_pb(rules: Iterable[PermissionRule]) -> List[common_pb2.PermissionRule]:
    return [rule_to_pb(r) for r in rules]


def preset_from_pb(msg: server_pb2.Preset) -> PresetInfo:
    return PresetInfo(name=msg.name, description=msg.description,
                      rules=[rule_from_pb(r) for r in msg.rules])


def health_from_pb(msg: server_pb2.HealthResponse) -> HealthInfo:
    return HealthInfo(version=msg.version, enforcer=msg.enforcer,
                      enforcer_reason=msg.enforcer_reason,
                      sandboxes_running=msg.sandboxes_running,
                      sandboxes_total=msg.sandboxes_total,
                      uptime_seconds=msg.uptime_seconds,
                      cgroup_layout=msg.cgroup_layout)


def explanation_from_pb(msg: server_pb2.ExplainPathResponse) -> PathExplanation:
    return PathExplanation(
        permission=_PERM_FROM_PB.get(msg.permission, Permission.NONE),
        rule_index=msg.rule_index,
        rule=rule_from_pb(msg.rule) if msg.HasField("rule") else None,
        reason=msg.reason)


_SESSION_STATUS = {
    common_pb2.SESSION_STATUS_ACTIVE: SessionStatus.ACTIVE,
    common_pb2.SESSION_STATUS_CLOSED: SessionStatus.CLOSED,
}

_CHANGE_KIND = {
    files_pb2.CHANGE_KIND_ADDED: ChangeKind.ADDED,
    files_pb2.CHANGE_KIND_MODIFIED: ChangeKind.MODIFIED,
    files_pb2.CHANGE_KIND_DELETED: ChangeKind.DELETED,
}


def session_from_pb(msg: sandbox_pb2.Session) -> SessionInfo:
    return SessionInfo(id=msg.id, sandbox_id=msg.sandbox_id,
                       status=_SESSION_STATUS.get(msg.status, SessionStatus.UNKNOWN),
                       shell=msg.shell, created_at=ts(msg.created_at),
                       closed_at=ts(msg.closed_at))


def sandbox_file_from_pb(msg: files_pb2.SandboxFileInfo) -> SandboxFileInfo:
    return SandboxFileInfo(
        path=msg.path, name=msg.name, is_dir=msg.is_dir, size=msg.size,
        modified_at=ts(msg.modified_at),
        permission=_PERM_FROM_PB.get(msg.permission, Permission.NONE),
        mode=msg.mode, is_symlink=msg.is_symlink)


def change_from_pb(msg: files_pb2.Change) -> Change:
    return Change(path=msg.path, kind=_CHANGE_KIND.get(msg.kind, ChangeKind.MODIFIED),
                  is_dir=msg.is_dir, size=msg.size, mode=msg.mode,
                  permission=_PERM_FROM_PB.get(msg.permission, Permission.NONE),
                  committable=msg.committable, reason=msg.reason,
                  committed=msg.committed, conflict=msg.conflict)


def commit_from_pb(msg: files_pb2.CommitChangesResponse, dry_run: bool) -> CommitResult:
    return CommitResult(committed=[change_from_pb(c) for c in msg.committed],
                        skipped=[change_from_pb(c) for c in msg.skipped],
                        conflicts=[change_from_pb(c) for c in msg.conflicts],
                        dry_run=dry_run)


def limits_from_pb(msg: files_pb2.UploadLimits) -> UploadLimits:
    return UploadLimits(max_file_size=msg.max_file_size,
                        max_archive_size=msg.max_archive_size,
                        max_archive_entries=msg.max_archive_entries,
                        max_batch_size=msg.max_batch_size)


def workspace_path(path: str) -> str:
    """A workspace path as the server's file calls take it ("/a/b")."""
    path = str(path)
    if path.startswith("/workspace/") or path == "/workspace":
        path = path[len("/workspace"):]
    return path if path.startswith("/") else "/" + path
