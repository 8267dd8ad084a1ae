//! The operator's HTTP port (HTTP/1.1, TLS when the server has it): `GET /metrics` (Prometheus
//! text), `/healthz` (200 while the process serves HTTP at all: liveness), `/readyz` (200 while
//! the server's gRPC health is SERVING, 503 otherwise: readiness); every other path 404. Served
//! here rather than by the exporter's own listener so it can share the server's TLS.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;

use hyper_util::rt::TokioTimer;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio_stream::StreamExt;

use super::connections::{self, Budget, Tracked};
use super::telemetry::Exporter;
use super::tls;

type Response = hyper::Response<String>;

/// What the port answers from: the metrics and the readiness flag.
#[derive(Clone)]
pub(super) struct Endpoints {
    pub exporter: &'static Exporter,
    pub ready: Arc<AtomicBool>,
}

impl Endpoints {
    fn answer(&self, path: &str) -> Response {
        use hyper::StatusCode;
        let (status, body) = match path {
            "/metrics" => (StatusCode::OK, self.exporter.render()),
            "/healthz" => (StatusCode::OK, "ok\n".to_owned()),
            "/readyz" if self.ready.load(Ordering::Acquire) => {
                (StatusCode::OK, "SERVING\n".to_owned())
            }
            "/readyz" => (StatusCode::SERVICE_UNAVAILABLE, "NOT_SERVING\n".to_owned()),
            _ => (
                StatusCode::NOT_FOUND,
                "not found: try /metrics, /healthz or /readyz\n".to_owned(),
            ),
        };
        let mut r = hyper::Response::new(body);
        *r.status_mut() = status;
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain; version=0.0.4"),
        );
        r
    }
}

/// Serves the endpoints on `listener` within `budget` while the server is `alive`, with
/// upkeep of the histograms every few seconds. A connection must send its request headers
/// within `first_request` (hyper's header-read timeout; the budget's sweeper closes one that
/// never finishes its TLS handshake).
pub(super) async fn serve(
    listener: TcpListener,
    budget: Budget,
    endpoints: Endpoints,
    tls: Option<Arc<ArcSwap<rustls::ServerConfig>>>,
    alive: std::sync::Weak<()>,
    first_request: Duration,
) {
    let mut incoming = connections::incoming(listener, budget, false, move |stream| {
        let tls = tls.clone();
        async move {
            match tls {
                Some(config) => tls::handshake(&config, stream)
                    .await
                    .map(|s| Box::new(s) as Io),
                None => Some(Box::new(stream) as Io),
            }
        }
    });
    let mut upkeep = tokio::time::interval(Duration::from_secs(5));
    loop {
        let accepted = tokio::select! {
            _ = upkeep.tick() => {
                if alive.upgrade().is_none() {
                    break;
                }
                endpoints.exporter.run_upkeep();
                continue;
            }
            a = incoming.next() => a,
        };
        let Some(Ok(stream)) = accepted else {
            break;
        };
        tokio::spawn(connection(stream, endpoints.clone(), first_request));
    }
}

/// A plaintext or TLS connection of the port.
type Io = Box<dyn Stream>;

/// What a connection of the port is: bytes both ways.
trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// Serves one connection: HTTP/1.1 with a header-read timeout, the connection marked used at
/// its first request.
async fn connection(stream: Tracked<Io>, endpoints: Endpoints, first_request: Duration) {
    let conn = stream.conn().clone();
    let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        conn.mark_used();
        let r = endpoints.answer(req.uri().path());
        async move { Ok::<_, std::convert::Infallible>(r) }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(first_request);
    if let Err(e) = http.serve_connection(TokioIo::new(stream), svc).await {
        tracing::debug!("metrics connection: {e}");
    }
}
