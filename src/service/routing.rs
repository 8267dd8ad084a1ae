//! The Routing service.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::access::{Role, require};
use super::convert::{
    check_order_count, coordinate, decision_into_pb, decision_pb, instant_of, lines_of, order_of,
};
use super::errors::status_of;
use super::observe::{CallLog, count_decisions};
use super::pb;
use super::state::{Shared, Weight, blocking, time_left};
use crate::cancel::Cancel;
use crate::live::{CommitCall, Live, PolicyChoice};
use crate::model::Order;
use crate::model::dates::format_day;
use crate::route::{Basket, Outcome, explain, fulfilment_options};

pub struct RoutingService {
    pub live: Shared,
}

/// Orders of more lines than this are decided on the blocking pool; smaller ones take
/// microseconds and are decided on the async worker.
const INLINE_LINES: usize = 16;

async fn route_one(
    shared: &Shared,
    live: Arc<Live>,
    req: pb::RouteOrderRequest,
    deadline: Option<std::time::Instant>,
) -> Result<pb::RouteOrderResponse, Status> {
    let order_pb = req
        .order
        .ok_or_else(|| Status::invalid_argument("order: required"))?;
    let dry_run = req.dry_run;
    super::ids::check_optional("request_id", &req.request_id)?;
    let call = CommitCall {
        dry_run,
        request_id: Some(req.request_id).filter(|r| !r.is_empty() && !dry_run),
        deadline,
        cancel: Cancel::never(),
        policy: policy_choice(&req.policy)?,
    };
    // A large order takes its decision slot before anything else (shed at once when all are
    // busy) and is checked and decided off the async workers, which stay free for small calls
    // and probes. Acknowledged only once on disk; concurrent commits share one fsync.
    let weight = if order_pb.lines.len() > INLINE_LINES {
        Weight::Decision
    } else if dry_run {
        Weight::Inline
    } else {
        Weight::Light
    };
    let ((order, committed), ()) = shared
        .change(&live, weight, move |live, cancel, ack| {
            let order = order_of(&order_pb, &live.load().snapshot, "order")?;
            let c = live
                .reserve(&order, &call.cancelled_by(cancel), ack)
                .map_err(|e| status_of(&e))?;
            Ok((order, c))
        })
        .await?;
    count_decisions("RouteOrder", dry_run, [&committed.decision]);
    let explanation = if req.explain {
        Some(explanation_of(&live, &order, &committed.decision)?)
    } else {
        None
    };
    Ok(pb::RouteOrderResponse {
        decision: Some(decision_into_pb(
            committed.decision,
            committed.exact,
            committed.lower_bound,
        )),
        snapshot_version: committed.version,
        reservation_id: committed.reservation_id.unwrap_or_default(),
        explanation,
        stale: stale(&live),
        replayed: committed.replayed,
        reservation_state: committed
            .state
            .map_or_else(String::new, |s| s.as_str().to_owned()),
    })
}

/// The policy a RouteOrder or RouteBatch asks for.
fn policy_choice(name: &str) -> Result<PolicyChoice, Status> {
    match name {
        "" => Ok(PolicyChoice::Network),
        "optimal" => Ok(PolicyChoice::Optimal),
        "lookahead" => Ok(PolicyChoice::Lookahead),
        other => {
            let shown: String = other.chars().take(40).collect();
            let more = if shown.len() < other.len() { "…" } else { "" };
            Err(Status::invalid_argument(format!(
                "policy: {:?}{more} is not \"\", \"optimal\" or \"lookahead\"",
                shown
            )))
        }
    }
}

/// Whether an answer was made on a state cut off from the shared store (counted).
fn stale(live: &Live) -> bool {
    let stale = live.stale();
    if stale {
        metrics::counter!("fulfil_stale_answers_total").increment(1);
    }
    stale
}

