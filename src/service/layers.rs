//! The envelope every call passes through before its handler, as one tower layer on the tonic
//! server ([`Envelope`]). For a call to a `fulfil.v1` service, in order:
//!
//! 1. **Authentication**: with an auth file, the `authorization: Bearer TOKEN` metadata names a
//!    token (UNAUTHENTICATED otherwise); without one every caller is `anonymous` admin.
//! 2. **Role**: the role the rpc needs whatever its body says (the table of `rpcs.rs`;
//!    PERMISSION_DENIED naming it). Handlers ask for more where the body commits.
//! 3. **Deadline**: a call whose `grpc-timeout` has already run out is answered
//!    DEADLINE_EXCEEDED without reaching its handler; the deadline goes into the request's
//!    extensions ([`Deadline`]) for handlers that size their work by it.
//! 4. **Load shedding**: at most `max_in_flight` calls at a time (the inventory stream aside,
//!    which h2's per-connection stream limit bounds) and `max_heavy` Reoptimize/Simulate calls;
//!    a call beyond is answered RESOURCE_EXHAUSTED at once instead of waiting in a queue. The
//!    permits are held until the response body ends (a Simulate stream holds its own).
//! 5. **Message size**: every request message above `max_message_bytes` is refused with
//!    INVALID_ARGUMENT as soon as its length prefix arrives ([`Guarded`]).
//!
//! Around all of it, for every call: a request id (the client's `x-request-id` or a new one,
//! echoed back), a span, and the `grpc_server_*` metrics recorded when the response ends
//! (`observe.rs`).
//!
//! Health and reflection pass straight through: probes answer under overload. Handlers stay free
//! of all of this but the committing role (`access::require`).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use bytes::{Buf, Bytes};
use http_body::Frame;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;
use tonic::body::Body;
use tower::layer::util::{Identity, Stack};

use super::access::{self, Caller, Role, Tokens};
use super::connections;
use super::observe::{CallCounters, CallMetrics, RequestId, call_span};
use super::rpcs::{self, Rpc};

/// The server's layer once the envelope is on it (tonic stacks it over its own identity).
pub(super) type Layered = Stack<Envelope, Identity>;

/// Limits of the envelope.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Calls computed at once; more are shed.
    pub max_in_flight: usize,
    /// Reoptimize and Simulate calls at once; more are shed.
    pub max_heavy: usize,
    /// Orders decided on the blocking pool at once (large orders, batches, fulfilment options);
    /// a call that finds every slot taken is shed.
    pub max_decisions: usize,
    /// The largest request message.
    pub max_message_bytes: usize,
}

impl Limits {
    /// Defaults from the core count: 64 calls in flight per core (commits mostly wait for the
    /// journal's flush, and more of them share one), one decision on the blocking pool per
    /// core, one heavy call per two cores (at least 1), 16 MiB messages.
    pub fn from_cores(cores: usize) -> Limits {
        let cores = cores.max(1);
        Limits {
            max_in_flight: 64 * cores,
            max_heavy: (cores / 2).max(1),
            max_decisions: cores,
            max_message_bytes: 16 << 20,
        }
    }
}

/// The deadline of a call (from `grpc-timeout`), in its extensions.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(pub Instant);

/// The tokens in force: `None` without an auth file. Swapped whole on SIGHUP.
pub type TokensInForce = Arc<ArcSwapOption<Tokens>>;

/// The envelope layer; clones share the tokens, the permits and the metric handles.
#[derive(Clone)]
pub struct Envelope {
    tokens: TokensInForce,
    in_flight: Arc<Semaphore>,
    heavy: Arc<Semaphore>,
    limits: Limits,
    counters: Arc<CallCounters>,
}

impl Envelope {
    /// The envelope; the metric handles are registered with the recorder installed now.
    pub fn new(tokens: TokensInForce, limits: Limits) -> Envelope {
        Envelope {
            tokens,
            in_flight: Arc::new(Semaphore::new(limits.max_in_flight.max(1))),
            heavy: Arc::new(Semaphore::new(limits.max_heavy.max(1))),
            limits,
            counters: Arc::new(CallCounters::new()),
        }
    }

    /// Who calls, or UNAUTHENTICATED: the first thing decided of every call that needs a role.
    fn authenticate(&self, req: &mut http::Request<Body>, rpc: &Rpc) -> Result<(), Status> {
        if rpc.role.is_none() {
            return Ok(());
        }
        let caller = match &*self.tokens.load() {
            Some(tokens) => access::authenticate(tokens, req.headers().get("authorization"))
                .inspect_err(|_| refused("unauthenticated"))?,
            None => Caller::anonymous(),
        };
        req.extensions_mut().insert(caller);
        Ok(())
    }

