//! Replaying order history against a network and measuring what happened.
//!
//! Orders are decided in `created_at` order (orders without one first, in file order), each on
//! what the ones before left: stock depletes, and capacity is counted per node per UTC day, so it
//! starts afresh every day.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use std::str::FromStr;
use std::sync::Arc;

use crate::batch::{Arrivals, BatchError, BatchOptions, created_ms, reoptimize_arriving};
use crate::cancel::Cancel;
use crate::lookahead::Lookahead;
use crate::model::{CostBreakdown, Decision, DemandPoint, NodeKind, Order};
use crate::route::{Ledger, PolicyKind, Timeliness, route_in_sequence};
use crate::scenario::Receipt;
use crate::snapshot::{InventoryRow, Level, Snapshot};

/// What a replay did, for one network variant.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Kpis {
    pub orders: u64,
    pub cost: CostBreakdown,
    /// Cost per order, with its parts.
    pub cost_per_order: CostBreakdown,
    pub shipments: u64,
    pub shipments_per_order: f64,
    /// Share of ship orders sent in more than one parcel.
    pub split_share: f64,
    pub units_ordered: u64,
    pub units_shipped: u64,
    pub units_backordered: u64,
    /// Units shipped or handed over ÷ units ordered.
    pub fill_rate: f64,
    /// Mean node → customer distance over parcels, km.
    pub mean_distance_km: f64,
    /// Parcels per zone.
    pub zones: BTreeMap<u32, u64>,
    /// Per service: parcels and their mean promised transit days.
    pub transit: BTreeMap<String, Transit>,
    /// Units leaving stores (ship-from-store and pickups) and DCs / dropship vendors.
    pub units_from_stores: u64,
    pub units_from_dcs: u64,
    pub units_from_dropship: u64,
    /// Per node with a capacity: its busiest day's units against its daily capacity.
    pub utilisation: Vec<Utilisation>,
    /// Nodes that reached their capacity on some day.
    pub nodes_at_capacity: u64,
    /// Promise dates: on-time rate against `deliver_by`, promise days, lateness.
    pub time: TimeKpis,
    /// Per UTC day of `created_at` (orders without one are day `null`), in day order.
    pub daily: Vec<Daily>,
    /// Store rejections of the what-if (`[[reject]]`) and their re-routes.
    pub exceptions: super::ExceptionKpis,
    /// Backordered units by cause (`causes.rs`): orders, units, backorder cost.
    pub backorder_causes: BTreeMap<String, super::CauseTally>,
    /// Per service the orders asked for: orders, cost, units backordered.
    pub by_service: BTreeMap<String, ServiceKpis>,
    /// Pickup orders at stores the variant closed, and the rule they followed.
    pub closed_pickups: super::ClosedPickups,
    /// A batch policy: the sum of its windows' proven lower bounds (for the hindsight replay, a
    /// bound on the cost of any decisions of these orders).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lower_bound: Option<f64>,
    /// The `lookahead` policy: the opportunity cost of the units its decisions took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opportunity_cost: Option<f64>,
    /// Wall-clock time of the replay.
    #[serde(serialize_with = "seconds")]
    pub run_time: Duration,
}

/// The orders of one service level.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct ServiceKpis {
    pub orders: u64,
    pub cost: f64,
    pub units_backordered: u64,
}

/// Parcels of one service and their carriers' transit days.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Transit {
    pub parcels: u64,
    pub mean_days: f64,
    /// Share of parcels whose carrier transit days are within the service's promise (same_day 0,
    /// next_day 1, two_day 2, ground 5 days).
    pub within_promise: f64,
}

/// Days a service promises the customer.
fn promise_days(service: &str) -> u32 {
    match service {
        "same_day" => 0,
        "next_day" => 1,
        "two_day" => 2,
        _ => 5,
    }
}

