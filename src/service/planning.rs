//! `Planning`: what-if simulations in a sandbox, streaming progress and then the KPIs.

use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::access::{Caller, Role, still_in_force};
use super::convert::{demand_point_of, order_of, receipt_of};
use super::pb;
use super::state::{Shared, blocking};
use crate::cancel::Cancel;
use crate::model::Order;
use crate::scenario::{Receipt, read_receipts, read_scenario_forecast};
use crate::simulate::{
    About, GapClosed, Kpis, ReplayPolicy, Study, Variant, hindsight_runs, html, kpis_json,
};
use crate::snapshot::Snapshot;

pub struct PlanningService {
    pub live: Shared,
    /// The tokens in force, which a simulation checks its caller against as it runs.
    pub tokens: super::layers::TokensInForce,
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::SimulateEvent, Status>> + Send>>;

/// What a validated request runs.
struct Plan {
    study: Study,
    report: bool,
    version: u64,
    about: About,
}

fn prepare(live: &crate::live::Live, req: pb::SimulateRequest) -> Result<Plan, Status> {
    super::convert::check_order_count(req.orders.len())?;
    let state = live.load();
    let base = state.snapshot.clone();
    let policy_name = if req.policy.is_empty() {
        "optimal"
    } else {
        req.policy.as_str()
    };
    let policy: ReplayPolicy = policy_name
        .parse()
        .map_err(|e: String| Status::invalid_argument(format!("policy: {e}")))?;
    let policy = with_forecast(live, &base, policy, &req.forecast)?;
    let receipts = receipts(live, &base, &req)?;
    let also = hindsight(&policy, &req, !receipts.is_empty())?;
    let orders = orders(live, &base, &req.orders)?;
    let variants = req
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let name = if v.file_name.is_empty() {
                format!("variants[{i}]")
            } else {
                v.file_name.clone()
            };
            Variant::parse(Path::new(&name), &v.toml)
                .map_err(|e| Status::invalid_argument(format!("variants[{i}]: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let version = base.version();
    let mut study = Study::prepare(base, &variants, version, orders, receipts, policy)
        .map_err(|e| Status::invalid_argument(format!("variants[{}]: {e}", e.index())))?;
    study.also = also;
    let about = About {
        title: "fulfil simulation (service sandbox)".to_owned(),
        policy: policy_name.to_owned(),
        descriptions: study.descriptions(),
    };
    Ok(Plan {
        study,
        report: req.report_html,
        version,
        about,
    })
}

/// Most receipts or forecast points one request may carry.
const MAX_ROWS: usize = 1_000_000;

fn check_rows(field: &str, rows: usize) -> Result<(), Status> {
    if rows > MAX_ROWS {
        return Err(Status::invalid_argument(format!(
            "{field}: {rows} rows, above the limit of {MAX_ROWS} per call"
        )));
    }
    Ok(())
}

/// The lookahead policy's demand: the request's points, else the server's `forecast.csv` (if
/// any; else learned as the replay goes). Points with another policy are refused.
fn with_forecast(
    live: &crate::live::Live,
    base: &Snapshot,
    policy: ReplayPolicy,
    given: &[pb::DemandPoint],
) -> Result<ReplayPolicy, Status> {
    check_rows("forecast", given.len())?;
    let ReplayPolicy::Lookahead(_) = policy else {
        if given.is_empty() {
            return Ok(policy);
        }
        return Err(Status::invalid_argument(
            "forecast: only read by policy \"lookahead\"",
        ));
    };
    let points = if given.is_empty() {
        read_scenario_forecast(live.scenario(), base).map_err(|e| {
            Status::failed_precondition(format!(
                "forecast: none given, and the server's own forecast.csv cannot be read: {}",
                e.redacted()
            ))
        })?
    } else {
        let points = given
            .iter()
            .enumerate()
            .map(|(i, p)| demand_point_of(p, base, &format!("forecast[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Some(points)
    };
    Ok(ReplayPolicy::Lookahead(points.map(Arc::new)))
}

/// The replays a hindsight comparison adds, after checking its time limit.
fn hindsight(
    policy: &ReplayPolicy,
    req: &pb::SimulateRequest,
    receipts: bool,
) -> Result<Vec<(String, ReplayPolicy)>, Status> {
    let limit = req.hindsight_time_limit_seconds;
    if !req.hindsight {
        if limit != 0.0 {
            return Err(Status::invalid_argument(
                "hindsight_time_limit_seconds: only read with hindsight",
            ));
        }
        return Ok(Vec::new());
    }
    let limit = if limit == 0.0 { 60.0 } else { limit };
    if !(limit.is_finite() && limit > 0.0 && limit <= 3600.0) {
        return Err(Status::invalid_argument(format!(
            "hindsight_time_limit_seconds: expected seconds in (0, 3600], found {limit}"
        )));
    }
    Ok(hindsight_runs(
        policy,
        Duration::from_secs_f64(limit),
        receipts,
    ))
}

/// The request's receipts; with no orders and no receipts given, the server's own
/// `receipts.csv` (if its folder has one) beside its own orders.
fn receipts(
    live: &crate::live::Live,
    base: &Snapshot,
    req: &pb::SimulateRequest,
) -> Result<Vec<Receipt>, Status> {
    check_rows("receipts", req.receipts.len())?;
    if req.receipts.is_empty() {
        let path = live.scenario().join("receipts.csv");
        if !req.orders.is_empty() || !path.exists() {
            return Ok(Vec::new());
        }
        return read_receipts(&path, base).map_err(|e| {
            Status::failed_precondition(format!(
                "receipts: the server's own receipts.csv cannot be read: {}",
                e.redacted()
            ))
        });
    }
    let mut out = req
        .receipts
        .iter()
        .enumerate()
        .map(|(i, r)| receipt_of(r, base, &format!("receipts[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by_key(|r| r.at_ms); // as read_receipts: by time, request order among equals
    Ok(out)
}

/// The request's orders, or the server's own `orders.csv` when it gives none.
fn orders(
    live: &crate::live::Live,
    base: &Snapshot,
    given: &[pb::Order],
) -> Result<Vec<Order>, Status> {
    if given.is_empty() {
        let path = live.scenario().join("orders.csv");
        return crate::scenario::read_orders(&path, base).map_err(|e| {
            Status::failed_precondition(format!(
                "orders: none given, and the server's own orders cannot be read: {}",
                e.redacted()
            ))
        });
    }
    given
        .par_iter()
        .enumerate()
        .map(|(i, o)| order_of(o, base, format_args!("orders[{i}]")))
        .collect()
}

/// Runs the replays, sending progress at most every 200 ms, then the result.
fn run(
    plan: Plan,
    tx: mpsc::Sender<Result<pb::SimulateEvent, Status>>,
    cancel: &Cancel,
) -> Result<(), Status> {
    let total = plan.study.total();
    let start = Instant::now();
    let last_sent = AtomicU64::new(0);
    let progress = |decided: u64| {
        let now = start.elapsed().as_millis() as u64;
        let last = last_sent.load(Ordering::Relaxed);
        if now >= last + 200
            && last_sent
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let _ = tx.try_send(Ok(pb::SimulateEvent {
                event: Some(pb::simulate_event::Event::Progress(pb::SimulateProgress {
                    decided,
                    total,
                })),
            }));
        }
    };
    let results: Vec<(String, Kpis)> = plan
        .study
        .run(cancel, &progress)
        .map_err(|e| Status::invalid_argument(e.to_string()))?
        .into_iter()
        .map(|r| (r.name, r.kpis))
        .collect();
    let kpis_json = serde_json::to_string(&kpis_json(&results))
        .map_err(|e| Status::internal(format!("encoding the KPIs: {e}")))?;
    let report_html = if plan.report {
        html(&plan.about, &results)
    } else {
        String::new()
    };
    let _ = tx.blocking_send(Ok(pb::SimulateEvent {
        event: Some(pb::simulate_event::Event::Progress(pb::SimulateProgress {
            decided: total,
            total,
        })),
    }));
    let _ = tx.blocking_send(Ok(pb::SimulateEvent {
        event: Some(pb::simulate_event::Event::Result(pb::SimulateResult {
            snapshot_version: plan.version,
            kpis_json,
            report_html,
            gap_closed: GapClosed::find(&results).iter().map(gap_pb).collect(),
        })),
    }));
    Ok(())
}

fn gap_pb(g: &GapClosed) -> pb::GapClosed {
    pb::GapClosed {
        network: g.network.clone(),
        policy_cost: g.policy,
        optimal_cost: g.optimal,
        hindsight_cost: g.hindsight,
        hindsight_bound: g.bound,
        closed: g.share(g.hindsight),
        closed_vs_bound: g.bound.and_then(|b| g.share(b)),
        hindsight_between_receipts: g.between_receipts,
        closed_vs_between_receipts: g.between_receipts.and_then(|w| g.share(w)),
    }
}

#[tonic::async_trait]
impl pb::planning_server::Planning for PlanningService {
    type SimulateStream = EventStream;

    async fn simulate(
        &self,
        request: Request<pb::SimulateRequest>,
    ) -> Result<Response<Self::SimulateStream>, Status> {
        let live = self.live.get()?;
        let caller = request.extensions().get::<Caller>().cloned();
        let tokens = self.tokens.clone();
        let req = request.into_inner();
        // Validation (and the sandbox copy) before the stream starts: bad input is a plain error.
        let plan = blocking(move |_| prepare(&live, req)).await?;
        let (tx, rx) = mpsc::channel(64);
        // The replays stop when the client stops reading (cancelled, gone, deadline passed).
        let cancel = Cancel::new();
        tokio::spawn({
            let (weak, cancel) = (tx.downgrade(), cancel.clone());
            async move {
                // Ends when the replays are done (every sender gone) or the client is.
                while let Some(tx) = weak.upgrade() {
                    if tx.is_closed() {
                        cancel.cancel();
                        break;
                    }
                    if let Err(revoked) = still_in_force(&tokens, caller.as_ref(), Role::Planner) {
                        let _ = tx.try_send(Err(revoked));
                        cancel.cancel();
                        break;
                    }
                    drop(tx);
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            }
        });
        tokio::task::spawn_blocking(move || {
            if let Err(status) = run(plan, tx.clone(), &cancel) {
                let _ = tx.blocking_send(Err(status));
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}
