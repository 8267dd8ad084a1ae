//! The exact reference: one order as a mixed-integer program on HiGHS (through good_lp).
//!
//! It shares nothing with the search but the snapshot and the pricing of its answer: eligibility,
//! rate shopping and billable weight are written again here as constraints, so that a differential
//! test of the two catches a mistake in either. Slow (milliseconds per order); for tests,
//! benchmarks of the search's optimality, and `fulfil route --policy mip`.

use good_lp::solvers::highs::highs;
use good_lp::{
    Expression, ProblemVariables, Solution, SolverModel, Variable, constraint, variable,
};

use super::cost::{Plan, distance_km};
use super::{Availability, RouteError};
use crate::model::{Destination, NodeId, NodeKind, Order, SkuId};
use crate::snapshot::Snapshot;

/// Why the MIP gave no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MipError {
    #[error("HiGHS failed: {0}")]
    Solver(String),
    #[error(transparent)]
    Route(#[from] RouteError),
}

/// An optimal plan and the objective HiGHS proved for it.
#[derive(Debug, Clone)]
pub struct MipAnswer {
    pub plan: Plan,
    pub objective: f64,
}

struct Arc {
    node: NodeId,
    line: usize,
    var: Variable,
}

/// Solves one order exactly.
pub fn solve_order(
    snapshot: &Snapshot,
    avail: &impl Availability,
    order: &Order,
) -> Result<MipAnswer, MipError> {
    let policy = snapshot.policy();
    let mut vars = ProblemVariables::new();
    let mut objective = Expression::from(0.0);
    let mut constraints = Vec::new();
    let mut arcs: Vec<Arc> = Vec::new();
    let mut opened: Vec<Variable> = Vec::new();
    let mut allocated: Vec<Expression> =
        order.lines.iter().map(|_| Expression::from(0.0)).collect();
    let total_units: u32 = order.lines.iter().map(|l| l.qty).sum();

    for (n, node) in snapshot.nodes().iter().enumerate() {
        let node_id = NodeId(n as u32);
        // Which parcel options (base, per_kg) this node has to the destination, if it may ship.
        let options: Vec<(f64, f64)> = match order.destination {
            Destination::Pickup(p) => {
                if p != node_id || !node.enabled || !node.pickup {
                    continue;
                }
                Vec::new()
            }
            Destination::Address { lat, lon } => {
                if !node.enabled
                    || !node.ships
                    || (node.kind == NodeKind::Store && !policy.ship_from_store)
                {
                    continue;
                }
                let d = distance_km(node.lat, node.lon, lat, lon);
                let Some(band) = snapshot
                    .zones()
                    .bands()
                    .iter()
                    .position(|b| b.max_km.is_none_or(|m| d <= m))
                else {
                    continue;
                };
                let opts: Vec<(f64, f64)> = snapshot
                    .rates()
                    .options(order.service, band)
                    .iter()
                    .map(|o| (o.base, o.per_kg))
                    .collect();
                if opts.is_empty() {
                    continue;
                }
                opts
            }
        };
        let capacity = node
            .capacity_units
            .map_or(total_units, |c| {
                c.saturating_sub(avail.capacity_used(node_id, order.day))
            })
            .min(total_units);
        let mut units = Expression::from(0.0);
        let mut weight = Expression::from(0.0);
        let mut any = false;
        for (li, line) in order.lines.iter().enumerate() {
            let sku = snapshot.sku(line.sku);
            let pickup = matches!(order.destination, Destination::Pickup(_));
            if sku.oversize && node.kind == NodeKind::Store && !pickup {
                continue;
            }
            let ats = ats(snapshot, avail, node_id, line.sku);
            let bound = ats.min(line.qty);
            if bound == 0 {
                continue;
            }
            let x = vars.add(variable().integer().min(0).max(bound));
            arcs.push(Arc {
                node: node_id,
                line: li,
                var: x,
            });
            units += x;
            weight += sku.weight_kg * x;
            allocated[li] += x;
            any = true;
        }
        if !any || capacity == 0 {
            // Still add the arcs' bound of zero through capacity 0 below.
            if any {
                constraints.push(constraint!(units.clone() <= 0));
            }
            continue;
        }
        let y = vars.add(variable().binary());
        opened.push(y);
        constraints.push(constraint!(units.clone() <= f64::from(capacity) * y));
        objective += node.cost_per_shipment * y + node.cost_per_unit * units.clone();
        if !options.is_empty() {
            // Rate shopping: exactly one carrier per open shipment, billed on integer kg ≥ 1.
            let big = (f64::from(total_units)
                * order
                    .lines
                    .iter()
                    .map(|l| snapshot.sku(l.sku).weight_kg)
                    .fold(0.0, f64::max))
            .ceil()
                + 2.0;
            let mut chosen = Expression::from(0.0);
            let mut billed = Expression::from(0.0);
            for (base, per_kg) in options {
                let z = vars.add(variable().binary());
                let kg = vars.add(variable().integer().min(0).max(big));
                constraints.push(constraint!(kg <= big * z));
                constraints.push(constraint!(kg >= z));
                objective += base * z + per_kg * kg;
                chosen += z;
                billed += kg;
            }
            constraints.push(constraint!(chosen == y));
            constraints.push(constraint!(billed >= weight - 1e-9));
        }
    }

    if matches!(order.destination, Destination::Address { .. }) {
        let split = vars.add(variable().min(0));
        let count: Expression = opened.iter().copied().sum();
        constraints.push(constraint!(split >= count.clone() - 1.0));
        objective += policy.split_penalty * split;
    }
    let count: Expression = opened.iter().copied().sum();
    constraints.push(constraint!(count <= f64::from(policy.max_shipments)));
    for (li, line) in order.lines.iter().enumerate() {
        let a = allocated[li].clone();
        constraints.push(constraint!(a.clone() <= f64::from(line.qty)));
        objective += policy.backorder_penalty * (f64::from(line.qty) - a);
    }

    if arcs.is_empty() {
        // Nothing can be allocated: HiGHS refuses an empty model, and the answer is plain.
        let objective = policy.backorder_penalty * f64::from(total_units);
        return Ok(MipAnswer {
            plan: Plan::default(),
            objective,
        });
    }
    let mut problem = vars.minimise(objective.clone()).using(highs);
    problem.set_verbose(false);
    let mut problem = problem
        .set_mip_rel_gap(0.0)
        .and_then(|p| p.set_mip_abs_gap(1e-7))
        .map_err(|e| MipError::Solver(e.to_string()))?
        .set_threads(1);
    for c in constraints {
        problem = problem.with(c);
    }
    let solution = problem
        .solve()
        .map_err(|e| MipError::Solver(e.to_string()))?;
    let value = solution.eval(&objective);

    let mut shipments: Vec<(NodeId, Vec<(SkuId, u32)>)> = Vec::new();
    for (li, line) in order.lines.iter().enumerate() {
        for arc in arcs.iter().filter(|a| a.line == li) {
            let q = solution.value(arc.var).round();
            if q < 0.5 {
                continue;
            }
            let q = q as u32;
            match shipments.iter_mut().find(|(n, _)| *n == arc.node) {
                Some((_, lines)) => lines.push((line.sku, q)),
                None => shipments.push((arc.node, vec![(line.sku, q)])),
            }
        }
    }
    Ok(MipAnswer {
        plan: Plan { shipments },
        objective: value,
    })
}

fn ats(snapshot: &Snapshot, avail: &impl Availability, node: NodeId, sku: SkuId) -> u32 {
    snapshot.inventory().entry(node, sku).map_or(0, |e| {
        let s = snapshot.inventory().stock(e);
        s.on_hand
            .saturating_sub(s.safety_stock)
            .saturating_sub(avail.reserved(e))
    })
}
