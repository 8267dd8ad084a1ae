//! Batch re-optimization: hand-worked costs, the exact joint MIP on small random networks,
//! feasibility and cost identities on generated backlogs, never worse than sequential, and an
//! honoured time limit.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use fulfil::batch::{BatchOptions, BatchResult, Status, reoptimize};
use fulfil::model::{Decision, Order};
use fulfil::route::mip::JointMip;
use fulfil::route::{Ledger, price};
use fulfil::scenario::generate::{GenConfig, generate};
use fulfil::scenario::{load_snapshot, read_orders};
use fulfil::snapshot::Snapshot;

use super::support::{Scenario, assert_cost, random_loaded, shipped_from};

fn run(snapshot: &Snapshot, orders: &[Order], options: &BatchOptions) -> BatchResult {
    reoptimize(snapshot, &Ledger::new(snapshot), orders, options, &|_| {}).expect("batch runs")
}

/// Checks, from the decisions alone, that no stock or capacity is over-used and that every
/// decision's cost is what the spec's pricing gives for its allocation; returns the total.
fn check_feasible_and_priced(snapshot: &Snapshot, orders: &[Order], decisions: &[Decision]) -> f64 {
    assert_eq!(orders.len(), decisions.len());
    let mut taken: HashMap<(String, String), u64> = HashMap::new();
    let mut picked: HashMap<(String, Option<i32>), u64> = HashMap::new();
    let mut total = 0.0;
    for (order, d) in orders.iter().zip(decisions) {
        assert_eq!(order.id, d.order_id);
        for s in &d.shipments {
            for l in &s.lines {
                *taken.entry((s.node_id.clone(), l.sku.clone())).or_default() += u64::from(l.qty);
                *picked.entry((s.node_id.clone(), order.day)).or_default() += u64::from(l.qty);
            }
        }
        let parts = d.cost.shipping
            + d.cost.handling
            + d.cost.split
            + d.cost.backorder
            + d.cost.late.unwrap_or(0.0);
        assert!(
            (parts - d.cost.total).abs() < 1e-6,
            "{}: parts do not add up",
            d.order_id
        );
        let units: u64 = order.lines.iter().map(|l| u64::from(l.qty)).sum();
        assert_eq!(
            d.allocated_units() + d.backordered_units(),
            units,
            "{}: units shipped + backordered != ordered",
            d.order_id
        );
        total += d.cost.total;
    }
    let inv = snapshot.inventory();
    for ((node, sku), q) in &taken {
        let n = snapshot.node_id(node).expect("node");
        let k = snapshot.sku_id(sku).expect("sku");
        let e = inv.entry(n, k).expect("taken where stock exists");
        assert!(*q <= u64::from(inv.sellable(e)), "{sku} oversold at {node}");
    }
    for ((node, _day), q) in &picked {
        let n = snapshot.node_id(node).expect("node");
        if let Some(cap) = snapshot.node(n).capacity_units {
            assert!(*q <= u64::from(cap), "{node} over capacity");
        }
    }
    total
}

/// Two customers, two DCs with one unit each. Order o1 (first) is between the DCs, in zone 1 of
/// both, and slightly cheaper from A (handling 1.0 vs 1.5); o2 is near A and in zone 2 from B.
/// Zone 1 ships for 5.00, zone 2 for 15.00 (per_kg 0, 1 kg each).
///
/// Sequential: o1 takes A (5 + 1.0 = 6.0), o2 must take B (15 + 1.5 = 16.5): 22.5.
/// Batch: o1 from B (5 + 1.5 = 6.5), o2 from A (5 + 1.0 = 6.0): 12.5, the optimum.
pub fn two_customers(nodes: &str, inventory: &str) -> Scenario {
    Scenario::new(&[
        ("nodes.csv", nodes),
        ("skus.csv", "sku,weight_kg\nK,1.0\n"),
        ("inventory.csv", inventory),
        ("zones.csv", "zone,max_km\n1,500\n2,\n"),
        (
            "rates.csv",
            "carrier,service,zone,base,per_kg,transit_days\nP,ground,1,5,0,2\nP,ground,2,15,0,4\n",
        ),
        (
            "policy.toml",
            "split_penalty = 3.0\nbackorder_penalty = 100.0\nmax_shipments = 2\nship_from_store = true\n",
        ),
        (
            "orders.csv",
            "order_id,created_at,lat,lon,service,pickup_node,sku,qty\n\
             o1,2026-03-02T10:00:00Z,40.0,-97.5,ground,,K,1\n\
             o2,2026-03-02T11:00:00Z,40.0,-102.0,ground,,K,1\n",
        ),
    ])
}

