"""Fixtures of the security suites (permission conformance, bypass attempts,
agent-safe acceptance): one daemon for the session and the enforcer it runs.

The daemon is either started here, like the e2e suite's (tests/e2e/afe2e.py),
with --enforcer taken from the pytest option --enforcer or the environment
variable AF_SECURITY_ENFORCER (auto, bpf-lsm or landlock; default auto), or,
when AF_SECURITY_ENDPOINT is set, an existing daemon at that endpoint (for
instance one started inside the VM by hand).  AF_SECURITY_DAEMON_ARGS adds
options to the daemon started here (tests/security/vm-run uses it).  The tests read
which enforcer runs from the Health RPC and expect that enforcer's documented
behaviour; an explicitly requested enforcer that is not the one running is a
failure, not a skip.

The runtime is the namespace runtime unless the pytest option --runtime or
AF_SECURITY_RUNTIME says docker: then a private dockerd is started for the
session (tests/e2e/afdocker.py), the test image is imported, the daemon gets
--docker-host, and every sandbox is created with runtime=DOCKER from that
image (an external daemon must have been started with a Docker host).
"""

import os
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "e2e"))

import afdocker  # noqa: E402
import afe2e  # noqa: E402  first: this checkout's SDK
import afsec  # noqa: E402
import afsuite  # noqa: E402
import agentfense as af  # noqa: E402

ENFORCER_CHOICES = ("auto", "bpf-lsm", "landlock")
RUNTIME_CHOICES = ("namespace", "docker")
DAEMON_KEY = pytest.StashKey()
HEALTH_KEY = pytest.StashKey()


def pytest_addoption(parser):
    parser.addoption("--enforcer", choices=ENFORCER_CHOICES, default=None,
                     help="enforcer of the daemon the security suites start "
                          "(default: $AF_SECURITY_ENFORCER or auto)")
    parser.addoption("--runtime", choices=RUNTIME_CHOICES, default=None,
                     help="runtime of the sandboxes the suites create "
                          "(default: $AF_SECURITY_RUNTIME or namespace)")


def _requested(config, option: str, env: str, default: str, choices) -> str:
    """The pytest option, else the environment variable, else the default."""
    value = config.getoption(option, default=None) or os.environ.get(env, default)
    if value not in choices:
        raise pytest.UsageError(f"{env}={value}: not one of {choices}")
    return value


def _requested_runtime(config) -> str:
    return _requested(config, "--runtime", "AF_SECURITY_RUNTIME", "namespace",
                      RUNTIME_CHOICES)


def _requested_enforcer(config) -> str:
    return _requested(config, "--enforcer", "AF_SECURITY_ENFORCER", "auto",
                      ENFORCER_CHOICES)


class SecurityDaemon(afe2e.Daemon):
    def __init__(self, enforcer: str, docker_host=None) -> None:
        super().__init__()
        self.enforcer = enforcer
        self.docker_host = docker_host

    def command(self):
        extra = os.environ.get("AF_SECURITY_DAEMON_ARGS", "").split()
        if self.docker_host:
            extra += ["--docker-host", self.docker_host]
        return super().command() + [f"--enforcer={self.enforcer}", *extra]


class ExternalDaemon:
    """A daemon someone else started: only its endpoint is known."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.marker_name = self.marker_value = None

    def log_tail(self) -> str:
        return f"(external daemon at {self.endpoint}: its log is not ours)"


def _skip_reason():
    return afsuite.skip_reason("the security suites")


@pytest.fixture(scope="session")
def dockerd(request):
    """A private dockerd holding the test image, for the docker runtime."""
    if _requested_runtime(request.config) != "docker" or \
            os.environ.get("AF_SECURITY_ENDPOINT") or _skip_reason():
        yield None
        return
    reason = afdocker.ensure_installed()
    if reason:
        pytest.skip(reason)
    d = afdocker.DockerDaemon().start()
    try:
        d.import_image()
        yield d
    finally:
        d.stop()


@pytest.fixture(scope="session")
def runtime_args(request) -> dict:
    if _requested_runtime(request.config) == "docker":
        return {"runtime": af.RuntimeType.DOCKER, "image": afdocker.IMAGE}
    return {}


@pytest.fixture(scope="session")
def daemon(request, dockerd):
    endpoint = os.environ.get("AF_SECURITY_ENDPOINT")
    if endpoint:
        yield ExternalDaemon(endpoint)
        return
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    d = SecurityDaemon(_requested_enforcer(request.config),
                       docker_host=dockerd.host if dockerd else None)
    with afsuite.serving(d):
        request.config.stash[DAEMON_KEY] = d
        yield d


@pytest.fixture(scope="session")
def enforcer(daemon, request) -> str:
    """The enforcer the daemon runs: "bpf-lsm" or "landlock"."""
    with af.SandboxClient(daemon.endpoint) as c:
        health = c.health()
    requested = _requested_enforcer(request.config)
    request.config.stash[HEALTH_KEY] = health
    if health.enforcer not in afsec.ENFORCERS:
        pytest.fail(f"the daemon runs no enforcer ({health.enforcer}: "
                    f"{health.enforcer_reason}); nothing to test")
    if requested != "auto" and health.enforcer != requested:
        pytest.fail(f"asked for the {requested} enforcer, the daemon runs "
                    f"{health.enforcer} ({health.enforcer_reason})")
    return health.enforcer


@pytest.fixture(scope="session")
def session_client(daemon):
    with af.SandboxClient(daemon.endpoint) as c:
        yield c


@pytest.fixture(scope="module")
def module_res(session_client, runtime_args):
    """Resources shared by a module's tests (one sandbox runs many cases)."""
    r = afsec.Resources(session_client, runtime_args)
    yield r
    r.cleanup()


def pytest_report_header(config):
    endpoint = os.environ.get("AF_SECURITY_ENDPOINT")
    where = f"external daemon at {endpoint}" if endpoint else \
        f"daemon {afe2e.daemon_binary()}"
    return (f"security suites: {where}, enforcer requested: {_requested_enforcer(config)}, "
            f"runtime: {_requested_runtime(config)}")


def pytest_terminal_summary(terminalreporter, config):
    """Say which enforcer the results are about, and why it was chosen."""
    health = config.stash.get(HEALTH_KEY, None)
    if health is not None:
        terminalreporter.write_line(f"security suites ran against the {health.enforcer} "
                                    f"enforcer: {health.enforcer_reason}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the enforcer and the daemon's recent log to a failing report."""
    outcome = yield
    rep = outcome.get_result()
    d = item.config.stash.get(DAEMON_KEY, None)
    if rep.failed and d is not None:
        rep.sections.append(("agentfensed log (tail)", d.log_tail()))
