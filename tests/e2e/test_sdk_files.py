"""A running sandbox's files through its view (FileService.ReadSandboxFile,
ListSandboxFiles) and its changes (ListChanges, CommitChanges), under its
rules: what is hidden is never read, listed, reported deleted or touched."""

import grpc
import pytest

import agentfense as af
from agentfense import ChangeKind, Permission, PermissionRule
from agentfense._proto.sandbox.v1 import files_pb2 as fp
from agentfense._proto.sandbox.v1 import files_pb2_grpc


def make(root, files):
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(data)
    return root


@pytest.fixture
def project(tmp_path):
    return make(tmp_path / "p", {
        "README.md": "readme\n", "src/app.py": "app\n", "src/util.py": "util\n",
        ".env": "TOKEN=1\n", "conf/.env.local": "S=2\n", "conf/app.ini": "[a]\n",
        "docs/guide.md": "guide\n", "secrets/k.pem": "key\n", "output/.keep": "",
    })


RULES = [  # development-like, with a view-only corner
    PermissionRule("/docs/**", Permission.VIEW, priority=50),
]


@pytest.fixture
def sb(project, daemon):
    with af.Sandbox.from_local(project, preset="development", permissions=RULES,
                               endpoint=daemon.endpoint) as s:
        yield s


@pytest.fixture
def dev(project, daemon):
    """The development preset alone: under the Landlock fallback, a
    view-only corner would also keep entries of its parent from being
    removed (rights hang on directories there)."""
    with af.Sandbox.from_local(project, preset="development", endpoint=daemon.endpoint) as s:
        yield s


def test_read_what_the_sandbox_wrote(sb):
    sb.run("mkdir -p output/r && printf 'report\\n' > output/r/out.txt")
    assert sb.read_file("/output/r/out.txt") == "report\n"
    assert sb.read_file("output/r/out.txt") == "report\n"
    assert sb.read_file("/workspace/output/r/out.txt") == "report\n"
    big = bytes(range(256)) * 4096
    sb.exec("cat > output/big.bin", stdin=big)
    assert sb.read_file_bytes("/output/big.bin") == big
    assert sb.client.read_sandbox_file(sb.id, "/output/big.bin", offset=10, length=5) == big[10:15]


def test_rules_apply_to_reads_and_listings(sb):
    # none: does not exist (whatever really is there)
    for path in ("/.env", "/conf/.env.local", "/secrets/k.pem", "/secrets"):
        with pytest.raises(af.FileNotFoundError):
            sb.read_file(path)
    with pytest.raises(af.FileNotFoundError):
        sb.list_files("/secrets")
    # view: listed, not read
    assert [f.path for f in sb.list_files("/docs")] == ["/docs/guide.md"]
    with pytest.raises(af.PermissionDeniedError) as ei:
        sb.read_file("/docs/guide.md")
    assert ei.value.path == "/docs/guide.md"
    listing = {f.path: f for f in sb.list_files("/", recursive=True)}
    assert set(listing) == {"/README.md", "/src", "/src/app.py", "/src/util.py", "/conf",
                            "/conf/app.ini", "/docs", "/docs/guide.md", "/output",
                            "/output/.keep"}
    assert listing["/docs/guide.md"].permission is Permission.VIEW
    assert listing["/src/app.py"].permission is Permission.WRITE
    assert [f.name for f in sb.list_files("/")] == ["README.md", "conf", "docs", "output", "src"]
    one = sb.list_files("/src/app.py")
    assert [(f.path, f.size, f.is_dir) for f in one] == [("/src/app.py", 4, False)]


def test_links_and_special_files_are_not_followed(sb):
    sb.run("ln -s /etc/passwd output/pw && ln -s ../src output/srcdir && mkfifo output/fifo")
    for path in ("/output/pw", "/output/srcdir/app.py"):
        with pytest.raises(af.FailedPreconditionError):
            sb.read_file(path)
    with pytest.raises(af.InvalidConfigurationError):
        sb.read_file("/output/fifo")
    listing = {f.name: f for f in sb.list_files("/output")}
    assert listing["pw"].is_symlink and not listing["srcdir"].is_dir
    with pytest.raises(af.InvalidConfigurationError):
        sb.read_file("/src/../.env")


