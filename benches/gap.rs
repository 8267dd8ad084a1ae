//! The measured gap of the search where it stops at its budget: on the large network, orders
//! whose search hit the budget are solved exactly by the HiGHS MIP and the costs compared.
//!
//! `cargo bench --bench gap [-- --lines 2,4,8] [-- --max-mip N] [-- --list] [-- --budget N] [-- --skip N]
//! [-- --recheck N]`
//! (generates the large network
//! on first use, like `latency`). The MIP of a many-line order on 2,070 nodes takes seconds to
//! minutes, so at most `--max-mip` (default 10) budget-hit orders per size are solved. Every
//! budget-hit order's own proven bound (what `fulfil route` prints as `lower_bound`) is summed
//! too: the gap the search proves without the MIP.

mod common;

use std::time::Instant;

use fulfil::route::mip::solve_order;
use fulfil::route::{PolicyKind, Router, Untouched, price};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// A plan's shipments, for `--list`.
fn shipments(snapshot: &fulfil::snapshot::Snapshot, plan: &fulfil::route::Plan) -> String {
    plan.shipments
        .iter()
        .map(|(n, l)| format!("{} {:?}", snapshot.node(*n).id, l))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `--recheck`: a budget-hit order routed again with `budget` nodes, on stderr (and both plans
/// when the larger budget finds a cheaper one).
fn recheck_order(
    snapshot: &fulfil::snapshot::Snapshot,
    order: &fulfil::model::Order,
    routed: &fulfil::route::Routed,
    budget: u64,
) {
    let again = Router::new()
        .with_budget(budget)
        .route(snapshot, &Untouched, order, PolicyKind::Optimal)
        .expect("routes");
    let proven = if again.exact {
        "proven"
    } else {
        "budget hit again"
    };
    let cost = again.decision.cost.total;
    eprintln!("  with {budget} nodes: cost {cost:.2}, {proven}");
    if cost < routed.decision.cost.total - 1e-6 {
        eprintln!("    was  {}", shipments(snapshot, &routed.plan));
        eprintln!("    now  {}", shipments(snapshot, &again.plan));
    }
}

fn main() {
    let sizes: Vec<usize> = arg("--lines")
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![2, 4, 8]);
    let max_mip: usize = arg("--max-mip").and_then(|s| s.parse().ok()).unwrap_or(10);
    // `--list`: each budget-hit order on stderr (id, lines, deadline, cost, search nodes).
    let list = std::env::args().any(|a| a == "--list");
    // `--skip N`: the MIP judges budget-hit orders from the (N + 1)th.
    let skip: usize = arg("--skip").and_then(|s| s.parse().ok()).unwrap_or(0);
    // `--recheck N`: each budget-hit order routed again with a budget of N nodes.
    let recheck: Option<u64> = arg("--recheck").and_then(|s| s.parse().ok());
    let (snapshot, orders) = common::load(&common::large_dir());
    println!(
        "| lines | orders | budget hit | search cost (sum) | MIP optimum (sum) | gap | worst order gap | MIP time (mean) | proven gap (all hits) | worst proven |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    // `--budget N`: the search's node budget (default the router's).
    let mut router = match arg("--budget").and_then(|s| s.parse().ok()) {
        Some(b) => Router::new().with_budget(b),
        None => Router::new(),
    };
    for lines in sizes {
        let pool = common::orders_with_lines(&orders, lines, 5000);
        let (mut hit, mut judged, mut search_sum, mut mip_sum, mut worst, mut mip_time) =
            (0, 0, 0.0, 0.0, 0.0f64, 0.0);
        // Over every budget-hit order: its cost, its proven bound, the worst proven gap.
        let (mut hit_cost, mut hit_bound, mut worst_proven) = (0.0, 0.0, 0.0f64);
        for o in &pool {
            let t = Instant::now();
            let r = router
                .route(&snapshot, &Untouched, o, PolicyKind::Optimal)
                .expect("routes");
            let took = t.elapsed().as_secs_f64();
            if r.exact {
                continue;
            }
            hit += 1;
            let bound = r.lower_bound.expect("an optimal search's bound");
            hit_cost += r.decision.cost.total;
            hit_bound += bound;
            worst_proven = worst_proven.max((r.decision.cost.total - bound) / bound);
            if list {
                eprintln!(
                    "budget hit: {} ({} lines, deliver_by {:?}): cost {:.2}, bound {bound:.2}, {} search nodes, {:.1} ms",
                    o.id,
                    o.lines.len(),
                    o.deliver_by,
                    r.decision.cost.total,
                    r.search_nodes,
                    1e3 * took
                );
            }
            if let Some(budget) = recheck {
                recheck_order(&snapshot, o, &r, budget);
            }
            if hit <= skip || hit > skip + max_mip {
                continue;
            }
            let t = Instant::now();
            let m = solve_order(&snapshot, &Untouched, o).expect("MIP solves");
            mip_time += t.elapsed().as_secs_f64();
            judged += 1;
            let exact = price(&snapshot, o, &m.plan).expect("prices").cost.total;
            if list {
                let (searched, mip) =
                    (shipments(&snapshot, &r.plan), shipments(&snapshot, &m.plan));
                eprintln!("  search {:.2}: {searched}", r.decision.cost.total);
                eprintln!("  MIP    {exact:.2}: {mip}");
            }
            search_sum += r.decision.cost.total;
            mip_sum += exact;
            worst = worst.max((r.decision.cost.total - exact) / exact);
        }
        let gap = if mip_sum > 0.0 {
            (search_sum - mip_sum) / mip_sum
        } else {
            0.0
        };
        let proven = if hit_bound > 0.0 {
            (hit_cost - hit_bound) / hit_bound
        } else {
            0.0
        };
        println!(
            "| {lines} | {} | {hit} | {search_sum:.2} | {mip_sum:.2} | {:.3}% | {:.3}% | {:.2} s | {:.3}% | {:.3}% |",
            pool.len(),
            100.0 * gap,
            100.0 * worst,
            if judged > 0 {
                mip_time / f64::from(judged)
            } else {
                0.0
            },
            100.0 * proven,
            100.0 * worst_proven
        );
    }
}