/// How a replay keeps time (orders without `created_at` have no promise and count in none).
#[derive(Clone, Debug, Default, Serialize)]
pub struct TimeKpis {
    /// Orders with a promise date.
    pub promised: u64,
    pub mean_promise_days: f64,
    pub p90_promise_days: u32,
    /// Orders with `deliver_by` (and a shipment), and the share promised on time.
    pub with_deliver_by: u64,
    pub on_time_rate: f64,
    pub late_orders: u64,
    pub late_days: u64,
}

impl From<&Timeliness> for TimeKpis {
    fn from(t: &Timeliness) -> TimeKpis {
        TimeKpis {
            promised: t.promised(),
            mean_promise_days: t.mean_promise_days(),
            p90_promise_days: t.promise_days_quantile(0.9),
            with_deliver_by: t.with_deliver_by,
            on_time_rate: t.on_time_rate(),
            late_orders: t.late_orders,
            late_days: t.late_days,
        }
    }
}

/// One day's orders.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Daily {
    /// Days since 1970-01-01 (UTC).
    pub day: Option<i32>,
    pub orders: u64,
    pub cost: f64,
    /// Share of that day's ship orders sent in more than one parcel.
    pub split_share: f64,
    /// That day's orders' promise dates.
    pub time: TimeKpis,
    #[serde(skip)]
    timeliness: Timeliness,
    #[serde(skip)]
    ship_orders: u64,
    #[serde(skip)]
    split_orders: u64,
}

/// A node's busiest day.
#[derive(Clone, Debug, Serialize)]
pub struct Utilisation {
    pub node_id: String,
    pub kind: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// Units picked over the whole replay.
    pub units: u64,
    pub capacity_per_day: Option<u32>,
    pub busiest_day_units: u64,
    /// Busiest day's units ÷ daily capacity (0 without a capacity).
    pub peak_utilisation: f64,
}

fn seconds<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

/// The order in which history is replayed: by `created_at` instant, ties (and orders without
/// one, which go first) in file order.
pub fn replay_order(orders: &[Order]) -> Vec<usize> {
    let keys: Vec<Option<i64>> = orders.iter().map(created_ms).collect();
    let mut idx: Vec<usize> = (0..orders.len()).collect();
    idx.sort_by_key(|&i| (keys[i], i));
    idx
}

/// How a replay decides orders.
#[derive(Clone, Debug)]
pub enum ReplayPolicy {
    /// One at a time as they arrive (`optimal` or `nearest`).
    Route(PolicyKind),
    /// Held for a window of `window_ms` (windows aligned on the epoch) and re-optimized jointly
    /// at its end, with `options` per window.
    Batch {
        window_ms: i64,
        options: BatchOptions,
        /// Windows also end where stock arrives, and a window sees only the receipts that
        /// arrived by its first order (hindsight between receipts: a feasible plan, not a
        /// bound). Otherwise stock arriving during a window is there for the orders created
        /// from its arrival on, and the batch knows when it comes.
        at_receipts: bool,
    },
    /// One at a time with the `lookahead` policy: demand from a forecast's points, or (`None`)
    /// learned from the orders replayed so far; receipts shorten each SKU's horizon.
    Lookahead(Option<Arc<Vec<DemandPoint>>>),
}

/// The hindsight bound's window: every order of a replay in one batch.
const WHOLE_REPLAY_MS: i64 = 1 << 60;

impl ReplayPolicy {
    /// Perfect hindsight: the whole replay decided as one batch knowing every order and every
    /// receipt (each unit used only by orders created after it arrived), with `options`; its
    /// KPIs carry the batch's proven lower bound.
    pub fn hindsight(options: BatchOptions) -> ReplayPolicy {
        ReplayPolicy::Batch {
            window_ms: WHOLE_REPLAY_MS,
            options,
            at_receipts: false,
        }
    }

    /// Hindsight between receipts: the orders between two arrivals of stock decided as one
    /// batch knowing all of them, on the stock there when the first of them came (each window
    /// with `options`): a plan a planner could have had that does not look past the next
    /// receipt — an upper estimate of the hindsight optimum, where `hindsight`'s bound is a
    /// lower one.
    pub fn hindsight_between_receipts(options: BatchOptions) -> ReplayPolicy {
        ReplayPolicy::Batch {
            window_ms: WHOLE_REPLAY_MS,
            options,
            at_receipts: true,
        }
    }
}

