//! `fulfil loadgen`: drives a running server over loopback and reports throughput and latency.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::client::Conn;
use super::percentile::percentile;
use anyhow::Context;
use fulfil::service::pb::{
    self, network_client::NetworkClient, reservations_client::ReservationsClient,
    routing_client::RoutingClient,
};

use clap::Args;
use fulfil::service::order_pb;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct LoadgenArgs {
    /// The server, e.g. http://127.0.0.1:50051.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// Scenario whose orders.csv (and inventory.csv, for inventory changes) drive the load.
    #[arg(long, default_value = "data/demo")]
    pub scenario: PathBuf,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// HTTP/2 connections the calls are spread over (as several client instances would be).
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    /// Threads of the generator itself. One drives 64 calls in flight and leaves the rest of
    /// the machine to the server when both share it.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Seconds to run (and measure).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring starts (calls made then are not counted).
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Reserve (commit) orders instead of quoting them; reservations are released right after
    /// so stock does not run out.
    #[arg(long)]
    pub commit: bool,
    /// With --commit: the share of calls that commit (the rest are quotes), e.g. 0.2 for a
    /// checkout flow that quotes several times per order placed.
    #[arg(long, default_value_t = 1.0, requires = "commit")]
    pub commit_share: f64,
    /// With --commit: after each committed order, its first shipment's node rejects it
    /// (Reservations.Reject, re-routed) and the order is amended (Reservations.Amend) before the
    /// release; their latencies are reported beside the route calls'.
    #[arg(long, requires = "commit")]
    pub exceptions: bool,
    /// With --commit: every commit carries a request id of its own (as the Python client
    /// sends), so the server remembers one per commit for its retention window.
    #[arg(long, requires = "commit")]
    pub request_ids: bool,
    /// Inventory changes per second streamed in meanwhile.
    #[arg(long, default_value_t = 0)]
    pub inventory_rate: u32,
    /// Instead of single calls: send one RouteBatch of this many orders and time it (a dry run;
    /// with --commit, reserved, then released untimed before the next of three rounds).
    #[arg(long)]
    pub batch: Option<usize>,
    /// The overload benchmark: the sustainable rate S (closed loop at --concurrency), then open
    /// loops at S/4 (the unloaded latency) and at 10×S; reports the accepted calls' p99 against
    /// the unloaded p99, and how fast shed calls are answered.
    #[arg(long, conflicts_with_all = ["batch", "commit", "inventory_rate"])]
    pub overload: bool,
    /// Each call carries the lines of this many orders of the file (heavier calls).
    #[arg(long, default_value_t = 1)]
    pub merge: usize,
    #[command(flatten)]
    pub client: super::client::ClientArgs,
}

pub fn run(args: LoadgenArgs) -> anyhow::Result<()> {
    check(&args)?;
    let mut names = fulfil::scenario::Interner::default();
    let orders =
        fulfil::scenario::read_orders_unresolved(&args.scenario.join("orders.csv"), &mut names)?;
    if orders.is_empty() {
        anyhow::bail!("{}: no orders", args.scenario.join("orders.csv").display());
    }
    let orders: Vec<pb::Order> = orders.iter().map(|o| order_pb(o, &names)).collect();
    let orders = Arc::new(merged(orders, args.merge));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let channels = connect(&args).await?;
        if let Some(n) = args.batch {
            return batch(channels[0].clone(), &orders, n, args.commit).await;
        }
        if args.overload {
            let overload = super::overload::Overload {
                duration: Duration::from_secs_f64(args.duration),
                warmup: Duration::from_secs_f64(args.warmup),
                concurrency: args.concurrency,
            };
            return super::overload::run(&overload, channels, orders).await;
        }
        closed_loop(&args, channels, orders).await
    })
}

