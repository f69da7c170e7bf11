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


class PeerRpcError(FakeRpcError):
    """A status the server sent (grpc says so in its debug string)."""

    def debug_error_string(self):
        return "UNKNOWN:Error received from peer ipv4:127.0.0.1:9000"


@pytest.mark.parametrize("code, details, ctx, cls, attrs", [
    (C.NOT_FOUND, "session sess_1 not found", {"session_id": "sess_1"},
     af.SessionNotFoundError, {"session_id": "sess_1"}),
    (C.FAILED_PRECONDITION, "session sess_1 is closed: the shell exited",
     {"session_id": "sess_1", "command": "ls"}, af.SessionClosedError, {"session_id": "sess_1"}),
    (C.NOT_FOUND, '"/x" does not exist in sandbox sb_1', {"sandbox_id": "sb_1",
                                                           "file_path": "/x"},
     af.FileNotFoundError, {"path": "/x", "sandbox_id": "sb_1", "codebase_id": None}),
    (C.NOT_FOUND, "sandbox sb_1 not found", {"sandbox_id": "sb_1", "file_path": "/x"},
     af.SandboxNotFoundError, {"sandbox_id": "sb_1"}),
    (C.FAILED_PRECONDITION, "sandbox sb_1 is STOPPED; start it first",
     {"sandbox_id": "sb_1"}, af.SandboxNotRunningError, {"sandbox_id": "sb_1"}),
    (C.PERMISSION_DENIED, "view-only", {"sandbox_id": "sb_1", "file_path": "/d/f",
                                        "operation": "read"},
     af.PermissionDeniedError, {"path": "/d/f", "operation": "read"}),
    (C.ABORTED, "nothing committed: the codebase changed since sandbox sb_1's snapshot at /a",
     {"sandbox_id": "sb_1"}, af.CommitConflictError, {"sandbox_id": "sb_1", "paths": []}),
    (C.RESOURCE_EXHAUSTED, 'file "big.bin" is larger than the server\'s file size limit '
     '(65536 bytes)', {}, af.ResourceLimitExceededError,
     {"resource": "file_size", "limit": 65536, "path": "big.bin"}),
    (C.RESOURCE_EXHAUSTED, 'the upload exceeds the server\'s upload size limit (262144 bytes) '
     'at "f4"', {}, af.ResourceLimitExceededError,
     {"resource": "upload_size", "limit": 262144, "path": "f4"}),
    (C.RESOURCE_EXHAUSTED, "the server has 3 active sessions, its limit", {},
     af.ResourceLimitExceededError, {"resource": "sessions", "limit": 3}),
])
def test_more_mappings(code, details, ctx, cls, attrs):
    e = from_rpc_error(FakeRpcError(code, details), endpoint="h:1", **ctx)
    assert type(e) is cls and e.code is code and e.details == details
    for k, v in attrs.items():
        assert getattr(e, k) == v, k


def test_unavailable_from_the_server_is_not_a_connection_error():
    e = from_rpc_error(PeerRpcError(C.UNAVAILABLE, "the Docker daemon is not running"),
                       endpoint="h:1")
    assert type(e) is af.ServiceUnavailableError and e.code is C.UNAVAILABLE
    assert type(from_rpc_error(FakeRpcError(C.UNAVAILABLE), endpoint="h:1")) \
        is af.ConnectionError


def test_upload_warning_is_a_warning_and_an_sdk_error():
    assert issubclass(af.UploadWarning, UserWarning)
    assert issubclass(af.UploadWarning, af.AgentFenseError)
    e = af.UploadError("a/b", "it vanished", "cb_1")
    assert (e.file_path, e.reason, e.codebase_id) == ("a/b", "it vanished", "cb_1")
