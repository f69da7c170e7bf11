"""Bad requests to every RPC end with the exact status code of the contract.

Raw stubs are used so that the server's own answer is checked, not the SDK's.
"""

import types

import grpc
import pytest

from agentfense._proto.sandbox.v1 import (codebase_pb2, common_pb2, sandbox_pb2,
                                          server_pb2)

IA = grpc.StatusCode.INVALID_ARGUMENT
NF = grpc.StatusCode.NOT_FOUND
FP = grpc.StatusCode.FAILED_PRECONDITION
OK = grpc.StatusCode.OK

UNKNOWN_CB = "cb_0000000000000000"
UNKNOWN_SB = "sb_0000000000000000"
MALFORMED_IDS = ["../x", "cb_../../etc", "sb_0123", "x" * 300, "a\0b"]
TRAVERSAL = ["../x", "/../x", "a/../../x", "a//b", "a/./b", "a\0b", "a/..", ".", "/a/./b"]


@pytest.fixture
def ctx(res):
    """A codebase with a file and a directory, a PENDING and a RUNNING sandbox."""
    cb = res.codebase({"f.txt": b"data", "dir/inner.txt": b"in"})
    pending = res.sandbox(cb.id, start=False)
    running = res.sandbox(cb.id)
    return types.SimpleNamespace(cb=cb.id, pending=pending.id, running=running.id)


def upload(stubs, *chunks):
    return stubs.codebase.UploadFiles(iter(chunks))


def meta(codebase_id, path, total_size=0):
    return codebase_pb2.UploadChunk(metadata=codebase_pb2.UploadChunk.Metadata(
        codebase_id=codebase_id, file_path=path, total_size=total_size))


def data(b):
    return codebase_pb2.UploadChunk(data=b)


# -- CodebaseService ----------------------------------------------------------

@pytest.mark.parametrize("name, owner, code", [
    ("", "o", IA), ("a\0b", "o", IA), ("ok", "o\0", IA), ("ok", "", OK),
])
def test_create_codebase(stubs, res, name, owner, code):
    req = codebase_pb2.CreateCodebaseRequest(name=name, owner_id=owner)
    try:
        got = stubs.codebase.CreateCodebase(req)
        res.codebases.append(got.id)
        assert code is OK, f"accepted name={name!r} owner_id={owner!r}"
    except grpc.RpcError as err:
        assert err.code() is code


@pytest.mark.parametrize("cb_id, code", [("", IA), (UNKNOWN_CB, NF)]
                         + [(m, IA) for m in MALFORMED_IDS])
def test_get_and_delete_codebase_ids(stubs, code_of, cb_id, code):
    assert code_of(stubs.codebase.GetCodebase,
                   codebase_pb2.GetCodebaseRequest(codebase_id=cb_id)) is code
    assert code_of(stubs.codebase.DeleteCodebase,
                   codebase_pb2.DeleteCodebaseRequest(codebase_id=cb_id)) is code


def test_delete_codebase_in_use(stubs, code_of, ctx):
    req = codebase_pb2.DeleteCodebaseRequest(codebase_id=ctx.cb)
    assert code_of(stubs.codebase.DeleteCodebase, req) is FP
    assert code_of(stubs.codebase.GetCodebase,
                   codebase_pb2.GetCodebaseRequest(codebase_id=ctx.cb)) is OK


@pytest.mark.parametrize("kw", [{"page_size": -1}, {"page_token": "not-a-token"}])
def test_list_codebases_bad_paging(stubs, code_of, kw):
    assert code_of(stubs.codebase.ListCodebases,
                   codebase_pb2.ListCodebasesRequest(**kw)) is IA


