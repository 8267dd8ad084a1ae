//! The exact reference: orders as one mixed-integer program on HiGHS (through good_lp).
//!
//! [`JointMip`] is built in the shape of good_lp's resource-allocation example: a model struct
//! that accumulates variables, the cost expression and, per shared resource (an inventory entry,
//! a node's capacity on a day), the expression of what the orders consume of it. One order alone
//! is the per-order reference ([`solve_order`]); many orders sharing stock and capacity are the
//! exact batch model.
//!
//! It shares nothing with the search but the snapshot and the pricing of its answer: eligibility,
//! rate shopping and billable weight are written again here as constraints, so that a differential
//! test of the two catches a mistake in either. Slow (milliseconds per order); for tests,
//! benchmarks of the search's optimality, and exact batches of modest size.

use std::collections::HashMap;
use std::time::Duration;

use good_lp::solvers::highs::highs;
use good_lp::{Expression, ProblemVariables, SolverModel, Variable, constraint, variable};

use super::candidates::{Tier, stock_and_tiers};
use super::cost::{Plan, Terms, billable_kg};
use super::error::RouteError;
use super::ledger::{Availability, ats_at, capacity_left};
use crate::model::dates::NO_FLOOR;
use crate::model::geo::distance_km;
use crate::model::{Day, Destination, NodeId, NodeKind, Order, Service, SkuId};
use crate::snapshot::Snapshot;

/// Why the MIP gave no answer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MipError {
    #[error("HiGHS failed: {0}")]
    Solver(String),
    #[error("HiGHS found no feasible solution within the time limit")]
    NoSolution,
    #[error(transparent)]
    Route(#[from] RouteError),
}

/// An optimal plan and the objective HiGHS proved for it.
#[derive(Debug, Clone)]
pub struct MipAnswer {
    pub plan: Plan,
    pub objective: f64,
}

/// The answer to a joint model: one plan per order, in the order they were added.
#[derive(Debug, Clone)]
pub struct JointAnswer {
    pub plans: Vec<Plan>,
    /// The cost of the plans (as the model counts it; equal to their priced cost).
    pub objective: f64,
    /// The lower bound HiGHS proved (equal to `objective` when `optimal`).
    pub bound: f64,
    /// `true` when HiGHS proved the plans optimal; `false` when it stopped at the time limit.
    pub optimal: bool,
}

struct Arc {
    order: usize,
    node: NodeId,
    line: usize,
    sku: SkuId,
    /// Column of the allocation variable in the model (variables are columns in creation order).
    column: usize,
}

/// A dated shipment's choice of service, billable kg and handling floor (one binary column).
struct Choice {
    order: usize,
    node: NodeId,
    service: Service,
    floor: Day,
    column: usize,
}

/// Units of an order line taken from one inbound tier of a node (an integer column).
struct InboundArc {
    order: usize,
    node: NodeId,
    column: usize,
}

/// The version 2 rule variables of one order: per unsplittable line and per group, one binary
/// per node that may ship it; per open shipment, its binary and value.
#[derive(Default)]
struct RuleVars {
    whole: std::collections::BTreeMap<usize, Vec<Variable>>,
    groups: std::collections::BTreeMap<u16, Vec<Variable>>,
    values: Vec<(Variable, Expression)>,
}

/// Orders sharing stock and capacity, as one MIP.
pub struct JointMip<'a, A: Availability> {
    snapshot: &'a Snapshot,
    avail: &'a A,
    vars: ProblemVariables,
    objective: Expression,
    /// Constant part of the objective (backorder penalties of every ordered unit).
    constant: f64,
    constraints: Vec<good_lp::Constraint>,
    arcs: Vec<Arc>,
    choices: Vec<Choice>,
    inbound: Vec<InboundArc>,
    /// What the orders take of each inventory entry.
    stock: HashMap<usize, Expression>,
    /// What the orders pick at each node on each day.
    picks: HashMap<(NodeId, Option<i32>), Expression>,
    orders: usize,
}

