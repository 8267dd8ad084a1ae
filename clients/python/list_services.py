#!/usr/bin/env python3
"""Lists the services and methods a fulfil server offers, through gRPC server reflection (the
v1alpha protocol grpcio-reflection speaks; the server answers v1 too).

    python3 list_services.py --server 127.0.0.1:50051
"""
import argparse
import json

import grpc
from google.protobuf.descriptor_pool import DescriptorPool
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--server", default="127.0.0.1:50051", help="host:port")
    a = p.parse_args()
    db = ProtoReflectionDescriptorDatabase(grpc.insecure_channel(a.server))
    pool = DescriptorPool(db)
    out = {}
    for name in db.get_services():
        service = pool.FindServiceByName(name)
        out[name] = [m.name for m in service.methods]
    print(json.dumps(out, sort_keys=True))


if __name__ == "__main__":
    main()
