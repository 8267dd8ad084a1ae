//! The prices a long-running service routes with: every SKU solved at once off the request
//! path, published atomically (arc-swap) so routing never waits for them, and solved again on a
//! schedule, once committed orders took a set share of the units priced, when the learned
//! forecast changed (a day closed) or when the network changed shape.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;

use super::forecast::{Basket, Forecast, History};
use super::prices::{Expected, Prices, Reach, Together, full_assortment, solve_all};
use super::run::{Arrivals, Source, charge, inbound_receipts};
use crate::model::{Day, DemandPoint, Lookahead as Settings, Order};
use crate::route::{Availability, RouteError, Routed, Router};
use crate::snapshot::{Shape, Snapshot};

/// Prices solved for a whole network at once.
pub struct Board {
    prices: Prices,
    /// The inventory layout they were solved on (their entry indices), and its version.
    shape: Shape,
    version: u64,
    solved_at: Instant,
    took: Duration,
    skus_priced: usize,
    supply: f64,
    generation: u64,
    hold_back: bool,
    refresh: Duration,
    refresh_share: f64,
}

impl Board {
    /// Whether these prices belong to `snapshot`'s inventory (same entries at the same indices,
    /// whatever the stock levels).
    pub fn fits(&self, snapshot: &Snapshot) -> bool {
        self.shape.fits(snapshot.inventory())
    }

    /// Routes `order` with these prices (the exact search with each unit's price added); the
    /// decision reports its real cost and the opportunity cost of what it took.
    pub fn route(
        &self,
        router: &mut Router,
        snapshot: &Snapshot,
        avail: &impl Availability,
        order: &Order,
    ) -> Result<Routed, RouteError> {
        charge(router, snapshot, avail, order, &self.prices, self.hold_back)
    }

    /// The prices.
    pub fn prices(&self) -> &Prices {
        &self.prices
    }

    /// How long ago they were solved.
    pub fn age(&self) -> Duration {
        self.solved_at.elapsed()
    }

    /// How long solving them took.
    pub fn took(&self) -> Duration {
        self.took
    }

    /// SKUs with expected demand and stock to sell, whose LP was solved.
    pub fn skus_priced(&self) -> usize {
        self.skus_priced
    }

    /// The snapshot version they were solved on.
    pub fn version(&self) -> u64 {
        self.version
    }
}

/// Where the service's expected demand comes from, and how often it changed.
struct Demand {
    source: Source,
    generation: u64,
    /// Units per order among the orders committed.
    basket: Basket,
}

/// Why the prices are solved again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresh {
    /// None yet, or the network changed shape.
    First,
    /// `refresh_seconds` passed.
    Schedule,
    /// Committed orders took `refresh_share` of the units priced.
    Taken,
    /// The learned forecast changed (a day closed).
    Forecast,
}

impl Refresh {
    pub fn as_str(self) -> &'static str {
        match self {
            Refresh::First => "first",
            Refresh::Schedule => "schedule",
            Refresh::Taken => "taken",
            Refresh::Forecast => "forecast",
        }
    }
}

/// The service's prices and the demand they are solved from.
pub struct Pricer {
    board: ArcSwapOption<Board>,
    demand: Mutex<Demand>,
    /// Units committed since the current board was solved.
    taken: AtomicU64,
}

impl Pricer {
    /// Prices learned from the orders committed (no forecast file), for `snapshot`'s policy.
    pub fn from_history(snapshot: &Snapshot) -> Pricer {
        let s = snapshot.policy().lookahead();
        let history = History::new(s.smoothing, s.resolution, snapshot.skus().len());
        Pricer::new(Source::History(history))
    }

    /// Prices from a planner's forecast (`forecast.csv`) read against `snapshot`.
    pub fn from_forecast(snapshot: &Snapshot, points: &[DemandPoint]) -> Pricer {
        let s = snapshot.policy().lookahead();
        let f = Forecast::from_points(points, snapshot.skus().len(), s.resolution);
        Pricer::new(Source::Forecast(f))
    }

    /// From a planner's forecast when there is one, else learned from the orders committed.
    pub fn from_points(snapshot: &Snapshot, points: Option<&[DemandPoint]>) -> Pricer {
        match points {
            Some(points) => Pricer::from_forecast(snapshot, points),
            None => Pricer::from_history(snapshot),
        }
    }