    /// Everything the envelope decides before the handler once the caller is known: the role,
    /// the deadline, the permits held for the call, or the status it is answered with.
    fn admit(
        &self,
        req: &mut http::Request<Body>,
        rpc: &Rpc,
    ) -> Result<Vec<OwnedSemaphorePermit>, Status> {
        let (Some(needed), Some(caller)) = (rpc.role, req.extensions().get::<Caller>()) else {
            return Ok(Vec::new());
        };
        let path = req.uri().path();
        caller
            .check(path, needed)
            .inspect_err(|_| refused("permission_denied"))?;
        if matches!(needed, Role::Router | Role::Inventory | Role::Admin) {
            access::audit(caller, path);
        }
        let deadline = match grpc_timeout(req.headers()) {
            Some(t) if t.is_zero() => {
                refused("deadline");
                return Err(Status::deadline_exceeded("the call's deadline had passed"));
            }
            t => t.map(|t| Deadline(Instant::now() + t)),
        };
        let permits = self.permits(rpc)?;
        if let Some(d) = deadline {
            req.extensions_mut().insert(d);
        }
        Ok(permits)
    }

    /// The permits a call holds, or RESOURCE_EXHAUSTED at once.
    fn permits(&self, rpc: &Rpc) -> Result<Vec<OwnedSemaphorePermit>, Status> {
        let mut held = Vec::with_capacity(2);
        if rpc.method == "StreamInventory" {
            return Ok(held);
        }
        let shed = |what: &str, limit: usize| {
            metrics::counter!("fulfil_calls_shed_total", "rpc" => rpc.method).increment(1);
            Status::resource_exhausted(format!(
                "the server is at its limit of {limit} {what} at once; retry with backoff"
            ))
        };
        if matches!(rpc.method, "Reoptimize" | "Simulate") {
            let p = self.heavy.clone().try_acquire_owned();
            held.push(p.map_err(|_| shed("Reoptimize and Simulate calls", self.limits.max_heavy))?);
        }
        let p = self.in_flight.clone().try_acquire_owned();
        held.push(p.map_err(|_| shed("calls", self.limits.max_in_flight))?);
        Ok(held)
    }
}

/// Counts a call refused by the envelope, by reason.
fn refused(reason: &'static str) {
    metrics::counter!("fulfil_calls_refused_total", "reason" => reason).increment(1);
}

impl<S> tower::Layer<S> for Envelope {
    type Service = EnvelopeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        EnvelopeService {
            inner,
            envelope: self.clone(),
        }
    }
}

/// The envelope around the server's routes.
#[derive(Clone)]
pub struct EnvelopeService<S> {
    inner: S,
    envelope: Envelope,
}

type BoxFuture<T> = Pin<Box<dyn std::future::Future<Output = T> + Send>>;

impl<S> tower::Service<http::Request<Body>> for EnvelopeService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let id = RequestId::of(req.headers());
        let index = rpcs::index(req.uri().path());
        let rpc = index.map_or(&rpcs::UNKNOWN, |i| &rpcs::RPCS[i]);
        connections::mark_used(req.extensions());
        if let Err(status) = self.envelope.authenticate(&mut req, rpc) {
            return refuse(status, &id, None);
        }
        let mut metrics = CallMetrics::start(&self.envelope.counters, index);
        let permits = match self.envelope.admit(&mut req, rpc) {
            Ok(p) => p,
            Err(status) => return refuse(status, &id, Some(metrics)),
        };
        let span = call_span(req.headers(), rpc, &id);
        req.extensions_mut().insert(id.clone());
        let limit = self.envelope.limits.max_message_bytes;
        let req = req.map(|body| Body::new(Guarded::limited(body, limit)));
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let call = async move {
            let mut response = inner.call(req).await?;
            undecodable_is_invalid(response.headers_mut());
            echo(&mut response, &id);
            metrics.finish_from_headers(response.headers());
            Ok(response.map(|body| Body::new(Guarded::holding(body, permits, metrics))))
        };
        Box::pin(tracing::Instrument::instrument(call, span))
    }
}

/// The answer to a call the envelope refused, with its metrics recorded when the caller was
/// known (a call without a valid token is counted only in `fulfil_calls_refused_total`).
fn refuse<E: Send + 'static>(
    status: Status,
    id: &RequestId,
    metrics: Option<CallMetrics>,
) -> BoxFuture<Result<http::Response<Body>, E>> {
    let mut response = status.into_http();
    if let Some(mut m) = metrics {
        m.finish_from_headers(response.headers());
    }
    echo(&mut response, id);
    Box::pin(async move { Ok(response) })
}

/// tonic answers a request message that is not valid protobuf INTERNAL (gRPC's own table
/// says so); here it is the caller's error, so INVALID_ARGUMENT, and INTERNAL stays for bugs.
fn undecodable_is_invalid(headers: &mut http::HeaderMap) {
    let undecodable = |m: &http::HeaderValue| {
        // Percent-encoded in the header, as gRPC says.
        let m = m.as_bytes();
        m.starts_with(b"failed%20to%20decode%20Protobuf%20message")
            || m.starts_with(b"failed to decode Protobuf message")
    };
    if headers.get("grpc-status").is_some_and(|v| v == "13")
        && headers.get("grpc-message").is_some_and(undecodable)
    {
        headers.insert("grpc-status", http::HeaderValue::from_static("3"));
    }
}