def test_write_file_goes_through_the_sandbox(sb):
    sb.write_file("/output/new/deep.txt", "deep\n")
    assert sb.run("cat output/new/deep.txt").stdout == "deep\n"
    sb.write_file("/src/app.py", b"\x00\x01binary")
    assert sb.read_file_bytes("src/app.py") == b"\x00\x01binary"
    for path in ("/docs/new.md", "/docs/guide.md", "/secrets/x"):
        with pytest.raises(af.PermissionDeniedError):
            sb.write_file(path, "no")


def changes(sb):
    return {(c.path, c.kind) for c in sb.changes()}


def test_changes_and_commit(dev, client):
    sb = dev
    sb.run("echo changed > src/app.py && rm src/util.py && mkdir -p src/new "
           "&& echo n > src/new/n.py && chmod +x README.md")
    got = {c.path: c for c in sb.changes()}
    assert {(p, c.kind) for p, c in got.items()} == {
        ("/src/app.py", ChangeKind.MODIFIED), ("/src/util.py", ChangeKind.DELETED),
        ("/src/new", ChangeKind.ADDED), ("/src/new/n.py", ChangeKind.ADDED),
        ("/README.md", ChangeKind.MODIFIED)}
    assert all(c.committable and not c.committed and not c.conflict for c in got.values())
    assert got["/src/new"].is_dir and got["/src/app.py"].size == 8
    result = sb.commit()
    assert {c.path for c in result.committed} == set(got) and not result.skipped
    cb = sb.codebase_id
    assert client.download_file(cb, "src/app.py") == b"changed\n"
    assert client.download_file(cb, "src/new/n.py") == b"n\n"
    with pytest.raises(af.FileNotFoundError):
        client.download_file(cb, "src/util.py")
    # Still changes against the snapshot, now marked committed.
    assert all(c.committed for c in sb.changes())
    # A new sandbox on the codebase sees the commit (executable bit included).
    with af.Sandbox.from_codebase(cb, preset="read-only", endpoint=client.endpoint) as b:
        assert b.run("cat src/app.py; ls src/new; test -x README.md && echo x").stdout == \
            "changed\nn.py\nx\n"


def test_commit_some_paths_and_dry_run(sb, client):
    sb.run("echo o > output/o.txt && echo s > src/s.py")
    dry = sb.commit(dry_run=True)
    assert dry.dry_run and {c.path for c in dry.committed} == {"/output/o.txt", "/src/s.py"}
    with pytest.raises(af.FileNotFoundError):
        client.download_file(sb.codebase_id, "output/o.txt")
    r = sb.commit(paths=["/output"])
    assert [c.path for c in r.committed] == ["/output/o.txt"]
    assert client.download_file(sb.codebase_id, "output/o.txt") == b"o\n"
    with pytest.raises(af.FileNotFoundError):
        client.download_file(sb.codebase_id, "src/s.py")


def test_hidden_entries_are_never_touched(dev, client):
    # The sandbox removes conf/, which also holds a file hidden from it.
    r = dev.run("rm -rf conf && ls -A")
    assert r.exit_code == 0 and "conf" not in r.stdout.split(), r.stderr
    assert changes(dev) == {("/conf", ChangeKind.DELETED),
                            ("/conf/app.ini", ChangeKind.DELETED)}
    dev.commit()
    cb = dev.codebase_id
    assert client.download_file(cb, "conf/.env.local") == b"S=2\n"
    with pytest.raises(af.FileNotFoundError):
        client.download_file(cb, "conf/app.ini")
    assert client.download_file(cb, ".env") == b"TOKEN=1\n"