impl<'a, A: Availability> JointMip<'a, A> {
    /// An empty model over what `avail` leaves of `snapshot`.
    pub fn new(snapshot: &'a Snapshot, avail: &'a A) -> Self {
        JointMip {
            snapshot,
            avail,
            vars: ProblemVariables::new(),
            objective: Expression::from(0.0),
            constant: 0.0,
            constraints: Vec::new(),
            arcs: Vec::new(),
            choices: Vec::new(),
            inbound: Vec::new(),
            stock: HashMap::new(),
            picks: HashMap::new(),
            orders: 0,
        }
    }

    /// Integer allocation variables so far (a measure of the model's size).
    pub fn arc_count(&self) -> usize {
        self.arcs.len()
    }

    /// Adds one order: its allocation, shipment and carrier variables, its cost and what it
    /// consumes. Eligibility follows the spec's feasibility rules; the caller validated it.
    ///
    /// The order's whole formulation in one place, rule after rule of the spec, so that it can be
    /// read against the spec independently of the search it checks (`differential` tests): per
    /// node, whether it may ship and with which parcel options ([`Self::node_options`]), its
    /// allocation variables ([`Self::allocations`]), the shipment it opens and its carrier
    /// ([`Self::shipment`]); then the order's limits and backorders ([`Self::order_limits`]).
    pub fn add_order(&mut self, order: &Order) {
        let snapshot = self.snapshot;
        let oi = self.orders;
        self.orders += 1;
        let dated = order.created.is_some() && (snapshot.network_dated() || order.uses_v2());
        let mut o = OrderVars {
            index: oi,
            dated,
            total_units: order.lines.iter().map(|l| l.qty).sum(),
            opened: Vec::new(),
            allocated: order.lines.iter().map(|_| Expression::from(0.0)).collect(),
            late: self.lateness(order, dated),
            rules: RuleVars::default(),
        };
        for n in 0..snapshot.nodes().len() {
            let node_id = NodeId(n as u32);
            let Some((band, options)) = self.node_options(order, node_id) else {
                continue;
            };
            let capacity =
                capacity_left(snapshot, self.avail, node_id, order.day).min(o.total_units);
            if capacity == 0 {
                continue;
            }
            let Some(at_node) = self.allocations(order, node_id, &mut o) else {
                continue;
            };
            self.shipment(order, node_id, (band, options), capacity, at_node, &mut o);
        }
        self.order_limits(order, o);
    }

    /// Priced lateness: the order's days late (at least each chosen shipment's), charged at the
    /// policy's penalty per day; none when the order has no priced deadline.
    fn lateness(&mut self, order: &Order, dated: bool) -> Option<Variable> {
        let penalty = self.snapshot.policy().late_penalty_per_day;
        match (dated, order.deliver_by, penalty) {
            (true, Some(_), Some(penalty)) => {
                let l = self.vars.add(variable().min(0));
                self.objective += penalty * l;
                Some(l)
            }
            _ => None,
        }
    }

    /// Whether `node_id` may ship `order` (channel, exclusions, enabled, ships or pickup, ship
    /// from store, a zone band that reaches the address) and, to an address, its band and the
    /// parcel options (base, per_kg) of the order's services in it.
    fn node_options(
        &self,
        order: &Order,
        node_id: NodeId,
    ) -> Option<(Option<usize>, ParcelOptions)> {
        let snapshot = self.snapshot;
        let node = snapshot.node(node_id);
        // Version 2: the order's channel and the nodes it excludes.
        if !node.serves(order.channel.as_deref()) || order.exclude.contains(&node_id) {
            return None;
        }
        match order.destination {
            Destination::Pickup(p) => {
                (p == node_id && node.enabled && node.pickup).then(|| (None, Vec::new()))
            }
            Destination::Address { lat, lon } => {
                let ship_from_store = snapshot.policy().ship_from_store;
                if !node.enabled
                    || !node.ships
                    || (node.kind == NodeKind::Store && !ship_from_store)
                {
                    return None;
                }
                let d = distance_km(node.lat, node.lon, lat, lon);
                let band = snapshot
                    .zones()
                    .bands()
                    .iter()
                    .position(|b| b.max_km.is_none_or(|m| d <= m))?;
                let options: Vec<(f64, f64)> = order
                    .service
                    .shipment_services()
                    .iter()
                    .flat_map(|&s| snapshot.rates().options(s, band))
                    .map(|o| (o.base, o.per_kg))
                    .collect();
                (!options.is_empty()).then_some((Some(band), options))
            }
        }
    }

