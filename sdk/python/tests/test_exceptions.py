import builtins

import grpc
import pytest

import agentfense as af
from agentfense.exceptions import from_rpc_error


class FakeRpcError(grpc.RpcError):
    def __init__(self, code, details="server says no"):
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


C = grpc.StatusCode


def test_every_sdk_error_is_an_agentfense_error():
    for name in af.__all__:
        obj = getattr(af, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, af.AgentFenseError), name
    assert af.SandboxError is af.AgentFenseError


def test_status_code_and_details_are_kept():
    e = from_rpc_error(FakeRpcError(C.ALREADY_EXISTS, "dup"))
    assert type(e) is af.AlreadyExistsError
    assert e.code is C.ALREADY_EXISTS and e.grpc_code is C.ALREADY_EXISTS
    assert e.details == "dup" and "ALREADY_EXISTS" in str(e)


@pytest.mark.parametrize("code, ctx, cls, attrs", [
    (C.NOT_FOUND, {"sandbox_id": "sb_1"}, af.SandboxNotFoundError, {"sandbox_id": "sb_1"}),
    (C.NOT_FOUND, {"codebase_id": "cb_1"}, af.CodebaseNotFoundError, {"codebase_id": "cb_1"}),
    (C.NOT_FOUND, {"codebase_id": "cb_1", "file_path": "a"}, af.NotFoundError, {}),
    (C.NOT_FOUND, {}, af.NotFoundError, {}),
    (C.INVALID_ARGUMENT, {"sandbox_id": "sb_1"}, af.InvalidConfigurationError, {}),
    (C.DEADLINE_EXCEEDED, {"command": "sleep 9", "timeout": 2.0}, af.CommandTimeoutError,
     {"command": "sleep 9", "timeout": 2.0, "timeout_seconds": 2.0}),
    (C.FAILED_PRECONDITION, {"sandbox_id": "sb_1", "command": "ls"},
     af.SandboxNotRunningError, {"sandbox_id": "sb_1", "current_status": None}),
    (C.FAILED_PRECONDITION, {"codebase_id": "cb_1"}, af.FailedPreconditionError, {}),
    (C.PERMISSION_DENIED, {"codebase_id": "cb_1", "file_path": "/s/k"},
     af.PermissionDeniedError, {"path": "/s/k"}),
    (C.RESOURCE_EXHAUSTED, {}, af.ResourceLimitExceededError, {}),
    (C.UNIMPLEMENTED, {}, af.UnimplementedError, {}),
    (C.UNAVAILABLE, {}, af.ConnectionError, {"endpoint": "h:1"}),
    (C.INTERNAL, {}, af.AgentFenseError, {}),
])
def test_mapping(code, ctx, cls, attrs):
    e = from_rpc_error(FakeRpcError(code), endpoint="h:1", **ctx)
    assert type(e) is cls
    assert e.code is code
    for k, v in attrs.items():
        assert getattr(e, k) == v


def test_deadline_outside_a_command_is_not_a_command_timeout():
    e = from_rpc_error(FakeRpcError(C.DEADLINE_EXCEEDED), sandbox_id="sb_1")
    assert type(e) is af.AgentFenseError


def test_python_builtin_families_still_catch():
    conn = af.ConnectionError("h:1", "refused")
    assert isinstance(conn, builtins.ConnectionError) and conn.endpoint == "h:1"
    assert isinstance(af.InvalidConfigurationError("x"), ValueError)
    assert issubclass(af.SandboxNotRunningError, af.FailedPreconditionError)
    assert issubclass(af.FileNotFoundError, af.NotFoundError)


def test_not_running_reports_status_text():
    e = af.SandboxNotRunningError("sb_1", af.SandboxStatus.STOPPED)
    assert e.current_status == "stopped" and "stopped" in str(e)


def test_execution_error_message_keeps_stderr_tail():
    e = af.CommandExecutionError("make", 2, "", "x" * 1000 + "END")
    assert e.exit_code == 2 and str(e).endswith("END") and len(str(e)) < 600
