//! What operators see, through the real binary: `/metrics` (names, gRPC labels, histogram
//! buckets, HELP, build and process metrics), `/healthz` and `/readyz`, JSON logs with the
//! request id of each committed call, the drain on SIGTERM, and OTLP traces reaching a real
//! OTLP/gRPC receiver.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fulfil::service::pb::{
    self, reservations_client::ReservationsClient, routing_client::RoutingClient,
};

use super::crash::{connect, spawn_logging};
use super::service::ship;
use super::support::root;

/// `fulfil serve` on c1-rules with `extra` flags and its stderr in `log`; its gRPC URL.
fn serve(data: &Path, extra: &[&str], log: Option<&Path>) -> (Child, String) {
    let stderr = match log {
        Some(p) => Stdio::from(std::fs::File::create(p).expect("log file")),
        None => Stdio::null(),
    };
    spawn_logging(data, extra, "info", stderr)
}

pub(super) fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    format!("127.0.0.1:{port}")
}

/// `GET path` on the metrics port: status code and body.
pub(super) fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let code = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    Some((code, body))
}

/// The samples of a Prometheus text body: `name{labels}` (labels as written) → value.
fn samples(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            Some((key.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// The value of the sample named `name` whose labels include every `label="value"` of `want`.
fn sample(all: &BTreeMap<String, f64>, name: &str, want: &[&str]) -> Option<f64> {
    all.iter()
        .find(|(k, _)| k.split('{').next() == Some(name) && want.iter().all(|w| k.contains(w)))
        .map(|(_, v)| *v)
}

fn commit(order: pb::Order, request_id: &str) -> tonic::Request<pb::RouteOrderRequest> {
    let mut r = tonic::Request::new(pb::RouteOrderRequest {
        order: Some(order),
        dry_run: false,
        explain: false,
        request_id: String::new(),
        policy: String::new(),
    });
    r.metadata_mut()
        .insert("x-request-id", request_id.parse().expect("ascii"));
    r
}

fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Waits for `child` to exit (at most `secs`); its exit status.
fn exit_within(child: &mut Child, secs: u64) -> std::process::ExitStatus {
    for _ in 0..secs * 20 {
        if let Some(s) = child.try_wait().expect("wait") {
            return s;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("the server did not exit within {secs} s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_have_grpc_labels_histogram_buckets_help_build_and_process() {
    let data = tempfile::tempdir().expect("temp");
    let metrics = free_addr();
    let (mut child, url) = serve(data.path(), &["--metrics-listen", &metrics], None);
    let ch = connect(&url).await;
    let mut routing = RoutingClient::new(ch.clone());
    let made = routing
        .route_order(commit(ship("m1", 40.73, -73.93, &[("A", 1)]), "m1"))
        .await
        .expect("commit")
        .into_inner();
    let node = made.decision.expect("decision").shipments[0]
        .node_id
        .clone();
    // A store system rejects it: the re-route is a decision too.
    ReservationsClient::new(ch.clone())
        .reject(pb::RejectRequest {
            reservation_id: made.reservation_id,
            node_id: node,
            request_id: "rj-1".into(),
            ..Default::default()
        })
        .await
        .expect("re-routed");
    let missing = ReservationsClient::new(ch)
        .get(pb::ReservationRef {
            reservation_id: "R-none".into(),
        })
        .await
        .expect_err("no such reservation");
    assert_eq!(missing.code(), tonic::Code::NotFound);
    let mut body = String::new();
    for _ in 0..100 {
        if let Some((200, b)) = get(&metrics, "/metrics") {
            body = b;
            if body.contains("grpc_method=\"Get\"") && body.contains("fulfil_reservations_held") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = samples(&body);
    let route = [
        "grpc_type=\"unary\"",
        "grpc_service=\"fulfil.v1.Routing\"",
        "grpc_method=\"RouteOrder\"",
        "grpc_code=\"OK\"",
    ];
    assert_eq!(
        sample(&all, "grpc_server_handled_total", &route),
        Some(1.0),
        "{body}"
    );
    let get_missing = ["grpc_method=\"Get\"", "grpc_code=\"NotFound\""];
    assert_eq!(
        sample(&all, "grpc_server_handled_total", &get_missing),
        Some(1.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &all,
            "grpc_server_started_total",
            &["grpc_method=\"RouteOrder\""]
        ),
        Some(1.0)
    );
    // A histogram with the documented buckets, cumulative, ending in +Inf = count.
    let mut last = 0.0;
    for le in fulfil::service::LATENCY_BUCKETS
        .iter()
        .map(|b| format!("le=\"{b}\""))
        .chain(["le=\"+Inf\"".to_owned()])
    {
        let mut want = route.to_vec();
        want.push(&le);
        let v = sample(&all, "grpc_server_handling_seconds_bucket", &want)
            .unwrap_or_else(|| panic!("bucket {le} missing:\n{body}"));
        assert!(v >= last, "buckets are cumulative");
        last = v;
    }
    assert_eq!(last, 1.0);
    assert_eq!(
        sample(&all, "grpc_server_handling_seconds_count", &route),
        Some(1.0)
    );
    for (name, kind) in [
        ("grpc_server_handling_seconds", "histogram"),
        ("grpc_server_handled_total", "counter"),
        ("fulfil_journal_fsync_seconds", "histogram"),
        ("fulfil_decisions_total", "counter"),
        ("fulfil_reservations_held", "gauge"),
    ] {
        assert!(
            body.contains(&format!("# HELP {name} ")),
            "HELP of {name}:\n{body}"
        );
        assert!(
            body.contains(&format!("# TYPE {name} {kind}")),
            "TYPE of {name}:\n{body}"
        );
    }
    let decided = [
        "rpc=\"RouteOrder\"",
        "mode=\"commit\"",
        "outcome=\"complete\"",
    ];
    assert_eq!(sample(&all, "fulfil_decisions_total", &decided), Some(1.0));
    let rerouted = ["rpc=\"Reject\"", "mode=\"commit\""];
    assert_eq!(
        sample(&all, "fulfil_decisions_total", &rerouted),
        Some(1.0),
        "{body}"
    );
    let version = format!("version=\"{}\"", env!("CARGO_PKG_VERSION"));
    assert_eq!(
        sample(&all, "fulfil_build_info", &[&version, "revision=\""]),
        Some(1.0)
    );
    assert!(sample(&all, "process_resident_memory_bytes", &[]).is_some_and(|v| v > 0.0));
    assert!(sample(&all, "fulfil_journal_segment_bytes", &[]).is_some_and(|v| v > 0.0));
    assert!(sample(&all, "fulfil_journal_fsync_seconds_count", &[]).is_some_and(|v| v >= 1.0));
    assert_eq!(get(&metrics, "/healthz").map(|r| r.0), Some(200));
    assert_eq!(get(&metrics, "/readyz").map(|r| r.0), Some(200));
    assert_eq!(get(&metrics, "/other").map(|r| r.0), Some(404));
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_carry_each_commit_with_its_request_id_and_outcome() {
    let data = tempfile::tempdir().expect("temp");
    let log = data.path().join("stderr.log");
    let (mut child, url) = serve(
        &data.path().join("d"),
        &["--log-format", "json"],
        Some(&log),
    );
    let mut routing = RoutingClient::new(connect(&url).await);
    let answer = routing
        .route_order(commit(ship("j1", 40.73, -73.93, &[("A", 1)]), "req-j1-42"))
        .await
        .expect("commit");
    let echoed = answer
        .metadata()
        .get("x-request-id")
        .map(|v| v.to_str().expect("ascii").to_owned());
    assert_eq!(echoed.as_deref(), Some("req-j1-42"), "request id echoed");
    let reservation = answer.into_inner().reservation_id;
    assert!(!reservation.is_empty());
    let refused = routing
        .route_order(commit(ship("j2", 40.73, -73.93, &[("NOPE", 1)]), "req-j2"))
        .await
        .expect_err("unknown SKU");
    assert_eq!(refused.code(), tonic::Code::NotFound);
    let generated = routing
        .route_order(tonic::Request::new(pb::RouteOrderRequest {
            order: Some(ship("j3", 40.73, -73.93, &[("A", 1)])),
            dry_run: false,
            explain: false,
            request_id: String::new(),
            policy: String::new(),
        }))
        .await
        .expect("commit");
    let made_up = generated
        .metadata()
        .get("x-request-id")
        .expect("an id made for the call");
    let made_up = made_up.to_str().expect("ascii").to_owned();
    sigterm(&child);
    assert!(exit_within(&mut child, 20).success());
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(
        !text.contains('\u{1b}'),
        "no ANSI colour in a file:\n{text}"
    );
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let call = |id: &str| {
        lines
            .iter()
            .find(|v| v["target"] == "fulfil::calls" && v["request_id"] == id)
            .unwrap_or_else(|| panic!("no call line for {id}:\n{text}"))
    };
    let ok = call("req-j1-42");
    assert_eq!(ok["rpc"], "RouteOrder");
    assert_eq!(ok["order_id"], "j1");
    assert_eq!(ok["reservation_id"], reservation.as_str());
    assert_eq!(ok["outcome"], "ok");
    assert_eq!(ok["level"], "INFO");
    let no = call("req-j2");
    assert_eq!(
        (no["outcome"].as_str(), no["code"].as_str()),
        (Some("refused"), Some("NotFound"))
    );
    assert_eq!(no["order_id"], "j2");
    assert_eq!(call(&made_up)["order_id"], "j3");
    assert!(
        lines.iter().any(|v| v["message"]
            .as_str()
            .is_some_and(|m| m.contains("NOT_SERVING"))),
        "shutdown said:\n{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_turns_health_not_serving_first_then_drains_within_the_timeout() {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let data = tempfile::tempdir().expect("temp");
    let metrics = free_addr();
    let flags = ["--metrics-listen", &metrics, "--drain-timeout-secs", "2"];
    let (mut child, url) = serve(data.path(), &flags, None);
    let mut health = HealthClient::new(connect(&url).await);
    // A watch stays open: the drain waits for it until the timeout.
    let mut watch = health
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("watch")
        .into_inner();
    let serving = tonic_health::pb::health_check_response::ServingStatus::Serving as i32;
    let first = watch.message().await.expect("stream").expect("a status");
    assert_eq!(first.status, serving);
    assert_eq!(get(&metrics, "/readyz").map(|r| r.0), Some(200));
    let sent = std::time::Instant::now();
    sigterm(&child);
    let next = watch
        .message()
        .await
        .expect("stream")
        .expect("a new status");
    assert_ne!(
        next.status, serving,
        "NOT_SERVING announced before the server stops"
    );
    assert_eq!(get(&metrics, "/readyz").map(|r| r.0), Some(503));
    assert!(exit_within(&mut child, 20).success());
    assert!(
        sent.elapsed() >= Duration::from_millis(1500),
        "drained for the timeout"
    );
}

#[test]
fn a_bad_log_filter_is_refused_by_name() {
    let out = Command::new(env!("CARGO_BIN_EXE_fulfil"))
        .args(["serve", "--listen", "127.0.0.1:0", "--scenario"])
        .arg(root().join("tests/conformance/c1-rules"))
        .env("FULFIL_LOG", "fulfil=loudest")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("FULFIL_LOG=\"fulfil=loudest\""), "{err}");
}

#[test]
fn version_names_the_git_revision() {
    let out = Command::new(env!("CARGO_BIN_EXE_fulfil"))
        .arg("--version")
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(&format!("fulfil {} (", env!("CARGO_PKG_VERSION"))),
        "{text}"
    );
    let rev = text
        .trim()
        .rsplit_once('(')
        .map(|(_, r)| r.trim_end_matches(')'));
    assert!(rev.is_some_and(|r| r.len() >= 7), "{text}");
}

/// An OTLP/gRPC trace receiver (the collector's protocol, from the OpenTelemetry protos) that
/// keeps each span's name, trace id and parent span id.
#[derive(Default, Clone)]
struct Receiver {
    spans: std::sync::Arc<std::sync::Mutex<Vec<Span>>>,
}

/// A received span: name, trace id, span id, parent span id.
type Span = (String, Vec<u8>, Vec<u8>, Vec<u8>);

#[tonic::async_trait]
impl opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceService
    for Receiver
{
    async fn export(
        &self,
        request: tonic::Request<
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest,
        >,
    ) -> Result<
        tonic::Response<
            opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse,
        >,
        tonic::Status,
    > {
        let mut spans = self.spans.lock().expect("lock");
        for r in request.into_inner().resource_spans {
            for s in r.scope_spans.into_iter().flat_map(|s| s.spans) {
                spans.push((s.name, s.trace_id, s.span_id, s.parent_span_id));
            }
        }
        Ok(tonic::Response::new(Default::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_reach_an_otlp_receiver_with_decide_commit_and_fsync_under_the_call() {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::TraceServiceServer;
    let receiver = Receiver::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(receiver.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    let data = tempfile::tempdir().expect("temp");
    let (mut child, url) = serve(data.path(), &["--otlp-endpoint", &endpoint], None);
    let mut routing = RoutingClient::new(connect(&url).await);
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut request = commit(ship("t1", 40.73, -73.93, &[("A", 1)]), "t1");
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace}-00f067aa0ba902b7-01")
            .parse()
            .expect("ascii"),
    );
    routing.route_order(request).await.expect("commit");
    sigterm(&child);
    assert!(exit_within(&mut child, 30).success());
    let spans = receiver.spans.lock().expect("lock").clone();
    let find = |name: &str| {
        spans.iter().find(|s| s.0 == name).unwrap_or_else(|| {
            panic!(
                "no {name} span among {:?}",
                spans.iter().map(|s| &s.0).collect::<Vec<_>>()
            )
        })
    };
    let call = find("grpc");
    assert_eq!(
        hex::encode(&call.1),
        trace,
        "the call continues the client's trace"
    );
    for child_span in ["decide", "commit"] {
        let s = find(child_span);
        assert_eq!(s.1, call.1, "{child_span} in the call's trace");
        assert_eq!(s.3, call.2, "{child_span} is a child of the call");
    }
    find("journal_fsync");
}
