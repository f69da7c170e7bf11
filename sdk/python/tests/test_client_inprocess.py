"""SandboxClient and Sandbox against an in-process gRPC server that records calls.

The server here is a recorder, not a sandbox: these tests check what the SDK
sends (chunking, request fields, cleanup calls) and how it reads replies.
"""

import os
import socket
import zlib
from concurrent import futures

import grpc
import pytest

import agentfense as af
from agentfense._proto.sandbox.v1 import (codebase_pb2, codebase_pb2_grpc,
                                          common_pb2, files_pb2, files_pb2_grpc,
                                          sandbox_pb2, sandbox_pb2_grpc)

CB, SB = "cb_00000000000000aa", "sb_00000000000000bb"


class Recorder(codebase_pb2_grpc.CodebaseServiceServicer,
               sandbox_pb2_grpc.SandboxServiceServicer,
               files_pb2_grpc.FileServiceServicer):
    def __init__(self):
        self.calls = []          # (method, request) in arrival order
        self.uploads = []        # list of chunk lists, one per committed upload
        self.fail = {}           # method -> (code, details)
        self.files = {}          # path -> bytes
        self.exec_reply = sandbox_pb2.ExecResult(stdout="ok")
        self.stream_reply = []
        self.status = common_pb2.SANDBOX_STATUS_RUNNING
        self.limits = files_pb2.UploadLimits(max_batch_size=16 << 20)
        self.archives = []       # chunk lists, one per committed archive
        self.modes = {}          # path -> mode sent in an archive
        self.dirs = set()        # directory entries of archives

    def _enter(self, name, req, ctx):
        self.calls.append((name, req))
        if name in self.fail:
            ctx.abort(*self.fail[name])

    def names(self):
        return [n for n, _ in self.calls]

    def CreateCodebase(self, req, ctx):
        self._enter("CreateCodebase", req, ctx)
        return codebase_pb2.Codebase(id=CB, name=req.name, owner_id=req.owner_id)

    def GetCodebase(self, req, ctx):
        self._enter("GetCodebase", req, ctx)
        if req.codebase_id != CB:
            ctx.abort(grpc.StatusCode.NOT_FOUND, "no such codebase")
        return codebase_pb2.Codebase(id=CB)

    def ListCodebases(self, req, ctx):
        self._enter("ListCodebases", req, ctx)
        page = int(req.page_token or 0)
        ids = [f"cb_{i:016x}" for i in range(5)][page * 2:page * 2 + 2]
        more = page < 2
        return codebase_pb2.ListCodebasesResponse(
            codebases=[codebase_pb2.Codebase(id=i, owner_id=req.owner_id) for i in ids],
            next_page_token=str(page + 1) if more else "")

    def DeleteCodebase(self, req, ctx):
        self._enter("DeleteCodebase", req, ctx)
        return common_pb2.Empty()

    def UploadFiles(self, chunks, ctx):
        got = list(chunks)
        self._enter("UploadFiles", got, ctx)
        self.uploads.append(got)
        data = b"".join(c.data for c in got[1:])
        self.files[got[0].metadata.file_path] = data
        return codebase_pb2.UploadResult(codebase_id=CB, file_path=got[0].metadata.file_path,
                                         size=len(data))

    def GetUploadLimits(self, req, ctx):
        self._enter("GetUploadLimits", req, ctx)
        return self.limits

    def UploadArchive(self, chunks, ctx):
        got, files, cur, header, ended = [], {}, None, None, False
        for ch in chunks:
            got.append(ch)
            if ch.HasField("header"):
                header = ch.header
                continue
            if ch.end:
                ended = True
                continue
            raw = zlib.decompress(ch.batch) \
                if ch.encoding == files_pb2.ARCHIVE_ENCODING_ZLIB else ch.batch
            assert len(raw) == ch.batch_size
            for e in files_pb2.ArchiveBatch.FromString(raw).entries:
                if e.type == files_pb2.ARCHIVE_ENTRY_TYPE_DIRECTORY:
                    self.dirs.add(e.path)
                elif e.path:
                    cur = e.path
                    files[cur] = bytearray(e.data)
                    self.modes[cur] = e.mode
                else:
                    files[cur] += e.data
        if not ended:   # as the real server: no end, no import
            ctx.abort(grpc.StatusCode.CANCELLED, "no end")
        self._enter("UploadArchive", got, ctx)
        self.archives.append(got)
        self.files.update({k: bytes(v) for k, v in files.items()})
        return files_pb2.UploadArchiveResult(
            codebase_id=header.codebase_id, files=len(files),
            bytes=sum(map(len, files.values())),
            wire_bytes=sum(len(c.batch) for c in got))

    def DownloadFile(self, req, ctx):
        self._enter("DownloadFile", req, ctx)
        if req.codebase_id != CB or req.file_path not in self.files:
            ctx.abort(grpc.StatusCode.NOT_FOUND, "not found")
        data = self.files[req.file_path]
        for i in range(0, len(data), 100_000):
            yield codebase_pb2.FileChunk(data=data[i:i + 100_000])

    def _sandbox(self, req=None):
        return sandbox_pb2.Sandbox(id=SB, codebase_id=CB, status=self.status)

    def CreateSandbox(self, req, ctx):
        self._enter("CreateSandbox", req, ctx)
        self.status = common_pb2.SANDBOX_STATUS_PENDING
        return self._sandbox()

    def StartSandbox(self, req, ctx):
        self._enter("StartSandbox", req, ctx)
        self.status = common_pb2.SANDBOX_STATUS_RUNNING
        return self._sandbox()

    def GetSandbox(self, req, ctx):
        self._enter("GetSandbox", req, ctx)
        return self._sandbox()

    def DestroySandbox(self, req, ctx):
        self._enter("DestroySandbox", req, ctx)
        return common_pb2.Empty()

    def Exec(self, req, ctx):
        self._enter("Exec", req, ctx)
        return self.exec_reply

    def ExecStream(self, req, ctx):
        self._enter("ExecStream", req, ctx)
        yield from self.stream_reply


