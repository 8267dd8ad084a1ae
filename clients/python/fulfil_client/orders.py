"""What the order examples (checkout.py, commit.py) read from their command line: the server, and
one order to a point with its lines."""
import argparse

from . import pb


def order_arguments(description: str, role: str) -> argparse.ArgumentParser:
    """A parser with the server's address, token and CA, and an order: id, lat, lon, lines."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--server", default="127.0.0.1:50051", help="host:port")
    p.add_argument("--token", help=f"bearer token (a {role} role or above)")
    p.add_argument("--tls-ca", help="CA certificate of the server (enables TLS)")
    p.add_argument("--order-id", required=True)
    p.add_argument("--lat", type=float, required=True)
    p.add_argument("--lon", type=float, required=True)
    p.add_argument("--line", action="append", required=True, metavar="SKU:QTY")
    return p


def lines_of(specs):
    """Order lines from `SKU:QTY` specs (QTY defaults to 1)."""
    out = []
    for spec in specs:
        sku, _, qty = spec.partition(":")
        out.append(pb.Line(sku=sku, qty=int(qty or 1)))
    return out
