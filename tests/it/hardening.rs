//! The server under hostile and heavy traffic, through real servers on 127.0.0.1:0: metrics no
//! caller can inflate, silent connections that cannot lock clients out (under a real open-file
//! limit, plaintext and TLS, both ports), a full-speed inventory feed of small HTTP/2 frames,
//! a token revoked mid-stream, hostile ids and garbage protobuf, the three whole-file journal
//! losses refused, and a restart on a full disk.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fulfil::service::Role;
use fulfil::service::pb::{
    self, network_client::NetworkClient, reservations_client::ReservationsClient,
    routing_client::RoutingClient,
};
use prost::Message;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::Code;
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

use super::crash::{commit, connect};
use super::envelope::{Pki, Tmpfs, auth_file, becomes, c1, fill, hangup};
use super::service::{ship, start_with};

/// The body of `GET /metrics` on `addr`.
fn metrics_text(addr: std::net::SocketAddr) -> String {
    super::ops::get(&addr.to_string(), "/metrics")
        .expect("scrape")
        .1
}

/// One gRPC call to `path` with `payload` as its message (whatever bytes) on a fresh HTTP/2
/// connection, with `token` if given: the grpc-status and grpc-message of the answer.
async fn raw_call(
    addr: std::net::SocketAddr,
    path: &str,
    payload: &[u8],
    token: Option<&str>,
) -> (i32, String) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (mut client, conn) = h2::client::handshake(tcp).await.expect("h2");
    tokio::spawn(conn);
    let mut req = http::Request::builder()
        .method("POST")
        .uri(format!("http://{addr}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let (response, mut send) = client
        .send_request(req.body(()).expect("request"), false)
        .expect("send");
    let _ = send.send_data(grpc_frame(payload), true);
    let response = response.await.expect("response");
    let status = |h: &http::HeaderMap| {
        let code = h.get("grpc-status")?.to_str().ok()?.parse().ok()?;
        let msg = h
            .get("grpc-message")
            .and_then(|m| m.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Some((code, msg))
    };
    if let Some(s) = status(response.headers()) {
        return s;
    }
    let mut body = response.into_body();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("body");
        let _ = body.flow_control().release_capacity(chunk.len());
    }
    let trailers = body.trailers().await.expect("trailers").unwrap_or_default();
    status(&trailers).unwrap_or((-1, String::new()))
}

/// A gRPC message frame: no compression, the length big endian, the bytes.
fn grpc_frame(payload: &[u8]) -> Bytes {
    let mut frame = Vec::with_capacity(payload.len() + 5);
    frame.push(0);
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    frame.into()
}

/// `fulfil serve` on c1-rules with `extra` flags, started through `sh` so that its open-file
/// limit can be set first (`ulimit`); the child, its gRPC address and its stderr log.
fn spawn_sh(extra: &[&str], prelude: &str) -> (Child, std::net::SocketAddr, tempfile::TempDir) {
    spawn_sh_on(&c1(), extra, prelude)
}

/// As [`spawn_sh`], on the scenario at `scenario`.
fn spawn_sh_on(
    scenario: &Path,
    extra: &[&str],
    prelude: &str,
) -> (Child, std::net::SocketAddr, tempfile::TempDir) {
    use std::io::BufRead;
    let logs = tempfile::tempdir().expect("temp");
    let log = std::fs::File::create(logs.path().join("stderr.log")).expect("log");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("{prelude} exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_fulfil"))
        .args(["serve", "--listen", "127.0.0.1:0", "--scenario"])
        .arg(scenario)
        .args(extra)
        .env("FULFIL_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("fulfil serve starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("listening line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| {
            let log = std::fs::read_to_string(logs.path().join("stderr.log")).unwrap_or_default();
            panic!("unexpected first line `{line}`: {log}")
        })
        .parse()
        .expect("address");
    (child, addr, logs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokenless_calls_to_made_up_paths_cannot_grow_the_metrics() {
    let dir = tempfile::tempdir().expect("temp");
    let (auth, tokens) = auth_file(dir.path());
    let metrics = super::ops::free_addr();
    let auth = auth.display().to_string();
    let (mut child, addr, _logs) =
        spawn_sh(&["--auth-file", &auth, "--metrics-listen", &metrics], "");
    let metrics: std::net::SocketAddr = metrics.parse().expect("addr");
    let reader = tokens
        .iter()
        .find(|(r, _)| *r == Role::Reader)
        .map(|(_, t)| t.clone())
        .expect("reader");
    // One real call first, so its series exist before the baseline.
    let info = "/fulfil.v1.Network/GetSnapshotInfo";
    let (code, _) = raw_call(addr, info, &[], Some(&reader)).await;
    assert_eq!(code, 0);
    let before = metrics_text(metrics).len();
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let (client, conn) = h2::client::handshake(tcp).await.expect("h2");
    tokio::spawn(conn);
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..10_000u32 {
        let path = if i % 2 == 0 {
            format!("/made.up.Service{i}/Method{i}")
        } else {
            format!("/fulfil.v1.Routing/NoSuchMethod{i}")
        };
        let mut client = client.clone().ready().await.expect("ready");
        let req = http::Request::builder()
            .method("POST")
            .uri(format!("http://{addr}{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .expect("request");
        let (response, mut send) = client.send_request(req, false).expect("send");
        // The server may have answered (and closed the stream) already.
        let _ = send.send_data(grpc_frame(&[]), true);
        calls.spawn(async move {
            let r = response.await.unwrap_or_else(|e| panic!("answer: {e:?}"));
            r.headers()
                .get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i32>().ok())
        });
        while calls.len() > 64 {
            let code = calls.join_next().await.expect("a call").expect("task");
            assert_eq!(code, Some(Code::Unauthenticated as i32));
        }
    }
    while let Some(code) = calls.join_next().await {
        assert_eq!(code.expect("task"), Some(Code::Unauthenticated as i32));
    }
    let after = metrics_text(metrics);
    assert!(
        after.len() <= before + (64 << 10),
        "metrics grew from {before} to {} bytes",
        after.len()
    );
    assert!(!after.contains("NoSuchMethod") && !after.contains("made.up"));
    assert!(
        after.contains("fulfil_calls_refused_total{reason=\"unauthenticated\"} 10000"),
        "refusals are counted in one series"
    );
    // With a token, a made-up method is counted under one `unknown` label.
    for i in 0..20 {
        let path = format!("/fulfil.v1.Routing/Nope{i}");
        let (code, _) = raw_call(addr, &path, &[], Some(&reader)).await;
        assert_eq!(code, Code::Unimplemented as i32);
    }
    let text = metrics_text(metrics);
    assert!(!text.contains("Nope"), "no label from a made-up path");
    assert!(text.contains("grpc_method=\"unknown\""));
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_speed_inventory_feed_of_small_frames_is_applied_whole_and_in_order() {
    const CHANGES: u64 = 200_000;
    let data = tempfile::tempdir().expect("temp");
    let server = start_with(&c1(), |c| c.live.data_dir = Some(data.path().to_owned())).await;
    let tcp = TcpStream::connect(server.addr).await.expect("connect");
    let (client, conn) = h2::client::handshake(tcp).await.expect("h2");
    let goaway = tokio::spawn(conn);
    let mut client = client.ready().await.expect("ready");
    let req = http::Request::builder()
        .method("POST")
        .uri(format!(
            "http://{}/fulfil.v1.Network/StreamInventory",
            server.addr
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(())
        .expect("request");
    let (response, mut send) = client.send_request(req, false).expect("send");
    // Each change its own DATA frame, as fast as flow control lets them go: the set on-hand
    // level is the change's number, so the last one applied is the last one sent.
    for seq in 1..=CHANGES {
        let change = pb::InventoryChange {
            node_id: "ST-LA".into(),
            sku: "A".into(),
            change: Some(pb::inventory_change::Change::SetOnHand(seq as u32)),
            safety_stock: None,
            source: "count".into(),
            sequence: seq,
        };
        let frame = grpc_frame(&change.encode_to_vec());
        send.reserve_capacity(frame.len());
        while send.capacity() < frame.len() {
            match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
                Some(Ok(_)) => {}
                other => panic!("the server closed the stream after {seq} changes: {other:?}"),
            }
        }
        send.send_data(frame, false).expect("send");
    }
    send.send_data(Bytes::new(), true).expect("end");
    let response = response.await.expect("response");
    let mut body = response.into_body();
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.expect("body");
        let _ = body.flow_control().release_capacity(chunk.len());
        bytes.extend_from_slice(&chunk);
    }
    let trailers = body.trailers().await.expect("trailers").unwrap_or_default();
    assert_eq!(
        trailers.get("grpc-status").map(|v| v.as_bytes()),
        Some(&b"0"[..]),
        "{trailers:?}"
    );
    let answer = pb::StreamInventoryResponse::decode(&bytes[5..]).expect("answer");
    assert_eq!(answer.applied, CHANGES, "{answer:?}");
    assert_eq!(answer.skipped_repeats, 0);
    assert!(!goaway.is_finished(), "the connection is still open");
    server.stop().await.expect("stops");
    // Every change is in the journal once, in the order sent.
    let recovered = fulfil::reserve::journal::recover(
        data.path(),
        fulfil::reserve::journal::RecoverMode::Refuse,
    )
    .expect("recovers");
    let levels: Vec<u32> = recovered
        .records
        .iter()
        .filter_map(|r| match r {
            fulfil::reserve::journal::Record::Inventory {
                set_on_hand: Some(v),
                source,
                ..
            } if source == "count" => Some(*v),
            _ => None,
        })
        .collect();
    assert_eq!(levels.len() as u64, CHANGES);
    assert!(levels.iter().zip(1..).all(|(&v, i)| v == i), "in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_revoked_mid_stream_ends_the_stream_and_nothing_after_is_applied() {
    let dir = tempfile::tempdir().expect("temp");
    let (auth, tokens) = auth_file(dir.path());
    let server = start_with(&c1(), |c| c.auth_file = Some(auth.clone())).await;
    let ch = super::service::channel(&server).await;
    let token = |role: Role| {
        tokens
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, t)| t.clone())
            .expect("token")
    };
    let with = |msg, role| super::envelope::with_token(msg, Some(&token(role)));
    let reader = token(Role::Reader);
    let mut network = NetworkClient::new(ch.clone());
    let version = |mut n: NetworkClient<Channel>| {
        let reader = reader.clone();
        async move {
            n.get_snapshot_info(super::envelope::with_token(
                pb::SnapshotInfoRequest {},
                Some(&reader),
            ))
            .await
            .expect("info")
            .into_inner()
            .version
        }
    };
    let start = version(network.clone()).await;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let feed = super::envelope::with_token(
        tokio_stream::wrappers::ReceiverStream::new(rx),
        Some(&token(Role::Inventory)),
    );
    let mut stream_client = network.clone();
    let call = tokio::spawn(async move { stream_client.stream_inventory(feed).await });
    let change = |seq: u64| pb::InventoryChange {
        node_id: "ST-LA".into(),
        sku: "A".into(),
        change: Some(pb::inventory_change::Change::Adjust(1)),
        safety_stock: None,
        source: "wms".into(),
        sequence: seq,
    };
    tx.send(change(1)).await.expect("send");
    let mut applied = start;
    for _ in 0..100 {
        applied = version(network.clone()).await;
        if applied > start {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(applied > start, "the first change was applied");
    // The inventory token is removed from the file and the server told to reload.
    let text = std::fs::read_to_string(&auth).expect("read");
    let kept: String = text
        .split("[[token]]")
        .filter(|t| !t.trim().is_empty() && !t.contains("\"inventory\""))
        .map(|t| format!("[[token]]{t}"))
        .collect();
    std::fs::write(&auth, kept).expect("write");
    hangup();
    let mut revoked = false;
    for _ in 0..100 {
        let r = network
            .get_snapshot_info(with(pb::SnapshotInfoRequest {}, Role::Inventory))
            .await;
        if r.is_err_and(|e| e.code() == Code::Unauthenticated) {
            revoked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(revoked, "the reload took the token away");
    for seq in 2..=6 {
        if tx.send(change(seq)).await.is_err() {
            break;
        }
    }
    let err = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the stream ends")
        .expect("task")
        .expect_err("revoked");
    assert_eq!(err.code(), Code::Unauthenticated, "{}", err.message());
    assert_eq!(
        version(network.clone()).await,
        applied,
        "nothing sent after the revocation was applied"
    );
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_ids_are_refused_echoes_are_clipped_and_garbage_is_invalid_argument() {
    let server = start_with(&c1(), |_| {}).await;
    let mut routing = RoutingClient::new(super::service::channel(&server).await);
    let dry = |order: pb::Order| pb::RouteOrderRequest {
        order: Some(order),
        dry_run: true,
        ..Default::default()
    };
    let huge = pb::Order {
        order_id: "o".repeat(5 << 20),
        ..ship("x", 40.73, -73.93, &[("A", 1)])
    };
    let err = routing.route_order(dry(huge)).await.expect_err("5 MB id");
    assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    assert!(err.message().starts_with("order.order_id: 5242880 bytes"));
    assert!(err.message().len() < 300, "{} bytes", err.message().len());
    let big_sku = "S".repeat(1 << 20);
    let err = routing
        .route_order(dry(ship("x", 40.73, -73.93, &[(&big_sku, 1)])))
        .await
        .expect_err("1 MiB SKU");
    assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    assert!(
        err.message()
            .starts_with("order.lines[0].sku: 1048576 bytes")
    );
    let unknown = "U".repeat(200);
    let err = routing
        .route_order(dry(ship("x", 40.73, -73.93, &[(&unknown, 1)])))
        .await
        .expect_err("unknown SKU");
    assert_eq!(err.code(), Code::NotFound, "{}", err.message());
    assert!(
        err.message().contains(&format!("{}…", "U".repeat(64))),
        "{}",
        err.message()
    );
    assert!(!err.message().contains(&"U".repeat(65)));
    let err = routing
        .route_order(dry(ship("a\u{7}b", 40.73, -73.93, &[("A", 1)])))
        .await
        .expect_err("control character");
    assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    // Bytes that are not protobuf: the caller's error, never INTERNAL.
    let (code, msg) = raw_call(
        server.addr,
        "/fulfil.v1.Routing/RouteOrder",
        &[0xff; 12],
        None,
    )
    .await;
    assert_eq!(code, Code::InvalidArgument as i32, "{msg}");
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(26);
    let paths = [
        "/fulfil.v1.Routing/RouteOrder",
        "/fulfil.v1.Routing/RouteBatch",
        "/fulfil.v1.Reservations/Get",
        "/fulfil.v1.Network/UpsertNodes",
    ];
    for i in 0..240 {
        let len = rng.random_range(1..64);
        let payload: Vec<u8> = (0..len).map(|_| rng.random()).collect();
        let (code, msg) = raw_call(server.addr, paths[i % paths.len()], &payload, None).await;
        assert!(
            code != Code::Internal as i32 && code != Code::Unknown as i32 && code >= 0,
            "call {i}: {code} {msg}"
        );
    }
    // The inventory stream: a garbage message ends it with INVALID_ARGUMENT.
    let (code, msg) = raw_call(
        server.addr,
        "/fulfil.v1.Network/StreamInventory",
        &[0xff; 12],
        None,
    )
    .await;
    assert_eq!(code, Code::InvalidArgument as i32, "{msg}");
    server.stop().await.expect("stops");
}

#[test]
fn a_start_up_error_is_printed_once() {
    for flag in ["--auth-file", "--tls-cert"] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_fulfil"));
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--scenario"])
            .arg(c1())
            .args([flag, "/nonexistent/file.pem"]);
        if flag == "--tls-cert" {
            cmd.args(["--tls-key", "/nonexistent/key.pem"]);
        }
        let out = cmd.output().expect("runs");
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        let error_line = stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("{stderr}"));
        assert_eq!(
            error_line.matches("/nonexistent/").count(),
            1,
            "{flag}: {error_line}"
        );
        assert_eq!(
            error_line.matches("No such file").count(),
            1,
            "{flag}: {error_line}"
        );
    }
}

/// A TLS client config trusting `pki`'s CA.
fn tls_client(pki: &Pki) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(pki.ca.as_bytes()) {
        roots.add(c.expect("CA")).expect("add");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// `n` connections to `addr` that say nothing: plain TCP, or (every other one, with `tls`) a
/// finished TLS handshake and then nothing. Kept open by the caller.
async fn silent(
    addr: std::net::SocketAddr,
    n: usize,
    tls: Option<&tokio_rustls::TlsConnector>,
) -> Vec<Box<dyn std::any::Any + Send>> {
    let mut held: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
    let mut handshakes = tokio::task::JoinSet::new();
    for i in 0..n {
        let connect = tokio::time::timeout(Duration::from_secs(1), TcpStream::connect(addr));
        let Ok(Ok(tcp)) = connect.await else {
            continue;
        };
        match tls {
            Some(connector) if i % 2 == 1 => {
                let connector = connector.clone();
                handshakes.spawn(async move {
                    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
                    tokio::time::timeout(Duration::from_secs(3), connector.connect(name, tcp))
                        .await
                        .ok()
                        .and_then(Result::ok)
                });
            }
            _ => held.push(Box::new(tcp)),
        }
    }
    while let Some(done) = handshakes.join_next().await {
        if let Some(s) = done.expect("task") {
            held.push(Box::new(s));
        }
    }
    held
}

/// `GET path` on the metrics port, through TLS with `tls`: the status line's code.
async fn http_get(
    addr: std::net::SocketAddr,
    path: &str,
    tls: Option<&tokio_rustls::TlsConnector>,
) -> std::io::Result<(u16, String)> {
    let tcp = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    let mut text = String::new();
    match tls {
        Some(connector) => {
            let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
            let mut s = connector.connect(name, tcp).await?;
            s.write_all(request.as_bytes()).await?;
            s.read_to_string(&mut text).await?;
        }
        None => {
            let mut s = tcp;
            s.write_all(request.as_bytes()).await?;
            s.read_to_string(&mut text).await?;
        }
    }
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((code, text))
}

/// A gRPC health check through a new connection (TLS with `pki`): the server's status.
async fn health_of(addr: std::net::SocketAddr, pki: Option<&Pki>) -> Result<i32, String> {
    let endpoint = match pki {
        Some(p) => Channel::from_shared(format!("https://{addr}"))
            .expect("uri")
            .tls_config(
                ClientTlsConfig::new()
                    .ca_certificate(Certificate::from_pem(&p.ca))
                    .domain_name("localhost"),
            )
            .expect("tls"),
        None => Channel::from_shared(format!("http://{addr}")).expect("uri"),
    };
    let ch = endpoint.connect().await.map_err(|e| format!("{e:?}"))?;
    let mut health = tonic_health::pb::health_client::HealthClient::new(ch);
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .map(|r| r.into_inner().status)
        .map_err(|e| format!("{e:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_under_a_low_open_file_limit_never_lock_a_new_client_out() {
    let pki = Pki::new();
    for tls in [false, true] {
        let metrics = super::ops::free_addr();
        let (cert, key) = (pki.path("server.pem"), pki.path("server.key"));
        let (cert, key) = (cert.display().to_string(), key.display().to_string());
        let mut extra = vec!["--metrics-listen", metrics.as_str()];
        if tls {
            extra.extend(["--tls-cert", cert.as_str(), "--tls-key", key.as_str()]);
        }
        let (mut child, addr, logs) = spawn_sh(&extra, "ulimit -n 160 &&");
        let metrics: std::net::SocketAddr = metrics.parse().expect("addr");
        let connector = tls_client(&pki);
        let connector = tls.then_some(&connector);
        let pki = tls.then_some(&pki);
        assert_eq!(health_of(addr, pki).await, Ok(1), "serving before");
        let mut held = silent(addr, 200, connector).await;
        held.extend(silent(metrics, 200, connector).await);
        assert!(held.len() >= 300, "{} silent connections made", held.len());
        let probe = tokio::time::timeout(Duration::from_secs(5), health_of(addr, pki)).await;
        assert_eq!(
            probe.ok(),
            Some(Ok(1)),
            "tls {tls}: a new gRPC client is served within 5 s"
        );
        let scrape = tokio::time::timeout(
            Duration::from_secs(5),
            http_get(metrics, "/metrics", connector),
        )
        .await;
        let (code, body) = scrape.expect("within 5 s").expect("scrape");
        assert_eq!(code, 200, "tls {tls}: the metrics port answers");
        assert!(
            body.contains("fulfil_connections_closed_total{port=\"grpc\",reason=\"evicted\"}"),
            "silent connections were closed to make room"
        );
        drop(held);
        let log = std::fs::read_to_string(logs.path().join("stderr.log")).expect("log");
        assert!(log.contains("open-file limit"), "{log}");
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// `fulfil serve` on c1-rules over `data` (with `extra` flags, logging to `log`), `n` orders
/// committed and acknowledged: the child, its URL and the reservation ids.
async fn serve_with_holds(
    data: &Path,
    extra: &[&str],
    log: &Path,
    n: usize,
) -> (Child, String, Vec<String>) {
    let stderr = Stdio::from(std::fs::File::create(log).expect("log"));
    let (child, url) = super::crash::spawn_logging(data, extra, "info", stderr);
    let mut routing = RoutingClient::new(connect(&url).await);
    let mut ids = Vec::new();
    for i in 0..n {
        let r = routing
            .route_order(commit(ship(&format!("h{i}"), 40.73, -73.93, &[("A", 1)])))
            .await
            .expect("commit")
            .into_inner();
        ids.push(r.reservation_id);
    }
    assert!(ids.iter().all(|id| !id.is_empty()), "every order held");
    // Ids are random: `r-` and 128 bits in URL-safe base64, telling nothing of order volume.
    for id in &ids {
        let bits = id.strip_prefix("r-").expect("r-");
        let url_safe = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        assert!(bits.len() == 22 && bits.bytes().all(url_safe), "{id}");
    }
    (child, url, ids)
}

/// `fulfil serve` on `data` that must refuse to start: its stderr.
fn refused_start(data: &Path) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fulfil"))
        .args(["serve", "--listen", "127.0.0.1:0", "--scenario"])
        .arg(c1())
        .arg("--data-dir")
        .arg(data)
        .env("FULFIL_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    for _ in 0..200 {
        if child.try_wait().expect("wait").is_some() {
            let out = child.wait_with_output().expect("output");
            assert!(!out.status.success(), "the start is refused");
            return String::from_utf8_lossy(&out.stderr).into_owned();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    panic!("the server started on a damaged data folder");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("dir") {
        let e = e.expect("entry");
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_segment_or_checkpoint_refuses_the_start_and_truncate_says_what_it_drops() {
    let work = tempfile::tempdir().expect("temp");
    let data = work.path().join("data");
    let log = work.path().join("first.log");
    let (mut child, _, ids) = serve_with_holds(&data, &[], &log, 6).await;
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let damages: [(&str, &str, bool); 3] = [
        ("journal-000000000001.log", "was emptied", true),
        ("journal-000000000001.log", "is missing", false),
        ("checkpoint-000000000001.log", "is missing", false),
    ];
    for (file, says, empty) in damages {
        let copy = work.path().join(format!("{file}-{says}"));
        copy_dir(&data, &copy);
        if empty {
            std::fs::File::create(copy.join(file)).expect("truncate");
        } else {
            std::fs::remove_file(copy.join(file)).expect("rm");
        }
        let stderr = refused_start(&copy);
        assert!(
            stderr.contains(file) && stderr.contains(says),
            "{file} {says}: {stderr}"
        );
        let verify = Command::new(env!("CARGO_BIN_EXE_fulfil"))
            .args(["journal", "verify"])
            .arg(&copy)
            .output()
            .expect("verify");
        assert!(!verify.status.success(), "verify says a start refuses");
        assert!(String::from_utf8_lossy(&verify.stderr).contains(file));
        // Told to truncate, it starts and says exactly what it dropped.
        let log = work.path().join(format!("{file}-{says}.log"));
        let (mut child, url, _) =
            serve_with_holds(&copy, &["--journal-recover", "truncate"], &log, 0).await;
        let mut reservations = ReservationsClient::new(connect(&url).await);
        let lost = reservations
            .get(pb::ReservationRef {
                reservation_id: ids[0].clone(),
            })
            .await
            .expect_err("the dropped holds are gone");
        assert_eq!(lost.code(), Code::NotFound);
        let _ = child.kill();
        let _ = child.wait();
        let said = std::fs::read_to_string(&log).expect("log");
        assert!(
            said.contains("dropping that file") && said.contains(file),
            "{said}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_a_full_disk_serves_every_acknowledged_hold_and_commits_once_there_is_room() {
    let Some(disk) = Tmpfs::mount(16) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root and must be able to mount a tmpfs for the full-disk restart"
        );
        eprintln!("skipped outside CI: cannot mount a tmpfs (not root)");
        return;
    };
    let logs = tempfile::tempdir().expect("temp");
    let data = disk.0.path().join("data");
    let (mut child, _, ids) = serve_with_holds(&data, &[], &logs.path().join("a.log"), 20).await;
    let filler = disk.0.path().join("filler");
    fill(&filler);
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let log = logs.path().join("b.log");
    let stderr = Stdio::from(std::fs::File::create(&log).expect("log"));
    let (mut child, url) = super::crash::spawn_logging(&data, &[], "info", stderr);
    let ch = connect(&url).await;
    let mut reservations = ReservationsClient::new(ch.clone());
    let held = |id: &str| pb::ReservationRef {
        reservation_id: id.to_owned(),
    };
    for id in &ids {
        let r = reservations.get(held(id)).await.expect("readable");
        assert_eq!(r.into_inner().state, "held", "{id}");
    }
    assert!(
        becomes(&ch, 2, 50).await,
        "changes NOT_SERVING without room"
    );
    let mut routing = RoutingClient::new(ch.clone());
    let refused = routing
        .route_order(commit(ship("full", 40.73, -73.93, &[("A", 1)])))
        .await
        .expect_err("no room to write");
    assert_eq!(refused.code(), Code::Unavailable, "{}", refused.message());
    let quote = routing
        .route_order(pb::RouteOrderRequest {
            order: Some(ship("quote", 40.73, -73.93, &[("A", 1)])),
            dry_run: true,
            ..Default::default()
        })
        .await;
    assert!(quote.is_ok(), "quotes are served: {quote:?}");
    std::fs::remove_file(&filler).expect("room again");
    assert!(becomes(&ch, 1, 100).await, "SERVING once it writes");
    let r = routing
        .route_order(commit(ship("room", 40.73, -73.93, &[("A", 1)])))
        .await
        .expect("commits again")
        .into_inner();
    assert!(!r.reservation_id.is_empty());
    for id in &ids {
        let r = reservations.get(held(id)).await.expect("readable");
        assert_eq!(r.into_inner().state, "held", "{id}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// The 99th percentile of `samples` (seconds).
fn p99(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[(samples.len() * 99 / 100).min(samples.len() - 1)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probes_answer_while_every_decision_slot_is_busy() {
    let metrics = super::ops::free_addr();
    let scenario = super::support::root().join("data/demo");
    let (mut child, addr, _logs) = spawn_sh_on(&scenario, &["--metrics-listen", &metrics], "");
    let metrics: std::net::SocketAddr = metrics.parse().expect("addr");
    let url = format!("http://{addr}");
    let ch = connect(&url).await;
    // 32 clients sending 1,000-line orders and giving up after half a second, for 4 seconds.
    let until = std::time::Instant::now() + Duration::from_secs(4);
    let lines: Vec<(String, u32)> = (1..=1000).map(|i| (format!("SKU-{i:05}"), 1)).collect();
    let mut load = tokio::task::JoinSet::new();
    for c in 0..32 {
        let (ch, lines) = (ch.clone(), lines.clone());
        load.spawn(async move {
            let mut routing = RoutingClient::new(ch);
            let refs: Vec<(&str, u32)> = lines.iter().map(|(s, q)| (s.as_str(), *q)).collect();
            let mut n = 0;
            while std::time::Instant::now() < until {
                let mut r = tonic::Request::new(pb::RouteOrderRequest {
                    order: Some(ship(&format!("big-{c}-{n}"), 40.73, -73.93, &refs)),
                    dry_run: true,
                    ..Default::default()
                });
                r.set_timeout(Duration::from_millis(500));
                let _ = routing.route_order(r).await;
                n += 1;
            }
            n
        });
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (mut health, mut ready, mut scrape) = (Vec::new(), Vec::new(), Vec::new());
    let mut probe = tonic_health::pb::health_client::HealthClient::new(ch.clone());
    while std::time::Instant::now() < until {
        let t = std::time::Instant::now();
        let status = probe
            .check(tonic_health::pb::HealthCheckRequest::default())
            .await
            .expect("health answers")
            .into_inner()
            .status;
        assert_eq!(status, 1);
        health.push(t.elapsed().as_secs_f64());
        let t = std::time::Instant::now();
        let (code, _) = http_get(metrics, "/readyz", None).await.expect("readyz");
        assert_eq!(code, 200);
        ready.push(t.elapsed().as_secs_f64());
        let t = std::time::Instant::now();
        let (code, _) = http_get(metrics, "/metrics", None).await.expect("metrics");
        assert_eq!(code, 200);
        scrape.push(t.elapsed().as_secs_f64());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut calls = 0;
    while let Some(n) = load.join_next().await {
        calls += n.expect("client");
    }
    let (h, r, m) = (p99(&mut health), p99(&mut ready), p99(&mut scrape));
    eprintln!(
        "{calls} large orders; p99 health {:.1} ms, readyz {:.1} ms, metrics {:.1} ms over {} probes",
        h * 1e3,
        r * 1e3,
        m * 1e3,
        health.len()
    );
    // The timing target (100 ms p99) is measured in BENCHMARKS.md; here, a bound no busy
    // machine should reach unless probes wait behind the decisions (Kubernetes gives 1 s).
    for (what, p) in [("health", h), ("readyz", r), ("metrics", m)] {
        assert!(p < 0.5, "{what} p99 {:.0} ms", p * 1e3);
    }
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulation_without_orders_never_quotes_the_servers_own_orders_file() {
    let scenario = tempfile::tempdir().expect("temp");
    super::service::copy_scenario(&c1(), scenario.path());
    std::fs::write(
        scenario.path().join("orders.csv"),
        "order_id,created_at,lat,lon,service,pickup_node,sku,qty\n\
         o1,2026-03-01T09:00:00Z,40.73,-73.93,ground,,A,secret-value\n",
    )
    .expect("write");
    let server = start_with(scenario.path(), |_| {}).await;
    let mut planning = fulfil::service::pb::planning_client::PlanningClient::new(
        super::service::channel(&server).await,
    );
    let err = planning
        .simulate(pb::SimulateRequest::default())
        .await
        .expect_err("the server's orders do not load");
    assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
    assert!(err.message().contains("orders.csv:2"), "{}", err.message());
    assert!(!err.message().contains("secret-value"), "{}", err.message());
    assert!(
        !err.message()
            .contains(&scenario.path().display().to_string()),
        "{}",
        err.message()
    );
    server.stop().await.expect("stops");
}
