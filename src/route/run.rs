//! Sequential runs: orders decided one at a time in file order, each reserving its units and that
//! day's capacity before the next (the `route` semantics of the spec).

use std::fmt;
use std::time::{Duration, Instant};

use super::error::RouteError;
use super::ledger::Ledger;
use super::routed::{PolicyKind, Routed};
use crate::model::{CostBreakdown, Decision, Order, Unproven};
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
    /// Each in run order: its place (what `fulfil route` prints as `"exact": false`), cost and
    /// proven lower bound.
    pub inexact: Vec<Unproven>,
    pub elapsed: Duration,
    /// Promise dates of the run (scenario format v2).
    pub time: Timeliness,
}

/// How a run keeps time: on-time rate against `deliver_by`, promise days and lateness.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Timeliness {
    /// Orders with a `deliver_by` and at least one shipment.
    pub with_deliver_by: u64,
    /// Of those, orders promised after their `deliver_by`.
    pub late_orders: u64,
    /// Days late over all orders.
    pub late_days: u64,
    /// Orders promised per promise days (promise date − the UTC date of `created_at`): index
    /// = days.
    pub promise_days: Vec<u64>,
}

impl Timeliness {
    /// Counts one decided order.
    pub fn add(&mut self, order: &Order, decision: &Decision) {
        let promise = decision
            .promise_date
            .clone()
            .flatten()
            .and_then(|d| crate::model::dates::parse_day(&d));
        let (Some(promise), Some(day)) = (promise, order.day) else {
            return;
        };
        let days = (promise - day).max(0) as usize;
        if self.promise_days.len() <= days {
            self.promise_days.resize(days + 1, 0);
        }
        self.promise_days[days] += 1;
        if order.deliver_by.is_some() {
            self.with_deliver_by += 1;
            let late = decision.late_days.unwrap_or(0);
            if late > 0 {
                self.late_orders += 1;
                self.late_days += u64::from(late);
            }
        }
    }

    /// Adds another run's counts.
    pub fn merge(&mut self, other: &Timeliness) {
        self.with_deliver_by += other.with_deliver_by;
        self.late_orders += other.late_orders;
        self.late_days += other.late_days;
        if self.promise_days.len() < other.promise_days.len() {
            self.promise_days.resize(other.promise_days.len(), 0);
        }
        for (a, b) in self.promise_days.iter_mut().zip(&other.promise_days) {
            *a += b;
        }
    }

    /// Orders with a promise date.
    pub fn promised(&self) -> u64 {
        self.promise_days.iter().sum()
    }

    /// Share of orders with `deliver_by` promised on time (1 when there are none).
    pub fn on_time_rate(&self) -> f64 {
        if self.with_deliver_by == 0 {
            return 1.0;
        }
        1.0 - self.late_orders as f64 / self.with_deliver_by as f64
    }

    /// Mean promise days.
    pub fn mean_promise_days(&self) -> f64 {
        let n = self.promised();
        if n == 0 {
            return 0.0;
        }
        let sum: u64 = self
            .promise_days
            .iter()
            .enumerate()
            .map(|(d, c)| d as u64 * c)
            .sum();
        sum as f64 / n as f64
    }

    /// The promise days within which `q` (0–1) of the promised orders arrive.
    pub fn promise_days_quantile(&self, q: f64) -> u32 {
        let n = self.promised();
        let want = (q * n as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (d, c) in self.promise_days.iter().enumerate() {
            seen += c;
            if seen >= want {
                return d as u32;
            }
        }
        0
    }
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
        self.time.add(order, decision);
    }

    /// Counts the routed order at `place` of the run, and whether its search proved it.
    pub fn add_routed(&mut self, place: usize, order: &Order, routed: &Routed) {
        self.add(order, &routed.decision);
        if !routed.exact {
            self.inexact_orders += 1;
            self.inexact.push(Unproven {
                place,
                cost: routed.decision.cost.total,
                lower_bound: routed.lower_bound,
            });
        }
    }

    /// Over the orders whose search stopped at its budget, if each has a bound: how far above
    /// their optimum they can be in total and the worst one, as shares of the bounds.
    pub fn proven_gap(&self) -> Option<(f64, f64)> {
        let mut bounds = 0.0;
        for u in &self.inexact {
            bounds += u.lower_bound?;
        }
        let costs: f64 = self.inexact.iter().map(|u| u.cost).sum();
        let worst = self
            .inexact
            .iter()
            .map(Unproven::proven_gap)
            .fold(0.0, f64::max);
        let total = if bounds > 0.0 {
            ((costs - bounds) / bounds).max(0.0)
        } else {
            f64::INFINITY
        };
        Some((total, worst))
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
        let late = c.late.map(|l| format!(", late {l:.2}")).unwrap_or_default();
        writeln!(
            f,
            "total cost        {:.2}  (shipping {:.2}, handling {:.2}, split {:.2}, backorder {:.2}{late})",
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
        let t = &self.time;
        if t.promised() > 0 {
            writeln!(
                f,
                "promise days      mean {:.2}, p90 {}  ({} orders dated)",
                t.mean_promise_days(),
                t.promise_days_quantile(0.9),
                t.promised()
            )?;
        }
        if t.with_deliver_by > 0 {
            writeln!(
                f,
                "on time           {:.2}% of {} orders with deliver_by  ({} late, {} days late)",
                100.0 * t.on_time_rate(),
                t.with_deliver_by,
                t.late_orders,
                t.late_days
            )?;
        }
        if self.inexact_orders > 0 {
            let proven = match self.proven_gap() {
                Some((total, worst)) => format!(
                    "; proven within {:.3}% of their optimum, worst order {:.3}%",
                    100.0 * total,
                    100.0 * worst
                ),
                None => String::new(),
            };
            writeln!(
                f,
                "search budget hit {} orders (feasible, optimality not proven{proven})",
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
        &crate::cancel::Cancel::never(),
        |i, order, routed, _| {
            summary.add_routed(i, order, &routed);
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
