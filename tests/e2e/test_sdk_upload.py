"""Bulk upload (FileService.UploadArchive) through the SDK and raw: ignore
rules, modes, what is left out and reported, size caps, atomicity."""

import hashlib
import io
import os
import warnings
import zlib

import grpc
import pytest

import afe2e
import agentfense as af
from agentfense._proto.sandbox.v1 import files_pb2 as fp
from agentfense._proto.sandbox.v1 import files_pb2_grpc

MiB = 1 << 20


def write(root, rel, data=b"x", mode=None):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data if isinstance(data, bytes) else data.encode())
    if mode is not None:
        os.chmod(p, mode)
    return p


def tree(client, cb):
    return sorted(f.path + ("/" if f.is_dir else "")
                  for f in client.list_files(cb, recursive=True))


@pytest.fixture
def cb(res):
    return res.codebase()


def test_gitignore_semantics_at_every_level(client, cb, tmp_path):
    write(tmp_path, ".gitignore", "*.log\n!keep.log\nbuild/\n/top-only.txt\n# comment\n")
    for rel in ["a.log", "keep.log", "top-only.txt", "sub/top-only.txt", "build/x",
                "sub/build/y", "sub/z.log", "src/main.py"]:
        write(tmp_path, rel)
    write(tmp_path, "sub/.gitignore", "!z.log\nlocal.txt\n")
    write(tmp_path, "sub/local.txt")
    write(tmp_path, "local.txt")
    write(tmp_path, ".sandboxignore", "secret-notes/\n")
    write(tmp_path, "secret-notes/n.txt")
    # Defaults: caches, VCS metadata, virtualenvs of any name.
    write(tmp_path, "__pycache__/m.cpython-311.pyc")
    write(tmp_path, ".git/config")
    write(tmp_path, "myenv/pyvenv.cfg", "home = /usr\n")
    write(tmp_path, "myenv/lib/x.py")
    client.upload_directory(cb.id, tmp_path, ignore_patterns=["src/*.py", "!src/keep.py"])
    # src/ stays, empty: only its files are ignored.
    assert tree(client, cb.id) == [
        ".gitignore", ".sandboxignore", "keep.log", "local.txt", "src/", "sub/",
        "sub/.gitignore", "sub/top-only.txt", "sub/z.log"]


def test_ignore_patterns_override_and_defaults_off(client, res, tmp_path):
    write(tmp_path, ".gitignore", "data/\n")
    write(tmp_path, "data/d.csv")
    write(tmp_path, ".git/HEAD", "ref\n")
    write(tmp_path, "src/keep.py")
    a, b = res.codebase(), res.codebase()
    client.upload_directory(a.id, tmp_path, ignore_patterns=["!.git/"])
    assert ".git/HEAD" in tree(client, a.id) and "data/d.csv" not in tree(client, a.id)
    client.upload_directory(b.id, tmp_path, use_gitignore=False, use_default_ignores=False)
    assert {".git/HEAD", "data/d.csv", "src/keep.py"} <= set(tree(client, b.id))


def test_modes_empty_dirs_and_links(client, res, tmp_path, daemon):
    write(tmp_path, "run.sh", "#!/bin/sh\necho ran\n", mode=0o700)
    write(tmp_path, "data.txt", "d", mode=0o600)
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    (tmp_path / "link").symlink_to("/etc/passwd")
    (tmp_path / "dirlink").symlink_to(tmp_path / "empty")
    os.mkfifo(tmp_path / "fifo")
    with af.Sandbox.from_local(tmp_path, preset="read-only", endpoint=daemon.endpoint) as sb:
        assert sb.run("./run.sh").stdout == "ran\n"
        assert sb.run("stat -c '%a %n' run.sh data.txt").stdout == "755 run.sh\n644 data.txt\n"
        assert sb.run("test -d empty/deeper && echo dir").stdout == "dir\n"
        assert sb.run("ls -A").stdout.split() == ["data.txt", "empty", "run.sh"]
        skipped = {s.path: s.reason for s in sb.upload.skipped}
        assert set(skipped) == {"link", "dirlink", "fifo"}
        assert "symbolic link" in skipped["link"] and skipped["fifo"] == "special file"


