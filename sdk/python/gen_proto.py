#!/usr/bin/env python3
"""Generate the SDK's protobuf and gRPC stubs from proto/ into agentfense/_proto.

Runs protoc with grpc_python_plugin (Debian: protobuf-compiler,
protobuf-compiler-grpc) and rewrites the generated absolute imports
(`from sandbox.v1 import ...`) into package-relative ones.
"""
import argparse
import pathlib
import re
import shutil
import subprocess
import sys


def main() -> int:
    here = pathlib.Path(__file__).resolve().parent
    ap = argparse.ArgumentParser()
    ap.add_argument("--proto-dir", default=str(here.parent.parent / "proto"))
    ap.add_argument("--out", default=str(here / "agentfense" / "_proto"))
    args = ap.parse_args()

    proto_dir = pathlib.Path(args.proto_dir)
    out = pathlib.Path(args.out)
    plugin = shutil.which("grpc_python_plugin")
    if plugin is None:
        print("gen_proto: grpc_python_plugin not found (apt-get install "
              "protobuf-compiler-grpc)", file=sys.stderr)
        return 1
    protos = sorted(str(p.relative_to(proto_dir))
                    for p in proto_dir.rglob("*.proto"))
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    subprocess.run(["protoc", f"-I{proto_dir}", "-I/usr/include",
                    f"--python_out={tmp}", f"--grpc_out={tmp}",
                    f"--plugin=protoc-gen-grpc={plugin}", *protos],
                   check=True)
    for py in tmp.rglob("*.py"):
        text = py.read_text()
        text = re.sub(r"^from sandbox\.v1 import",
                      "from agentfense._proto.sandbox.v1 import", text,
                      flags=re.M)
        py.write_text(text)
    for d in [tmp, *[p for p in tmp.rglob("*") if p.is_dir()]]:
        (d / "__init__.py").touch()
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
