#!/usr/bin/env python3
"""Commits one order (RouteOrder, dry_run=false) the safe way: one request id for every
attempt, each attempt with a short deadline, DEADLINE_EXCEEDED and UNAVAILABLE retried with
that id — on this server or, behind a load balancer, on another replica. However many attempts
it takes, the order is reserved once: a retry is answered with the reservation the first
attempt made (`replayed`).

    python3 commit.py --server 127.0.0.1:50051 --order-id W-1001 --lat 40.73 --lon -73.93 \\
        --line A:1 --timeout 1 --attempts 8

Prints one JSON object: the reservation, its state, whether the answer was a replay, and the
codes of the attempts that failed.
"""
import argparse
import json
import sys
import uuid

import grpc

from fulfil_client import call, connect, pb


def args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--server", default="127.0.0.1:50051", help="host:port")
    p.add_argument("--token", help="bearer token (a router role or above)")
    p.add_argument("--tls-ca", help="CA certificate of the server (enables TLS)")
    p.add_argument("--order-id", required=True)
    p.add_argument("--lat", type=float, required=True)
    p.add_argument("--lon", type=float, required=True)
    p.add_argument("--line", action="append", required=True, metavar="SKU:QTY")
    p.add_argument("--request-id", help="default: a new random one")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per attempt")
    p.add_argument("--attempts", type=int, default=5)
    return p.parse_args()


def main():
    a = args()
    client = connect(a.server, a.token, a.tls_ca)
    lines = []
    for spec in a.line:
        sku, _, qty = spec.partition(":")
        lines.append(pb.Line(sku=sku, qty=int(qty or 1)))
    order = pb.Order(order_id=a.order_id, lat=a.lat, lon=a.lon, lines=lines)
    failed = []
    request_id = a.request_id or f"commit-{uuid.uuid4().hex}"
    routed = call(client.routing.RouteOrder, pb.RouteOrderRequest(order=order), client,
                  request_id=request_id, timeout=a.timeout, attempts=a.attempts,
                  on_retry=lambda attempt, code: failed.append(code.name))
    print(json.dumps({
        "order_id": a.order_id,
        "request_id": request_id,
        "reservation_id": routed.reservation_id,
        "state": routed.reservation_state,
        "replayed": routed.replayed,
        "failed_attempts": failed,
    }))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except grpc.RpcError as e:
        print(f"commit: {e.code().name}: {e.details()}", file=sys.stderr)
        sys.exit(1)