def test_per_file_results_and_compression(client, res, tmp_path):
    text = b"def f(x):\n    return x * 2\n" * 40000            # compressible
    noise = os.urandom(3 * MiB + 5)                          # not, several batches
    write(tmp_path, "src/text.py", text)
    write(tmp_path, "blob.bin", noise)
    write(tmp_path, "empty.txt", b"")
    cb = res.codebase()
    s = client.upload_directory(cb.id, tmp_path, per_file_results=True)
    assert (s.files, s.bytes) == (3, len(text) + len(noise))
    sums = {r.file_path: r.checksum for r in s.results}
    for rel, data in [("src/text.py", text), ("blob.bin", noise), ("empty.txt", b"")]:
        assert sums[rel] == hashlib.sha256(data).hexdigest()
        assert client.download_file(cb.id, rel) == data
    # The text compressed, the noise went as it is.
    assert len(noise) < s.wire_bytes < len(noise) + len(text) // 4
    plain = res.codebase()
    s2 = client.upload_directory(plain.id, tmp_path, compression="none")
    assert s2.wire_bytes > s2.bytes
    with pytest.raises(af.InvalidConfigurationError):
        client.upload_directory(plain.id, tmp_path, compression="lz4")


def test_progress_callback_and_bar(client, res, tmp_path, monkeypatch):
    for i in range(30):
        write(tmp_path, f"f{i}.txt", b"y" * 1000)
    write(tmp_path, "big.bin", os.urandom(3 * MiB))
    seen = []
    client.upload_directory(res.codebase().id, tmp_path, progress=seen.append)
    assert seen[-1] == af.UploadProgress(31, 31, 30 * 1000 + 3 * MiB, 30 * 1000 + 3 * MiB, "")
    assert all(a.bytes_done <= b.bytes_done for a, b in zip(seen, seen[1:]))
    err = io.StringIO()
    monkeypatch.setattr("sys.stderr", err)
    client.upload_directory(res.codebase().id, tmp_path, progress=True)
    out = err.getvalue()
    assert out.endswith("\n") and "100.0%" in out and "31/31 files" in out


def test_local_size_cap_warn_error_skip(client, res, tmp_path, daemon):
    write(tmp_path, "small.txt", b"s")
    write(tmp_path, "big.bin", b"b" * 5000)
    before = {cb.id for cb in client.list_codebases()}
    with pytest.warns(af.UploadWarning, match="big.bin"):
        with af.Sandbox.from_local(tmp_path, max_file_size=4096,
                                   endpoint=daemon.endpoint) as sb:
            assert sb.run("ls").stdout == "small.txt\n"
            big = [s for s in sb.upload.skipped if s.path == "big.bin"]
            assert big and big[0].size == 5000
    with pytest.raises(af.ResourceLimitExceededError) as ei:
        af.Sandbox.from_local(tmp_path, max_file_size=4096, on_large_file="error",
                              endpoint=daemon.endpoint)
    assert (ei.value.resource, ei.value.limit, ei.value.path) == ("file_size", 4096, "big.bin")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = client.upload_directory(res.codebase().id, tmp_path, max_file_size=4096,
                                    on_large_file="skip")
    assert s.files == 1 and [x.path for x in s.skipped] == ["big.bin"]
    assert {cb.id for cb in client.list_codebases()} - before <= set(res.codebases)


class SmallCapDaemon(afe2e.Daemon):
    def command(self):
        return super().command() + ["--max-file-size", "64K", "--max-upload-size", "256K"]


@pytest.fixture(scope="module")
def small(daemon):
    d = SmallCapDaemon()
    d.start()
    yield d
    rc = d.stop()
    d.remove()
    assert rc == 0


