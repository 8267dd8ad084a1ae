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
use super::curves::{Curve, LateRates, SLOTS};
use super::promise::{NO_FLOOR, Shipper};
use crate::model::{Day, Policy};

const EPS: f64 = 1e-9;
const CLOSED: u32 = u32::MAX;
/// Holders sorted up front per line; the rest are sorted only if the scan reaches them.
const SORTED_HEAD: usize = 12;
/// Search nodes tried before the greedy incumbent is computed and the search restarted.
const QUICK_BUDGET: u64 = 4000;
/// Per line, the units its `j` best-stocked holders can give are kept for `j` up to this.
const TOP: usize = 8;
/// Orders of at least this many lines with priced units start from the greedy incumbent.
const SEED_PRICED_LINES: usize = 5;
/// ... and at most this many (line, candidate) pairs.
const SEED_PRICED_CELLS: usize = 256;

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
    /// Value of each open candidate's shipment (`Σ unit_price × units`).
    value: Vec<f64>,
    /// With priced lateness: each candidate's shipment's exact curves by weight.
    late_rates: LateRates,
    /// With priced lateness: per open candidate, its shipment's [`Curve`].
    late_of: Vec<Curve>,
    /// What the search has charged for lateness beyond the open shipments' cheapest rates:
    /// `min over D (Σ curves(D) + lateness(D)) − Σ cheapest rates`.
    late_x: f64,
    /// The curve [`Search::later`] computed last.
    pending: Curve,
    // Per line (in search order).
    order: Vec<usize>,
    /// Per line: the order rule it is searched under.
    rule: Vec<Rule>,
    /// Per line: its holders, cheapest alone first.
    sorted: Vec<Vec<Ranked>>,
    /// Per line (in search order) and candidate, at `pos × candidates + c`: what the search
    /// reads of the candidate as a holder of the line (one record, one cache line to fetch).
    held: Vec<Held>,
    /// The entries of `held` this search set.
    held_set: Vec<usize>,
    unit_lb: Vec<f64>,
    /// Per zone band, while a line is ranked: one unit's shipping (NaN: not asked yet).
    band_ship: Vec<f64>,
    /// Per line: how much of `sorted` is in order.
    sorted_upto: Vec<usize>,
    suffix_lb: Vec<f64>,
    /// Per line: the weight of it and every later line (what a shipment may still gain).
    rest_w: Vec<f64>,
    /// Per line: what it and every later line must pay at least beyond `unit_lb` a unit, for
    /// their weight: the lesser of the least over holders of `unit + per_kg × weight` (the
    /// holder's band's [`Shipper::affine_floor`]) less `unit_lb`, and the backorder's excess.
    suffix_heavy: Vec<f64>,
    /// Per line: what each unit of it costs at least beyond `unit_lb` and its share of
    /// `suffix_heavy` when it is backordered (`backorder_penalty` less the least
    /// `unit + per_kg × weight` over its holders).
    excess: Vec<f64>,
    /// Per line: the units its `j + 1` best-stocked holders hold together (at most its
    /// quantity), for `j < TOP`.
    cover: Vec<[u32; TOP]>,
    /// Reused by [`Search::rank_lines`]: a line's holders' stock.
    stock: Vec<u32>,
    /// Per zone band, while the order is searched: its rates' floor (`base`, `per_kg`; NaN:
    /// not asked yet).
    band_floor: Vec<(f64, f64)>,
    /// The least fixed part of any new shipment: a holder's cost per shipment plus its band's
    /// least base rate.
    least_fixed: f64,
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
    /// Out of budget: the least bound of the subtrees left unexplored (each loop on the path
    /// still bounds the branches it did not take), so that every allocation costs at least the
    /// lesser of this and the best found.
    frontier: f64,
    /// Checked every [`CANCEL_EVERY`] nodes: a cancelled search stops as if out of budget.
    cancel: crate::cancel::Cancel,
}

/// A candidate as a holder of one line. Only the entries of the line's holders are set; the
/// rest read as no stock (`ats` 0), and the other fields are read only where there is stock.
#[derive(Clone, Copy, Debug, Default)]
struct Held {
    /// Units it can give the line.
    ats: u32,
    /// Its index in the line's holders.
    hold: u32,
    /// The cost of each unit picked there (handling plus any price).
    unit: f64,
    /// The shipping a new shipment of one unit of the line is charged.
    ship1: f64,
}

/// Search nodes between two looks at the cancellation token.
const CANCEL_EVERY: u64 = 4096;

struct Ctx<'a> {
    set: &'a CandidateSet,
    ship: &'a Shipper<'a>,
    policy: &'a Policy,
    /// Whether any holder has inbound tiers (else every floor is `NO_FLOOR`).
    inbound: bool,
    /// `min_shipment_value` when it can bind (some line has a price), else 0.
    min_value: f64,
    /// Whether lateness is priced on the order's latest delivery.
    late: bool,
    /// Whether the open shipments' weight is priced in the bound of staying (`extra_lb`): with
    /// a deadline, priced lateness or opportunity costs, where it prunes; a search without
    /// them pays it at every line's start and rarely gains from it (measured: 5% slower on the
    /// large undated network, 10% faster on the dated one).
    weigh_staying: bool,
}

/// One greedy shipment: the takes (position, units), its cost (with the backorder of an
/// unsplittable line's rest), the backorder it saves (and moves into its cost), its value.
#[derive(Default)]
struct Greedy {
    takes: Vec<(usize, u32)>,
    cost: f64,
    saved_backorder: f64,
    value: f64,
    kg: u32,
    floor: Day,
}

/// A group being decided: first and end position, units, weight and value.
type GroupAt = (usize, usize, u32, f64, f64);

/// How a line is searched (version 2 order rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// Its units from any nodes.
    Free,
    /// Its units from one node (`split_line = 0`); the rest backordered.
    Whole,
    /// The first line of a ship-together group, whose lines run to `end` (exclusive): all
    /// their units from one node, or all backordered.
    Group { end: usize },
    /// A later line of a group, decided with its first.
    Member,
}

impl Search {
    pub fn set_cancel(&mut self, cancel: crate::cancel::Cancel) {
        self.cancel = cancel;
    }

    /// Counts one search node; true when the search must stop (budget spent or cancelled).
    fn spend(&mut self) -> bool {
        self.visited += 1;
        if self.visited > self.budget
            || (self.visited.is_multiple_of(CANCEL_EVERY) && self.cancel.is_cancelled())
        {
            self.out_of_budget = true;
        }
        self.out_of_budget
    }

