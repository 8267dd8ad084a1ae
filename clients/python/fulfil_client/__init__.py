"""A small client for fulfil's gRPC API: the generated stubs (`pb`, `rpc`), a channel with TLS
and a bearer token, and calls retried the way the server asks (docs/status-codes.md).

Run `python3 generate.py` first: it writes the stubs into fulfil_client/gen/.
"""
import pathlib
import sys

_GEN = pathlib.Path(__file__).resolve().parent / "gen"
if not (_GEN / "fulfil" / "v1" / "fulfil_pb2.py").exists():
    raise ImportError("fulfil_client: stubs missing; run `python3 generate.py` in clients/python")
if str(_GEN) not in sys.path:
    sys.path.insert(0, str(_GEN))

from fulfil.v1 import fulfil_pb2 as pb  # noqa: E402
from fulfil.v1 import fulfil_pb2_grpc as rpc  # noqa: E402

from .connect import Client, call, connect  # noqa: E402

__all__ = ["pb", "rpc", "Client", "call", "connect"]
