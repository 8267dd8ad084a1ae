#!/usr/bin/env python3
"""An inventory feed into fulfil, as a WMS or store system integration sends it: a CSV of
changes streamed over one StreamInventory call. Each change carries the feed's source name and
a sequence number, so a feed replayed after a crash is applied once (repeats are skipped).

    python3 inventory_feed.py --server 127.0.0.1:50051 --source wms-east changes.csv

changes.csv has a header and columns node_id, sku, and either set_on_hand or adjust (one per
row, the other empty); optional safety_stock. Prints the server's totals as JSON.
"""
import argparse
import csv
import json
import sys

import grpc

from fulfil_client import connect, pb


def args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--server", default="127.0.0.1:50051", help="host:port")
    p.add_argument("--token", help="bearer token (an inventory role or above)")
    p.add_argument("--tls-ca", help="CA certificate of the server (enables TLS)")
    p.add_argument("--source", required=True, help="the feed's name (sequences are per source)")
    p.add_argument("--first-sequence", type=int, default=1)
    p.add_argument("file", help="CSV of changes ('-': standard input)")
    return p.parse_args()


def changes(rows, source, first):
    for i, row in enumerate(rows):
        change = pb.InventoryChange(node_id=row["node_id"], sku=row["sku"], source=source,
                                    sequence=first + i)
        if row.get("set_on_hand"):
            change.set_on_hand = int(row["set_on_hand"])
        elif row.get("adjust"):
            change.adjust = int(row["adjust"])
        else:
            raise ValueError(f"line {i + 2}: set_on_hand or adjust is needed")
        if row.get("safety_stock"):
            change.safety_stock = int(row["safety_stock"])
        yield change


def main():
    a = args()
    client = connect(a.server, a.token, a.tls_ca)
    client.wait_serving()
    f = sys.stdin if a.file == "-" else open(a.file, newline="")
    with f:
        rows = list(csv.DictReader(f))
    # A stream is not retried as a whole here: on UNAVAILABLE, send the file again — the
    # changes already applied are skipped by their sequence numbers.
    resp = client.network.StreamInventory(changes(rows, a.source, a.first_sequence),
                                          metadata=client.metadata(), timeout=60)
    print(json.dumps({"applied": resp.applied, "skipped_repeats": resp.skipped_repeats,
                      "snapshot_version": resp.snapshot_version}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except grpc.RpcError as e:
        print(f"inventory_feed: {e.code().name}: {e.details()}", file=sys.stderr)
        sys.exit(1)
    except ValueError as e:
        print(f"inventory_feed: {e}", file=sys.stderr)
        sys.exit(1)
