//! Exact branch and bound for one ship order.
//!
//! The search assigns each line's units to candidate nodes (or to the backorder), line by line.
//! At each line it first tries the nodes already shipping something (cheap to add to), then the
//! line's holders sorted by the cost of shipping one unit alone from them; a branch is cut when
//! the exact cost of what is decided so far plus a lower bound for the rest reaches the best
//! decision found. The bound is valid because every part of the cost only grows as units are
//! added (rates are non-decreasing in weight), so the search is exact: it returns a cheapest
//! feasible allocation, unless it runs out of its node budget, which it reports.

use super::candidates::{CandidateSet, LineCandidates};
use super::cost::billable_kg;
use super::promise::{NO_FLOOR, Shipper};
use crate::model::{Day, Policy};

const EPS: f64 = 1e-9;
const CLOSED: u32 = u32::MAX;
/// Holders sorted up front per line; the rest are sorted only if the scan reaches them.
const SORTED_HEAD: usize = 12;
/// Search nodes tried before the greedy incumbent is computed and the search restarted.
const QUICK_BUDGET: u64 = 4000;

/// Units of one line taken from one candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Take {
    /// Index of the line in the candidate set (during the search: its position in search
    /// order).
    pub line: u32,
    /// Index in the candidate set.
    pub candidate: u32,
    pub units: u32,
}

/// A holder of a line, ranked by what shipping one unit alone from it costs.
#[derive(Clone, Copy, Debug)]
struct Ranked {
    alone: f64,
    candidate: u32,
    ats: u32,
}

/// Cheapest alone first; ties by candidate index.
#[inline]
fn by_key(a: &Ranked, b: &Ranked) -> std::cmp::Ordering {
    a.alone
        .total_cmp(&b.alone)
        .then(a.candidate.cmp(&b.candidate))
}

/// The best allocation found.
#[derive(Debug, Default, Clone)]
pub struct SearchResult {
    pub assignment: Vec<Take>,
    pub cost: f64,
    /// A proven lower bound on the cheapest allocation: `cost` itself when `exact`, otherwise
    /// the bound at the root of the search.
    pub lower_bound: f64,
    /// `false` if the node budget ran out before the search space was exhausted.
    pub exact: bool,
    /// `false` if nothing cheaper than the `upper` bound given to the search was found (then
    /// `assignment` is empty and `cost` is that bound).
    pub found: bool,
    pub nodes_visited: u64,
}

/// Reusable search state (one per thread).
#[derive(Default)]
pub struct Search {
    // Per candidate.
    weight: Vec<f64>,
    shipping: Vec<f64>,
    cap: Vec<u32>,
    open_rank: Vec<u32>,
    /// Handling floor of each open candidate's shipment (its latest inbound units).
    floor: Vec<Day>,
    // Per line (in search order).
    order: Vec<usize>,
    /// Per line: its holders, cheapest alone first.
    sorted: Vec<Vec<Ranked>>,
    ats: Vec<u32>,
    /// Per line and candidate: the cost of each unit picked there (handling plus any price).
    unit: Vec<f64>,
    /// Per line and candidate: the index of the candidate in the line's holders.
    hold: Vec<u32>,
    unit_lb: Vec<f64>,
    /// Per line: how much of `sorted` is in order.
    sorted_upto: Vec<usize>,
    suffix_lb: Vec<f64>,
    open_at_line_start: Vec<u32>,
    // Open nodes in opening order.
    open: Vec<u32>,
    stack: Vec<Take>,
    best: Vec<Take>,
    best_cost: f64,
    found: bool,
    visited: u64,
    budget: u64,
    out_of_budget: bool,
}

struct Ctx<'a> {
    set: &'a CandidateSet,
    ship: &'a Shipper<'a>,
    policy: &'a Policy,
    /// Whether any holder has inbound tiers (else every floor is `NO_FLOOR`).
    inbound: bool,
}

