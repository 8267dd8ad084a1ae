//! Several replicas of the real binary on one real PostgreSQL (`serve --store`): scarce stock
//! committed from 64 clients never oversells and every acknowledged reservation is in the
//! database once; a replica killed under load loses nothing acknowledged; the database stopped
//! under load makes commits UNAVAILABLE and dry runs stale, and all is well once it is back;
//! expiry races between replicas expire each hold once.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fulfil::service::pb::{
    self, reservations_client::ReservationsClient, routing_client::RoutingClient,
};
use tonic::Code;
use tonic::transport::Channel;

use super::crash::{connect, serving, spawn_logging};
use super::pg::Pg;
use super::service::ship;
use super::service_stress::allocations;
use super::support::root;

/// One `fulfil serve --store` process on c1-rules, killed when dropped.
pub(super) struct Replica {
    pub(super) child: Child,
    pub(super) url: String,
    _data: tempfile::TempDir,
}

impl Replica {
    fn spawn(pg: &Pg, extra: &[&str]) -> Replica {
        Replica::spawn_to(pg, extra, Stdio::null())
    }

    /// As [`spawn`](Self::spawn), its warnings and errors written to `stderr`.
    pub(super) fn spawn_to(pg: &Pg, extra: &[&str], stderr: Stdio) -> Replica {
        let data = tempfile::tempdir().expect("temp");
        let url = pg.url();
        let args: Vec<&str> = ["--store", url.as_str()]
            .into_iter()
            .chain(extra.iter().copied())
            .collect();
        let (child, url) = spawn_logging(data.path(), &args, "warn", stderr);
        Replica {
            child,
            url,
            _data: data,
        }
    }

