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

use super::telemetry::Exporter;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

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

/// Serves the endpoints on `listener` while the server is `alive`, with upkeep of the
/// histograms every few seconds.
pub(super) async fn serve(
    listener: TcpListener,
    endpoints: Endpoints,
    tls: Option<Arc<ArcSwap<rustls::ServerConfig>>>,
    alive: std::sync::Weak<()>,
) {
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
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let endpoints = endpoints.clone();
        let tls = tls.as_ref().map(|c| TlsAcceptor::from(c.load_full()));
        tokio::spawn(async move {
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let r = endpoints.answer(req.uri().path());
                async move { Ok::<_, std::convert::Infallible>(r) }
            });
            let http = hyper::server::conn::http1::Builder::new();
            let served = match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => http.serve_connection(TokioIo::new(s), svc).await,
                    Err(_) => return,
                },
                None => http.serve_connection(TokioIo::new(stream), svc).await,
            };
            if let Err(e) = served {
                tracing::debug!("metrics connection: {e}");
            }
        });
    }
}
