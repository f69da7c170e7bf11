"""The audit trail: what sandboxed processes did to the workspace's files.

The server records, per sandbox, the file operations the kernel saw
(sandbox.v1.AuditService): every denial, and allowed operations as the
sandbox's audit level says.  The level is set when the sandbox is created,
with a label:

    from agentfense import Sandbox, audit_labels

    with Sandbox.from_local("./proj", labels=audit_labels("all")) as sb:
        sb.run("cat .env; echo hi > out.txt")
        for event in sb.audit(denied=True):
            print(event.op, event.path, event.error)

Levels: "denied" (the default), "writes" (and allowed changes), "all".
Events are never lost silently: where some are missing, the stream has an
AuditGap saying how many.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Dict, Iterable, Iterator, List, Optional, Union

import grpc

from ._convert import ts
from ._proto.sandbox.v1 import audit_pb2, audit_pb2_grpc
from .exceptions import InvalidConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    from .client import SandboxClient

AUDIT_LABEL = "agentfense.audit"
AUDIT_LEVELS = ("denied", "writes", "all")

_DECISIONS = {None: audit_pb2.AUDIT_DECISION_UNSPECIFIED,
              "allow": audit_pb2.AUDIT_DECISION_ALLOW,
              "deny": audit_pb2.AUDIT_DECISION_DENY}


def audit_labels(level: str) -> Dict[str, str]:
    """Labels that give a new sandbox this audit level."""
    if level not in AUDIT_LEVELS:
        raise InvalidConfigurationError(
            f"audit level must be one of {', '.join(AUDIT_LEVELS)}, not {level!r}")
    return {AUDIT_LABEL: level}


@dataclass(frozen=True)
class AuditEvent:
    """One file operation of a sandboxed process."""
    time: Optional[datetime]
    sandbox_id: str
    pid: int
    tid: int
    uid: int
    comm: str
    op: str             # open-read, open-write, exec, create, unlink, rename-src...
    path: str           # as the sandbox sees it: /workspace/...
    path_bytes: bytes   # the exact bytes (the path may not be UTF-8)
    decision: str       # "allow" or "deny"
    errno: int
    error: str          # "EACCES", ... ("" when allowed)
    enforcer: str
    source: str         # "bpf-lsm" (the enforcer's hooks) or "trace"
    as_passed: bool     # trace source: the name the process passed
    base_unknown: bool
    unresolved: bool
    truncated: bool

    @property
    def denied(self) -> bool:
        return self.decision == "deny"


@dataclass(frozen=True)
class AuditGap:
    """Events missing at this point of the stream, and why."""
    time: Optional[datetime]
    sandbox_id: str
    lost: int
    reason: str


AuditRecord = Union[AuditEvent, AuditGap]


@dataclass(frozen=True)
class AuditSandboxStats:
    sandbox_id: str
    level: str
    recording: bool
    events: int
    dropped: int
    log_bytes: int


@dataclass(frozen=True)
class AuditStats:
    source: str
    source_reason: str
    events: int
    recorded: int
    dropped_kernel: int
    dropped_followers: int
    unattributed: int
    outside_workspace: int
    write_errors: int
    sandboxes: List[AuditSandboxStats]


def _record(msg: audit_pb2.AuditRecord) -> AuditRecord:
    if msg.WhichOneof("kind") == "gap":
        g = msg.gap
        return AuditGap(ts(g.time), g.sandbox_id, g.lost, g.reason)
    e = msg.event
    return AuditEvent(
        time=ts(e.time), sandbox_id=e.sandbox_id, pid=e.pid, tid=e.tid, uid=e.uid,
        comm=e.comm, op=e.op, path=e.path,
        path_bytes=e.path_bytes or e.path.encode(),
        decision="deny" if e.decision == audit_pb2.AUDIT_DECISION_DENY else "allow",
        errno=e.errnum, error=e.error, enforcer=e.enforcer, source=e.source,
        as_passed=e.as_passed, base_unknown=e.base_unknown, unresolved=e.unresolved,
        truncated=e.truncated)


def _timestamp(when: Union[datetime, float, None], field) -> None:
    if when is None:
        return
    if isinstance(when, datetime):
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        when = when.timestamp()
    field.seconds = int(when)
    field.nanos = int((when - int(when)) * 1e9)


def query(client: "SandboxClient", sandbox_id: str = "", *,
          denied: bool = False, decision: Optional[str] = None,
          since: Union[datetime, float, None] = None,
          until: Union[datetime, float, None] = None,
          path: Optional[str] = None, ops: Optional[Iterable[str]] = None,
          limit: int = 0, tail: bool = False, follow: bool = False,
          timeout: Optional[float] = None) -> Iterator[AuditRecord]:
    """Recorded events (oldest first), then with follow=True new ones.

    sandbox_id: one sandbox ("" for all).  denied=True is decision="deny".
    since/until: datetimes or epoch seconds.  path: a glob over the path in
    which '*' also matches '/' ("/workspace/secrets/*").  ops: operation
    names.  limit: at most that many recorded events, the last ones with
    tail=True.  With follow=True the iterator goes on until it is closed
    (or the sandbox is destroyed); limit then says how many recorded events
    come first.
    """
    if denied:
        decision = "deny"
    if decision not in _DECISIONS:
        raise InvalidConfigurationError("decision must be 'allow' or 'deny'")
    req = audit_pb2.AuditQuery(
        sandbox_id=sandbox_id, decision=_DECISIONS[decision], path_glob=path or "",
        ops=list(ops or ()), limit=limit, tail=tail or (follow and limit > 0),
        follow=follow)
    _timestamp(since, req.since)
    _timestamp(until, req.until)
    stub = audit_pb2_grpc.AuditServiceStub(client._channel)
    call = stub.QueryAudit(req, timeout=None if follow else timeout)
    return _iterate(client, call, sandbox_id)


def _iterate(client: "SandboxClient", call, sandbox_id: str) -> Iterator[AuditRecord]:
    ctx = {"sandbox_id": sandbox_id} if sandbox_id else {}
    try:
        for msg in call:
            yield _record(msg)
    except grpc.RpcError as err:
        if err.code() != grpc.StatusCode.CANCELLED:
            raise client._error(err, **ctx) from None
    finally:
        call.cancel()


def stats(client: "SandboxClient", sandbox_id: str = "") -> AuditStats:
    """Counters of the trail: received, recorded, lost (and where)."""
    stub = audit_pb2_grpc.AuditServiceStub(client._channel)
    ctx = {"sandbox_id": sandbox_id} if sandbox_id else {}
    msg = client._unary(stub.GetAuditStats,
                        audit_pb2.AuditStatsRequest(sandbox_id=sandbox_id), **ctx)
    return AuditStats(
        source=msg.source, source_reason=msg.source_reason, events=msg.events,
        recorded=msg.recorded, dropped_kernel=msg.dropped_kernel,
        dropped_followers=msg.dropped_followers, unattributed=msg.unattributed,
        outside_workspace=msg.outside_workspace, write_errors=msg.write_errors,
        sandboxes=[AuditSandboxStats(s.sandbox_id, s.level, s.recording, s.events,
                                     s.dropped, s.log_bytes) for s in msg.sandboxes])


class AuditMixin:
    """SandboxClient's audit methods (the client mixes this class in)."""

    def audit(self, sandbox_id: str = "", **options) -> Iterator[AuditRecord]:
        """Audit events of a sandbox ("" for all): see agentfense.audit.query."""
        return query(self, sandbox_id, **options)

    def audit_stats(self, sandbox_id: str = "") -> AuditStats:
        """Counters of the audit trail: see agentfense.audit.stats."""
        return stats(self, sandbox_id)
