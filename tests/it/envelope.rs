//! The production envelope end to end through a real server on 127.0.0.1:0: TLS (and mutual
//! TLS) with certificates made here, every role against every rpc, token and certificate reload
//! on SIGHUP, the refused start, the scenario root, load shedding, limits, deadlines, and a
//! journal on a disk that really fills up (a tmpfs) going NOT_SERVING and back.

use std::path::{Path, PathBuf};
use std::time::Duration;

use fulfil::service::pb::{
    self, network_client::NetworkClient, planning_client::PlanningClient,
    reservations_client::ReservationsClient, routing_client::RoutingClient,
};
use fulfil::service::{Limits, Role, ServeConfig, ServeError, Server, TlsFiles};
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use tonic::Code;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Identity};

use super::service::{copy_scenario, ship, start_with};
use super::support::root;

/// A CA, and a server and a client certificate it signed, written as PEM files.
pub struct Pki {
    pub dir: tempfile::TempDir,
    pub ca: String,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().expect("temp");
        let ca_key = KeyPair::generate().expect("key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).expect("CA");
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |name: &str, usage: ExtendedKeyUsagePurpose| {
            let key = KeyPair::generate().expect("key");
            let mut p =
                CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
                    .expect("params");
            p.extended_key_usages = vec![usage];
            let cert = p.signed_by(&key, &issuer).expect("signs");
            std::fs::write(dir.path().join(format!("{name}.pem")), cert.pem()).expect("write");
            std::fs::write(dir.path().join(format!("{name}.key")), key.serialize_pem())
                .expect("write");
        };
        leaf("server", ExtendedKeyUsagePurpose::ServerAuth);
        leaf("client", ExtendedKeyUsagePurpose::ClientAuth);
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("write");
        Pki { ca: ca.pem(), dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn files(&self, mutual: bool) -> TlsFiles {
        TlsFiles {
            cert: self.path("server.pem"),
            key: self.path("server.key"),
            client_ca: mutual.then(|| self.path("ca.pem")),
        }
    }

    /// A TLS channel trusting this CA, with the client certificate when `identity`.
    pub async fn channel(&self, server: &Server, identity: bool) -> Result<Channel, String> {
        let mut tls = ClientTlsConfig::new()
            .ca_certificate(Certificate::from_pem(&self.ca))
            .domain_name("localhost");
        if identity {
            let read = |n: &str| std::fs::read(self.path(n)).expect("read");
            tls = tls.identity(Identity::from_pem(read("client.pem"), read("client.key")));
        }
        Channel::from_shared(format!("https://{}", server.addr))
            .expect("uri")
            .tls_config(tls)
            .expect("tls")
            .connect()
            .await
            .map_err(|e| format!("{e:?}"))
    }
}

const ROLES: [Role; 5] = [
    Role::Reader,
    Role::Router,
    Role::Inventory,
    Role::Planner,
    Role::Admin,
];

/// An auth file with one token per role (named after it); the tokens by role.
pub(super) fn auth_file(dir: &Path) -> (PathBuf, Vec<(Role, String)>) {
    let mut text = String::new();
    let mut tokens = Vec::new();
    for role in ROLES {
        let (token, entry) = fulfil::service::new_token(role.name(), role);
        text.push_str(&entry);
        tokens.push((role, token));
    }
    let path = dir.join("auth.toml");
    std::fs::write(&path, text).expect("write");
    (path, tokens)
}

pub(super) fn with_token<T>(msg: T, token: Option<&str>) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if let Some(t) = token {
        let v: MetadataValue<_> = format!("Bearer {t}").parse().expect("ascii");
        r.metadata_mut().insert("authorization", v);
    }
    r
}

pub(super) fn c1() -> PathBuf {
    root().join("tests/conformance/c1-rules")
}

/// Every rpc (committing forms apart), the role it needs, and the code of one call with `token`.
async fn call_every_rpc(ch: &Channel, token: Option<&str>) -> Vec<(&'static str, Role, Code)> {
    let mut routing = RoutingClient::new(ch.clone());
    let mut reservations = ReservationsClient::new(ch.clone());
    let mut network = NetworkClient::new(ch.clone());
    let mut planning = PlanningClient::new(ch.clone());
    let t = token;
    let code = |r: Result<Code, tonic::Status>| r.unwrap_or_else(|s| s.code());
    let order = || ship("e1", 40.73, -73.93, &[("A", 1)]);
    let route = |dry_run| pb::RouteOrderRequest {
        order: Some(order()),
        dry_run,
        ..Default::default()
    };
    let reference = || pb::ReservationRef {
        reservation_id: "R-none".into(),
    };
    let mut out = Vec::new();
    macro_rules! call {
        ($name:expr, $role:expr, $call:expr) => {
            out.push(($name, $role, code($call.await.map(|_| Code::Ok))));
        };
    }
    call!(
        "RouteOrder dry run",
        Role::Reader,
        routing.route_order(with_token(route(true), t))
    );
    call!(
        "RouteOrder commit",
        Role::Router,
        routing.route_order(with_token(route(false), t))
    );
    let batch = |dry_run| pb::RouteBatchRequest {
        orders: vec![ship("e2", 40.73, -73.93, &[("A", 1)])],
        dry_run,
        ..Default::default()
    };
    call!(
        "RouteBatch dry run",
        Role::Reader,
        routing.route_batch(with_token(batch(true), t))
    );
    call!(
        "RouteBatch commit",
        Role::Router,
        routing.route_batch(with_token(batch(false), t))
    );
    let options = pb::FulfilmentOptionsRequest {
        lat: 40.73,
        lon: -73.93,
        basket: vec![pb::Line {
            sku: "A".into(),
            qty: 1,
            ..Default::default()
        }],
        created_at: "2026-03-01T09:00:00Z".into(),
        ..Default::default()
    };
    call!(
        "FulfilmentOptions",
        Role::Reader,
        routing.fulfilment_options(with_token(options, t))
    );
    let reopt = |commit| pb::ReoptimizeRequest {
        orders: vec![ship("e3", 40.73, -73.93, &[("A", 1)])],
        commit,
        time_limit_seconds: 5.0,
        ..Default::default()
    };
    call!(
        "Reoptimize dry run",
        Role::Planner,
        routing.reoptimize(with_token(reopt(false), t))
    );
    call!(
        "Reoptimize commit",
        Role::Admin,
        routing.reoptimize(with_token(reopt(true), t))
    );
    call!(
        "Get",
        Role::Reader,
        reservations.get(with_token(reference(), t))
    );
    call!(
        "Release",
        Role::Router,
        reservations.release(with_token(reference(), t))
    );
    call!(
        "Confirm",
        Role::Router,
        reservations.confirm(with_token(reference(), t))
    );
    let reject = pb::RejectRequest {
        reservation_id: "R-none".into(),
        node_id: "DC-A".into(),
        request_id: "x".into(),
        ..Default::default()
    };
    call!(
        "Reject",
        Role::Router,
        reservations.reject(with_token(reject, t))
    );
    let amend = pb::AmendRequest {
        reservation_id: "R-none".into(),
        request_id: "y".into(),
        ..Default::default()
    };
    call!(
        "Amend",
        Role::Router,
        reservations.amend(with_token(amend, t))
    );
    call!(
        "ListAttention",
        Role::Reader,
        reservations.list_attention(with_token(pb::ListAttentionRequest::default(), t))
    );
    call!(
        "LoadScenario",
        Role::Admin,
        network.load_scenario(with_token(
            pb::LoadScenarioRequest {
                path: "none".into()
            },
            t
        ))
    );
    call!(
        "UpsertNodes",
        Role::Admin,
        network.upsert_nodes(with_token(pb::UpsertNodesRequest::default(), t))
    );
    call!(
        "UpsertSkus",
        Role::Admin,
        network.upsert_skus(with_token(pb::UpsertSkusRequest::default(), t))
    );
    call!(
        "ReplaceRates",
        Role::Admin,
        network.replace_rates(with_token(pb::ReplaceRatesRequest::default(), t))
    );
    call!(
        "ReplacePolicy",
        Role::Admin,
        network.replace_policy(with_token(pb::Policy::default(), t))
    );
    call!(
        "StreamInventory",
        Role::Inventory,
        network.stream_inventory(with_token(
            tokio_stream::iter(Vec::<pb::InventoryChange>::new()),
            t
        ))
    );
    call!(
        "GetSnapshotInfo",
        Role::Reader,
        network.get_snapshot_info(with_token(pb::SnapshotInfoRequest {}, t))
    );
    call!(
        "Simulate",
        Role::Planner,
        planning.simulate(with_token(pb::SimulateRequest::default(), t))
    );
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_role_against_every_rpc_over_tls() {
    let pki = Pki::new();
    let (auth, tokens) = auth_file(pki.dir.path());
    let server = start_with(&c1(), |c| {
        c.tls = Some(pki.files(false));
        c.auth_file = Some(auth.clone());
    })
    .await;
    let ch = pki.channel(&server, false).await.expect("TLS connects");
    // No token, and a token the file does not hold: UNAUTHENTICATED everywhere.
    for token in [None, Some("fulfil_not-a-token")] {
        for (rpc, _, code) in call_every_rpc(&ch, token).await {
            assert_eq!(code, Code::Unauthenticated, "{rpc} with {token:?}");
        }
    }
    for (role, token) in &tokens {
        for (rpc, needed, code) in call_every_rpc(&ch, Some(token)).await {
            let allowed = role.allows(needed);
            if allowed {
                assert!(
                    !matches!(code, Code::PermissionDenied | Code::Unauthenticated),
                    "{role} may call {rpc}, got {code:?}"
                );
            } else {
                assert_eq!(code, Code::PermissionDenied, "{role} may not call {rpc}");
            }
        }
    }
    // The denial names the role needed.
    let mut network = NetworkClient::new(ch.clone());
    let reader = &tokens[0].1;
    let err = network
        .replace_policy(with_token(pb::Policy::default(), Some(reader)))
        .await
        .expect_err("reader");
    assert!(err.message().contains("admin role"), "{}", err.message());
    // Health and reflection are open.
    let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health without a token")
        .into_inner();
    assert_eq!(status.status, 1, "SERVING");
    // Plaintext to a TLS port does not get an answer.
    let plain = Channel::from_shared(format!("http://{}", server.addr))
        .expect("uri")
        .connect()
        .await;
    if let Ok(plain) = plain {
        let mut n = NetworkClient::new(plain);
        let r = n.get_snapshot_info(pb::SnapshotInfoRequest {}).await;
        assert!(r.is_err(), "plaintext answered on a TLS port");
    }
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_and_sighup_reload_tokens_and_certificates_without_dropping_connections() {
    let pki = Pki::new();
    let (auth, tokens) = auth_file(pki.dir.path());
    let server = start_with(&c1(), |c| {
        c.tls = Some(pki.files(true));
        c.auth_file = Some(auth.clone());
    })
    .await;
    let admin = tokens
        .iter()
        .find(|(r, _)| *r == Role::Admin)
        .expect("admin")
        .1
        .clone();
    // Without a client certificate the handshake (or the first call) fails.
    if let Ok(ch) = pki.channel(&server, false).await {
        let r = NetworkClient::new(ch)
            .get_snapshot_info(with_token(pb::SnapshotInfoRequest {}, Some(&admin)))
            .await;
        assert!(r.is_err(), "a client without a certificate was served");
    }
    let ch = pki
        .channel(&server, true)
        .await
        .expect("mutual TLS connects");
    let mut network = NetworkClient::new(ch.clone());
    let info = |n: &mut NetworkClient<Channel>, t: String| {
        let mut n = n.clone();
        async move {
            n.get_snapshot_info(with_token(pb::SnapshotInfoRequest {}, Some(&t)))
                .await
        }
    };
    info(&mut network, admin.clone()).await.expect("admin");
    // A new token: unknown until the file is reloaded on SIGHUP.
    let (fresh, entry) = fulfil::service::new_token("fresh", Role::Reader);
    assert_eq!(
        info(&mut network, fresh.clone())
            .await
            .expect_err("unknown")
            .code(),
        Code::Unauthenticated
    );
    let mut text = std::fs::read_to_string(&auth).expect("read");
    text.push_str(&entry);
    std::fs::write(&auth, &text).expect("write");
    // A new certificate from a new CA for new connections.
    let renewed = Pki::new();
    for f in ["server.pem", "server.key"] {
        std::fs::copy(renewed.path(f), pki.path(f)).expect("copy");
    }
    hangup();
    let mut ok = false;
    for _ in 0..100 {
        if info(&mut network, fresh.clone()).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "the reloaded auth file admits the new token");
    // The connection made before the reload still works; a new one must trust the new CA (the
    // client CA in force is still the first one, so the client certificate is the first one's).
    info(&mut network, admin.clone())
        .await
        .expect("old connection");
    let trusting_new = Pki {
        dir: tempfile::tempdir().expect("temp"),
        ca: renewed.ca.clone(),
    };
    for f in ["client.pem", "client.key"] {
        std::fs::copy(pki.path(f), trusting_new.path(f)).expect("copy");
    }
    let ch2 = trusting_new
        .channel(&server, true)
        .await
        .expect("new certificate in force");
    NetworkClient::new(ch2)
        .get_snapshot_info(with_token(pb::SnapshotInfoRequest {}, Some(&admin)))
        .await
        .expect("served with the new certificate");
    // A broken file on reload keeps what is in force.
    std::fs::write(&auth, "not toml [[").expect("write");
    hangup();
    tokio::time::sleep(Duration::from_millis(300)).await;
    info(&mut network, fresh)
        .await
        .expect("old tokens stay in force");
    server.stop().await.expect("stops");
}

pub(super) fn hangup() {
    // SAFETY: sends SIGHUP to this process, whose servers registered a handler at start.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGHUP);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_beyond_loopback_needs_tls_and_tokens_or_insecure() {
    let pki = Pki::new();
    let (auth, _) = auth_file(pki.dir.path());
    let exposed = |set: &dyn Fn(&mut ServeConfig)| {
        let mut c = ServeConfig::new(c1(), "0.0.0.0:0".parse().expect("addr"));
        set(&mut c);
        c.validate()
    };
    let err = exposed(&|_| {}).expect_err("refused");
    assert!(matches!(err, ServeError::Exposed { .. }), "{err}");
    assert!(err.to_string().contains("--auth-file") && err.to_string().contains("--insecure"));
    let err = exposed(&|c| c.auth_file = Some(auth.clone())).expect_err("no TLS");
    assert!(err.to_string().contains("--tls-cert"), "{err}");
    exposed(&|c| {
        c.auth_file = Some(auth.clone());
        c.tls = Some(pki.files(false));
    })
    .expect("TLS and tokens");
    exposed(&|c| c.insecure = true).expect("--insecure");
    let mut metrics = ServeConfig::new(c1(), "127.0.0.1:0".parse().expect("addr"));
    metrics.metrics_listen = Some("0.0.0.0:0".parse().expect("addr"));
    assert!(
        metrics.validate().is_err(),
        "metrics beyond loopback need TLS"
    );
    // The binary says so and exits before binding.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_fulfil"))
        .args(["serve", "--listen", "0.0.0.0:0", "--scenario"])
        .arg(c1())
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("refusing to listen on 0.0.0.0:0"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_scenario_reads_only_under_the_scenario_root_and_never_echoes_files() {
    let outside = tempfile::tempdir().expect("temp");
    copy_scenario(&c1(), &outside.path().join("away"));
    let scenarios = tempfile::tempdir().expect("temp");
    let base = scenarios.path();
    copy_scenario(&c1(), &base.join("good"));
    std::os::unix::fs::symlink(outside.path().join("away"), base.join("link-out")).expect("ln");
    copy_scenario(&c1(), &base.join("passwd"));
    std::fs::remove_file(base.join("passwd/nodes.csv")).expect("rm");
    let secret = outside.path().join("secret.csv");
    std::fs::write(&secret, "root:x:0:0:secret-value:/root:/bin/bash\n").expect("write");
    std::os::unix::fs::symlink(&secret, base.join("passwd/nodes.csv")).expect("ln");
    copy_scenario(&c1(), &base.join("bad-header"));
    std::fs::write(
        base.join("bad-header/nodes.csv"),
        "secret-value,kind\nx,dc\n",
    )
    .expect("write");
    // Secrets in TOML values, a duplicated CSV header and a hard link to a file outside.
    copy_scenario(&c1(), &base.join("toml-secret"));
    std::fs::write(
        base.join("toml-secret/policy.toml"),
        "split_penalty = \"secret-value\"\n",
    )
    .expect("write");
    copy_scenario(&c1(), &base.join("calendar-secret"));
    std::fs::write(
        base.join("calendar-secret/calendars.toml"),
        "[cal]\nopen = \"secret-value\"\n",
    )
    .expect("write");
    copy_scenario(&c1(), &base.join("dup-header"));
    let nodes = std::fs::read_to_string(c1().join("nodes.csv")).expect("read");
    let (header, rest) = nodes.split_once('\n').expect("header");
    std::fs::write(
        base.join("dup-header/nodes.csv"),
        format!("{header},secret-value,secret-value\n{rest}"),
    )
    .expect("write");
    copy_scenario(&c1(), &base.join("hard-link"));
    let outside_policy = outside.path().join("policy.toml");
    std::fs::write(&outside_policy, "split_penalty = \"secret-value\"\n").expect("write");
    std::fs::remove_file(base.join("hard-link/policy.toml")).expect("rm");
    std::fs::hard_link(&outside_policy, base.join("hard-link/policy.toml")).expect("ln");

    let off = start_with(&c1(), |_| {}).await;
    let mut n = NetworkClient::new(super::service::channel(&off).await);
    let err = n
        .load_scenario(pb::LoadScenarioRequest {
            path: "good".into(),
        })
        .await
        .expect_err("no root");
    assert_eq!(err.code(), Code::FailedPrecondition, "{}", err.message());
    off.stop().await.expect("stops");

    let server = start_with(&c1(), |c| c.scenario_root = Some(base.to_owned())).await;
    let mut n = NetworkClient::new(super::service::channel(&server).await);
    let away = outside.path().join("away").display().to_string();
    for (path, code) in [
        ("../away", Code::PermissionDenied),
        ("good/../../away", Code::PermissionDenied),
        (away.as_str(), Code::PermissionDenied),
        ("link-out", Code::PermissionDenied),
        ("passwd", Code::PermissionDenied),
        ("missing", Code::NotFound),
        ("/nonexistent/elsewhere", Code::PermissionDenied),
        ("bad-header", Code::InvalidArgument),
        ("toml-secret", Code::InvalidArgument),
        ("calendar-secret", Code::InvalidArgument),
        ("dup-header", Code::InvalidArgument),
        ("hard-link", Code::PermissionDenied),
    ] {
        let err = n
            .load_scenario(pb::LoadScenarioRequest { path: path.into() })
            .await
            .expect_err(path);
        assert_eq!(err.code(), code, "{path}: {}", err.message());
        assert!(
            !err.message().contains("secret-value") && !err.message().contains("root:x"),
            "{path}: the answer echoes a file: {}",
            err.message()
        );
        assert!(
            !err.message().contains(&base.display().to_string()),
            "{path}: the answer names the server's folders: {}",
            err.message()
        );
    }
    let info = n
        .get_snapshot_info(pb::SnapshotInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.version, 1, "nothing was loaded");
    n.load_scenario(pb::LoadScenarioRequest {
        path: "good".into(),
    })
    .await
    .expect("a folder under the root loads");
    server.stop().await.expect("stops");
}

/// A call to a unary rpc whose request never ends: it holds its permits until dropped.
fn hold_a_call(ch: &Channel, path: &'static str) -> tokio::task::JoinHandle<()> {
    let ch = ch.clone();
    tokio::spawn(async move {
        let mut grpc = tonic::client::Grpc::new(ch);
        if grpc.ready().await.is_err() {
            return;
        }
        let codec = tonic_prost::ProstCodec::<pb::SnapshotInfoRequest, pb::SnapshotInfo>::default();
        let never = tokio_stream::pending::<pb::SnapshotInfoRequest>();
        let path = http::uri::PathAndQuery::from_static(path);
        let _ = grpc
            .client_streaming(tonic::Request::new(never), path, codec)
            .await;
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_limits_are_shed_or_refused_at_once() {
    let server = start_with(&c1(), |c| {
        c.limits = Limits {
            max_in_flight: 2,
            max_heavy: 1,
            max_decisions: 1,
            max_message_bytes: 4096,
        }
    })
    .await;
    let ch = super::service::channel(&server).await;
    let mut network = NetworkClient::new(ch.clone());
    let mut routing = RoutingClient::new(ch.clone());
    let info = || pb::SnapshotInfoRequest {};
    network
        .get_snapshot_info(info())
        .await
        .expect("under the limit");
    // One heavy call held: a second Reoptimize is shed, other calls go on.
    let heavy = hold_a_call(&ch, "/fulfil.v1.Routing/Reoptimize");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let reopt = pb::ReoptimizeRequest {
        orders: vec![ship("h1", 40.73, -73.93, &[("A", 1)])],
        ..Default::default()
    };
    let err = routing.reoptimize(reopt.clone()).await.expect_err("shed");
    assert_eq!(err.code(), Code::ResourceExhausted, "{}", err.message());
    network
        .get_snapshot_info(info())
        .await
        .expect("one slot left");
    // Both slots held: everything is shed at once, health still answers.
    let held = hold_a_call(&ch, "/fulfil.v1.Network/GetSnapshotInfo");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = std::time::Instant::now();
    let err = network.get_snapshot_info(info()).await.expect_err("shed");
    assert_eq!(err.code(), Code::ResourceExhausted, "{}", err.message());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "shed without waiting"
    );
    let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
    health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("health is not shed");
    // The held calls go (client gone): their slots are free again.
    heavy.abort();
    held.abort();
    let mut freed = false;
    for _ in 0..50 {
        if network.get_snapshot_info(info()).await.is_ok() {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(freed, "slots come back when the clients go");
    // Limits: message size, lines per order.
    let big = ship("big", 40.73, -73.93, &[("A", 1)]);
    let big = pb::Order {
        order_id: "x".repeat(5000),
        ..big
    };
    let err = routing
        .route_order(pb::RouteOrderRequest {
            order: Some(big),
            dry_run: true,
            ..Default::default()
        })
        .await
        .expect_err("too big");
    assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    assert!(
        err.message().contains("--max-message-bytes"),
        "{}",
        err.message()
    );
    server.stop().await.expect("stops");

    let server = start_with(&c1(), |_| {}).await;
    let mut routing = RoutingClient::new(super::service::channel(&server).await);
    let lines: Vec<(&str, u32)> = vec![("A", 1); 1001];
    let err = routing
        .route_order(pb::RouteOrderRequest {
            order: Some(ship("many", 40.73, -73.93, &lines)),
            dry_run: true,
            ..Default::default()
        })
        .await
        .expect_err("too many lines");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("limit of 1000"), "{}", err.message());
    // A deadline that has already passed is not computed.
    let mut late = tonic::Request::new(pb::RouteOrderRequest {
        order: Some(ship("late", 40.73, -73.93, &[("A", 1)])),
        dry_run: true,
        ..Default::default()
    });
    late.metadata_mut()
        .insert("grpc-timeout", "0n".parse().expect("ascii"));
    let err = routing.route_order(late).await.expect_err("past deadline");
    // Tonic's own deadline layer (outside the envelope) may answer first, with CANCELLED.
    assert!(
        matches!(err.code(), Code::DeadlineExceeded | Code::Cancelled),
        "{err:?}"
    );
    server.stop().await.expect("stops");
}

/// A tmpfs of `mb` MiB mounted on a new folder, unmounted on drop.
pub(super) struct Tmpfs(pub(super) tempfile::TempDir);

impl Tmpfs {
    pub(super) fn mount(mb: u32) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().expect("temp");
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mb}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

/// Writes into `path` until the disk is full.
pub(super) fn fill(path: &Path) {
    use std::io::Write;
    let mut f = std::fs::File::create(path).expect("filler");
    let block = vec![7u8; 64 << 10];
    while f.write_all(&block).is_ok() {}
    let _ = f.flush();
}

/// Whether Routing's health becomes `status` (1 SERVING, 2 NOT_SERVING) within `tries` tenths
/// of a second.
pub(super) async fn becomes(ch: &Channel, status: i32, tries: u32) -> bool {
    for _ in 0..tries {
        if changing_status(ch).await == status {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

async fn changing_status(ch: &Channel) -> i32 {
    let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
    health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "fulfil.v1.Routing".into(),
        })
        .await
        .map_or(-1, |r| r.into_inner().status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_makes_commits_unavailable_and_health_not_serving_until_it_has_room() {
    let Some(disk) = Tmpfs::mount(8) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root and must be able to mount a tmpfs for the disk-full test"
        );
        eprintln!("skipped outside CI: cannot mount a tmpfs (not root)");
        return;
    };
    let data = disk.0.path().join("data");
    let server = start_with(&c1(), |c| c.live.data_dir = Some(data.clone())).await;
    let ch = super::service::channel(&server).await;
    let mut routing = RoutingClient::new(ch.clone());
    let mut reservations = ReservationsClient::new(ch.clone());
    let commit = |id: &str| pb::RouteOrderRequest {
        order: Some(ship(id, 40.73, -73.93, &[("A", 1)])),
        ..Default::default()
    };
    let before = routing
        .route_order(commit("d1"))
        .await
        .expect("commits")
        .into_inner()
        .reservation_id;
    let filler = disk.0.path().join("filler");
    fill(&filler);
    let mut refused = None;
    for i in 0..200 {
        match routing.route_order(commit(&format!("full{i}"))).await {
            Ok(_) => continue,
            Err(s) => {
                refused = Some(s);
                break;
            }
        }
    }
    let refused = refused.expect("a commit on a full disk is refused");
    assert_eq!(refused.code(), Code::Unavailable, "{}", refused.message());
    assert!(
        becomes(&ch, 2, 50).await,
        "health NOT_SERVING while the journal cannot write"
    );
    let err = routing
        .route_order(commit("d2"))
        .await
        .expect_err("still full");
    assert_eq!(err.code(), Code::Unavailable);
    // An inventory feed is refused the same way (through the one change helper), not answered
    // as if its changes were applied.
    let mut network = NetworkClient::new(ch.clone());
    let change = pb::InventoryChange {
        node_id: "DC-EAST".into(),
        sku: "A".into(),
        change: Some(pb::inventory_change::Change::Adjust(1)),
        safety_stock: None,
        source: "wms".into(),
        sequence: 1,
    };
    let err = network
        .stream_inventory(tokio_stream::iter(vec![change]))
        .await
        .expect_err("an inventory change on a full disk is refused");
    assert_eq!(err.code(), Code::Unavailable, "{}", err.message());
    // Dry runs go on meanwhile.
    routing
        .route_order(pb::RouteOrderRequest {
            dry_run: true,
            ..commit("q1")
        })
        .await
        .expect("a quote while the disk is full");
    std::fs::remove_file(&filler).expect("room again");
    assert!(
        becomes(&ch, 1, 100).await,
        "health SERVING again once the journal writes"
    );
    let after = routing
        .route_order(commit("d3"))
        .await
        .expect("commits again")
        .into_inner()
        .reservation_id;
    for id in [before, after] {
        reservations
            .get(pb::ReservationRef {
                reservation_id: id.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("acknowledged {id} is held: {e}"));
    }
    server.stop().await.expect("stops");
    drop(disk);
}

/// `/proc/PID/status`: (threads, resident MiB).
fn threads_and_rss(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("Threads:"), field("VmRSS:") / 1024)
}

fn scrape(addr: &str) -> String {
    use std::io::{Read, Write};
    let mut body = String::new();
    if let Ok(mut s) = std::net::TcpStream::connect(addr) {
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = s.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n");
        let _ = s.read_to_string(&mut body);
    }
    body
}

/// The sum of a counter's samples in a Prometheus text page.
fn counter(page: &str, name: &str) -> f64 {
    page.lines()
        .filter(|l| l.starts_with(name) && !l.starts_with('#'))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |a, b| a + b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abandoned_thousand_line_orders_are_cancelled_and_the_server_stays_small() {
    let metrics = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .to_string();
    let (mut child, ch) = serve_demo(&["--metrics-listen", &metrics]).await;
    let lines: Vec<(String, u32)> = (1..=1000).map(|i| (format!("SKU-{i:05}"), 1)).collect();
    let lines: Vec<(&str, u32)> = lines.iter().map(|(s, q)| (s.as_str(), *q)).collect();
    let order = ship("big", 40.73, -73.93, &lines);
    let until = std::time::Instant::now() + Duration::from_secs(4);
    let mut clients = Vec::new();
    for c in 0..32 {
        let mut routing = RoutingClient::new(ch.clone());
        let order = pb::Order {
            order_id: format!("big-{c}"),
            ..order.clone()
        };
        clients.push(tokio::spawn(async move {
            let mut codes = Vec::new();
            while std::time::Instant::now() < until {
                let mut r = tonic::Request::new(pb::RouteOrderRequest {
                    order: Some(order.clone()),
                    dry_run: true,
                    ..Default::default()
                });
                r.set_timeout(Duration::from_millis(500));
                let (code, message) = match routing.route_order(r).await {
                    Ok(_) => (Code::Ok, String::new()),
                    Err(s) => (
                        s.code(),
                        format!("{} {:?}", s.message(), std::error::Error::source(&s)),
                    ),
                };
                if code == Code::ResourceExhausted {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                codes.push((code, message));
            }
            codes
        }));
    }
    let (mut threads, mut rss) = (0, 0);
    while std::time::Instant::now() < until {
        let (t, r) = threads_and_rss(child.0.id());
        (threads, rss) = (threads.max(t), rss.max(r));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut codes = Vec::new();
    for c in clients {
        codes.extend(c.await.expect("client"));
    }
    // A deadline shows as CANCELLED ("Timeout expired") or, when the server gives up on the
    // stream before the client has sent the whole order, UNKNOWN (a reset or broken pipe on
    // the client's side); anything else is a wrong answer.
    let wrong: Vec<_> = codes
        .iter()
        .filter(|(c, m)| {
            !matches!(
                c,
                Code::Ok | Code::DeadlineExceeded | Code::Cancelled | Code::ResourceExhausted
            ) && !(*c == Code::Unknown && (m.contains("reset") || m.contains("broken pipe")))
        })
        .take(5)
        .collect();
    assert!(wrong.is_empty(), "unexpected answers: {wrong:?}");
    assert!(threads < 64, "the server grew to {threads} threads");
    assert!(rss < 1024, "the server grew to {rss} MiB");
    // Once the clients are gone the server answers at once, and says what it cancelled.
    let mut network = NetworkClient::new(ch.clone());
    let mut quick = tonic::Request::new(pb::SnapshotInfoRequest {});
    quick.set_timeout(Duration::from_secs(2));
    network
        .get_snapshot_info(quick)
        .await
        .expect("answers after the load");
    let page = scrape(&metrics);
    let shed = counter(&page, "fulfil_calls_shed_total");
    eprintln!(
        "threads max {threads}, RSS max {rss} MiB, {} calls, shed {shed}",
        codes.len()
    );
    assert!(
        shed > 0.0,
        "32 clients on one decision slot per core are shed:\n{page}"
    );
    // A re-optimization of 20,000 orders allowed 60 s, whose client goes away after 1.5 s,
    // stops: the run itself reports it was cancelled (counted where it ends, on its own thread).
    let mut names = fulfil::scenario::Interner::default();
    let demo =
        fulfil::scenario::read_orders_unresolved(&root().join("data/demo/orders.csv"), &mut names)
            .expect("demo orders");
    let backlog: Vec<pb::Order> = demo
        .iter()
        .take(20_000)
        .map(|o| fulfil::service::order_pb(o, &names))
        .collect();
    let mut routing = RoutingClient::new(ch.clone());
    let call = tokio::spawn(async move {
        routing
            .reoptimize(pb::ReoptimizeRequest {
                orders: backlog,
                time_limit_seconds: 60.0,
                ..Default::default()
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(1500)).await;
    call.abort();
    let mut cancelled = 0.0;
    for _ in 0..100 {
        cancelled = counter(&scrape(&metrics), "fulfil_calls_cancelled_total");
        if cancelled > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        cancelled > 0.0,
        "the abandoned re-optimization stops and says so (server: {:?}):\n{}",
        child.0.try_wait(),
        scrape(&metrics)
    );
}

/// A child process killed (and reaped) when dropped, also when a test fails.
struct Killed(std::process::Child);

/// `fulfil serve` on the demo at a free port with `args` besides, and a channel to it (the
/// process is killed when the first value drops).
async fn serve_demo(args: &[&str]) -> (Killed, Channel) {
    let mut child = Killed(
        std::process::Command::new(env!("CARGO_BIN_EXE_fulfil"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .arg("--scenario")
            .arg(root().join("data/demo"))
            .env("FULFIL_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("fulfil serve starts"),
    );
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.0.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("listening line");
    let url = format!("http://{}", line.trim().trim_start_matches("listening on "));
    let ch = Channel::from_shared(url)
        .expect("uri")
        .connect()
        .await
        .expect("connects");
    (child, ch)
}

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The reservation TTL has one default (the command line, the service's config and the live
/// options agree) and one range check (`LiveOptions::validate`), which the config and the binary
/// both go through.
#[test]
fn settings_have_one_default_and_one_range_check() {
    let config = ServeConfig::new(c1(), "127.0.0.1:0".parse().expect("addr"));
    let options = fulfil::live::LiveOptions::new(c1());
    assert_eq!(config.live.reservation_ttl, options.reservation_ttl);
    assert_eq!(
        options.reservation_ttl,
        fulfil::live::DEFAULT_RESERVATION_TTL
    );
    let help = std::process::Command::new(env!("CARGO_BIN_EXE_fulfil"))
        .args(["serve", "--help"])
        .output()
        .expect("runs");
    let help = String::from_utf8_lossy(&help.stdout);
    let default = format!(
        "[default: {}]",
        fulfil::live::DEFAULT_RESERVATION_TTL.as_secs()
    );
    assert!(help.contains(&default), "{help}");
    for ttl in [
        std::time::Duration::ZERO,
        fulfil::live::MAX_RESERVATION_TTL * 2,
    ] {
        let mut c = config.clone();
        c.live.reservation_ttl = ttl;
        let err = c.validate().expect_err("out of range");
        assert!(matches!(err, ServeError::Settings { .. }), "{err}");
        assert!(err.to_string().contains("time-to-live"), "{err}");
    }
    for secs in ["0", "-5", "NaN", "1e300"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fulfil"))
            .args(["serve", "--listen", "127.0.0.1:0", "--scenario"])
            .arg(c1())
            .arg(format!("--reservation-ttl-secs={secs}"))
            .output()
            .expect("runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{secs}: {err}");
        assert!(
            err.contains("time-to-live") && !err.contains("panicked"),
            "{secs}: {err}"
        );
    }
}

/// `fulfil serve --search-budget 100`: a 30-line order's search stops at its budget, and the
/// rpc says so — not exact, with a proven lower bound below its cost; a budget under 100 is
/// refused naming the flag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_budget_set_at_serve_gives_decisions_their_proven_bound() {
    let refused = std::process::Command::new(env!("CARGO_BIN_EXE_fulfil"))
        .args(["serve", "--listen", "127.0.0.1:0", "--search-budget", "5"])
        .output()
        .expect("runs");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--search-budget"), "{err}");

    let (_child, ch) = serve_demo(&["--search-budget", "100"]).await;
    let mut routing = RoutingClient::new(ch);
    let lines: Vec<(String, u32)> = (1..=30).map(|i| (format!("SKU-{:05}", i * 7), 1)).collect();
    let lines: Vec<(&str, u32)> = lines.iter().map(|(s, q)| (s.as_str(), *q)).collect();
    let decision = routing
        .route_order(pb::RouteOrderRequest {
            order: Some(ship("thirty", 40.73, -73.93, &lines)),
            dry_run: true,
            ..Default::default()
        })
        .await
        .expect("routes")
        .into_inner()
        .decision
        .expect("a decision");
    let cost = decision.cost.as_ref().expect("cost").total;
    assert!(!decision.exact, "a 30-line order proven in 100 nodes?");
    let bound = decision.lower_bound.expect("a proven lower bound");
    assert!(
        bound <= cost + 1e-6 && bound > 0.0,
        "bound {bound}, cost {cost}"
    );
}
