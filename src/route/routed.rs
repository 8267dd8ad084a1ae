//! How an order is asked to be routed ([`PolicyKind`]) and what routing answers ([`Routed`], and
//! [`PricedPlan`] for the batch optimizer's pricing step).

use std::str::FromStr;

use super::cost::Plan;
use crate::model::Decision;

/// How orders are routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum PolicyKind {
    /// The cheapest feasible decision (exact branch and bound).
    #[default]
    Optimal,
    /// What common platforms do: the nearest node that ships the whole order, else the fewest
    /// shipments, nearest first. The baseline every report compares against.
    Nearest,
}

impl FromStr for PolicyKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "optimal" => Ok(PolicyKind::Optimal),
            "nearest" => Ok(PolicyKind::Nearest),
            _ => Err(format!(
                "unknown policy `{s}` (expected `optimal` or `nearest`)"
            )),
        }
    }
}

/// A routed order: the plan to reserve and its priced decision.
#[derive(Debug, Clone)]
pub struct Routed {
    pub plan: Plan,
    pub decision: Decision,
    /// `false` when the search stopped at its budget: the decision is feasible, maybe not optimal.
    pub exact: bool,
    /// When not `exact` and the search minimised the decision's own cost (the `optimal`
    /// policy): a proven lower bound on the cost of every feasible decision of the order, so
    /// the decision is at most `cost − bound` above the optimum. `None` otherwise.
    pub lower_bound: Option<f64>,
    /// Search nodes visited (0 for pickup and the baseline).
    pub search_nodes: u64,
}

/// The cheapest plan of one order when resource prices are charged on top of its real cost.
#[derive(Debug, Clone)]
pub struct PricedPlan {
    pub plan: Plan,
    /// Real cost plus the prices of the units it takes.
    pub priced_cost: f64,
    /// A proven lower bound on `priced_cost` over every feasible plan of the order.
    pub lower_bound: f64,
}