    /// The allocation variables of `order`'s lines at `node_id` (integer, at most the ATS there
    /// and the line's quantity), counted against the entry's stock and split by inbound tier;
    /// none when the node can take no unit of any line.
    fn allocations(&mut self, order: &Order, node_id: NodeId, o: &mut OrderVars) -> Option<AtNode> {
        let snapshot = self.snapshot;
        let node = snapshot.node(node_id);
        let pickup = matches!(order.destination, Destination::Pickup(_));
        let mut at = AtNode::default();
        for (li, line) in order.lines.iter().enumerate() {
            let sku = snapshot.sku(line.sku);
            if sku.oversize && node.kind == NodeKind::Store && !pickup {
                continue;
            }
            let bound = ats_at(snapshot, self.avail, node_id, line.sku).min(line.qty);
            if bound == 0 {
                continue;
            }
            let column = self.vars.len();
            let x = self.vars.add(variable().integer().min(0).max(bound));
            self.arcs.push(Arc {
                order: o.index,
                node: node_id,
                line: li,
                sku: line.sku,
                column,
            });
            if let Some(e) = snapshot.inventory().entry(node_id, line.sku) {
                *self.stock.entry(e).or_insert_with(|| Expression::from(0.0)) += x;
                if o.dated {
                    self.split_inbound(o.index, node_id, e, x, &mut at.pending);
                }
            }
            at.units += x;
            at.weight += sku.weight_kg * x;
            at.value += line.unit_price * x;
            o.allocated[li] += x;
            at.arcs.push((li, x));
        }
        (!at.arcs.is_empty()).then_some(at)
    }

    /// The shipment `node_id` opens if it takes any unit (a binary, its handling cost, its
    /// capacity and daily picks) with its rules, and its carrier: by date for a dated order,
    /// else rate shopping — exactly one carrier per open shipment, billed on integer kg ≥ 1.
    fn shipment(
        &mut self,
        order: &Order,
        node_id: NodeId,
        (band, options): (Option<usize>, ParcelOptions),
        capacity: u32,
        at: AtNode,
        o: &mut OrderVars,
    ) {
        let node = self.snapshot.node(node_id);
        self.one_node_rules(order, &at.arcs, &mut o.rules);
        if node.capacity_units.is_some() {
            *self
                .picks
                .entry((node_id, order.day))
                .or_insert_with(|| Expression::from(0.0)) += at.units.clone();
        }
        let y = self.vars.add(variable().binary());
        o.opened.push(y);
        o.rules.values.push((y, at.value));
        self.constraints
            .push(constraint!(at.units.clone() <= f64::from(capacity) * y));
        self.objective += node.cost_per_shipment * y + node.cost_per_unit * at.units;
        if o.dated {
            let shipment = DatedShipment {
                order,
                order_index: o.index,
                node: node_id,
                band,
                open: y,
                weight: at.weight,
                late: o.late,
            };
            self.dated_choices(shipment, &at.pending);
        } else if !options.is_empty() {
            self.rate_shopping(order, o.total_units, &options, y, at.weight);
        }
    }

