//! What is recorded of every call: its request id (the client's `x-request-id`, or one made
//! here; echoed back in the response headers), its gRPC metrics (`grpc_server_*`, labelled as
//! go-grpc-prometheus and its dashboards expect, recorded when the response ends so the code is
//! the one the client saw), its tracing span, and for calls that change state one log line
//! ([`CallLog`]) with the order, the reservation and the outcome.

use std::sync::{Arc, OnceLock};
use std::task::Poll;
use std::time::Instant;

use bytes::Bytes;
use http_body::Frame;
use metrics::{Counter, Histogram};
use tonic::{Code, Status};

use super::rpcs::{self, Rpc};

/// The request id of a call, in its request extensions.
#[derive(Clone, Debug)]
pub struct RequestId(pub Arc<str>);

impl RequestId {
    /// The client's `x-request-id` when it is 1–128 visible ASCII characters, else a new one
    /// (16 hex digits).
    pub fn of(headers: &http::HeaderMap) -> RequestId {
        let given = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()));
        RequestId(match given {
            Some(v) => v.into(),
            None => format!("{:016x}", rand::random::<u64>()).into(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The span of a call (`grpc`, at debug level: exported as a trace when `--otlp-endpoint` is
/// set, silent otherwise), a child of the client's trace when its `traceparent` header has one.
pub fn call_span(headers: &http::HeaderMap, rpc: &Rpc, id: &RequestId) -> tracing::Span {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    let span = tracing::debug_span!(
        "grpc",
        rpc = rpc.method,
        service = rpc.service,
        request_id = id.as_str()
    );
    if !span.is_disabled() && headers.contains_key("traceparent") {
        let parent =
            opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)));
        let _ = span.set_parent(parent);
    }
    span
}

/// Request headers as OpenTelemetry's propagators read them.
struct Headers<'a>(&'a http::HeaderMap);

impl opentelemetry::propagation::Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// The handles of the `grpc_server_*` metrics, made once per server for every method of the
/// table ([`rpcs::RPCS`]) and [`rpcs::UNKNOWN`], each code's pair made on its first use: a call
/// looks its labels up by index, builds no label and allocates nothing, and the series are
/// bounded by the table whatever paths callers send.
pub struct CallCounters {
    per_rpc: Vec<RpcCounters>,
}

struct RpcCounters {
    rpc: &'static Rpc,
    started: Counter,
    handled: [OnceLock<(Counter, Histogram)>; 17],
}

impl CallCounters {
    /// The handles, registered with the recorder installed now.
    pub fn new() -> CallCounters {
        let per_rpc = rpcs::RPCS
            .iter()
            .chain(std::iter::once(&rpcs::UNKNOWN))
            .map(|rpc| RpcCounters {
                rpc,
                started: metrics::counter!("grpc_server_started_total", &labels(rpc)),
                handled: Default::default(),
            })
            .collect();
        CallCounters { per_rpc }
    }
}

fn labels(rpc: &'static Rpc) -> [(&'static str, &'static str); 3] {
    [
        ("grpc_type", rpc.kind),
        ("grpc_service", rpc.service),
        ("grpc_method", rpc.method),
    ]
}

/// The gRPC metrics of one call, recorded once: when its status is known, or as `Canceled`
/// when the response is dropped before.
pub struct CallMetrics {
    counters: Arc<CallCounters>,
    /// The call's method in the table (its last entry: unknown).
    rpc: usize,
    start: Instant,
    done: bool,
}

impl CallMetrics {
    /// Counts the call of the method at `rpc` ([`rpcs::index`], `None`: unknown) as started.
    pub fn start(counters: &Arc<CallCounters>, rpc: Option<usize>) -> CallMetrics {
        let rpc = rpc.unwrap_or(counters.per_rpc.len() - 1);
        counters.per_rpc[rpc].started.increment(1);
        CallMetrics {
            counters: counters.clone(),
            rpc,
            start: Instant::now(),
            done: false,
        }
    }

    /// Records the call's end with `code`.
    pub fn finish(&mut self, code: Code) {
        if std::mem::replace(&mut self.done, true) {
            return;
        }
        let per = &self.counters.per_rpc[self.rpc];
        let (handled, seconds) = per.handled[code as usize % 17].get_or_init(|| {
            let [a, b, c] = labels(per.rpc);
            let l = [a, b, c, ("grpc_code", code_name(code))];
            (
                metrics::counter!("grpc_server_handled_total", &l),
                metrics::histogram!("grpc_server_handling_seconds", &l),
            )
        });
        handled.increment(1);
        seconds.record(self.start.elapsed().as_secs_f64());
    }

