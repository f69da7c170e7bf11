"""Sandboxes on one codebase are copy-on-write: no one sees another's writes."""


def test_two_sandboxes_do_not_see_each_others_writes(client, res):
    cb = res.codebase({"shared.txt": b"original\n", "dir/keep.txt": b"keep\n"})
    a = res.sandbox(cb.id, preset="full-access")
    b = res.sandbox(cb.id, preset="full-access")

    def run(sb, cmd):
        r = client.exec(sb.id, cmd)
        assert r.exit_code == 0, (cmd, r.stderr)
        return r.stdout

    run(a, "echo from-a > shared.txt && echo a > dir/only-a.txt && rm dir/keep.txt")
    run(b, "echo from-b > shared.txt && mkdir dir/sub && echo b > dir/sub/only-b.txt")

    assert run(a, "cat shared.txt") == "from-a\n"
    assert run(b, "cat shared.txt") == "from-b\n"
    assert run(a, "ls -A dir").split() == ["only-a.txt"]
    assert run(b, "ls -A dir").split() == ["keep.txt", "sub"]
    assert run(b, "cat dir/keep.txt") == "keep\n"

    # The codebase itself is unchanged.
    assert client.download_file(cb.id, "shared.txt") == b"original\n"
    assert client.download_file(cb.id, "dir/keep.txt") == b"keep\n"
    paths = {f.path for f in client.list_files(cb.id, recursive=True)}
    assert paths == {"shared.txt", "dir", "dir/keep.txt"}

    # A third sandbox opened afterwards starts from the codebase, not from a or b.
    c = res.sandbox(cb.id, preset="read-only")
    assert run(c, "cat shared.txt") == "original\n"
    assert run(c, "ls -A /workspace dir").split() == ["/workspace:", "dir", "shared.txt",
                                                      "dir:", "keep.txt"]


def test_private_tmp(client, res):
    cb = res.codebase({"f": b"x"})
    a = res.sandbox(cb.id, preset="read-only")
    b = res.sandbox(cb.id, preset="read-only")
    assert client.exec(a.id, "echo secret > /tmp/a.txt").exit_code == 0
    assert client.exec(a.id, "cat /tmp/a.txt").stdout == "secret\n"
    assert client.exec(b.id, "ls -A /tmp").stdout == ""


def test_upload_after_sandbox_start_is_not_seen_by_it(client, res):
    cb = res.codebase({"v.txt": b"v1"})
    sb = res.sandbox(cb.id, preset="read-only")
    client.upload_file(cb.id, "v.txt", b"v2")
    assert client.exec(sb.id, "cat v.txt").stdout == "v1"   # its snapshot never changes
    fresh = res.sandbox(cb.id, preset="read-only")
    assert client.exec(fresh.id, "cat v.txt").stdout == "v2"


def test_no_network(client, res):
    cb = res.codebase({"f": b"x"})
    sb = res.sandbox(cb.id, preset="read-only")
    r = client.exec(sb.id, "cat /proc/net/dev")
    ifaces = {line.split(":")[0].strip() for line in r.stdout.splitlines()[2:]}
    assert ifaces <= {"lo"}, r.stdout


def test_write_presets_create_entries_anywhere(client, res):
    # A new entry gets the level its path would get (ARCHITECTURE §4): under
    # full-access that is write everywhere, the workspace root included.
    cb = res.codebase({"d/f": b"x"})
    sb = res.sandbox(cb.id, preset="full-access")
    for cmd in ["echo 1 > d/new.txt", "echo 2 > new.txt", "mkdir newdir",
                "echo 3 > newdir/x", "mv new.txt renamed.txt", "rm renamed.txt"]:
        r = client.exec(sb.id, cmd)
        assert r.exit_code == 0, (cmd, r.stderr)
