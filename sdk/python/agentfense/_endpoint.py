"""Endpoint strings: "host:port", "[v6]:port", "unix:///abs/path", "unix:/abs/path"."""

from __future__ import annotations

import os
import re
from typing import Optional

from .exceptions import InvalidConfigurationError

DEFAULT_ENDPOINT = "localhost:9000"
# Matches the server's cap on captured output with room to spare, so big
# results never hit gRPC's 4 MiB default.
DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
ENV_VAR = "AGENTFENSE_ENDPOINT"

_HOST_PORT = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_.-]+):(\d{1,5})$")


def resolve_endpoint(endpoint: Optional[str] = None) -> str:
    """The endpoint to use: the argument, else $AGENTFENSE_ENDPOINT, else the default."""
    if endpoint is None:
        endpoint = os.environ.get(ENV_VAR) or DEFAULT_ENDPOINT
    return endpoint


def grpc_target(endpoint: str) -> str:
    """Validate an endpoint and return the gRPC channel target for it."""
    if not isinstance(endpoint, str) or not endpoint.strip():
        raise InvalidConfigurationError("endpoint must be a non-empty string")
    ep = endpoint.strip()
    if ep.startswith("unix:"):
        path = ep[len("unix:"):]
        if path.startswith("//"):
            # unix://PATH: the authority must be empty, i.e. unix:///abs.
            path = path[2:]
        if not path.startswith("/") or "\0" in path:
            raise InvalidConfigurationError(
                f"unix endpoint needs an absolute socket path: {endpoint!r}")
        return "unix://" + path
    m = _HOST_PORT.match(ep)
    if not m or not 0 < int(m.group(1)) < 65536:
        raise InvalidConfigurationError(
            f"endpoint must be HOST:PORT or unix:///path, got {endpoint!r}")
    return ep


def channel_options(max_message_bytes: Optional[int] = None) -> list:
    n = max_message_bytes or DEFAULT_MAX_MESSAGE_BYTES
    return [("grpc.max_receive_message_length", n),
            ("grpc.max_send_message_length", n)]
