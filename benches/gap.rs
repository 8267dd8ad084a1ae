//! The measured gap of the search where it stops at its budget: on the large network, orders
//! whose search hit the budget are solved exactly by the HiGHS MIP and the costs compared.
//!
//! `cargo bench --bench gap [-- --lines 2,4,8] [-- --max-mip N]` (generates the large network
//! on first use, like `latency`). The MIP of a many-line order on 2,070 nodes takes seconds to
//! minutes, so at most `--max-mip` (default 10) budget-hit orders per size are solved.

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

fn main() {
    let sizes: Vec<usize> = arg("--lines")
        .map(|s| s.split(',').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_else(|| vec![2, 4, 8]);
    let max_mip: usize = arg("--max-mip").and_then(|s| s.parse().ok()).unwrap_or(10);
    let (snapshot, orders) = common::load(&common::large_dir());
    println!(
        "| lines | orders | budget hit | search cost (sum) | MIP optimum (sum) | gap | worst order gap | MIP time (mean) |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut router = Router::new();
    for lines in sizes {
        let pool = common::orders_with_lines(&orders, lines, 5000);
        let (mut hit, mut search_sum, mut mip_sum, mut worst, mut mip_time) =
            (0, 0.0, 0.0, 0.0f64, 0.0);
        for o in &pool {
            let r = router
                .route(&snapshot, &Untouched, o, PolicyKind::Optimal)
                .expect("routes");
            if r.exact {
                continue;
            }
            hit += 1;
            if hit > max_mip {
                continue;
            }
            let t = Instant::now();
            let m = solve_order(&snapshot, &Untouched, o).expect("MIP solves");
            mip_time += t.elapsed().as_secs_f64();
            let exact = price(&snapshot, o, &m.plan).expect("prices").cost.total;
            search_sum += r.decision.cost.total;
            mip_sum += exact;
            worst = worst.max((r.decision.cost.total - exact) / exact);
        }
        let gap = if mip_sum > 0.0 {
            (search_sum - mip_sum) / mip_sum
        } else {
            0.0
        };
        println!(
            "| {lines} | {} | {hit} | {search_sum:.2} | {mip_sum:.2} | {:.3}% | {:.3}% | {:.2} s |",
            pool.len(),
            100.0 * gap,
            100.0 * worst,
            if hit > 0 {
                mip_time / hit.min(max_mip) as f64
            } else {
                0.0
            }
        );
    }
}
