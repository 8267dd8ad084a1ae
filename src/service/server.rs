//! Starting and stopping the server: config checked before any port is bound, health reported
//! NOT_SERVING until the network is loaded, reflection, metrics, reservation expiry, graceful
//! shutdown that drains calls in flight.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic_health::ServingStatus;

use super::network::NetworkService;
use super::pb;
use super::reservations::ReservationsService;
use super::routing::RoutingService;
use super::state::Shared;
use crate::live::{Live, LiveOptions};

/// Everything `fulfil serve` needs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub scenario: PathBuf,
    pub listen: SocketAddr,
    pub metrics_listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub reservation_ttl: Duration,
    /// What recovery does with a damaged journal.
    pub journal_recover: crate::reserve::journal::RecoverMode,
}

impl ServeConfig {
    /// Checks what can be checked before binding any port.
    pub fn validate(&self) -> Result<(), String> {
        if !self.scenario.is_dir() {
            return Err(format!(
                "scenario folder {} does not exist",
                self.scenario.display()
            ));
        }
        if !self.scenario.join("nodes.csv").is_file() {
            return Err(format!(
                "{} holds no nodes.csv: not a scenario folder",
                self.scenario.display()
            ));
        }
        if self.reservation_ttl.is_zero() || self.reservation_ttl > crate::live::MAX_RESERVATION_TTL
        {
            return Err(format!(
                "the reservation time-to-live must be above zero and at most {} seconds",
                crate::live::MAX_RESERVATION_TTL.as_secs()
            ));
        }
        if let Some(m) = self.metrics_listen
            && m == self.listen
            && m.port() != 0
        {
            return Err(format!("metrics and gRPC cannot both listen on {m}"));
        }
        if let Some(dir) = &self.data_dir
            && dir.exists()
            && !dir.is_dir()
        {
            return Err(format!("data dir {} is not a folder", dir.display()));
        }
        Ok(())
    }
}

/// A running server (for tests and embedding).
pub struct Server {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    join: tokio::task::JoinHandle<Result<(), String>>,
}

impl Server {
    /// Asks the server to stop and waits for calls in flight to finish.
    pub async fn stop(mut self) -> Result<(), String> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.join
            .await
            .map_err(|e| format!("server task failed: {e}"))?
    }
}

/// Sets the health of the services that change state (Routing, Reservations, Network) and of
/// the server as a whole: SERVING once loaded, NOT_SERVING after the store failed (they refuse
/// every change until a restart).
async fn set_changing(health: &tonic_health::server::HealthReporter, status: ServingStatus) {
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

/// Binds, starts serving (health NOT_SERVING), loads the network, then reports SERVING.
pub async fn serve(config: ServeConfig) -> Result<Server, String> {
    config.validate()?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("cannot read the listening address: {e}"))?;
    if let Some(m) = config.metrics_listen {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(m)
            .install()
            .map_err(|e| format!("cannot start metrics on {m}: {e}"))?;
    }
    let shared = Shared::default();
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_not_serving::<pb::routing_server::RoutingServer<RoutingService>>()
        .await;
    health
        .set_service_status("", tonic_health::ServingStatus::NotServing)
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| format!("reflection: {e}"))?;
    let (tx, rx) = oneshot::channel::<()>();
    let router = tonic::transport::Server::builder()
        .add_service(health_service)
        .add_service(reflection)
        .add_service(pb::routing_server::RoutingServer::new(RoutingService {
            live: shared.clone(),
        }))
        .add_service(pb::reservations_server::ReservationsServer::new(
            ReservationsService {
                live: shared.clone(),
            },
        ))
        .add_service(pb::network_server::NetworkServer::new(NetworkService {
            live: shared.clone(),
        }))
        .add_service(pb::planning_server::PlanningServer::new(
            super::planning::PlanningService {
                live: shared.clone(),
            },
        ));
    let join = tokio::spawn(async move {
        router
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
                async {
                    let _ = rx.await;
                    tracing::info!("shutting down: draining calls in flight");
                },
            )
            .await
            .map_err(|e| format!("server failed: {e}"))
    });
    tracing::info!(%addr, "listening (NOT_SERVING while the network loads)");

    let options = LiveOptions {
        scenario: config.scenario.clone(),
        data_dir: config.data_dir.clone(),
        reservation_ttl: config.reservation_ttl,
        recover: config.journal_recover,
    };
    let live = tokio::task::spawn_blocking(move || Live::open(options))
        .await
        .map_err(|e| format!("loading failed: {e}"))?
        .map_err(|e| format!("cannot load the network: {e}"))?;
    let live = Arc::new(live);
    shared.set(live.clone());
    let info = live.info();
    tracing::info!(
        version = info.version,
        nodes = info.nodes,
        skus = info.skus,
        inventory_rows = info.inventory_rows,
        reservations_held = info.reservations_held,
        "network loaded from {}",
        config.scenario.display()
    );
    health
        .set_serving::<pb::planning_server::PlanningServer<super::planning::PlanningService>>()
        .await;
    set_changing(&health, ServingStatus::Serving).await;

    // Compaction: once the current segment passes 64 MiB, a new generation starts from a
    // checkpoint of the current state (written off the commit path).
    let weak_c = Arc::downgrade(&live);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            tick.tick().await;
            let Some(live) = weak_c.upgrade() else { break };
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || live.compact(64 << 20)).await {
                tracing::warn!("journal compaction failed: {e}");
            }
        }
    });
    // Housekeeping: expire reservations, publish gauges, report a failed store in health.
    let weak = Arc::downgrade(&live);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        let mut reported = false;
        loop {
            tick.tick().await;
            let Some(live) = weak.upgrade() else { break };
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
    });
    Ok(Server {
        addr,
        shutdown: Some(tx),
        join,
    })
}