/// The call's request id, echoed in the response headers. Marked sensitive so that HPACK
/// sends it as a literal never indexed: a value seen once would only push the connection's
/// common headers out of its table (and indexing it costs a table insertion per call).
fn echo(response: &mut http::Response<Body>, id: &RequestId) {
    if let Ok(mut v) = http::HeaderValue::from_str(id.as_str()) {
        v.set_sensitive(true);
        response.headers_mut().insert("x-request-id", v);
    }
}

/// A body passed through unchanged but for the envelope's jobs: a request body checks each
/// gRPC message's length prefix as it streams past and fails with INVALID_ARGUMENT as soon as
/// one is above the limit (the 5-byte prefix: a compression flag, then the length, big endian),
/// so every message of a stream is limited; a response body holds the call's permits until it
/// is dropped and records the call's metrics when its status goes by (or it is dropped).
pub struct Guarded {
    body: Body,
    limit: Option<(usize, Framing)>,
    _permits: Vec<OwnedSemaphorePermit>,
    metrics: Option<CallMetrics>,
}

impl Guarded {
    /// A request body whose messages may be at most `limit` bytes.
    pub fn limited(body: Body, limit: usize) -> Guarded {
        Guarded {
            body,
            limit: Some((limit, Framing::default())),
            _permits: Vec::new(),
            metrics: None,
        }
    }

    /// A response body holding `permits` until it is dropped, recording `metrics`.
    fn holding(body: Body, permits: Vec<OwnedSemaphorePermit>, metrics: CallMetrics) -> Guarded {
        Guarded {
            body,
            limit: None,
            _permits: permits,
            metrics: Some(metrics),
        }
    }
}

/// Where a body is in its messages.
#[derive(Debug, Default)]
pub struct Framing {
    /// Bytes of the current prefix seen (0..5), and the prefix.
    prefix_len: usize,
    prefix: [u8; 5],
    /// Bytes of the current message still to come after its prefix.
    rest: u64,
}

impl Framing {
    /// Reads `chunk`; the length of the first message above `limit`, if one starts in it.
    pub fn read(&mut self, mut chunk: &[u8], limit: usize) -> Option<u64> {
        while !chunk.is_empty() {
            if self.rest > 0 {
                let skip = (self.rest.min(chunk.len() as u64)) as usize;
                self.rest -= skip as u64;
                chunk = &chunk[skip..];
                continue;
            }
            let take = (5 - self.prefix_len).min(chunk.len());
            self.prefix[self.prefix_len..self.prefix_len + take].copy_from_slice(&chunk[..take]);
            self.prefix_len += take;
            chunk = &chunk[take..];
            if self.prefix_len == 5 {
                self.prefix_len = 0;
                let [_, a, b, c, d] = self.prefix;
                let len = u32::from_be_bytes([a, b, c, d]);
                if len as u64 > limit as u64 {
                    return Some(len.into());
                }
                self.rest = len.into();
            }
        }
        None
    }
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if let Some(m) = this.metrics.as_mut() {
            m.observe(&polled);
        }
        let frame = match polled {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        if let (Some(data), Some((limit, framing))) = (frame.data_ref(), this.limit.as_mut())
            && let Some(len) = framing.read(data.chunk(), *limit)
        {
            refused("message_size");
            return Poll::Ready(Some(Err(Status::invalid_argument(format!(
                "a request message of {len} bytes is above the server's limit of {limit} bytes \
                 (--max-message-bytes)"
            )))));
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The `grpc-timeout` of a call: digits then a unit (H, M, S, m, u, n).
fn grpc_timeout(headers: &http::HeaderMap) -> Option<Duration> {
    let v = headers.get("grpc-timeout")?.to_str().ok()?;
    if v.len() < 2 || v.len() > 9 {
        return None;
    }
    let (digits, unit) = v.split_at(v.len() - 1);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(len: u32) -> Vec<u8> {
        let mut m = vec![0u8];
        m.extend_from_slice(&len.to_be_bytes());
        m.extend(std::iter::repeat_n(7u8, len as usize));
        m
    }

    #[test]
    fn framing_finds_the_first_message_above_the_limit_across_chunks() {
        let mut stream = message(10);
        stream.extend(message(3));
        stream.extend(message(40));
        for split in 0..stream.len() {
            let mut f = Framing::default();
            let (a, b) = stream.split_at(split);
            let found = f.read(a, 32).or_else(|| f.read(b, 32));
            assert_eq!(found, Some(40), "split at {split}");
        }
        let mut f = Framing::default();
        assert_eq!(f.read(&message(32), 32), None);
        assert_eq!((f.prefix_len, f.rest), (0, 0), "ends between messages");
    }

    #[test]
    fn grpc_timeouts_parse_by_unit() {
        let t = |v: &str| {
            let mut h = http::HeaderMap::new();
            h.insert("grpc-timeout", v.parse().expect("header"));
            grpc_timeout(&h)
        };
        assert_eq!(t("500m"), Some(Duration::from_millis(500)));
        assert_eq!(t("2S"), Some(Duration::from_secs(2)));
        assert_eq!(t("0n"), Some(Duration::ZERO));
        assert_eq!(t("5x"), None);
        assert_eq!(t("m"), None);
    }
}