/// The usual run: `--concurrency` clients each sending its share of the orders back to back
/// (committed, with exceptions, as asked) through the warm-up and the measured window, with the
/// inventory stream beside them; then the report.
async fn closed_loop(
    args: &LoadgenArgs,
    channels: Vec<Conn>,
    orders: Arc<Vec<pb::Order>>,
) -> anyhow::Result<()> {
    let channel = channels[0].clone();
    // Calls during the warm-up (new connections, the server's first allocations) are made
    // but not counted.
    let measured_from = Instant::now() + Duration::from_secs_f64(args.warmup);
    let window = (
        measured_from,
        measured_from + Duration::from_secs_f64(args.duration),
    );
    let inventory_sent = Arc::new(AtomicU64::new(0));
    let inventory = if args.inventory_rate > 0 {
        let pairs = inventory_pairs(&args.scenario)?;
        Some(tokio::spawn(stream_inventory(
            channel.clone(),
            pairs,
            args.inventory_rate,
            window,
            inventory_sent.clone(),
        )))
    } else {
        None
    };
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for t in 0..args.concurrency {
        let worker = Worker {
            channel: channels[t % channels.len()].clone(),
            orders: orders.clone(),
            errors: errors.clone(),
            commit: args.commit.then_some(args.commit_share),
            exceptions: args.exceptions,
            request_ids: args.request_ids,
            first: t,
            stride: args.concurrency,
            window,
        };
        tasks.push(tokio::spawn(worker.run()));
    }
    let mut all: Vec<u32> = Vec::new();
    let (mut rejects, mut amends, mut shed) = (Vec::new(), Vec::new(), Vec::new());
    for t in tasks {
        let got = t.await.context("load task failed")?;
        all.extend(got.route);
        rejects.extend(got.reject);
        amends.extend(got.amend);
        shed.extend(got.shed);
    }
    let elapsed = measured_from.elapsed().as_secs_f64();
    if let Some(inv) = inventory {
        inv.await.context("inventory task failed")??;
    }
    all.sort_unstable();
    let errors = errors.load(Ordering::Relaxed);
    let sent = inventory_sent.load(Ordering::Relaxed);
    report(args, &all, elapsed, errors, sent);
    for (name, v) in [("shed", shed), ("reject", rejects), ("amend", amends)] {
        report_latencies(name, v);
    }
    Ok(())
}

/// Orders of `k` orders' lines each (the first's customer): heavier calls, for a server whose
/// work should outweigh the generator's.
fn merged(orders: Vec<pb::Order>, k: usize) -> Vec<pb::Order> {
    if k <= 1 {
        return orders;
    }
    orders
        .chunks(k)
        .map(|c| {
            let mut o = c[0].clone();
            o.lines = c
                .iter()
                .filter(|x| x.pickup_node.is_empty())
                .flat_map(|x| x.lines.iter().cloned())
                .collect();
            let mut seen = std::collections::HashSet::new();
            o.lines.retain(|l| seen.insert(l.sku.clone()));
            o
        })
        .filter(|o| !o.lines.is_empty())
        .collect()
}

/// Refuses settings that cannot make a run.
fn check(args: &LoadgenArgs) -> anyhow::Result<()> {
    if args.concurrency == 0 {
        anyhow::bail!("--concurrency must be at least 1");
    }
    if args.threads == 0 {
        anyhow::bail!("--threads must be at least 1");
    }
    if args.connections == 0 || args.connections > args.concurrency {
        anyhow::bail!("--connections must be between 1 and --concurrency");
    }
    if !(0.0..=1.0).contains(&args.commit_share) {
        anyhow::bail!("--commit-share must be between 0 and 1");
    }
    if !(args.duration.is_finite() && args.duration > 0.0) {
        anyhow::bail!("--duration must be a positive number of seconds");
    }
    if !(args.warmup.is_finite() && args.warmup >= 0.0) {
        anyhow::bail!("--warmup must be a number of seconds, 0 or more");
    }
    Ok(())
}

/// `--connections` connections to the server.
async fn connect(args: &LoadgenArgs) -> anyhow::Result<Vec<Conn>> {
    let mut channels = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        channels.push(args.client.connect(&args.server).await?);
    }
    Ok(channels)
}

/// One concurrent caller: routes orders `first`, `first + stride`, … until the window ends.
struct Worker {
    channel: Conn,
    orders: Arc<Vec<pb::Order>>,
    errors: Arc<AtomicU64>,
    /// The share of calls that commit (then release), if any do.
    commit: Option<f64>,
    /// Committed orders are rejected and amended before their release.
    exceptions: bool,
    /// Every commit carries a request id of its own.
    request_ids: bool,
    first: usize,
    stride: usize,
    /// Calls are counted from the first instant and made until the second.
    window: (Instant, Instant),
}

/// Latencies of the calls made in the window, in nanoseconds.
#[derive(Default)]
struct Latencies {
    /// Route calls the server accepted (answered, with a decision or an error).
    route: Vec<u32>,
    /// Route calls the server shed (RESOURCE_EXHAUSTED at its in-flight limit).
    shed: Vec<u32>,
    reject: Vec<u32>,
    amend: Vec<u32>,
}

/// Releases a reservation, retrying while the server sheds the call (a load generator must
/// give back every unit it took).
pub(super) async fn release(
    reservations: &mut ReservationsClient<Conn>,
    id: String,
) -> Result<(), tonic::Status> {
    let mut pause = Duration::from_micros(200);
    loop {
        match reservations
            .release(pb::ReservationRef {
                reservation_id: id.clone(),
            })
            .await
        {
            Err(s) if s.code() == tonic::Code::ResourceExhausted => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other.map(|_| ()),
        }
    }
}

