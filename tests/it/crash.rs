//! Crash safety through the real binary: acknowledged changes survive SIGKILL, none twice.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fulfil::service::pb::{
    self, network_client::NetworkClient, reservations_client::ReservationsClient,
    routing_client::RoutingClient,
};
use tonic::transport::Channel;

use super::service::{allocated, pickup, quote, ship};
use super::support::root;

fn spawn(data: &Path) -> (Child, String) {
    spawn_with(data, &[])
}

fn spawn_with(data: &Path, extra: &[&str]) -> (Child, String) {
    spawn_logging(data, extra, "warn", Stdio::null())
}

/// `fulfil serve` on c1-rules over `data` with `extra` flags, logging at `filter` to `stderr`:
/// the child and its gRPC URL.
pub(super) fn spawn_logging(
    data: &Path,
    extra: &[&str],
    filter: &str,
    stderr: Stdio,
) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fulfil"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .arg("--scenario")
        .arg(root().join("tests/conformance/c1-rules"))
        .arg("--data-dir")
        .arg(data)
        .env("FULFIL_LOG", filter)
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("fulfil serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("listening line");
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line `{line}`"))
        .to_owned();
    (child, format!("http://{addr}"))
}

/// Waits until `service` (`""`: the whole server) is SERVING on `ch`; fails after `within`.
pub(super) async fn serving(ch: &Channel, service: &str, within: Duration) {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let mut health = HealthClient::new(ch.clone());
    let deadline = std::time::Instant::now() + within;
    loop {
        let r = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await;
        if r.is_ok_and(|r| r.into_inner().status == 1) {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "`{service}` not SERVING within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(super) async fn connect(url: &str) -> Channel {
    for _ in 0..100 {
        if let Ok(ch) = Channel::from_shared(url.to_owned())
            .expect("uri")
            .connect()
            .await
        {
            return ch;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("cannot connect to {url}");
}

pub(super) fn commit(order: pb::Order) -> pb::RouteOrderRequest {
    pb::RouteOrderRequest {
        order: Some(order),
        dry_run: false,
        explain: false,
        request_id: String::new(),
        policy: String::new(),
    }
}

fn adjust(seq: u64, delta: i64) -> pb::InventoryChange {
    pb::InventoryChange {
        node_id: "ST-LA".into(),
        sku: "A".into(),
        change: Some(pb::inventory_change::Change::Adjust(delta)),
        safety_stock: None,
        source: "wms".into(),
        sequence: seq,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_sigkill_and_apply_once() {
    let data = tempfile::tempdir().expect("temp");
    let (mut child, url) = spawn(data.path());
    let ch = connect(&url).await;
    let mut routing = RoutingClient::new(ch.clone());
    let mut reservations = ReservationsClient::new(ch.clone());
    let mut network = NetworkClient::new(ch.clone());

    let mut ids = Vec::new();
    for i in 0..4 {
        let r = routing
            .route_order(commit(ship(&format!("o{i}"), 40.73, -73.93, &[("A", 2)])))
            .await
            .expect("commit")
            .into_inner();
        ids.push(r.reservation_id);
    }
    reservations
        .release(pb::ReservationRef {
            reservation_id: ids[1].clone(),
        })
        .await
        .expect("release");
    reservations
        .confirm(pb::ReservationRef {
            reservation_id: ids[2].clone(),
        })
        .await
        .expect("confirm");
    // ST-LA has 5 units of A; +10 from the warehouse system.
    let r = network
        .stream_inventory(tokio_stream::iter(vec![adjust(7, 10)]))
        .await
        .expect("stream")
        .into_inner();
    assert_eq!(r.applied, 1);
    assert_eq!(
        allocated(&quote(&mut routing, pickup("q", "ST-LA", "A", 100)).await),
        15
    );
    let before_east = quote(&mut routing, ship("big", 40.6, -75.5, &[("A", 1000)])).await;

    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");

    let (mut child, url) = spawn(data.path());
    let ch = connect(&url).await;
    let mut routing = RoutingClient::new(ch.clone());
    let mut reservations = ReservationsClient::new(ch.clone());
    let mut network = NetworkClient::new(ch.clone());
    let states: Vec<String> = {
        let mut v = Vec::new();
        for id in &ids {
            v.push(
                reservations
                    .get(pb::ReservationRef {
                        reservation_id: id.clone(),
                    })
                    .await
                    .expect("reservation survives")
                    .into_inner()
                    .state,
            );
        }
        v
    };
    assert_eq!(states, ["held", "released", "confirmed", "held"]);
    // The adjustment is there once, and the same message again is a repeat.
    assert_eq!(
        allocated(&quote(&mut routing, pickup("q", "ST-LA", "A", 100)).await),
        15
    );
    let r = network
        .stream_inventory(tokio_stream::iter(vec![adjust(7, 10)]))
        .await
        .expect("stream")
        .into_inner();
    assert_eq!((r.applied, r.skipped_repeats), (0, 1));
    // Held units are still held and the confirmed ones gone: the same quote as before.
    let after_east = quote(&mut routing, ship("big", 40.6, -75.5, &[("A", 1000)])).await;
    assert_eq!(allocated(&after_east), allocated(&before_east));
    let info = network
        .get_snapshot_info(pb::SnapshotInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.reservations_held, 2);
    // New reservations get new ids.
    let r = routing
        .route_order(commit(ship("o9", 40.73, -73.93, &[("A", 1)])))
        .await
        .expect("commit")
        .into_inner();
    assert!(
        !ids.contains(&r.reservation_id),
        "{} reused",
        r.reservation_id
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_client_mode_through_the_binary() {
    let data = tempfile::tempdir().expect("temp");
    let (mut child, url) = spawn(data.path());
    let _ = connect(&url).await;
    let case = root().join("tests/conformance/c1-rules");
    let out_file = data.path().join("decisions.jsonl");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_fulfil"))
        .args(["route", "--dry-run", "--server", &url, "--orders"])
        .arg(case.join("orders.csv"))
        .arg("--out")
        .arg(&out_file)
        .output()
        .await
        .expect("client runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = std::fs::read_to_string(&out_file).expect("decisions");
    let expected = std::fs::read_to_string(case.join("expected.jsonl")).expect("expected");
    assert_eq!(got.lines().count(), 17);
    for (g, e) in got.lines().zip(expected.lines()) {
        let g: serde_json::Value = serde_json::from_str(g).expect("json");
        let e: serde_json::Value = serde_json::from_str(e).expect("json");
        assert_eq!(g["order_id"], e["order_id"]);
        let (a, b) = (
            g["cost"]["total"].as_f64().expect("total"),
            e["total"].as_f64().expect("total"),
        );
        assert!((a - b).abs() < 1e-6, "{}: {a} vs {b}", g["order_id"]);
    }
    // An unknown SKU in the file is named by the server.
    let bad = data.path().join("bad.csv");
    std::fs::write(&bad, "order_id,lat,lon,sku,qty\nx1,40,-73,NOPE,1\n").expect("write");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_fulfil"))
        .args(["route", "--server", &url, "--orders"])
        .arg(&bad)
        .output()
        .await
        .expect("client runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("NOPE") && stderr.contains("NotFound"),
        "{stderr}"
    );
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits_cleanly() {
    let data = tempfile::tempdir().expect("temp");
    let (mut child, url) = spawn(data.path());
    let mut routing = RoutingClient::new(connect(&url).await);
    let _ = quote(&mut routing, ship("s1", 40.73, -73.93, &[("A", 1)])).await;
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = child.wait().expect("exits");
    assert!(exit.success(), "exit status {exit:?}");
}

#[test]
fn bad_configuration_fails_before_binding() {
    let out = Command::new(env!("CARGO_BIN_EXE_fulfil"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--scenario",
            "/nonexistent/scenario",
        ])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/nonexistent/scenario") && stderr.contains("does not exist"),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    let out = Command::new(env!("CARGO_BIN_EXE_fulfil"))
        .args(["serve", "--listen", "not-an-address"])
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let out = Command::new(env!("CARGO_BIN_EXE_fulfil"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("FULFIL_RESERVATION_TTL_SECS", "0")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("time-to-live"));
    // Infinite and absurd times to live are refused before anything starts (they used to
    // panic at start, or in every commit).
    for ttl in ["inf", "1e19", "-5", "NaN"] {
        let out = Command::new(env!("CARGO_BIN_EXE_fulfil"))
            .args(["serve", "--listen", "127.0.0.1:0"])
            .arg(format!("--reservation-ttl-secs={ttl}"))
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(1), "{ttl}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("time-to-live") && !err.contains("panicked"),
            "{ttl}: {err}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadgen_drives_the_binary_and_gives_every_reservation_back() {
    let data = tempfile::tempdir().expect("temp");
    let (mut child, url) = spawn(data.path());
    let ch = connect(&url).await;
    let case = root().join("tests/conformance/c1-rules");
    let run = |args: &[&str]| {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_fulfil"));
        cmd.args(["loadgen", "--server", &url, "--scenario"])
            .arg(&case)
            .args(args);
        cmd.output()
    };
    let out = run(&[
        "--duration",
        "1",
        "--concurrency",
        "8",
        "--connections",
        "2",
        "--commit",
        "--inventory-rate",
        "200",
    ])
    .await
    .expect("loadgen runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let calls: u64 = stdout
        .split_whitespace()
        .nth(2)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no call count in `{stdout}`"));
    assert!(calls > 0, "{stdout}");
    assert!(stdout.contains("(0 errors"), "{stdout}");
    assert!(stdout.contains("p99"), "{stdout}");
    assert!(stdout.contains("changes streamed"), "{stdout}");
    let out = run(&["--batch", "40", "--commit"])
        .await
        .expect("loadgen runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("40 orders in"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Every committed order was released again: nothing is held.
    let info = NetworkClient::new(ch)
        .get_snapshot_info(pb::SnapshotInfoRequest {})
        .await
        .expect("info")
        .into_inner();
    assert_eq!(info.reservations_held, 0);
    // Bad arguments are refused before anything is sent.
    let out = run(&["--connections", "0"]).await.expect("loadgen runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--connections"));
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}

#[test]
fn journal_verify_reports_what_a_data_folder_holds_and_refuses_damage() {
    use fulfil::reserve::journal::{Journal, Record};
    let data = tempfile::tempdir().expect("temp");
    let j = Journal::start(data.path(), 1, &[]).expect("starts");
    for id in ["r-1", "r-2", "r-3"] {
        j.append_blocking(&Record::Release { id: id.into() })
            .expect("append");
    }
    let second = {
        let seg = data.path().join("journal-000000000001.log");
        let bytes = std::fs::read(&seg).expect("read");
        8 + u32::from_le_bytes(bytes[..4].try_into().expect("len")) as u64
    };
    drop(j);
    let verify = || {
        Command::new(env!("CARGO_BIN_EXE_fulfil"))
            .args(["journal", "verify"])
            .arg(data.path())
            .output()
            .expect("runs")
    };
    let out = verify();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("release 3"), "{text}");
    assert!(text.contains("a start replays 3 records"), "{text}");
    // A flipped byte in the second record, with the third intact after it.
    {
        use std::io::{Seek, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(data.path().join("journal-000000000001.log"))
            .expect("open");
        f.seek(std::io::SeekFrom::Start(second + 10)).expect("seek");
        f.write_all(b"#").expect("write");
    }
    let out = verify();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("damage: ") && text.contains(&format!("offset {second}")),
        "{text}"
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--journal-recover truncate"), "{err}");
    // The server refuses to start on it, naming the file and offset, and leaves it as it is.
    let scenario = super::support::root().join("tests/conformance/c1-rules");
    let out = Command::new(env!("CARGO_BIN_EXE_fulfil"))
        .args(["serve", "--listen", "127.0.0.1:0", "--scenario"])
        .arg(&scenario)
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .expect("runs");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("offset {second}")), "{err}");
    assert!(data.path().join("journal-000000000001.log").exists());
    assert!(
        !verify().status.success(),
        "still damaged: nothing was rewritten"
    );
}

fn reject(id: &str, node: &str, short: bool, request: &str) -> pb::RejectRequest {
    pb::RejectRequest {
        reservation_id: id.into(),
        node_id: node.into(),
        lines: Vec::new(),
        short_pick: short,
        reason: "test".into(),
        request_id: request.into(),
    }
}

/// Units on hand per (node, SKU) in the c1-rules scenario.
fn c1_on_hand() -> std::collections::HashMap<(String, String), u32> {
    let text = std::fs::read_to_string(root().join("tests/conformance/c1-rules/inventory.csv"))
        .expect("inventory");
    text.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                (f[0].to_owned(), f[1].to_owned()),
                f[2].parse().expect("on_hand"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_exceptions_through_the_server_and_the_cli_are_exact_and_survive_sigkill() {
    use tonic::Code;
    let data = tempfile::tempdir().expect("temp");
    let (mut child, url) = spawn(data.path());
    let ch = connect(&url).await;
    let mut routing = RoutingClient::new(ch.clone());
    let mut reservations = ReservationsClient::new(ch.clone());
    let r = routing
        .route_order(commit(ship("x1", 40.73, -73.93, &[("A", 2)])))
        .await
        .expect("commit")
        .into_inner();
    let first = r.decision.expect("decision").shipments[0].node_id.clone();
    let rr = reservations
        .reject(reject(&r.reservation_id, &first, false, "x1-1"))
        .await
        .expect("reject")
        .into_inner();
    let to = rr.decision.expect("decision").shipments[0].node_id.clone();
    assert_ne!(to, first);
    assert_eq!(
        rr.reservation.expect("reservation").rejected_nodes,
        std::slice::from_ref(&first)
    );
    // Clear refusals.
    for (req, code) in [
        (reject("r-999", &first, false, "z"), Code::NotFound),
        (
            reject(&r.reservation_id, &first, false, "z"),
            Code::InvalidArgument,
        ),
        (
            reject(&r.reservation_id, &to, false, ""),
            Code::InvalidArgument,
        ),
        (
            reject(&r.reservation_id, &to, true, "x1-1"),
            Code::AlreadyExists,
        ),
    ] {
        let err = reservations.reject(req).await.expect_err("refused");
        assert_eq!(err.code(), code, "{}", err.message());
    }
    // The store system's file, replayed twice through the CLI: the second time, every answer
    // is a repeat.
    let events = data.path().join("events.csv");
    std::fs::write(
        &events,
        format!(
            "event,reservation_id,node_id,sku,qty,reason\nshort_pick,{},{to},A,1,not on the shelf\n",
            r.reservation_id
        ),
    )
    .expect("events");
    for round in 0..2 {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_fulfil"))
            .args(["exceptions", "--server", &url, "--file"])
            .arg(&events)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line: serde_json::Value =
            serde_json::from_slice(out.stdout.split(|&b| b == b'\n').next().expect("line"))
                .expect("json");
        assert_eq!(line["repeated"], round == 1, "{line}");
        assert!(
            !line["rerouted_to"]
                .as_array()
                .expect("nodes")
                .iter()
                .any(|n| n == &first[..] || n == &to[..]),
            "{line}"
        );
    }
    // Amend: a confirmed reservation cannot be amended.
    let amended = reservations
        .amend(pb::AmendRequest {
            reservation_id: r.reservation_id.clone(),
            order: Some(ship("x1", 40.73, -73.93, &[("A", 1), ("B", 1)])),
            request_id: "x1-a".into(),
        })
        .await
        .expect("amend")
        .into_inner();
    assert_eq!(allocated(&amended.decision.expect("decision")), 2);
    reservations
        .confirm(pb::ReservationRef {
            reservation_id: r.reservation_id.clone(),
        })
        .await
        .expect("confirm");
    let err = reservations
        .amend(pb::AmendRequest {
            reservation_id: r.reservation_id.clone(),
            order: Some(ship("x1", 40.73, -73.93, &[("A", 1)])),
            request_id: "x1-b".into(),
        })
        .await
        .expect_err("confirmed");
    assert_eq!(err.code(), Code::FailedPrecondition);

    // 32 clients commit, reject and amend at once; the server is killed while they do.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tasks: Vec<_> = (0..32)
        .map(|t| {
            let ch = ch.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut routing = RoutingClient::new(ch.clone());
                let mut reservations = ReservationsClient::new(ch);
                let (mut acked, mut amended) = (Vec::new(), Vec::new());
                for i in 0.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let id = format!("c{t}-{i}");
                    let lon = -74.0 - f64::from(t % 8) * 5.0;
                    let Ok(c) = routing
                        .route_order(commit(ship(&id, 40.7, lon, &[("A", 1 + t % 3)])))
                        .await
                    else {
                        break;
                    };
                    let c = c.into_inner();
                    let Some(node) = c
                        .decision
                        .and_then(|d| d.shipments.first().map(|s| s.node_id.clone()))
                    else {
                        continue;
                    };
                    let req = reject(&c.reservation_id, &node, i % 2 == 0, &format!("{id}-r"));
                    match reservations.reject(req).await {
                        Ok(_) => acked.push((c.reservation_id.clone(), node)),
                        Err(s) if s.code() == Code::Unavailable || s.code() == Code::Unknown => {
                            break;
                        }
                        Err(_) => continue,
                    }
                    // Every third order is then amended down to one unit.
                    if i % 3 == 0 {
                        let amend = pb::AmendRequest {
                            reservation_id: c.reservation_id.clone(),
                            order: Some(ship(&id, 40.7, lon, &[("A", 1)])),
                            request_id: format!("{id}-a"),
                        };
                        match reservations.amend(amend).await {
                            Ok(_) => amended.push(c.reservation_id.clone()),
                            Err(s)
                                if s.code() == Code::Unavailable || s.code() == Code::Unknown =>
                            {
                                break;
                            }
                            Err(_) => {}
                        }
                    }
                }
                (acked, amended)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut acked, mut amended_ids) = (Vec::new(), Vec::new());
    for t in tasks {
        let (a, b) = t.await.expect("task");
        acked.extend(a);
        amended_ids.extend(b);
    }
    assert!(
        acked.len() >= 20,
        "only {} rejections acknowledged",
        acked.len()
    );
    assert!(!amended_ids.is_empty(), "no amendment acknowledged");

    // After a restart every acknowledged rejection is there, nothing is held at a node that
    // rejected it, and no (node, SKU) holds more than it had.
    let (mut child, url) = spawn(data.path());
    let ch = connect(&url).await;
    let mut reservations = ReservationsClient::new(ch);
    let mut held: std::collections::HashMap<(String, String), u32> = Default::default();
    let mut seen = std::collections::HashSet::new();
    for (id, node) in &acked {
        let r = reservations
            .get(pb::ReservationRef {
                reservation_id: id.clone(),
            })
            .await
            .expect("an acknowledged reservation survives")
            .into_inner();
        assert!(
            r.rejected_nodes.contains(node),
            "{id}: rejection by {node} lost"
        );
        assert!(
            r.allocations
                .iter()
                .all(|a| !r.rejected_nodes.contains(&a.node_id)),
            "{id}"
        );
        if seen.insert(id.clone()) && r.state == "held" {
            for a in &r.allocations {
                *held.entry((a.node_id.clone(), a.sku.clone())).or_default() += a.qty;
            }
        }
    }
    // An acknowledged amendment (down to one unit) survives: nothing more is held for it.
    for id in &amended_ids {
        let r = reservations
            .get(pb::ReservationRef {
                reservation_id: id.clone(),
            })
            .await
            .expect("an amended reservation survives")
            .into_inner();
        let units: u32 = r.allocations.iter().map(|a| a.qty).sum();
        assert!(
            units <= 1,
            "{id}: {units} units held after its amendment to one"
        );
    }
    let on_hand = c1_on_hand();
    for ((node, sku), units) in held {
        let have = on_hand
            .get(&(node.clone(), sku.clone()))
            .copied()
            .unwrap_or(0);
        assert!(units <= have, "{node}/{sku}: {units} held of {have}");
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
}
