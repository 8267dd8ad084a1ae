//! The restricted master: every order picks one of the plans collected for it (its sequential
//! plan, the incumbent's, and every plan a pricing round found), jointly, so that no shared stock
//! or capacity is over-used, at least total cost. A set-partitioning MIP with resource rows, on
//! HiGHS through good_lp.
//!
//! Orders with a single plan are fixed and only take their share of the limits. The rest split
//! into independent groups (orders linked by a resource any of their plans uses); each group is
//! its own small MIP, solved in parallel, warm-started from the incumbent so that it can only
//! improve on it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use good_lp::solvers::highs::highs;
use good_lp::{Expression, ProblemVariables, SolverModel, constraint, variable};
use rayon::prelude::*;

use super::resources::Resources;
use super::run::Run;
use super::solution::Solution;
use crate::route::Plan;
use crate::snapshot::Snapshot;

/// One plan an order may take, with its real cost and what it uses: (resource, units).
#[derive(Clone, Debug)]
pub(crate) struct Column {
    pub plan: Plan,
    pub cost: f64,
    pub uses: Vec<(usize, u32)>,
    /// The last round that generated it or in which the LP used it.
    pub touched: u32,
}

/// The plans collected for every order.
pub(crate) struct Pool {
    pub columns: Vec<Vec<Column>>,
    /// Per order, the cost of backordering all of it: what leaving it to be decided after the
    /// MIP can cost at most. It makes every group MIP feasible.
    pub escape: Vec<f64>,
}

impl Pool {
    pub fn new(escape: Vec<f64>) -> Pool {
        Pool {
            columns: vec![Vec::new(); escape.len()],
            escape,
        }
    }

    /// Adds a plan for order `o` unless it is already there (then marks it as seen in `round`);
    /// returns its index.
    pub fn add(
        &mut self,
        snapshot: &Snapshot,
        resources: &Resources,
        o: usize,
        plan: &Plan,
        round: u32,
        cost: impl FnOnce() -> f64,
    ) -> usize {
        if let Some(i) = self.columns[o].iter().position(|c| c.plan == *plan) {
            self.columns[o][i].touched = self.columns[o][i].touched.max(round);
            return i;
        }
        let mut uses = Vec::new();
        resources.for_each_use(snapshot, o, plan, |r, q| uses.push((r, q)));
        self.columns[o].push(Column {
            plan: plan.clone(),
            cost: cost(),
            uses,
            touched: round,
        });
        self.columns[o].len() - 1
    }

    pub fn len(&self) -> usize {
        self.columns.iter().map(Vec::len).sum()
    }

    /// A pool for the run's orders holding the plans of `first` (the sequential baseline).
    pub fn seeded(run: &Run, first: &Solution) -> Pool {
        let backorder = run.snapshot.policy().backorder_penalty;
        let escape = run.orders.iter().map(|o| backorder * o.units() as f64);
        let mut pool = Pool::new(escape.collect());
        pool.columns_of(run.snapshot, &run.resources, first, 0);
        pool
    }

    /// The index of every plan of `solution` (added where missing, as seen in `round`).
    pub fn columns_of(
        &mut self,
        snapshot: &Snapshot,
        resources: &Resources,
        solution: &Solution,
        round: u32,
    ) -> Vec<usize> {
        solution
            .plans
            .iter()
            .enumerate()
            .map(|(o, plan)| {
                let cost = solution.costs[o];
                self.add(snapshot, resources, o, plan, round, || cost)
            })
            .collect()
    }
}

/// What the orders whose plan is fixed (`fixed[o]`, or their only plan) leave of each resource
/// they use.
fn residual(pool: &Pool, resources: &Resources, fixed: &[Option<usize>]) -> HashMap<usize, i64> {
    let mut left: HashMap<usize, i64> = HashMap::new();
    for (o, cols) in pool.columns.iter().enumerate() {
        let col = match (fixed.get(o).copied().flatten(), cols.as_slice()) {
            (Some(c), _) => &cols[c],
            (None, [only]) => only,
            _ => continue,
        };
        for &(r, q) in &col.uses {
            *left.entry(r).or_insert(i64::from(resources.limit[r])) -= i64::from(q);
        }
    }
    left
}

