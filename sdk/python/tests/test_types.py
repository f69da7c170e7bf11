from datetime import datetime, timedelta, timezone

import pytest

from agentfense import (CommandExecutionError, ExecResult, OutputChunk,
                        OutputType, PatternType, Permission, PermissionRule,
                        ResourceLimits, RuntimeType, SandboxStatus)
from agentfense import _convert as cv
from agentfense import _requests as rq
from agentfense._proto.sandbox.v1 import common_pb2, sandbox_pb2


def test_rule_defaults_match_the_spec():
    r = PermissionRule("/src/**")
    assert (r.permission, r.type, r.priority) == (Permission.READ, PatternType.GLOB, 0)


def test_rule_accepts_strings_and_dicts():
    r = PermissionRule.from_dict({"pattern": "/s/**", "permission": "none", "priority": 5})
    assert r == PermissionRule("/s/**", Permission.NONE, PatternType.GLOB, 5)
    assert PermissionRule("/a", "write", "file").type is PatternType.FILE
    assert r.to_dict() == {"pattern": "/s/**", "permission": "none", "type": "glob",
                           "priority": 5}


@pytest.mark.parametrize("bad", [
    {"permission": "read"},                       # no pattern
    {"pattern": "/a", "permission": "sudo"},      # unknown level
    {"pattern": "/a", "type": "regex"},           # unknown type
    {"pattern": "/a", "prio": 1},                 # misspelt key
])
def test_bad_rule_dicts_are_rejected(bad):
    with pytest.raises(ValueError):
        PermissionRule.from_dict(bad)


def test_rule_priority_must_be_int():
    with pytest.raises(TypeError):
        PermissionRule("/a", priority="1")
    with pytest.raises(TypeError):
        PermissionRule("/a", priority=True)


def test_rule_wire_round_trip_uses_contract_numbers():
    r = PermissionRule("/x", Permission.VIEW, PatternType.DIRECTORY, -3)
    pb = cv.rule_to_pb(r)
    # ARCHITECTURE §3: VIEW=2, DIRECTORY=2, field numbers fixed.
    assert (pb.permission, pb.type, pb.priority) == (2, 2, -3)
    assert cv.rule_from_pb(pb) == r
    for perm, num in [("none", 1), ("view", 2), ("read", 3), ("write", 4)]:
        assert cv.rule_to_pb(PermissionRule("/", perm)).permission == num
    for typ, num in [("glob", 1), ("directory", 2), ("file", 3)]:
        assert cv.rule_to_pb(PermissionRule("/", type=typ)).type == num


def test_unspecified_wire_values_read_safely():
    pb = common_pb2.PermissionRule(pattern="/a")
    r = cv.rule_from_pb(pb)
    assert r.type is PatternType.GLOB       # UNSPECIFIED type means glob
    assert r.permission is Permission.NONE  # unknown level fails closed


def test_exec_result_helpers():
    ok = ExecResult("out", "err", 0, timedelta(seconds=1), "true")
    assert ok.success and ok.output == "outerr"
    assert ok.stdout_bytes == b"out" and ok.stderr_bytes == b"err"
    assert ok.raise_on_error() is ok
    bad = ExecResult("o", "boom", 3, command="false")
    assert not bad.success
    with pytest.raises(CommandExecutionError) as ei:
        bad.raise_on_error()
    assert (ei.value.command, ei.value.exit_code, ei.value.stdout, ei.value.stderr) == \
        ("false", 3, "o", "boom")


def test_exec_result_from_wire_prefers_exact_bytes():
    raw = b"\xff\xfeok\x80"
    pb = sandbox_pb2.ExecResult(stdout=raw.decode(errors="replace"), stderr="e",
                                exit_code=7, stdout_bytes=raw, stdout_truncated=True,
                                message="killed")
    pb.duration.FromMilliseconds(1500)
    r = cv.exec_result_from_pb(pb, "cmd")
    assert r.stdout_bytes == raw and r.stderr_bytes == b"e"
    assert "\ufffd" in r.stdout
    assert (r.exit_code, r.duration, r.command) == (7, timedelta(seconds=1.5), "cmd")
    assert r.stdout_truncated and not r.stderr_truncated and r.message == "killed"


def test_sandbox_info_from_wire():
    pb = sandbox_pb2.Sandbox(id="sb_0123456789abcdef", codebase_id="cb_0123456789abcdef",
                             status=common_pb2.SANDBOX_STATUS_STOPPED,
                             labels={"k": "v"}, runtime=common_pb2.RUNTIME_TYPE_DOCKER,
                             image="img", enforcer="landlock")
    pb.permissions.add(pattern="/a", permission=common_pb2.PERMISSION_WRITE)
    pb.created_at.FromSeconds(1700000000)
    pb.resources.pids_limit = 10
    info = cv.sandbox_from_pb(pb)
    assert info.status is SandboxStatus.STOPPED and info.status == "stopped"
    assert info.permissions == [PermissionRule("/a", Permission.WRITE)]
    assert info.labels == {"k": "v"} and info.runtime is RuntimeType.DOCKER
    assert info.created_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)
    assert info.started_at is None
    assert info.resources == ResourceLimits(pids_limit=10)
    assert info.enforcer == "landlock"


def test_exec_request_binary_stdin_uses_extension_field():
    req = rq.exec_request("sb_1", "cat", b"\x00\xff", {"A": "1"}, "/workspace/x", 2.5)
    assert req.stdin_bytes == b"\x00\xff" and req.stdin == ""
    assert req.timeout.ToMilliseconds() == 2500 and dict(req.env) == {"A": "1"}
    req = rq.exec_request("sb_1", "cat", "text", None, None, None)
    assert req.stdin == "text" and not req.HasField("timeout") and req.workdir == ""


def test_output_chunk_is_typed_bytes():
    c = OutputChunk(b"\xffdata", OutputType.STDERR)
    assert c == b"\xffdata" and isinstance(c, bytes)
    assert c.is_stderr and not c.is_stdout and c.type == "stderr"
