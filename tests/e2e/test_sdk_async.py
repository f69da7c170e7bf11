"""AsyncSandbox / AsyncSandboxClient / AsyncSession against the daemon: the
same surface as the sync API, concurrency, and cleanup on cancellation."""

import asyncio

import pytest

import agentfense as af
from agentfense import AsyncSandbox, AsyncSandboxClient


@pytest.fixture
def project(tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "main.py").write_text("print('hi')\n")
    (tmp_path / "output").mkdir()
    (tmp_path / ".env").write_text("S=1\n")
    return tmp_path


def run(coro):
    return asyncio.run(coro)


async def server_state(endpoint):
    async with AsyncSandboxClient(endpoint) as c:
        return ({s.id for s in await c.list_sandboxes()},
                {cb.id for cb in await c.list_codebases()})


def test_both_forms_and_the_surface(project, daemon):
    async def main():
        before = await server_state(daemon.endpoint)
        async with await AsyncSandbox.from_local(project, preset="agent-safe",
                                                 endpoint=daemon.endpoint) as sb:
            assert sb.status is af.SandboxStatus.RUNNING and sb.upload.files == 2
            assert (await sb.run("python src/main.py")).stdout == "hi\n"
            r = await sb.exec("cat", stdin=b"in\x00put")
            assert r.stdout_bytes == b"in\x00put"
            stream = sb.exec_stream("echo a; echo b >&2; exit 3")
            chunks = [c async for c in stream]
            assert (b"a\n", af.OutputType.STDOUT) in [(bytes(c), c.type) for c in chunks]
            assert stream.exit_code == 3
            res = await sb.exec_stream("printf x").collect()
            assert (res.stdout, res.exit_code) == ("x", 0)
            await sb.write_file("/output/w.txt", "written\n")
            assert await sb.read_file("output/w.txt") == "written\n"
            assert [f.name for f in await sb.list_files("/output")] == ["w.txt"]
            assert [(c.path, c.kind) for c in await sb.changes()] == \
                [("/output/w.txt", af.ChangeKind.ADDED)]
            assert [c.path for c in (await sb.commit()).committed] == ["/output/w.txt"]
            assert (await sb.codebase()).file_count == 3
            await sb.stop()
            await sb.start()
            await sb.refresh()
            assert sb.status is af.SandboxStatus.RUNNING
        async with AsyncSandbox.from_local(project, endpoint=daemon.endpoint) as sb2:
            assert (await sb2.run("echo second")).stdout == "second\n"
        assert await server_state(daemon.endpoint) == before

    run(main())


def test_sessions_with_and_without_async_with(project, daemon):
    async def main():
        async with await AsyncSandbox.from_local(project, preset="full-access",
                                                 endpoint=daemon.endpoint) as sb:
            async with sb.session() as s:
                await s.exec("cd /workspace/src; export X=7")
                assert (await s.exec("pwd; echo $X")).stdout == "/workspace/src\n7\n"
                out = [bytes(c) async for c in s.exec_stream("echo streamed")]
                assert out == [b"streamed\n"]
            assert s.status is af.SessionStatus.CLOSED
            s2 = await sb.session(shell="/bin/sh", env={"G": "hi"})
            assert (await s2.exec("echo $G")).stdout == "hi\n"
            assert [x.id for x in await sb.client.list_sessions(sb.id)] == [s.id, s2.id]
            await s2.close()
            assert (await s2.refresh()).status is af.SessionStatus.CLOSED

    run(main())


def test_from_codebase_and_connect(project, daemon):
    async def main():
        async with AsyncSandboxClient(daemon.endpoint) as c:
            cb = await c.create_codebase("async", owner_id="e2e")
            try:
                s = await c.upload_directory(cb.id, project)
                assert s.files == 2
                async with await AsyncSandbox.from_codebase(cb.id, preset="read-only",
                                                            endpoint=daemon.endpoint) as sb:
                    async with await AsyncSandbox.connect(sb.id,
                                                          endpoint=daemon.endpoint) as again:
                        assert (await again.run("cat src/main.py")).stdout == "print('hi')\n"
                    # connect does not destroy what it did not create
                    assert (await sb.refresh()).status is af.SandboxStatus.RUNNING
                assert (await c.get_codebase(cb.id)).file_count == 2
            finally:
                await c.delete_codebase(cb.id)

    run(main())


def test_cancellation_leaves_nothing(project, daemon, monkeypatch):
    from agentfense import _archive

    real = _archive.ArchiveWriter._file

    def slow(self, e):
        import time
        time.sleep(0.5)          # in the worker thread: the upload is under way
        return real(self, e)

    monkeypatch.setattr(_archive.ArchiveWriter, "_file", slow)

    async def main():
        before = await server_state(daemon.endpoint)
        task = asyncio.ensure_future(AsyncSandbox.from_local(project, endpoint=daemon.endpoint))
        await asyncio.sleep(0.3)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0.2)
        assert await server_state(daemon.endpoint) == before

    run(main())


def test_failure_inside_the_block_cleans_up(project, daemon):
    async def main():
        before = await server_state(daemon.endpoint)
        with pytest.raises(ZeroDivisionError):
            async with await AsyncSandbox.from_local(project, endpoint=daemon.endpoint) as sb:
                async with sb.session():
                    1 / 0
        assert await server_state(daemon.endpoint) == before

    run(main())


def test_many_concurrent_sandboxes_over_a_unix_socket(project, daemon):
    async def one(i):
        async with await AsyncSandbox.from_local(project, preset="read-only",
                                                 endpoint=f"unix:{daemon.sock}") as sb:
            return (await sb.run(f"echo {i}")).stdout

    async def main():
        return await asyncio.gather(*(one(i) for i in range(12)))

    assert run(main()) == [f"{i}\n" for i in range(12)]
