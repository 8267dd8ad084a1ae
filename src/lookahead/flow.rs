//! The transportation LP of one SKU, solved as a min-cost flow, and its canonical duals.
//!
//! ```text
//! min  Σᵢⱼ c(i,j)·x(i,j) + p·Σⱼ u(j)
//! s.t. Σᵢ x(i,j) + u(j) = d(j)      (v(j), free)   every region j
//!      Σⱼ x(i,j)        ≤ s(i)      (λ(i) ≥ 0)     every node i
//!      x, u ≥ 0
//! ```
//! `s(i)` is what node i has to sell, `d(j)` the demand expected in region j over the horizon,
//! `c(i,j)` the cost of sending one unit (no arc where i cannot ship to j) and `p` the price of
//! a unit not sold (the backorder penalty). Its dual is `max Σ d·v − Σ s·λ` subject to
//! `v(j) − λ(i) ≤ c(i,j)`, `v(j) ≤ p`, `λ ≥ 0`: λ(i) is the opportunity cost of a unit at node i.
//!
//! **Solver.** Successive shortest paths (Dijkstra with potentials) on the bipartite graph,
//! with the lost sale as one more source of unbounded supply at price `p`: each augmentation
//! empties a node, fills a region or cancels a flow, so there are about m + n of them. A node
//! with stock left stays at distance and potential 0, so only the nodes already emptied are
//! searched one by one (regions through a heap): a search costs O((n + e·n)·log n) for e
//! emptied nodes, plus O(m) for a region whose cheapest node was just emptied — on a SKU held
//! at 2,000 stores for 30 regions, or at 5 nodes for 1,700 regions, far less than the
//! O((m + n)²) of a dense Dijkstra over every node.
//!
//! **Which duals.** These LPs are degenerate (one optimum, many dual solutions). fulfil takes
//! the *least* optimal dual vector: the optimal duals are the solutions of difference
//! constraints fixed by complementary slackness with the optimal flow (`v(j) − λ(i) = c(i,j)`
//! where units flow, `λ(i) = 0` where a node keeps stock, `v(j) = p` where demand goes unmet,
//! and the dual constraints), a set closed under componentwise min, so it has a least element —
//! found by longest paths from a zero reference (a Bellman-Ford pass). It is the same whichever
//! optimal flow the solver found, so prices are reproducible; and it is the conservative choice:
//! a node's price is positive only where every optimal dual says so (the LP proves its stock
//! scarce), so where stock is healthy lookahead decides as the myopic router does.

// Dense matrices indexed `i * n + j` beside per-node and per-region vectors: index loops read
// as the formulas do.
#![allow(clippy::needless_range_loop)]

/// Flows below this are zero (amounts are units, costs money; both well above it).
const EPS: f64 = 1e-9;

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

/// One SKU's transportation problem.
#[derive(Clone, Debug, Default)]
pub struct Transport {
    /// Units each node can sell (> 0).
    pub supply: Vec<f64>,
    /// Units expected in each region over the horizon (> 0).
    pub demand: Vec<f64>,
    /// `cost[i * demand.len() + j]`: one unit from node i to region j (`f64::INFINITY`: no arc).
    pub cost: Vec<f64>,
    /// The price of a unit of demand left unmet.
    pub lost: f64,
}

/// An optimal flow and the least optimal duals.
#[derive(Clone, Debug, PartialEq)]
pub struct Solved {
    /// λ(i) ≥ 0 per node: the opportunity cost of one of its units.
    pub node_price: Vec<f64>,
    /// v(j) per region: what one more unit of demand there would cost.
    pub region_price: Vec<f64>,
    /// The LP's optimal cost.
    pub cost: f64,
    /// Units sent from each node.
    pub shipped: Vec<f64>,
}

impl Transport {
    fn c(&self, i: usize, j: usize) -> f64 {
        if i == self.supply.len() {
            self.lost
        } else {
            self.cost[i * self.demand.len() + j]
        }
    }

    /// Solves the LP: an optimal flow and the least optimal duals.
    pub fn solve(&self) -> Solved {
        let flow = Flow::new(self).run(self);
        let (node_price, region_price) = least_duals(self, &flow);
        let m = self.supply.len();
        let n = self.demand.len();
        let mut cost = 0.0;
        for i in 0..=m {
            for j in 0..n {
                let x = flow.x[i * n + j];
                if x > 0.0 {
                    cost += x * self.c(i, j);
                }
            }
        }
        Solved {
            node_price,
            region_price,
            cost,
            shipped: (0..m).map(|i| flow.out[i]).collect(),
        }
    }
}