def test_server_caps(small, tmp_path):
    with af.SandboxClient(small.endpoint) as c:
        limits = c.get_upload_limits()
        assert (limits.max_file_size, limits.max_archive_size) == (64 << 10, 256 << 10)
        cb = c.create_codebase("caps", owner_id="e2e")
        try:
            write(tmp_path, "big.bin", b"b" * (100 << 10))
            write(tmp_path, "ok.txt", b"fine")
            # The SDK knows the server's cap: the file is left out, with a warning.
            with pytest.warns(af.UploadWarning):
                s = c.upload_directory(cb.id, tmp_path)
            assert s.files == 1
            # Bypassing the SDK's check, the server refuses and says why.
            with pytest.raises(af.ResourceLimitExceededError) as ei:
                raw_upload(c, cb.id, [entry("big.bin", b"b" * (100 << 10))])
            assert (ei.value.resource, ei.value.limit, ei.value.path) == \
                ("file_size", 64 << 10, "big.bin")
            files = [entry(f"f{i}", b"c" * (60 << 10)) for i in range(5)]
            with pytest.raises(af.ResourceLimitExceededError) as ei:
                raw_upload(c, cb.id, files)
            assert (ei.value.resource, ei.value.limit) == ("upload_size", 256 << 10)
            (tmp_path / "big.bin").unlink()
            for i in range(5):
                write(tmp_path, f"m{i}.bin", b"m" * (60 << 10))
            with pytest.raises(af.ResourceLimitExceededError) as ei:
                c.upload_directory(cb.id, tmp_path)
            assert ei.value.resource == "upload_size" and ei.value.code is None
            assert [f.path for f in c.list_files(cb.id, recursive=True)] == ["ok.txt"]
        finally:
            c.delete_codebase(cb.id)


# -- the wire, raw ------------------------------------------------------------

def entry(path, data=b"", type_=fp.ARCHIVE_ENTRY_TYPE_FILE, size=None):
    return fp.ArchiveEntry(path=path, type=type_, data=data,
                           size=len(data) if size is None else size)


def chunks(cb, batches, encoding=fp.ARCHIVE_ENCODING_IDENTITY, end=True):
    yield fp.ArchiveChunk(header=fp.ArchiveHeader(codebase_id=cb))
    for b in batches:
        raw = b if isinstance(b, bytes) else fp.ArchiveBatch(entries=b).SerializeToString()
        data = zlib.compress(raw) if encoding == fp.ARCHIVE_ENCODING_ZLIB else raw
        yield fp.ArchiveChunk(batch=data, encoding=encoding, batch_size=len(raw))
    if end:
        yield fp.ArchiveChunk(end=True)


def raw_upload(client, cb, entries):
    return client._send_archive(cb, chunks(cb, [entries]))


@pytest.fixture
def files_stub(daemon):
    with grpc.insecure_channel(daemon.endpoint) as ch:
        yield files_pb2_grpc.FileServiceStub(ch)


def test_pieces_and_zlib(files_stub, client, cb):
    b1 = [entry("a.txt", b"hel", size=5)]
    b2 = [fp.ArchiveEntry(data=b"lo"), entry("d", type_=fp.ARCHIVE_ENTRY_TYPE_DIRECTORY)]
    r = files_stub.UploadArchive(chunks(cb.id, [b1, b2], fp.ARCHIVE_ENCODING_ZLIB))
    assert (r.files, r.directories, r.bytes) == (1, 1, 5)
    assert client.download_file(cb.id, "a.txt") == b"hello"


@pytest.mark.parametrize("batches, why", [
    ([[entry("../x", b"1")]], "path"),
    ([[entry("a", b"1"), entry("a", b"2")]], "twice"),
    ([[entry("a", b"1"), entry("a/b", b"2")]], "file"),
    ([[entry("x", b"1", size=3)]], "ended"),
    ([[fp.ArchiveEntry(data=b"orphan")]], "continues no file"),
    ([[entry("l", type_=3)]], "only files and directories"),
    ([b"\x0a\x05garbage"], "malformed"),
    ([[entry("nul\0x", b"1")]], "NUL"),
])
def test_bad_streams_change_nothing(files_stub, client, cb, batches, why):
    client.upload_file(cb.id, "before.txt", b"kept")
    with pytest.raises(grpc.RpcError) as ei:
        files_stub.UploadArchive(chunks(cb.id, batches))
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert why in ei.value.details()
    assert tree(client, cb.id) == ["before.txt"]


