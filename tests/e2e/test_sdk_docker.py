"""The file service on a Docker sandbox: its /workspace is reached through
the guest init's root inside the container, its delta through the init's
held fd; reads, listings, changes and commits behave as on the namespace
runtime. Skipped (with the reason) without dockerd."""

import pytest

import afdocker
import afe2e
import agentfense as af


class DockerAgentDaemon(afe2e.Daemon):
    def __init__(self, docker_host):
        super().__init__()
        self.docker_host = docker_host

    def command(self):
        return super().command() + ["--docker-host", self.docker_host]


@pytest.fixture(scope="module")
def ddaemon(daemon):
    reason = afdocker.ensure_installed()
    if reason:
        pytest.skip(reason)
    dockerd = afdocker.DockerDaemon().start()
    d = None
    try:
        dockerd.import_image()
        d = DockerAgentDaemon(dockerd.host)
        d.start()
        yield d
    finally:
        if d is not None:
            rc = d.stop()
            d.remove()
            assert rc == 0
        dockerd.stop()


def test_files_and_commit_in_a_container(ddaemon, tmp_path):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text("print('v1')\n")
    (tmp_path / ".env").write_text("TOKEN=1\n")
    (tmp_path / "output").mkdir()
    with af.Sandbox.from_local(tmp_path, preset="agent-safe", runtime=af.RuntimeType.DOCKER,
                               image=afdocker.IMAGE, endpoint=ddaemon.endpoint) as sb:
        r = sb.run("echo report > output/r.txt && python3 src/app.py")
        assert r.stdout == "v1\n", r.stderr
        assert sb.read_file("/output/r.txt") == "report\n"
        with pytest.raises(af.FileNotFoundError):
            sb.read_file("/.env")
        assert [f.path for f in sb.list_files("/output")] == ["/output/r.txt"]
        assert [(c.path, c.kind) for c in sb.changes()] == \
            [("/output/r.txt", af.ChangeKind.ADDED)]
        assert [c.path for c in sb.commit().committed] == ["/output/r.txt"]
        assert sb.client.download_file(sb.codebase_id, "output/r.txt") == b"report\n"
