//! What a run reports while it works and why it stopped.

use std::fmt;
use std::time::Duration;

/// What the optimizer is doing, for progress displays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Baseline,
    Bound,
    ExactMip,
    Master,
    Improve,
    Done,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Baseline => "sequential baseline",
            Phase::Bound => "lagrangian bound",
            Phase::ExactMip => "exact MIP",
            Phase::Master => "joint MIP over collected plans",
            Phase::Improve => "local improvement",
            Phase::Done => "done",
        })
    }
}

/// A progress report.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    pub phase: Phase,
    /// Lagrangian rounds done.
    pub round: usize,
    /// Best lower bound proven so far (−∞ before the first).
    pub bound: f64,
    /// Cost of the best feasible answer so far (∞ before the baseline).
    pub incumbent: f64,
    pub elapsed: Duration,
}

impl Progress {
    /// Where a run starts: the sequential baseline, with neither an answer nor a bound yet.
    pub(crate) fn starting() -> Progress {
        Progress {
            phase: Phase::Baseline,
            round: 0,
            bound: f64::NEG_INFINITY,
            incumbent: f64::INFINITY,
            elapsed: Duration::ZERO,
        }
    }

    /// `(incumbent − bound) / incumbent`, or `None` before there are both.
    pub fn gap(&self) -> Option<f64> {
        gap(self.incumbent, self.bound)
    }
}

pub(crate) fn gap(cost: f64, bound: f64) -> Option<f64> {
    if !cost.is_finite() || !bound.is_finite() {
        return None;
    }
    let g = if cost.abs() < 1e-9 {
        0.0
    } else {
        (cost - bound) / cost.abs()
    };
    Some(g.max(0.0))
}

/// Why the optimizer stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The answer is proven optimal (its cost equals the bound, to 1e-6).
    Optimal,
    /// The gap reached the target.
    GapReached,
    /// The time limit came first: the best answer found so far.
    TimeLimit,
    /// The bound stopped improving and the joint MIP could not close the gap further.
    Stalled,
}

impl Status {
    /// The one spelling of the status, in the CLI, its JSON and gRPC's `ReoptimizeResponse`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Optimal => "optimal",
            Status::GapReached => "gap_reached",
            Status::TimeLimit => "time_limit",
            Status::Stalled => "stalled",
        }
    }
}

/// The spelling, then what it means.
impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let meaning = match self {
            Status::Optimal => "proven optimal",
            Status::GapReached => "the gap target was reached",
            Status::TimeLimit => "the time limit came first: the best answer so far",
            Status::Stalled => "the bound converged: the best answer found",
        };
        write!(f, "{} ({meaning})", self.as_str())
    }
}
