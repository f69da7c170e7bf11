"""Test the SDK from this checkout (not an installed copy), stubs generated if needed."""

import pathlib
import subprocess
import sys

SDK = pathlib.Path(__file__).resolve().parent.parent

if not (SDK / "agentfense" / "_proto" / "sandbox" / "v1" / "sandbox_pb2.py").exists():
    subprocess.run([sys.executable, str(SDK / "gen_proto.py")], check=True)
sys.path.insert(0, str(SDK))