/// Why each node holding a SKU of the order was chosen, lost or excluded: explained on the
/// version the decision was made on, against what is reserved now.
fn explanation_of(
    live: &Live,
    order: &Order,
    decision: &crate::model::Decision,
) -> Result<pb::Explanation, Status> {
    let state = live.load();
    let nodes = explain(&state.snapshot, &state.book.view(), order, decision)
        .map_err(|e| status_of(&e.into()))?;
    let candidates = nodes
        .into_iter()
        .map(|n| pb::CandidateNode {
            node_id: state.snapshot.node(n.node).id.clone(),
            outcome: match n.outcome {
                Outcome::Chosen => pb::candidate_node::Outcome::Chosen,
                Outcome::Lost => pb::candidate_node::Outcome::Lost,
                Outcome::Excluded => pb::candidate_node::Outcome::Excluded,
            } as i32,
            alone_cost: n.alone_cost,
            reason: n.reason,
        })
        .collect();
    Ok(pb::Explanation { candidates })
}

fn route_batch(
    live: &Live,
    req: pb::RouteBatchRequest,
    work: &Work,
) -> Result<pb::RouteBatchResponse, Status> {
    check_order_count(req.orders.len())?;
    let board = live
        .board_for(policy_choice(&req.policy)?)
        .map_err(|e| status_of(&e))?;
    let state = live.load();
    use rayon::prelude::*;
    let orders: Vec<Order> = req
        .orders
        .par_iter()
        .enumerate()
        .map(|(i, o)| order_of(o, &state.snapshot, format_args!("orders[{i}]")))
        .collect::<Result<_, _>>()?;
    let committed = live
        .route_batch_with(&orders, req.dry_run, &work.cancel, board)
        .map_err(|e| status_of(&e))?;
    count_decisions(
        "RouteBatch",
        req.dry_run,
        committed.iter().map(|c| &c.decision),
    );
    Ok(pb::RouteBatchResponse {
        snapshot_version: committed
            .last()
            .map_or(state.snapshot.version(), |c| c.version),
        reservation_ids: committed
            .iter()
            .map(|c| c.reservation_id.clone().unwrap_or_default())
            .collect(),
        decisions: committed
            .into_par_iter()
            .map(|c| decision_into_pb(c.decision, c.exact, c.lower_bound))
            .collect(),
    })
}

/// The batch options of a Reoptimize call: its time limit (at most 80% of the time left before
/// the call's deadline, so the run answers with its best plan before it), gap target and
/// cancellation.
fn batch_options(
    req: &pb::ReoptimizeRequest,
    work: &Work,
) -> Result<crate::batch::BatchOptions, Status> {
    let defaults = crate::batch::BatchOptions::default();
    let time_limit = match req.time_limit_seconds {
        0.0 => defaults.time_limit,
        t if t.is_finite() && t > 0.0 && t <= 3600.0 => std::time::Duration::from_secs_f64(t),
        t => {
            return Err(Status::invalid_argument(format!(
                "time_limit_seconds: {t} is not a number of seconds in (0, 3600]"
            )));
        }
    };
    let gap_target = match req.gap_target {
        0.0 => defaults.gap_target,
        g if g.is_finite() && g > 0.0 => g,
        g => {
            return Err(Status::invalid_argument(format!(
                "gap_target: {g} is not a fraction ≥ 0"
            )));
        }
    };
    Ok(crate::batch::BatchOptions {
        time_limit: work
            .time_left
            .map_or(time_limit, |left| time_limit.min(left.mul_f64(0.8))),
        gap_target,
        cancel: work.cancel.clone(),
        ..defaults
    })
}

