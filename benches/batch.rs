//! Batch re-optimization on generated backlogs with binding capacity and scarce stock: cost
//! against the proven bound, the saving against sequential routing, time and peak memory.
//!
//! `cargo bench --bench batch [-- --sizes 1000,10000,100000] [-- --limits 60,60,600] [-- --gap 0.01]`
//!
//! Each backlog is generated once into `target/bench-batch/N` with all its orders on one day
//! (so a day's capacity binds) and stock at 0.4 of a healthy network. 1,000 and 10,000 orders use
//! the default network (10 DCs, 300 stores, 5,000 SKUs); 100,000 orders a larger one (30 DCs,
//! 1,000 stores, 20,000 SKUs). Peak memory is the process's high-water mark after each size
//! (sizes run in increasing order, so each figure covers the largest backlog so far).

use std::path::PathBuf;
use std::time::Duration;

use fulfil::batch::{BatchOptions, reoptimize};
use fulfil::route::Ledger;
use fulfil::scenario::generate::{GenConfig, generate};
use fulfil::scenario::{load_snapshot, read_orders};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn list<T: std::str::FromStr>(name: &str) -> Option<Vec<T>> {
    arg(name).map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
}

fn backlog(orders: usize) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target/bench-batch")
        .join(orders.to_string());
    if !dir.join("orders.csv").exists() {
        let large = orders > 20_000;
        let cfg = GenConfig {
            seed: 7,
            dcs: if large { 30 } else { 10 },
            stores: if large { 1000 } else { 300 },
            dropship: 5,
            skus: if large { 20_000 } else { 5000 },
            orders,
            days: 1,
            stock: 0.4,
        };
        eprintln!(
            "generating a backlog of {orders} orders into {} ...",
            dir.display()
        );
        generate(&cfg, &dir).expect("backlog generates");
    }
    dir
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` asks harness-less benches for their tests.
    }
    let sizes: Vec<usize> = list("--sizes").unwrap_or_else(|| vec![1000, 10_000, 100_000]);
    let limits: Vec<f64> = list("--limits").unwrap_or_else(|| vec![60.0, 60.0, 600.0]);
    let gap: f64 = arg("--gap").and_then(|s| s.parse().ok()).unwrap_or(0.0001);
    println!(
        "| orders | status | batch cost | lower bound | gap | sequential cost | saving | shipments (seq.) | split orders (seq.) | backordered units (seq.) | time | peak memory |"
    );
    println!(
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (i, &n) in sizes.iter().enumerate() {
        let dir = backlog(n);
        let snapshot = load_snapshot(&dir).expect("loads");
        let orders = read_orders(&dir.join("orders.csv"), &snapshot).expect("orders");
        let limit = limits.get(i).or(limits.last()).copied().unwrap_or(60.0);
        let options = BatchOptions {
            time_limit: Duration::from_secs_f64(limit),
            gap_target: gap,
            ..BatchOptions::default()
        };
        let r = reoptimize(
            &snapshot,
            &Ledger::new(&snapshot),
            &orders,
            &options,
            &|_| {},
        )
        .expect("batch runs");
        let (s, b) = (&r.summary, &r.baseline);
        println!(
            "| {n} | {} | {:.2} | {:.2} | {:.3}% | {:.2} | {:.2} ({:.2}%) | {} ({}) | {} ({}) | {} ({}) | {:.1} s (limit {limit:.0} s) | {:.0} MiB |",
            r.status,
            s.cost.total,
            r.lower_bound,
            100.0 * r.gap(),
            b.cost.total,
            b.cost.total - s.cost.total,
            100.0 * (b.cost.total - s.cost.total) / b.cost.total,
            s.shipments,
            b.shipments,
            s.split_orders,
            b.split_orders,
            s.units_backordered,
            b.units_backordered,
            s.elapsed.as_secs_f64(),
            peak_rss_mib()
        );
    }
}
