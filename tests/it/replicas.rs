//! Several replicas of the real binary on one real PostgreSQL (`serve --store`): scarce stock
//! committed from 64 clients never oversells and every acknowledged reservation is in the
//! database once; a replica killed under load loses nothing acknowledged; the database stopped
//! under load makes commits UNAVAILABLE and dry runs stale, and all is well once it is back;
//! expiry races between replicas expire each hold once.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fulfil::service::pb::{
    self, reservations_client::ReservationsClient, routing_client::RoutingClient,
};
use tonic::Code;
use tonic::transport::Channel;

use super::crash::connect;
use super::pg::Pg;
use super::service::ship;
use super::support::root;

/// One `fulfil serve --store` process on c1-rules, killed when dropped.
struct Replica {
    child: Child,
    url: String,
    _data: tempfile::TempDir,
}

impl Replica {
    fn spawn(pg: &Pg, extra: &[&str]) -> Replica {
        let data = tempfile::tempdir().expect("temp");
        let mut child = Command::new(env!("CARGO_BIN_EXE_fulfil"))
            .args(["serve", "--listen", "127.0.0.1:0", "--store", &pg.url()])
            .args(extra)
            .arg("--scenario")
            .arg(root().join("tests/conformance/c1-rules"))
            .arg("--data-dir")
            .arg(data.path())
            .env("FULFIL_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
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
        Replica {
            child,
            url: format!("http://{addr}"),
            _data: data,
        }
    }

    /// A channel once the network is loaded (health SERVING).
    async fn ready(&self) -> Channel {
        let ch = connect(&self.url).await;
        let mut health = tonic_health::pb::health_client::HealthClient::new(ch.clone());
        for _ in 0..200 {
            let r = health
                .check(tonic_health::pb::HealthCheckRequest {
                    service: String::new(),
                })
                .await;
            if r.is_ok_and(|r| r.into_inner().status == 1) {
                return ch;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("replica {} never became SERVING", self.url);
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `n` replicas (one after another: the first makes the database's network).
async fn replicas(pg: &Pg, n: usize, extra: &[&str]) -> (Vec<Replica>, Vec<Channel>) {
    let mut rs = Vec::new();
    let mut chs = Vec::new();
    for _ in 0..n {
        let r = Replica::spawn(pg, extra);
        chs.push(r.ready().await);
        rs.push(r);
    }
    (rs, chs)
}

fn commit(order: pb::Order) -> pb::RouteOrderRequest {
    pb::RouteOrderRequest {
        order: Some(order),
        dry_run: false,
        explain: false,
    }
}

/// Places across the US, so that orders prefer different nodes.
const PLACES: [(f64, f64); 4] = [
    (40.73, -73.93),
    (34.05, -118.24),
    (41.88, -87.63),
    (29.76, -95.37),
];

/// An acknowledged reservation: its id and allocations (node, sku, units).
type Acked = (String, Vec<(String, String, u32)>);

fn allocations_of(d: &pb::Decision) -> Vec<(String, String, u32)> {
    d.shipments
        .iter()
        .flat_map(|s| {
            s.lines
                .iter()
                .map(|l| (s.node_id.clone(), l.sku.clone(), l.qty))
        })
        .collect()
}

/// `clients` tasks, client `i` on replica `i % n`, each committing `per_client` orders of
/// `lines`; returns what was acknowledged and the codes of the refusals.
async fn commit_from(
    channels: &[Channel],
    clients: usize,
    per_client: usize,
    lines: &'static [(&'static str, u32)],
) -> (Vec<Acked>, Vec<Code>) {
    let acked = Arc::new(Mutex::new(Vec::new()));
    let refused = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..clients {
        let mut routing = RoutingClient::new(channels[i % channels.len()].clone());
        let (acked, refused) = (acked.clone(), refused.clone());
        tasks.push(tokio::spawn(async move {
            for k in 0..per_client {
                let (lat, lon) = PLACES[(i + k) % PLACES.len()];
                let order = ship(&format!("o{i}-{k}"), lat, lon, lines);
                match routing.route_order(commit(order)).await {
                    Ok(r) => {
                        let r = r.into_inner();
                        if !r.reservation_id.is_empty() {
                            let d = r.decision.expect("decision");
                            acked
                                .lock()
                                .unwrap()
                                .push((r.reservation_id, allocations_of(&d)));
                        }
                    }
                    Err(s) => refused.lock().unwrap().push(s.code()),
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("client task");
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    let refused = std::mem::take(&mut *refused.lock().unwrap());
    (acked, refused)
}

/// Units per (node, sku) the acknowledged reservations hold.
fn units(acked: &[Acked]) -> HashMap<(String, String), u32> {
    let mut m = HashMap::new();
    for (_, allocs) in acked {
        for (n, k, q) in allocs {
            *m.entry((n.clone(), k.clone())).or_insert(0) += q;
        }
    }
    m
}

/// How often each reservation id appears in the log's reserve records.
fn reserves_in_log(pg: &Pg) -> HashMap<String, u32> {
    let mut m = HashMap::new();
    for row in pg.query("SELECT record->>'id' FROM fulfil_changes WHERE kind = 'reserve'") {
        *m.entry(row[0].clone().unwrap_or_default()).or_insert(0) += 1;
    }
    m
}

/// Checks that every acknowledged reservation is in the log exactly once, and readable on
/// every replica with its allocations (waiting a little for followers).
async fn every_ack_once_everywhere(pg: &Pg, acked: &[Acked], channels: &[Channel]) {
    let log = reserves_in_log(pg);
    for (id, _) in acked {
        assert_eq!(log.get(id), Some(&1), "reservation {id} in the log once");
    }
    for ch in channels {
        let mut res = ReservationsClient::new(ch.clone());
        for (id, allocs) in acked {
            let deadline = Instant::now() + Duration::from_secs(5);
            let got = loop {
                match res
                    .get(pb::ReservationRef {
                        reservation_id: id.clone(),
                    })
                    .await
                {
                    Ok(r) => break r.into_inner(),
                    Err(s) if Instant::now() < deadline && s.code() == Code::NotFound => {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    Err(s) => panic!("reservation {id}: {s}"),
                }
            };
            let mut have: Vec<_> = got
                .allocations
                .iter()
                .map(|a| (a.node_id.clone(), a.sku.clone(), a.qty))
                .collect();
            let mut want = allocs.clone();
            have.sort();
            want.sort();
            assert_eq!(
                have, want,
                "reservation {id}'s allocations on every replica"
            );
        }
    }
}

/// c1-rules' stock of D: DC-EAST 10, DC-WEST 10 (capacity 5 a day), ST-LA 3.
fn assert_d_not_oversold(acked: &[Acked], pg: &Pg) {
    let u = units(acked);
    let at = |n: &str| u.get(&(n.to_owned(), "D".to_owned())).copied().unwrap_or(0);
    assert!(at("DC-EAST") <= 10, "DC-EAST oversold: {}", at("DC-EAST"));
    assert!(
        at("DC-WEST") <= 5,
        "DC-WEST over its capacity: {}",
        at("DC-WEST")
    );
    assert!(at("ST-LA") <= 3, "ST-LA oversold: {}", at("ST-LA"));
    assert!(
        at("DC-EAST") + at("DC-WEST") + at("ST-LA") > 0,
        "something was sold"
    );
    // The database's rows say the same.
    for row in pg.query("SELECT node_id, reserved, sellable FROM fulfil_stock WHERE sku = 'D'") {
        let node = row[0].clone().unwrap_or_default();
        let reserved: u32 = row[1].as_deref().unwrap_or("0").parse().unwrap();
        let sellable: u32 = row[2].as_deref().unwrap_or("0").parse().unwrap();
        assert!(
            reserved <= sellable,
            "{node}: {reserved} reserved of {sellable}"
        );
        assert_eq!(reserved, at(&node), "{node}: the database's reserved units");
    }
}

async fn scarce_stock_on(n: usize) {
    let Some(pg) = Pg::start() else { return };
    let (_replicas, channels) = replicas(&pg, n, &[]).await;
    let (acked, refused) = commit_from(&channels, 64, 3, &[("D", 1)]).await;
    assert!(refused.is_empty(), "no commit refused: {refused:?}");
    assert_d_not_oversold(&acked, &pg);
    every_ack_once_everywhere(&pg, &acked, &channels).await;
    assert_eq!(
        reserves_in_log(&pg).len(),
        acked.len(),
        "nothing reserved that was not acknowledged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_with_64_clients_on_scarce_stock_never_oversell() {
    scarce_stock_on(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_with_64_clients_on_scarce_stock_never_oversell() {
    scarce_stock_on(3).await;
}
