#!/usr/bin/env python3
"""A checkout against fulfil, as an order-capture service does it:

1. options: what each service level costs and when it arrives (FulfilmentOptions, a quote that
   reserves nothing), and the pickup stores nearby;
2. commit: the customer picks one (here the cheapest complete one) and the order is routed and
   reserved with it (RouteOrder, dry_run=false); the reservation id comes back;
3. confirm: payment went through, the reservation is confirmed (Confirm) — or released on
   failure (Release) so the stock returns at once.

    python3 checkout.py --server 127.0.0.1:50051 --order-id W-1001 --lat 40.73 --lon -73.93 \\
        --line A:1 --created-at 2026-03-02T10:00:00Z

Prints one JSON object with what each step answered.
"""
import json
import sys

import grpc

from fulfil_client import call, connect, pb
from fulfil_client.orders import lines_of, order_arguments

SERVICES = {
    "ground": pb.SERVICE_GROUND,
    "two_day": pb.SERVICE_TWO_DAY,
    "next_day": pb.SERVICE_NEXT_DAY,
    "same_day": pb.SERVICE_SAME_DAY,
}


def args():
    p = order_arguments(__doc__.split("\n")[0], "router")
    p.add_argument("--created-at", default="", help="RFC 3339; gives promise dates")
    p.add_argument("--release", action="store_true", help="release instead of confirm")
    return p.parse_args()


def options(client, a, lines):
    req = pb.FulfilmentOptionsRequest(lat=a.lat, lon=a.lon, basket=lines,
                                      created_at=a.created_at)
    resp = call(client.routing.FulfilmentOptions, req, client)
    return [
        {
            "service": o.service,
            "complete": o.complete,
            "cost": round(o.decision.cost.total, 2),
            "delivery_date": o.delivery_date if o.HasField("delivery_date") else None,
        }
        for o in resp.options
    ]


def main():
    a = args()
    client = connect(a.server, a.token, a.tls_ca)
    client.wait_serving()
    lines = lines_of(a.line)
    offered = options(client, a, lines)
    complete = [o for o in offered if o["complete"] and o["service"] in SERVICES]
    if not complete:
        print(json.dumps({"order_id": a.order_id, "options": offered, "error": "no complete option"}))
        return 2
    chosen = min(complete, key=lambda o: o["cost"])
    order = pb.Order(order_id=a.order_id, lat=a.lat, lon=a.lon, lines=lines,
                     service=SERVICES[chosen["service"]], created_at=a.created_at)
    routed = call(client.routing.RouteOrder, pb.RouteOrderRequest(order=order), client,
                  request_id=f"checkout-{a.order_id}")
    ref = pb.ReservationRef(reservation_id=routed.reservation_id)
    finish = client.reservations.Release if a.release else client.reservations.Confirm
    done = call(finish, ref, client)
    print(json.dumps({
        "order_id": a.order_id,
        "options": offered,
        "chosen": chosen["service"],
        "cost": round(routed.decision.cost.total, 2),
        "promise_date": routed.decision.promise_date if routed.decision.HasField("promise_date") else None,
        "shipped_from": [s.node_id for s in routed.decision.shipments],
        "reservation_id": routed.reservation_id,
        "state": done.state,
    }))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except grpc.RpcError as e:
        print(f"checkout: {e.code().name}: {e.details()}", file=sys.stderr)
        sys.exit(1)
