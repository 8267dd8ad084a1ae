//! `fulfil loadgen --overload`: what a server does at ten times the load it can sustain. Three
//! runs of dry-run route calls on the same connections:
//!
//! 1. **closed loop** at `--concurrency`: the sustainable rate S (calls the server accepts per
//!    second; shed calls are not counted);
//! 2. **open loop at S/4**: calls sent on a fixed schedule whatever the answers — the unloaded
//!    latency;
//! 3. **open loop at 10×S**: the accepted calls' latency against the unloaded one, and how fast
//!    the shed calls (RESOURCE_EXHAUSTED) are answered.
//!
//! Latency is timed from when a call is sent; the achieved send rate is printed beside the
//! target, so a generator that cannot keep up shows it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fulfil::service::pb::{self, routing_client::RoutingClient};
use tokio::sync::{Semaphore, mpsc};

use super::client::Conn;

/// Calls one open loop may have outstanding; past it a scheduled call is skipped (and counted).
const MAX_OUTSTANDING: usize = 20_000;

/// What one run measured.
#[derive(Default)]
struct Run {
    accepted: Vec<u32>,
    shed: Vec<u32>,
    errors: u64,
    /// The first error's status, to say what went wrong.
    first_error: Option<String>,
    skipped: u64,
    sent: u64,
    seconds: f64,
}

fn call(order: &pb::Order) -> pb::RouteOrderRequest {
    pb::RouteOrderRequest {
        order: Some(order.clone()),
        dry_run: true,
        explain: false,
        request_id: String::new(),
        policy: String::new(),
    }
}

fn nanos(t0: Instant) -> u32 {
    t0.elapsed().as_nanos().min(u128::from(u32::MAX)) as u32
}

/// Sorts the samples into the run.
fn add(run: &mut Run, result: &Result<(), tonic::Status>, ns: u32) {
    match result {
        Ok(()) => run.accepted.push(ns),
        Err(s) if s.code() == tonic::Code::ResourceExhausted => run.shed.push(ns),
        Err(s) => {
            run.errors += 1;
            run.accepted.push(ns);
            run.first_error
                .get_or_insert_with(|| format!("{:?}: {}", s.code(), s.message()));
        }
    }
}

async fn closed_loop(conns: &[Conn], orders: &Arc<Vec<pb::Order>>, n: usize, d: Duration) -> Run {
    let until = Instant::now() + d;
    let mut tasks = Vec::new();
    for t in 0..n {
        let mut client = RoutingClient::new(conns[t % conns.len()].clone());
        let orders = orders.clone();
        tasks.push(tokio::spawn(async move {
            let mut run = Run::default();
            let mut i = t;
            while Instant::now() < until {
                let t0 = Instant::now();
                let r = client.route_order(call(&orders[i % orders.len()])).await;
                add(&mut run, &r.map(|_| ()), nanos(t0));
                i += n;
            }
            run
        }));
    }
    let mut all = Run {
        seconds: d.as_secs_f64(),
        ..Run::default()
    };
    for t in tasks {
        if let Ok(r) = t.await {
            all.accepted.extend(r.accepted);
            all.shed.extend(r.shed);
            all.errors += r.errors;
            all.first_error = all.first_error.or(r.first_error);
        }
    }
    all.sent = (all.accepted.len() + all.shed.len()) as u64;
    all
}

async fn open_loop(conns: &[Conn], orders: &Arc<Vec<pb::Order>>, rate: f64, d: Duration) -> Run {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Result<(), tonic::Status>, u32)>();
    let outstanding = Arc::new(Semaphore::new(MAX_OUTSTANDING));
    let start = Instant::now();
    let mut run = Run::default();
    let mut k = 0u64;
    while start.elapsed() < d {
        let due = start + Duration::from_secs_f64(k as f64 / rate);
        if due > Instant::now() {
            tokio::time::sleep_until(due.into()).await;
        }
        let i = k as usize;
        k += 1;
        let Ok(permit) = outstanding.clone().try_acquire_owned() else {
            run.skipped += 1;
            continue;
        };
        let mut client = RoutingClient::new(conns[i % conns.len()].clone());
        let request = call(&orders[i % orders.len()]);
        let tx = tx.clone();
        tokio::spawn(async move {
            let t0 = Instant::now();
            let r = client.route_order(request).await.map(|_| ());
            let _ = tx.send((r, nanos(t0)));
            drop(permit);
        });
        run.sent += 1;
    }
    run.seconds = start.elapsed().as_secs_f64();
    drop(tx);
    while let Some((r, ns)) = rx.recv().await {
        add(&mut run, &r, ns);
    }
    run
}

fn ms(sorted: &[u32], p: f64) -> f64 {
    super::percentile::percentile(sorted, p)
}

fn print(name: &str, target: Option<f64>, run: &mut Run) {
    run.accepted.sort_unstable();
    run.shed.sort_unstable();
    let target = target.map_or(String::new(), |t| format!(" (target {t:.0}/s)"));
    println!(
        "{name:<22} sent {:.0}/s{target}: accepted {:.0}/s, p50 {:.3} ms, p99 {:.3} ms; shed {:.0}/s, \
         p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms; errors {}, skipped {}",
        run.sent as f64 / run.seconds,
        run.accepted.len() as f64 / run.seconds,
        ms(&run.accepted, 0.5),
        ms(&run.accepted, 0.99),
        run.shed.len() as f64 / run.seconds,
        ms(&run.shed, 0.5),
        ms(&run.shed, 0.99),
        ms(&run.shed, 1.0),
        run.errors,
        run.skipped,
    );
    if let Some(e) = &run.first_error {
        println!("{:<22} first error: {e}", "");
    }
}

/// How long each run lasts, after how long a warm-up, with how many closed-loop clients
/// (`fulfil loadgen --duration`, `--warmup`, `--concurrency`).
pub struct Overload {
    pub duration: Duration,
    pub warmup: Duration,
    pub concurrency: usize,
}

/// The three runs and the two ratios the envelope promises.
pub async fn run(
    args: &Overload,
    conns: Vec<Conn>,
    orders: Arc<Vec<pb::Order>>,
) -> anyhow::Result<()> {
    let d = args.duration;
    // Warm-up: connections and the server's first allocations.
    let _ = closed_loop(&conns, &orders, args.concurrency, args.warmup).await;
    let mut closed = closed_loop(&conns, &orders, args.concurrency, d).await;
    let sustainable = closed.accepted.len() as f64 / closed.seconds;
    anyhow::ensure!(
        sustainable > 0.0,
        "the server accepted no call in the closed loop"
    );
    print(
        &format!("closed loop ({})", args.concurrency),
        None,
        &mut closed,
    );
    let mut light = open_loop(&conns, &orders, sustainable / 4.0, d).await;
    print("open loop S/4", Some(sustainable / 4.0), &mut light);
    let mut heavy = open_loop(&conns, &orders, sustainable * 10.0, d).await;
    print("open loop 10xS", Some(sustainable * 10.0), &mut heavy);
    let unloaded = ms(&light.accepted, 0.99);
    let loaded = ms(&heavy.accepted, 0.99);
    println!(
        "overload: accepted p99 at 10xS / unloaded p99 = {:.3} / {:.3} ms = {:.2}x (goal <= 2x); \
         shed calls answered in p99 {:.3} ms, max {:.3} ms (goal <= 1 ms)",
        loaded,
        unloaded,
        loaded / unloaded.max(1e-9),
        ms(&heavy.shed, 0.99),
        ms(&heavy.shed, 1.0),
    );
    Ok(())
}