def test_upload_stream_shape(stubs, code_of, ctx):
    assert code_of(upload, stubs) is IA                                  # empty stream
    assert code_of(upload, stubs, data(b"x"), meta(ctx.cb, "a")) is IA   # data first
    assert code_of(upload, stubs, meta(ctx.cb, "a"), meta(ctx.cb, "b")) is IA
    assert code_of(upload, stubs, meta("", "a"), data(b"x")) is IA
    assert code_of(upload, stubs, meta(UNKNOWN_CB, "a"), data(b"x")) is NF
    assert code_of(upload, stubs, meta(ctx.cb, ""), data(b"x")) is IA
    assert code_of(upload, stubs, meta(ctx.cb, "neg", -5), data(b"x")) is IA


def listing(client, cb):
    return {f.path for f in client.list_files(cb, recursive=True)}


def test_upload_size_mismatch_writes_nothing(stubs, code_of, ctx, client):
    before = listing(client, ctx.cb)
    assert code_of(upload, stubs, meta(ctx.cb, "short", 10), data(b"12345")) is IA
    assert code_of(upload, stubs, meta(ctx.cb, "long", 3), data(b"12345")) is IA
    assert code_of(upload, stubs, meta(ctx.cb, "f.txt", 10), data(b"12345")) is IA
    assert listing(client, ctx.cb) == before
    assert client.download_file(ctx.cb, "f.txt") == b"data"


@pytest.mark.parametrize("path", TRAVERSAL)
def test_upload_traversal_paths(stubs, code_of, ctx, client, path):
    before = listing(client, ctx.cb)
    assert code_of(upload, stubs, meta(ctx.cb, path), data(b"evil")) is IA
    assert listing(client, ctx.cb) == before


def test_upload_over_directory_or_through_file(stubs, code_of, ctx, client):
    before = listing(client, ctx.cb)
    assert code_of(upload, stubs, meta(ctx.cb, "dir"), data(b"x")) is IA
    assert code_of(upload, stubs, meta(ctx.cb, "f.txt/child"), data(b"x")) is IA
    assert listing(client, ctx.cb) == before


@pytest.mark.parametrize("path, code", [(p, IA) for p in TRAVERSAL]
                         + [("missing.txt", NF), ("", IA)])
def test_download_file_paths(stubs, code_of, ctx, path, code):
    req = codebase_pb2.DownloadFileRequest(codebase_id=ctx.cb, file_path=path)
    assert code_of(stubs.codebase.DownloadFile, req) is code


@pytest.mark.parametrize("cb_id, code", [("", IA), (UNKNOWN_CB, NF), ("../x", IA)])
def test_download_and_list_files_ids(stubs, code_of, cb_id, code):
    assert code_of(stubs.codebase.DownloadFile, codebase_pb2.DownloadFileRequest(
        codebase_id=cb_id, file_path="f.txt")) is code
    assert code_of(stubs.codebase.ListFiles,
                   codebase_pb2.ListFilesRequest(codebase_id=cb_id)) is code


@pytest.mark.parametrize("path, code", [(p, IA) for p in TRAVERSAL if p != "."]
                         + [("nope", NF), ("", OK), ("/", OK), ("dir", OK)])
def test_list_files_paths(stubs, code_of, ctx, path, code):
    req = codebase_pb2.ListFilesRequest(codebase_id=ctx.cb, path=path, recursive=True)
    assert code_of(stubs.codebase.ListFiles, req) is code


# -- SandboxService -------------------------------------------------------------

def rule(pattern="/**", perm=common_pb2.PERMISSION_READ, typ=common_pb2.PATTERN_TYPE_GLOB,
         priority=0):
    return common_pb2.PermissionRule(pattern=pattern, permission=perm, type=typ,
                                     priority=priority)


@pytest.mark.parametrize("cb_id, code", [("", IA), (UNKNOWN_CB, NF), ("../x", IA)])
def test_create_sandbox_codebase_ids(stubs, code_of, cb_id, code):
    req = sandbox_pb2.CreateSandboxRequest(codebase_id=cb_id, permissions=[rule()])
    assert code_of(stubs.sandbox.CreateSandbox, req) is code


