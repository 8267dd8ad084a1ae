//! The client examples (clients/python, clients/node) run against a real server on
//! 127.0.0.1:0, and what they did is checked through the Rust client. `.ci/run` installs their
//! dependencies; without them these tests fail in CI and say what to install elsewhere.

use std::path::{Path, PathBuf};
use std::process::Command;

use fulfil::service::pb::{
    self, reservations_client::ReservationsClient, routing_client::RoutingClient,
};

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
    let dir = root().join("clients/python");
    run(&mut python(&dir, "generate.py"));
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