    /// Records the bound of a subtree the search leaves unexplored for lack of budget.
    #[inline]
    fn abandon(&mut self, bound: f64) {
        self.frontier = self.frontier.min(bound);
    }

    /// Finds a cheapest allocation for the ship order whose candidates are in `set`, if one
    /// is cheaper than `upper` (infinite: always, since backordering everything is feasible).
    ///
    /// This is the hot path of every route call, measured in `benches/latency.rs`: the per-order
    /// tables are prepared in one pass over reused buffers ([`Self::reset`],
    /// [`Self::rank_lines`]), then the recursion runs, with a greedy incumbent and a second
    /// start when the first quick budget runs out.
    pub fn run(
        &mut self,
        set: &CandidateSet,
        ship: &Shipper<'_>,
        policy: &Policy,
        budget: u64,
        upper: f64,
    ) -> SearchResult {
        let nl = set.lines.len();
        self.reset(set, ship, budget);
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
        self.place_groups(set);

        let bp = policy.backorder_penalty;
        self.rank_lines(set, ship, bp);
        // Incumbent: everything backordered (always feasible), unless `upper` is lower.
        let all_backordered: f64 = set.lines.iter().map(|l| bp * f64::from(l.qty)).sum();
        self.best_cost = all_backordered.min(upper);
        self.found = all_backordered < upper;
        let inbound = set.lines.iter().any(|l| !l.tiers.is_empty());
        let priced = set.lines.iter().any(|l| l.unit_price > 0.0);
        let ctx = Ctx {
            set,
            ship,
            policy,
            inbound,
            min_value: if priced {
                policy.min_shipment_value
            } else {
                0.0
            },
            late: ship.late.is_some(),
            weigh_staying: ship.late.is_some()
                || !ship.bound_by_band()
                || set.lines.iter().any(|l| !l.extra.is_empty()),
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
            let seed = nl >= SEED_PRICED_LINES && nl * set.candidates.len() <= SEED_PRICED_CELLS;
            if seed && set.lines.iter().any(|l| !l.extra.is_empty()) {
                // Priced units (opportunity costs) make each line's cheapest unit sit at a
                // different node: the first descent opens several shipments and the bound
                // cannot prune before an incumbent that consolidates is found. The greedy
                // costs a pass over every candidate and line per shipment it opens, so only
                // for orders with few candidates.
                self.seed_incumbent(&ctx);
            }
            self.start_line(&ctx, 0, 0.0);
            if self.out_of_budget && budget > QUICK_BUDGET {
                let spent = self.visited;
                self.seed_incumbent(&ctx);
                self.out_of_budget = false;
                self.frontier = f64::INFINITY;
                self.visited = 0;
                self.budget = budget - spent;
                self.start_line(&ctx, 0, 0.0);
                self.visited += spent;
            }
        }
        let root_bound = if self.out_of_budget && nl > 0 {
            root_bound.max(self.by_shipments(&ctx))
        } else {
            root_bound
        };
        self.result(root_bound)
    }

    /// A root bound for a search that ran out of budget, by how many shipments the decision
    /// has: none (everything backordered); one, from some candidate (its cost per shipment and
    /// its band's least base rate; what it can give of each line at its unit cost plus its
    /// band's least per-kg rate, or backordered; the rest backordered); or two or more (each unit's least cost with its weight,
    /// two fixed parts and a split at least, and what j shipments cannot give backordered).
    /// Ignores capacity, order rules and lateness, which only add. One pass over every
    /// candidate and line, so only for orders already out of budget.
    fn by_shipments(&self, ctx: &Ctx<'_>) -> f64 {
        let nc = ctx.set.candidates.len();
        let bp = ctx.policy.backorder_penalty;
        let lines = || self.order.iter().map(|&li| &ctx.set.lines[li]);
        let none: f64 = lines().map(|l| bp * f64::from(l.qty)).sum();
        let mut one = f64::INFINITY;
        for (c, cand) in ctx.set.candidates.iter().enumerate() {
            let (mut cost, mut gives) = (cand.cost_per_shipment, false);
            for (pos, line) in lines().enumerate() {
                let held = &self.held[pos * nc + c];
                let take = line.qty.min(held.ats);
                if take > 0 {
                    // Each unit it may give costs its picking and its weight, or the backorder.
                    let (_, per_kg) = self.band_floor[cand.band];
                    let unit = (held.unit + per_kg * line.unit_weight).min(bp);
                    cost += unit * f64::from(take);
                    gives = true;
                }
                cost += bp * f64::from(line.qty - take);
            }
            if gives {
                one = one.min(cost + self.band_floor[cand.band].0);
            }
        }
        // Nothing is open at the root: every line's units are left.
        let most = ctx.policy.max_shipments as usize;
        let mut short = [0.0f64; TOP + 1];
        for (pos, line) in lines().enumerate() {
            self.add_shortage(pos, line.qty, most, &mut short);
        }
        let two =
            self.suffix_lb[0] + self.suffix_heavy[0] + self.new_shipments(ctx, 2..=most, &short);
        none.min(one).min(two)
    }

    /// Makes the buffers ready for an order of `set`'s size: they only grow, and only what the
    /// last search set is cleared.
    fn reset(&mut self, set: &CandidateSet, ship: &Shipper<'_>, budget: u64) {
        let nc = set.candidates.len();
        let nl = set.lines.len();
        // Every search leaves the per-candidate state as it found it (each branch undoes what
        // it set), so the buffers only grow; clearing them per order was a measurable part of
        // an order on a large network.
        grow(&mut self.weight, nc, 0.0);
        grow(&mut self.shipping, nc, 0.0);
        grow(&mut self.open_rank, nc, CLOSED);
        grow(&mut self.floor, nc, NO_FLOOR);
        grow(&mut self.value, nc, 0.0);
        debug_assert!(self.open_rank.iter().all(|&r| r == CLOSED));
        debug_assert!(self.weight.iter().all(|&w| w == 0.0));
        self.late_of.clear();
        if ship.late.is_some() {
            self.late_rates.reset(nc, ship.kmax);
            self.late_of.resize(nc, [0.0; SLOTS]);
        }
        self.late_x = 0.0;
        self.cap.clear();
        self.cap
            .extend(set.candidates.iter().map(|c| c.capacity_left));
        // Per line and candidate only the holders' entries are set; the rest read as no stock
        // (a `Held`'s other fields are read only where there is stock), so only the entries
        // the last search set are cleared.
        for &i in &self.held_set {
            self.held[i].ats = 0;
        }
        self.held_set.clear();
        grow(&mut self.held, nc * nl, Held::default());
        self.open.clear();
        self.stack.clear();
        self.best.clear();
        self.visited = 0;
        self.budget = budget;
        self.out_of_budget = false;
        self.frontier = f64::INFINITY;
    }