impl Search {
    /// Finds a cheapest allocation for the ship order whose candidates are in `set`, if one
    /// is cheaper than `upper` (infinite: always, since backordering everything is feasible).
    ///
    /// Long on purpose: it prepares the per-line tables the recursion reads (search order,
    /// holders ranked cheapest alone, unit costs, lower bounds) in one pass over reused buffers;
    /// this is the hot path of every route call, measured in `benches/latency.rs`.
    pub fn run(
        &mut self,
        set: &CandidateSet,
        ship: &Shipper<'_>,
        policy: &Policy,
        budget: u64,
        upper: f64,
    ) -> SearchResult {
        let nc = set.candidates.len();
        let nl = set.lines.len();
        self.weight.clear();
        self.weight.resize(nc, 0.0);
        self.shipping.clear();
        self.shipping.resize(nc, 0.0);
        self.open_rank.clear();
        self.open_rank.resize(nc, CLOSED);
        self.floor.clear();
        self.floor.resize(nc, NO_FLOOR);
        self.cap.clear();
        self.cap
            .extend(set.candidates.iter().map(|c| c.capacity_left));
        self.ats.clear();
        self.ats.resize(nc * nl, 0);
        self.unit.clear();
        self.unit.resize(nc * nl, 0.0);
        self.hold.clear();
        self.hold.resize(nc * nl, 0);
        self.open.clear();
        self.stack.clear();
        self.best.clear();
        self.visited = 0;
        self.budget = budget;
        self.out_of_budget = false;

        // Search the most constrained lines first, then the heaviest.
        self.order.clear();
        self.order.extend(0..nl);
        self.order.sort_by(|&a, &b| {
            let (la, lb) = (&set.lines[a], &set.lines[b]);
            la.holders
                .len()
                .cmp(&lb.holders.len())
                .then_with(|| {
                    let wa = la.unit_weight * f64::from(la.qty);
                    let wb = lb.unit_weight * f64::from(lb.qty);
                    wb.total_cmp(&wa)
                })
                .then(la.line.cmp(&lb.line))
        });

        let bp = policy.backorder_penalty;
        self.sorted.resize_with(nl, Vec::new);
        self.unit_lb.clear();
        self.sorted_upto.clear();
        self.suffix_lb.clear();
        self.suffix_lb.resize(nl + 1, 0.0);
        for (pos, &li) in self.order.iter().enumerate() {
            let line: &LineCandidates = &set.lines[li];
            let mut lb = bp;
            let sorted = &mut self.sorted[pos];
            sorted.clear();
            for (j, holder) in line.holders.iter().enumerate() {
                let (c, ats) = (holder.candidate, holder.ats);
                let cand = &set.candidates[c as usize];
                let unit = cand.cost_per_unit + line.extra.get(j).copied().unwrap_or(0.0);
                self.ats[pos * nc + c as usize] = ats;
                self.unit[pos * nc + c as usize] = unit;
                self.hold[pos * nc + c as usize] = j as u32;
                let ship = ship.bound(
                    cand,
                    billable_kg(line.unit_weight),
                    line.floor_of(holder, 1),
                );
                lb = lb.min(unit);
                sorted.push(Ranked {
                    alone: cand.cost_per_shipment + unit + ship,
                    candidate: c,
                    ats,
                });
            }
            // Only the cheapest few are usually reached before the bound cuts the scan: sort
            // those now and the rest when a scan first gets there.
            if sorted.len() > SORTED_HEAD {
                sorted.select_nth_unstable_by(SORTED_HEAD, by_key);
                sorted[..SORTED_HEAD].sort_unstable_by(by_key);
                self.sorted_upto.push(SORTED_HEAD);
            } else {
                sorted.sort_unstable_by(by_key);
                self.sorted_upto.push(sorted.len());
            }
            self.unit_lb.push(lb);
        }
        for pos in (0..nl).rev() {
            let li = self.order[pos];
            self.suffix_lb[pos] =
                self.suffix_lb[pos + 1] + self.unit_lb[pos] * f64::from(set.lines[li].qty);
        }
        self.open_at_line_start.clear();
        self.open_at_line_start.resize(nl + 1, 0);

        // Incumbent: everything backordered (always feasible), unless `upper` is lower.
        let all_backordered: f64 = set.lines.iter().map(|l| bp * f64::from(l.qty)).sum();
        self.best_cost = all_backordered.min(upper);
        self.found = all_backordered < upper;
        let inbound = set.lines.iter().any(|l| !l.tiers.is_empty());
        let ctx = Ctx {
            set,
            ship,
            policy,
            inbound,
        };
        let root_bound = if nl > 0 {
            self.suffix_lb[0] + self.extra_lb(&ctx, 0)
        } else {
            all_backordered
        };
        if nl > 0 {
            // Most orders are settled in a few thousand nodes. Those that are not get a greedy
            // incumbent, which makes the bound bite, and the search starts again with the rest
            // of the budget.
            self.budget = budget.min(QUICK_BUDGET);
            self.start_line(&ctx, 0, 0.0);
            if self.out_of_budget && budget > QUICK_BUDGET {
                let spent = self.visited;
                self.seed_incumbent(&ctx);
                self.out_of_budget = false;
                self.visited = 0;
                self.budget = budget - spent;
                self.start_line(&ctx, 0, 0.0);
                self.visited += spent;
            }
        }
        SearchResult {
            assignment: self
                .best
                .iter()
                .map(|t| Take {
                    line: self.order[t.line as usize] as u32,
                    ..*t
                })
                .collect(),
            cost: self.best_cost,
            lower_bound: if self.out_of_budget {
                root_bound.min(self.best_cost)
            } else {
                self.best_cost
            },
            exact: !self.out_of_budget,
            found: self.found,
            nodes_visited: self.visited,
        }
    }