    /// Exactly one carrier option per open shipment `open`, billed on integer kg ≥ 1 and at
    /// least the shipment's `weight`.
    fn rate_shopping(
        &mut self,
        order: &Order,
        total_units: u32,
        options: &[(f64, f64)],
        open: Variable,
        weight: Expression,
    ) {
        let snapshot = self.snapshot;
        let heaviest = order
            .lines
            .iter()
            .map(|l| snapshot.sku(l.sku).weight_kg)
            .fold(0.0, f64::max);
        let big = (f64::from(total_units) * heaviest).ceil() + 2.0;
        let mut chosen = Expression::from(0.0);
        let mut billed = Expression::from(0.0);
        for &(base, per_kg) in options {
            let z = self.vars.add(variable().binary());
            let kg = self.vars.add(variable().integer().min(0).max(big));
            self.constraints.push(constraint!(kg <= big * z));
            self.constraints.push(constraint!(kg >= z));
            self.objective += base * z + per_kg * kg;
            chosen += z;
            billed += kg;
        }
        self.constraints.push(constraint!(chosen == open));
        self.constraints.push(constraint!(billed >= weight - 1e-9));
    }

    /// The order as a whole: the split penalty, at most `max_shipments` shipments, its rules
    /// across nodes, and each line's backorder (penalty for every unit not allocated).
    fn order_limits(&mut self, order: &Order, o: OrderVars) {
        let policy = self.snapshot.policy();
        let pickup = matches!(order.destination, Destination::Pickup(_));
        if !pickup && o.opened.len() > 1 {
            let split = self.vars.add(variable().min(0));
            let count: Expression = o.opened.iter().copied().sum();
            self.constraints.push(constraint!(split >= count - 1.0));
            self.objective += policy.split_penalty * split;
        }
        if !o.opened.is_empty() {
            let count: Expression = o.opened.iter().copied().sum();
            self.constraints
                .push(constraint!(count <= f64::from(policy.max_shipments)));
        }
        self.order_rules(order, o.rules, &o.opened);
        for (line, a) in order.lines.iter().zip(o.allocated) {
            self.constant += policy.backorder_penalty * f64::from(line.qty);
            self.objective -= policy.backorder_penalty * a.clone();
            self.constraints.push(constraint!(a <= f64::from(line.qty)));
        }
    }

    /// Version 2 rules at one node: an unsplittable line's units there only if it is the
    /// line's one node (a binary per line and node); a group's lines there all whole under one
    /// binary if the node holds them all, else none of them.
    fn one_node_rules(&mut self, order: &Order, arcs: &[(usize, Variable)], rules: &mut RuleVars) {
        for &(li, x) in arcs {
            let line = &order.lines[li];
            if line.group.is_none() && !self.snapshot.sku(line.sku).split_line {
                let w = self.vars.add(variable().binary());
                self.constraints
                    .push(constraint!(x <= f64::from(line.qty) * w));
                rules.whole.entry(li).or_default().push(w);
            }
        }
        for g in 0..order.groups.len() as u16 {
            let members: Vec<usize> = (0..order.lines.len())
                .filter(|&l| order.lines[l].group == Some(g))
                .collect();
            let here: Vec<(usize, Variable)> = arcs
                .iter()
                .copied()
                .filter(|(l, _)| order.lines[*l].group == Some(g))
                .collect();
            if here.len() == members.len() {
                let v = self.vars.add(variable().binary());
                for (l, x) in here {
                    let qty = f64::from(order.lines[l].qty);
                    self.constraints.push(constraint!(x == qty * v));
                }
                rules.groups.entry(g).or_default().push(v);
            } else {
                for (_, x) in here {
                    self.constraints.push(constraint!(x <= 0.0));
                }
            }
        }
    }

