//! The `lookahead` policy over a sequence of orders: prices kept current per SKU, each order
//! routed with them, and what it took counted.

use std::time::{Duration, Instant};

use super::forecast::{Basket, Forecast, History};
use super::prices::{Expected, Prices, Reach, SkuSolve, Together, full_assortment};
use crate::cancel::Cancel;
use crate::model::{Decision, Lookahead as Settings, Order, SkuId};
use crate::route::{Availability, Ledger, RouteError, Routed, Router, RunSummary};
use crate::snapshot::Snapshot;

const DAY_MS: f64 = 86_400_000.0;

/// Where expected demand comes from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A planner's forecast (`forecast.csv`).
    Forecast(Forecast),
    /// The orders routed so far, smoothed.
    History(History),
}

/// What a SKU's last solve saw.
#[derive(Clone, Copy, Debug)]
struct Solved {
    solve: SkuSolve,
    /// Units taken since.
    taken: f64,
    horizon_days: f64,
    /// The snapshot version and forecast generation it was solved on.
    version: u64,
    generation: u64,
}

/// How much solving the prices cost a run.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct PricingStats {
    /// SKU LPs solved.
    pub solves: u64,
    /// Time spent solving them.
    pub time: Duration,
}

/// The `lookahead` policy's state over a run: the forecast, the prices and when each SKU's
/// were solved. Prices of a SKU are solved when an order first needs them and again when
/// orders have taken `refresh_share` of the units its nodes had, when its horizon has shrunk
/// by that share (time moving towards its next receipt), when the snapshot changed (stock
/// arrived) or when the history's forecast changed (a day closed).
pub struct Lookahead {
    settings: Settings,
    source: Source,
    forecast: Forecast,
    reach: Reach,
    /// Per node, whether it carries the whole assortment (see [`Together`]).
    full: Vec<bool>,
    generation: u64,
    /// When each SKU's inbound receipts come.
    receipts: Arrivals,
    prices: Prices,
    solved: Vec<Option<Solved>>,
    stats: PricingStats,
    /// Units per order among the orders routed so far.
    basket: Basket,
}

impl Lookahead {
    /// The policy's state for a run on `snapshot`; `receipts` (SKU, instant in ms) shorten a
    /// SKU's horizon to its next one.
    pub fn new(
        snapshot: &Snapshot,
        settings: Settings,
        source: Source,
        receipts: Vec<(SkuId, i64)>,
    ) -> Lookahead {
        let receipts = Arrivals::new(receipts);
        let forecast = match &source {
            Source::Forecast(f) => f.clone(),
            Source::History(h) => h.forecast(),
        };
        Lookahead {
            settings,
            source,
            reach: Reach::new(snapshot, &forecast),
            full: full_assortment(snapshot, &forecast),
            forecast,
            generation: 0,
            receipts,
            prices: Prices::zero(snapshot.inventory().len()),
            solved: vec![None; snapshot.skus().len()],
            stats: PricingStats::default(),
            basket: Basket::default(),
        }
    }

    /// The demand-history source for `snapshot`'s policy (no forecast file).
    pub fn from_history(snapshot: &Snapshot, receipts: Vec<(SkuId, i64)>) -> Lookahead {
        let s = snapshot.policy().lookahead();
        let history = History::new(s.smoothing, s.resolution, snapshot.skus().len());
        Lookahead::new(snapshot, s, Source::History(history), receipts)
    }

    /// The forecast source for `snapshot`'s policy.
    pub fn from_forecast(
        snapshot: &Snapshot,
        points: &[crate::model::DemandPoint],
        receipts: Vec<(SkuId, i64)>,
    ) -> Lookahead {
        let s = snapshot.policy().lookahead();
        let f = Forecast::from_points(points, snapshot.skus().len(), s.resolution);
        Lookahead::new(snapshot, s, Source::Forecast(f), receipts)
    }

