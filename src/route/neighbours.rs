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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{Untouched, price};

    /// Hand-worked: A holds 2 P, B holds 2 Q, C one of each, all 50 km from the customer (zone
    /// 1: 5 + 0.5/kg; 2 per shipment, nothing per unit, split 1). An incumbent of three
    /// shipments (A: 1 P, B: 1 Q, C: 1 P + 1 Q) costs 3 × (2 + 5.5) + 2 = 24.5; the pair
    /// {A, B} ships it in two, A: 2 P and B: 2 Q, for 2 × (2 + 5.5) + 1 = 16.
    #[test]
    fn a_worse_incumbent_gives_way_to_the_two_node_optimum() {
        let dir = tempfile::tempdir().expect("temp dir");
        let files = [
            (
                "nodes.csv",
                "node_id,kind,lat,lon,capacity_units,cost_per_shipment,cost_per_unit\n\
                 A,dc,0.45,0,,2,0\nB,dc,-0.45,0,,2,0\nC,dc,0,0.45,,2,0\n",
            ),
            (
                "inventory.csv",
                "node_id,sku,on_hand\nA,P,2\nB,Q,2\nC,P,1\nC,Q,1\n",
            ),
            ("skus.csv", "sku,weight_kg,oversize\nP,0.5,0\nQ,0.5,0\n"),
            ("zones.csv", "zone,max_km\n1,200\n"),
            (
                "rates.csv",
                "carrier,service,zone,base,per_kg,transit_days\nSolo,ground,1,5,0.5,1\n",
            ),
            ("policy.toml", "split_penalty = 1.0\n"),
            (
                "orders.csv",
                "order_id,lat,lon,sku,qty\no1,0,0,P,2\no1,0,0,Q,2\n",
            ),
        ];
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("writes");
        }
        let snapshot = crate::scenario::load_snapshot(dir.path()).expect("loads");
        let orders =
            crate::scenario::read_orders(&dir.path().join("orders.csv"), &snapshot).expect("reads");
        let order = &orders[0];
        let mut set = CandidateSet::default();
        set.build(&snapshot, &Untouched, order, 0.0, 0.0);
        let at = |id: &str| {
            let node = snapshot.node_id(id).expect("node");
            set.candidates
                .iter()
                .position(|c| c.node == node)
                .expect("candidate") as u32
        };
        let take = |line, node, units| Take {
            line,
            candidate: at(node),
            units,
        };
        let mut best = SearchResult {
            assignment: vec![
                take(0, "A", 1),
                take(0, "C", 1),
                take(1, "B", 1),
                take(1, "C", 1),
            ],
            cost: 24.5,
            ..Default::default()
        };
        let ship = Shipper::for_order(&snapshot, order, None);
        Neighbours::default().improve(&set, &ship, &mut best);
        assert!((best.cost - 16.0).abs() < 1e-9, "cost {}", best.cost);
        let mut chosen: Vec<(u32, u32, u32)> = best
            .assignment
            .iter()
            .filter(|t| t.units > 0)
            .map(|t| (t.line, t.candidate, t.units))
            .collect();
        chosen.sort_unstable();
        assert_eq!(chosen, vec![(0, at("A"), 2), (1, at("B"), 2)]);
        // The plan it stands for prices at that cost.
        let plan = crate::route::Plan {
            shipments: vec![
                (
                    snapshot.node_id("A").expect("A"),
                    vec![(order.lines[0].sku, 2)],
                ),
                (
                    snapshot.node_id("B").expect("B"),
                    vec![(order.lines[1].sku, 2)],
                ),
            ],
            terms: Vec::new(),
        };
        let priced = price(&snapshot, order, &plan).expect("prices");
        assert!(
            (priced.cost.total - 16.0).abs() < 1e-9,
            "{}",
            priced.cost.total
        );
    }
}
