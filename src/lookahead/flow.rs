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
//! **Solver.** Successive shortest paths (Dijkstra with potentials) on the dense bipartite
//! graph, with the lost sale as one more source of unbounded supply at price `p`: each
//! augmentation empties a node, fills a region or cancels a flow, so there are about m + n of
//! them, each O(m·n).
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
/// left node i; `filled[j]` what reached region j.
struct Flow {
    x: Vec<f64>,
    out: Vec<f64>,
    filled: Vec<f64>,
}

impl Flow {
    fn new(t: &Transport) -> Flow {
        let (m, n) = (t.supply.len(), t.demand.len());
        Flow {
            x: vec![0.0; (m + 1) * n],
            out: vec![0.0; m + 1],
            filled: vec![0.0; n],
        }
    }

    fn left(&self, t: &Transport, i: usize) -> f64 {
        if i == t.supply.len() {
            f64::INFINITY
        } else {
            t.supply[i] - self.out[i]
        }
    }

    /// Sends each region's demand, in order, from its cheapest source while that source has
    /// stock (on healthy stock, all of it: no search is needed). Every unit then flows on its
    /// region's cheapest arc, so the flow is of least cost for its amount, and potentials 0 for
    /// the sources and each region's cheapest cost keep every reduced cost ≥ 0 — where the
    /// shortest paths take over.
    fn cheapest_first(&mut self, t: &Transport, region_pot: &mut [f64]) {
        let (m, n) = (t.supply.len(), t.demand.len());
        for j in 0..n {
            let (mut best, mut cost) = (m, t.lost);
            for i in 0..m {
                let c = t.c(i, j);
                if c < cost {
                    (best, cost) = (i, c);
                }
            }
            region_pot[j] = cost;
            let amount = (t.demand[j] - self.filled[j]).min(self.left(t, best));
            if amount > EPS {
                self.x[best * n + j] += amount;
                self.out[best] += amount;
                self.filled[j] += amount;
            }
        }
    }

    /// Successive shortest paths until every region's demand is met (the lost-sale source
    /// always can).
    fn run(mut self, t: &Transport) -> Flow {
        let (m, n) = (t.supply.len(), t.demand.len());
        // Potentials: sources 0..=m, then regions.
        let mut pot = vec![0.0; m + 1 + n];
        self.cheapest_first(t, &mut pot[m + 1..]);
        let mut path = Path::new(m + 1, n);
        while let Some(j) = path.shortest(t, &self, &pot) {
            let amount = path.bottleneck(t, &self, j);
            if amount.is_nan() || amount <= EPS {
                break;
            }
            path.augment(t, &mut self, j, amount);
            let reach = path.dist_region[j];
            for (k, p) in pot.iter_mut().enumerate() {
                let d = if k <= m {
                    path.dist_source[k]
                } else {
                    path.dist_region[k - m - 1]
                };
                *p += d.min(reach);
            }
        }
        self
    }
}

/// Dijkstra's state over the residual graph: sources 0..=m (the lost sale last) and regions.
struct Path {
    dist_source: Vec<f64>,
    dist_region: Vec<f64>,
    /// The source each region was reached from.
    from_source: Vec<usize>,
    /// The region each source was reached from (a cancelled flow), `usize::MAX` for a start.
    from_region: Vec<usize>,
    done_source: Vec<bool>,
    done_region: Vec<bool>,
}

impl Path {
    fn new(sources: usize, regions: usize) -> Path {
        Path {
            dist_source: vec![0.0; sources],
            dist_region: vec![0.0; regions],
            from_source: vec![0; regions],
            from_region: vec![usize::MAX; sources],
            done_source: vec![false; sources],
            done_region: vec![false; regions],
        }
    }

