//! The Prometheus endpoint: `GET /metrics` on its own listener (HTTP/1.1, TLS when the server
//! has it), every other path 404. Served here rather than by the exporter's own listener so it
//! can share the server's TLS.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

type Response = hyper::Response<String>;

fn answer(handle: &PrometheusHandle, path: &str) -> Response {
    let (status, body) = match path {
        "/metrics" => (hyper::StatusCode::OK, handle.render()),
        _ => (
            hyper::StatusCode::NOT_FOUND,
            "not found: try /metrics\n".to_owned(),
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

/// Serves `/metrics` on `listener` while the server is `alive`, with upkeep of the histograms
/// every few seconds.
pub(super) async fn serve(
    listener: TcpListener,
    handle: PrometheusHandle,
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
                handle.run_upkeep();
                continue;
            }
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let handle = handle.clone();
        let tls = tls.as_ref().map(|c| TlsAcceptor::from(c.load_full()));
        tokio::spawn(async move {
            let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let r = answer(&handle, req.uri().path());
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