    /// Version 2 rules over the order's nodes: one node per unsplittable line and per group,
    /// and, when the order is split, every open shipment worth `min_shipment_value` (`split`
    /// is 1 whenever two or more shipments are open).
    fn order_rules(&mut self, order: &Order, rules: RuleVars, opened: &[Variable]) {
        for choices in rules.whole.into_values().chain(rules.groups.into_values()) {
            let count: Expression = choices.into_iter().sum();
            self.constraints.push(constraint!(count <= 1.0));
        }
        let min = self.snapshot.policy().min_shipment_value;
        let pickup = matches!(order.destination, Destination::Pickup(_));
        if min <= 0.0 || pickup || opened.len() < 2 {
            return;
        }
        let split = self.vars.add(variable().binary());
        let count: Expression = opened.iter().copied().sum();
        let most = opened.len() as f64;
        self.constraints
            .push(constraint!(count <= 1.0 + most * split));
        for (y, value) in rules.values {
            self.constraints
                .push(constraint!(value >= min * y + min * split - min));
        }
    }

    /// Splits an allocation `x` of entry `e` at `node` into on-hand units and units of each
    /// inbound tier (pushed onto `pending` to be tied to the shipment's handling floor).
    fn split_inbound(
        &mut self,
        order: usize,
        node: NodeId,
        e: usize,
        x: Variable,
        pending: &mut Vec<(Day, u32, Variable)>,
    ) {
        let mut tiers: Vec<Tier> = Vec::new();
        let stock = stock_and_tiers(
            self.snapshot.inventory(),
            e,
            self.avail.reserved(e),
            &mut tiers,
        );
        if tiers.is_empty() {
            return;
        }
        let mut from_tiers = Expression::from(0.0);
        let mut prev = stock;
        for t in tiers {
            let q = t.upto - prev;
            prev = t.upto;
            let column = self.vars.len();
            let xt = self.vars.add(variable().integer().min(0).max(q));
            self.inbound.push(InboundArc {
                order,
                node,
                column,
            });
            from_tiers += xt;
            pending.push((t.day, q, xt));
        }
        self.constraints
            .push(constraint!(x - from_tiers <= f64::from(stock)));
    }

    /// A dated shipment's choices: one binary per (service, billable kg, handling floor) the
    /// spec allows, each with the spec's carrier price and delivery (or ready) day; exactly one
    /// when the shipment is open, its kg the shipment's billable weight, its floor at least the
    /// day of every inbound tier used, and each day late bounding the order's lateness.
    fn dated_choices(&mut self, s: DatedShipment<'_>, pending: &[(Day, u32, Variable)]) {
        let snapshot = self.snapshot;
        let clock = snapshot.clock(s.node);
        let handling = clock.handling_day(s.order.created.unwrap_or_default());
        let by = s.order.deliver_by;
        let hard = snapshot.policy().late_penalty_per_day.is_none();
        let mut floors: Vec<Day> = pending.iter().map(|p| p.0).collect();
        floors.push(NO_FLOOR);
        floors.sort_unstable();
        floors.dedup();
        let kmax = billable_kg(
            s.order
                .lines
                .iter()
                .map(|l| snapshot.sku(l.sku).weight_kg * f64::from(l.qty))
                .sum(),
        );
        let (mut count, mut billed) = (Expression::from(0.0), Expression::from(0.0));
        let mut by_floor: Vec<(Day, Variable)> = Vec::new();
        for &floor in &floors {
            let Some(dispatch) = clock.dispatch_day(handling.max(floor)) else {
                continue;
            };
            for (service, kg, price, arrives) in offers(snapshot, s.order, s.band, dispatch, kmax) {
                if hard && by.is_some_and(|b| arrives > b) {
                    continue;
                }
                let column = self.vars.len();
                let v = self.vars.add(variable().binary());
                self.choices.push(Choice {
                    order: s.order_index,
                    node: s.node,
                    service,
                    floor,
                    column,
                });
                self.objective += price * v;
                count += v;
                billed += f64::from(kg) * v;
                by_floor.push((floor, v));
                if let (Some(l), Some(b)) = (s.late, by)
                    && arrives > b
                {
                    self.constraints
                        .push(constraint!(l >= f64::from((arrives - b) as u32) * v));
                }
            }
        }
        self.constraints.push(constraint!(count == s.open));
        if s.band.is_some() {
            let w = s.weight;
            self.constraints
                .push(constraint!(billed.clone() >= w.clone() - 1e-9));
            self.constraints
                .push(constraint!(billed - (1.0 - 1e-6) * s.open <= w));
        }
        for &(day, q, xt) in pending {
            let allowed: Expression = by_floor
                .iter()
                .filter(|(f, _)| *f >= day)
                .map(|(_, v)| *v)
                .sum();
            self.constraints
                .push(constraint!(xt <= f64::from(q) * allowed));
        }
    }