    /// Looks at what a response body gave: its trailers (with the status), its error, or its
    /// end.
    pub fn observe(&mut self, polled: &Poll<Option<Result<Frame<Bytes>, Status>>>) {
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    self.finish_from_headers(trailers);
                }
            }
            Poll::Ready(Some(Err(status))) => self.finish(status.code()),
            Poll::Ready(None) => self.finish(Code::Ok),
            Poll::Pending => {}
        }
    }

    /// Records the end of a response that carries its status in its headers (an error answered
    /// without a body); true if it did.
    pub fn finish_from_headers(&mut self, headers: &http::HeaderMap) -> bool {
        match status_in(headers) {
            Some(code) => {
                self.finish(code);
                true
            }
            None => false,
        }
    }
}

impl Drop for CallMetrics {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}

/// The status code in `grpc-status`, if present.
fn status_in(headers: &http::HeaderMap) -> Option<Code> {
    let v = headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .parse::<i32>()
        .ok()?;
    Some(Code::from_i32(v))
}

/// A code's name as gRPC's Go implementation (and so Prometheus dashboards) spells it.
fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "Canceled",
        Code::Unknown => "Unknown",
        Code::InvalidArgument => "InvalidArgument",
        Code::DeadlineExceeded => "DeadlineExceeded",
        Code::NotFound => "NotFound",
        Code::AlreadyExists => "AlreadyExists",
        Code::PermissionDenied => "PermissionDenied",
        Code::ResourceExhausted => "ResourceExhausted",
        Code::FailedPrecondition => "FailedPrecondition",
        Code::Aborted => "Aborted",
        Code::OutOfRange => "OutOfRange",
        Code::Unimplemented => "Unimplemented",
        Code::Internal => "Internal",
        Code::Unavailable => "Unavailable",
        Code::DataLoss => "DataLoss",
        Code::Unauthenticated => "Unauthenticated",
    }
}

/// Counts decisions in `fulfil_decisions_total` by rpc, mode and outcome.
pub fn count_decisions<'a>(
    rpc: &'static str,
    dry_run: bool,
    decisions: impl IntoIterator<Item = &'a crate::model::Decision>,
) {
    let mut counts = [0u64; 3];
    for d in decisions {
        counts[if d.backordered.is_empty() {
            0
        } else if d.shipments.is_empty() {
            2
        } else {
            1
        }] += 1;
    }
    let mode = if dry_run { "dry_run" } else { "commit" };
    for (n, outcome) in counts
        .into_iter()
        .zip(["complete", "partial", "backordered"])
    {
        if n > 0 {
            metrics::counter!("fulfil_decisions_total", "rpc" => rpc, "mode" => mode,
                "outcome" => outcome)
            .increment(n);
        }
    }
}

/// The log line of a call that changes state: `target=fulfil::calls`, with the rpc, the request
/// id, the order and reservation it concerns, and its outcome — `ok` (info), `refused` (warn:
/// the request was wrong or not allowed now) or `failed` (error: the server could not do it).
pub struct CallLog {
    rpc: &'static str,
    request_id: Option<RequestId>,
}

impl CallLog {
    /// The log of `request`'s call, named `rpc`.
    pub fn of<T>(rpc: &'static str, request: &tonic::Request<T>) -> CallLog {
        CallLog {
            rpc,
            request_id: request.extensions().get::<RequestId>().cloned(),
        }
    }

    /// The rpc's name.
    pub fn rpc(&self) -> &'static str {
        self.rpc
    }

    /// Runs `work` and writes its line (no order or reservation: a network or inventory call).
    pub async fn around<T>(
        self,
        work: impl std::future::Future<Output = Result<T, Status>>,
    ) -> Result<T, Status> {
        let result = work.await;
        self.done(&result, "", "");
        result
    }

    /// Writes the line: `order_id` and `reservation_id` as known (empty: none).
    pub fn done<T>(&self, result: &Result<T, Status>, order_id: &str, reservation_id: &str) {
        let request_id = self.request_id.as_ref().map_or("", RequestId::as_str);
        let rpc = self.rpc;
        match result {
            Ok(_) => tracing::info!(
                target: "fulfil::calls", rpc, request_id, order_id, reservation_id,
                outcome = "ok", "{rpc} done"
            ),
            Err(s) if is_refusal(s.code()) => tracing::warn!(
                target: "fulfil::calls", rpc, request_id, order_id, reservation_id,
                outcome = "refused", code = code_name(s.code()), reason = s.message(),
                "{rpc} refused"
            ),
            Err(s) => tracing::error!(
                target: "fulfil::calls", rpc, request_id, order_id, reservation_id,
                outcome = "failed", code = code_name(s.code()), reason = s.message(),
                "{rpc} failed"
            ),
        }
    }
}

/// Codes that say the request was wrong or not allowed now, rather than that the server failed.
fn is_refusal(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unauthenticated
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Cancelled
            | Code::DeadlineExceeded
    )
}