fn check_two_customers(s: &Scenario) {
    let snapshot = load_snapshot(s.path()).expect("loads");
    let orders = read_orders(&s.path().join("orders.csv"), &snapshot).expect("orders");
    let result = run(&snapshot, &orders, &BatchOptions::default());
    assert_eq!(result.status, Status::Optimal);
    assert!(
        (result.baseline.cost.total - 22.5).abs() < 1e-9,
        "{}",
        result.baseline.cost.total
    );
    assert!(
        (result.summary.cost.total - 12.5).abs() < 1e-9,
        "{}",
        result.summary.cost.total
    );
    assert!(
        (result.lower_bound - 12.5).abs() < 1e-6,
        "bound {}",
        result.lower_bound
    );
    assert_cost(&result.decisions[0], 6.5);
    assert_cost(&result.decisions[1], 6.0);
    assert_eq!(shipped_from(&result.decisions[0]), ["B"]);
    assert_eq!(shipped_from(&result.decisions[1]), ["A"]);
    // Without the exact MIP, the Lagrangian bound and the master find the same.
    let no_exact = BatchOptions {
        exact_max_arcs: 0,
        ..BatchOptions::default()
    };
    let result = run(&snapshot, &orders, &no_exact);
    assert!((result.summary.cost.total - 12.5).abs() < 1e-9);
    assert!(result.lower_bound <= 12.5 + 1e-9);
}

/// The two-customer network with one unit at each DC.
pub fn two_customers_scarce_stock() -> Scenario {
    two_customers(
        "node_id,kind,lat,lon,cost_per_shipment\nA,dc,40.0,-100.0,1.0\nB,dc,40.0,-95.0,1.5\n",
        "node_id,sku,on_hand\nA,K,1\nB,K,1\n",
    )
}

#[test]
fn batch_gives_scarce_stock_to_the_order_that_needs_it() {
    check_two_customers(&two_customers_scarce_stock());
}

#[test]
fn batch_gives_scarce_capacity_to_the_order_that_needs_it() {
    // A has stock for both but picks one unit a day: the same trade-off through capacity.
    check_two_customers(&two_customers(
        "node_id,kind,lat,lon,capacity_units,cost_per_shipment\nA,dc,40.0,-100.0,1,1.0\nB,dc,40.0,-95.0,,1.5\n",
        "node_id,sku,on_hand\nA,K,5\nB,K,5\n",
    ));
}

/// The batch on one small backlog against the exact joint MIP: equal to it, never worse than
/// sequential; without the exact MIP, a valid bound and a feasible answer no worse than
/// sequential. `rules`: every decision also obeys the order rules. Whether it beat sequential.
fn against_the_joint_mip(snapshot: &Snapshot, orders: &[Order], seed: u64, rules: bool) -> bool {
    let start = Ledger::new(snapshot);
    let mut model = JointMip::new(snapshot, &start);
    for o in orders {
        model.add_order(o);
    }
    let exact = model.solve(None, 1).expect("MIP solves");
    assert!(exact.optimal);
    let check = |decisions: &[Decision]| {
        if rules {
            super::properties::check_rules(snapshot, orders, decisions);
        }
        check_feasible_and_priced(snapshot, orders, decisions)
    };
    let result = run(snapshot, orders, &BatchOptions::default());
    let total = check(&result.decisions);
    assert!(
        (total - exact.objective).abs() < 1e-5,
        "seed {seed}: batch {total} vs exact {}",
        exact.objective
    );
    assert!((result.summary.cost.total - total).abs() < 1e-6);
    assert!(total <= result.baseline.cost.total + 1e-9);
    let heuristic = run(
        snapshot,
        orders,
        &BatchOptions {
            exact_max_arcs: 0,
            ..BatchOptions::default()
        },
    );
    let h_total = check(&heuristic.decisions);
    assert!(
        heuristic.lower_bound <= exact.objective + 1e-6,
        "seed {seed}: bound {} above the optimum {}",
        heuristic.lower_bound,
        exact.objective
    );
    assert!(h_total >= exact.objective - 1e-6);
    assert!(h_total <= heuristic.baseline.cost.total + 1e-9);
    total < result.baseline.cost.total - 1e-6
}

#[test]
fn batch_equals_the_exact_joint_mip_on_small_random_networks() {
    let mut improved = 0;
    for seed in 0..40 {
        let (_s, snapshot, orders) = random_loaded(5000 + seed, 6, 3..=5);
        improved += usize::from(against_the_joint_mip(&snapshot, &orders, seed, false));
    }
    assert!(improved > 0, "no random batch beat sequential routing");
}

fn generated(orders: usize, stock: f64, seed: u64) -> (tempfile::TempDir, Snapshot, Vec<Order>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = GenConfig {
        seed,
        dcs: 6,
        stores: 80,
        dropship: 3,
        skus: 800,
        orders,
        days: 1,
        stock,
    };
    generate(&cfg, dir.path()).expect("generates");
    let (snapshot, orders) = super::support::loaded(dir.path());
    (dir, snapshot, orders)
}