@pytest.fixture
def server():
    rec = Recorder()
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                      options=[("grpc.max_send_message_length", 64 << 20),
                               ("grpc.max_receive_message_length", 64 << 20)])
    codebase_pb2_grpc.add_CodebaseServiceServicer_to_server(rec, srv)
    sandbox_pb2_grpc.add_SandboxServiceServicer_to_server(rec, srv)
    files_pb2_grpc.add_FileServiceServicer_to_server(rec, srv)
    port = srv.add_insecure_port("127.0.0.1:0")
    srv.start()
    rec.endpoint = f"127.0.0.1:{port}"
    yield rec
    srv.stop(None)


@pytest.fixture
def client(server):
    with af.SandboxClient(server.endpoint) as c:
        yield c


def test_upload_is_chunked_with_metadata_first(server, client):
    content = os.urandom(3 * 1024 * 1024 + 17)
    res = client.upload_file(CB, "dir/blob.bin", content)
    chunks = server.uploads[-1]
    assert chunks[0].WhichOneof("content") == "metadata"
    meta = chunks[0].metadata
    assert (meta.codebase_id, meta.file_path, meta.total_size) == (CB, "dir/blob.bin",
                                                                  len(content))
    data = chunks[1:]
    assert all(c.WhichOneof("content") == "data" for c in data)
    sizes = [len(c.data) for c in data]
    assert len(sizes) > 1 and max(sizes) <= 1024 * 1024
    assert min(sizes[:-1]) >= 64 * 1024
    assert b"".join(c.data for c in data) == content and res.size == len(content)


def test_upload_from_file_object_and_empty_file(server, client, tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"x" * 300_000)
    with open(p, "rb") as f:
        f.read(1000)   # reads continue from the current position
        client.upload_file(CB, "f", f)
    assert server.uploads[-1][0].metadata.total_size == 299_000
    assert server.files["f"] == b"x" * 299_000
    client.upload_file(CB, "empty", b"")
    assert len(server.uploads[-1]) == 1 and server.files["empty"] == b""
    client.upload_file(CB, "text", "héllo")
    assert server.files["text"] == "héllo".encode()


def test_download_and_not_found_kinds(server, client):
    server.files["a/b"] = os.urandom(250_000)
    assert client.download_file(CB, "a/b") == server.files["a/b"]
    with pytest.raises(af.FileNotFoundError) as ei:
        client.download_file(CB, "missing")
    assert (ei.value.codebase_id, ei.value.file_path) == (CB, "missing")
    with pytest.raises(af.CodebaseNotFoundError) as ei:
        client.download_file("cb_ffffffffffffffff", "a/b")
    assert ei.value.code is grpc.StatusCode.NOT_FOUND


