"""agentfense.audit without a server: labels, and wire records as SDK objects."""

import pytest

import agentfense as af
from agentfense import audit
from agentfense._proto.sandbox.v1 import audit_pb2


def test_labels():
    assert af.audit_labels("all") == {"agentfense.audit": "all"}
    for level in ("denied", "writes", "all"):
        assert af.audit_labels(level)[af.AUDIT_LABEL] == level
    with pytest.raises(af.InvalidConfigurationError):
        af.audit_labels("everything")


def test_event_record():
    msg = audit_pb2.AuditRecord(event=audit_pb2.AuditEvent(
        sandbox_id="sb_0123456789abcdef", pid=7, tid=8, uid=0, comm="cat",
        op="open-read", path="/workspace/a\ufffd", path_bytes=b"/workspace/a\xff",
        decision=audit_pb2.AUDIT_DECISION_DENY, errnum=13, error="EACCES",
        enforcer="landlock", source="trace", as_passed=True))
    msg.event.time.seconds = 1795791886
    e = audit._record(msg)
    assert isinstance(e, af.AuditEvent) and e.denied
    assert e.decision == "deny" and e.errno == 13 and e.error == "EACCES"
    assert e.path_bytes == b"/workspace/a\xff" and e.as_passed
    assert e.time.timestamp() == 1795791886


def test_event_path_bytes_default_to_path():
    msg = audit_pb2.AuditRecord(event=audit_pb2.AuditEvent(
        path="/workspace/é", decision=audit_pb2.AUDIT_DECISION_ALLOW))
    e = audit._record(msg)
    assert e.path_bytes == "/workspace/é".encode() and not e.denied


def test_gap_record():
    msg = audit_pb2.AuditRecord(gap=audit_pb2.AuditGap(
        sandbox_id="sb_0123456789abcdef", lost=12, reason="ring buffer full"))
    g = audit._record(msg)
    assert isinstance(g, af.AuditGap) and g.lost == 12 and g.time is None


def test_bad_decision_before_any_call():
    with pytest.raises(af.InvalidConfigurationError):
        audit.query(None, decision="maybe")