def test_renamed_directory(dev, client):
    sb = dev
    assert sb.run("mv src lib").exit_code == 0
    assert changes(sb) == {
        ("/src", ChangeKind.DELETED), ("/src/app.py", ChangeKind.DELETED),
        ("/src/util.py", ChangeKind.DELETED), ("/lib", ChangeKind.ADDED),
        ("/lib/app.py", ChangeKind.ADDED), ("/lib/util.py", ChangeKind.ADDED)}
    sb.commit()
    assert sorted(f.path for f in client.list_files(sb.codebase_id, "lib")) == \
        ["lib/app.py", "lib/util.py"]
    with pytest.raises(af.NotFoundError):
        client.list_files(sb.codebase_id, "src")


def test_type_changes(dev, client):
    sb = dev
    r = sb.run("rm -rf src && echo now-a-file > src && rm README.md && mkdir -p README.md/x")
    assert r.exit_code == 0, r.stderr
    assert changes(sb) >= {("/src", ChangeKind.DELETED), ("/src", ChangeKind.ADDED),
                           ("/README.md", ChangeKind.DELETED), ("/README.md", ChangeKind.ADDED)}
    sb.commit()
    cb = sb.codebase_id
    assert client.download_file(cb, "src") == b"now-a-file\n"
    assert [f.path for f in client.list_files(cb, "README.md")] == ["README.md/x"]


def test_not_committable_is_reported_and_left(sb, client):
    sb.run("ln -s src output/link")
    c = {x.path: x for x in sb.changes()}["/output/link"]
    assert not c.committable and "symbolic link" in c.reason
    r = sb.commit()
    assert [x.path for x in r.skipped] == ["/output/link"] and not r.committed
    assert [f.path for f in client.list_files(sb.codebase_id, "output")] == ["output/.keep"]


def test_commit_after_exec(project, daemon, client):
    with af.Sandbox.from_local(project, preset="development", commit_after_exec=True,
                               endpoint=daemon.endpoint) as a:
        assert a.info.commit_after_exec
        cb = a.codebase_id
        a.run("echo 1 > src/app.py")
        assert client.download_file(cb, "src/app.py") == b"1\n"
        with a.session() as s:
            s.exec("echo 2 > src/util.py")
        assert client.download_file(cb, "src/util.py") == b"2\n"
        with af.Sandbox.from_codebase(cb, preset="development", commit_after_exec=True,
                                      endpoint=daemon.endpoint) as b:
            # b's snapshot has a's first version; unchanged files of b never
            # conflict, its own writes land (last writer wins per path).
            b.run("echo b > src/b.py")
            assert client.download_file(cb, "src/b.py") == b"b\n"
            a.run("echo 3 > src/app.py")
            assert client.download_file(cb, "src/app.py") == b"3\n"
            # b changes a file a changed since b's snapshot: reported, kept out.
            r = b.run("echo mine > src/app.py")
            assert r.exit_code == 0 and "commit after the command failed" in r.message
            assert "/src/app.py" in r.message
            assert client.download_file(cb, "src/app.py") == b"3\n"


def test_commit_needs_a_running_sandbox_and_bad_requests(sb, daemon):
    with grpc.insecure_channel(daemon.endpoint) as ch:
        stub = files_pb2_grpc.FileServiceStub(ch)
        for req in (fp.CommitChangesRequest(sandbox_id=sb.id, paths=["../x"]),
                    fp.CommitChangesRequest(sandbox_id="sb_bad"),
                    fp.ReadSandboxFileRequest(sandbox_id=sb.id, path="/x", offset=-1)):
            call = stub.CommitChanges if isinstance(req, fp.CommitChangesRequest) \
                else stub.ReadSandboxFile
            with pytest.raises(grpc.RpcError) as ei:
                r = call(req)
                list(r) if hasattr(r, "__iter__") else r
            assert ei.value.code() == grpc.StatusCode.INVALID_ARGUMENT
