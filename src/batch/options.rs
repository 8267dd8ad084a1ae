//! How long and how hard a batch run tries.

use std::time::Duration;

use crate::cancel::Cancel;

/// How long and how hard to try.
#[derive(Clone, Debug)]
pub struct BatchOptions {
    /// Wall-clock limit for the whole run (the baseline included). Default 60 s.
    pub time_limit: Duration,
    /// Stop once `(cost − bound) / cost` is at most this. Default 0.0001 (0.01%).
    pub gap_target: f64,
    /// The batch is solved as one exact MIP when that model has at most this many allocation
    /// variables (default 20,000); larger batches use the restricted master only.
    pub exact_max_arcs: usize,
    /// Lagrangian rounds at most (default 400).
    pub max_rounds: usize,
    /// Stops the run between steps and inside its long loops (the joint MIPs stop at their
    /// time limit): a cancelled run answers `RouteError::Cancelled`, never a partial result.
    pub cancel: Cancel,
}

impl Default for BatchOptions {
    fn default() -> Self {
        BatchOptions {
            time_limit: Duration::from_secs(60),
            gap_target: 1e-4,
            exact_max_arcs: 20_000,
            max_rounds: 400,
            cancel: Cancel::never(),
        }
    }
}
