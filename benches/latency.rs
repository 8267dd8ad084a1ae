//! Per-order routing latency (p50/p99/p99.9) by order size, `fulfil route` throughput for both
//! policies, snapshot build time and memory per inventory row. Prints Markdown for BENCHMARKS.md.
//!
//! `cargo bench --bench latency` (add `-- --skip-large` to leave out the 2,050-node network).

mod common;

use std::time::Instant;

use fulfil::route::{PolicyKind, Router, Untouched, route_all};
use fulfil::scenario::load_snapshot;
use fulfil::snapshot::Snapshot;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn latencies(name: &str, snapshot: &Snapshot, orders: &[fulfil::model::Order]) {
    println!("\n### Route latency, {name} (one core, untouched stock, µs per order)\n");
    println!("| lines | orders | p50 | p99 | p99.9 | mean | search nodes (mean) | budget hit |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut router = Router::new();
    for lines in [1usize, 2, 4, 8] {
        let pool = common::orders_with_lines(orders, lines, 5000);
        // Warm up caches and the allocator.
        for o in pool.iter().take(500) {
            let _ = router.route(snapshot, &Untouched, o, PolicyKind::Optimal);
        }
        let mut us = Vec::with_capacity(pool.len());
        let mut nodes = 0u64;
        let mut inexact = 0;
        for o in &pool {
            let t = Instant::now();
            let r = router
                .route(snapshot, &Untouched, o, PolicyKind::Optimal)
                .expect("routes");
            us.push(t.elapsed().as_secs_f64() * 1e6);
            nodes += r.search_nodes;
            inexact += usize::from(!r.exact);
        }
        let mean = us.iter().sum::<f64>() / us.len() as f64;
        us.sort_by(f64::total_cmp);
        println!(
            "| {lines} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} | {inexact} |",
            us.len(),
            percentile(&us, 0.5),
            percentile(&us, 0.99),
            percentile(&us, 0.999),
            mean,
            nodes as f64 / us.len() as f64
        );
    }
}

fn main() {
    let skip_large = std::env::args().any(|a| a == "--skip-large");
    let demo = common::demo_dir();

    println!("### Snapshot build\n");
    println!("| network | nodes | SKUs | inventory rows | load + build | index bytes per row |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let mut nets = vec![("demo", demo.clone())];
    if !skip_large {
        nets.push(("large", common::large_dir()));
    }
    for (name, dir) in &nets {
        let t = Instant::now();
        let snap = load_snapshot(dir).expect("loads");
        let secs = t.elapsed().as_secs_f64();
        let inv = snap.inventory();
        println!(
            "| {name} | {} | {} | {} | {:.3} s | {:.1} |",
            snap.nodes().len(),
            snap.skus().len(),
            inv.len(),
            secs,
            inv.heap_bytes() as f64 / inv.len().max(1) as f64
        );
    }

    let (snapshot, orders) = common::load(&demo);
    println!(
        "\n### `fulfil route` on the demo orders (sequential semantics; 1 core, and all cores with speculation)\n"
    );
    println!(
        "| policy | orders | total cost | shipments | split orders | backordered units | time | orders/s |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut totals = Vec::new();
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a one-thread pool");
    let all = rayon::ThreadPoolBuilder::new().build().expect("a pool");
    for (name, kind, pool) in [
        ("optimal, 1 core", PolicyKind::Optimal, &one),
        ("optimal, all cores", PolicyKind::Optimal, &all),
        ("nearest, 1 core", PolicyKind::Nearest, &one),
        ("nearest, all cores", PolicyKind::Nearest, &all),
    ] {
        // Best of three, to keep a stray hiccup out of the figure.
        let mut best: Option<fulfil::route::RunSummary> = None;
        for _ in 0..3 {
            let (_, s) = pool
                .install(|| route_all(&snapshot, &orders, kind, |_| {}))
                .expect("routes");
            if best.as_ref().is_none_or(|b| s.elapsed < b.elapsed) {
                best = Some(s);
            }
        }
        let s = best.expect("three runs");
        println!(
            "| {name} | {} | {:.2} | {} | {} | {} | {:.3} s | {:.0} |",
            s.orders,
            s.cost.total,
            s.shipments,
            s.split_orders,
            s.units_backordered,
            s.elapsed.as_secs_f64(),
            s.orders_per_second()
        );
        totals.push(s.cost.total);
    }
    println!(
        "\noptimal total cost / nearest total cost = {:.4} ({:+.2}%)",
        totals[0] / totals[2],
        100.0 * (totals[0] - totals[2]) / totals[2]
    );

    latencies("demo network (315 nodes, 5,000 SKUs)", &snapshot, &orders);
    if !skip_large {
        let (large, large_orders) = common::load(&common::large_dir());
        latencies(
            "large network (2,070 nodes, 100,000 SKUs)",
            &large,
            &large_orders,
        );
    }
}
