//! One what-if study: the base network and each variant applied to it ([`Study::prepare`]),
//! then every one replayed side by side on the same orders, one variant per rayon task, with
//! progress over all of them ([`Study::run`]). `fulfil simulate` and `Planning.Simulate` are
//! adapters of it: they read their inputs, and write or stream what comes back.

use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;

use super::replay::{Replay, ReplayError, Replayed, replay};
use super::{ChangeError, Rejections, ReplayPolicy, Variant};
use crate::cancel::Cancel;
use crate::model::Order;
use crate::scenario::Receipt;
use crate::snapshot::{BuildError, Snapshot};

/// One network of a study: the base (named `base`) or a variant applied to it.
pub struct Network {
    pub name: String,
    pub description: Option<String>,
    pub snapshot: Snapshot,
    /// How its stores behave (none for the base).
    pub rejections: Rejections,
}

/// The base network and its variants, and what each replays.
pub struct Study {
    /// The base first, then the variants in the order given.
    pub networks: Vec<Network>,
    pub orders: Vec<Order>,
    /// Stock arriving over time, sorted by time and resolved against the base.
    pub receipts: Vec<Receipt>,
    pub policy: ReplayPolicy,
    /// More policies each network is replayed with, beside `policy`, by label (e.g.
    /// `optimal` and `hindsight`): their replays are named `NETWORK · LABEL`.
    pub also: Vec<(String, ReplayPolicy)>,
    /// Keep every decision of every replay (for `--diff-csv`); otherwise only KPIs are kept.
    pub keep_decisions: bool,
}

/// A variant that could not be applied; `index` is its place among the variants given.
#[derive(Debug, thiserror::Error)]
pub enum StudyError {
    #[error("{error}")]
    Change { index: usize, error: ChangeError },
    #[error("the changed network is invalid: {error}")]
    Invalid { index: usize, error: BuildError },
}

impl StudyError {
    /// The failing variant's place among the variants given.
    pub fn index(&self) -> usize {
        match self {
            StudyError::Change { index, .. } | StudyError::Invalid { index, .. } => *index,
        }
    }
}

/// A replay that failed, with the network it was replaying.
#[derive(Debug, thiserror::Error)]
#[error("variant `{network}`: {error}")]
pub struct StudyRunError {
    pub network: String,
    #[source]
    pub error: ReplayError,
}

impl Study {
    /// The base and every variant applied to it, each built as version `version` (a variant
    /// that adds nodes keeps the base's ids first, so the orders resolve the same way on all).
    /// A variant that cannot be applied fails the whole study before anything runs.
    pub fn prepare(
        base: Snapshot,
        variants: &[Variant],
        version: u64,
        orders: Vec<Order>,
        receipts: Vec<Receipt>,
        policy: ReplayPolicy,
    ) -> Result<Study, StudyError> {
        let data = base.to_network_data();
        let mut networks = Vec::with_capacity(variants.len() + 1);
        networks.push(Network {
            name: "base".to_owned(),
            description: None,
            snapshot: base,
            rejections: Rejections::default(),
        });
        for (index, v) in variants.iter().enumerate() {
            let change = |error| StudyError::Change { index, error };
            let changed = v.apply(&data).map_err(change)?;
            let snapshot = Snapshot::build(changed, version)
                .map_err(|error| StudyError::Invalid { index, error })?;
            networks.push(Network {
                name: v.name.clone(),
                description: v.description().map(str::to_owned),
                snapshot,
                rejections: v.rejections().map_err(change)?,
            });
        }
        // Sorted once into replay order: every replay then reads them in place.
        let orders = match super::replay::in_replay_order(&orders) {
            std::borrow::Cow::Owned(sorted) => sorted,
            std::borrow::Cow::Borrowed(_) => orders,
        };
        Ok(Study {
            networks,
            orders,
            receipts,
            policy,
            also: Vec::new(),
            keep_decisions: false,
        })
    }

    /// Orders to decide over the whole study (every network replays every order).
    pub fn total(&self) -> u64 {
        (self.orders.len() * self.networks.len() * (1 + self.also.len())) as u64
    }

    /// Each network's description (none for the base), in order.
    pub fn descriptions(&self) -> Vec<Option<String>> {
        self.networks
            .iter()
            .flat_map(|n| {
                std::iter::once(n.description.clone()).chain(self.also.iter().map(|(l, _)| {
                    Some(match &n.description {
                        Some(d) => format!("{d} ({l})"),
                        None => format!("the {l} policy"),
                    })
                }))
            })
            .collect()
    }

    /// Replays every network, in parallel; `progress(decided)` is told the orders decided so far
    /// over all of them. Stops at `cancel`'s next check.
    pub fn run(
        &self,
        cancel: &Cancel,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Vec<Replayed>, StudyRunError> {
        // Every network with every policy: (network, policy label, policy).
        let runs: Vec<(&Network, Option<&str>, &ReplayPolicy)> = self
            .networks
            .iter()
            .flat_map(|n| {
                std::iter::once((n, None, &self.policy))
                    .chain(self.also.iter().map(move |(l, p)| (n, Some(l.as_str()), p)))
            })
            .collect();
        let done: Vec<AtomicUsize> = runs.iter().map(|_| AtomicUsize::new(0)).collect();
        runs.par_iter()
            .enumerate()
            .map(|(i, &(network, label, policy))| {
                let each = |n: usize| {
                    done[i].store(n, Ordering::Relaxed);
                    progress(done.iter().map(|d| d.load(Ordering::Relaxed) as u64).sum());
                };
                let name = match label {
                    None => network.name.clone(),
                    Some(l) => format!("{} · {l}", network.name),
                };
                let how = Replay {
                    receipts: &self.receipts,
                    rejections: &network.rejections,
                    cancel,
                    progress: &each,
                    keep_decisions: self.keep_decisions,
                    ..Replay::new(policy)
                };
                let mut replayed =
                    replay(&network.snapshot, &self.orders, &how).map_err(|error| {
                        StudyRunError {
                            network: name.clone(),
                            error,
                        }
                    })?;
                replayed.name = name;
                Ok(replayed)
            })
            .collect()
    }
}