    /// The floor of taking `take` units of the line at `pos` from candidate `c`.
    #[inline]
    fn floor_of(&self, ctx: &Ctx<'_>, pos: usize, c: usize, take: u32) -> Day {
        if !ctx.inbound {
            return NO_FLOOR;
        }
        let nc = ctx.set.candidates.len();
        let line = &ctx.set.lines[self.order[pos]];
        let holder = &line.holders[self.hold[pos * nc + c] as usize];
        line.floor_of(holder, take)
    }

    /// What the open shipments really cost beyond what the search charged them (0 unless a
    /// deadline can make a heavier parcel cheaper; infinite if one has no allowed rate).
    fn leaf_correction(&self, ctx: &Ctx<'_>) -> f64 {
        if !ctx.ship.needs_exact_leaves() {
            return 0.0;
        }
        self.open
            .iter()
            .map(|&c| {
                let c = c as usize;
                let cand = &ctx.set.candidates[c];
                ctx.ship
                    .exact(cand, billable_kg(self.weight[c]), self.floor[c])
                    - self.shipping[c]
            })
            .sum()
    }

    fn start_line(&mut self, ctx: &Ctx<'_>, pos: usize, cost: f64) {
        if pos == ctx.set.lines.len() {
            let cost = cost + self.leaf_correction(ctx);
            if cost < self.best_cost - EPS {
                self.best_cost = cost;
                self.found = true;
                self.best.clear();
                self.best.extend_from_slice(&self.stack);
            }
            return;
        }
        if cost + self.suffix_lb[pos] + self.extra_lb(ctx, pos) >= self.best_cost - EPS {
            return;
        }
        self.open_at_line_start[pos] = self.open.len() as u32;
        let qty = ctx.set.lines[self.order[pos]].qty;
        self.step(ctx, pos, qty, 0, 0, cost);
    }

