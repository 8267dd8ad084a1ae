//! The exact search under the date rules of one order.
//!
//! Lateness is a price on the order's latest delivery, `late_penalty_per_day × max(0, promise −
//! deliver_by)`, which no single shipment owns. For a fixed deadline D, though, every shipment
//! must simply arrive by D, each choosing its own cheapest on-time service: a search like the
//! one without dates. So the cheapest decision with priced lateness is the cheapest over the
//! deadlines worth trying (`deliver_by` and every later delivery day a shipment could get) of
//! "the cheapest decision on time by D" plus D's lateness price. The deadlines are tried from
//! the earliest; the search without a deadline gives a lower bound on the cost before lateness,
//! so once that bound plus D's price reaches the best decision found, no later D can win.
//!
//! A hard `deliver_by` is one search with D = `deliver_by`; an order without one, one search
//! without a deadline.

use super::Router;
use super::candidates::CandidateSet;
use super::cost::{Plan, Terms, billable_kg};
use super::promise::{NO_FLOOR, Shipper, possible_deliveries};
use super::search::{SearchResult, Take};
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

impl Router {
    /// The exact search of a ship order (candidates built) under its date rules.
    pub(super) fn search_dated(&mut self, snapshot: &Snapshot, order: &Order) -> Searched {
        let policy = snapshot.policy();
        let shipper = |deadline| Shipper::for_order(snapshot, order, deadline);
        let dated_by = order.deliver_by.filter(|_| order.created.is_some());
        let (by, penalty) = match (dated_by, policy.late_penalty_per_day) {
            (Some(by), Some(penalty)) => (by, penalty),
            (hard, _) => {
                let result = self.run(&shipper(hard), f64::INFINITY, self.budget);
                return Searched {
                    result,
                    deadline: hard,
                };
            }
        };
        let first = self.run(&shipper(None), f64::INFINITY, self.budget);
        let base_bound = first.lower_bound;
        let mut exact = first.exact;
        let mut visited = first.nodes_visited;
        let late_cost = |set: &CandidateSet, r: &SearchResult, d: Option<Day>| {
            let promise = promise_of(set, &shipper(d), &r.assignment);
            penalty * f64::from(promise.map_or(0, |p| (p - by).max(0)) as u32)
        };
        let mut best_cost = first.cost + late_cost(&self.candidates, &first, None);
        let mut best = Searched {
            result: first,
            deadline: None,
        };
        for d in self.deadlines(snapshot, order, by) {
            let price = penalty * f64::from((d - by) as u32);
            if base_bound + price >= best_cost - EPS {
                break;
            }
            let budget = self.budget.saturating_sub(visited).max(1);
            let r = self.run(&shipper(Some(d)), best_cost - price, budget);
            visited += r.nodes_visited;
            exact &= r.exact;
            if !r.found {
                continue;
            }
            let cost = r.cost + late_cost(&self.candidates, &r, Some(d));
            if cost < best_cost - EPS {
                best_cost = cost;
                best = Searched {
                    result: r,
                    deadline: Some(d),
                };
            }
        }
        best.result.cost = best_cost;
        best.result.exact = exact;
        best.result.found = true;
        best.result.nodes_visited = visited;
        best.result.lower_bound = if exact {
            best_cost
        } else {
            base_bound.min(best_cost)
        };
        best
    }

    fn run(&mut self, shipper: &Shipper<'_>, upper: f64, budget: u64) -> SearchResult {
        self.search.run(
            &self.candidates,
            shipper,
            shipper.snapshot.policy(),
            budget,
            upper,
        )
    }

    /// `deliver_by`, then every later day a shipment of the order could be delivered on.
    fn deadlines(&self, snapshot: &Snapshot, order: &Order, by: Day) -> Vec<Day> {
        let floors: Vec<Day> = self
            .candidates
            .lines
            .iter()
            .flat_map(|l| l.tiers.iter().map(|t| t.day))
            .collect();
        let mut days = possible_deliveries(
            snapshot,
            order.service.shipment_services(),
            &self.candidates.candidates,
            &floors,
        );
        days.retain(|&d| d > by);
        days.insert(0, by);
        days
    }

    /// The plan of an assignment: shipments in order of first use by the order's lines, each
    /// with the service it gets under `deadline` and its inbound supply.
    pub(super) fn plan_from(
        &self,
        order: &Order,
        searched: &Searched,
        snapshot: &Snapshot,
    ) -> Plan {
        let set = &self.candidates;
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

/// The latest delivery day of an assignment's shipments under `shipper`'s deadline.
fn promise_of(set: &CandidateSet, shipper: &Shipper<'_>, assignment: &[Take]) -> Option<Day> {
    parcels_of(set, assignment)
        .iter()
        .filter_map(|p| {
            shipper
                .quote(&set.candidates[p.candidate], p.kg, p.floor)
                .and_then(|q| q.delivery)
        })
        .max()
}
