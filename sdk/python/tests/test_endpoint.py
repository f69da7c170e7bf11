import pytest

from agentfense import InvalidConfigurationError, SandboxClient
from agentfense._endpoint import (DEFAULT_ENDPOINT, ENV_VAR, grpc_target,
                                  resolve_endpoint)


@pytest.mark.parametrize("endpoint, target", [
    ("localhost:9000", "localhost:9000"),
    ("127.0.0.1:1", "127.0.0.1:1"),
    ("[::1]:9000", "[::1]:9000"),
    ("sandbox.example.com:443", "sandbox.example.com:443"),
    ("unix:///run/agentfense/agentfensed.sock", "unix:///run/agentfense/agentfensed.sock"),
    ("unix:/run/agentfense/agentfensed.sock", "unix:///run/agentfense/agentfensed.sock"),
    ("  localhost:9000 ", "localhost:9000"),
])
def test_valid_endpoints(endpoint, target):
    assert grpc_target(endpoint) == target


@pytest.mark.parametrize("endpoint", [
    "", "   ", "localhost", "localhost:", ":9000", "localhost:0", "localhost:70000",
    "http://localhost:9000", "unix:relative.sock", "unix://host/path.sock",
    "unix:///a\0b", "a b:9000",
])
def test_invalid_endpoints(endpoint):
    with pytest.raises(InvalidConfigurationError):
        grpc_target(endpoint)


def test_default_and_environment(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert resolve_endpoint() == DEFAULT_ENDPOINT == "localhost:9000"
    monkeypatch.setenv(ENV_VAR, "unix:/tmp/af.sock")
    assert resolve_endpoint() == "unix:/tmp/af.sock"
    # An explicit endpoint beats the environment.
    assert resolve_endpoint("10.0.0.1:9000") == "10.0.0.1:9000"
    with SandboxClient() as c:
        assert c.endpoint == "unix:/tmp/af.sock"


def test_client_rejects_bad_endpoint_and_chunk_size():
    with pytest.raises(InvalidConfigurationError):
        SandboxClient("nonsense")
    with pytest.raises(InvalidConfigurationError):
        SandboxClient("localhost:9000", chunk_size=1024)
    with pytest.raises(InvalidConfigurationError):
        SandboxClient("localhost:9000", chunk_size=4 * 1024 * 1024)