#[test]
fn generated_backlog_is_feasible_priced_and_no_worse_than_sequential() {
    let (_dir, snapshot, orders) = generated(3000, 0.3, 11);
    let result = run(
        &snapshot,
        &orders,
        &BatchOptions {
            time_limit: Duration::from_secs(60),
            gap_target: 0.005,
            ..BatchOptions::default()
        },
    );
    let total = check_feasible_and_priced(&snapshot, &orders, &result.decisions);
    assert!((total - result.summary.cost.total).abs() < 1e-6 * total.max(1.0));
    for (order, d) in orders.iter().zip(&result.decisions) {
        let plan = &result.plans[orders.iter().position(|o| o.id == order.id).expect("o")];
        let again = price(&snapshot, order, plan).expect("prices");
        assert!((again.cost.total - d.cost.total).abs() < 1e-9);
    }
    assert!(total <= result.baseline.cost.total + 1e-6);
    assert!(result.lower_bound <= total + 1e-6);
    assert!(
        total < result.baseline.cost.total,
        "scarce stock and binding capacity should leave something to gain"
    );
    assert!(matches!(
        result.status,
        Status::GapReached | Status::Optimal | Status::Stalled
    ));
}

#[test]
fn a_one_second_limit_on_a_large_backlog_returns_a_feasible_answer_in_time() {
    let (_dir, snapshot, orders) = generated(40_000, 0.4, 12);
    let started = Instant::now();
    let result = run(
        &snapshot,
        &orders,
        &BatchOptions {
            time_limit: Duration::from_secs(1),
            gap_target: 0.0,
            ..BatchOptions::default()
        },
    );
    let elapsed = started.elapsed();
    // "Within about a second of the limit": generous, since the test machine may be busy.
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
    assert_eq!(result.status, Status::TimeLimit);
    let total = check_feasible_and_priced(&snapshot, &orders, &result.decisions);
    assert!(total <= result.baseline.cost.total + 1e-6);
    assert!(result.lower_bound <= total + 1e-6);
}

#[test]
fn a_duplicate_order_id_is_refused() {
    let (_s, snapshot, mut orders) = random_loaded(77, 3, 3..=3);
    orders.push(orders[0].clone());
    let err = reoptimize(
        &snapshot,
        &Ledger::new(&snapshot),
        &orders,
        &BatchOptions::default(),
        &|_| {},
    )
    .expect_err("duplicate refused");
    assert!(err.to_string().contains("appears twice"), "{err}");
}

#[test]
fn the_same_backlog_gives_the_same_answer_every_run() {
    let (_dir, snapshot, orders) = generated(600, 0.3, 5);
    let options = BatchOptions {
        time_limit: Duration::from_secs(120),
        gap_target: 0.0,
        // The master's LP and group MIPs, not the exact joint MIP, decide.
        exact_max_arcs: 0,
        ..BatchOptions::default()
    };
    let first = run(&snapshot, &orders, &options);
    for _ in 0..3 {
        let again = run(&snapshot, &orders, &options);
        assert_eq!(again.rounds, first.rounds);
        assert_eq!(again.columns, first.columns);
        assert_eq!(
            again.summary.cost.total.to_bits(),
            first.summary.cost.total.to_bits()
        );
        assert_eq!(again.lower_bound.to_bits(), first.lower_bound.to_bits());
        assert_eq!(again.plans, first.plans);
    }
}

#[test]
fn batch_under_order_rules_equals_the_joint_mip_and_its_bound_holds() {
    // Columns come from the rule-aware search, the exact completion from the rule-aware MIP:
    // the joint answer obeys every rule, equals the MIP, and the heuristic's bound stays valid.
    for seed in 0..30 {
        let s = super::support::with_rules(
            super::support::random_scenario_with(7000 + seed, 6, 3..=5),
            seed,
        );
        let snapshot = load_snapshot(s.path()).expect("loads");
        let orders = read_orders(&s.path().join("orders.csv"), &snapshot).expect("orders");
        against_the_joint_mip(&snapshot, &orders, seed, true);
    }
}

/// Ten-item orders on the published multi-item benchmark, where splits dominate: column
/// generation runs until no plan prices below the restricted master's LP (it stopped after three
/// LP rounds whose bound did not beat the first, 28% under its plan on 1,000 orders), and the
/// master's joint MIP over the collected plans runs before the exact MIP, whose relaxation is weak
/// here (on this backlog: 16.8% above the bound after 30 s before, 0.26% in under 5 s after).
#[test]
fn split_heavy_backlog_is_solved_to_within_one_percent_of_its_bound() {
    use fulfil::scenario::multi_item::{MultiItemConfig, generate_multi_item};
    let dir = tempfile::tempdir().expect("temp dir");
    let cfg = MultiItemConfig {
        seed: 2,
        dcs: 10,
        items: 10,
        orders: 300,
        days: 10,
        stock: 1.0,
    };
    generate_multi_item(&cfg, dir.path()).expect("generates");
    let (snapshot, orders) = super::support::loaded(dir.path());
    let options = BatchOptions {
        time_limit: Duration::from_secs(60),
        gap_target: 0.01,
        ..BatchOptions::default()
    };
    let result = run(&snapshot, &orders, &options);
    let total = check_feasible_and_priced(&snapshot, &orders, &result.decisions);
    assert!(
        total - result.lower_bound <= 0.01 * total,
        "cost {total}, bound {}: gap above 1% ({:?})",
        result.lower_bound,
        result.status
    );
    assert_eq!(result.status, Status::GapReached);
}