impl FromStr for ReplayPolicy {
    type Err = String;
    /// `optimal`, `nearest`, or `batch:WINDOW` with WINDOW a number and a unit of `s`, `m`, `h`
    /// or `d` (e.g. `batch:2h`, `batch:30m`).
    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(window) = s.strip_prefix("batch:") {
            let unit = window.chars().last().unwrap_or(' ');
            let ms_per = match unit {
                's' => 1_000.0,
                'm' => 60_000.0,
                'h' => 3_600_000.0,
                'd' => 86_400_000.0,
                _ => {
                    return Err(format!(
                        "`{s}`: the window needs a unit (s, m, h or d), e.g. batch:2h"
                    ));
                }
            };
            let n: f64 = window[..window.len() - 1]
                .parse()
                .map_err(|_| format!("`{s}`: `{window}` is not a duration like 2h or 30m"))?;
            let window_ms = (n * ms_per).round();
            if !(1000.0..=30.0 * 86_400_000.0).contains(&window_ms) {
                return Err(format!("`{s}`: the window must be between 1 s and 30 days"));
            }
            return Ok(ReplayPolicy::Batch {
                window_ms: window_ms as i64,
                options: BatchOptions {
                    time_limit: Duration::from_secs(2),
                    gap_target: 0.005,
                    ..BatchOptions::default()
                },
                at_receipts: false,
            });
        }
        if s == "lookahead" {
            return Ok(ReplayPolicy::Lookahead(None));
        }
        s.parse::<PolicyKind>()
            .map(ReplayPolicy::Route)
            .map_err(|e| format!("{e}, `lookahead`, or `batch:WINDOW` (e.g. batch:2h)"))
    }
}

/// How a replay runs: its policy, stock arriving over time, how stores behave, when to stop and
/// whom to tell its progress. [`Replay::new`] sets none of them but the policy.
#[derive(Clone, Copy)]
pub struct Replay<'a> {
    pub policy: &'a ReplayPolicy,
    /// Sorted by time, resolved against the snapshot: a receipt at `at` is there for every
    /// order created at or after `at` (with a batch policy, for every window ending after it).
    pub receipts: &'a [Receipt],
    /// After each turn of orders, their shipments are rejected at the what-if's rates and
    /// re-routed (see `rejections.rs`).
    pub rejections: &'a super::Rejections,
    pub cancel: &'a Cancel,
    /// Told the orders decided so far.
    pub progress: &'a (dyn Fn(usize) + Sync),
    /// Keep every decision in [`Replayed::decisions`] (for a per-order comparison); otherwise
    /// they are summed into the KPIs and dropped.
    pub keep_decisions: bool,
}

static NO_REJECTIONS: super::Rejections = super::Rejections {
    rates: Vec::new(),
    seed: 0,
    pickups: super::PickupRule::Backorder,
};

static NEVER: Cancel = Cancel::never();

