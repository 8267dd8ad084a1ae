//! The exact search under the date rules of one order.
//!
//! Lateness is a price on the order's latest delivery, `late_penalty_per_day × max(0, promise −
//! deliver_by)`, which no single shipment owns, and each shipment's service decides its
//! delivery. With priced lateness the order is searched twice at most (a third time only when
//! the budget runs out), not once per deadline:
//!
//! 1. without a deadline, which is a lower bound; its allocation with services and lateness
//!    chosen together ([`Shipper::priced_late`]) is the answer when it costs no more (the
//!    order is on time, or nothing faster pays);
//! 2. else once with lateness priced, below that cost: while it branches each shipment is
//!    charged, for every deadline D, the least its rate can be on time by D at any weight it
//!    may still reach, and the order the cheapest over D of their sum plus D's lateness (the
//!    search's `Curve`s) — a bound that only grows as units are added; at a leaf the services
//!    are chosen exactly. The plan is quoted under the D that reached the leaf's cost.
//!
//! 3. only if that search ran out of its budget (its bound is weaker than a search under one
//!    deadline): once more under the hard deadline `deliver_by`, as another incumbent — a
//!    search that cannot prove its answer still finds the on-time one (`benches/gap.rs`) —
//!    and then two nodes at a time around the best, lateness priced (`neighbours.rs`).
//!
//! A hard `deliver_by` is one search with D = `deliver_by`; an order without one, one search
//! without a deadline; either, when it runs out of budget, is followed by two-node searches
//! around its answer (`neighbours.rs`).

use super::candidates::CandidateSet;
use super::cost::{Plan, Terms, billable_kg};
use super::neighbours::Neighbours;
use super::promise::{NO_FLOOR, Shipper};
use super::search::{Search, SearchResult, Take};
use crate::model::{Day, NodeId, Order, SkuId};
use crate::snapshot::Snapshot;

const EPS: f64 = 1e-9;

/// The cheapest allocation found, and the deadline its shipments' services were chosen under.
pub(super) struct Searched {
    pub result: SearchResult,
    pub deadline: Option<Day>,
}

/// One shipment of an assignment: candidate, billable kg, handling floor, inbound units.
struct Parcel {
    candidate: usize,
    kg: u32,
    floor: Day,
    inbound: u32,
}

/// One order's search under its date rules: the router's search and candidates, and its budget
/// (borrowed from the `Router` for the call).
pub(super) struct Dated<'r> {
    pub search: &'r mut Search,
    pub candidates: &'r CandidateSet,
    pub budget: u64,
    /// Two-node searches for an order whose search ran out of budget (`neighbours.rs`).
    pub neighbours: &'r mut Neighbours,
}

