//! A better decision for an order whose search ran out of its budget: the exact search again,
//! restricted to two nodes at a time — one the decision already ships from, any other
//! candidate beside it.
//!
//! An order that exhausts the budget usually has multi-unit lines, whose unit splits the search
//! branches over; its best decision may still use one shipment too many, because the node the
//! optimum pairs with an incumbent node is late in every line's "cheapest alone" order. A
//! search over two nodes is tiny and exact, so every pair `{kept, other}` is searched below the
//! incumbent's cost; the cheapest such plan replaces the incumbent. Only orders whose search
//! stopped at its budget come here, so exact decisions are untouched; the answer is still
//! reported as not proven (`benches/gap.rs`, `--recheck`, measures how far it is).

use super::candidates::CandidateSet;
use super::promise::Shipper;
use super::search::{Search, SearchResult, Take};

/// Search nodes one pair's search may visit.
const PAIR_BUDGET: u64 = 20_000;
/// Candidates tried beside each node of the incumbent: those holding the most of the order's
/// lines, nearest first among equals.
const MAX_OTHERS: usize = 64;

/// The buffers of the two-node searches (one per router).
#[derive(Default)]
pub struct Neighbours {
    search: Search,
    sub: CandidateSet,
    cancel: crate::cancel::Cancel,
}

impl Neighbours {
    /// Stops the searches once `cancel` is cancelled (as the router's own search).
    pub fn set_cancel(&mut self, cancel: crate::cancel::Cancel) {
        self.search.set_cancel(cancel.clone());
        self.cancel = cancel;
    }

    /// Improves `best` (a search over `set` under `ship` that stopped at its budget) in place
    /// with the cheapest plan a two-node search finds below its cost.
    pub(super) fn improve(
        &mut self,
        set: &CandidateSet,
        ship: &Shipper<'_>,
        best: &mut SearchResult,
    ) {
        let mut kept: Vec<usize> = Vec::new();
        for t in best.assignment.iter().filter(|t| t.units > 0) {
            if !kept.contains(&(t.candidate as usize)) {
                kept.push(t.candidate as usize);
            }
        }
        let others = self.partners(set);
        for (i, &k) in kept.iter().enumerate() {
            for &other in &others {
                // A pair of two kept nodes is searched once.
                if other == k || kept[..i].contains(&other) {
                    continue;
                }
                if self.cancel.is_cancelled() {
                    return;
                }
                let pair = [k.min(other), k.max(other)];
                set.restricted(&pair, &mut self.sub);
                let policy = ship.snapshot.policy();
                let found = self
                    .search
                    .run(&self.sub, ship, policy, PAIR_BUDGET, best.cost);
                if found.found && found.cost < best.cost {
                    best.cost = found.cost;
                    best.assignment = found
                        .assignment
                        .iter()
                        .map(|t| Take {
                            candidate: pair[t.candidate as usize] as u32,
                            ..*t
                        })
                        .collect();
                    best.found = true;
                }
            }
        }
    }

    /// The candidates most worth pairing: those holding the most lines, nearest first.
    fn partners(&self, set: &CandidateSet) -> Vec<usize> {
        let mut cover = vec![0u32; set.candidates.len()];
        for line in &set.lines {
            for h in &line.holders {
                cover[h.candidate as usize] += 1;
            }
        }
        let mut all: Vec<usize> = (0..set.candidates.len()).collect();
        all.sort_by(|&a, &b| {
            cover[b]
                .cmp(&cover[a])
                .then(
                    set.candidates[a]
                        .chord2
                        .total_cmp(&set.candidates[b].chord2),
                )
                .then(a.cmp(&b))
        });
        all.truncate(MAX_OTHERS);
        all
    }
}