impl<'a> Replay<'a> {
    /// A replay with `policy`: no receipts, no rejections, never cancelled, no progress.
    pub fn new(policy: &'a ReplayPolicy) -> Replay<'a> {
        Replay {
            policy,
            receipts: &[],
            rejections: &NO_REJECTIONS,
            cancel: &NEVER,
            progress: &|_| {},
            keep_decisions: false,
        }
    }
}

/// One replay's outcome: its KPIs (and the name of the network, when a [`super::Study`] ran
/// it). Decisions are summed into the KPIs as they are made and kept only when asked: a replay
/// of millions of orders holds its orders once and its KPIs.
#[derive(Clone, Debug)]
pub struct Replayed {
    pub name: String,
    /// Every decision in replay order, when [`Replay::keep_decisions`] asked for them.
    pub decisions: Vec<Decision>,
    pub kpis: Kpis,
}

/// Why a replay stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// A batch window could not be decided (or the replay was cancelled).
    #[error("{0}")]
    Batch(#[from] BatchError),
}

/// Orders decided between two turns of store rejections (they reject soon after a decision).
const REJECTION_TURN: usize = 32;

/// Orders decided one at a time per run at most: each run's decisions are summed into the KPIs
/// and dropped before the next, so a long replay never holds them all.
const STREAM_RUN: usize = 16_384;

/// Replays `orders` on `snapshot` as `how` says: in creation order, each run of orders decided
/// with the policy on what earlier ones left, receipts added when their time comes, and the
/// what-if's rejections re-routed after each turn.
pub fn replay(
    snapshot: &Snapshot,
    orders: &[Order],
    how: &Replay<'_>,
) -> Result<Replayed, ReplayError> {
    let Replay {
        policy,
        receipts,
        rejections,
        cancel,
        progress,
        keep_decisions,
    } = *how;
    let start = Instant::now();
    let (orders, closed_pickups) = super::redirect_pickups(snapshot, orders, rejections.pickups);
    let orders = &orders[..];
    let mut rejecter = super::rejections::Rejecter::new(rejections);
    let turn = if rejections.rates.is_empty() {
        STREAM_RUN
    } else {
        REJECTION_TURN
    };
    let ordered = in_replay_order(orders);
    // Receipts may bring a SKU to a node that holds none yet: those rows start at 0, so the
    // inventory's structure (and every reservation counter) stays the same all along.
    let mut current = with_rows_for(snapshot, receipts);
    let nodes = current.clone();
    let mut tally = Tally::new(&nodes);
    let mut opportunity = 0.0;
    let mut kept = Vec::new();
    let mut ledger = Ledger::new(&current);
    // The lookahead policy's state, made by the first run that needs it.
    let mut lookahead: Option<Lookahead> = None;
    let mut bound: Option<f64> = None;
    let times: Vec<Option<i64>> = ordered.iter().map(created_ms).collect();
    let (mut next_receipt, mut from) = (0, 0);
    while from < ordered.len() {
        let next_at = receipts.get(next_receipt).map(|r| r.at_ms);
        let (until, arrived_by) = run_end(policy, &times, from, next_at, turn);
        let due = receipts[next_receipt..]
            .iter()
            .take_while(|r| arrived_by.is_some_and(|t| r.at_ms <= t))
            .count();
        let arriving = &receipts[next_receipt..next_receipt + due];
        if due > 0 {
            current = receive(&current, arriving);
            next_receipt += due;
        }
        let run = &ordered[from..until];
        let mut decider = Decider {
            current: &current,
            ledger: &mut ledger,
            lookahead: &mut lookahead,
            receipts,
            arriving,
            bound: &mut bound,
            cancel,
        };
        let decided = decider.decide_run(run, policy, &mut rejecter)?;
        for (order, (d, why)) in run.iter().zip(&decided) {
            tally.add(order, d);
            super::causes::tally(&mut tally.k.backorder_causes, why, d);
            opportunity += d.opportunity_cost.unwrap_or(0.0);
        }
        if keep_decisions {
            kept.extend(decided.into_iter().map(|(d, _)| d));
        }
        from = until;
        progress(from);
    }
    let mut kpis = tally.finish();
    kpis.exceptions = rejecter.kpis;
    kpis.closed_pickups = closed_pickups;
    kpis.lower_bound = bound;
    if lookahead.is_some() {
        kpis.opportunity_cost = Some(opportunity);
    }
    kpis.run_time = start.elapsed();
    Ok(Replayed {
        name: String::new(),
        decisions: kept,
        kpis,
    })
}

/// `orders` in replay order: borrowed when they already are (a [`super::Study`] sorts its
/// orders once for all its replays), else a sorted copy.
pub(super) fn in_replay_order(orders: &[Order]) -> std::borrow::Cow<'_, [Order]> {
    // (`replay_order` is a stable sort by creation time: already sorted is the identity.)
    if orders.is_sorted_by_key(created_ms) {
        return std::borrow::Cow::Borrowed(orders);
    }
    let order = replay_order(orders);
    std::borrow::Cow::Owned(order.into_iter().map(|i| orders[i].clone()).collect())
}

