#!/usr/bin/env bash
# A venv at ./.venv over Debian's Python (grpcio, protobuf, pytest come from
# apt; PyPI is not needed) with the SDK installed from sdk/python.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
venv="$top/.venv"
[ -x "$venv/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$venv"
[ -f "$top/sdk/python/agentfense/_proto/sandbox/v1/sandbox_pb2.py" ] ||
  /usr/bin/python3 "$top/sdk/python/gen_proto.py"
"$venv/bin/python" -m pip install -q --no-deps --no-build-isolation --no-index -e "$top/sdk/python"
echo "$venv/bin/python"
