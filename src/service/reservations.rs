//! The Reservations service.

use std::sync::Arc;
use std::time::Instant;

use tonic::{Request, Response, Status};

use super::errors::status_of;
use super::pb;
use super::state::{Shared, observe};
use crate::live::Live;
use crate::reserve::{Reservation, ReservationState};

pub struct ReservationsService {
    pub live: Shared,
}

fn response(live: &Live, r: &Reservation) -> pb::ReservationResponse {
    let state = live.load();
    let snap = &state.snapshot;
    pb::ReservationResponse {
        reservation_id: r.id.clone(),
        order_id: r.order_id.clone(),
        state: r.state.as_str().to_owned(),
        allocations: r
            .held
            .iter()
            .filter(|&&(_, n, k, _)| {
                n.index() < snap.nodes().len() && k.index() < snap.skus().len()
            })
            .map(|&(_, n, k, q)| pb::Allocation {
                node_id: snap.node(n).id.clone(),
                sku: snap.sku(k).id.clone(),
                qty: q,
            })
            .collect(),
    }
}

/// Ends a reservation as `to`, answering once the change is durable.
async fn finish(
    live: Arc<Live>,
    rpc: &'static str,
    req: pb::ReservationRef,
    to: ReservationState,
) -> Result<Response<pb::ReservationResponse>, Status> {
    let start = Instant::now();
    let result = if req.reservation_id.is_empty() {
        Err(Status::invalid_argument("reservation_id: required"))
    } else {
        let (tx, rx) = tokio::sync::oneshot::channel();
        live.finish(
            &req.reservation_id,
            to,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        );
        match rx.await {
            Ok(Ok(r)) => Ok(response(&live, &r)),
            Ok(Err(e)) => Err(status_of(&e)),
            Err(_) => Err(Status::unavailable("the store stopped")),
        }
    };
    observe(rpc, start, &result);
    result.map(Response::new)
}

#[tonic::async_trait]
impl pb::reservations_server::Reservations for ReservationsService {
    async fn release(
        &self,
        request: Request<pb::ReservationRef>,
    ) -> Result<Response<pb::ReservationResponse>, Status> {
        let live = self.live.get()?;
        finish(
            live,
            "Release",
            request.into_inner(),
            ReservationState::Released,
        )
        .await
    }

    async fn confirm(
        &self,
        request: Request<pb::ReservationRef>,
    ) -> Result<Response<pb::ReservationResponse>, Status> {
        let live = self.live.get()?;
        finish(
            live,
            "Confirm",
            request.into_inner(),
            ReservationState::Confirmed,
        )
        .await
    }

    async fn get(
        &self,
        request: Request<pb::ReservationRef>,
    ) -> Result<Response<pb::ReservationResponse>, Status> {
        let start = Instant::now();
        let live = self.live.get()?;
        let id = request.into_inner().reservation_id;
        let result = if id.is_empty() {
            Err(Status::invalid_argument("reservation_id: required"))
        } else {
            live.reservation(&id)
                .map(|r| response(&live, &r))
                .map_err(|e| status_of(&e))
        };
        observe("Get", start, &result);
        result.map(Response::new)
    }
}