/// Where the run of orders starting at `from` ends, and the time by which receipts have arrived
/// for it: one at a time, up to the next receipt (`next_at`) and at most `turn` orders; with a
/// batch policy, the window of the first order (orders without a time form one window).
fn run_end(
    policy: &ReplayPolicy,
    times: &[Option<i64>],
    from: usize,
    next_at: Option<i64>,
    turn: usize,
) -> (usize, Option<i64>) {
    match policy {
        ReplayPolicy::Route(_) | ReplayPolicy::Lookahead(_) => {
            let until = next_at.map_or(times.len(), |at| {
                from + times[from..].partition_point(|t| t.is_none_or(|t| t < at))
            });
            (
                until.max(from + 1).min(from.saturating_add(turn)),
                times[from],
            )
        }
        ReplayPolicy::Batch {
            window_ms,
            at_receipts,
            ..
        } => {
            // The window of the first order; orders without a time form one window.
            let end = times[from].map(|t| (t.div_euclid(*window_ms) + 1) * window_ms);
            let until = from
                + times[from..].partition_point(|t| match (t, end) {
                    (None, _) => true,
                    (Some(t), Some(end)) => *t < end,
                    (Some(_), None) => false,
                });
            if *at_receipts {
                // Cut where the next stock arrives; what arrived by the first order is there.
                let to_receipt = next_at.map_or(times.len(), |at| {
                    from + times[from..].partition_point(|t| t.is_none_or(|t| t < at))
                });
                return (until.min(to_receipt).max(from + 1), times[from]);
            }
            (until.max(from + 1), end.map(|e| e - 1))
        }
    }
}

/// The lookahead state of a replay on `current` (its inventory rows final: receipts may add
/// rows, never after this). The replay's receipts and the scenario's `inbound.csv` shorten
/// horizons.
fn lookahead_for(
    current: &Snapshot,
    points: &Option<Arc<Vec<DemandPoint>>>,
    receipts: &[Receipt],
) -> Lookahead {
    let arrivals = receipts
        .iter()
        .map(|r| (r.sku, r.at_ms))
        .chain(crate::lookahead::inbound_receipts(current))
        .collect();
    match points {
        Some(points) => Lookahead::from_forecast(current, points, arrivals),
        None => Lookahead::from_history(current, arrivals),
    }
}

/// What deciding a run of orders works on: the network as it stands, what is taken, the
/// lookahead policy's state, the batch bound so far.
struct Decider<'a, 'l> {
    current: &'a Snapshot,
    ledger: &'a mut Ledger,
    lookahead: &'a mut Option<Lookahead>,
    receipts: &'a [Receipt],
    /// The receipts `current` just took in for this run (a batch window's orders created
    /// before one may not use its units).
    arriving: &'a [Receipt],
    bound: &'a mut Option<f64>,
    cancel: &'l Cancel,
}

