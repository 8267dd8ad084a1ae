//! Per-order routing latency (p50/p99/p99.9) by order size, `fulfil route` throughput for both
//! policies, snapshot build time and memory per inventory row. Prints Markdown for BENCHMARKS.md.
//!
//! `cargo bench --bench latency` (add `-- --skip-large` to leave out the 2,050-node network;
//! `-- --dates-only` for dates on against off alone, `-- --rules-only` for order rules,
//! `-- --prices-only [DIR]` for the lookahead policy's priced search against the myopic one).

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

/// Per-order latency with dates on against off, measured in the same run, order by order
/// alternately (the same orders, on the same network with and without its date features).
fn dates_on_off(name: &str, snapshot: &Snapshot, orders: &[fulfil::model::Order]) {
    let (plain, plain_orders) = common::undated(snapshot, orders);
    println!("\n### Dates on against off, {name} (one core, untouched stock, µs per order)\n");
    on_off(
        "with deliver_by",
        (&plain, &plain_orders),
        (snapshot, orders),
        |o| o.deliver_by.is_some(),
    );
    whole_file_on_off((&plain, &plain_orders), (snapshot, orders));
}

/// The scenario's own orders as they are in the file (every size, pickups too), each routed on
/// untouched stock with dates off and on alternately: the mean and p99 per order over the whole
/// file, which is what a dated run pays.
fn whole_file_on_off(
    off: (&Snapshot, &[fulfil::model::Order]),
    on: (&Snapshot, &[fulfil::model::Order]),
) {
    let mut router = Router::new();
    let (mut t_on, mut t_off) = (Vec::new(), Vec::new());
    for round in 0..2 {
        for (a, b) in on.1.iter().zip(off.1) {
            let t = Instant::now();
            let _ = router.route(off.0, &Untouched, b, PolicyKind::Optimal);
            let us_off = t.elapsed().as_secs_f64() * 1e6;
            let t = Instant::now();
            let _ = router.route(on.0, &Untouched, a, PolicyKind::Optimal);
            let us_on = t.elapsed().as_secs_f64() * 1e6;
            if round == 1 {
                t_off.push(us_off);
                t_on.push(us_on);
            }
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (m_on, m_off) = (mean(&t_on), mean(&t_off));
    t_on.sort_by(f64::total_cmp);
    t_off.sort_by(f64::total_cmp);
    let (p99_on, p99_off) = (percentile(&t_on, 0.99), percentile(&t_off, 0.99));
    println!(
        "\nWhole file ({} orders as written, second of two passes): mean {m_off:.1} µs off, {m_on:.1} µs on ({:.2}×); p99 {p99_off:.1} off, {p99_on:.1} on ({:.2}×)",
        t_on.len(),
        m_on / m_off,
        p99_on / p99_off
    );
}

/// Per-order latency with the order rules on against off, in the same run, order by order
/// alternately (the same orders on the same network, with and without groups, unsplittable
/// SKUs, a minimum shipment value and, with `channels`, sales channels).
fn rules_on_off(name: &str, snapshot: &Snapshot, orders: &[fulfil::model::Order], channels: bool) {
    let (ruled, ruled_orders) = common::with_rules(snapshot, orders, channels);
    let which = if channels {
        "all rules"
    } else {
        "groups, unsplittable SKUs and minimum value (no channels)"
    };
    println!(
        "\n### Order rules on against off, {which}, {name} (one core, untouched stock, µs per order)\n"
    );
    on_off(
        "grouped",
        (snapshot, orders),
        (&ruled, &ruled_orders),
        |o| !o.groups.is_empty(),
    );
}

/// One table of per-order latency, `off` against `on`, for orders of 1, 2, 4 and 8 lines, timed
/// alternately in the same run; `counted` says which orders the third column counts.
fn on_off(
    label: &str,
    off: (&Snapshot, &[fulfil::model::Order]),
    on: (&Snapshot, &[fulfil::model::Order]),
    counted: fn(&fulfil::model::Order) -> bool,
) {
    println!(
        "| lines | orders | {label} | p50 off | p50 on | p50 on/off | p99 off | p99 on | p99 on/off | mean on/off |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut router = Router::new();
    for lines in [1usize, 2, 4, 8] {
        let on_orders = common::orders_with_lines(on.1, lines, 5000);
        let off_orders = common::orders_with_lines(off.1, lines, 5000);
        for (a, b) in on_orders.iter().zip(&off_orders).take(500) {
            let _ = router.route(on.0, &Untouched, a, PolicyKind::Optimal);
            let _ = router.route(off.0, &Untouched, b, PolicyKind::Optimal);
        }
        let mut paired = Paired::default();
        for (a, b) in on_orders.iter().zip(&off_orders) {
            paired.time_off(|| {
                router
                    .route(off.0, &Untouched, b, PolicyKind::Optimal)
                    .expect("routes");
            });
            paired.time_on(|| {
                router
                    .route(on.0, &Untouched, a, PolicyKind::Optimal)
                    .expect("routes");
            });
        }
        let count = on_orders.iter().filter(|o| counted(o)).count();
        println!(
            "| {lines} | {} | {count} | {} |",
            on_orders.len(),
            paired.cells()
        );
    }
}

/// µs per order of the same orders timed alternately two ways ("off" and "on").
#[derive(Default)]
struct Paired {
    off: Vec<f64>,
    on: Vec<f64>,
}

impl Paired {
    fn time_off(&mut self, f: impl FnOnce()) {
        let t = Instant::now();
        f();
        self.off.push(t.elapsed().as_secs_f64() * 1e6);
    }

    fn time_on(&mut self, f: impl FnOnce()) {
        let t = Instant::now();
        f();
        self.on.push(t.elapsed().as_secs_f64() * 1e6);
    }

    /// The cells `p50 off | p50 on | ratio | p99 off | p99 on | ratio | mean ratio`.
    fn cells(mut self) -> String {
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let (m_on, m_off) = (mean(&self.on), mean(&self.off));
        self.on.sort_by(f64::total_cmp);
        self.off.sort_by(f64::total_cmp);
        let (p50_on, p50_off) = (percentile(&self.on, 0.5), percentile(&self.off, 0.5));
        let (p99_on, p99_off) = (percentile(&self.on, 0.99), percentile(&self.off, 0.99));
        format!(
            "{p50_off:.1} | {p50_on:.1} | {:.2} | {p99_off:.1} | {p99_on:.1} | {:.2} | {:.2}",
            p50_on / p50_off,
            p99_on / p99_off,
            m_on / m_off
        )
    }
}

/// The checkout promise in-process: `fulfilment_options` for 3-line baskets at the demo's
/// addresses and instants (each service's decision and date, the earliest date, three pickup
/// stores), dates on against off in the same run.
fn checkout_promise(snapshot: &Snapshot, orders: &[fulfil::model::Order]) {
    use fulfil::route::{Basket, fulfilment_options};
    let (plain, plain_orders) = common::undated(snapshot, orders);
    println!(
        "\n### Checkout promise (FulfilmentOptions in-process, 3-line baskets, µs per call)\n"
    );
    println!("| dates | baskets | p50 | p99 | p99.9 | mean | with an earliest date |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let basket = |o: &fulfil::model::Order| {
        let fulfil::model::Destination::Address { lat, lon } = o.destination else {
            unreachable!("ship orders only")
        };
        Basket {
            lat,
            lon,
            lines: o.lines.clone(),
            groups: o.groups.clone(),
            channel: o.channel.clone(),
            day: o.day,
            created: o.created,
        }
    };
    for (label, snap, pool) in [
        (
            "off",
            &plain,
            common::orders_with_lines(&plain_orders, 3, 2000),
        ),
        ("on", snapshot, common::orders_with_lines(orders, 3, 2000)),
    ] {
        for o in pool.iter().take(200) {
            let _ = fulfilment_options(snap, &Untouched, &basket(o), 3);
        }
        let mut us = Vec::with_capacity(pool.len());
        let mut earliest = 0;
        for o in &pool {
            let b = basket(o);
            let t = Instant::now();
            let found = fulfilment_options(snap, &Untouched, &b, 3).expect("options");
            us.push(t.elapsed().as_secs_f64() * 1e6);
            earliest += usize::from(found.earliest.is_some());
        }
        let mean = us.iter().sum::<f64>() / us.len() as f64;
        us.sort_by(f64::total_cmp);
        println!(
            "| {label} | {} | {:.1} | {:.1} | {:.1} | {mean:.1} | {earliest} |",
            us.len(),
            percentile(&us, 0.5),
            percentile(&us, 0.99),
            percentile(&us, 0.999),
        );
    }
}

/// Per-order latency with opportunity costs against without, as the service pays it: prices
/// solved once beforehand (the background board; demand from the scenario's `forecast.csv`, else
/// learned from its orders; units per order learned from its orders either way, as a service
/// that has committed them), the same orders routed alternately by the myopic and the priced
/// search on untouched stock.
fn prices_on_off(name: &str, dir: &std::path::Path) {
    use fulfil::lookahead::Pricer;
    let (snapshot, orders) = common::load(dir);
    let (snapshot, orders) = (&snapshot, &orders[..]);
    let points = fulfil::scenario::read_scenario_forecast(dir, snapshot).expect("forecast reads");
    let pricer = Pricer::from_points(snapshot, points.as_deref());
    for o in orders {
        pricer.observe(o, 0, o.day.unwrap_or(0));
    }
    // Priced as at the first order (a receipt after it shortens a SKU's horizon).
    let first = orders.iter().filter_map(|o| o.created).min();
    let board = pricer.refresh(snapshot, &Untouched, first.map(|s| s * 1000));
    println!(
        "\n### Lookahead per order, {name} (one core, untouched stock, µs; prices of {} SKUs solved beforehand, {} of {} inventory rows priced above 0)\n",
        board.skus_priced(),
        board.prices().priced_entries(),
        snapshot.inventory().len()
    );
    println!(
        "| lines | orders | p50 myopic | p50 priced | p50 ratio | p99 myopic | p99 priced | p99 ratio | mean ratio |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut router = Router::new();
    for lines in [1usize, 2, 4, 8] {
        let pool = common::orders_with_lines(orders, lines, 5000);
        if pool.is_empty() {
            continue; // (a scenario without orders of this size)
        }
        for o in pool.iter().take(500) {
            let _ = router.route(snapshot, &Untouched, o, PolicyKind::Optimal);
            let _ = board.route(&mut router, snapshot, &Untouched, o);
        }
        if std::env::var_os("FULFIL_DEBUG_NODES").is_some() {
            for o in &pool {
                let a = router
                    .route(snapshot, &Untouched, o, PolicyKind::Optimal)
                    .expect("r");
                let b = board
                    .route(&mut router, snapshot, &Untouched, o)
                    .expect("r");
                eprintln!(
                    "NODES {lines} {} {} {} {:.2} {:.2} {}",
                    o.id,
                    a.search_nodes,
                    b.search_nodes,
                    a.decision.cost.total,
                    b.decision.cost.total,
                    b.decision.shipments.len()
                );
            }
        }
        let mut paired = Paired::default();
        for o in &pool {
            paired.time_off(|| {
                router
                    .route(snapshot, &Untouched, o, PolicyKind::Optimal)
                    .expect("routes");
            });
            paired.time_on(|| {
                board
                    .route(&mut router, snapshot, &Untouched, o)
                    .expect("routes");
            });
        }
        println!("| {lines} | {} | {} |", pool.len(), paired.cells());
    }
}

fn main() {
    let skip_large = std::env::args().any(|a| a == "--skip-large");
    let demo = common::demo_dir();
    if std::env::args().any(|a| a == "--dates-only") {
        let (snapshot, orders) = common::load(&demo);
        dates_on_off("demo network", &snapshot, &orders);
        if !skip_large {
            let (large, large_orders) = common::load(&common::large_dir());
            dates_on_off("large network", &large, &large_orders);
        }
        return;
    }
    if std::env::args().any(|a| a == "--prices-only") {
        // `-- --prices-only [DIR]`: the demo, or the scenario folder DIR.
        let args: Vec<String> = std::env::args().collect();
        let at = args.iter().position(|a| a == "--prices-only").unwrap_or(0);
        match args.get(at + 1).filter(|a| !a.starts_with("--")) {
            Some(dir) => prices_on_off(dir, std::path::Path::new(dir)),
            None => prices_on_off("demo network", &demo),
        }
        return;
    }
    if std::env::args().any(|a| a == "--rules-only") {
        let (snapshot, orders) = common::load(&demo);
        rules_on_off("demo network", &snapshot, &orders, true);
        rules_on_off("demo network", &snapshot, &orders, false);
        return;
    }

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
    dates_on_off("demo network", &snapshot, &orders);
    rules_on_off("demo network", &snapshot, &orders, true);
    rules_on_off("demo network", &snapshot, &orders, false);
    checkout_promise(&snapshot, &orders);
    prices_on_off("demo network", &demo);
    if !skip_large {
        let (large, large_orders) = common::load(&common::large_dir());
        latencies(
            "large network (2,070 nodes, 100,000 SKUs)",
            &large,
            &large_orders,
        );
        dates_on_off("large network", &large, &large_orders);
    }
}