    /// A good first incumbent makes the bound bite from the start: the cheapest decision that
    /// ships from one node alone, then adds nodes greedily (each time the one that lowers the
    /// cost most) while that helps and `max_shipments` allows. One greedy loop, kept whole so
    /// its running totals stay local.
    fn seed_incumbent(&mut self, ctx: &Ctx<'_>) {
        let nc = ctx.set.candidates.len();
        let bp = ctx.policy.backorder_penalty;
        let max_shipments = ctx.policy.max_shipments as usize;
        let mut remaining: Vec<u32> = self.order.iter().map(|&li| ctx.set.lines[li].qty).collect();
        let mut chosen: Vec<Take> = Vec::new();
        let mut used: Vec<usize> = Vec::new();
        let mut fixed = 0.0; // cost of the shipments chosen so far
        loop {
            if used.len() >= max_shipments {
                break;
            }
            let backorder_now: f64 = remaining.iter().map(|&r| bp * f64::from(r)).sum();
            let split = if used.is_empty() {
                0.0
            } else {
                ctx.policy.split_penalty
            };
            let mut best: Option<(f64, usize)> = None;
            for c in 0..nc {
                if used.contains(&c) {
                    continue;
                }
                let cand = &ctx.set.candidates[c];
                let mut cap = cand.capacity_left;
                let (mut units, mut weight, mut back, mut picking) = (0u32, 0.0, 0.0, 0.0);
                let mut floor = NO_FLOOR;
                for (pos, &rem) in remaining.iter().enumerate() {
                    let take = rem.min(self.ats[pos * nc + c]).min(cap);
                    if take > 0 {
                        floor = floor.max(self.floor_of(ctx, pos, c, take));
                    }
                    cap -= take;
                    units += take;
                    picking += self.unit[pos * nc + c] * f64::from(take);
                    weight += ctx.set.lines[self.order[pos]].unit_weight * f64::from(take);
                    back += bp * f64::from(rem - take);
                }
                if units == 0 {
                    continue;
                }
                let total = fixed
                    + split
                    + cand.cost_per_shipment
                    + picking
                    + ctx.ship.exact(cand, billable_kg(weight), floor)
                    + back;
                if best.is_none_or(|(b, _)| total < b) {
                    best = Some((total, c));
                }
            }
            let Some((total, c)) = best else { break };
            if total >= fixed + backorder_now - EPS {
                break;
            }
            let cand = &ctx.set.candidates[c];
            let mut cap = cand.capacity_left;
            let (mut picking, mut weight) = (0.0, 0.0);
            let mut floor = NO_FLOOR;
            for (pos, rem) in remaining.iter_mut().enumerate() {
                let take = (*rem).min(self.ats[pos * nc + c]).min(cap);
                if take > 0 {
                    floor = floor.max(self.floor_of(ctx, pos, c, take));
                    cap -= take;
                    picking += self.unit[pos * nc + c] * f64::from(take);
                    weight += ctx.set.lines[self.order[pos]].unit_weight * f64::from(take);
                    *rem -= take;
                    chosen.push(Take {
                        line: pos as u32,
                        candidate: c as u32,
                        units: take,
                    });
                }
            }
            fixed += split
                + cand.cost_per_shipment
                + picking
                + ctx.ship.exact(cand, billable_kg(weight), floor);
            used.push(c);
            let total_now = fixed + remaining.iter().map(|&r| bp * f64::from(r)).sum::<f64>();
            if total_now < self.best_cost - EPS {
                self.best_cost = total_now;
                self.found = true;
                self.best.clear();
                self.best.extend_from_slice(&chosen);
            }
            if remaining.iter().all(|&r| r == 0) {
                break;
            }
        }
    }

    /// What the lines from `pos` on must cost beyond `suffix_lb`: some line either makes do with
    /// the open shipments and the backorder, or a new shipment is opened. Every line already
    /// costs at least `unit_lb` a unit; the cheapest way out of that for the line that gains
    /// least is the bound (valid for each line, so the largest one is taken).
    fn extra_lb(&self, ctx: &Ctx<'_>, pos: usize) -> f64 {
        let nc = ctx.set.candidates.len();
        let bp = ctx.policy.backorder_penalty;
        let can_open = self.open.len() < ctx.policy.max_shipments as usize;
        let split = if self.open.is_empty() {
            0.0
        } else {
            ctx.policy.split_penalty
        };
        let mut extra: f64 = 0.0;
        for p in pos..ctx.set.lines.len() {
            let mut per_unit = bp;
            for &c in &self.open {
                if self.ats[p * nc + c as usize] > 0 {
                    per_unit = per_unit.min(self.unit[p * nc + c as usize]);
                }
            }
            let qty = f64::from(ctx.set.lines[self.order[p]].qty);
            let stay = qty * (per_unit - self.unit_lb[p]);
            // A new shipment for this line is one of its holders, opened at no less than the
            // cost of shipping one unit alone from it (the head of `sorted` is the cheapest).
            let opening = match self.sorted[p].first() {
                Some(head) if can_open => split + head.alone - self.unit_lb[p],
                _ => f64::INFINITY,
            };
            extra = extra.max(stay.min(opening));
        }
        extra
    }

