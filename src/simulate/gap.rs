//! The share of the myopic→hindsight gap a policy closes, and the replays that measure it.

use std::time::Duration;

use super::replay::{Kpis, ReplayPolicy};
use crate::batch::BatchOptions;
use crate::route::PolicyKind;

/// The name of the hindsight replay that honours receipt times.
pub const BETWEEN_RECEIPTS: &str = "hindsight between receipts";

/// The replays a hindsight comparison adds beside `policy`: `optimal` (the myopic reference)
/// unless it is the policy, the whole replay as one batch (`hindsight`: every order and receipt
/// known, each unit used only after it arrived; its cost and its proven bound enclose the
/// hindsight optimum) allowed `time_limit`, and, when stock arrives during the replay
/// (`receipts`), the batches between receipts (`hindsight between receipts`: a plan that does
/// not look past the next arrival, a second, weaker upper estimate), each allowed
/// `time_limit`.
pub fn hindsight_runs(
    policy: &ReplayPolicy,
    time_limit: Duration,
    receipts: bool,
) -> Vec<(String, ReplayPolicy)> {
    let mut also = Vec::new();
    if !matches!(policy, ReplayPolicy::Route(PolicyKind::Optimal)) {
        also.push((
            "optimal".to_owned(),
            ReplayPolicy::Route(PolicyKind::Optimal),
        ));
    }
    let options = BatchOptions {
        time_limit,
        ..BatchOptions::default()
    };
    if receipts {
        also.push((
            BETWEEN_RECEIPTS.to_owned(),
            ReplayPolicy::hindsight_between_receipts(options.clone()),
        ));
    }
    also.push(("hindsight".to_owned(), ReplayPolicy::hindsight(options)));
    also
}

/// Per network replayed with `--hindsight`: the share of the gap between myopic `optimal` and
/// hindsight that the policy closes, `(optimal − policy) / (optimal − hindsight)`, against the
/// hindsight batch's cost and against its proven bound (the true share lies between the two) —
/// and, with receipts, against the hindsight between receipts.
pub struct GapClosed {
    pub network: String,
    pub policy: f64,
    pub optimal: f64,
    pub hindsight: f64,
    pub bound: Option<f64>,
    /// The cost of the hindsight between receipts, when it was replayed.
    pub between_receipts: Option<f64>,
}

impl GapClosed {
    /// The share closed against `hindsight` (a cost or a bound); `None` without a gap.
    pub fn share(&self, hindsight: f64) -> Option<f64> {
        let gap = self.optimal - hindsight;
        (gap > 1e-9).then(|| (self.optimal - self.policy) / gap)
    }

    /// One per network of `results` that has a `NETWORK · hindsight` replay.
    pub fn find(results: &[(String, Kpis)]) -> Vec<GapClosed> {
        let cost = |name: &str| {
            results
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, k)| (k.cost.total, k.lower_bound))
        };
        let mut out = Vec::new();
        for (name, k) in results {
            let Some((hindsight, bound)) = cost(&format!("{name} · hindsight")) else {
                continue;
            };
            let optimal = cost(&format!("{name} · optimal")).map_or(k.cost.total, |c| c.0);
            let between_receipts = cost(&format!("{name} · {BETWEEN_RECEIPTS}")).map(|c| c.0);
            out.push(GapClosed {
                network: name.clone(),
                policy: k.cost.total,
                optimal,
                hindsight,
                bound,
                between_receipts,
            });
        }
        out
    }
}

impl std::fmt::Display for GapClosed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let pct = |x: Option<f64>| x.map_or("-".to_owned(), |x| format!("{:.1}%", 100.0 * x));
        write!(
            f,
            "{}: gap closed {} (optimal {:.2}, policy {:.2}, hindsight {:.2}",
            self.network,
            pct(self.share(self.hindsight)),
            self.optimal,
            self.policy,
            self.hindsight
        )?;
        if let Some(b) = self.bound {
            write!(f, "; against its bound {:.2}: {}", b, pct(self.share(b)))?;
        }
        if let Some(w) = self.between_receipts {
            write!(
                f,
                "; against hindsight between receipts {:.2}: {}",
                w,
                pct(self.share(w))
            )?;
        }
        write!(f, ")")
    }
}

/// Every replay's KPIs as `[{variant, kpis}]`, with `gap_closed` and `gap_closed_vs_bound`
/// where the network was replayed with hindsight (what `simulate --json` writes and the
/// `Simulate` rpc returns).
pub fn kpis_json(results: &[(String, Kpis)]) -> serde_json::Value {
    let gaps = GapClosed::find(results);
    results
        .iter()
        .map(|(n, k)| match gaps.iter().find(|g| &g.network == n) {
            Some(g) => serde_json::json!({
                "variant": n,
                "kpis": k,
                "gap_closed": g.share(g.hindsight),
                "gap_closed_vs_bound": g.bound.and_then(|b| g.share(b)),
                "gap_closed_vs_between_receipts": g.between_receipts.and_then(|w| g.share(w)),
            }),
            None => serde_json::json!({ "variant": n, "kpis": k }),
        })
        .collect()
}