    /// Solves the model: to proven optimality, or until `time_limit`, when the best plans found
    /// so far are returned with `optimal: false` and the bound HiGHS proved. (Setting up HiGHS
    /// and reading plans back from its columns, in order; a little over one screen.)
    pub fn solve(
        self,
        time_limit: Option<Duration>,
        threads: u32,
    ) -> Result<JointAnswer, MipError> {
        let snapshot = self.snapshot;
        let orders = self.orders;
        if self.arcs.is_empty() {
            // Nothing can be allocated: HiGHS refuses an empty model, and the answer is plain.
            return Ok(JointAnswer {
                plans: vec![Plan::default(); orders],
                objective: self.constant,
                bound: self.constant,
                optimal: true,
            });
        }
        let mut constraints = self.constraints;
        for (e, taken) in self.stock {
            let left = snapshot
                .inventory()
                .sellable(e)
                .saturating_sub(self.avail.reserved(e));
            constraints.push(constraint!(taken <= f64::from(left)));
        }
        for ((node, day), picked) in self.picks {
            let left = capacity_left(snapshot, self.avail, node, day);
            constraints.push(constraint!(picked <= f64::from(left)));
        }
        let mut problem = self.vars.minimise(self.objective.clone()).using(highs);
        for c in constraints {
            problem = problem.with(c);
        }
        let mut model = problem
            .try_into_inner()
            .map_err(|e| MipError::Solver(e.to_string()))?;
        model.make_quiet();
        model.set_option("mip_rel_gap", 0.0);
        model.set_option("mip_abs_gap", 1e-7);
        model.set_option("threads", threads.max(1) as i32);
        if let Some(limit) = time_limit {
            model.set_option("time_limit", limit.as_secs_f64().max(0.01));
        }
        let solved = model
            .try_solve()
            .map_err(|e| MipError::Solver(format!("{e:?}")))?;
        use highs::{HighsModelStatus as S, HighsSolutionStatus};
        let optimal = match solved.status() {
            S::Optimal => true,
            S::ReachedTimeLimit | S::ReachedInterrupt | S::ReachedIterationLimit => false,
            S::ReachedSolutionLimit | S::ReachedMemoryLimit => false,
            other => return Err(MipError::Solver(format!("model status {other:?}"))),
        };
        if solved.primal_solution_status() != HighsSolutionStatus::Feasible {
            return Err(MipError::NoSolution);
        }
        let objective = solved.objective_value() + self.constant;
        let bound = if optimal {
            objective
        } else {
            solved
                .double_info_value(c"mip_dual_bound")
                .ok()
                .filter(|b| b.is_finite())
                .map_or(f64::NEG_INFINITY, |b| b + self.constant)
        };
        let solution = solved.get_solution();
        let values = solution.columns();
        let mut plans = vec![Plan::default(); orders];
        // Shipments in order of first use by the order's lines, lines in the order's line order.
        let mut arcs = self.arcs;
        arcs.sort_by_key(|a| (a.order, a.line));
        for arc in &arcs {
            let q = values[arc.column].round();
            if q < 0.5 {
                continue;
            }
            let shipments = &mut plans[arc.order].shipments;
            match shipments.iter_mut().find(|(n, _)| *n == arc.node) {
                Some((_, lines)) => lines.push((arc.sku, q as u32)),
                None => shipments.push((arc.node, vec![(arc.sku, q as u32)])),
            }
        }
        read_terms(&mut plans, &self.choices, &self.inbound, values);
        Ok(JointAnswer {
            plans,
            objective,
            bound,
            optimal,
        })
    }
}

