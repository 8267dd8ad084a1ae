//! The spec's conformance cases: every order's optimal total, under the `route` semantics.

use fulfil::route::{PolicyKind, route_all};
use fulfil::scenario::{load_snapshot, read_orders};
use serde::Deserialize;

use super::support::root;

#[derive(Deserialize)]
struct Expected {
    order_id: String,
    total: f64,
}

fn check(case: &str) {
    let dir = root().join("tests/conformance").join(case);
    let snapshot = load_snapshot(&dir).expect("case loads");
    let orders = read_orders(&dir.join("orders.csv"), &snapshot).expect("orders load");
    let (decisions, summary) =
        route_all(&snapshot, &orders, PolicyKind::Optimal, |_| {}).expect("routes");
    assert_eq!(summary.inexact_orders, 0);
    let expected: Vec<Expected> = std::fs::read_to_string(dir.join("expected.jsonl"))
        .expect("expected.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("expected line"))
        .collect();
    assert_eq!(decisions.len(), expected.len());
    for (d, e) in decisions.iter().zip(&expected) {
        assert_eq!(d.order_id, e.order_id);
        assert!(
            (d.cost.total - e.total).abs() < 1e-6,
            "{case} {}: got {} expected {}",
            e.order_id,
            d.cost.total,
            e.total
        );
    }
}

#[test]
fn c1_rules() {
    check("c1-rules");
}

#[test]
fn c2_policy() {
    check("c2-policy");
}
