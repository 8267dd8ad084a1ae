//! The Reservations service.

use std::sync::Arc;
use std::time::Instant;

use tonic::{Request, Response, Status};

use super::errors::status_of;
use super::pb;
use super::routing::observe;
use crate::live::Live;
use crate::reserve::{Reservation, ReservationState};

pub struct ReservationsService {
    pub live: super::server::Shared,
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

async fn run(
    live: Arc<Live>,
    rpc: &'static str,
    req: pb::ReservationRef,
    f: fn(&Live, &str) -> Result<Reservation, crate::live::LiveError>,
) -> Result<Response<pb::ReservationResponse>, Status> {
    let start = Instant::now();
    let result = if req.reservation_id.is_empty() {
        Err(Status::invalid_argument("reservation_id: required"))
    } else {
        tokio::task::spawn_blocking(move || {
            f(&live, &req.reservation_id)
                .map(|r| response(&live, &r))
                .map_err(|e| status_of(&e))
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))
        .and_then(|r| r)
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
        let start = Instant::now();
        let live = self.live.get()?;
        let id = request.into_inner().reservation_id;
        let result = if id.is_empty() {
            Err(Status::invalid_argument("reservation_id: required"))
        } else {
            let (tx, rx) = tokio::sync::oneshot::channel();
            live.finish_async(&id, ReservationState::Released, move |r| {
                let _ = tx.send(r);
            });
            match rx.await {
                Ok(Ok(r)) => Ok(response(&live, &r)),
                Ok(Err(e)) => Err(status_of(&e)),
                Err(_) => Err(Status::unavailable("journal writer stopped")),
            }
        };
        observe("Release", start, &result);
        result.map(Response::new)
    }

    async fn confirm(
        &self,
        request: Request<pb::ReservationRef>,
    ) -> Result<Response<pb::ReservationResponse>, Status> {
        run(
            self.live.get()?,
            "Confirm",
            request.into_inner(),
            Live::confirm,
        )
        .await
    }

    async fn get(
        &self,
        request: Request<pb::ReservationRef>,
    ) -> Result<Response<pb::ReservationResponse>, Status> {
        run(
            self.live.get()?,
            "Get",
            request.into_inner(),
            Live::reservation,
        )
        .await
    }
}