    /// Decides the next part of line `pos`, of which `rem` units are still open, choosing among
    /// open nodes from `a_from` and then sorted holders from `b_from`, or backordering the rest.
    ///
    /// Long on purpose: the branch and bound's recursion, whose three branches (an open node, a
    /// new holder, the backorder) share the bound and the undo of each choice; split, the state
    /// would travel through a dozen arguments on the hottest path of the search.
    fn step(
        &mut self,
        ctx: &Ctx<'_>,
        pos: usize,
        rem: u32,
        a_from: usize,
        b_from: usize,
        cost: f64,
    ) {
        self.visited += 1;
        if self.visited > self.budget {
            self.out_of_budget = true;
            return;
        }
        let nc = ctx.set.candidates.len();
        let line = &ctx.set.lines[self.order[pos]];
        let w = line.unit_weight;
        let unit_lb = self.unit_lb[pos];
        let rest_lb = self.suffix_lb[pos + 1];
        let open_start = self.open_at_line_start[pos] as usize;
        let max_shipments = ctx.policy.max_shipments as usize;

        // Phase A: nodes that were already shipping when this line started.
        for a in a_from..open_start {
            let c = self.open[a] as usize;
            let ats = self.ats[pos * nc + c];
            let most = rem.min(ats).min(self.cap[c]);
            if most == 0 {
                continue;
            }
            let cand = &ctx.set.candidates[c];
            for take in (1..=most).rev() {
                let new_weight = self.weight[c] + w * f64::from(take);
                let new_floor = self.floor[c].max(self.floor_of(ctx, pos, c, take));
                let new_ship = ctx.ship.bound(cand, billable_kg(new_weight), new_floor);
                let delta = self.unit[pos * nc + c] * f64::from(take) + new_ship - self.shipping[c];
                let left = rem - take;
                if cost + delta + unit_lb * f64::from(left) + rest_lb >= self.best_cost - EPS {
                    continue;
                }
                let (old_w, old_s, old_f) = (self.weight[c], self.shipping[c], self.floor[c]);
                self.weight[c] = new_weight;
                self.shipping[c] = new_ship;
                self.floor[c] = new_floor;
                self.cap[c] -= take;
                self.stack.push(Take {
                    line: pos as u32,
                    candidate: c as u32,
                    units: take,
                });
                if left == 0 {
                    self.start_line(ctx, pos + 1, cost + delta);
                } else {
                    self.step(ctx, pos, left, a + 1, 0, cost + delta);
                }
                self.stack.pop();
                self.cap[c] += take;
                self.weight[c] = old_w;
                self.shipping[c] = old_s;
                self.floor[c] = old_f;
                if self.out_of_budget {
                    return;
                }
            }
        }

        // Phase B: holders not shipping at line start, cheapest alone first.
        if self.open.len() < max_shipments {
            let split = if self.open.is_empty() {
                0.0
            } else {
                ctx.policy.split_penalty
            };
            let nsorted = self.sorted[pos].len();
            for b in b_from..nsorted {
                if b == self.sorted_upto[pos] {
                    self.sorted[pos][b..].sort_unstable_by(by_key);
                    self.sorted_upto[pos] = nsorted;
                }
                let Ranked {
                    alone: key,
                    candidate: c,
                    ats,
                } = self.sorted[pos][b];
                let c = c as usize;
                if (self.open_rank[c] as usize) < open_start {
                    continue;
                }
                if cost + split + key + unit_lb * f64::from(rem - 1) + rest_lb
                    >= self.best_cost - EPS
                {
                    break;
                }
                let most = rem.min(ats).min(self.cap[c]);
                if most == 0 {
                    continue;
                }
                let cand = &ctx.set.candidates[c];
                for take in (1..=most).rev() {
                    let new_weight = w * f64::from(take);
                    let new_floor = self.floor_of(ctx, pos, c, take);
                    let new_ship = ctx.ship.bound(cand, billable_kg(new_weight), new_floor);
                    let delta = split
                        + cand.cost_per_shipment
                        + self.unit[pos * nc + c] * f64::from(take)
                        + new_ship;
                    let left = rem - take;
                    if cost + delta + unit_lb * f64::from(left) + rest_lb >= self.best_cost - EPS {
                        continue;
                    }
                    self.open_rank[c] = self.open.len() as u32;
                    self.open.push(c as u32);
                    self.weight[c] = new_weight;
                    self.shipping[c] = new_ship;
                    self.floor[c] = new_floor;
                    self.cap[c] -= take;
                    self.stack.push(Take {
                        line: pos as u32,
                        candidate: c as u32,
                        units: take,
                    });
                    if left == 0 {
                        self.start_line(ctx, pos + 1, cost + delta);
                    } else {
                        self.step(ctx, pos, left, open_start, b + 1, cost + delta);
                    }
                    self.stack.pop();
                    self.cap[c] += take;
                    self.weight[c] = 0.0;
                    self.shipping[c] = 0.0;
                    self.floor[c] = NO_FLOOR;
                    self.open.pop();
                    self.open_rank[c] = CLOSED;
                    if self.out_of_budget {
                        return;
                    }
                }
            }
        }

        // Backorder what is left of the line.
        let back = ctx.policy.backorder_penalty * f64::from(rem);
        if cost + back + rest_lb < self.best_cost - EPS {
            self.start_line(ctx, pos + 1, cost + back);
        }
    }
}