    /// Per line in search order: its holders ranked by what taking the line there alone costs
    /// (the cheapest few sorted now), each holder's stock, unit cost and place, the line's
    /// cheapest unit cost, and the suffix sums of weight and unit lower bounds the bound reads.
    fn rank_lines(&mut self, set: &CandidateSet, ship: &Shipper<'_>, bp: f64) {
        let nc = set.candidates.len();
        let nl = set.lines.len();
        self.sorted.resize_with(nl, Vec::new);
        self.unit_lb.clear();
        self.sorted_upto.clear();
        self.suffix_lb.clear();
        self.suffix_lb.resize(nl + 1, 0.0);
        let by_band = ship.bound_by_band();
        self.band_floor.clear();
        self.least_fixed = f64::INFINITY;
        self.suffix_heavy.clear();
        self.suffix_heavy.resize(nl + 1, 0.0);
        self.excess.clear();
        self.cover.clear();
        for (pos, &li) in self.order.iter().enumerate() {
            let line: &LineCandidates = &set.lines[li];
            let kg = billable_kg(line.unit_weight);
            let mut lb = bp;
            // The least `unit + per_kg × weight` over the holders.
            let mut heavy_lb = bp;
            let sorted = &mut self.sorted[pos];
            sorted.clear();
            // Without a deadline one unit's shipping depends only on the zone band: one quote
            // per band, not per holder.
            self.band_ship.clear();
            for (j, holder) in line.holders.iter().enumerate() {
                let (c, ats) = (holder.candidate, holder.ats);
                let cand = &set.candidates[c as usize];
                let (base, per_kg) = band_floor(&mut self.band_floor, ship, cand.band);
                self.least_fixed = self.least_fixed.min(cand.cost_per_shipment + base);
                let unit = cand.cost_per_unit + line.extra.get(j).copied().unwrap_or(0.0);
                heavy_lb = heavy_lb.min(unit + per_kg * line.unit_weight);
                let ship = if by_band {
                    grow(&mut self.band_ship, cand.band + 1, f64::NAN);
                    let known = &mut self.band_ship[cand.band];
                    if known.is_nan() {
                        *known = ship.bound(cand, kg, NO_FLOOR);
                    }
                    *known
                } else {
                    ship.bound(cand, kg, line.floor_of(holder, 1))
                };
                self.held[pos * nc + c as usize] = Held {
                    ats,
                    hold: j as u32,
                    unit,
                    // What a new shipment of one unit of the line pays (most lines are one).
                    ship1: ship,
                };
                self.held_set.push(pos * nc + c as usize);
                lb = lb.min(unit);
                sorted.push(Ranked {
                    alone: cand.cost_per_shipment + unit + ship,
                    candidate: c,
                    ats,
                });
            }
            self.sorted_upto.push(sort_head(sorted));
            self.unit_lb.push(lb);
            // For now the line's own; made a suffix sum below.
            self.suffix_heavy[pos] = heavy_lb - lb;
            self.excess.push((bp - heavy_lb).max(0.0));
            self.cover.push(cover_of(line, &mut self.stock));
        }
        self.suffix_sums(set);
    }

    /// Per line in search order, over it and the lines after it: weight, unit lower bounds and
    /// the weight bound's share (`suffix_heavy`, per line until now).
    fn suffix_sums(&mut self, set: &CandidateSet) {
        let nl = set.lines.len();
        self.rest_w.clear();
        self.rest_w.resize(nl + 1, 0.0);
        for pos in (0..nl).rev() {
            let li = self.order[pos];
            let line = &set.lines[li];
            let qty = f64::from(line.qty);
            self.rest_w[pos] = self.rest_w[pos + 1] + line.unit_weight * qty;
            self.suffix_lb[pos] = self.suffix_lb[pos + 1] + self.unit_lb[pos] * qty;
            let heavy = self.suffix_heavy[pos].max(0.0) * qty;
            self.suffix_heavy[pos] = self.suffix_heavy[pos + 1] + heavy;
        }
        self.open_at_line_start.clear();
        self.open_at_line_start.resize(nl + 1, 0);
    }