fn reoptimize(
    live: &Live,
    req: pb::ReoptimizeRequest,
    work: &Work,
) -> Result<pb::ReoptimizeResponse, Status> {
    use rayon::prelude::*;
    check_order_count(req.orders.len())?;
    let options = batch_options(&req, work)?;
    if req.orders.is_empty() {
        return Err(Status::invalid_argument("orders: the backlog is empty"));
    }
    let state = live.load();
    let orders: Vec<Order> = req
        .orders
        .par_iter()
        .enumerate()
        .map(|(i, o)| order_of(o, &state.snapshot, format_args!("orders[{i}]")))
        .collect::<Result<_, _>>()?;
    drop(state);
    let batch = live
        .reoptimize(&orders, &options, req.commit, &|_| {})
        .map_err(|e| status_of(&e))?;
    count_decisions("Reoptimize", !req.commit, &batch.result.decisions);
    let (r, b) = (&batch.result.summary, &batch.result.baseline);
    Ok(pb::ReoptimizeResponse {
        decisions: batch
            .result
            .decisions
            .par_iter()
            .map(|d| decision_pb(d, true, None))
            .collect(),
        snapshot_version: batch.version,
        reservation_ids: batch
            .reservation_ids
            .iter()
            .map(|id| id.clone().unwrap_or_default())
            .collect(),
        status: batch.result.status.as_str().to_owned(),
        cost: r.cost.total,
        lower_bound: batch.result.lower_bound,
        gap: batch.result.gap(),
        sequential_cost: b.cost.total,
        shipments: r.shipments,
        sequential_shipments: b.shipments,
        split_orders: r.split_orders,
        sequential_split_orders: b.split_orders,
        units_backordered: r.units_backordered,
        sequential_units_backordered: b.units_backordered,
        seconds: r.elapsed.as_secs_f64(),
    })
}

fn options(
    live: &Live,
    req: pb::FulfilmentOptionsRequest,
    _work: &Work,
) -> Result<pb::FulfilmentOptionsResponse, Status> {
    let state = live.load();
    let snap = &state.snapshot;
    let (lat, lon) = coordinate(Some(req.lat), Some(req.lon), "request")?;
    super::ids::check_optional("channel", &req.channel)?;
    let created = instant_of(&req.created_at, "created_at")?;
    let mut groups = Vec::new();
    let basket = Basket {
        lat,
        lon,
        lines: lines_of(&req.basket, snap, "basket", &mut groups)?,
        groups,
        channel: (!req.channel.is_empty()).then(|| req.channel.clone()),
        day: created.map(|t| t.div_euclid(86_400) as i32),
        created,
    };
    let want = match req.max_pickup_stores {
        0 => 3,
        n => n.min(50) as usize,
    };
    let found = fulfilment_options(snap, &state.book.view(), &basket, want)
        .map_err(|e| status_of(&e.into()))?;
    let options = found
        .services
        .into_iter()
        .map(|(service, p)| pb::ServiceOption {
            service: service.as_str().to_owned(),
            delivery_days: p
                .routed
                .decision
                .shipments
                .iter()
                .filter_map(|s| s.transit_days)
                .max()
                .unwrap_or(0),
            complete: p.routed.decision.backordered.is_empty(),
            delivery_date: p.date.map(format_day),
            order_within_seconds: p.order_within_seconds,
            decision: Some(decision_pb(
                &p.routed.decision,
                p.routed.exact,
                p.routed.lower_bound,
            )),
        })
        .collect();
    let pickup_stores = found
        .pickup
        .into_iter()
        .map(|(node, km, p)| pb::PickupStore {
            node_id: snap.node(node).id.clone(),
            distance_km: km,
            ready_date: p.date.map(format_day),
            order_within_seconds: p.order_within_seconds,
            decision: Some(decision_pb(
                &p.routed.decision,
                p.routed.exact,
                p.routed.lower_bound,
            )),
        })
        .collect();
    let earliest = found.earliest.map(|p| pb::EarliestOption {
        delivery_date: p.date.map(format_day).unwrap_or_default(),
        cost: p.routed.decision.cost.total,
        order_within_seconds: p.order_within_seconds,
        decision: Some(decision_pb(
            &p.routed.decision,
            p.routed.exact,
            p.routed.lower_bound,
        )),
    });
    Ok(pb::FulfilmentOptionsResponse {
        snapshot_version: snap.version(),
        options,
        pickup_stores,
        earliest,
        stale: stale(live),
    })
}

