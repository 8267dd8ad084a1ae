//! The last phase: the incumbent improved locally with the time left.

use super::Phase;
use super::improve::improve;
use super::incumbent::Incumbent;
use super::lagrange::Rounds;
use super::run::Run;
use crate::route::{RouteError, Router};

/// Improves the incumbent, one order at a time, until nothing improves or the time is up;
/// nothing to do once the gap is closed.
pub(crate) fn polish(
    run: &Run,
    incumbent: &mut Incumbent,
    rounds: &Rounds,
    router: &mut Router,
) -> Result<(), RouteError> {
    if incumbent.closed(run.options.gap_target).is_some() || run.out_of_time() {
        return Ok(());
    }
    incumbent.report(Phase::Improve, rounds.count);
    incumbent.improve_with(|best| improve(run, best, &rounds.alone, router, usize::MAX).map(drop))
}