    /// The days of demand a SKU's prices cover at `now_ms`: the set horizon, shortened by the
    /// SKU's next receipt after now.
    pub fn horizon(&self, sku: SkuId, now_ms: Option<i64>) -> f64 {
        self.receipts
            .horizon(self.settings.horizon_days, sku, now_ms)
    }

    /// Whether SKU `k`'s prices must be solved again before an order at `now_ms` uses them.
    fn stale(&self, snapshot: &Snapshot, k: SkuId, now_ms: Option<i64>) -> bool {
        let Some(s) = self.solved[k.index()] else {
            return true;
        };
        let share = self.settings.refresh_share;
        s.version != snapshot.version()
            || s.generation != self.generation
            || (s.taken > 0.0 && s.taken >= share * s.solve.supply)
            || (self.horizon(k, now_ms) - s.horizon_days).abs() > share * s.horizon_days
    }

    /// Makes the prices of `order`'s SKUs current.
    fn refresh(&mut self, snapshot: &Snapshot, avail: &impl Availability, order: &Order) {
        let now = order.created.map(|s| s * 1000);
        let expected = Expected {
            forecast: &self.forecast,
            reach: &self.reach,
            together: Together {
                basket: self.basket.including(order).mean(),
                full: &self.full,
            },
        };
        for line in &order.lines {
            let k = line.sku;
            if k.index() >= self.solved.len() || !self.stale(snapshot, k, now) {
                continue;
            }
            let start = Instant::now();
            let horizon_days = self.horizon(k, now);
            let solve = self
                .prices
                .resolve_sku(snapshot, avail, expected, k, horizon_days);
            self.solved[k.index()] = Some(Solved {
                solve,
                taken: 0.0,
                horizon_days,
                version: snapshot.version(),
                generation: self.generation,
            });
            self.stats.solves += 1;
            self.stats.time += start.elapsed();
        }
    }

    /// Routes one order with current prices; the decision carries its opportunity cost.
    pub fn route(
        &mut self,
        router: &mut Router,
        snapshot: &Snapshot,
        avail: &impl Availability,
        order: &Order,
    ) -> Result<Routed, RouteError> {
        self.refresh(snapshot, avail, order);
        charge(
            router,
            snapshot,
            avail,
            order,
            &self.prices,
            self.settings.hold_back,
        )
    }

    /// Counts what a routed order took (and, learning from history, what it asked for).
    pub fn observe(&mut self, snapshot: &Snapshot, order: &Order, routed: &Routed) {
        self.basket.observe(order);
        for (_, lines) in &routed.plan.shipments {
            for &(sku, q) in lines {
                if let Some(Some(s)) = self.solved.get_mut(sku.index()) {
                    s.taken += f64::from(q);
                }
            }
        }
        if let Source::History(h) = &mut self.source
            && h.observe(order)
        {
            self.forecast = h.forecast();
            self.reach = Reach::new(snapshot, &self.forecast);
            self.full = full_assortment(snapshot, &self.forecast);
            self.generation += 1;
        }
    }

    /// The prices as they stand.
    pub fn prices(&self) -> &Prices {
        &self.prices
    }

    /// The forecast the prices are solved from.
    pub fn forecast(&self) -> &Forecast {
        &self.forecast
    }

    /// What solving has cost so far.
    pub fn stats(&self) -> PricingStats {
        self.stats
    }
}

/// Each SKU's receipt instants (ms), in order: when its next stock comes after a moment, in
/// O(log n) — a refresh asks for every SKU, a run for every line of every order.
#[derive(Clone, Debug, Default)]
pub(super) struct Arrivals {
    by_sku: Vec<Vec<i64>>,
}

impl Arrivals {
    pub(super) fn new(receipts: Vec<(SkuId, i64)>) -> Arrivals {
        let mut by_sku: Vec<Vec<i64>> = Vec::new();
        for (sku, at) in receipts {
            if by_sku.len() <= sku.index() {
                by_sku.resize_with(sku.index() + 1, Vec::new);
            }
            by_sku[sku.index()].push(at);
        }
        for times in &mut by_sku {
            times.sort_unstable();
        }
        Arrivals { by_sku }
    }

