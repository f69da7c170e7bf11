"""The upload stream as ArchiveWriter encodes it by hand, decoded with the
generated protobuf classes: the server sees exactly the tree."""

import io
import os
import zlib

import pytest

from agentfense import _archive, _upload
from agentfense._progress import ProgressBar
from agentfense._proto.sandbox.v1 import files_pb2 as fp
from agentfense.exceptions import (InvalidConfigurationError,
                                   ResourceLimitExceededError, UploadError,
                                   UploadWarning)
from agentfense.types import UploadLimits, UploadProgress


def decode(messages):
    """(header, files: path -> (mode, size, bytes), dirs, batches)."""
    msgs = [fp.ArchiveChunk.FromString(m) for m in messages]
    header, files, dirs, cur, batches = msgs[0].header, {}, [], None, []
    assert msgs[-1].end and not msgs[-1].batch
    for m in msgs[1:-1]:
        raw = zlib.decompress(m.batch) if m.encoding == fp.ARCHIVE_ENCODING_ZLIB else m.batch
        assert len(raw) == m.batch_size
        batches.append(m)
        for e in fp.ArchiveBatch.FromString(raw).entries:
            if e.type == fp.ARCHIVE_ENTRY_TYPE_DIRECTORY:
                dirs.append(e.path)
            elif e.path:
                cur = e.path
                files[cur] = [e.mode, e.size, bytearray(e.data)]
            else:
                files[cur][2] += e.data
    return header, {k: (m, s, bytes(b)) for k, (m, s, b) in files.items()}, dirs, batches


def test_round_trip(tmp_path):
    text = b"line of text\n" * 200000                      # 2.6 MB, compressible
    noise = os.urandom(2 * 1024 * 1024 + 3)                 # not compressible
    (tmp_path / "t.txt").write_bytes(text)
    (tmp_path / "n.bin").write_bytes(noise)
    (tmp_path / "run.sh").write_bytes(b"#!/bin/sh\n")
    os.chmod(tmp_path / "run.sh", 0o755)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "d" / "e").mkdir(parents=True)
    for i in range(50):
        (tmp_path / "many" / f"f{i}").parent.mkdir(exist_ok=True)
        (tmp_path / "many" / f"f{i}").write_bytes(b"%d" % i)
    scan = _archive.scan(tmp_path)
    w = _archive.ArchiveWriter("cb_0123456789abcdef", scan, per_file_results=True)
    header, files, dirs, batches = decode(list(w))
    assert (header.codebase_id, header.per_file_results) == ("cb_0123456789abcdef", True)
    assert files["t.txt"] == (0o644, len(text), text)
    assert files["n.bin"][2] == noise and files["run.sh"][0] == 0o755
    assert files["empty.txt"] == (0o644, 0, b"") and dirs == ["d/e"]
    assert all(files[f"many/f{i}"][2] == b"%d" % i for i in range(50))
    assert all(b.batch_size <= _archive.BATCH_BYTES + 4096 for b in batches)
    zipped = [b for b in batches if b.encoding == fp.ARCHIVE_ENCODING_ZLIB]
    assert zipped and len(zipped) < len(batches)        # text yes, noise no
    assert w.bytes_done == scan.bytes and w.files_done == scan.files
    assert w.wire_bytes == sum(len(b.batch) for b in batches)


@pytest.mark.parametrize("mode, zipped", [("none", False), ("zlib", True)])
def test_compression_modes(tmp_path, mode, zipped):
    (tmp_path / "a").write_bytes(os.urandom(1000))
    _, files, _, batches = decode(list(_archive.ArchiveWriter(
        "cb_0000000000000000", _archive.scan(tmp_path), compression=mode)))
    assert all((b.encoding == fp.ARCHIVE_ENCODING_ZLIB) is zipped for b in batches)
    with pytest.raises(InvalidConfigurationError):
        _archive.ArchiveWriter("cb_0000000000000000", _archive.scan(tmp_path),
                               compression="brotli")


def test_a_file_that_changes_fails_the_upload(tmp_path, monkeypatch):
    (tmp_path / "grows").write_bytes(b"x" * 10)
    scan = _archive.scan(tmp_path)
    # Changed before it is opened: its content then is what goes.
    (tmp_path / "grows").write_bytes(b"x" * 20)
    _, files, _, _ = decode(list(_archive.ArchiveWriter("cb_0000000000000000", scan)))
    assert files["grows"][2] == b"x" * 20
    # Growing while it is read (seen as fstat lagging behind): refused.
    real = os.fstat
    monkeypatch.setattr(_archive.os, "fstat", lambda fd: os.stat_result(
        real(fd)[:6] + (5,) + real(fd)[7:]))
    with pytest.raises(UploadError, match="changed"):
        list(_archive.ArchiveWriter("cb_0000000000000000", scan))
    monkeypatch.undo()
    (tmp_path / "grows").unlink()
    with pytest.raises(UploadError, match="cannot read"):
        list(_archive.ArchiveWriter("cb_0000000000000000", scan))


def test_progress_reports(tmp_path):
    for i in range(5):
        (tmp_path / f"f{i}").write_bytes(b"y" * 100)
    seen = []
    list(_archive.ArchiveWriter("cb_0000000000000000", _archive.scan(tmp_path),
                                progress=seen.append))
    assert seen[-1] == UploadProgress(5, 5, 500, 500, "")
    out = io.StringIO()
    bar = ProgressBar(out)
    bar(UploadProgress(1, 4, 10, 100, "a"))
    bar(UploadProgress(4, 4, 100, 100, ""))
    bar(UploadProgress(4, 4, 100, 100, ""))           # after the end: nothing
    lines = out.getvalue()
    assert lines.count("\n") == 1 and "10.0%" in lines and "100.0%" in lines
    assert "4/4 files" in lines


def test_plan_limits(tmp_path):
    (tmp_path / "big").write_bytes(b"b" * 100)
    (tmp_path / "ok").write_bytes(b"o")
    kw = dict(ignore_patterns=None, use_gitignore=True, use_default_ignores=True,
              max_file_size=None)
    with pytest.warns(UploadWarning, match="big"):
        s = _upload.plan(tmp_path, UploadLimits(max_file_size=50), on_large_file="warn", **kw)
    assert [e.rel for e in s.entries] == ["ok"]
    with pytest.raises(ResourceLimitExceededError) as ei:
        _upload.plan(tmp_path, UploadLimits(max_file_size=50), on_large_file="error", **kw)
    assert (ei.value.resource, ei.value.limit, ei.value.path) == ("file_size", 50, "big")
    with pytest.raises(ResourceLimitExceededError) as ei:
        _upload.plan(tmp_path, UploadLimits(max_archive_size=50), on_large_file="warn", **kw)
    assert ei.value.resource == "upload_size"
    with pytest.raises(ResourceLimitExceededError):
        _upload.plan(tmp_path, UploadLimits(max_archive_entries=1), on_large_file="warn", **kw)
    kw["max_file_size"] = 10          # the smaller of the caller's and the server's
    s = _upload.plan(tmp_path, UploadLimits(max_file_size=1000), on_large_file="skip", **kw)
    assert [x.path for x in s.skipped] == ["big"]
    with pytest.raises(InvalidConfigurationError):
        _upload.plan(tmp_path, UploadLimits(), on_large_file="maybe", **kw)
    with pytest.raises(InvalidConfigurationError):
        _upload.progress_callback("yes")
    assert isinstance(_upload.progress_callback(True), ProgressBar)
