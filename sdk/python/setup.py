"""Generates agentfense/_proto (gitignored) when it is missing.

This runs before setup() rather than in build_py because every setuptools
step, metadata included, checks that the listed package directories exist.
"""

import pathlib
import subprocess
import sys

from setuptools import setup

HERE = pathlib.Path(__file__).resolve().parent

if not (HERE / "agentfense" / "_proto" / "sandbox" / "v1" / "sandbox_pb2.py").exists():
    subprocess.run([sys.executable, str(HERE / "gen_proto.py")], check=True)

setup()