def test_bad_framing(files_stub, cb):
    raw = fp.ArchiveBatch(entries=[entry("a", b"1")]).SerializeToString()
    cases = [
        [fp.ArchiveChunk(batch=raw, batch_size=len(raw))],                  # no header
        [fp.ArchiveChunk(header=fp.ArchiveHeader(codebase_id=cb.id)),
         fp.ArchiveChunk(batch=raw, batch_size=len(raw) + 1)],             # size lies
        [fp.ArchiveChunk(header=fp.ArchiveHeader(codebase_id=cb.id)),
         fp.ArchiveChunk(batch=zlib.compress(raw), encoding=fp.ARCHIVE_ENCODING_ZLIB,
                         batch_size=len(raw) - 1)],                         # inflates more
        [fp.ArchiveChunk(header=fp.ArchiveHeader(codebase_id=cb.id)),
         fp.ArchiveChunk(batch=b"x", batch_size=(16 << 20) + 1)],           # over the cap
        [fp.ArchiveChunk(header=fp.ArchiveHeader(codebase_id="cb_bad"))],
    ]
    for msgs in cases:
        with pytest.raises(grpc.RpcError) as ei:
            files_stub.UploadArchive(iter(msgs))
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT, msgs
    with pytest.raises(grpc.RpcError) as ei:
        files_stub.UploadArchive(chunks("cb_00000000000000ff", [[entry("a", b"1")]]))
    assert ei.value.code() == grpc.StatusCode.NOT_FOUND


def test_upload_into_a_directory_of_the_codebase_is_refused_whole(files_stub, client, cb):
    client.upload_file(cb.id, "dir/x", b"x")
    with pytest.raises(grpc.RpcError) as ei:
        files_stub.UploadArchive(chunks(cb.id, [[entry("new", b"n"), entry("dir", b"f")]]))
    assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert tree(client, cb.id) == ["dir/", "dir/x"]


def test_cancelled_upload_leaves_nothing(client, cb, tmp_path):
    write(tmp_path, "a.txt", b"a")
    write(tmp_path, "b.txt", b"b")
    client.upload_file(cb.id, "old.txt", b"o")

    def gen():
        yield from chunks(cb.id, [[entry("a.txt", b"a")]], end=False)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        client._send_archive(cb.id, gen())
    assert tree(client, cb.id) == ["old.txt"]


def test_a_failed_read_stores_nothing(client, cb):
    """The content's read fails mid-upload: the SDK re-raises it, grpc
    cancels the stream, and the daemon stores no part of the file. (Against
    the daemon: grpc's Python server can end a cancelled call's request
    iterator as if the stream had ended cleanly, so a fake cannot tell.)"""
    class Broken:
        def __init__(self):
            self.n = 0

        def read(self, size):
            self.n += 1
            if self.n > 2:
                raise OSError(5, "disk on fire")
            return b"y" * size

    for _ in range(20):  # the cancel raced the stream's end: try it often
        with pytest.raises(OSError, match="disk on fire"):
            client.upload_file(cb.id, "broken", Broken())
        assert tree(client, cb.id) == []


def test_a_stream_without_its_end_is_not_imported(files_stub, client, cb):
    with pytest.raises(grpc.RpcError) as ei:
        files_stub.UploadArchive(chunks(cb.id, [[entry("a.txt", b"a")]], end=False))
    assert ei.value.code() == grpc.StatusCode.CANCELLED
    assert "nothing was stored" in ei.value.details() and tree(client, cb.id) == []
    msgs = list(chunks(cb.id, [[entry("a.txt", b"a")]]))
    for bad in (msgs[:2] + [fp.ArchiveChunk(end=True, batch=msgs[1].batch)],
                msgs + msgs[1:2]):
        with pytest.raises(grpc.RpcError) as ei:
            files_stub.UploadArchive(iter(bad))
        assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_upload_file_mode(client, cb, res):
    client.upload_file(cb.id, "tool.sh", b"#!/bin/sh\necho tool\n", mode=0o755)
    client.upload_file(cb.id, "plain.sh", b"#!/bin/sh\necho plain\n")
    sb = res.sandbox(cb.id, preset="read-only")
    r = client.exec(sb.id, "./tool.sh")
    assert r.stdout == "tool\n", (r.exit_code, r.stderr)
    assert client.exec(sb.id, "./plain.sh").exit_code == 126


def test_over_a_unix_socket(daemon, tmp_path):
    write(tmp_path, "hello.txt", b"hi\n")
    with af.Sandbox.from_local(tmp_path, preset="read-only",
                               endpoint=f"unix://{daemon.sock}") as sb:
        assert sb.run("cat hello.txt").stdout == "hi\n"
        assert sb.read_file("hello.txt") == "hi\n"