    /// A channel once the network is loaded (health SERVING).
    pub(super) async fn ready(&self) -> Channel {
        let ch = connect(&self.url).await;
        serving(&ch, "", Duration::from_secs(10)).await;
        ch
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
pub(super) async fn replicas(pg: &Pg, n: usize, extra: &[&str]) -> (Vec<Replica>, Vec<Channel>) {
    let mut rs = Vec::new();
    let mut chs = Vec::new();
    for _ in 0..n {
        let r = Replica::spawn(pg, extra);
        chs.push(r.ready().await);
        rs.push(r);
    }
    (rs, chs)
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

/// Places across the US, so that orders prefer different nodes.
pub(super) const PLACES: [(f64, f64); 4] = [
    (40.73, -73.93),
    (34.05, -118.24),
    (41.88, -87.63),
    (29.76, -95.37),
];

/// An acknowledged reservation: its id and allocations (node, sku, units).
pub(super) type Acked = (String, Vec<(String, String, u32)>);

/// `clients` tasks, client `i` on replica `i % n`, each committing `per_client` orders of
/// `lines`; returns what was acknowledged and the codes of the refusals.
pub(super) async fn commit_from(
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
                                .push((r.reservation_id, allocations(&d)));
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

/// What a stream of commits (each released at once when `release`) left: the acknowledged
/// reservations with the replica and the instants their request was sent and answered, the
/// acknowledged releases, the refusals' codes and instants.
#[derive(Default)]
pub(super) struct Outcome {
    pub(super) acked: Vec<(Acked, usize, Instant, Instant)>,
    pub(super) released: Vec<String>,
    pub(super) refused: Vec<(Code, Instant)>,
}

/// `per_replica` clients on each replica commit orders of one unit of A (each released at once
/// when `release`) until `stop`.
pub(super) fn stream_commits(
    channels: &[Channel],
    per_replica: usize,
    release: bool,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> (Arc<Mutex<Outcome>>, Vec<tokio::task::JoinHandle<()>>) {
    let out = Arc::new(Mutex::new(Outcome::default()));
    let mut tasks = Vec::new();
    for (r, ch) in channels.iter().enumerate() {
        for c in 0..per_replica {
            let mut routing = RoutingClient::new(ch.clone());
            let mut res = ReservationsClient::new(ch.clone());
            let (out, stop) = (out.clone(), stop.clone());
            tasks.push(tokio::spawn(async move {
                let mut k = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    k += 1;
                    let (lat, lon) = PLACES[k % PLACES.len()];
                    let order = ship(&format!("r{r}-c{c}-{k}"), lat, lon, &[("A", 1)]);
                    let sent = Instant::now();
                    let r_ = match routing.route_order(commit(order)).await {
                        Ok(resp) => resp.into_inner(),
                        Err(s) => {
                            out.lock().unwrap().refused.push((s.code(), Instant::now()));
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            continue;
                        }
                    };
                    if r_.reservation_id.is_empty() {
                        continue;
                    }
                    let allocs = allocations(&r_.decision.unwrap_or_default());
                    let id = r_.reservation_id;
                    out.lock()
                        .unwrap()
                        .acked
                        .push(((id.clone(), allocs), r, sent, Instant::now()));
                    if release {
                        let rr = pb::ReservationRef {
                            reservation_id: id.clone(),
                        };
                        if res.release(rr).await.is_ok() {
                            out.lock().unwrap().released.push(id);
                        }
                    }
                }
            }));
        }
    }
    (out, tasks)
}

/// The state of each reservation in the database.
pub(super) fn states_in_db(pg: &Pg) -> HashMap<String, String> {
    pg.query("SELECT id, state FROM fulfil_reservations")
        .into_iter()
        .map(|r| {
            (
                r[0].clone().unwrap_or_default(),
                r[1].clone().unwrap_or_default(),
            )
        })
        .collect()
}

/// Every acknowledged commit in the log once, in the rows in its acknowledged state (released
/// if its release was acknowledged), and no row over its sellable units.
pub(super) fn acknowledged_in_db(pg: &Pg, out: &Outcome) {
    let log = reserves_in_log(pg);
    let states = states_in_db(pg);
    let released: std::collections::HashSet<&String> = out.released.iter().collect();
    for ((id, _), _, _, _) in &out.acked {
        assert_eq!(log.get(id), Some(&1), "reservation {id} in the log once");
        let state = states.get(id).map(String::as_str);
        if released.contains(id) {
            assert_eq!(state, Some("released"), "{id}'s acknowledged release");
        } else {
            // A release whose answer was lost (its replica killed) may have happened.
            assert!(
                matches!(state, Some("held" | "released")),
                "{id}: {state:?}"
            );
        }
    }
    assert_eq!(
        pg.number("SELECT count(*) FROM fulfil_stock WHERE reserved > sellable OR reserved < 0"),
        0,
        "no row oversold"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_under_load_loses_nothing_acknowledged() {
    let Some(pg) = Pg::start() else { return };
    let (mut rs, chs) = replicas(&pg, 2, &[]).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (out, tasks) = stream_commits(&chs, 16, true, stop.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    rs[0].kill();
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.expect("client");
    }
    let out = std::mem::take(&mut *out.lock().unwrap());
    let after = out
        .acked
        .iter()
        .filter(|(_, r, _, at)| *r == 1 && *at > killed)
        .count();
    assert!(after > 0, "the surviving replica went on committing");
    assert!(
        out.acked.iter().any(|(_, r, _, _)| *r == 0),
        "the killed replica had committed before"
    );
    acknowledged_in_db(&pg, &out);
    // A new replica reads every acknowledged reservation, in its acknowledged state.
    let again = Replica::spawn(&pg, &[]);
    let ch = again.ready().await;
    let mut res = ReservationsClient::new(ch);
    let released: std::collections::HashSet<&String> = out.released.iter().collect();
    let states = states_in_db(&pg);
    for ((id, _), _, _, _) in &out.acked {
        let got = res
            .get(pb::ReservationRef {
                reservation_id: id.clone(),
            })
            .await
            .unwrap_or_else(|s| panic!("{id} after the restart: {s}"))
            .into_inner();
        // As the database has it (a release whose answer was lost may have happened).
        let want = states.get(id).cloned().unwrap_or_default();
        if released.contains(id) {
            assert_eq!(want, "released", "{id}'s acknowledged release");
        }
        assert_eq!(got.state, want, "{id} after the restart");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_stopped_under_load_refuses_commits_answers_stale_and_recovers() {
    let Some(pg) = Pg::start() else { return };
    let pg = Arc::new(pg);
    let (_rs, chs) = replicas(&pg, 2, &[]).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (out, tasks) = stream_commits(&chs, 8, true, stop.clone());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let p = pg.clone();
    tokio::task::spawn_blocking(move || p.stop_server())
        .await
        .expect("stop");
    let down = Instant::now();
    tokio::time::sleep(Duration::from_millis(3000)).await;

    // Meanwhile: dry runs answer, flagged stale; the services that change state NOT_SERVING.
    let mut routing = RoutingClient::new(chs[0].clone());
    let dry = routing
        .route_order(pb::RouteOrderRequest {
            order: Some(ship("dry", 40.73, -73.93, &[("A", 1)])),
            dry_run: true,
            explain: false,
            request_id: String::new(),
            policy: String::new(),
        })
        .await
        .expect("a dry run answers with the database down")
        .into_inner();
    assert!(
        dry.stale,
        "a dry run with the database down is flagged stale"
    );
    let mut health = tonic_health::pb::health_client::HealthClient::new(chs[1].clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "fulfil.v1.Reservations".into(),
        })
        .await
        .expect("health")
        .into_inner()
        .status;
    assert_eq!(
        status, 2,
        "Reservations NOT_SERVING while the database is down"
    );

    let restarting = Instant::now();
    let p = pg.clone();
    tokio::task::spawn_blocking(move || p.start_server())
        .await
        .expect("start");
    let up = Instant::now();
    // Both replicas commit again.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let back = {
            let o = out.lock().unwrap();
            (0..2).all(|r| o.acked.iter().any(|(_, rr, _, at)| *rr == r && *at > up))
        };
        if back {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replicas commit again after the database"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.expect("client");
    }
    let out = std::mem::take(&mut *out.lock().unwrap());
    let during: Vec<Code> = out
        .refused
        .iter()
        .filter(|(_, at)| *at > down && *at < restarting)
        .map(|(c, _)| *c)
        .collect();
    assert!(
        !during.is_empty(),
        "commits were refused while the database was down"
    );
    assert!(
        during.iter().all(|c| *c == Code::Unavailable),
        "refused as UNAVAILABLE: {during:?}"
    );
    // A commit asked and answered while the database was down cannot have been acknowledged.
    let acked_while_down = out
        .acked
        .iter()
        .filter(|(_, _, sent, at)| *sent > down && *at < restarting)
        .count();
    assert_eq!(
        acked_while_down, 0,
        "nothing acknowledged while the database was down"
    );
    acknowledged_in_db(&pg, &out);
    let fresh = routing
        .route_order(pb::RouteOrderRequest {
            order: Some(ship("dry2", 40.73, -73.93, &[("A", 1)])),
            dry_run: true,
            explain: false,
            request_id: String::new(),
            policy: String::new(),
        })
        .await
        .expect("dry run")
        .into_inner();
    assert!(!fresh.stale, "not stale once the database answers");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_racing_to_expire_expire_each_hold_once() {
    let Some(pg) = Pg::start() else { return };
    let (_rs, chs) = replicas(&pg, 3, &["--reservation-ttl-secs", "1"]).await;
    let (acked, refused) = commit_from(&chs, 12, 3, &[("A", 1)]).await;
    assert!(refused.is_empty(), "{refused:?}");
    assert!(acked.len() >= 30, "holds to expire: {}", acked.len());
    let deadline = Instant::now() + Duration::from_secs(15);
    while pg.number("SELECT count(*) FROM fulfil_reservations WHERE state = 'held'") > 0 {
        assert!(Instant::now() < deadline, "every hold expires");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut expired: HashMap<String, i64> = HashMap::new();
    for row in pg.query(
        "SELECT record->>'id', count(*) FROM fulfil_changes WHERE kind = 'expire' GROUP BY 1",
    ) {
        expired.insert(
            row[0].clone().unwrap_or_default(),
            row[1].as_deref().unwrap_or("0").parse().unwrap(),
        );
    }
    for (id, _) in &acked {
        assert_eq!(expired.get(id), Some(&1), "{id} expired exactly once");
    }
    assert_eq!(
        expired.len(),
        acked.len(),
        "only acknowledged holds expired"
    );
    assert_eq!(
        pg.number("SELECT coalesce(sum(reserved), 0) FROM fulfil_stock"),
        0,
        "every unit back"
    );
    // Who expired them: more than one replica may have, but never the same hold twice.
    let writers =
        pg.number("SELECT count(DISTINCT replica) FROM fulfil_changes WHERE kind = 'expire'");
    assert!(writers >= 1);
    for ch in &chs {
        let mut res = ReservationsClient::new(ch.clone());
        for (id, _) in &acked {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let got = res
                    .get(pb::ReservationRef {
                        reservation_id: id.clone(),
                    })
                    .await
                    .expect("get")
                    .into_inner();
                if got.state == "expired" {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{id} is {} on a replica",
                    got.state
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[test]
fn migrate_is_idempotent_and_a_bad_store_is_refused_with_its_reason() {
    let Some(pg) = Pg::start() else { return };
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_fulfil"))
            .args(args)
            .output()
            .expect("fulfil runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, stdout, _) = run(&["migrate", "--store", &pg.url()]);
    assert!(ok && stdout.contains("applied migrations [1]"), "{stdout}");
    let (ok, stdout, _) = run(&["migrate", "--store", &pg.url()]);
    assert!(ok && stdout.contains("up to date (version 1)"), "{stdout}");
    assert_eq!(pg.number("SELECT count(*) FROM fulfil_migrations"), 1);
    let scenario = root().join("tests/conformance/c1-rules");
    let scenario = scenario.to_string_lossy();
    let (ok, _, stderr) = run(&["serve", "--scenario", &scenario, "--store", "mysql://x/y"]);
    assert!(!ok && stderr.contains("--store: a postgres://"), "{stderr}");
    // A database that does not answer: the start is refused, saying so.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let nowhere = format!("postgres://fulfil@127.0.0.1:{port}/postgres");
    let (ok, _, stderr) = run(&[
        "serve",
        "--scenario",
        &scenario,
        "--listen",
        "127.0.0.1:0",
        "--store",
        &nowhere,
    ]);
    assert!(!ok && stderr.contains("cannot be reached"), "{stderr}");
    let (ok, _, stderr) = run(&["migrate", "--store", &nowhere]);
    assert!(!ok && stderr.contains("cannot be reached"), "{stderr}");
}

/// The live state of a replica in this process, on the shared store.
fn in_process(pg: &Pg, data: &std::path::Path) -> fulfil::live::Live {
    fulfil::live::Live::open(fulfil::live::LiveOptions {
        scenario: root().join("tests/conformance/c1-rules"),
        data_dir: Some(data.to_owned()),
        reservation_ttl: Duration::from_secs(600),
        recover: Default::default(),
        store_url: Some(pg.url()),
        request_retention: fulfil::live::DEFAULT_REQUEST_RETENTION,
    })
    .expect("opens on the shared store")
}

/// (node, sku, on_hand, safety_stock, reserved) per entry; (id, units) per held reservation.
type Rows = (Vec<(String, String, u32, u32, u32)>, Vec<(String, u32)>);

/// Stock and reserved units per (node, sku), and held reservations, of a live state.
fn state_of(live: &fulfil::live::Live) -> Rows {
    let s = live.load();
    let snap = &s.snapshot;
    let inv = snap.inventory();
    let mut stock: Vec<_> = (0..inv.len())
        .map(|e| {
            let st = inv.stock(e);
            (
                snap.node(st.node).id.clone(),
                snap.sku(inv.sku_of(e)).id.clone(),
                st.on_hand,
                st.safety_stock,
                s.book.reserved_at(e),
            )
        })
        .collect();
    stock.sort();
    let (held, _) = s.book.scan(usize::MAX);
    let mut held: Vec<_> = held
        .iter()
        .map(|r| (r.id.clone(), r.held.units()))
        .collect();
    held.sort();
    (stock, held)
}

#[test]
fn followers_checkpoints_and_a_loaded_scenario_reach_every_replica() {
    use fulfil::live::InventoryChange;
    let Some(pg) = Pg::start() else { return };
    let (da, db, dc) = (tempdir(), tempdir(), tempdir());
    let a = in_process(&pg, da.path());
    let b = in_process(&pg, db.path());
    let mut ids = Vec::new();
    for i in 0..6 {
        let o = super::live::order(&a, &format!("o{i}"), -73.93, &[("A", 2), ("D", 1)]);
        let c = a.route(&o, false).expect("commit on a");
        ids.push(c.reservation_id.expect("reserved"));
    }
    assert!(b.follow().expect("b follows") >= 6);
    assert_eq!(state_of(&a), state_of(&b), "b follows a");
    // A change on b reaches a; an order id retried on b finds a's reservation.
    b.release(&ids[0]).expect("release on b");
    let retried = super::live::order(&b, "o1", -73.93, &[("A", 2), ("D", 1)]);
    let again = b.route(&retried, false).expect("retry on b");
    assert_eq!(
        again.reservation_id.as_ref(),
        Some(&ids[1]),
        "the same reservation"
    );
    a.follow().expect("a follows");
    assert_eq!(
        a.reservation(&ids[0]).expect("known").state,
        fulfil::reserve::ReservationState::Released
    );
    let set = |n: &str, q: u32, seq: u64| InventoryChange {
        node_id: n.into(),
        sku: "D".into(),
        set_on_hand: Some(q),
        adjust: None,
        safety_stock: None,
        source: "wms".into(),
        sequence: seq,
    };
    a.apply_inventory_blocking(&[set("DC-EAST", 7, 1)])
        .expect("stock on a");
    b.follow().expect("b follows");
    assert_eq!(state_of(&a), state_of(&b));
    // The same source and sequence on b is a replay: skipped, as on one server.
    let applied = b
        .apply_inventory_blocking(&[set("DC-EAST", 1, 1)])
        .expect("replayed sequence");
    assert_eq!(
        applied.applied, 0,
        "an old sequence is skipped on any replica"
    );
    // Two checkpoints: the changes before the first are dropped; a new replica starts from
    // the newest and the changes after it.
    assert!(b.compact(0).expect("compacts"));
    let first = pg.number("SELECT max(seq) FROM fulfil_checkpoints");
    b.release(&ids[2]).expect("release");
    assert!(a.compact(0).expect("compacts on a, after following"));
    assert_eq!(pg.number("SELECT count(*) FROM fulfil_checkpoints"), 1);
    assert_eq!(
        pg.number(&format!(
            "SELECT count(*) FROM fulfil_changes WHERE seq <= {first}"
        )),
        0,
        "changes up to the previous checkpoint dropped"
    );
    b.release(&ids[3]).expect("release after the checkpoint");
    let c = in_process(&pg, dc.path());
    a.follow().expect("a follows");
    assert_eq!(
        state_of(&c),
        state_of(&a),
        "a new replica: checkpoint and changes"
    );
    // A scenario loaded on one replica is loaded on the others from the database's copy.
    let c2 = root().join("tests/conformance/c2-policy");
    a.load_scenario(&c2.to_string_lossy()).expect("load on a");
    std::fs::remove_dir_all(db.path().join("scenarios")).ok();
    b.follow().expect("b follows the load");
    assert_eq!(b.info().nodes, a.info().nodes);
    assert_eq!(state_of(&a), state_of(&b));
    let sum: i64 = pg.number("SELECT coalesce(sum(on_hand), 0) FROM fulfil_stock");
    let local: i64 = state_of(&a).0.iter().map(|s| i64::from(s.2)).sum();
    assert_eq!(sum, local, "the rows were written anew for the new network");
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_frozen_under_load_stalls_the_others_at_most_for_the_idle_timeout() {
    let Some(pg) = Pg::start() else { return };
    let (rs, chs) = replicas(&pg, 2, &[]).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (out, tasks) = stream_commits(&chs, 8, true, stop.clone());
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // Frozen, perhaps in the middle of its turn with the head locked: the database ends its
    // session once it has been idle in a transaction for IDLE_IN_TURN.
    let pid = rs[0].child.id() as libc::pid_t;
    // SAFETY: signalling a child process of this test.
    unsafe { libc::kill(pid, libc::SIGSTOP) };
    let frozen = Instant::now();
    let limit = fulfil::reserve::postgres::IDLE_IN_TURN + Duration::from_secs(10);
    loop {
        let going = out
            .lock()
            .unwrap()
            .acked
            .iter()
            .any(|(_, r, sent, _)| *r == 1 && *sent > frozen);
        if going {
            break;
        }
        assert!(frozen.elapsed() < limit, "the other replica goes on");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    unsafe { libc::kill(pid, libc::SIGCONT) };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in tasks {
        t.await.expect("client");
    }
    let out = std::mem::take(&mut *out.lock().unwrap());
    acknowledged_in_db(&pg, &out);
}

#[test]
fn a_turn_left_open_by_a_stalled_replica_is_ended_by_the_database() {
    use fulfil::reserve::postgres::{IDLE_IN_TURN, PgStore};
    use fulfil::reserve::{Projection, Record, Store};
    let Some(pg) = Pg::start() else { return };
    let (da, db) = (tempdir(), tempdir());
    let b = in_process(&pg, db.path());
    // A replica that takes the head and then stops answering (frozen, or cut off).
    let stalled = PgStore::connect(&pg.url(), da.path()).expect("connects");
    stalled.recover().expect("recovers");
    stalled.begin_turn().expect("takes the head");
    let t0 = Instant::now();
    let o = super::live::order(&b, "after-the-stall", -73.93, &[("A", 1)]);
    let c = b
        .route(&o, false)
        .expect("commits once the stalled turn is ended");
    assert!(c.reservation_id.is_some());
    let waited = t0.elapsed();
    assert!(
        waited + Duration::from_secs(1) >= IDLE_IN_TURN
            && waited < IDLE_IN_TURN + Duration::from_secs(5),
        "waited {waited:?} for a turn idle for {IDLE_IN_TURN:?}"
    );
    // What the stalled replica appends now is refused, never acknowledged.
    let (tx, rx) = std::sync::mpsc::channel();
    stalled.append_projected(
        vec![Record::Release { id: "r-1".into() }],
        Projection::default(),
        Box::new(move |r| {
            let _ = tx.send(r);
        }),
    );
    stalled.end_turn(false);
    assert!(
        rx.recv().expect("ack").is_err(),
        "the ended turn commits nothing"
    );
    assert_eq!(
        pg.number("SELECT count(*) FROM fulfil_changes WHERE kind = 'release'"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_on_an_empty_database_make_its_network_once() {
    let Some(pg) = Pg::start() else { return };
    // Each prints its address before it loads: the three migrate and load at once.
    let rs: Vec<Replica> = (0..3).map(|_| Replica::spawn(&pg, &[])).collect();
    let mut nodes = Vec::new();
    for r in &rs {
        let ch = r.ready().await;
        let mut net = fulfil::service::pb::network_client::NetworkClient::new(ch);
        let info = net
            .get_snapshot_info(pb::SnapshotInfoRequest {})
            .await
            .expect("info")
            .into_inner();
        nodes.push(info.nodes);
    }
    assert_eq!(
        nodes,
        vec![6, 6, 6],
        "every replica has c1-rules' six nodes"
    );
    assert_eq!(pg.number("SELECT count(*) FROM fulfil_migrations"), 1);
    assert_eq!(
        pg.number("SELECT count(*) FROM fulfil_changes WHERE kind = 'load_scenario'"),
        1,
        "one replica made the network"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_store_dropped_on_an_async_worker_closes_its_connections_without_panicking() {
    // A replica's old live state can lose its last reference on a tokio worker (a handler, the
    // reopen loop); the blocking client's own drop must not run a runtime there.
    let Some(pg) = Pg::start() else { return };
    let data = tempfile::tempdir().expect("temp");
    let (url, dir) = (pg.url(), data.path().to_owned());
    let store = tokio::task::spawn_blocking(move || {
        fulfil::reserve::postgres::PgStore::connect(&url, &dir).expect("connects")
    })
    .await
    .expect("connects off the workers");
    drop(store);
    tokio::task::yield_now().await;
}
