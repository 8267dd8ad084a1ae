//! Pricing: every order's cheapest plan at given prices of the shared limits, decided in parallel
//! by the exact per-order search. The plans are new columns for the master; the sum of their
//! proven lower bounds is the Lagrangian bound's first term.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rayon::prelude::*;

use super::held::alone;
use super::run::Run;
use crate::route::{PricedPlan, RouteError, Router};

/// Search nodes per order in a pricing round: enough for nearly every order to be exact; those
/// that are not still give a valid (weaker) bound.
const PRICING_BUDGET: u64 = 50_000;

/// Orders priced between two looks at the clock (per worker).
const CLOCK_EVERY: usize = 512;

/// One pricing round: every order's cheapest plan at prices `pi`, in parallel. `None` if
/// `deadline` passed during the round.
pub(crate) fn price_all(
    run: &Run,
    pi: &[f64],
    deadline: Instant,
) -> Result<Option<Vec<PricedPlan>>, RouteError> {
    let late = AtomicBool::new(false);
    let out = run
        .orders
        .par_iter()
        .enumerate()
        .map_init(
            || Router::new().with_budget(PRICING_BUDGET),
            |router, (o, order)| {
                if o % CLOCK_EVERY == 0 && Instant::now() >= deadline {
                    late.store(true, Ordering::Relaxed);
                }
                if late.load(Ordering::Relaxed) {
                    return Ok(None);
                }
                let prices = run.resources.prices(pi, o);
                router
                    .route_priced(run.snapshot, &alone(run, o), order, &prices)
                    .map(Some)
            },
        )
        .collect::<Result<Vec<_>, RouteError>>()?;
    if late.load(Ordering::Relaxed) {
        return Ok(None);
    }
    Ok(Some(out.into_iter().flatten().collect()))
}
