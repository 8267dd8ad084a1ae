//! The client examples (clients/python, clients/node) run against a real server on
//! 127.0.0.1:0, and what they did is checked through the Rust client. `.ci/run` installs their
//! dependencies; without them these tests fail in CI and say what to install elsewhere.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use fulfil::service::pb::{
    self, network_client::NetworkClient, reservations_client::ReservationsClient,
    routing_client::RoutingClient,
};

use super::crash::{connect, serving, spawn_logging};
use super::service::{channel, ship, start};
use super::support::root;

/// Whether `check` runs; if not: a failure in CI, a note and `false` elsewhere.
fn available(what: &str, check: &mut Command, install: &str) -> bool {
    let ok = check.output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{what} is needed for this test in CI: {install}"
        );
        eprintln!("skipped here (not in CI): {what} missing; {install}");
    }
    ok
}

/// Runs `cmd` and returns its stdout; panics with its stderr when it fails.
fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

fn json(text: &str) -> serde_json::Value {
    let last = text.lines().last().unwrap_or_default();
    serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

/// The reservation a client's output names, read through the Rust client: made for `order` and
/// confirmed.
async fn confirmed(
    ch: tonic::transport::Channel,
    done: &serde_json::Value,
    order: &str,
) -> pb::ReservationResponse {
    let id = done["reservation_id"].as_str().expect("a reservation id");
    let got = ReservationsClient::new(ch)
        .get(pb::ReservationRef {
            reservation_id: id.to_owned(),
        })
        .await
        .expect("the reservation exists")
        .into_inner();
    assert_eq!(
        (got.order_id.as_str(), got.state.as_str()),
        (order, "confirmed")
    );
    got
}

fn c1() -> PathBuf {
    root().join("tests/conformance/c1-rules")
}

/// clients/python with its stubs generated (once per test run: tests run side by side).
fn generated_python() -> PathBuf {
    static GENERATED: std::sync::Once = std::sync::Once::new();
    let dir = root().join("clients/python");
    GENERATED.call_once(|| {
        run(&mut python(&dir, "generate.py"));
    });
    dir
}

fn python(dir: &Path, script: &str) -> Command {
    let mut c = Command::new("python3");
    c.current_dir(dir).arg(script);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_checks_out_feeds_inventory_and_reflects() {
    let install = "python3 -m pip install -r clients/python/requirements.txt";
    if !available(
        "Python grpcio",
        Command::new("python3").args([
            "-c",
            "import grpc, grpc_tools, grpc_health, grpc_reflection",
        ]),
        install,
    ) {
        return;
    }
    let dir = generated_python();
    let server = start(&c1(), None).await;
    let addr = server.addr.to_string();
    let out = run(python(&dir, "checkout.py").args([
        "--server",
        &addr,
        "--order-id",
        "PY-1",
        "--lat",
        "40.73",
        "--lon",
        "-73.93",
        "--line",
        "A:2",
    ]));
    let done = json(&out);
    assert_eq!(done["state"], "confirmed", "{out}");
    assert_eq!(
        done["chosen"], "ground",
        "the cheapest complete option: {out}"
    );
    let ch = channel(&server).await;
    let got = confirmed(ch.clone(), &done, "PY-1").await;
    assert_eq!(got.allocations.iter().map(|a| a.qty).sum::<u32>(), 2);

    // The feed sets ST-NYC's A to 0 and DC-EAST's to 0: a quote then has nothing near NYC but
    // what the feed left; replaying the file is skipped by sequence.
    let feed = std::env::temp_dir().join(format!("fulfil-feed-{}.csv", std::process::id()));
    std::fs::write(
        &feed,
        "node_id,sku,set_on_hand,adjust\nDC-EAST,A,0,\nST-NYC,A,0,\n",
    )
    .expect("csv");
    let args = [
        "--server",
        &addr,
        "--source",
        "wms-py",
        feed.to_str().expect("utf-8"),
    ];
    let first = json(&run(python(&dir, "inventory_feed.py").args(args)));
    assert_eq!(
        (first["applied"].as_u64(), first["skipped_repeats"].as_u64()),
        (Some(2), Some(0))
    );
    let again = json(&run(python(&dir, "inventory_feed.py").args(args)));
    assert_eq!(
        (again["applied"].as_u64(), again["skipped_repeats"].as_u64()),
        (Some(0), Some(2))
    );
    let _ = std::fs::remove_file(&feed);
    let quote = RoutingClient::new(ch)
        .route_order(pb::RouteOrderRequest {
            order: Some(ship("after-feed", 40.73, -73.93, &[("A", 1)])),
            dry_run: true,
            explain: false,
            request_id: String::new(),
            policy: String::new(),
        })
        .await
        .expect("quote")
        .into_inner()
        .decision
        .expect("decision");
    let from: Vec<&str> = quote.shipments.iter().map(|s| s.node_id.as_str()).collect();
    assert!(
        !from.contains(&"DC-EAST") && !from.contains(&"ST-NYC"),
        "{from:?}"
    );

    // Reflection v1alpha (what grpcio-reflection speaks) lists our services and methods.
    let listed = json(&run(
        python(&dir, "list_services.py").args(["--server", &addr])
    ));
    let routing = listed["fulfil.v1.Routing"]
        .as_array()
        .expect("Routing listed");
    assert!(routing.iter().any(|m| m == "RouteOrder"), "{listed}");
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_typescript_client_checks_out() {
    let dir = root().join("clients/node");
    let install = "npm ci --prefix clients/node";
    if !available(
        "Node.js and the client's packages",
        Command::new("node")
            .args(["-e", "require('@grpc/grpc-js'); require('typescript')"])
            .current_dir(&dir),
        install,
    ) {
        return;
    }
    run(Command::new("node").current_dir(&dir).args([
        "node_modules/typescript/bin/tsc",
        "-p",
        ".",
    ]));
    let server = start(&c1(), None).await;
    let addr = server.addr.to_string();
    let out = run(Command::new("node").current_dir(&dir).args([
        "dist/checkout.js",
        "--server",
        &addr,
        "--order-id",
        "TS-1",
        "--lat",
        "40.73",
        "--lon",
        "-73.93",
        "--line",
        "A:1",
    ]));
    let done = json(&out);
    assert_eq!(done["state"], "confirmed", "{out}");
    confirmed(channel(&server).await, &done, "TS-1").await;
    server.stop().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_retries_a_commit_past_its_deadline_and_reserves_once() {
    let install = "python3 -m pip install -r clients/python/requirements.txt";
    if !available(
        "Python grpcio",
        Command::new("python3").args(["-c", "import grpc, grpc_tools, grpc_health"]),
        install,
    ) {
        return;
    }
    let dir = generated_python();
    let data = tempfile::tempdir().expect("temp");
    let (mut server, url) = spawn_logging(data.path(), &[], "warn", Stdio::null());
    let ch = connect(&url).await;
    serving(&ch, "", Duration::from_secs(10)).await;
    let addr = url.trim_start_matches("http://").to_owned();
    let pid = server.id() as libc::pid_t;
    let signal = |sig: libc::c_int| {
        // SAFETY: a signal to our own child, which is still running.
        let ok = unsafe { libc::kill(pid, sig) } == 0;
        assert!(ok, "signal {sig} to {pid}");
    };
    // The server freezes; the client's attempts time out after 1 s each and are retried with
    // the same request id until it resumes.
    signal(libc::SIGSTOP);
    let client = python(&dir, "commit.py")
        .args([
            "--server",
            &addr,
            "--order-id",
            "PY-RETRY",
            "--lat",
            "40.73",
            "--lon",
            "-73.93",
            "--line",
            "A:1",
            "--timeout",
            "1",
            "--attempts",
            "10",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python starts");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    signal(libc::SIGCONT);
    let out = tokio::task::spawn_blocking(move || client.wait_with_output())
        .await
        .expect("join")
        .expect("python ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done = json(&stdout);
    assert!(
        done["failed_attempts"]
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c == "DEADLINE_EXCEEDED")),
        "attempts timed out while the server was frozen: {stdout}"
    );
    assert_eq!(done["state"], "held", "{stdout}");
    // However many attempts reached the server, one hold.
    let info = NetworkClient::new(ch.clone())
        .get_snapshot_info(pb::SnapshotInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.reservations_held, 1, "{stdout}");
    // The same request id again: the same reservation, replayed; with another order (here
    // another day): refused.
    let request_id = done["request_id"].as_str().expect("request id").to_owned();
    let same = pb::Order {
        order_id: "PY-RETRY".into(),
        lat: Some(40.73),
        lon: Some(-73.93),
        lines: vec![pb::Line {
            sku: "A".into(),
            qty: 1,
            ..Default::default()
        }],
        ..Default::default()
    };
    let mut routing = RoutingClient::new(ch);
    let again = routing
        .route_order(pb::RouteOrderRequest {
            order: Some(same),
            request_id: request_id.clone(),
            ..Default::default()
        })
        .await
        .expect("retry")
        .into_inner();
    assert!(again.replayed);
    assert_eq!(
        again.reservation_id,
        done["reservation_id"].as_str().unwrap()
    );
    let other = routing
        .route_order(pb::RouteOrderRequest {
            order: Some(ship("PY-RETRY", 40.73, -73.93, &[("A", 1)])),
            request_id,
            ..Default::default()
        })
        .await
        .expect_err("another order under the request id");
    assert_eq!(other.code(), tonic::Code::AlreadyExists, "{other:?}");
    let _ = server.kill();
    let _ = server.wait();
}