fn since(t0: Instant) -> u32 {
    t0.elapsed().as_nanos().min(u128::from(u32::MAX)) as u32
}

impl Worker {
    /// The latencies of the calls made in the window, in nanoseconds.
    async fn run(self) -> Latencies {
        let (measured_from, deadline) = self.window;
        let mut routing = RoutingClient::new(self.channel.clone());
        let mut reservations = ReservationsClient::new(self.channel);
        let mut lat = Latencies {
            route: Vec::with_capacity(100_000),
            ..Latencies::default()
        };
        let mut i = self.first;
        let mut n = 0u64;
        while Instant::now() < deadline {
            let order = self.orders[i % self.orders.len()].clone();
            let again = order.clone();
            i += self.stride;
            // Commits spread evenly: call n commits when the running share says so.
            let this_commits = self
                .commit
                .is_some_and(|share| ((n + 1) as f64 * share).floor() > (n as f64 * share).floor());
            n += 1;
            let t0 = Instant::now();
            let r = routing
                .route_order(pb::RouteOrderRequest {
                    order: Some(order),
                    dry_run: !this_commits,
                    explain: false,
                    request_id: if self.request_ids && this_commits {
                        format!("lg-{}-{n}", self.first)
                    } else {
                        String::new()
                    },
                    policy: String::new(),
                })
                .await;
            let counted = t0 >= measured_from;
            let shed = matches!(&r, Err(s) if s.code() == tonic::Code::ResourceExhausted);
            if counted {
                if shed {
                    lat.shed.push(since(t0));
                } else {
                    lat.route.push(since(t0));
                }
            }
            match r {
                Ok(resp) => {
                    let resp = resp.into_inner();
                    let id = resp.reservation_id.clone();
                    if this_commits && !id.is_empty() && self.exceptions {
                        let node = resp
                            .decision
                            .and_then(|d| d.shipments.first().map(|s| s.node_id.clone()))
                            .unwrap_or_default();
                        let tag = format!("lg-{}-{n}", self.first);
                        let (t_reject, t_amend, ok) =
                            exceptions(&mut reservations, &id, node, again, &tag).await;
                        if counted {
                            lat.reject.push(t_reject);
                            lat.amend.push(t_amend);
                        }
                        if !ok {
                            self.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    if this_commits && !id.is_empty() {
                        let _ = release(&mut reservations, id).await;
                    }
                }
                Err(_) if shed => {}
                Err(_) => {
                    self.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        lat
    }
}

/// A committed reservation rejected by `node` and then amended with the same order: the two
/// latencies (ns) and whether both succeeded.
async fn exceptions(
    reservations: &mut ReservationsClient<Conn>,
    id: &str,
    node: String,
    order: pb::Order,
    tag: &str,
) -> (u32, u32, bool) {
    let t1 = Instant::now();
    let reject = reservations
        .reject(pb::RejectRequest {
            reservation_id: id.to_owned(),
            node_id: node,
            request_id: format!("{tag}-r"),
            reason: "loadgen".into(),
            ..Default::default()
        })
        .await;
    let t_reject = since(t1);
    let t2 = Instant::now();
    let amend = reservations
        .amend(pb::AmendRequest {
            reservation_id: id.to_owned(),
            order: Some(order),
            request_id: format!("{tag}-a"),
        })
        .await;
    (t_reject, since(t2), reject.is_ok() && amend.is_ok())
}

/// Prints the percentiles of one kind of call, if any was made.
fn report_latencies(name: &str, mut v: Vec<u32>) {
    if v.is_empty() {
        return;
    }
    v.sort_unstable();
    println!(
        "{name:<6} ms        p50 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  ({} calls)",
        percentile(&v, 0.5),
        percentile(&v, 0.99),
        percentile(&v, 0.999),
        percentile(&v, 1.0),
        v.len()
    );
}

/// Prints the run's throughput and latency percentiles (`all` sorted).
fn report(args: &LoadgenArgs, all: &[u32], elapsed: f64, errors: u64, inventory_sent: u64) {
    println!(
        "route calls      {} in {:.2} s = {:.0}/s ({} errors, concurrency {}, {})",
        all.len(),
        elapsed,
        all.len() as f64 / elapsed,
        errors,
        args.concurrency,
        if args.commit {
            format!(
                "{:.0}% committing, then releasing",
                100.0 * args.commit_share
            )
        } else {
            "dry run".to_owned()
        }
    );
    println!(
        "latency ms       p50 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}",
        percentile(all, 0.5),
        percentile(all, 0.99),
        percentile(all, 0.999),
        percentile(all, 1.0)
    );
    if args.inventory_rate > 0 {
        println!(
            "inventory        {inventory_sent} changes streamed ({:.0}/s)",
            inventory_sent as f64 / elapsed
        );
    }
}

async fn batch(channel: Conn, orders: &[pb::Order], n: usize, commit: bool) -> anyhow::Result<()> {
    let mut routing = RoutingClient::new(channel.clone())
        .max_decoding_message_size(256 << 20)
        .max_encoding_message_size(256 << 20);
    // Orders beyond the file's are copies under new ids (a committed batch names each once).
    let batch: Vec<pb::Order> = (0..n)
        .map(|i| {
            let mut o = orders[i % orders.len()].clone();
            if i >= orders.len() {
                o.order_id = format!("{}#{}", o.order_id, i / orders.len());
            }
            o
        })
        .collect();
    let mut best = f64::INFINITY;
    for _ in 0..3 {
        let t0 = Instant::now();
        let resp = routing
            .route_batch(pb::RouteBatchRequest {
                orders: batch.clone(),
                dry_run: !commit,
                policy: String::new(),
            })
            .await
            .map_err(|s| anyhow::anyhow!("{}: {}", s.code(), s.message()))?
            .into_inner();
        best = best.min(t0.elapsed().as_secs_f64());
        anyhow::ensure!(resp.decisions.len() == n, "expected {n} decisions");
        if commit {
            // Untimed: give the stock back for the next round, 64 calls at a time.
            let ids: Vec<String> = resp
                .reservation_ids
                .into_iter()
                .filter(|id| !id.is_empty())
                .collect();
            for chunk in ids.chunks(64) {
                let mut calls = tokio::task::JoinSet::new();
                for id in chunk {
                    let mut reservations = ReservationsClient::new(channel.clone());
                    let id = id.clone();
                    calls.spawn(async move { release(&mut reservations, id).await });
                }
                while let Some(r) = calls.join_next().await {
                    r.context("release task failed")?
                        .map_err(|s| anyhow::anyhow!("release: {}: {}", s.code(), s.message()))?;
                }
            }
        }
    }
    println!(
        "batch            {n} orders in {:.3} s = {:.0} orders/s (best of 3, {}, round trip included)",
        best,
        n as f64 / best,
        if commit {
            "committed: reserved and journaled"
        } else {
            "dry run"
        }
    );
    Ok(())
}

fn inventory_pairs(scenario: &std::path::Path) -> anyhow::Result<Vec<(String, String)>> {
    let path = scenario.join("inventory.csv");
    let mut rdr = csv::Reader::from_path(&path).with_context(|| format!("{}", path.display()))?;
    let mut pairs = Vec::new();
    for r in rdr.records().take(50_000) {
        let r = r.with_context(|| format!("{}", path.display()))?;
        pairs.push((r[0].to_owned(), r[1].to_owned()));
    }
    anyhow::ensure!(!pairs.is_empty(), "{}: no rows", path.display());
    Ok(pairs)
}

async fn stream_inventory(
    channel: Conn,
    pairs: Vec<(String, String)>,
    rate: u32,
    (measured_from, deadline): (Instant, Instant),
    sent: Arc<AtomicU64>,
) -> anyhow::Result<()> {
    let (tx, rx) = tokio::sync::mpsc::channel::<pb::InventoryChange>(65_536);
    let mut network = NetworkClient::new(channel);
    let call = tokio::spawn(async move {
        network
            .stream_inventory(tokio_stream::wrappers::ReceiverStream::new(rx))
            .await
    });
    let per_tick = (rate / 100).max(1);
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    let mut seq = 0u64;
    while Instant::now() < deadline {
        tick.tick().await;
        for _ in 0..per_tick {
            seq += 1;
            let (node, sku) = &pairs[(seq as usize * 7919) % pairs.len()];
            let msg = pb::InventoryChange {
                node_id: node.clone(),
                sku: sku.clone(),
                // Up one, down one: stock levels stay where they were.
                change: Some(pb::inventory_change::Change::Adjust(
                    if seq.is_multiple_of(2) { -1 } else { 1 },
                )),
                safety_stock: None,
                source: "loadgen".into(),
                sequence: seq,
            };
            if tx.send(msg).await.is_err() {
                break;
            }
            if Instant::now() >= measured_from {
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    drop(tx);
    call.await
        .context("inventory stream task")?
        .map_err(|s| anyhow::anyhow!("inventory stream: {}: {}", s.code(), s.message()))?;
    Ok(())
}
