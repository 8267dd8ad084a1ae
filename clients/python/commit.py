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
import json
import sys
import uuid

import grpc

from fulfil_client import call, connect, pb
from fulfil_client.orders import lines_of, order_arguments


def args():
    p = order_arguments(__doc__.split("\n")[0], "router")
    p.add_argument("--request-id", help="default: a new random one")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per attempt")
    p.add_argument("--attempts", type=int, default=5)
    return p.parse_args()


def main():
    a = args()
    client = connect(a.server, a.token, a.tls_ca)
    order = pb.Order(order_id=a.order_id, lat=a.lat, lon=a.lon, lines=lines_of(a.line))
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