    /// The region with unmet demand nearest (reduced costs) to a source with stock left, or
    /// `None` when every demand is met. Dense Dijkstra: O((m + n)²) per call.
    fn shortest(&mut self, t: &Transport, f: &Flow, pot: &[f64]) -> Option<usize> {
        let (m, n) = (t.supply.len(), t.demand.len());
        for i in 0..=m {
            self.dist_source[i] = if f.left(t, i) > EPS {
                0.0
            } else {
                f64::INFINITY
            };
            self.from_region[i] = usize::MAX;
            self.done_source[i] = false;
        }
        self.dist_region.fill(f64::INFINITY);
        self.done_region.fill(false);
        loop {
            // The nearest unsettled vertex (ties: sources first, lowest index: deterministic).
            let mut best = (f64::INFINITY, usize::MAX, false);
            for i in 0..=m {
                if !self.done_source[i] && self.dist_source[i] < best.0 {
                    best = (self.dist_source[i], i, true);
                }
            }
            for j in 0..n {
                if !self.done_region[j] && self.dist_region[j] < best.0 {
                    best = (self.dist_region[j], j, false);
                }
            }
            let (d, k, is_source) = best;
            if !d.is_finite() {
                return None;
            }
            if is_source {
                self.done_source[k] = true;
                for j in 0..n {
                    let c = t.c(k, j);
                    if self.done_region[j] || !c.is_finite() {
                        continue;
                    }
                    let reduced = (c + pot[k] - pot[m + 1 + j]).max(0.0);
                    if d + reduced < self.dist_region[j] {
                        self.dist_region[j] = d + reduced;
                        self.from_source[j] = k;
                    }
                }
            } else {
                self.done_region[k] = true;
                if t.demand[k] - f.filled[k] > EPS {
                    return Some(k);
                }
                // Back along a flow: cancel units sent from source i to region k.
                for i in 0..=m {
                    if self.done_source[i] || f.x[i * n + k] <= EPS {
                        continue;
                    }
                    let reduced = (-t.c(i, k) + pot[m + 1 + k] - pot[i]).max(0.0);
                    if d + reduced < self.dist_source[i] {
                        self.dist_source[i] = d + reduced;
                        self.from_region[i] = k;
                    }
                }
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
    fn augment(&self, t: &Transport, f: &mut Flow, j: usize, amount: f64) {
        let n = t.demand.len();
        f.filled[j] += amount;
        let mut region = j;
        loop {
            let i = self.from_source[region];
            f.x[i * n + region] += amount;
            match self.from_region[i] {
                usize::MAX => {
                    f.out[i] += amount;
                    return;
                }
                back => {
                    f.x[i * n + back] -= amount;
                    if f.x[i * n + back] < EPS {
                        f.x[i * n + back] = 0.0;
                    }
                    region = back;
                }
            }
        }
    }
}

/// The least optimal duals (λ per node, v per region) given an optimal flow: longest paths from
/// a zero reference over the constraints complementary slackness fixes.
fn least_duals(t: &Transport, f: &Flow) -> (Vec<f64>, Vec<f64>) {
    let (m, n) = (t.supply.len(), t.demand.len());
    let mut lambda = vec![0.0; m];
    let mut v = vec![f64::NEG_INFINITY; n];
    let tol = |x: f64| EPS * (1.0 + x.abs());
    for _round in 0..(m + n + 2) {
        let mut changed = false;
        // v(j) ≥ p where demand goes unmet, v(j) ≥ λ(i) + c(i,j) where units flow.
        for j in 0..n {
            let mut best = v[j];
            if f.x[m * n + j] > EPS {
                best = best.max(t.lost);
            }
            for i in 0..m {
                if f.x[i * n + j] > EPS {
                    best = best.max(lambda[i] + t.c(i, j));
                }
            }
            if best > v[j] + tol(best) || (v[j] == f64::NEG_INFINITY && best.is_finite()) {
                v[j] = best;
                changed = true;
            }
        }
        // λ(i) ≥ v(j) − c(i,j) on every arc (and ≥ 0).
        for i in 0..m {
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
        let mut seed = 7u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % 10_000) as f64 / 10_000.0
        };
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
}