/// The flow of a solve: `x[i * n + j]` for nodes 0..m and the lost-sale source m; `out[i]` what
/// left node i; `filled[j]` what reached region j; `users[j]` the sources with units flowing to
/// region j (the residual graph's backward arcs, kept so no step scans every node).
struct Flow {
    x: Vec<f64>,
    out: Vec<f64>,
    filled: Vec<f64>,
    users: Vec<Vec<usize>>,
}

impl Flow {
    fn new(t: &Transport) -> Flow {
        let (m, n) = (t.supply.len(), t.demand.len());
        Flow {
            x: vec![0.0; (m + 1) * n],
            out: vec![0.0; m + 1],
            filled: vec![0.0; n],
            users: vec![Vec::new(); n],
        }
    }

    fn left(&self, t: &Transport, i: usize) -> f64 {
        if i == t.supply.len() {
            f64::INFINITY
        } else {
            t.supply[i] - self.out[i]
        }
    }

    /// A source with stock left (the lost sale always has).
    fn free(&self, t: &Transport, i: usize) -> bool {
        self.left(t, i) > EPS
    }

    /// Adds `amount` (of either sign) to the flow from `i` to `j`, keeping `users` current.
    fn add(&mut self, n: usize, i: usize, j: usize, amount: f64) {
        let x = &mut self.x[i * n + j];
        let was = *x > 0.0;
        *x += amount;
        if *x < EPS {
            *x = 0.0;
        }
        match (was, *x > 0.0) {
            (false, true) => self.users[j].push(i),
            (true, false) => self.users[j].retain(|&k| k != i),
            _ => {}
        }
    }

    /// Successive shortest paths until every region's demand is met (the lost-sale source
    /// always can).
    fn run(mut self, t: &Transport) -> Flow {
        let mut s = Search::new(t);
        s.cheapest_first(t, &mut self);
        while let Some(j) = s.shortest(t, &self) {
            let amount = s.bottleneck(t, &self, j);
            if amount.is_nan() || amount <= EPS {
                break;
            }
            s.reprice(j);
            s.augment(t, &mut self, j, amount);
        }
        self
    }
}

/// Dijkstra with potentials over the residual graph, sources 0..=m (the lost sale last) and
/// regions. A source with stock left is always at distance 0 and keeps potential 0, so a
/// region's nearest free source is its cheapest free one: each region keeps its sources sorted
/// remembers its cheapest free source and looks again only when that one is emptied (a source
/// never refills: paths start at a free source and only pass through the others). Only emptied
/// sources are searched one by one, and the regions through a heap, so a search costs
/// O((n + e·n)·log n) for e emptied sources reached, not O((m + n)²).
struct Search {
    /// Per region, its cheapest source with stock left (ties: lowest index; m: the lost sale).
    cheapest: Vec<usize>,
    pot_source: Vec<f64>,
    pot_region: Vec<f64>,
    dist_source: Vec<f64>,
    dist_region: Vec<f64>,
    /// The source each region was reached from.
    from_source: Vec<usize>,
    /// The region each emptied source was reached from.
    from_region: Vec<usize>,
    done_source: Vec<bool>,
    done_region: Vec<bool>,
    /// Emptied sources reached in this search.
    reached: Vec<usize>,
    /// Emptied sources (their potentials move with every search).
    emptied: Vec<usize>,
    /// Vertices to settle, nearest first (stale entries are skipped).
    heap: BinaryHeap<Reverse<Near>>,
}

/// A vertex's tentative distance in the search's heap: (distance, kind, index).
#[derive(Clone, Copy, Debug)]
struct Near(f64, u8, usize);

const SOURCE: u8 = 0;
const REGION: u8 = 1;

