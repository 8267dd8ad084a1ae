//! The server's background loops: reservation expiry with the health and gauges beside it, and
//! journal compaction. Each holds only a weak reference to the live state, so it ends when the
//! server does. (Group commit is not a loop here: the journal's writer thread takes every append
//! waiting, writes them and syncs once — `reserve/journal`.)

use std::sync::Arc;
use std::time::Duration;

use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use super::network::NetworkService;
use super::pb;
use super::reservations::ReservationsService;
use super::routing::RoutingService;
use crate::live::Live;

/// How often due reservations are expired (and the gauges and the store's health looked at).
pub const EXPIRY_INTERVAL: Duration = Duration::from_millis(500);
/// How often the journal's current segment is measured for compaction.
pub const COMPACTION_INTERVAL: Duration = Duration::from_secs(10);
/// The segment size past which a new generation starts from a checkpoint of the current state.
pub const COMPACTION_SEGMENT_BYTES: u64 = 64 << 20;

/// Starts both loops.
pub(super) fn spawn(live: &Arc<Live>, health: HealthReporter) {
    tokio::spawn(compaction(Arc::downgrade(live)));
    tokio::spawn(housekeeping(Arc::downgrade(live), health));
}

/// Compaction: once the current segment passes [`COMPACTION_SEGMENT_BYTES`], a new generation
/// starts from a checkpoint of the current state (written off the commit path).
async fn compaction(live: std::sync::Weak<Live>) {
    let mut tick = tokio::time::interval(COMPACTION_INTERVAL);
    loop {
        tick.tick().await;
        let Some(live) = live.upgrade() else { break };
        let compact = move || live.compact(COMPACTION_SEGMENT_BYTES);
        if let Ok(Err(e)) = tokio::task::spawn_blocking(compact).await {
            tracing::warn!("journal compaction failed: {e}");
        }
    }
}

/// Housekeeping: expire reservations, publish gauges, report a failed store in health.
async fn housekeeping(live: std::sync::Weak<Live>, health: HealthReporter) {
    let mut tick = tokio::time::interval(EXPIRY_INTERVAL);
    let mut reported = false;
    loop {
        tick.tick().await;
        let Some(live) = live.upgrade() else { break };
        if !reported && let Some(reason) = live.failure() {
            reported = true;
            tracing::error!(
                "store failed ({reason}): health NOT_SERVING for the services that change state"
            );
            set_changing(&health, ServingStatus::NotServing).await;
        }
        let expired = tokio::task::spawn_blocking({
            let live = live.clone();
            move || live.expire_due()
        })
        .await
        .unwrap_or(0);
        if expired > 0 {
            metrics::counter!("fulfil_reservations_expired_total").increment(expired as u64);
        }
        let info = live.info();
        metrics::gauge!("fulfil_reservations_held").set(info.reservations_held as f64);
        metrics::gauge!("fulfil_snapshot_age_seconds").set(info.age.as_secs_f64());
        metrics::gauge!("fulfil_snapshot_version").set(info.version as f64);
    }
}

/// Sets the health of the services that change state (Routing, Reservations, Network) and of
/// the server as a whole: SERVING once loaded, NOT_SERVING after the store failed (they refuse
/// every change until a restart).
pub(super) async fn set_changing(health: &HealthReporter, status: ServingStatus) {
    use tonic::server::NamedService;
    for name in [
        pb::routing_server::RoutingServer::<RoutingService>::NAME,
        pb::reservations_server::ReservationsServer::<ReservationsService>::NAME,
        pb::network_server::NetworkServer::<NetworkService>::NAME,
        "",
    ] {
        health.set_service_status(name, status).await;
    }
}
