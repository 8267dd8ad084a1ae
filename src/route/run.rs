//! Sequential runs: orders decided one at a time in file order, each reserving its units and that
//! day's capacity before the next (the `route` semantics of the spec).

use std::fmt;
use std::time::{Duration, Instant};

use super::{Ledger, PolicyKind, RouteError};
use crate::model::{CostBreakdown, Decision, Order};
use crate::snapshot::Snapshot;

/// What a run did, in totals.
#[derive(Clone, Debug, Default)]
pub struct RunSummary {
    pub orders: u64,
    pub units_ordered: u64,
    pub units_backordered: u64,
    pub shipments: u64,
    /// Orders with more than one shipment.
    pub split_orders: u64,
    pub cost: CostBreakdown,
    /// Orders whose search stopped at its budget (decision feasible, optimality not proven).
    pub inexact_orders: u64,
    pub elapsed: Duration,
}

impl RunSummary {
    /// Counts one decided order.
    pub fn add(&mut self, order: &Order, decision: &Decision) {
        self.orders += 1;
        self.units_ordered += order.units();
        self.units_backordered += decision.backordered_units();
        self.shipments += decision.shipments.len() as u64;
        if decision.shipments.len() > 1 {
            self.split_orders += 1;
        }
        self.cost.add(&decision.cost);
    }

    /// Orders decided per second of routing time.
    pub fn orders_per_second(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 { self.orders as f64 / s } else { 0.0 }
    }
}

impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.orders.max(1) as f64;
        let c = &self.cost;
        writeln!(f, "orders            {}", self.orders)?;
        writeln!(
            f,
            "total cost        {:.2}  (shipping {:.2}, handling {:.2}, split {:.2}, backorder {:.2})",
            c.total, c.shipping, c.handling, c.split, c.backorder
        )?;
        writeln!(
            f,
            "mean cost         {:.4}  (shipping {:.4}, handling {:.4}, split {:.4}, backorder {:.4})",
            c.total / n,
            c.shipping / n,
            c.handling / n,
            c.split / n,
            c.backorder / n
        )?;
        writeln!(
            f,
            "shipments/order   {:.4}  ({} split orders, {:.2}%)",
            self.shipments as f64 / n,
            self.split_orders,
            100.0 * self.split_orders as f64 / n
        )?;
        writeln!(
            f,
            "backordered units {} of {} ordered",
            self.units_backordered, self.units_ordered
        )?;
        if self.inexact_orders > 0 {
            writeln!(
                f,
                "search budget hit {} orders (feasible, optimality not proven)",
                self.inexact_orders
            )?;
        }
        write!(
            f,
            "elapsed           {:.3} s  ({:.0} orders/s)",
            self.elapsed.as_secs_f64(),
            self.orders_per_second()
        )
    }
}

/// Routes `orders` in sequence from a fresh ledger, calling `progress(done)` now and then.
pub fn route_all(
    snapshot: &Snapshot,
    orders: &[Order],
    kind: PolicyKind,
    mut progress: impl FnMut(usize),
) -> Result<(Vec<Decision>, RunSummary), RouteError> {
    let start = Instant::now();
    let mut ledger = Ledger::new(snapshot);
    let mut summary = RunSummary::default();
    let mut decisions = Vec::with_capacity(orders.len());
    super::speculate::route_in_sequence(
        snapshot,
        &mut ledger,
        orders,
        kind,
        |i, order, routed| {
            summary.add(order, &routed.decision);
            if !routed.exact {
                summary.inexact_orders += 1;
            }
            decisions.push(routed.decision);
            if i % 1024 == 1023 {
                progress(i + 1);
            }
        },
    )?;
    progress(orders.len());
    summary.elapsed = start.elapsed();
    Ok((decisions, summary))
}