/// The LP relaxation of the restricted master: every order takes a convex combination of its
/// plans.
pub(crate) struct Relaxation {
    /// The dual price ≥ 0 of every resource row (index, price); others are 0.
    pub prices: Vec<(usize, f64)>,
    /// Per order, the plan the LP takes whole (weight ≥ 0.999), if any.
    pub integral: Vec<Option<usize>>,
}

/// Above this many plans in play, a plan leaves the LP once idle for [`AGE`] rounds.
const LARGE_LP: usize = 60_000;
/// Rounds an idle plan stays in a large LP after it was last generated or used by the LP.
const AGE: u32 = 4;

/// The LP relaxation of the restricted master over the *active* plans: every plan, or in a very
/// large LP those generated or used by the LP in the last few rounds, plus each order's incumbent
/// plan (so the LP is always feasible). Orders with a single active plan are fixed to it and only take their share of the
/// limits; presolve removes the rest of what cannot matter. Plans that fall idle leave the LP
/// (they stay in the pool for the joint MIP), which keeps its size near the contested orders.
pub(crate) fn relax(
    pool: &mut Pool,
    resources: &Resources,
    incumbent: &[usize],
    round: u32,
    deadline: Instant,
) -> Option<Relaxation> {
    let in_play: usize = pool
        .columns
        .iter()
        .filter(|c| c.len() > 1)
        .map(Vec::len)
        .sum();
    let age = if in_play > LARGE_LP { AGE } else { u32::MAX };
    let active = |o: usize, c: usize, col: &Column| {
        c == incumbent[o] || col.touched.saturating_add(age) >= round
    };
    let mut left: HashMap<usize, i64> = HashMap::new();
    let mut vars = ProblemVariables::new();
    let mut objective = Expression::from(0.0);
    let mut rows: HashMap<usize, Expression> = HashMap::new();
    let mut one_each = Vec::new();
    let mut column_of: Vec<(usize, usize)> = Vec::new(); // model column -> (order, plan)
    for (o, cols) in pool.columns.iter().enumerate() {
        let n_active = cols
            .iter()
            .enumerate()
            .filter(|&(c, col)| active(o, c, col))
            .count();
        if n_active < 2 {
            for &(r, q) in &cols[incumbent[o]].uses {
                *left.entry(r).or_insert(i64::from(resources.limit[r])) -= i64::from(q);
            }
            continue;
        }
        let mut pick = Expression::from(0.0);
        for (c, col) in cols
            .iter()
            .enumerate()
            .filter(|&(c, col)| active(o, c, col))
        {
            let v = vars.add(variable().min(0.0));
            column_of.push((o, c));
            objective += col.cost * v;
            pick += v;
            for &(r, q) in &col.uses {
                *rows.entry(r).or_insert_with(|| Expression::from(0.0)) += f64::from(q) * v;
            }
        }
        one_each.push(constraint!(pick == 1.0));
    }
    if one_each.is_empty() {
        return None;
    }
    let limit_of = |r: usize| {
        left.get(&r)
            .copied()
            .unwrap_or(i64::from(resources.limit[r]))
    };
    let mut problem = vars.minimise(objective).using(highs);
    let first_row = one_each.len();
    for c in one_each {
        problem = problem.with(c);
    }
    let mut row_of: Vec<usize> = Vec::with_capacity(rows.len());
    for (r, row) in rows {
        problem = problem.with(constraint!(row <= limit_of(r).max(0) as f64));
        row_of.push(r);
    }
    let mut model = problem.try_into_inner().ok()?;
    model.make_quiet();
    model.set_option("threads", 1);
    if in_play > LARGE_LP {
        // Interior point (then crossover, for exact prices) outpaces simplex on large,
        // degenerate masters.
        model.set_option("solver", "ipm");
        model.set_option("run_crossover", "on");
    }
    model.set_option(
        "time_limit",
        deadline
            .saturating_duration_since(Instant::now())
            .as_secs_f64()
            .max(0.01),
    );
    let solved = model.try_solve().ok()?;
    tracing::debug!(
        columns = column_of.len(),
        rows = first_row + row_of.len(),
        status = ?solved.status(),
        "restricted master LP"
    );
    if solved.status() != highs::HighsModelStatus::Optimal {
        return None;
    }
    let solution = solved.get_solution();
    let duals = solution.dual_rows();
    let x = solution.columns();
    // A ≤ row of a minimisation has a dual ≤ 0: its price is the opposite.
    let prices = row_of
        .iter()
        .enumerate()
        .map(|(i, &r)| (r, (-duals[first_row + i]).max(0.0)))
        .filter(|&(_, p)| p > 0.0)
        .collect();
    let mut integral: Vec<Option<usize>> = incumbent.iter().map(|&c| Some(c)).collect();
    for &(o, _) in &column_of {
        integral[o] = None;
    }
    for (k, &(o, c)) in column_of.iter().enumerate() {
        if x[k] > 1e-6 {
            pool.columns[o][c].touched = round;
        }
        if x[k] >= 0.999 {
            integral[o] = Some(c);
        }
    }
    Some(Relaxation { prices, integral })
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let up = parent[parent[x as usize] as usize];
        parent[x as usize] = up;
        x = up;
    }
    x
}

