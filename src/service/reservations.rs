//! The Reservations service.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert::{decision_into_pb, order_of};
use super::errors::status_of;
use super::ids;
use super::observe::{CallLog, count_decisions};
use super::pb;
use super::state::{Shared, Weight};
use crate::live::{Live, LiveError, Rejection, Rerouted};
use crate::reserve::{Reservation, ReservationState};

pub struct ReservationsService {
    pub live: Shared,
}

fn response(live: &Live, r: Reservation) -> pb::ReservationResponse {
    let state = live.load();
    let snap = &state.snapshot;
    pb::ReservationResponse {
        reservation_id: r.id,
        order_id: r.order_id,
        state: r.state.as_str().to_owned(),
        allocations: r
            .held
            .iter()
            .filter(|a| a.node.index() < snap.nodes().len() && a.sku.index() < snap.skus().len())
            .map(|a| pb::Allocation {
                node_id: snap.node(a.node).id.clone(),
                sku: snap.sku(a.sku).id.clone(),
                qty: a.units,
            })
            .collect(),
        rejections: r.reroutes.rejections,
        rejected_nodes: r.reroutes.rejected,
        needs_attention: r.reroutes.attention.is_some(),
        attention_reason: r.reroutes.attention.unwrap_or_default(),
    }
}

/// Runs a re-route on the blocking pool (it decides an order) and answers once it is durable.
async fn reroute(
    shared: &Shared,
    live: Arc<Live>,
    log: (CallLog, String),
    f: impl FnOnce(&Live, crate::live::OnDurable) -> Result<Rerouted, LiveError> + Send + 'static,
) -> Result<Response<pb::RerouteResponse>, Status> {
    let done = shared
        .change(&live, Weight::Heavy, move |live, _, ack| {
            f(live, ack).map_err(|e| status_of(&e))
        })
        .await;
    let result = done.map(|(done, ())| {
        if !done.repeated {
            count_decisions(log.0.rpc(), false, [&done.decision]);
        }
        pb::RerouteResponse {
            decision: Some(decision_into_pb(done.decision, true, None)),
            reservation: Some(response(&live, done.reservation)),
            snapshot_version: done.version,
            repeated: done.repeated,
        }
    });
    let (log, reservation_id) = log;
    let order_id = result
        .as_ref()
        .ok()
        .and_then(|r| r.reservation.as_ref())
        .map_or("", |r| r.order_id.as_str());
    log.done(&result, order_id, &reservation_id);
    result.map(Response::new)
}

/// A rejection request, checked.
fn rejection_of(req: pb::RejectRequest) -> Result<Rejection, Status> {
    ids::check("reservation_id", &req.reservation_id)?;
    ids::check("node_id", &req.node_id)?;
    ids::check_optional("request_id", &req.request_id)?;
    for (i, l) in req.lines.iter().enumerate() {
        ids::check(format_args!("lines[{i}].sku"), &l.sku)?;
        if l.qty == 0 {
            return Err(Status::invalid_argument(format!(
                "lines[{i}]: a SKU and a qty of at least 1 are required"
            )));
        }
    }
    Ok(Rejection {
        reservation_id: req.reservation_id,
        node_id: req.node_id,
        lines: req.lines.into_iter().map(|l| (l.sku, l.qty)).collect(),
        short_pick: req.short_pick,
        reason: req.reason,
        request_id: req.request_id,
    })
}

/// Ends a reservation as `to`, answering once the change is durable.
async fn finish(
    shared: &Shared,
    request: Request<pb::ReservationRef>,
    rpc: &'static str,
    to: ReservationState,
) -> Result<Response<pb::ReservationResponse>, Status> {
    let log = CallLog::of(rpc, &request);
    let req = request.into_inner();
    let result = finished(shared, &req, to).await;
    let order_id = result.as_ref().map_or("", |r| r.order_id.as_str());
    log.done(&result, order_id, &req.reservation_id);
    result.map(Response::new)
}

async fn finished(
    shared: &Shared,
    req: &pb::ReservationRef,
    to: ReservationState,
) -> Result<pb::ReservationResponse, Status> {
    let live = shared.get()?;
    ids::check("reservation_id", &req.reservation_id)?;
    let id = req.reservation_id.clone();
    let ((), r) = shared
        .change(&live, Weight::Light, move |live, _, ack| {
            live.finish(&id, to, ack);
            Ok(())
        })
        .await?;
    Ok(response(&live, r))
}

#[tonic::async_trait]
impl pb::reservations_server::Reservations for ReservationsService {
    async fn release(
        &self,
        request: Request<pb::ReservationRef>,
    ) -> Result<Response<pb::ReservationResponse>, Status> {
        finish(&self.live, request, "Release", ReservationState::Released).await
    }

    async fn confirm(
        &self,
        request: Request<pb::ReservationRef>,
    ) -> Result<Response<pb::ReservationResponse>, Status> {
        finish(&self.live, request, "Confirm", ReservationState::Confirmed).await
    }

    async fn get(
        &self,
        request: Request<pb::ReservationRef>,
    ) -> Result<Response<pb::ReservationResponse>, Status> {
        let live = self.live.get()?;
        let id = request.into_inner().reservation_id;
        ids::check("reservation_id", &id)?;
        live.reservation(&id)
            .map(|r| Response::new(response(&live, r)))
            .map_err(|e| status_of(&e))
    }

    async fn reject(
        &self,
        request: Request<pb::RejectRequest>,
    ) -> Result<Response<pb::RerouteResponse>, Status> {
        let rpc = if request.get_ref().short_pick {
            "ShortPick"
        } else {
            "Reject"
        };
        let log = CallLog::of(rpc, &request);
        let req = request.into_inner();
        let id = req.reservation_id.clone();
        let checked = self.live.get().and_then(|l| Ok((l, rejection_of(req)?)));
        let (live, rej) = match checked {
            Ok(c) => c,
            Err(s) => {
                log.done(&Err::<(), _>(s.clone()), "", &id);
                return Err(s);
            }
        };
        reroute(&self.live, live, (log, id), move |l, ack| {
            l.reject(&rej, ack)
        })
        .await
    }

    async fn amend(
        &self,
        request: Request<pb::AmendRequest>,
    ) -> Result<Response<pb::RerouteResponse>, Status> {
        let log = CallLog::of("Amend", &request);
        let req = request.into_inner();
        let live = self.live.get()?;
        let checked = (|| {
            ids::check("reservation_id", &req.reservation_id)?;
            ids::check_optional("request_id", &req.request_id)?;
            let o = req
                .order
                .as_ref()
                .ok_or_else(|| Status::invalid_argument("order: required"))?;
            order_of(o, &live.load().snapshot, "order")
        })();
        let order = match checked {
            Ok(o) => o,
            Err(s) => {
                log.done(&Err::<(), _>(s.clone()), "", &req.reservation_id);
                return Err(s);
            }
        };
        let (id, request_id) = (req.reservation_id, req.request_id);
        let logged = (log, id.clone());
        reroute(&self.live, live, logged, move |l, ack| {
            l.amend(&id, &order, &request_id, ack)
        })
        .await
    }

    async fn list_attention(
        &self,
        _request: Request<pb::ListAttentionRequest>,
    ) -> Result<Response<pb::ListAttentionResponse>, Status> {
        let live = self.live.get()?;
        let reservations = live
            .needing_attention()
            .into_iter()
            .map(|r| response(&live, r))
            .collect();
        Ok(Response::new(pb::ListAttentionResponse { reservations }))
    }
}