impl PartialEq for Near {
    fn eq(&self, other: &Near) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Near {}

impl PartialOrd for Near {
    fn partial_cmp(&self, other: &Near) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Near {
    fn cmp(&self, other: &Near) -> Ordering {
        self.0
            .total_cmp(&other.0)
            .then(self.1.cmp(&other.1))
            .then(self.2.cmp(&other.2))
    }
}

impl Search {
    fn new(t: &Transport) -> Search {
        let (m, n) = (t.supply.len(), t.demand.len());
        Search {
            cheapest: vec![usize::MAX; n],
            pot_source: vec![0.0; m + 1],
            pot_region: vec![0.0; n],
            dist_source: vec![f64::INFINITY; m + 1],
            dist_region: vec![0.0; n],
            from_source: vec![0; n],
            from_region: vec![usize::MAX; m + 1],
            done_source: vec![false; m + 1],
            done_region: vec![false; n],
            reached: Vec::new(),
            emptied: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    /// Region `j`'s cheapest source with stock left and its cost (the lost sale when no node is
    /// cheaper).
    fn cheapest_free(&mut self, t: &Transport, f: &Flow, j: usize) -> (usize, f64) {
        let known = self.cheapest[j];
        if known == usize::MAX || !f.free(t, known) {
            let mut best = (t.supply.len(), t.lost);
            for i in 0..t.supply.len() {
                let c = t.c(i, j);
                if c < best.1 && f.free(t, i) {
                    best = (i, c);
                }
            }
            self.cheapest[j] = best.0;
        }
        let i = self.cheapest[j];
        (i, t.c(i, j))
    }

    /// Sends each region's demand, in order, from its cheapest source while that source has
    /// stock (on healthy stock, all of it: no search is needed). Every unit then flows on its
    /// region's cheapest arc, so the flow is of least cost for its amount, and potentials 0 for
    /// the sources and each region's cheapest cost keep every reduced cost ≥ 0 — where the
    /// shortest paths take over.
    fn cheapest_first(&mut self, t: &Transport, f: &mut Flow) {
        let n = t.demand.len();
        // Every source is free yet: each region's cheapest of all sets its potential.
        for j in 0..n {
            self.pot_region[j] = self.cheapest_free(t, f, j).1;
        }
        for j in 0..n {
            let (best, cost) = self.cheapest_free(t, f, j);
            if cost > self.pot_region[j] {
                continue; // its cheapest source was emptied by an earlier region
            }
            let amount = (t.demand[j] - f.filled[j]).min(f.left(t, best));
            if amount > EPS {
                f.add(n, best, j, amount);
                f.out[best] += amount;
                f.filled[j] += amount;
                if !f.free(t, best) {
                    self.emptied.push(best);
                }
            }
        }
    }

    /// The region with unmet demand nearest (reduced costs) to a source with stock left, or
    /// `None` when every demand is met.
    fn shortest(&mut self, t: &Transport, f: &Flow) -> Option<usize> {
        let n = t.demand.len();
        for &i in &self.reached {
            self.dist_source[i] = f64::INFINITY;
            self.from_region[i] = usize::MAX;
            self.done_source[i] = false;
        }
        self.reached.clear();
        for j in 0..n {
            let (i, c) = self.cheapest_free(t, f, j);
            self.dist_region[j] = (c - self.pot_region[j]).max(0.0);
            self.from_source[j] = i;
            self.done_region[j] = false;
        }
        self.heap.clear();
        self.heap
            .extend((0..n).map(|j| Reverse(Near(self.dist_region[j], REGION, j))));
        // The nearest unsettled vertex (ties: emptied sources first, then the lowest index:
        // deterministic).
        while let Some(Reverse(Near(d, kind, k))) = self.heap.pop() {
            if kind == SOURCE {
                if !self.done_source[k] && d <= self.dist_source[k] {
                    self.settle_source(t, k, d);
                }
                continue;
            }
            if self.done_region[k] || d > self.dist_region[k] {
                continue;
            }
            self.done_region[k] = true;
            if t.demand[k] - f.filled[k] > EPS {
                return Some(k);
            }
            self.settle_region(t, f, k, d);
        }
        None
    }

    /// Relaxes the arcs out of emptied source `i`, settled at distance `d`.
    fn settle_source(&mut self, t: &Transport, i: usize, d: f64) {
        self.done_source[i] = true;
        for j in 0..t.demand.len() {
            let c = t.c(i, j);
            if self.done_region[j] || !c.is_finite() {
                continue;
            }
            let reduced = (c + self.pot_source[i] - self.pot_region[j]).max(0.0);
            if d + reduced < self.dist_region[j] {
                self.dist_region[j] = d + reduced;
                self.from_source[j] = i;
                self.heap.push(Reverse(Near(d + reduced, REGION, j)));
            }
        }
    }

    /// Back along a flow from region `k` (settled at `d`): cancel units an emptied source sent
    /// there (free sources are at distance 0 already).
    fn settle_region(&mut self, t: &Transport, f: &Flow, k: usize, d: f64) {
        for &i in &f.users[k] {
            if f.free(t, i) || self.done_source[i] {
                continue;
            }
            let reduced = (-t.c(i, k) + self.pot_region[k] - self.pot_source[i]).max(0.0);
            if d + reduced < self.dist_source[i] {
                if !self.dist_source[i].is_finite() {
                    self.reached.push(i);
                }
                self.dist_source[i] = d + reduced;
                self.from_region[i] = k;
                self.heap.push(Reverse(Near(d + reduced, SOURCE, i)));
            }
        }
    }

    /// The most that can be sent along the path ending at region `j`.
    fn bottleneck(&self, t: &Transport, f: &Flow, j: usize) -> f64 {
        let n = t.demand.len();
        let mut amount = t.demand[j] - f.filled[j];
        let mut region = j;
        loop {
            let i = self.from_source[region];
            match self.from_region[i] {
                usize::MAX => return amount.min(f.left(t, i)),
                back => {
                    amount = amount.min(f.x[i * n + back]);
                    region = back;
                }
            }
        }
    }

    /// Sends `amount` along the path ending at region `j`.
    fn augment(&mut self, t: &Transport, f: &mut Flow, j: usize, amount: f64) {
        let n = t.demand.len();
        f.filled[j] += amount;
        let mut region = j;
        loop {
            let i = self.from_source[region];
            f.add(n, i, region, amount);
            match self.from_region[i] {
                usize::MAX => {
                    f.out[i] += amount;
                    if !f.free(t, i) {
                        self.emptied.push(i);
                    }
                    return;
                }
                back => {
                    f.add(n, i, back, -amount);
                    region = back;
                }
            }
        }
    }

    /// Moves the potentials by the distances of the search that reached region `j` (capped at
    /// its distance), so reduced costs stay ≥ 0; called before the path is sent, while the
    /// sources emptied are those of earlier paths. Free sources are at 0: potential 0 always.
    fn reprice(&mut self, j: usize) {
        let reach = self.dist_region[j];
        for (p, d) in self.pot_region.iter_mut().zip(&self.dist_region) {
            *p += d.min(reach);
        }
        for &i in &self.emptied {
            self.pot_source[i] += self.dist_source[i].min(reach);
        }
    }
}

/// The least optimal duals (λ per node, v per region) given an optimal flow: longest paths from
/// a zero reference over the constraints complementary slackness fixes. Only nodes that ship
/// carry a bound from one region to another (a node that keeps stock has price 0), so each
/// round reads the flows and the shipping nodes' arcs, not every node's.
fn least_duals(t: &Transport, f: &Flow) -> (Vec<f64>, Vec<f64>) {
    let (m, n) = (t.supply.len(), t.demand.len());
    let mut lambda = vec![0.0; m];
    let mut v = vec![f64::NEG_INFINITY; n];
    let shipping: Vec<usize> = (0..m).filter(|&i| f.out[i] > EPS).collect();
    let tol = |x: f64| EPS * (1.0 + x.abs());
    for _round in 0..(m + n + 2) {
        let mut changed = false;
        // v(j) ≥ p where demand goes unmet, v(j) ≥ λ(i) + c(i,j) where units flow.
        for j in 0..n {
            let mut best = v[j];
            for &i in &f.users[j] {
                best = best.max(if i == m {
                    t.lost
                } else {
                    lambda[i] + t.c(i, j)
                });
            }
            if best > v[j] + tol(best) || (v[j] == f64::NEG_INFINITY && best.is_finite()) {
                v[j] = best;
                changed = true;
            }
        }
        // λ(i) ≥ v(j) − c(i,j) on every arc (and ≥ 0).
        for &i in &shipping {
            let mut best = lambda[i];
            for j in 0..n {
                let c = t.c(i, j);
                if c.is_finite() && v[j].is_finite() {
                    best = best.max(v[j] - c);
                }
            }
            if best > lambda[i] + tol(best) {
                lambda[i] = best;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    // Rounding aside, a node that keeps stock has price 0 and no price exceeds p.
    for i in 0..m {
        if t.supply[i] - f.out[i] > EPS * (1.0 + t.supply[i]) {
            lambda[i] = 0.0;
        }
        lambda[i] = lambda[i].clamp(0.0, t.lost.max(0.0));
    }
    for x in &mut v {
        if !x.is_finite() {
            *x = 0.0;
        }
    }
    (lambda, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reproducible stream of numbers in [0, 1) (xorshift) for random instances.
    fn uniform(mut seed: u64) -> impl FnMut() -> f64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 10_000) as f64 / 10_000.0
        }
    }

    fn t(supply: &[f64], demand: &[f64], cost: &[f64], lost: f64) -> Transport {
        Transport {
            supply: supply.to_vec(),
            demand: demand.to_vec(),
            cost: cost.to_vec(),
            lost,
        }
    }

    #[test]
    fn a_scarce_cheap_node_is_priced_at_what_its_unit_saves() {
        // One region wants 10; A sells 5 at 1 a unit, B 10 at 3. A ships 5, B 5: v = 3, λ_A = 2.
        let s = t(&[5.0, 10.0], &[10.0], &[1.0, 3.0], 250.0).solve();
        assert!((s.cost - 20.0).abs() < 1e-9, "{s:?}");
        assert_eq!(s.node_price, vec![2.0, 0.0]);
        assert_eq!(s.region_price, vec![3.0]);
        assert_eq!(s.shipped, vec![5.0, 5.0]);
    }

    #[test]
    fn degenerate_duals_are_the_least() {
        // Supply exactly meets demand: any v in [3, 250] is optimal; the least is taken.
        let s = t(&[5.0, 5.0], &[10.0], &[1.0, 3.0], 250.0).solve();
        assert_eq!(s.node_price, vec![2.0, 0.0]);
        assert_eq!(s.region_price, vec![3.0]);
    }

    #[test]
    fn unmet_demand_prices_every_unit_at_the_lost_sale() {
        let s = t(&[2.0, 3.0], &[10.0], &[1.0, 4.0], 20.0).solve();
        assert!((s.cost - (2.0 + 12.0 + 5.0 * 20.0)).abs() < 1e-9);
        assert_eq!(s.node_price, vec![19.0, 16.0]);
        assert_eq!(s.region_price, vec![20.0]);
    }

    #[test]
    fn plenty_of_stock_costs_nothing_to_use() {
        let s = t(&[100.0, 100.0], &[3.0, 4.0], &[1.0, 2.0, 2.0, 1.0], 50.0).solve();
        assert_eq!(s.node_price, vec![0.0, 0.0]);
        assert_eq!(s.region_price, vec![1.0, 1.0]);
    }

    #[test]
    fn missing_arcs_and_cancelled_flows_reach_the_optimum() {
        // A (6 units) is cheapest for both regions; region 1 can only be served by A or lost.
        // Greedy would give A's units to region 0 (cost 1 < 2); the optimum keeps 4 for region 1.
        let inf = f64::INFINITY;
        let s = t(&[6.0, 10.0], &[5.0, 4.0], &[1.0, 2.0, 3.0, inf], 30.0).solve();
        // A: 2 to region 0 and 4 to region 1; B: 3 to region 0.
        assert!((s.cost - (2.0 + 8.0 + 9.0)).abs() < 1e-9, "{s:?}");
        assert_eq!(s.region_price[0], 3.0);
        assert_eq!(s.node_price, vec![2.0, 0.0]);
        assert_eq!(s.region_price[1], 4.0);
    }

    /// The LP's optimum equals its dual objective at the duals returned (strong duality), and
    /// the duals are feasible: on random instances.
    #[test]
    fn strong_duality_on_random_instances() {
        let mut rnd = uniform(7);
        for _ in 0..300 {
            let m = 1 + (rnd() * 6.0) as usize;
            let n = 1 + (rnd() * 8.0) as usize;
            let supply: Vec<f64> = (0..m).map(|_| (rnd() * 10.0).floor() + 1.0).collect();
            let demand: Vec<f64> = (0..n).map(|_| rnd() * 8.0 + 0.1).collect();
            let cost: Vec<f64> = (0..m * n)
                .map(|_| {
                    if rnd() < 0.15 {
                        f64::INFINITY
                    } else {
                        (rnd() * 20.0).round()
                    }
                })
                .collect();
            let tr = t(&supply, &demand, &cost, 25.0);
            let s = tr.solve();
            let dual: f64 = demand
                .iter()
                .zip(&s.region_price)
                .map(|(d, v)| d * v)
                .sum::<f64>()
                - supply
                    .iter()
                    .zip(&s.node_price)
                    .map(|(s, l)| s * l)
                    .sum::<f64>();
            assert!(
                (dual - s.cost).abs() < 1e-6 * (1.0 + s.cost),
                "{tr:?} {s:?}"
            );
            for i in 0..m {
                assert!(s.node_price[i] >= 0.0);
                for j in 0..n {
                    let c = cost[i * n + j];
                    assert!(
                        s.region_price[j] - s.node_price[i] <= c + 1e-6,
                        "{tr:?} {s:?}"
                    );
                }
            }
            for v in &s.region_price {
                assert!(*v <= 25.0 + 1e-9);
            }
        }
    }

    /// Against HiGHS (through good_lp) on random instances shaped like a SKU held at many
    /// stores with little stock each: the same optimum, and the duals returned are the least
    /// optimal ones — the unique minimiser of Σλ + Σv over the optimal dual face.
    #[test]
    fn the_least_duals_match_an_lp_solver() {
        use good_lp::solvers::highs::highs;
        use good_lp::{Expression, ProblemVariables, Solution, SolverModel, constraint, variable};
        let mut rnd = uniform(11);
        for round in 0..60 {
            let m = 1 + (rnd() * 40.0) as usize;
            let n = 1 + (rnd() * 7.0) as usize;
            let supply: Vec<f64> = (0..m).map(|_| (rnd() * 4.0).floor() + 1.0).collect();
            let demand: Vec<f64> = (0..n).map(|_| rnd() * 12.0 + 0.5).collect();
            let cost: Vec<f64> = (0..m * n)
                .map(|_| match rnd() {
                    r if r < 0.2 => f64::INFINITY,
                    _ => (rnd() * 12.0).round() + 4.0,
                })
                .collect();
            let lost = 30.0;
            let tr = t(&supply, &demand, &cost, lost);
            let s = tr.solve();
            // The dual LP, first for its optimum, then for the least vector on that face.
            let dual = |least: Option<f64>| {
                let mut vars = ProblemVariables::new();
                let lambda: Vec<_> = (0..m).map(|_| vars.add(variable().min(0.0))).collect();
                let v: Vec<_> = (0..n)
                    .map(|_| vars.add(variable().min(-1e4).max(lost)))
                    .collect();
                let objective: Expression = demand
                    .iter()
                    .zip(&v)
                    .map(|(d, x)| *d * *x)
                    .sum::<Expression>()
                    - supply
                        .iter()
                        .zip(&lambda)
                        .map(|(s, l)| *s * *l)
                        .sum::<Expression>();
                let mut p = match least {
                    None => vars.maximise(objective.clone()).using(highs),
                    Some(_) => {
                        let total: Expression =
                            lambda.iter().chain(&v).map(|x| Expression::from(*x)).sum();
                        vars.minimise(total).using(highs)
                    }
                };
                if let Some(opt) = least {
                    p = p.with(constraint!(
                        objective.clone() >= opt - 1e-9 * (1.0 + opt.abs())
                    ));
                }
                for i in 0..m {
                    for j in 0..n {
                        if cost[i * n + j].is_finite() {
                            p = p.with(constraint!(v[j] - lambda[i] <= cost[i * n + j]));
                        }
                    }
                }
                let sol = p.solve().expect("the dual LP is feasible and bounded");
                let l: Vec<f64> = lambda.iter().map(|x| sol.value(*x)).collect();
                let vv: Vec<f64> = v.iter().map(|x| sol.value(*x)).collect();
                let obj = demand.iter().zip(&vv).map(|(d, x)| d * x).sum::<f64>()
                    - supply.iter().zip(&l).map(|(s, x)| s * x).sum::<f64>();
                (l, vv, obj)
            };
            let (_, _, optimum) = dual(None);
            assert!(
                (optimum - s.cost).abs() < 1e-6 * (1.0 + s.cost),
                "round {round}: {tr:?} {s:?} vs {optimum}"
            );
            let (l, v, _) = dual(Some(optimum));
            for i in 0..m {
                assert!(
                    (l[i] - s.node_price[i]).abs() < 1e-4,
                    "round {round} node {i}: {tr:?} {s:?} vs {l:?}"
                );
            }
            for j in 0..n {
                assert!(
                    (v[j] - s.region_price[j]).abs() < 1e-4,
                    "round {round} region {j}: {tr:?} {s:?} vs {v:?}"
                );
            }
        }
    }
}
