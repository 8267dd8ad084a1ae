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
use super::cost::billable_kg;
use super::promise::{NO_FLOOR, Shipper};
use super::search::{Search, SearchResult, Take};

/// Search nodes one pair's search may visit.
const PAIR_BUDGET: u64 = 20_000;
/// Candidates tried beside each node of the incumbent: those holding the most of the order's
/// lines, nearest first among equals.
const MAX_OTHERS: usize = 64;
/// And each line's holders that ship it alone cheapest per unit.
const CHEAPEST_PER_LINE: usize = 8;
/// Passes at most (each around the pair the last one moved to).
const MAX_PASSES: usize = 3;

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
        let others = self.partners(set, ship);
        // A pass that moved the plan to a new pair is followed by one around that pair.
        for _ in 0..MAX_PASSES {
            let before = best.cost;
            self.pass(set, ship, &others, best);
            if best.cost >= before || self.cancel.is_cancelled() {
                break;
            }
        }
    }

    /// Each node `best` ships from, beside each of `others`: the cheapest plan below its cost.
    fn pass(
        &mut self,
        set: &CandidateSet,
        ship: &Shipper<'_>,
        others: &[usize],
        best: &mut SearchResult,
    ) {
        let mut kept: Vec<usize> = Vec::new();
        for t in best.assignment.iter().filter(|t| t.units > 0) {
            if !kept.contains(&(t.candidate as usize)) {
                kept.push(t.candidate as usize);
            }
        }
        let policy = ship.snapshot.policy();
        for (i, &k) in kept.iter().enumerate() {
            for &other in others {
                // A pair of two kept nodes is searched once.
                if other == k || kept[..i].contains(&other) {
                    continue;
                }
                if self.cancel.is_cancelled() {
                    return;
                }
                let pair = [k.min(other), k.max(other)];
                set.restricted(&pair, &mut self.sub);
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

    /// The candidates most worth pairing: those holding the most lines, nearest first, and
    /// each line's holders that ship it alone cheapest per unit.
    fn partners(&self, set: &CandidateSet, ship: &Shipper<'_>) -> Vec<usize> {
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
        // And each line's cheapest holders for the line alone: a partner may hold only the
        // lines it is best for.
        for line in &set.lines {
            let mut alone: Vec<(f64, usize)> = line
                .holders
                .iter()
                .map(|h| {
                    let c = &set.candidates[h.candidate as usize];
                    let units = h.ats.min(line.qty);
                    let kg = billable_kg(line.unit_weight * f64::from(units));
                    let cost = c.cost_per_shipment
                        + c.cost_per_unit * f64::from(units)
                        + ship.bound(c, kg, NO_FLOOR);
                    // Per unit shipped: a holder of fewer units ships less of the line.
                    (cost / f64::from(units), h.candidate as usize)
                })
                .collect();
            alone.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            for (_, c) in alone.into_iter().take(CHEAPEST_PER_LINE) {
                if !all.contains(&c) {
                    all.push(c);
                }
            }
        }
        all
    }
}
