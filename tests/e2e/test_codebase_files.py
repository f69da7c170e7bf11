"""Codebases: upload a tree, read it back byte-exact (download and inside a sandbox)."""

import hashlib
import random

import pytest

import agentfense as af

_rng = random.Random(20240601)

TREE = {
    "README.md": b"# demo\n",
    "src/main.py": b"print('hello')\n",
    "src/pkg/deep/er/mod.py": b"X = 1\n" * 1000,
    "bin/all_bytes.bin": bytes(range(256)) * 4,
    "bin/nul_crlf.bin": b"\0\r\n\0\xff\xfe\x00",
    "bin/random.bin": _rng.randbytes(3 * 1024 * 1024 + 123),   # several chunks
    "empty.txt": b"",
    "dir with space/\u00fcn\u00efcode.txt": "\u00fcn\u00efcode\n".encode(),
}
DIRS = {"src", "src/pkg", "src/pkg/deep", "src/pkg/deep/er", "bin", "dir with space"}


@pytest.fixture
def tree(res):
    return res.codebase(TREE, name="tree")


def test_upload_reports_size_and_checksum(client, res):
    cb = res.codebase()
    data = TREE["bin/random.bin"]
    up = client.upload_file(cb.id, "r.bin", data)
    assert (up.codebase_id, up.size) == (cb.id, len(data))
    assert up.checksum == hashlib.sha256(data).hexdigest()


def test_download_is_byte_exact(client, tree):
    for path, content in TREE.items():
        assert client.download_file(tree.id, path) == content, path


def test_codebase_counts_files_and_bytes(client, tree):
    cb = client.get_codebase(tree.id)
    assert cb.file_count == len(TREE)
    assert cb.size == sum(len(c) for c in TREE.values())
    assert (cb.name, cb.owner_id) == ("tree", "e2e")
    assert cb.created_at is not None


def test_list_files_recursive_and_not(client, tree):
    entries = client.list_files(tree.id, "", recursive=True)
    files = {f.path: f for f in entries if not f.is_dir}
    dirs = {f.path for f in entries if f.is_dir}
    assert set(files) == set(TREE)
    assert dirs == DIRS
    for path, content in TREE.items():
        assert files[path].size == len(content)
        assert files[path].name == path.rsplit("/", 1)[-1]
    assert [f.path for f in entries] == sorted(f.path for f in entries)
    top = {f.path: f.is_dir for f in client.list_files(tree.id, "/")}
    assert top == {"README.md": False, "empty.txt": False, "src": True, "bin": True,
                   "dir with space": True}
    sub = {f.path for f in client.list_files(tree.id, "src/pkg", recursive=False)}
    assert sub == {"src/pkg/deep"}


def test_reupload_replaces_content(client, res):
    cb = res.codebase({"f.txt": b"old"})
    client.upload_file(cb.id, "f.txt", b"newer content")
    assert client.download_file(cb.id, "f.txt") == b"newer content"
    info = client.get_codebase(cb.id)
    assert (info.file_count, info.size) == (1, len(b"newer content"))


def test_list_and_get_codebases(client, res):
    a = res.codebase(name="list-a")
    b = res.codebase(name="list-b")
    ids = {c.id for c in client.list_codebases(owner_id="e2e")}
    assert {a.id, b.id} <= ids
    assert a.id.startswith("cb_") and len(a.id) == 3 + 16
    client.delete_codebase(b.id)
    res.codebases.remove(b.id)
    assert b.id not in {c.id for c in client.list_codebases(owner_id="e2e")}
    with pytest.raises(af.CodebaseNotFoundError):
        client.get_codebase(b.id)


def test_sandbox_reads_tree_byte_exact(client, res, tree):
    sb = res.sandbox(tree.id, preset="read-only")
    for path, content in TREE.items():
        r = client.exec(sb.id, f"cat '/workspace/{path}'")
        assert r.exit_code == 0, (path, r.stderr)
        if r.stdout_truncated:   # Exec caps captured output, and says so
            assert len(r.stdout_bytes) < len(content), path
            assert r.stdout_bytes == content[:len(r.stdout_bytes)], path
        else:
            assert r.stdout_bytes == content, path
        # A stream is not capped.
        streamed = client.exec_stream(sb.id, f"cat '/workspace/{path}'").collect()
        assert (streamed.stdout_bytes, streamed.exit_code) == (content, 0), path
    # od prints every byte as hex: independent of how output is carried.
    r = client.exec(sb.id, "od -An -v -tx1 /workspace/bin/all_bytes.bin")
    assert r.exit_code == 0, r.stderr
    assert bytes.fromhex("".join(r.stdout.split())) == TREE["bin/all_bytes.bin"]
    r = client.exec(sb.id, "sha256sum /workspace/bin/random.bin")
    assert r.stdout.split()[0] == hashlib.sha256(TREE["bin/random.bin"]).hexdigest()
    r = client.exec(sb.id, "cd /workspace && find . -type f | sort")
    assert r.stdout.split("\n")[:-1] == sorted("./" + p for p in TREE)