def test_receive_limit_is_raised(server, client):
    big = "z" * (10 * 1024 * 1024)    # over gRPC's 4 MiB default
    server.exec_reply = sandbox_pb2.ExecResult(stdout=big, exit_code=0)
    assert client.exec(SB, "yes").stdout == big


def test_exec_request_fields_and_timeout(server, client):
    client.exec(SB, "cat", stdin="in", env={"A": "b"}, workdir="/workspace/d", timeout=3)
    req = server.calls[-1][1]
    assert (req.sandbox_id, req.command, req.stdin, dict(req.env), req.workdir) == \
        (SB, "cat", "in", {"A": "b"}, "/workspace/d")
    assert req.timeout.ToSeconds() == 3
    server.fail["Exec"] = (grpc.StatusCode.DEADLINE_EXCEEDED, "timed out")
    with pytest.raises(af.CommandTimeoutError) as ei:
        client.exec(SB, "sleep 100", timeout=3)
    assert ei.value.command == "sleep 100" and ei.value.timeout == 3


def test_exec_on_stopped_sandbox_reports_status(server, client):
    server.status = common_pb2.SANDBOX_STATUS_STOPPED
    server.fail["Exec"] = (grpc.StatusCode.FAILED_PRECONDITION, "sandbox is STOPPED")
    with pytest.raises(af.SandboxNotRunningError) as ei:
        client.exec(SB, "ls")
    assert ei.value.current_status is af.SandboxStatus.STOPPED
    assert ei.value.code is grpc.StatusCode.FAILED_PRECONDITION


def test_exec_stream_types_chunks_and_reads_exit(server, client):
    T = sandbox_pb2.ExecOutput
    server.stream_reply = [
        T(type=T.OUTPUT_TYPE_STDOUT, data=b"out1"),
        T(type=T.OUTPUT_TYPE_STDERR, data=b"\xfferr"),
        T(type=T.OUTPUT_TYPE_STDOUT, data=b"out2"),
        T(exit=sandbox_pb2.ExecExit(exit_code=7, stdout_truncated=True)),
    ]
    stream = client.exec_stream(SB, "cmd")
    chunks = list(stream)
    assert [(bytes(c), c.type) for c in chunks] == [
        (b"out1", af.OutputType.STDOUT), (b"\xfferr", af.OutputType.STDERR),
        (b"out2", af.OutputType.STDOUT)]
    assert stream.exit_code == 7 and stream.stdout_truncated
    res = client.exec_stream(SB, "cmd").collect()
    assert (res.stdout_bytes, res.stderr_bytes, res.exit_code) == (b"out1out2", b"\xfferr", 7)


def test_unreachable_server_is_a_connection_error():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with af.SandboxClient(f"127.0.0.1:{port}") as c:
        with pytest.raises(af.ConnectionError) as ei:
            c.get_codebase(CB)
    assert ei.value.endpoint == f"127.0.0.1:{port}"


def make_tree(root):
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "m.py").write_text("print(1)\n")
    (root / "top.bin").write_bytes(bytes(range(256)))
    (root / "src" / "__pycache__").mkdir()
    (root / "src" / "__pycache__" / "m.pyc").write_bytes(b"cache")
    (root / ".venv" / "lib").mkdir(parents=True)
    (root / ".venv" / "lib" / "x.py").write_text("")
    (root / "env2").mkdir()
    (root / "env2" / "pyvenv.cfg").write_text("home = /usr\n")
    (root / "link").symlink_to("/etc/hostname")
    (root / "dirlink").symlink_to(root / "src")


def test_from_local_uploads_tree_and_cleans_up_on_exit(server, tmp_path):
    make_tree(tmp_path)
    with af.Sandbox.from_local(tmp_path, preset="read-only", endpoint=server.endpoint,
                               labels={"t": "1"}) as sb:
        assert sb.id == SB and sb.status is af.SandboxStatus.RUNNING
        assert sb.run("true").stdout == "ok"
    assert sorted(server.files) == ["src/pkg/m.py", "top.bin"]
    assert server.files["top.bin"] == bytes(range(256))
    assert len(server.archives) == 1            # one stream for the tree
    assert sorted(s.path for s in sb.upload.skipped) == ["dirlink", "link"]
    create = next(r for n, r in server.calls if n == "CreateSandbox")
    assert [r.pattern for r in create.permissions] == \
        [r.pattern for r in af.get_preset("read-only")]
    assert dict(create.labels) == {"t": "1"}
    assert server.names()[-2:] == ["DestroySandbox", "DeleteCodebase"]