impl Decider<'_, '_> {
    /// Decides one run of orders with the replay's policy on what the ledger leaves, then lets
    /// the what-if's rejections re-route their shipments; each decision with the causes of its
    /// backorders (on the state it was decided on; for a batch, at the window's end).
    fn decide_run(
        &mut self,
        run: &[Order],
        policy: &ReplayPolicy,
        rejecter: &mut super::rejections::Rejecter<'_>,
    ) -> Result<Vec<(Decision, super::causes::Causes)>, BatchError> {
        let current = self.current;
        let mut decided = Vec::with_capacity(run.len());
        let mut causes = Vec::with_capacity(run.len());
        match policy {
            ReplayPolicy::Route(kind) => {
                route_in_sequence(
                    current,
                    self.ledger,
                    run,
                    *kind,
                    self.cancel,
                    |_, o, r, now| {
                        causes.push(super::classify(current, now, o, &r.decision));
                        decided.push((r.plan, r.decision));
                    },
                )?;
            }
            ReplayPolicy::Lookahead(points) => {
                let receipts = self.receipts;
                let la = self
                    .lookahead
                    .get_or_insert_with(|| lookahead_for(current, points, receipts));
                let mut router = crate::route::Router::new();
                router.set_cancel(self.cancel.clone());
                for order in run {
                    let r = la.route(&mut router, current, &*self.ledger, order)?;
                    self.ledger.commit(current, order, &r.plan);
                    la.observe(current, order, &r);
                    causes.push(super::classify(current, &*self.ledger, order, &r.decision));
                    decided.push((r.plan, r.decision));
                }
            }
            ReplayPolicy::Batch { options, .. } => {
                let options = BatchOptions {
                    cancel: self.cancel.clone(),
                    ..options.clone()
                };
                let arrivals = arrivals_for(current, run, self.arriving);
                let progress = |p: &crate::batch::Progress| {
                    tracing::debug!(phase = %p.phase, round = p.round, bound = p.bound,
                        incumbent = p.incumbent, elapsed = ?p.elapsed, "batch window");
                };
                let result =
                    reoptimize_arriving(current, self.ledger, run, arrivals, &options, &progress)?;
                *self.bound = Some(self.bound.unwrap_or(0.0) + result.lower_bound);
                for (order, plan) in run.iter().zip(&result.plans) {
                    self.ledger.commit(current, order, plan);
                }
                for (order, d) in run.iter().zip(&result.decisions) {
                    causes.push(super::classify(current, &*self.ledger, order, d));
                }
                decided.extend(result.plans.into_iter().zip(result.decisions));
            }
        }
        let mut out = Vec::with_capacity(run.len());
        for ((order, (plan, decision)), mut why) in run.iter().zip(decided).zip(causes) {
            let before = decision.backordered_units();
            let opportunity = decision.opportunity_cost;
            let mut decision = rejecter.apply(current, self.ledger, order, plan, decision)?;
            decision.opportunity_cost = opportunity;
            let rejected = decision.backordered_units().saturating_sub(before);
            if rejected > 0 {
                why.push(("store_rejection", rejected));
            }
            out.push((decision, why));
        }
        Ok(out)
    }
}

/// What arrives while the orders of `run` (in creation order) come in: the receipts `current`
/// took in after the first of them was created (an order without a time comes before every
/// receipt, as in a replay one order at a time).
fn arrivals_for(current: &Snapshot, run: &[Order], arriving: &[Receipt]) -> Arrivals {
    let order_ms: Vec<Option<i64>> = run.iter().map(created_ms).collect();
    let first = order_ms.iter().map(|t| t.unwrap_or(i64::MIN)).min();
    let Some(first) = first else {
        return Arrivals::none();
    };
    let inv = current.inventory();
    let late = arriving
        .iter()
        .filter(|r| r.at_ms > first)
        .filter_map(|r| inv.entry(r.node, r.sku).map(|e| (e, r.at_ms, r.qty)));
    Arrivals::new(inv.len(), late, order_ms)
}

/// `snapshot` with an inventory row (on_hand 0) for every receipt's (node, SKU) that has none.
fn with_rows_for(snapshot: &Snapshot, receipts: &[Receipt]) -> Snapshot {
    let inv = snapshot.inventory();
    let missing: Vec<&Receipt> = receipts
        .iter()
        .filter(|r| inv.entry(r.node, r.sku).is_none())
        .collect();
    if missing.is_empty() {
        return snapshot.clone();
    }
    let mut data = snapshot.to_network_data();
    let mut seen = std::collections::HashSet::new();
    for r in missing {
        if seen.insert((r.node, r.sku)) {
            data.inventory.push(InventoryRow {
                node: r.node,
                sku: r.sku,
                on_hand: 0,
                safety_stock: 0,
            });
        }
    }
    // Same nodes and SKUs, one more row per pair: the build cannot fail on what loaded before.
    Snapshot::build(data, snapshot.version() + 1).unwrap_or_else(|_| snapshot.clone())
}

