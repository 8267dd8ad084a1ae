//! What a run answers: the plans and decisions, their totals beside the sequential baseline's, the
//! proven bound and why it stopped.

use std::fmt;

use super::Status;
use super::progress::gap;
use crate::model::Decision;
use crate::route::{Plan, RunSummary};

/// The result of a batch run.
#[derive(Debug, Clone)]
pub struct BatchResult {
    /// One plan per order, in input order.
    pub plans: Vec<Plan>,
    /// One priced decision per order, in input order (spec format).
    pub decisions: Vec<Decision>,
    /// Totals of the batch's decisions.
    pub summary: RunSummary,
    /// Totals of the sequential baseline (orders decided one at a time in arrival order).
    pub baseline: RunSummary,
    /// A proven lower bound on the cost of any feasible assignment of the batch.
    pub lower_bound: f64,
    pub status: Status,
    /// Lagrangian rounds done.
    pub rounds: usize,
    /// Plans collected for the joint MIP.
    pub columns: usize,
}

impl BatchResult {
    /// `(cost − bound) / cost`, at least 0.
    pub fn gap(&self) -> f64 {
        gap(self.summary.cost.total, self.lower_bound).unwrap_or(f64::INFINITY)
    }
}

impl fmt::Display for BatchResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (b, s) = (&self.baseline, &self.summary);
        let pct = |new: f64, old: f64| {
            if old.abs() < 1e-12 {
                0.0
            } else {
                100.0 * (new - old) / old
            }
        };
        writeln!(f, "status            {}", self.status)?;
        writeln!(f, "orders            {}", s.orders)?;
        writeln!(
            f,
            "batch cost        {:.2}  (shipping {:.2}, handling {:.2}, split {:.2}, backorder {:.2})",
            s.cost.total, s.cost.shipping, s.cost.handling, s.cost.split, s.cost.backorder
        )?;
        writeln!(
            f,
            "lower bound       {:.2}  (gap {:.4}%)",
            self.lower_bound,
            100.0 * self.gap()
        )?;
        writeln!(
            f,
            "sequential cost   {:.2}  (batch {:+.3}%, saves {:.2})",
            b.cost.total,
            pct(s.cost.total, b.cost.total),
            b.cost.total - s.cost.total
        )?;
        writeln!(
            f,
            "shipments         {} vs {} sequential ({:+.2}%)",
            s.shipments,
            b.shipments,
            pct(s.shipments as f64, b.shipments as f64)
        )?;
        writeln!(
            f,
            "split orders      {} vs {} sequential ({:+.2}%)",
            s.split_orders,
            b.split_orders,
            pct(s.split_orders as f64, b.split_orders as f64)
        )?;
        writeln!(
            f,
            "backordered units {} vs {} sequential",
            s.units_backordered, b.units_backordered
        )?;
        write!(
            f,
            "elapsed           {:.3} s  ({} lagrangian rounds, {} plans collected)",
            s.elapsed.as_secs_f64(),
            self.rounds,
            self.columns
        )
    }
}