/// What a call's work may read of the call: its cancellation and the time left before its
/// deadline.
struct Work {
    cancel: Cancel,
    time_left: Option<std::time::Duration>,
}

/// What a call on the blocking pool runs under: a decision slot (shed when none is free), or
/// only the envelope's heavy-call limit (Reoptimize).
#[derive(Clone, Copy)]
enum Slot {
    Decision,
    Heavy,
}

impl RoutingService {
    /// A unary call decided by `f` on the blocking pool, on the live network, in `slot`;
    /// cancelled when the call is. A call that commits (`log`) writes its log line.
    async fn on_blocking_pool<Req: Send + 'static, Resp: Send + 'static>(
        &self,
        request: Request<Req>,
        slot: Slot,
        log: Option<CallLog>,
        f: fn(&Live, Req, &Work) -> Result<Resp, Status>,
    ) -> Result<Response<Resp>, Status> {
        let result = self.decide_on_pool(request, slot, f).await;
        if let Some(log) = log {
            log.done(&result, "", "");
        }
        result.map(Response::new)
    }

    async fn decide_on_pool<Req: Send + 'static, Resp: Send + 'static>(
        &self,
        request: Request<Req>,
        slot: Slot,
        f: fn(&Live, Req, &Work) -> Result<Resp, Status>,
    ) -> Result<Resp, Status> {
        let live = self.live.get()?;
        let time_left = time_left(&request);
        let req = request.into_inner();
        let work = move |cancel: &Cancel| {
            let work = Work {
                cancel: cancel.clone(),
                time_left,
            };
            f(&live, req, &work)
        };
        match slot {
            Slot::Heavy => blocking(work).await,
            Slot::Decision => self.live.decide(work).await,
        }
    }
}

#[tonic::async_trait]
impl pb::routing_server::Routing for RoutingService {
    async fn route_order(
        &self,
        request: Request<pb::RouteOrderRequest>,
    ) -> Result<Response<pb::RouteOrderResponse>, Status> {
        let commit = !request.get_ref().dry_run;
        if commit {
            require(&request, "RouteOrder (committing)", Role::Router)?;
        }
        let log = CallLog::of("RouteOrder", &request);
        let deadline = request
            .extensions()
            .get::<super::layers::Deadline>()
            .map(|d| d.0);
        let req = request.into_inner();
        let order_id = req
            .order
            .as_ref()
            .map(|o| o.order_id.clone())
            .unwrap_or_default();
        let result = match self.live.get() {
            Ok(live) => route_one(&self.live, live, req, deadline).await,
            Err(s) => Err(s),
        };
        if commit {
            let reservation = result.as_ref().map_or("", |r| r.reservation_id.as_str());
            log.done(&result, &order_id, reservation);
        }
        result.map(Response::new)
    }

    async fn route_batch(
        &self,
        request: Request<pb::RouteBatchRequest>,
    ) -> Result<Response<pb::RouteBatchResponse>, Status> {
        let commit = !request.get_ref().dry_run;
        if commit {
            require(&request, "RouteBatch (committing)", Role::Router)?;
        }
        let log = commit.then(|| CallLog::of("RouteBatch", &request));
        self.on_blocking_pool(request, Slot::Decision, log, route_batch)
            .await
    }

    async fn reoptimize(
        &self,
        request: Request<pb::ReoptimizeRequest>,
    ) -> Result<Response<pb::ReoptimizeResponse>, Status> {
        let commit = request.get_ref().commit;
        if commit {
            require(&request, "Reoptimize (committing)", Role::Admin)?;
        }
        let log = commit.then(|| CallLog::of("Reoptimize", &request));
        self.on_blocking_pool(request, Slot::Heavy, log, reoptimize)
            .await
    }

    async fn fulfilment_options(
        &self,
        request: Request<pb::FulfilmentOptionsRequest>,
    ) -> Result<Response<pb::FulfilmentOptionsResponse>, Status> {
        self.on_blocking_pool(request, Slot::Decision, None, options)
            .await
    }
}