def test_from_local_removes_everything_when_start_fails(server, tmp_path):
    make_tree(tmp_path)
    server.fail["StartSandbox"] = (grpc.StatusCode.INTERNAL, "boom")
    with pytest.raises(af.AgentFenseError, match="boom"):
        af.Sandbox.from_local(tmp_path, endpoint=server.endpoint)
    assert server.names()[-2:] == ["DestroySandbox", "DeleteCodebase"]


def test_from_local_removes_codebase_on_interrupt_during_upload(server, tmp_path, monkeypatch):
    from agentfense import _archive

    make_tree(tmp_path)
    real = _archive.ArchiveWriter._file
    count = {"n": 0}

    def flaky(self, *a, **kw):
        count["n"] += 1
        if count["n"] == 2:
            raise KeyboardInterrupt
        return real(self, *a, **kw)

    monkeypatch.setattr(_archive.ArchiveWriter, "_file", flaky)
    with pytest.raises(KeyboardInterrupt):
        af.Sandbox.from_local(tmp_path, endpoint=server.endpoint)
    assert "CreateSandbox" not in server.names()
    assert server.names()[-1] == "DeleteCodebase"
    assert server.files == {} and server.archives == []   # never completed


def test_cleanup_failure_does_not_mask_the_block_error(server, tmp_path):
    make_tree(tmp_path)
    with pytest.raises(RuntimeError, match="user error"):
        with af.Sandbox.from_local(tmp_path, endpoint=server.endpoint):
            server.fail["DestroySandbox"] = (grpc.StatusCode.INTERNAL, "cannot")
            raise RuntimeError("user error")
    # The codebase delete is still attempted after the destroy failed.
    assert server.names()[-2:] == ["DestroySandbox", "DeleteCodebase"]


def test_cleanup_failure_surfaces_without_a_block_error(server, tmp_path):
    make_tree(tmp_path)
    with pytest.raises(af.AgentFenseError, match="cannot"):
        with af.Sandbox.from_local(tmp_path, endpoint=server.endpoint):
            server.fail["DeleteCodebase"] = (grpc.StatusCode.INTERNAL, "cannot")


def test_from_local_validates_before_creating_anything(server, tmp_path):
    with pytest.raises(af.InvalidConfigurationError):
        af.Sandbox.from_local(tmp_path / "missing", endpoint=server.endpoint)
    with pytest.raises(af.InvalidConfigurationError):
        af.Sandbox.from_local(tmp_path, preset="no-such-preset", endpoint=server.endpoint)
    assert server.calls == []


def test_list_codebases_follows_every_page(server, client):
    got = client.list_codebases(owner_id="me", page_size=2)
    assert [c.id for c in got] == [f"cb_{i:016x}" for i in range(5)]
    reqs = [r for n, r in server.calls if n == "ListCodebases"]
    assert [r.page_token for r in reqs] == ["", "1", "2"]
    assert all(r.owner_id == "me" and r.page_size == 2 for r in reqs)


@pytest.mark.parametrize("timeout", [0, -1, "10", True])
def test_bad_timeouts_are_rejected_before_sending(server, client, timeout):
    with pytest.raises((ValueError, TypeError)):
        client.exec(SB, "true", timeout=timeout)
    assert server.calls == []


def test_create_sandbox_request_fields(server, client):
    from datetime import timedelta
    client.create_sandbox(CB, permissions=[{"pattern": "/o/**", "permission": "write"}],
                          preset="view-only", labels={"a": "b"}, expires_in=timedelta(hours=1),
                          runtime=af.RuntimeType.DOCKER, image="img:1",
                          resources=af.ResourceLimits(memory_bytes=1 << 20, pids_limit=7))
    req = server.calls[-1][1]
    assert [(r.pattern, r.permission) for r in req.permissions] == \
        [(af.get_preset("view-only")[0].pattern, common_pb2.PERMISSION_VIEW),
         ("/o/**", common_pb2.PERMISSION_WRITE)]
    assert req.expires_in.ToSeconds() == 3600 and dict(req.labels) == {"a": "b"}
    assert (req.runtime, req.image) == (common_pb2.RUNTIME_TYPE_DOCKER, "img:1")
    assert (req.resources.memory_bytes, req.resources.pids_limit, req.resources.cpu_quota) == \
        (1 << 20, 7, 0)
    assert list(req.presets) == []   # expanded here, not by the server