    /// The days of demand a SKU's prices cover at `now_ms`: `horizon_days`, shortened by the
    /// SKU's next receipt after now.
    pub(super) fn horizon(&self, horizon_days: f64, sku: SkuId, now_ms: Option<i64>) -> f64 {
        let Some(now) = now_ms else {
            return horizon_days;
        };
        let times = self.by_sku.get(sku.index()).map_or(&[][..], Vec::as_slice);
        let next = times.partition_point(|&at| at <= now);
        times.get(next).map_or(horizon_days, |&at| {
            horizon_days.min((at - now) as f64 / DAY_MS)
        })
    }
}

/// Routes `order` with `prices` charged per unit; the decision reports its real cost and the
/// opportunity cost of what it took.
pub(super) fn charge(
    router: &mut Router,
    snapshot: &Snapshot,
    avail: &impl Availability,
    order: &Order,
    prices: &Prices,
    hold_back: bool,
) -> Result<Routed, RouteError> {
    let charged = Charged { prices, hold_back };
    let mut routed = router.route_with_prices(snapshot, avail, order, &charged)?;
    let inventory = snapshot.inventory();
    let mut opportunity = 0.0;
    for (node, lines) in &routed.plan.shipments {
        for &(sku, q) in lines {
            if let Some(e) = inventory.entry(*node, sku) {
                opportunity += prices.of(e) * f64::from(q);
            }
        }
    }
    routed.decision.opportunity_cost = Some(opportunity);
    Ok(routed)
}

/// The prices as the search charges them: without `hold_back`, each line's less the least
/// among its candidates (`UnitPrices::relative`), so opportunity costs choose *which* node ships
/// a unit, never *whether* it ships. (Charged whole, a unit the LP expects to sell elsewhere at a
/// lost-sale price makes backordering it now look as good as shipping it — a sure loss now
/// against an expected one later; on healthy networks that cost more than it saved.)
struct Charged<'a> {
    prices: &'a Prices,
    hold_back: bool,
}

impl crate::route::UnitPrices for Charged<'_> {
    #[inline]
    fn unit_price(&self, entry: usize, _node: crate::model::NodeId, _day: Option<i32>) -> f64 {
        self.prices.of(entry)
    }

    fn relative(&self) -> bool {
        !self.hold_back
    }
}

/// The receipts of `snapshot`'s `inbound.csv` as (SKU, instant): each at the start (UTC) of
/// its available date — what shortens a SKU's horizon in `route`.
pub fn inbound_receipts(snapshot: &Snapshot) -> Vec<(SkuId, i64)> {
    snapshot
        .inventory()
        .inbound_rows()
        .into_iter()
        .map(|r| (r.sku, i64::from(r.available) * DAY_MS as i64))
        .collect()
}

/// Routes `orders` in file order with the `lookahead` policy (the `route` semantics: each
/// decision reserves before the next), from a fresh ledger. Sequential: a price refresh
/// depends on every decision before it.
pub fn route_all_lookahead(
    snapshot: &Snapshot,
    orders: &[Order],
    lookahead: &mut Lookahead,
    cancel: &Cancel,
) -> Result<(Vec<Decision>, RunSummary), RouteError> {
    let start = Instant::now();
    let mut ledger = Ledger::new(snapshot);
    let mut router = Router::new();
    router.set_cancel(cancel.clone());
    let mut summary = RunSummary::default();
    let mut decisions = Vec::with_capacity(orders.len());
    for (i, order) in orders.iter().enumerate() {
        let routed = lookahead.route(&mut router, snapshot, &ledger, order)?;
        ledger.commit(snapshot, order, &routed.plan);
        lookahead.observe(snapshot, order, &routed);
        summary.add_routed(i, order, &routed);
        decisions.push(routed.decision);
    }
    summary.elapsed = start.elapsed();
    Ok((decisions, summary))
}