@pytest.mark.parametrize("fields", [
    {"permissions": [rule(pattern="")]},
    {"permissions": [rule(pattern="/a[b")]},
    {"permissions": [rule(pattern="/a\0b")]},
    {"permissions": [rule(pattern="/a/../b")]},
    {"permissions": [rule(pattern="/x" * 3000)]},
    {"permissions": [rule(perm=common_pb2.PERMISSION_UNSPECIFIED)]},
    {"permissions": [rule(perm=9)]},
    {"permissions": [rule(typ=7)]},
    {"permissions": [rule(), rule(pattern="/ok/[")]},
    {"presets": ["no-such-preset"]},
    {"runtime": 99},
    {"resources": common_pb2.ResourceLimits(memory_bytes=-1)},
    {"resources": common_pb2.ResourceLimits(pids_limit=-5)},
])
def test_create_sandbox_bad_fields(stubs, code_of, ctx, res, fields):
    req = sandbox_pb2.CreateSandboxRequest(codebase_id=ctx.cb, **fields)
    try:
        sb = stubs.sandbox.CreateSandbox(req)
        res.sandboxes.append(sb.id)
        pytest.fail(f"accepted: {fields}")
    except grpc.RpcError as err:
        assert err.code() is IA, err.details()


def test_create_sandbox_negative_expiry(stubs, code_of, ctx):
    req = sandbox_pb2.CreateSandboxRequest(codebase_id=ctx.cb, permissions=[rule()])
    req.expires_in.FromSeconds(-60)
    assert code_of(stubs.sandbox.CreateSandbox, req) is IA


def test_bad_rule_message_names_the_rule(stubs, ctx):
    req = sandbox_pb2.CreateSandboxRequest(
        codebase_id=ctx.cb, permissions=[rule(), rule(pattern="/src/[oops")])
    with pytest.raises(grpc.RpcError) as ei:
        stubs.sandbox.CreateSandbox(req)
    assert ei.value.code() is IA and "/src/[oops" in ei.value.details()


SANDBOX_ID_RPCS = [
    ("GetSandbox", sandbox_pb2.GetSandboxRequest),
    ("StartSandbox", sandbox_pb2.StartSandboxRequest),
    ("StopSandbox", sandbox_pb2.StopSandboxRequest),
    ("DestroySandbox", sandbox_pb2.DestroySandboxRequest),
]


@pytest.mark.parametrize("rpc, msg", SANDBOX_ID_RPCS)
@pytest.mark.parametrize("sb_id, code", [("", IA), (UNKNOWN_SB, NF)]
                         + [(m, IA) for m in MALFORMED_IDS])
def test_sandbox_ids(stubs, code_of, rpc, msg, sb_id, code):
    assert code_of(getattr(stubs.sandbox, rpc), msg(sandbox_id=sb_id)) is code


@pytest.mark.parametrize("kw", [{"page_size": -1}, {"page_token": "not-a-token"},
                                {"codebase_id": "../x"}])
def test_list_sandboxes_bad_fields(stubs, code_of, kw):
    assert code_of(stubs.sandbox.ListSandboxes, sandbox_pb2.ListSandboxesRequest(**kw)) is IA


def exec_req(sandbox_id, command="true", **kw):
    timeout = kw.pop("timeout", None)
    req = sandbox_pb2.ExecRequest(sandbox_id=sandbox_id, command=command, **kw)
    if timeout is not None:
        req.timeout.FromMilliseconds(timeout)
    return req


EXEC_CASES = [
    ({"sandbox_id": ""}, IA),
    ({"sandbox_id": UNKNOWN_SB}, NF),
    ({"sandbox_id": "../x"}, IA),
    ({"sandbox_id": "PENDING"}, FP),
    ({"command": ""}, IA),
    ({"command": "echo a\0b"}, IA),
    ({"workdir": "../x"}, IA),
    ({"workdir": "sub/../../x"}, IA),
    ({"workdir": "/work\0space"}, IA),
    ({"env": {"": "v"}}, IA),
    ({"env": {"A=B": "v"}}, IA),
    ({"env": {"A\0": "v"}}, IA),
    ({"env": {"A": "v\0w"}}, IA),
    ({"timeout": -1000}, IA),
]


