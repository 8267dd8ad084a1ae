//! The search against the exact MIP (HiGHS): on many small random networks, every order's cost
//! under the search equals the MIP optimum given the same reservations.

use fulfil::route::mip::solve_order;
use fulfil::route::{Ledger, PolicyKind, Router, price};
use fulfil::scenario::{load_snapshot, read_orders};

use super::support::random_scenario;

#[test]
fn search_matches_the_exact_mip_on_random_networks() {
    let mut compared = 0;
    for seed in 0..250 {
        let s = random_scenario(seed, 8);
        let snapshot = load_snapshot(s.path()).expect("random scenario loads");
        let orders = read_orders(&s.path().join("orders.csv"), &snapshot).expect("orders");
        let mut ledger = Ledger::new(&snapshot);
        let mut router = Router::new();
        for order in &orders {
            let routed = router
                .route(&snapshot, &ledger, order, PolicyKind::Optimal)
                .expect("routes");
            assert!(routed.exact, "seed {seed} order {}: budget hit", order.id);
            let mip = solve_order(&snapshot, &ledger, order).expect("MIP solves");
            let mip_priced = price(&snapshot, order, &mip.plan).expect("MIP plan prices");
            assert!(
                (mip_priced.cost.total - mip.objective).abs() < 1e-5,
                "seed {seed} order {}: MIP objective {} but its plan prices at {}",
                order.id,
                mip.objective,
                mip_priced.cost.total
            );
            assert!(
                (routed.decision.cost.total - mip.objective).abs() < 1e-5,
                "seed {seed} order {}: search {} vs MIP {}\nsearch: {}\nMIP:    {}",
                order.id,
                routed.decision.cost.total,
                mip.objective,
                serde_json::to_string(&routed.decision).expect("json"),
                serde_json::to_string(&mip_priced).expect("json"),
            );
            ledger.commit(&snapshot, order, &routed.plan);
            compared += 1;
        }
    }
    assert!(compared >= 2000);
}
