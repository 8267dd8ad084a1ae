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
use crate::route::Plan;
use crate::snapshot::Snapshot;

/// One plan an order may take, with its real cost and what it uses: (resource, units).
#[derive(Clone, Debug)]
pub(crate) struct Column {
    pub plan: Plan,
    pub cost: f64,
    pub uses: Vec<(usize, u32)>,
}

/// The plans collected for every order.
pub(crate) struct Pool {
    pub columns: Vec<Vec<Column>>,
}

impl Pool {
    pub fn new(orders: usize) -> Pool {
        Pool {
            columns: vec![Vec::new(); orders],
        }
    }

    /// Adds a plan for order `o` unless it is already there; returns its index.
    pub fn add(
        &mut self,
        snapshot: &Snapshot,
        resources: &Resources,
        o: usize,
        plan: &Plan,
        cost: impl FnOnce() -> f64,
    ) -> usize {
        if let Some(i) = self.columns[o].iter().position(|c| c.plan == *plan) {
            return i;
        }
        let mut uses = Vec::new();
        resources.for_each_use(snapshot, o, plan, |r, q| uses.push((r, q)));
        self.columns[o].push(Column {
            plan: plan.clone(),
            cost: cost(),
            uses,
        });
        self.columns[o].len() - 1
    }

    pub fn len(&self) -> usize {
        self.columns.iter().map(Vec::len).sum()
    }
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let up = parent[parent[x as usize] as usize];
        parent[x as usize] = up;
        x = up;
    }
    x
}

/// Chooses a column per order, starting from `incumbent` (column index per order, jointly
/// feasible). Returns the new choice; every group whose MIP fails or finds nothing better keeps
/// the incumbent's columns, so the result is never worse.
pub(crate) fn solve(
    pool: &Pool,
    resources: &Resources,
    incumbent: &[usize],
    deadline: Instant,
) -> Vec<usize> {
    let n = pool.columns.len();
    let mut choice = incumbent.to_vec();
    // Limits left once fixed orders are counted.
    let mut left: HashMap<usize, i64> = HashMap::new();
    let free: Vec<usize> = (0..n).filter(|&o| pool.columns[o].len() > 1).collect();
    if free.is_empty() {
        return choice;
    }
    for o in 0..n {
        if pool.columns[o].len() == 1 {
            for &(r, q) in &pool.columns[o][0].uses {
                *left
                    .entry(r)
                    .or_insert(i64::from(resources.limit[r])) -= i64::from(q);
            }
        }
    }
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
        groups.entry(find(&mut parent, i as u32)).or_default().push(o);
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.len()));
    let total_free = free.len() as f64;
    let start = Instant::now();
    let budget = deadline.saturating_duration_since(start);
    let left = &left;
    let chosen: Vec<Vec<(usize, usize)>> = groups
        .par_iter()
        .map(|group| {
            // Each group gets time in proportion to its size (at least 50 ms).
            let share = budget.mul_f64(group.len() as f64 / total_free);
            let limit = share.max(Duration::from_millis(50));
            solve_group(pool, resources, left, group, incumbent, limit).unwrap_or_default()
        })
        .collect();
    for group in chosen {
        for (o, c) in group {
            choice[o] = c;
        }
    }
    choice
}

/// The MIP of one group; `None` when HiGHS fails or finds nothing (the caller keeps the
/// incumbent).
fn solve_group(
    pool: &Pool,
    resources: &Resources,
    left: &HashMap<usize, i64>,
    group: &[usize],
    incumbent: &[usize],
    limit: Duration,
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
            let v = vars.add(variable().binary());
            columns.push((o, c, columns.len()));
            initial.push((v, if incumbent[o] == c { 1.0 } else { 0.0 }));
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
    model.set_option("time_limit", limit.as_secs_f64());
    model.set_option("mip_rel_gap", 1e-6);
    let start: Vec<f64> = initial.iter().map(|&(_, x)| x).collect();
    model.set_solution(Some(&start), None, None, None);
    let solved = model.try_solve().ok()?;
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
    (out.len() == group.len()).then_some(out)
}