/// Solves one order exactly (with a single HiGHS thread and no time limit).
pub fn solve_order(
    snapshot: &Snapshot,
    avail: &impl Availability,
    order: &Order,
) -> Result<MipAnswer, MipError> {
    super::router::validate(snapshot, order)?;
    let mut model = JointMip::new(snapshot, avail);
    model.add_order(order);
    let answer = model.solve(None, 1)?;
    Ok(MipAnswer {
        plan: answer.plans.into_iter().next().unwrap_or_default(),
        objective: answer.objective,
    })
}

/// One node's shipment of a dated order, as the MIP sees it.
/// A node's parcel options to an address: (base, per_kg) per carrier and service.
type ParcelOptions = Vec<(f64, f64)>;

/// One order's variables while it is added ([`JointMip::add_order`]).
struct OrderVars {
    index: usize,
    dated: bool,
    total_units: u32,
    /// The shipment binaries opened so far, one per node.
    opened: Vec<Variable>,
    /// Per line, its units allocated over every node.
    allocated: Vec<Expression>,
    late: Option<Variable>,
    rules: RuleVars,
}

/// An order's allocations at one node: units, weight and value there, each line's variable, and
/// the inbound tiers the lines use (day, units, column variable).
#[derive(Default)]
struct AtNode {
    units: Expression,
    weight: Expression,
    value: Expression,
    arcs: Vec<(usize, Variable)>,
    pending: Vec<(Day, u32, Variable)>,
}

struct DatedShipment<'o> {
    order: &'o Order,
    order_index: usize,
    node: NodeId,
    /// The zone band to the address; `None` for a pickup.
    band: Option<usize>,
    /// The shipment's open binary.
    open: Variable,
    weight: Expression,
    late: Option<Variable>,
}

/// What a shipment dispatched on `dispatch` may be: (service, billable kg, price, arrival day)
/// for every allowed service and kg, with the spec's carrier (cheapest, then earliest, then
/// first row); a pickup is ready on its dispatch day at no shipping price.
fn offers(
    snapshot: &Snapshot,
    order: &Order,
    band: Option<usize>,
    dispatch: Day,
    kmax: u32,
) -> Vec<(Service, u32, f64, Day)> {
    let Some(band) = band else {
        return vec![(Service::Pickup, 0, 0.0, dispatch)];
    };
    let mut out = Vec::new();
    for &service in order.service.shipment_services() {
        for kg in 1..=kmax {
            if let Some((_, price, day)) = snapshot.rates().quote_dated(service, band, kg, dispatch)
            {
                out.push((service, kg, price, day));
            }
        }
    }
    out
}

/// The service, floor and inbound units of each dated shipment, from the chosen columns.
fn read_terms(plans: &mut [Plan], choices: &[Choice], inbound: &[InboundArc], values: &[f64]) {
    for c in choices.iter().filter(|c| values[c.column] > 0.5) {
        let plan = &mut plans[c.order];
        let Some(i) = plan.shipments.iter().position(|(n, _)| *n == c.node) else {
            continue;
        };
        if plan.terms.len() < plan.shipments.len() {
            let filler = Terms {
                service: c.service,
                floor: NO_FLOOR,
                inbound_units: 0,
            };
            plan.terms.resize(plan.shipments.len(), filler);
        }
        let units: f64 = inbound
            .iter()
            .filter(|a| a.order == c.order && a.node == c.node)
            .map(|a| values[a.column].round())
            .sum();
        plan.terms[i] = Terms {
            service: c.service,
            floor: c.floor,
            inbound_units: units as u32,
        };
    }
}