/// Chooses a plan for every order that `fixed` leaves open (`None`), jointly, given what the
/// fixed ones take. With `warm` (a jointly feasible choice for all orders), each group starts from
/// it and can only improve on it; then `target`, if given, is a total cost of all orders' plans
/// that is good enough: each group stops as soon as it has found its share of the saving that
/// reaches it. Returns the choice; an order stays `None` where its group's MIP failed or found
/// nothing in time.
pub(crate) fn solve(
    pool: &Pool,
    resources: &Resources,
    fixed: &[Option<usize>],
    warm: Option<&[usize]>,
    target: Option<f64>,
    rel_gap: f64,
    deadline: Instant,
) -> Vec<Option<usize>> {
    let n = pool.columns.len();
    let mut choice: Vec<Option<usize>> = (0..n)
        .map(|o| fixed[o].or((pool.columns[o].len() == 1).then_some(0)))
        .collect();
    let free: Vec<usize> = (0..n).filter(|&o| choice[o].is_none()).collect();
    if free.is_empty() {
        return choice;
    }
    // Limits left once fixed orders are counted.
    let left = residual(pool, resources, fixed);
    // Groups of free orders linked by a resource.
    let mut parent: Vec<u32> = (0..free.len() as u32).collect();
    let mut owner: HashMap<usize, u32> = HashMap::new();
    for (i, &o) in free.iter().enumerate() {
        for col in &pool.columns[o] {
            for &(r, _) in &col.uses {
                match owner.get(&r) {
                    Some(&j) => {
                        let (a, b) = (find(&mut parent, i as u32), find(&mut parent, j));
                        if a != b {
                            parent[a as usize] = b;
                        }
                    }
                    None => {
                        owner.insert(r, i as u32);
                    }
                }
            }
        }
    }
    let mut groups: HashMap<u32, Vec<usize>> = HashMap::new();
    for (i, &o) in free.iter().enumerate() {
        groups
            .entry(find(&mut parent, i as u32))
            .or_default()
            .push(o);
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
    let total_free = free.len() as f64;
    tracing::debug!(
        free = free.len(),
        groups = groups.len(),
        largest = groups.first().map_or(0, Vec::len),
        "joint MIP over collected plans"
    );
    let start = Instant::now();
    let budget = deadline.saturating_duration_since(start);
    let left = &left;
    // The saving the target asks for, shared among the groups by their warm cost.
    let cost_of = |o: usize, c: usize| pool.columns[o][c].cost;
    let targets: Vec<Option<f64>> = match (warm, target) {
        (Some(w), Some(target)) => {
            let fixed_cost: f64 = (0..n)
                .filter_map(|o| choice[o].map(|c| cost_of(o, c)))
                .sum();
            let warm_of = |g: &Vec<usize>| g.iter().map(|&o| cost_of(o, w[o])).sum::<f64>();
            let free_warm: f64 = groups.iter().map(warm_of).sum();
            let saving = free_warm - (target - fixed_cost);
            groups
                .iter()
                .map(|g| {
                    let mine = warm_of(g);
                    (free_warm > 0.0 && saving > 0.0).then(|| mine - saving * mine / free_warm)
                })
                .collect()
        }
        _ => vec![None; groups.len()],
    };
    let chosen: Vec<Vec<(usize, usize)>> = groups
        .par_iter()
        .zip(&targets)
        .map(|(group, &target)| {
            // Each group gets time in proportion to its size (at least 50 ms).
            let share = budget.mul_f64(group.len() as f64 / total_free);
            let limit = share.max(Duration::from_millis(50));
            let stop = Stop {
                target,
                rel_gap,
                limit,
            };
            solve_group(pool, resources, left, group, warm, &stop).unwrap_or_default()
        })
        .collect();
    for group in chosen {
        for (o, c) in group {
            choice[o] = Some(c);
        }
    }
    choice
}

/// When a group's MIP stops: a cost good enough (the first solution below it ends the search),
/// a relative gap, a time limit.
struct Stop {
    target: Option<f64>,
    rel_gap: f64,
    limit: Duration,
}

/// The MIP of one group; `None` when HiGHS fails or finds nothing (the caller keeps the
/// incumbent).
fn solve_group(
    pool: &Pool,
    resources: &Resources,
    left: &HashMap<usize, i64>,
    group: &[usize],
    warm: Option<&[usize]>,
    stop: &Stop,
) -> Option<Vec<(usize, usize)>> {
    let limit_of = |r: usize| {
        left.get(&r)
            .copied()
            .unwrap_or(i64::from(resources.limit[r]))
    };
    if group.len() == 1 {
        // One order alone: its cheapest column that fits.
        let o = group[0];
        let best = pool.columns[o]
            .iter()
            .enumerate()
            .filter(|(_, c)| c.uses.iter().all(|&(r, q)| i64::from(q) <= limit_of(r)))
            .min_by(|a, b| a.1.cost.total_cmp(&b.1.cost).then(a.0.cmp(&b.0)))?;
        return Some(vec![(o, best.0)]);
    }
    let mut vars = ProblemVariables::new();
    let mut objective = Expression::from(0.0);
    let mut rows: HashMap<usize, Expression> = HashMap::new();
    let mut most: HashMap<usize, i64> = HashMap::new();
    let mut columns: Vec<(usize, usize, usize)> = Vec::new(); // (order, column, model column)
    let mut one_each = Vec::with_capacity(group.len());
    let mut initial = Vec::new();
    for &o in group {
        let mut pick = Expression::from(0.0);
        let mut heaviest: HashMap<usize, u32> = HashMap::new();
        for (c, col) in pool.columns[o].iter().enumerate() {
            let k = vars.len();
            let v = vars.add(variable().binary());
            columns.push((o, c, k));
            initial.push(if warm.is_some_and(|w| w[o] == c) {
                1.0
            } else {
                0.0
            });
            objective += col.cost * v;
            pick += v;
            for &(r, q) in &col.uses {
                *rows.entry(r).or_insert_with(|| Expression::from(0.0)) += f64::from(q) * v;
                let h = heaviest.entry(r).or_insert(0);
                *h = (*h).max(q);
            }
        }
        for (r, q) in heaviest {
            *most.entry(r).or_insert(0) += i64::from(q);
        }
        // Or leave the order to be decided afterwards on what is left.
        let v = vars.add(variable().binary());
        initial.push(0.0);
        objective += pool.escape[o] * v;
        pick += v;
        one_each.push(constraint!(pick == 1.0));
    }
    let mut problem = vars.minimise(objective).using(highs);
    for c in one_each {
        problem = problem.with(c);
    }
    for (r, row) in rows {
        let cap = limit_of(r);
        // A row that cannot bind whatever the orders choose is left out.
        if most.get(&r).copied().unwrap_or(0) > cap {
            problem = problem.with(constraint!(row <= cap as f64));
        }
    }
    let mut model = problem.try_into_inner().ok()?;
    model.make_quiet();
    model.set_option("threads", 1);
    model.set_option("time_limit", stop.limit.as_secs_f64());
    model.set_option("mip_rel_gap", stop.rel_gap.max(1e-6));
    if let Some(target) = stop.target {
        // HiGHS stops at the first solution that costs less than this.
        model.set_option("objective_target", target);
    }
    if warm.is_some() {
        model.set_solution(Some(&initial), None, None, None);
    }
    let solved = model.try_solve().ok()?;
    tracing::debug!(
        orders = group.len(),
        status = ?solved.status(),
        objective = solved.objective_value(),
        "joint MIP group"
    );
    if solved.primal_solution_status() != highs::HighsSolutionStatus::Feasible {
        return None;
    }
    let solution = solved.get_solution();
    let x = solution.columns();
    let mut out = Vec::with_capacity(group.len());
    for &(o, c, k) in &columns {
        if x[k] > 0.5 {
            out.push((o, c));
        }
    }
    Some(out)
}