impl Dated<'_> {
    /// The exact search of a ship order (candidates built) under its date rules.
    pub(super) fn search_dated(&mut self, snapshot: &Snapshot, order: &Order) -> Searched {
        let policy = snapshot.policy();
        let dated_by = order.deliver_by.filter(|_| order.created.is_some());
        let shipper = |deadline| Shipper::for_order(snapshot, order, deadline);
        let (by, penalty) = match (dated_by, policy.late_penalty_per_day) {
            (Some(by), Some(penalty)) => (by, penalty),
            (hard, _) => {
                let ship = shipper(hard);
                let mut result = self.run(&ship, f64::INFINITY, self.budget);
                if !result.exact {
                    self.neighbours.improve(self.candidates, &ship, &mut result);
                }
                return Searched {
                    result,
                    deadline: hard,
                };
            }
        };
        let late = shipper(None).with_lateness(by, penalty);
        // Without a deadline: a lower bound, and often the answer (on time, or nothing faster
        // pays).
        let first = self.run(&shipper(None), f64::INFINITY, self.budget);
        let (mut visited, mut exact) = (first.nodes_visited, first.exact);
        let (extra, deadline) = self.late_extra(&late, &first.assignment);
        let mut best = Searched {
            result: SearchResult {
                cost: first.cost + extra,
                ..first
            },
            deadline: Some(deadline),
        };
        if best.result.cost <= best.result.lower_bound + EPS {
            return best;
        }
        // Then services and lateness together, below that.
        let budget = self.budget.saturating_sub(visited).max(1);
        let joint = self.run(&late, best.result.cost, budget);
        (visited, exact) = (visited + joint.nodes_visited, exact && joint.exact);
        let joint_exact = joint.exact;
        // Both bounds hold for the order's cost with lateness: the first search's (cheapest
        // rates, no lateness) from below, the joint search's as its own.
        let lower_bound = best.result.lower_bound.max(joint.lower_bound);
        if joint.found {
            let (_, deadline) = self.late_extra(&late, &joint.assignment);
            best = Searched {
                result: joint,
                deadline: Some(deadline),
            };
        }
        if !joint_exact {
            // Out of budget with lateness priced (its bound is weaker): everything on time by
            // `deliver_by`, searched with costs exact under that deadline, is another incumbent.
            let on_time = self.run(&shipper(Some(by)), best.result.cost, self.budget);
            visited += on_time.nodes_visited;
            if on_time.found {
                best = Searched {
                    result: on_time,
                    deadline: Some(by),
                };
            }
            self.around(&late, &mut best);
        }
        best.result.exact = exact;
        best.result.found = true;
        best.result.nodes_visited = visited;
        best.result.lower_bound = if exact {
            best.result.cost
        } else {
            lower_bound.min(best.result.cost)
        };
        best
    }

    /// Two-node searches with lateness priced around `best` (`neighbours.rs`); a cheaper plan
    /// found replaces it, quoted under the deadline its shipments reach.
    fn around(&mut self, late: &Shipper<'_>, best: &mut Searched) {
        let mut around = SearchResult {
            assignment: best.result.assignment.clone(),
            cost: best.result.cost,
            found: false,
            ..Default::default()
        };
        self.neighbours.improve(self.candidates, late, &mut around);
        if around.found {
            let (_, deadline) = self.late_extra(late, &around.assignment);
            best.result.assignment = around.assignment;
            best.result.cost = around.cost;
            best.deadline = Some(deadline);
        }
    }

    /// What an assignment's shipments cost beyond their cheapest rates once their services are
    /// chosen with lateness priced, and the deadline under which each is quoted that service.
    fn late_extra(&self, late: &Shipper<'_>, assignment: &[Take]) -> (f64, Day) {
        let set = self.candidates;
        let parcels = parcels_of(set, assignment);
        let each = || {
            parcels
                .iter()
                .map(|p| (&set.candidates[p.candidate], p.kg, p.floor))
        };
        let cheapest: f64 = each().map(|(c, kg, floor)| late.exact(c, kg, floor)).sum();
        let (priced, deadline) = late.priced_late(each());
        (priced - cheapest, deadline)
    }

    fn run(&mut self, shipper: &Shipper<'_>, upper: f64, budget: u64) -> SearchResult {
        self.search.run(
            self.candidates,
            shipper,
            shipper.snapshot.policy(),
            budget,
            upper,
        )
    }

    /// The plan of an assignment: shipments in order of first use by the order's lines, each
    /// with the service it gets under `deadline` and its inbound supply.
    pub(super) fn plan_from(
        &self,
        order: &Order,
        searched: &Searched,
        snapshot: &Snapshot,
    ) -> Plan {
        let set = self.candidates;
        let assignment = &searched.result.assignment;
        let mut shipments: Vec<(NodeId, Vec<(SkuId, u32)>)> = Vec::new();
        let mut candidates: Vec<usize> = Vec::new();
        for (li, line) in order.lines.iter().enumerate() {
            for t in assignment
                .iter()
                .filter(|t| t.line as usize == li && t.units > 0)
            {
                let c = t.candidate as usize;
                match candidates.iter().position(|&x| x == c) {
                    Some(i) => shipments[i].1.push((line.sku, t.units)),
                    None => {
                        candidates.push(c);
                        shipments.push((set.candidates[c].node, vec![(line.sku, t.units)]));
                    }
                }
            }
        }
        let shipper = Shipper::for_order(snapshot, order, searched.deadline);
        let parcels = parcels_of(set, assignment);
        let terms = candidates
            .iter()
            .map(|&c| {
                let p = parcels.iter().find(|p| p.candidate == c);
                let (kg, floor, inbound) =
                    p.map_or((1, NO_FLOOR, 0), |p| (p.kg, p.floor, p.inbound));
                let cand = &set.candidates[c];
                Terms {
                    service: shipper
                        .quote(cand, kg, floor)
                        .or_else(|| shipper.undeadlined().quote(cand, kg, floor))
                        .map_or(order.service, |q| q.service),
                    floor,
                    inbound_units: inbound,
                }
            })
            .collect();
        Plan { shipments, terms }
    }
}

/// The shipments an assignment makes, with their weight, floor and inbound units.
fn parcels_of(set: &CandidateSet, assignment: &[Take]) -> Vec<Parcel> {
    let mut parcels: Vec<(usize, f64, Day, u32)> = Vec::new();
    for t in assignment.iter().filter(|t| t.units > 0) {
        let line = &set.lines[t.line as usize];
        let c = t.candidate as usize;
        let Some(holder) = line.holders.iter().find(|h| h.candidate as usize == c) else {
            continue;
        };
        let floor = line.floor_of(holder, t.units);
        let inbound = t.units.saturating_sub(holder.stock);
        let weight = line.unit_weight * f64::from(t.units);
        match parcels.iter_mut().find(|p| p.0 == c) {
            Some(p) => {
                p.1 += weight;
                p.2 = p.2.max(floor);
                p.3 += inbound;
            }
            None => parcels.push((c, weight, floor, inbound)),
        }
    }
    parcels
        .into_iter()
        .map(|(candidate, w, floor, inbound)| Parcel {
            candidate,
            kg: billable_kg(w),
            floor,
            inbound,
        })
        .collect()
}
