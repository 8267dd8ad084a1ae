//! The best answer so far and the best bound so far — the two ends of the gap — and the progress
//! display that shows them.

use std::time::Instant;

use super::solution::Solution;
use super::{Phase, Progress, Status};

/// The incumbent (the cheapest feasible answer found) beside the best proven lower bound.
pub(crate) struct Incumbent<'p> {
    best: Solution,
    progress: Progress,
    t0: Instant,
    report: &'p (dyn Fn(&Progress) + Sync),
}

impl<'p> Incumbent<'p> {
    /// Starts from a first feasible answer (the sequential baseline), with no bound yet.
    pub fn new(
        first: Solution,
        t0: Instant,
        report: &'p (dyn Fn(&Progress) + Sync),
    ) -> Incumbent<'p> {
        let progress = Progress {
            incumbent: first.total,
            elapsed: t0.elapsed(),
            ..Progress::starting()
        };
        Incumbent {
            best: first,
            progress,
            t0,
            report,
        }
    }

    pub fn best(&self) -> &Solution {
        &self.best
    }

    /// The incumbent's cost.
    pub fn cost(&self) -> f64 {
        self.progress.incumbent
    }

    /// The best lower bound proven so far (−∞ before the first).
    pub fn bound(&self) -> f64 {
        self.progress.bound
    }

    /// Raises the bound to `bound` if that is higher; says whether it was (by more than 1e-9,
    /// relative).
    pub fn raise_bound(&mut self, bound: f64) -> bool {
        let raised = bound > self.progress.bound + 1e-9 * bound.abs().max(1.0);
        if raised {
            self.progress.bound = bound;
        }
        raised
    }

    /// Raises the bound to `bound` if that is higher at all (a bound a solver proved).
    pub fn proven_bound(&mut self, bound: f64) {
        self.progress.bound = self.progress.bound.max(bound);
    }

    /// Keeps `candidate` if it is cheaper than the incumbent.
    pub fn offer(&mut self, candidate: Solution) {
        if candidate.total < self.best.total - 1e-9 {
            self.best = candidate;
            self.progress.incumbent = self.best.total;
        }
    }

    /// Changes the incumbent in place (local improvement can only lower its cost).
    pub fn improve_with<E>(
        &mut self,
        f: impl FnOnce(&mut Solution) -> Result<(), E>,
    ) -> Result<(), E> {
        let out = f(&mut self.best);
        self.progress.incumbent = self.best.total;
        out
    }

    /// `Some` when the gap is closed: proven optimal, or within `target`.
    pub fn closed(&self, target: f64) -> Option<Status> {
        let state = &self.progress;
        let g = state.gap()?;
        if state.incumbent - state.bound <= 1e-6 * state.incumbent.abs().max(1.0) {
            Some(Status::Optimal)
        } else if g <= target {
            Some(Status::GapReached)
        } else {
            None
        }
    }

    /// Tells the progress display where the run is.
    pub fn report(&mut self, phase: Phase, round: usize) {
        self.progress.phase = phase;
        self.progress.round = round;
        self.progress.elapsed = self.t0.elapsed();
        (self.report)(&self.progress);
    }

    /// The best answer, and the bound proven for it (never above its cost).
    pub fn into_parts(self) -> (Solution, f64) {
        let bound = self.progress.bound.min(self.best.total);
        (self.best, bound)
    }
}