/// `snapshot` with the receipts' units added to on_hand (same inventory structure).
fn receive(snapshot: &Snapshot, receipts: &[Receipt]) -> Snapshot {
    let inv = snapshot.inventory();
    // One change per entry, however many receipts name it (a map: a whole network's stock may
    // arrive at once).
    let mut changes: std::collections::BTreeMap<usize, Level> = std::collections::BTreeMap::new();
    for r in receipts {
        if let Some(e) = inv.entry(r.node, r.sku) {
            let s = inv.stock(e);
            let level = changes.entry(e).or_insert(Level {
                on_hand: s.on_hand,
                safety_stock: s.safety_stock,
            });
            level.on_hand = level.on_hand.saturating_add(r.qty);
        }
    }
    let changes: Vec<(usize, Level)> = changes.into_iter().collect();
    snapshot.with_inventory(inv.with_levels(&changes), snapshot.version() + 1)
}

/// The KPIs of decided orders (`orders[i]` decided by `decisions[i]`), their backorders'
/// causes classified on `snapshot` as it is.
pub fn measure(snapshot: &Snapshot, orders: &[Order], decisions: &[Decision]) -> Kpis {
    let untouched = crate::route::Untouched;
    let causes: Vec<_> = orders
        .iter()
        .zip(decisions)
        .map(|(o, d)| super::classify(snapshot, &untouched, o, d))
        .collect();
    measure_with(snapshot, orders, decisions, &causes)
}

/// As [`measure`], with each order's backorder causes as the replay found them.
fn measure_with(
    snapshot: &Snapshot,
    orders: &[Order],
    decisions: &[Decision],
    causes: &[super::causes::Causes],
) -> Kpis {
    let mut tally = Tally::new(snapshot);
    for ((order, d), why) in orders.iter().zip(decisions).zip(causes) {
        tally.add(order, d);
        super::causes::tally(&mut tally.k.backorder_causes, why, d);
    }
    tally.finish()
}

/// KPIs being summed up, order by order.
struct Tally<'a> {
    snapshot: &'a Snapshot,
    k: Kpis,
    /// Units shipped per node.
    units_at: Vec<u64>,
    /// Units shipped per (node, day).
    per_day: BTreeMap<(usize, Option<i32>), u64>,
    distance: f64,
    parcels: u64,
    ship_orders: u64,
    split: u64,
    /// Per service: parcels, transit days, parcels within the promise.
    transit: BTreeMap<String, (u64, u64, u64)>,
    daily: BTreeMap<Option<i32>, Daily>,
    time: Timeliness,
}