    fn new(source: Source) -> Pricer {
        Pricer {
            board: ArcSwapOption::empty(),
            demand: Mutex::new(Demand {
                source,
                generation: 0,
                basket: Basket::default(),
            }),
            taken: AtomicU64::new(0),
        }
    }

    /// Starts again from `other`'s demand, with no prices (a new network was loaded).
    pub fn reset(&self, other: Pricer) {
        let demand = other.demand.into_inner().unwrap_or_else(|e| e.into_inner());
        *self.lock() = demand;
        self.board.store(None);
        self.taken.store(0, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Demand> {
        self.demand.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The current prices, if they belong to `snapshot`'s inventory.
    pub fn board(&self, snapshot: &Snapshot) -> Option<std::sync::Arc<Board>> {
        self.board.load_full().filter(|b| b.fits(snapshot))
    }

    /// The current prices, whatever network they were solved on.
    pub fn latest(&self) -> Option<std::sync::Arc<Board>> {
        self.board.load_full()
    }

    /// "forecast" (a planner's file) or "history" (learned from the orders committed).
    pub fn source(&self) -> &'static str {
        match self.lock().source {
            Source::Forecast(_) => "forecast",
            Source::History(_) => "history",
        }
    }

    /// Counts a committed order: the units it took, its size (units per order, see
    /// [`super::Together`]), and (learning from history) what it asked for, on `day` (its own
    /// day, or today's for an order without `created_at`).
    pub fn observe(&self, order: &Order, taken: u64, day: Day) {
        self.taken.fetch_add(taken, Ordering::Relaxed);
        let mut demand = self.lock();
        demand.basket.observe(order);
        if let Source::History(h) = &mut demand.source
            && h.observe_on(order, Some(day))
        {
            demand.generation += 1;
        }
    }

    /// Whether the prices for `snapshot` must be solved again, and why.
    pub fn due(&self, snapshot: &Snapshot) -> Option<Refresh> {
        let Some(board) = self.board(snapshot) else {
            return Some(Refresh::First);
        };
        if board.age() >= board.refresh {
            return Some(Refresh::Schedule);
        }
        let taken = self.taken.load(Ordering::Relaxed) as f64;
        if taken > 0.0 && taken >= board.refresh_share * board.supply {
            return Some(Refresh::Taken);
        }
        if self.lock().generation != board.generation {
            return Some(Refresh::Forecast);
        }
        None
    }

    /// Solves every SKU's prices on `snapshot` against what `avail` holds (in parallel), at
    /// `now_ms` (shortening each SKU's horizon to its next inbound receipt), and publishes them.
    pub fn refresh(
        &self,
        snapshot: &Snapshot,
        avail: &(impl Availability + Sync),
        now_ms: Option<i64>,
    ) -> std::sync::Arc<Board> {
        let start = Instant::now();
        self.taken.store(0, Ordering::Relaxed);
        let (forecast, generation, basket) = {
            let d = self.lock();
            let f = match &d.source {
                Source::Forecast(f) => f.clone(),
                Source::History(h) => h.forecast(),
            };
            (f, d.generation, d.basket.mean())
        };
        let settings: Settings = snapshot.policy().lookahead();
        let reach = Reach::new(snapshot, &forecast);
        let receipts = Arrivals::new(inbound_receipts(snapshot));
        let horizon = |sku| receipts.horizon(settings.horizon_days, sku, now_ms);
        let full = full_assortment(snapshot, &forecast);
        let expected = Expected {
            forecast: &forecast,
            reach: &reach,
            together: Together {
                basket,
                full: &full,
            },
        };
        let (prices, solves) = solve_all(snapshot, avail, expected, &horizon);
        let board = std::sync::Arc::new(Board {
            prices,
            shape: snapshot.inventory().shape(),
            version: snapshot.version(),
            solved_at: Instant::now(),
            took: start.elapsed(),
            skus_priced: solves
                .iter()
                .filter(|s| s.supply > 0.0 && s.demand > 0.0)
                .count(),
            supply: solves.iter().map(|s| s.supply).sum(),
            generation,
            hold_back: settings.hold_back,
            refresh: Duration::from_secs_f64(settings.refresh_seconds),
            refresh_share: settings.refresh_share,
        });
        self.board.store(Some(board.clone()));
        board
    }
}
