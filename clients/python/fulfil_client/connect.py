"""Connecting to fulfil and calling it the way its status codes ask (docs/status-codes.md)."""
import random
import time
import uuid
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

# Worth another try after a pause: the server shed the call (at its limit), could not reach its
# store, or a commit raced another change. Every other code is an answer to act on, not retry.
RETRY = {
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.ABORTED,
}


@dataclass
class Client:
    """The stubs of the four services on one channel, with the call metadata."""

    channel: grpc.Channel
    token: str | None = None

    def __post_init__(self):
        from . import rpc

        self.routing = rpc.RoutingStub(self.channel)
        self.reservations = rpc.ReservationsStub(self.channel)
        self.network = rpc.NetworkStub(self.channel)
        self.planning = rpc.PlanningStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    def metadata(self, request_id: str | None = None):
        """The bearer token and a request id (logged by the server with the call's outcome)."""
        md = [("x-request-id", request_id or uuid.uuid4().hex)]
        if self.token:
            md.append(("authorization", f"Bearer {self.token}"))
        return md

    def wait_serving(self, timeout: float = 10.0) -> None:
        """Waits until the server's health is SERVING (it loads its network first)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                r = self.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=2)
                if r.status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError as e:
                if e.code() not in RETRY:
                    raise
            if time.monotonic() > deadline:
                raise TimeoutError("fulfil is not SERVING")
            time.sleep(0.2)


def connect(address: str, token: str | None = None, ca_file: str | None = None,
            server_name: str | None = None) -> Client:
    """A client for `address` (host:port): TLS when `ca_file` is given (the CA that signed the
    server's certificate), and the bearer token on every call."""
    if ca_file:
        with open(ca_file, "rb") as f:
            creds = grpc.ssl_channel_credentials(root_certificates=f.read())
        options = [("grpc.ssl_target_name_override", server_name)] if server_name else []
        channel = grpc.secure_channel(address, creds, options=options)
    else:
        channel = grpc.insecure_channel(address)
    return Client(channel, token)


def call(method, request, client: Client, *, request_id: str | None = None,
         timeout: float = 5.0, attempts: int = 5, on_retry=None):
    """Calls `method` with a deadline, retrying the retryable codes with jittered exponential
    backoff. The same request id goes with every attempt, in the metadata and — for a commit
    (RouteOrder without dry_run), a rejection or an amendment — in the request's own
    `request_id` field, which the server remembers (24 h by default, on every replica): a
    retried commit is answered with the reservation the first attempt made, never a second
    hold. So a call that carries its request id, or one that is idempotent by itself (Release,
    Confirm, Get, a quote), is also retried after DEADLINE_EXCEEDED: the first attempt may
    have been committed after the client gave up on it. `on_retry(attempt, code)` is called
    before each new attempt."""
    request_id = request_id or uuid.uuid4().hex
    request = _with_request_id(request, request_id)
    retry = RETRY | ({grpc.StatusCode.DEADLINE_EXCEEDED} if _safe_after_timeout(request) else set())
    pause = 0.05
    for attempt in range(1, attempts + 1):
        try:
            return method(request, timeout=timeout, metadata=client.metadata(request_id))
        except grpc.RpcError as e:
            if e.code() not in retry or attempt == attempts:
                raise
            if on_retry:
                on_retry(attempt, e.code())
            time.sleep(pause * (1 + random.random()))
            pause = min(pause * 2, 2.0)


def _with_request_id(request, request_id: str):
    """The request with its `request_id` field set, if it has one and it is empty (a commit,
    rejection or amendment); dry runs are left alone."""
    fields = request.DESCRIPTOR.fields_by_name
    if "request_id" not in fields or request.request_id:
        return request
    if "dry_run" in fields and request.dry_run:
        return request
    copy = type(request)()
    copy.CopyFrom(request)
    copy.request_id = request_id
    return copy


def _safe_after_timeout(request) -> bool:
    """Whether an attempt that timed out may be sent again without doing its work twice."""
    fields = request.DESCRIPTOR.fields_by_name
    if "request_id" in fields:
        return bool(request.request_id) or ("dry_run" in fields and request.dry_run)
    # Release, Confirm and Get (a ReservationRef), quotes and reads are idempotent.
    return request.DESCRIPTOR.name in {
        "ReservationRef", "FulfilmentOptionsRequest", "SnapshotInfoRequest",
        "ListAttentionRequest",
    }