impl<'a> Tally<'a> {
    fn new(snapshot: &'a Snapshot) -> Tally<'a> {
        Tally {
            snapshot,
            k: Kpis::default(),
            units_at: vec![0; snapshot.nodes().len()],
            per_day: BTreeMap::new(),
            distance: 0.0,
            parcels: 0,
            ship_orders: 0,
            split: 0,
            transit: BTreeMap::new(),
            daily: BTreeMap::new(),
            time: Timeliness::default(),
        }
    }

    fn add(&mut self, order: &Order, d: &Decision) {
        let is_ship = order.service != crate::model::Service::Pickup;
        let day = self.daily.entry(order.day).or_insert_with(|| Daily {
            day: order.day,
            ..Daily::default()
        });
        day.orders += 1;
        day.cost += d.cost.total;
        day.timeliness.add(order, d);
        self.time.add(order, d);
        if is_ship {
            day.ship_orders += 1;
            if d.shipments.len() > 1 {
                day.split_orders += 1;
            }
        }
        let k = &mut self.k;
        let service = k
            .by_service
            .entry(order.service.as_str().to_owned())
            .or_default();
        service.orders += 1;
        service.cost += d.cost.total;
        service.units_backordered += d.backordered_units();
        k.orders += 1;
        k.cost.add(&d.cost);
        k.shipments += d.shipments.len() as u64;
        k.units_ordered += order.units();
        k.units_backordered += d.backordered_units();
        k.units_shipped += d.allocated_units();
        if is_ship {
            self.ship_orders += 1;
            if d.shipments.len() > 1 {
                self.split += 1;
            }
        }
        for s in &d.shipments {
            self.add_shipment(order, s, is_ship);
        }
    }

    fn add_shipment(&mut self, order: &Order, s: &crate::model::Shipment, is_ship: bool) {
        let (snapshot, k) = (self.snapshot, &mut self.k);
        let units: u64 = s.lines.iter().map(|l| u64::from(l.qty)).sum();
        if let Some(n) = snapshot.node_id(&s.node_id) {
            self.units_at[n.index()] += units;
            *self.per_day.entry((n.index(), order.day)).or_default() += units;
            match snapshot.node(n).kind {
                NodeKind::Store => k.units_from_stores += units,
                NodeKind::Dc => k.units_from_dcs += units,
                NodeKind::Dropship => k.units_from_dropship += units,
            }
        }
        if let (Some(km), Some(zone)) = (s.distance_km, s.zone) {
            self.distance += km;
            self.parcels += 1;
            *k.zones.entry(zone).or_default() += 1;
        }
        if is_ship {
            let t = self.transit.entry(s.service.clone()).or_default();
            let days = s.transit_days.unwrap_or(0);
            t.0 += 1;
            t.1 += u64::from(days);
            if days <= promise_days(&s.service) {
                t.2 += 1;
            }
        }
    }

    fn finish(mut self) -> Kpis {
        let k = &mut self.k;
        let n = k.orders.max(1) as f64;
        k.cost_per_order = CostBreakdown {
            shipping: k.cost.shipping / n,
            handling: k.cost.handling / n,
            split: k.cost.split / n,
            backorder: k.cost.backorder / n,
            late: k.cost.late.map(|l| l / n),
            total: k.cost.total / n,
        };
        k.shipments_per_order = k.shipments as f64 / n;
        k.split_share = self.split as f64 / self.ship_orders.max(1) as f64;
        k.fill_rate = if k.units_ordered == 0 {
            1.0
        } else {
            k.units_shipped as f64 / k.units_ordered as f64
        };
        k.mean_distance_km = if self.parcels == 0 {
            0.0
        } else {
            self.distance / self.parcels as f64
        };
        k.transit = std::mem::take(&mut self.transit)
            .into_iter()
            .map(|(s, (p, days, within))| {
                let transit = Transit {
                    parcels: p,
                    mean_days: days as f64 / p.max(1) as f64,
                    within_promise: within as f64 / p.max(1) as f64,
                };
                (s, transit)
            })
            .collect();
        k.daily = std::mem::take(&mut self.daily)
            .into_values()
            .map(|mut d| {
                d.split_share = d.split_orders as f64 / d.ship_orders.max(1) as f64;
                d.time = TimeKpis::from(&d.timeliness);
                d
            })
            .collect();
        k.time = TimeKpis::from(&self.time);
        self.utilisation();
        self.k
    }

    /// Per node that shipped anything or has a capacity: units, busiest day, peak utilisation.
    fn utilisation(&mut self) {
        let nodes = self.snapshot.nodes();
        let mut busiest = vec![0u64; nodes.len()];
        for (&(n, _), &u) in &self.per_day {
            busiest[n] = busiest[n].max(u);
        }
        for (i, node) in nodes.iter().enumerate() {
            if self.units_at[i] == 0 && node.capacity_units.is_none() {
                continue;
            }
            let peak = node
                .capacity_units
                .map_or(0.0, |c| busiest[i] as f64 / f64::from(c.max(1)));
            if node
                .capacity_units
                .is_some_and(|c| busiest[i] >= u64::from(c))
            {
                self.k.nodes_at_capacity += 1;
            }
            self.k.utilisation.push(Utilisation {
                node_id: node.id.clone(),
                kind: node.kind.as_str(),
                lat: node.lat,
                lon: node.lon,
                units: self.units_at[i],
                capacity_per_day: node.capacity_units,
                busiest_day_units: busiest[i],
                peak_utilisation: peak,
            });
        }
    }
}