@pytest.mark.parametrize("rpc", ["Exec", "ExecStream"])
@pytest.mark.parametrize("fields, code", EXEC_CASES)
def test_exec_bad_requests(stubs, code_of, ctx, rpc, fields, code):
    fields = dict(fields)
    sb = fields.pop("sandbox_id", ctx.running)
    sb = ctx.pending if sb == "PENDING" else sb
    command = fields.pop("command", "true")
    assert code_of(getattr(stubs.sandbox, rpc), exec_req(sb, command, **fields)) is code


def test_exec_after_destroy_is_not_found(stubs, code_of, ctx):
    assert code_of(stubs.sandbox.DestroySandbox,
                   sandbox_pb2.DestroySandboxRequest(sandbox_id=ctx.pending)) is OK
    assert code_of(stubs.sandbox.Exec, exec_req(ctx.pending)) is NF
    assert code_of(stubs.sandbox.DestroySandbox,
                   sandbox_pb2.DestroySandboxRequest(sandbox_id=ctx.pending)) is NF


UNKNOWN_SESS = "sess_0000000000000000"


@pytest.mark.parametrize("rpc, req, code", [
    ("CreateSession", sandbox_pb2.CreateSessionRequest(sandbox_id=""), IA),
    ("CreateSession", sandbox_pb2.CreateSessionRequest(sandbox_id=UNKNOWN_SB), NF),
    ("CreateSession", sandbox_pb2.CreateSessionRequest(sandbox_id="../x"), IA),
    ("GetSession", sandbox_pb2.GetSessionRequest(session_id=""), IA),
    ("GetSession", sandbox_pb2.GetSessionRequest(session_id=UNKNOWN_SESS), NF),
    ("GetSession", sandbox_pb2.GetSessionRequest(session_id="../x"), IA),
    ("ListSessions", sandbox_pb2.ListSessionsRequest(sandbox_id=""), IA),
    ("ListSessions", sandbox_pb2.ListSessionsRequest(sandbox_id=UNKNOWN_SB), NF),
    ("DestroySession", sandbox_pb2.DestroySessionRequest(session_id=""), IA),
    ("DestroySession", sandbox_pb2.DestroySessionRequest(session_id=UNKNOWN_SESS), NF),
    ("SessionExec", sandbox_pb2.SessionExecRequest(session_id=UNKNOWN_SESS, command="true"),
     NF),
    ("SessionExec", sandbox_pb2.SessionExecRequest(session_id="", command="true"), IA),
    ("SessionExecStream",
     sandbox_pb2.SessionExecRequest(session_id=UNKNOWN_SESS, command="true"), NF),
])
def test_session_ids(stubs, code_of, rpc, req, code):
    assert code_of(getattr(stubs.sandbox, rpc), req) is code


def test_session_on_pending_sandbox(stubs, code_of, ctx):
    req = sandbox_pb2.CreateSessionRequest(sandbox_id=ctx.pending)
    assert code_of(stubs.sandbox.CreateSession, req) is FP


# -- ServerService --------------------------------------------------------------

@pytest.mark.parametrize("fields, code", [
    ({"path": ""}, IA),
    ({"path": "/a/../b", "presets": ["read-only"]}, IA),
    ({"path": "/a\0b", "presets": ["read-only"]}, IA),
    ({"path": "/a", "sandbox_id": UNKNOWN_SB}, NF),
    ({"path": "/a", "sandbox_id": "../x"}, IA),
    ({"path": "/a", "presets": ["no-such-preset"]}, IA),
    ({"path": "/a", "permissions": [rule(pattern="/a[")]}, IA),
])
def test_explain_path_bad_requests(stubs, code_of, fields, code):
    assert code_of(stubs.server.ExplainPath, server_pb2.ExplainPathRequest(**fields)) is code