    /// The search's answer: the best allocation in the order's line numbers, its cost, and a
    /// lower bound (when the budget ran out: the best of the root's bound and the frontier's,
    /// capped by the cost found).
    fn result(&self, root_bound: f64) -> SearchResult {
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
                root_bound.max(self.frontier).min(self.best_cost)
            } else {
                self.best_cost
            },
            exact: !self.out_of_budget,
            found: self.found,
            nodes_visited: self.visited,
        }
    }

    /// Puts the lines of each ship-together group next to each other in the search order (at
    /// the place of its first line) and sets each line's rule.
    fn place_groups(&mut self, set: &CandidateSet) {
        let nl = set.lines.len();
        if set.lines.iter().any(|l| l.group.is_some()) {
            let mut placed = vec![false; nl];
            let mut out = Vec::with_capacity(nl);
            for &li in &self.order {
                if placed[li] {
                    continue;
                }
                let group = set.lines[li].group;
                for &lj in &self.order {
                    if lj == li || (group.is_some() && set.lines[lj].group == group) {
                        placed[lj] = true;
                        out.push(lj);
                    }
                }
            }
            self.order = out;
        }
        self.rule.clear();
        for pos in 0..nl {
            let line = &set.lines[self.order[pos]];
            let rule = match line.group {
                Some(g) if pos > 0 && set.lines[self.order[pos - 1]].group == Some(g) => {
                    Rule::Member
                }
                Some(g) => {
                    let len = self.order[pos..]
                        .iter()
                        .take_while(|&&l| set.lines[l].group == Some(g))
                        .count();
                    Rule::Group { end: pos + len }
                }
                None if line.whole => Rule::Whole,
                None => Rule::Free,
            };
            self.rule.push(rule);
        }
    }

    /// The split penalty a new shipment pays (none for the first).
    #[inline]
    fn split_cost(&self, ctx: &Ctx<'_>) -> f64 {
        if self.open.is_empty() {
            0.0
        } else {
            ctx.policy.split_penalty
        }
    }

    /// The `b`-th holder of the line at `pos`, cheapest alone first (the tail is sorted when a
    /// scan first reaches it).
    #[inline]
    fn ranked(&mut self, pos: usize, b: usize) -> Ranked {
        if b == self.sorted_upto[pos] {
            let n = self.sorted[pos].len();
            self.sorted[pos][b..].sort_unstable_by(by_key);
            self.sorted_upto[pos] = n;
        }
        self.sorted[pos][b]
    }

    /// Whether the open shipments meet `min_shipment_value` (it binds only on a split order).
    fn values_ok(&self, ctx: &Ctx<'_>) -> bool {
        ctx.min_value <= 0.0
            || self.open.len() < 2
            || self
                .open
                .iter()
                .all(|&c| self.value[c as usize] >= ctx.min_value - EPS)
    }

    /// The floor of taking `take` units of the line at `pos` from candidate `c`.
    #[inline]
    fn floor_of(&self, ctx: &Ctx<'_>, pos: usize, c: usize, take: u32) -> Day {
        if !ctx.inbound {
            return NO_FLOOR;
        }
        let nc = ctx.set.candidates.len();
        let line = &ctx.set.lines[self.order[pos]];
        let holder = &line.holders[self.held[pos * nc + c].hold as usize];
        line.floor_of(holder, take)
    }

    /// With priced lateness, what the lateness charge grows by when `c`'s shipment weighs `kg`
    /// billable kg (and may grow to `reach` kg of weight) and is handled no earlier than
    /// `floor`; its [`Curve`] is kept for [`Search::charge_late`]. Without, 0 and nothing kept.
    ///
    /// The charge: whatever deadline D the order's shipments end up meeting, each pays at least
    /// its curve at D, and the order D's lateness; so the cheapest over D of the curves' sum
    /// plus lateness bounds shipping and lateness together, and it only grows as units and
    /// shipments are added (every curve does).
    #[inline(always)]
    fn later(&mut self, ctx: &Ctx<'_>, c: usize, (kg, reach): (u32, f64), floor: Day) -> f64 {
        if ctx.late {
            self.later_priced(ctx, c, (kg, billable_kg(reach)), floor)
        } else {
            0.0
        }
    }

    #[inline(never)]
    fn later_priced(&mut self, ctx: &Ctx<'_>, c: usize, kgs: (u32, u32), floor: Day) -> f64 {
        let mine = self
            .late_rates
            .curve(ctx.ship, &ctx.set.candidates[c], c, kgs, floor);
        let mut sum = mine;
        for &o in &self.open {
            if o as usize != c {
                let theirs = &self.late_of[o as usize];
                for (s, t) in sum.iter_mut().zip(theirs) {
                    *s += t;
                }
            }
        }
        let penalty = ctx.ship.late.map_or(0.0, |(_, p)| p);
        let mut best = f64::INFINITY;
        for (i, s) in sum.iter().enumerate() {
            best = best.min(s + penalty * i as f64);
        }
        self.pending = mine;
        // `sum`'s last slot is the sum of the cheapest rates, which the search charges as
        // shipping.
        best - sum[SLOTS - 1] - self.late_x
    }

    /// Charges `c`'s curve kept by [`Search::later`] (with `added` to the lateness charge);
    /// returns what to restore.
    #[inline(always)]
    fn charge_late(&mut self, ctx: &Ctx<'_>, c: usize, added: f64) -> Option<(Curve, f64)> {
        if !ctx.late {
            return None;
        }
        let old = (self.late_of[c], self.late_x);
        self.late_of[c] = self.pending;
        self.late_x += added;
        Some(old)
    }

    /// Takes back a [`Search::charge_late`].
    #[inline(always)]
    fn uncharge_late(&mut self, c: usize, old: Option<(Curve, f64)>) {
        if let Some((of, x)) = old {
            self.late_of[c] = of;
            self.late_x = x;
        }
    }

    /// What the open shipments really cost beyond what the search charged them (0 unless a
    /// deadline can make a heavier parcel cheaper or lateness is priced; infinite if one has
    /// no allowed rate).
    fn leaf_correction(&self, ctx: &Ctx<'_>) -> f64 {
        if !ctx.ship.needs_exact_leaves() {
            return 0.0;
        }
        if ctx.late {
            let parcels = self.open.iter().map(|&c| {
                let c = c as usize;
                (
                    &ctx.set.candidates[c],
                    billable_kg(self.weight[c]),
                    self.floor[c],
                )
            });
            let charged: f64 = self
                .open
                .iter()
                .map(|&c| self.shipping[c as usize])
                .sum::<f64>()
                + self.late_x;
            return ctx.ship.priced_late(parcels).0 - charged;
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
            if !self.values_ok(ctx) {
                return;
            }
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
        if let Rule::Group { end } = self.rule[pos] {
            return self.step_group(ctx, pos, end, cost);
        }
        let qty = ctx.set.lines[self.order[pos]].qty;
        self.step(ctx, pos, qty, 0, 0, cost);
    }

    /// Decides a ship-together group, the lines `pos..end`: all of its units from one node —
    /// one already shipping, or a holder of its first line — or all of them backordered.
    ///
    /// Out of budget, the branches not yet taken are only bounded (as in [`Self::step`]).
    fn step_group(&mut self, ctx: &Ctx<'_>, pos: usize, end: usize, cost: f64) {
        if self.spend() {
            self.abandon(cost + self.suffix_lb[pos]);
            return;
        }
        let rest_lb = self.suffix_lb[end];
        let lines = || (pos..end).map(|p| &ctx.set.lines[self.order[p]]);
        let units: u32 = lines().map(|l| l.qty).sum();
        let weight: f64 = lines().map(|l| l.unit_weight * f64::from(l.qty)).sum();
        let value: f64 = lines().map(|l| l.unit_price * f64::from(l.qty)).sum();
        let group = (pos, end, units, weight, value);
        for a in 0..self.open.len() {
            let c = self.open[a] as usize;
            let Some((picking, floor)) = self.group_fits(ctx, group, c) else {
                continue;
            };
            let cand = &ctx.set.candidates[c];
            let new_floor = self.floor[c].max(floor);
            let new_weight = self.weight[c] + weight;
            let kg = billable_kg(new_weight);
            let new_ship = ctx.ship.bound(cand, kg, new_floor);
            let late = self.later(ctx, c, (kg, new_weight + self.rest_w[end]), new_floor);
            let delta = picking + new_ship - self.shipping[c] + late;
            if cost + delta + rest_lb >= self.best_cost - EPS {
                continue;
            }
            if self.out_of_budget {
                self.abandon(cost + delta + rest_lb);
                continue;
            }
            let old_late = self.charge_late(ctx, c, late);
            self.try_group(ctx, group, c, (new_ship, new_floor), cost + delta);
            self.uncharge_late(c, old_late);
        }
        if self.open.len() < ctx.policy.max_shipments as usize {
            let split = self.split_cost(ctx);
            for b in 0..self.sorted[pos].len() {
                let Ranked {
                    alone: key,
                    candidate: c,
                    ..
                } = self.ranked(pos, b);
                let c = c as usize;
                // Shipping the whole group from c costs at least shipping its first unit alone.
                if cost + split + key + rest_lb >= self.best_cost - EPS {
                    break;
                }
                if self.open_rank[c] != CLOSED {
                    continue;
                }
                let Some((picking, floor)) = self.group_fits(ctx, group, c) else {
                    continue;
                };
                let cand = &ctx.set.candidates[c];
                let kg = billable_kg(weight);
                let new_ship = ctx.ship.bound(cand, kg, floor);
                let late = self.later(ctx, c, (kg, weight + self.rest_w[end]), floor);
                let delta = split + cand.cost_per_shipment + picking + new_ship + late;
                if cost + delta + rest_lb >= self.best_cost - EPS {
                    continue;
                }
                if self.out_of_budget {
                    self.abandon(cost + delta + rest_lb);
                    continue;
                }
                let old_late = self.charge_late(ctx, c, late);
                self.open_rank[c] = self.open.len() as u32;
                self.open.push(c as u32);
                self.try_group(ctx, group, c, (new_ship, floor), cost + delta);
                self.open.pop();
                self.open_rank[c] = CLOSED;
                self.uncharge_late(c, old_late);
            }
        }
        let back = ctx.policy.backorder_penalty * f64::from(units);
        self.backorder_rest(ctx, end, cost + back);
    }

    /// The branch that backorders what is left of a line or group and goes on from `next`
    /// (out of budget: only bounded).
    fn backorder_rest(&mut self, ctx: &Ctx<'_>, next: usize, cost: f64) {
        let bound = cost + self.suffix_lb[next];
        if bound >= self.best_cost - EPS {
            return;
        }
        if self.out_of_budget {
            self.abandon(bound);
        } else {
            self.start_line(ctx, next, cost);
        }
    }

    /// The picking cost and handling floor of a group's units at candidate `c`, if it holds
    /// them all and has the capacity.
    fn group_fits(&self, ctx: &Ctx<'_>, group: GroupAt, c: usize) -> Option<(f64, Day)> {
        let (pos, end, units, _, _) = group;
        if self.cap[c] < units {
            return None;
        }
        let nc = ctx.set.candidates.len();
        let (mut picking, mut floor) = (0.0, NO_FLOOR);
        for p in pos..end {
            let qty = ctx.set.lines[self.order[p]].qty;
            if self.held[p * nc + c].ats < qty {
                return None;
            }
            picking += self.held[p * nc + c].unit * f64::from(qty);
            floor = floor.max(self.floor_of(ctx, p, c, qty));
        }
        Some((picking, floor))
    }

    /// Adds a group's units to `c`'s shipment (open already), goes on after the group, and
    /// takes them back.
    fn try_group(
        &mut self,
        ctx: &Ctx<'_>,
        group: GroupAt,
        c: usize,
        (ship, floor): (f64, Day),
        cost: f64,
    ) {
        let (pos, end, units, weight, value) = group;
        let old = (
            self.weight[c],
            self.shipping[c],
            self.floor[c],
            self.value[c],
        );
        self.weight[c] += weight;
        self.shipping[c] = ship;
        self.floor[c] = floor;
        self.value[c] += value;
        self.cap[c] -= units;
        for p in pos..end {
            self.stack.push(Take {
                line: p as u32,
                candidate: c as u32,
                units: ctx.set.lines[self.order[p]].qty,
            });
        }
        self.start_line(ctx, end, cost);
        self.stack.truncate(self.stack.len() - (end - pos));
        self.cap[c] += units;
        (
            self.weight[c],
            self.shipping[c],
            self.floor[c],
            self.value[c],
        ) = old;
    }

    /// A good first incumbent makes the bound bite from the start: the cheapest decision that
    /// ships from one node alone, then adds nodes greedily (each time the one that lowers the
    /// cost most) while that helps and `max_shipments` allows, under the order rules (an
    /// unsplittable line and a group are taken from one node; the result is kept only if it
    /// meets `min_shipment_value`).
    fn seed_incumbent(&mut self, ctx: &Ctx<'_>) {
        let nc = ctx.set.candidates.len();
        let bp = ctx.policy.backorder_penalty;
        let max_shipments = ctx.policy.max_shipments as usize;
        let mut remaining: Vec<u32> = self.order.iter().map(|&li| ctx.set.lines[li].qty).collect();
        let mut chosen: Vec<Take> = Vec::new();
        // Chosen nodes: candidate, value, billable kg and floor of their shipment.
        let mut used: Vec<(usize, f64, u32, Day)> = Vec::new();
        let mut fixed = 0.0; // cost of the shipments chosen so far, and of closed lines' rest
        while used.len() < max_shipments {
            let backorder_now: f64 = remaining.iter().map(|&r| bp * f64::from(r)).sum();
            let split = if used.is_empty() {
                0.0
            } else {
                ctx.policy.split_penalty
            };
            // With priced lateness, each node is judged with the lateness it brings (so the
            // greedy looks for shipments on time, not only cheap ones).
            let late_now = self.greedy_lateness(ctx, &used);
            let mut best: Option<(f64, usize)> = None;
            for c in 0..nc {
                if used.iter().any(|&(u, ..)| u == c) {
                    continue;
                }
                let Some(g) = self.greedy_at(ctx, c, &remaining) else {
                    continue;
                };
                let mut total = fixed + split + g.cost + backorder_now - g.saved_backorder;
                if ctx.late {
                    used.push((c, g.value, g.kg, g.floor));
                    total += self.greedy_lateness(ctx, &used);
                    used.pop();
                }
                if best.is_none_or(|(b, _)| total < b) {
                    best = Some((total, c));
                }
            }
            let Some((total, c)) = best else { break };
            if total >= fixed + backorder_now + late_now - EPS {
                break;
            }
            let Some(g) = self.greedy_at(ctx, c, &remaining) else {
                break;
            };
            for &(pos, take) in &g.takes {
                // A group's or unsplittable line's rest is backordered (in `g.cost`).
                remaining[pos] = match self.rule[pos] {
                    Rule::Free => remaining[pos] - take,
                    _ => 0,
                };
                chosen.push(Take {
                    line: pos as u32,
                    candidate: c as u32,
                    units: take,
                });
            }
            fixed += split + g.cost;
            used.push((c, g.value, g.kg, g.floor));
            let total_now = fixed
                + remaining.iter().map(|&r| bp * f64::from(r)).sum::<f64>()
                + self.greedy_lateness(ctx, &used);
            let values_ok = ctx.min_value <= 0.0
                || used.len() < 2
                || used.iter().all(|&(_, v, ..)| v >= ctx.min_value - EPS);
            if values_ok && total_now < self.best_cost - EPS {
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

    /// With priced lateness, what the greedy shipments `used` cost beyond their cheapest
    /// services (their lateness, or dearer services on time); else 0.
    fn greedy_lateness(&self, ctx: &Ctx<'_>, used: &[(usize, f64, u32, Day)]) -> f64 {
        if !ctx.late {
            return 0.0;
        }
        let cand = |c: usize| &ctx.set.candidates[c];
        let cheapest: f64 = used
            .iter()
            .map(|&(c, _, kg, floor)| ctx.ship.exact(cand(c), kg, floor))
            .sum();
        let parcels = used.iter().map(|&(c, _, kg, floor)| (cand(c), kg, floor));
        ctx.ship.priced_late(parcels).0 - cheapest
    }

    /// What one new shipment from candidate `c` takes of the `remaining` units under the order
    /// rules (a group or an unsplittable line only while untouched), and what it costs; `None`
    /// if it takes nothing.
    fn greedy_at(&self, ctx: &Ctx<'_>, c: usize, remaining: &[u32]) -> Option<Greedy> {
        let nc = ctx.set.candidates.len();
        let bp = ctx.policy.backorder_penalty;
        let cand = &ctx.set.candidates[c];
        let mut cap = cand.capacity_left;
        let mut g = Greedy::default();
        let (mut units, mut weight, mut floor) = (0u32, 0.0, NO_FLOOR);
        let mut pos = 0;
        while pos < remaining.len() {
            let qty = ctx.set.lines[self.order[pos]].qty;
            let (from, to) = match self.rule[pos] {
                Rule::Group { end } => (pos, end),
                _ => (pos, pos + 1),
            };
            pos = to;
            let untouched = (from..to).all(|p| remaining[p] == ctx.set.lines[self.order[p]].qty);
            match self.rule[from] {
                Rule::Group { .. } => {
                    let fits = untouched
                        && (from..to).all(|p| self.held[p * nc + c].ats >= remaining[p])
                        && cap >= (from..to).map(|p| remaining[p]).sum::<u32>();
                    if !fits {
                        continue;
                    }
                }
                Rule::Whole if !untouched || qty == 0 => continue,
                _ => {}
            }
            for (p, &rem) in remaining.iter().enumerate().take(to).skip(from) {
                // A group's lines whole (they fit), any other line as much as there is.
                let take = rem.min(self.held[p * nc + c].ats).min(cap);
                if take == 0 {
                    continue;
                }
                let line = &ctx.set.lines[self.order[p]];
                floor = floor.max(self.floor_of(ctx, p, c, take));
                cap -= take;
                units += take;
                g.cost += self.held[p * nc + c].unit * f64::from(take);
                g.saved_backorder += bp * f64::from(take);
                g.value += line.unit_price * f64::from(take);
                weight += line.unit_weight * f64::from(take);
                g.takes.push((p, take));
            }
        }
        if units == 0 {
            return None;
        }
        g.kg = billable_kg(weight);
        g.floor = floor;
        g.cost += cand.cost_per_shipment + ctx.ship.exact(cand, g.kg, floor);
        // An unsplittable line taken in part backorders the rest for good.
        for &(p, take) in &g.takes {
            if self.rule[p] == Rule::Whole {
                g.cost += bp * f64::from(remaining[p] - take);
                g.saved_backorder += bp * f64::from(remaining[p] - take);
            }
        }
        Some(g)
    }

    /// What the lines from `pos` on must cost beyond `suffix_lb`: some line either makes do with
    /// the open shipments and the backorder, or a new shipment is opened. Every line already
    /// costs at least `unit_lb` a unit; the cheapest way out of that for the line that gains
    /// least is the bound (valid for each line, so the largest one is taken). Besides, either
    /// no shipment opens — then every line makes do, and their excesses add up — or one does,
    /// at no less than the cheapest line's opening: the lesser of the two is a bound too, and
    /// the stronger one where every line pays a little more at the open nodes than elsewhere
    /// (opportunity costs) but a new package costs more than any one of them.
    fn extra_lb(&self, ctx: &Ctx<'_>, pos: usize) -> f64 {
        let nc = ctx.set.candidates.len();
        let bp = ctx.policy.backorder_penalty;
        let can_open = self.open.len() < ctx.policy.max_shipments as usize;
        let split = self.split_cost(ctx);
        let mut extra: f64 = 0.0;
        let (mut all_stay, mut least_opening) = (0.0, f64::INFINITY);
        // With j new shipments (`short[j]`): what the units no j holders besides the open
        // shipments can give cost as backorders beyond their share of `suffix_heavy`.
        let new_ones = (ctx.policy.max_shipments as usize).saturating_sub(self.open.len());
        let mut short = [0.0f64; TOP + 1];
        // Staying, each unit shipped also pays its weight at no less than the least per-kg
        // floor of the open shipments' bands, or is backordered (`stay_w`), less the slack the
        // open shipments were charged already.
        let per_kg = if self.open.is_empty() || !ctx.weigh_staying {
            0.0
        } else {
            self.least_open_per_kg(ctx)
        };
        let mut stay_w = 0.0;
        for p in pos..ctx.set.lines.len() {
            let line = &ctx.set.lines[self.order[p]];
            let mut per_unit = bp;
            let mut open_cover = 0u32;
            for &c in &self.open {
                let held = &self.held[p * nc + c as usize];
                if held.ats > 0 {
                    per_unit = per_unit.min(held.unit);
                    open_cover += held.ats.min(self.cap[c as usize]);
                }
            }
            let units = line.qty;
            self.add_shortage(p, units.saturating_sub(open_cover), new_ones, &mut short);
            let qty = f64::from(units);
            if per_kg > 0.0 {
                let per_unit_w = (per_unit + per_kg * line.unit_weight).min(bp);
                stay_w += qty * (per_unit_w - self.unit_lb[p]);
            }
            let stay = qty * (per_unit - self.unit_lb[p]);
            // A new shipment for this line is one of its holders, opened at no less than the
            // cost of shipping one unit alone from it (the head of `sorted` is the cheapest).
            let opening = match self.sorted[p].first() {
                Some(head) if can_open => split + head.alone - self.unit_lb[p],
                _ => f64::INFINITY,
            };
            extra = extra.max(stay.min(opening));
            all_stay += stay;
            least_opening = least_opening.min(opening);
        }
        // Every unit left is backordered or shipped, and each still pays its weight
        // (`suffix_heavy`) beyond the open shipments' slack.
        let slack = self.slack(ctx);
        let heavy = (self.suffix_heavy[pos] - slack).max(0.0);
        // No new shipment: whatever the open ones cannot give is backordered.
        let mut stay = all_stay.max(heavy + short[0]);
        if per_kg > 0.0 {
            stay = stay.max(stay_w - slack);
        }
        let opening = least_opening.max(heavy + self.new_shipments(ctx, 1..=new_ones, &short));
        extra.max(stay.min(opening))
    }

    /// The least per-kg floor of the open shipments' bands.
    fn least_open_per_kg(&self, ctx: &Ctx<'_>) -> f64 {
        let per_kg = self.open.iter().map(|&c| {
            let band = ctx.set.candidates[c as usize].band;
            self.band_floor[band].1
        });
        per_kg.fold(f64::INFINITY, f64::min)
    }

    /// Adds to `short[j]` (for `j` up to `new_ones`) what the `left` units of the line at `pos`
    /// that no `j` best-stocked holders can give cost as backorders beyond their share of
    /// `suffix_heavy`.
    fn add_shortage(&self, pos: usize, left: u32, new_ones: usize, short: &mut [f64; TOP + 1]) {
        if left == 0 {
            return;
        }
        short[0] += f64::from(left) * self.excess[pos];
        for (j, s) in short.iter_mut().enumerate().skip(1).take(new_ones) {
            *s += f64::from(left.saturating_sub(self.cover[pos][j - 1])) * self.excess[pos];
        }
    }

    /// What the open shipments were charged beyond their bands' floors (`base_c + per_kg_c ×
    /// weight`), with priced lateness the lateness charge too (its curves already count weight
    /// the shipments may still gain): weight the lines left may add without paying for it.
    fn slack(&self, ctx: &Ctx<'_>) -> f64 {
        let open = self.open.iter().map(|&c| {
            let c = c as usize;
            let (base, per_kg) = self.band_floor[ctx.set.candidates[c].band];
            self.shipping[c] - base - per_kg * self.weight[c]
        });
        self.late_x + open.sum::<f64>()
    }

    /// The least that j new shipments (j in `count`) cost beyond the lines' weight: each a
    /// fixed part (a holder's cost per shipment and base rate), each but the first with no open
    /// shipment the split penalty, and `short[j]`, the backorders j cannot avoid.
    fn new_shipments(
        &self,
        ctx: &Ctx<'_>,
        count: std::ops::RangeInclusive<usize>,
        short: &[f64; TOP + 1],
    ) -> f64 {
        let (split, each) = (
            self.split_cost(ctx),
            ctx.policy.split_penalty + self.least_fixed,
        );
        let mut least = f64::INFINITY;
        for j in *count.start()..=(*count.end()).min(TOP + 1) {
            let backordered = short.get(j).copied().unwrap_or(0.0);
            least = least.min(split + self.least_fixed + each * (j - 1) as f64 + backordered);
            if backordered == 0.0 {
                break;
            }
        }
        least
    }

    /// Decides the next part of line `pos`, of which `rem` units are still open, choosing among
    /// open nodes from `a_from` and then sorted holders from `b_from`, or backordering the rest.
    ///
    /// The branch and bound's recursion: three branches (an open node, a new holder, the
    /// backorder) that share the line's bound ([`AtLine`]) and undo each choice they make.
    /// Once the budget is spent, the branches not yet taken are bounded instead of searched
    /// ([`Self::abandon`]), so the search's lower bound is the frontier's, not the root's.
    fn step(
        &mut self,
        ctx: &Ctx<'_>,
        pos: usize,
        rem: u32,
        a_from: usize,
        b_from: usize,
        cost: f64,
    ) {
        if self.spend() {
            self.abandon(cost + self.unit_lb[pos] * f64::from(rem) + self.suffix_lb[pos + 1]);
            return;
        }
        let line = &ctx.set.lines[self.order[pos]];
        let bp = ctx.policy.backorder_penalty;
        let whole = self.rule[pos] == Rule::Whole;
        let l = AtLine {
            pos,
            nc: ctx.set.candidates.len(),
            w: line.unit_weight,
            kg1: billable_kg(line.unit_weight),
            unit_lb: self.unit_lb[pos],
            rest_lb: self.suffix_lb[pos + 1],
            rest_w: self.rest_w[pos + 1],
            open_start: self.open_at_line_start[pos] as usize,
            whole,
            bp,
            // What each unit left of the line costs at least: an unsplittable line backorders it.
            left_lb: if whole { bp } else { self.unit_lb[pos] },
            price: line.unit_price,
        };
        self.step_open(ctx, &l, rem, a_from, cost);
        self.step_new(ctx, &l, rem, b_from, cost);
        // Backorder what is left of the line.
        self.backorder_rest(ctx, pos + 1, cost + bp * f64::from(rem));
    }

    /// Phase A of [`Self::step`]: more of the line at nodes that were already shipping when the
    /// line started (from the `a_from`th), most units first.
    #[inline]
    fn step_open(&mut self, ctx: &Ctx<'_>, l: &AtLine, rem: u32, a_from: usize, cost: f64) {
        for a in a_from..l.open_start {
            let c = self.open[a] as usize;
            let ats = self.held[l.pos * l.nc + c].ats;
            let most = rem.min(ats).min(self.cap[c]);
            if most == 0 {
                continue;
            }
            let cand = &ctx.set.candidates[c];
            for take in (1..=most).rev() {
                let new_weight = self.weight[c] + l.w * f64::from(take);
                let new_floor = self.floor[c].max(self.floor_of(ctx, l.pos, c, take));
                let kg = billable_kg(new_weight);
                let new_ship = ctx.ship.bound(cand, kg, new_floor);
                let reach = new_weight + l.w * f64::from(rem - take) + l.rest_w;
                let late = self.later(ctx, c, (kg, reach), new_floor);
                let delta = self.held[l.pos * l.nc + c].unit * f64::from(take) + new_ship
                    - self.shipping[c]
                    + late;
                let left = rem - take;
                let bound = cost + delta + l.left_lb * f64::from(left) + l.rest_lb;
                if bound >= self.best_cost - EPS {
                    continue;
                }
                if self.out_of_budget {
                    self.abandon(bound);
                    continue;
                }
                let (old_w, old_s, old_f) = (self.weight[c], self.shipping[c], self.floor[c]);
                let old_late = self.charge_late(ctx, c, late);
                self.weight[c] = new_weight;
                self.shipping[c] = new_ship;
                self.floor[c] = new_floor;
                self.cap[c] -= take;
                self.value[c] += l.price * f64::from(take);
                self.stack.push(Take {
                    line: l.pos as u32,
                    candidate: c as u32,
                    units: take,
                });
                self.descend(ctx, l, left, (a + 1, 0), cost + delta);
                self.stack.pop();
                self.value[c] -= l.price * f64::from(take);
                self.cap[c] += take;
                self.weight[c] = old_w;
                self.shipping[c] = old_s;
                self.floor[c] = old_f;
                self.uncharge_late(c, old_late);
            }
        }
    }

    /// Phase B of [`Self::step`]: the line at holders not shipping at line start (from the
    /// `b_from`th), cheapest alone first, each opening a new shipment.
    #[inline]
    fn step_new(&mut self, ctx: &Ctx<'_>, l: &AtLine, rem: u32, b_from: usize, cost: f64) {
        if self.open.len() < ctx.policy.max_shipments as usize {
            let split = self.split_cost(ctx);
            for b in b_from..self.sorted[l.pos].len() {
                let Ranked {
                    alone: key,
                    candidate: c,
                    ats,
                } = self.ranked(l.pos, b);
                let c = c as usize;
                if (self.open_rank[c] as usize) < l.open_start {
                    continue;
                }
                if cost + split + key + l.unit_lb * f64::from(rem - 1) + l.rest_lb
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
                    let new_weight = l.w * f64::from(take);
                    let new_floor = self.floor_of(ctx, l.pos, c, take);
                    let (kg, new_ship) = if take == 1 {
                        // Ranked with the line: the same quote, at the same weight and floor.
                        (l.kg1, self.held[l.pos * l.nc + c].ship1)
                    } else {
                        let kg = billable_kg(new_weight);
                        (kg, ctx.ship.bound(cand, kg, new_floor))
                    };
                    debug_assert_eq!(
                        new_ship.to_bits(),
                        ctx.ship.bound(cand, kg, new_floor).to_bits()
                    );
                    let reach = new_weight + l.w * f64::from(rem - take) + l.rest_w;
                    let late = self.later(ctx, c, (kg, reach), new_floor);
                    let delta = split
                        + cand.cost_per_shipment
                        + self.held[l.pos * l.nc + c].unit * f64::from(take)
                        + new_ship
                        + late;
                    let left = rem - take;
                    let bound = cost + delta + l.left_lb * f64::from(left) + l.rest_lb;
                    if bound >= self.best_cost - EPS {
                        continue;
                    }
                    if self.out_of_budget {
                        self.abandon(bound);
                        continue;
                    }
                    let old_late = self.charge_late(ctx, c, late);
                    self.open_rank[c] = self.open.len() as u32;
                    self.open.push(c as u32);
                    self.weight[c] = new_weight;
                    self.shipping[c] = new_ship;
                    self.floor[c] = new_floor;
                    self.value[c] = l.price * f64::from(take);
                    self.cap[c] -= take;
                    self.stack.push(Take {
                        line: l.pos as u32,
                        candidate: c as u32,
                        units: take,
                    });
                    self.descend(ctx, l, left, (l.open_start, b + 1), cost + delta);
                    self.stack.pop();
                    self.cap[c] += take;
                    self.value[c] = 0.0;
                    self.weight[c] = 0.0;
                    self.shipping[c] = 0.0;
                    self.floor[c] = NO_FLOOR;
                    self.open.pop();
                    self.open_rank[c] = CLOSED;
                    self.uncharge_late(c, old_late);
                }
            }
        }
    }

    /// After `take` units of line `l`: the next line when the line is done (or, for an
    /// unsplittable line, with the rest backordered), else more of this line from `next`.
    #[inline]
    fn descend(&mut self, ctx: &Ctx<'_>, l: &AtLine, left: u32, next: (usize, usize), cost: f64) {
        if left == 0 {
            self.start_line(ctx, l.pos + 1, cost);
        } else if l.whole {
            self.start_line(ctx, l.pos + 1, cost + l.bp * f64::from(left));
        } else {
            self.step(ctx, l.pos, left, next.0, next.1, cost);
        }
    }
}

/// What [`Search::step`] knows of the line it decides: its place, unit weight, price, its
/// cheapest unit cost and the lower bound and weight of the lines after it.
struct AtLine {
    pos: usize,
    nc: usize,
    w: f64,
    /// Billable kg of one unit.
    kg1: u32,
    unit_lb: f64,
    rest_lb: f64,
    rest_w: f64,
    open_start: usize,
    whole: bool,
    bp: f64,
    left_lb: f64,
    price: f64,
}

/// Only the cheapest few holders are usually reached before the bound cuts the scan: sorts
/// those now (the rest when a scan first gets there); returns how many are in order.
fn sort_head(sorted: &mut [Ranked]) -> usize {
    if sorted.len() > SORTED_HEAD {
        sorted.select_nth_unstable_by(SORTED_HEAD, by_key);
        sorted[..SORTED_HEAD].sort_unstable_by(by_key);
        SORTED_HEAD
    } else {
        sorted.sort_unstable_by(by_key);
        sorted.len()
    }
}

/// Zone band `band`'s rate floor ([`Shipper::affine_floor`]), asked once per order and band.
fn band_floor(floors: &mut Vec<(f64, f64)>, ship: &Shipper<'_>, band: usize) -> (f64, f64) {
    grow(floors, band + 1, (f64::NAN, f64::NAN));
    if floors[band].0.is_nan() {
        floors[band] = ship.affine_floor(band);
    }
    floors[band]
}

/// The units the `j + 1` best-stocked holders of `line` give it together (at most its
/// quantity), for each `j < TOP`; `stock` is a reused buffer.
fn cover_of(line: &LineCandidates, stock: &mut Vec<u32>) -> [u32; TOP] {
    let qty = line.qty;
    if qty <= 1 || line.holders.is_empty() {
        return [qty.min(line.holders.len() as u32); TOP];
    }
    stock.clear();
    stock.extend(line.holders.iter().map(|h| h.ats));
    let top = TOP.min(stock.len());
    if stock.len() > top {
        stock.select_nth_unstable_by(top - 1, |a, b| b.cmp(a));
    }
    stock[..top].sort_unstable_by(|a, b| b.cmp(a));
    let mut cover = [0u32; TOP];
    let mut sum = 0u32;
    for (j, c) in cover.iter_mut().enumerate() {
        sum = sum.saturating_add(stock.get(j).copied().unwrap_or(0));
        *c = sum.min(qty);
    }
    cover
}

/// Grows `v` to at least `n` entries of `value` (never shrinks it).
#[inline]
fn grow<T: Clone>(v: &mut Vec<T>, n: usize, value: T) {
    if v.len() < n {
        v.resize(n, value);
    }
}
