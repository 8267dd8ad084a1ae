//! The joint MIP over collected plans: every order that is not fixed chooses one of its plans,
//! in independent groups solved in parallel.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use good_lp::solvers::highs::highs;
use good_lp::{Constraint, Expression, ProblemVariables, SolverModel, constraint, variable};
use rayon::prelude::*;

use super::Pool;
use crate::batch::resources::Resources;

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
    let groups = partition(pool, &free);
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
    let targets = match (warm, target) {
        (Some(w), Some(target)) => shares(pool, &choice, &groups, w, target),
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

/// The free orders in independent groups (linked by a resource any of their plans uses), the
/// largest first.
fn partition(pool: &Pool, free: &[usize]) -> Vec<Vec<usize>> {
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
    // Largest first; ties by their first order, so the groups come in the same order every run.
    groups.sort_by_key(|g| (std::cmp::Reverse(g.len()), g[0]));
    groups
}

/// Each group's good-enough cost: the saving from the warm choice `warm` that reaches `target`
/// (a total cost of all orders' plans), shared among the groups by their warm cost.
fn shares(
    pool: &Pool,
    choice: &[Option<usize>],
    groups: &[Vec<usize>],
    warm: &[usize],
    target: f64,
) -> Vec<Option<f64>> {
    let cost_of = |o: usize, c: usize| pool.columns[o][c].cost;
    let fixed_cost: f64 = (0..choice.len())
        .filter_map(|o| choice[o].map(|c| cost_of(o, c)))
        .sum();
    let warm_of = |g: &Vec<usize>| g.iter().map(|&o| cost_of(o, warm[o])).sum::<f64>();
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
    if let [o] = *group {
        // One order alone: its cheapest column that fits.
        let best = pool.columns[o]
            .iter()
            .enumerate()
            .filter(|(_, c)| c.uses.iter().all(|&(r, q)| i64::from(q) <= limit_of(r)))
            .min_by(|a, b| a.1.cost.total_cmp(&b.1.cost).then(a.0.cmp(&b.0)))?;
        return Some(vec![(o, best.0)]);
    }
    GroupModel::build(pool, group, warm).solve(limit_of, warm.is_some(), stop)
}

/// One group's MIP before it goes to HiGHS: a binary per (order, plan) and per order an escape
/// (decided afterwards on what is left, at the cost of backordering it all).
struct GroupModel {
    vars: ProblemVariables,
    objective: Expression,
    /// Per resource, what the chosen plans use of it (ordered: the same model every run).
    rows: BTreeMap<usize, Expression>,
    /// Per resource, the most the group can ask of it (each order's heaviest plan).
    most: HashMap<usize, i64>,
    /// (order, plan, model column).
    columns: Vec<(usize, usize, usize)>,
    one_each: Vec<Constraint>,
    /// The warm start's value of every model column.
    initial: Vec<f64>,
}

impl GroupModel {
    fn build(pool: &Pool, group: &[usize], warm: Option<&[usize]>) -> GroupModel {
        let mut m = GroupModel {
            vars: ProblemVariables::new(),
            objective: Expression::from(0.0),
            rows: BTreeMap::new(),
            most: HashMap::new(),
            columns: Vec::new(),
            one_each: Vec::with_capacity(group.len()),
            initial: Vec::new(),
        };
        for &o in group {
            let mut pick = Expression::from(0.0);
            let mut heaviest: HashMap<usize, u32> = HashMap::new();
            for (c, col) in pool.columns[o].iter().enumerate() {
                let k = m.vars.len();
                let v = m.vars.add(variable().binary());
                m.columns.push((o, c, k));
                let warm_here = warm.is_some_and(|w| w[o] == c);
                m.initial.push(if warm_here { 1.0 } else { 0.0 });
                m.objective += col.cost * v;
                pick += v;
                for &(r, q) in &col.uses {
                    *m.rows.entry(r).or_insert_with(|| Expression::from(0.0)) += f64::from(q) * v;
                    let h = heaviest.entry(r).or_insert(0);
                    *h = (*h).max(q);
                }
            }
            for (r, q) in heaviest {
                *m.most.entry(r).or_insert(0) += i64::from(q);
            }
            // Or leave the order to be decided afterwards on what is left.
            let v = m.vars.add(variable().binary());
            m.initial.push(0.0);
            m.objective += pool.escape[o] * v;
            pick += v;
            m.one_each.push(constraint!(pick == 1.0));
        }
        m
    }

    /// Solves it under `stop`; the (order, plan) chosen for every order that took a plan, or
    /// `None` without a feasible answer.
    fn solve(
        self,
        limit_of: impl Fn(usize) -> i64,
        warm: bool,
        stop: &Stop,
    ) -> Option<Vec<(usize, usize)>> {
        let orders = self.one_each.len();
        let mut problem = self.vars.minimise(self.objective).using(highs);
        for c in self.one_each {
            problem = problem.with(c);
        }
        for (r, row) in self.rows {
            let cap = limit_of(r);
            // A row that cannot bind whatever the orders choose is left out.
            if self.most.get(&r).copied().unwrap_or(0) > cap {
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
        if warm {
            model.set_solution(Some(&self.initial), None, None, None);
        }
        let solved = model.try_solve().ok()?;
        tracing::debug!(
            orders,
            status = ?solved.status(),
            objective = solved.objective_value(),
            "joint MIP group"
        );
        if solved.primal_solution_status() != highs::HighsSolutionStatus::Feasible {
            return None;
        }
        let solution = solved.get_solution();
        let x = solution.columns();
        let chosen = self.columns.iter().filter(|&&(_, _, k)| x[k] > 0.5);
        Some(chosen.map(|&(o, c, _)| (o, c)).collect())
    }
}
