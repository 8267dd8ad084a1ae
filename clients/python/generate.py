#!/usr/bin/env python3
"""Generates the Python stubs of fulfil's gRPC API from proto/ (into fulfil_client/gen/).

    python3 generate.py

Run it once after cloning and after every change of proto/fulfil/v1/fulfil.proto.
"""
import pathlib
import sys

from grpc_tools import protoc

HERE = pathlib.Path(__file__).resolve().parent
PROTO = HERE.parent.parent / "proto"
OUT = HERE / "fulfil_client" / "gen"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    include = pathlib.Path(protoc.__file__).parent / "_proto"
    code = protoc.main([
        "grpc_tools.protoc",
        f"-I{PROTO}",
        f"-I{include}",
        f"--python_out={OUT}",
        f"--grpc_python_out={OUT}",
        f"--pyi_out={OUT}",
        str(PROTO / "fulfil" / "v1" / "fulfil.proto"),
    ])
    if code != 0:
        print(f"generate.py: protoc failed ({code})", file=sys.stderr)
        return 1
    for pkg in (OUT / "fulfil", OUT / "fulfil" / "v1"):
        (pkg / "__init__.py").touch()
    print(f"generated {OUT.relative_to(HERE)}/fulfil/v1/fulfil_pb2*.py")
    return 0


if __name__ == "__main__":
    sys.exit(main())
