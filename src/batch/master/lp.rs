//! The LP relaxation of the restricted master: every order takes a convex combination of its
//! plans. Its dual prices are the next round's prices of the shared limits.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use good_lp::solvers::highs::highs;
use good_lp::{Constraint, Expression, ProblemVariables, SolverModel, constraint, variable};

use super::{Column, Pool};
use crate::batch::resources::Resources;

/// What the LP says.
pub(crate) struct Relaxation {
    /// The dual price ≥ 0 of every resource row (index, price); others are 0.
    pub prices: Vec<(usize, f64)>,
    /// Per order, the plan the LP takes whole (weight ≥ 0.999), if any.
    pub integral: Vec<Option<usize>>,
    /// The restricted master's optimal value: the LP's objective plus the cost of the plans of
    /// the orders it fixed. An upper bound on the full master's LP value, which no Lagrangian
    /// bound exceeds: when a round's bound reaches it, column generation has converged.
    pub value: f64,
}

/// Above this many plans in play, a plan leaves the LP once idle for [`AGE`] rounds.
const LARGE_LP: usize = 60_000;
/// Rounds an idle plan stays in a large LP after it was last generated or used by the LP.
const AGE: u32 = 4;

/// The LP relaxation of the restricted master over the *active* plans: every plan, or in a very
/// large LP those generated or used by the LP in the last few rounds, plus each order's incumbent
/// plan (so the LP is always feasible). Orders with a single active plan are fixed to it and only
/// take their share of the limits; presolve removes the rest of what cannot matter. Plans that
/// fall idle leave the LP (they stay in the pool for the joint MIP), which keeps its size near the
/// contested orders. `None` when nothing is contested or HiGHS finds no optimum in time.
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
    let large = in_play > LARGE_LP;
    let age = if large { AGE } else { u32::MAX };
    let active = |o: usize, c: usize, col: &Column| {
        c == incumbent[o] || col.touched.saturating_add(age) >= round
    };
    let model = Model::build(pool, resources, incumbent, active)?;
    let solved = model.solve(resources, large, deadline)?;
    Some(solved.read(pool, incumbent, round))
}

/// The LP before it goes to HiGHS.
struct Model {
    vars: ProblemVariables,
    objective: Expression,
    /// Per resource, what the active plans use of it (ordered, so that the model — and with it
    /// which of equally good duals HiGHS returns — is the same every run).
    rows: BTreeMap<usize, Expression>,
    /// Per order in play, its weights sum to one.
    one_each: Vec<Constraint>,
    /// Model column → (order, plan).
    column_of: Vec<(usize, usize)>,
    /// What the orders fixed to a single plan leave of each resource they use.
    left: HashMap<usize, i64>,
    /// What the plans of the orders fixed to a single plan cost.
    fixed_cost: f64,
}

impl Model {
    /// `None` when no order has two active plans.
    fn build(
        pool: &Pool,
        resources: &Resources,
        incumbent: &[usize],
        active: impl Fn(usize, usize, &Column) -> bool,
    ) -> Option<Model> {
        let mut m = Model {
            vars: ProblemVariables::new(),
            objective: Expression::from(0.0),
            rows: BTreeMap::new(),
            one_each: Vec::new(),
            column_of: Vec::new(),
            left: HashMap::new(),
            fixed_cost: 0.0,
        };
        for (o, cols) in pool.columns.iter().enumerate() {
            let mut mine = cols
                .iter()
                .enumerate()
                .filter(|&(c, col)| active(o, c, col));
            if mine.clone().count() < 2 {
                m.fixed_cost += cols[incumbent[o]].cost;
                for &(r, q) in &cols[incumbent[o]].uses {
                    let limit = i64::from(resources.limit[r]);
                    *m.left.entry(r).or_insert(limit) -= i64::from(q);
                }
                continue;
            }
            let mut pick = Expression::from(0.0);
            for (c, col) in mine.by_ref() {
                let v = m.vars.add(variable().min(0.0));
                m.column_of.push((o, c));
                m.objective += col.cost * v;
                pick += v;
                for &(r, q) in &col.uses {
                    *m.rows.entry(r).or_insert_with(|| Expression::from(0.0)) += f64::from(q) * v;
                }
            }
            m.one_each.push(constraint!(pick == 1.0));
        }
        (!m.one_each.is_empty()).then_some(m)
    }

    /// Solves it to optimality, or `None`.
    fn solve(self, resources: &Resources, large: bool, deadline: Instant) -> Option<Solved> {
        let Model {
            vars,
            objective,
            rows,
            one_each,
            column_of,
            left,
            fixed_cost,
        } = self;
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
        if large {
            // Interior point (then crossover, for exact prices) outpaces simplex on large,
            // degenerate masters.
            model.set_option("solver", "ipm");
            model.set_option("run_crossover", "on");
        }
        let left = deadline.saturating_duration_since(Instant::now());
        model.set_option("time_limit", left.as_secs_f64().max(0.01));
        let started = Instant::now();
        let solved = model.try_solve().ok()?;
        tracing::debug!(
            columns = column_of.len(),
            rows = first_row + row_of.len(),
            status = ?solved.status(),
            seconds = started.elapsed().as_secs_f64(),
            "restricted master LP"
        );
        if solved.status() != highs::HighsModelStatus::Optimal {
            return None;
        }
        let value = fixed_cost + solved.objective_value();
        Some(Solved {
            value,
            solution: solved.get_solution(),
            column_of,
            first_row,
            row_of,
        })
    }
}

/// An optimal LP solution and how to read it.
struct Solved {
    /// The restricted master's value (see [`Relaxation::value`]).
    value: f64,
    solution: highs::Solution,
    /// Model column → (order, plan).
    column_of: Vec<(usize, usize)>,
    /// The first resource row (the one-each rows come before).
    first_row: usize,
    /// The resource of each resource row.
    row_of: Vec<usize>,
}

impl Solved {
    /// The prices and whole plans; plans the LP uses are marked as seen in `round`.
    fn read(&self, pool: &mut Pool, incumbent: &[usize], round: u32) -> Relaxation {
        let duals = self.solution.dual_rows();
        let x = self.solution.columns();
        // A ≤ row of a minimisation has a dual ≤ 0: its price is the opposite.
        let prices = self
            .row_of
            .iter()
            .enumerate()
            .map(|(i, &r)| (r, (-duals[self.first_row + i]).max(0.0)))
            .filter(|&(_, p)| p > 0.0)
            .collect();
        let mut integral: Vec<Option<usize>> = incumbent.iter().map(|&c| Some(c)).collect();
        for &(o, _) in &self.column_of {
            integral[o] = None;
        }
        for (k, &(o, c)) in self.column_of.iter().enumerate() {
            if x[k] > 1e-6 {
                pool.columns[o][c].touched = round;
            }
            if x[k] >= 0.999 {
                integral[o] = Some(c);
            }
        }
        Relaxation {
            prices,
            integral,
            value: self.value,
        }
    }
}
