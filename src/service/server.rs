//! Starting and stopping the server: config checked before any port is bound, health reported
//! NOT_SERVING until the network is loaded, reflection, metrics, the layers in front of every
//! service (`layers.rs`), the background loops (`background.rs`), graceful shutdown that drains
//! calls in flight.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::server::{Router, TcpIncoming};
use tonic_health::ServingStatus;

use super::network::NetworkService;
use super::pb;
use super::pb::network_server::NetworkServer;
use super::pb::planning_server::PlanningServer;
use super::pb::reservations_server::ReservationsServer;
use super::pb::routing_server::RoutingServer;
use super::planning::PlanningService;
use super::reservations::ReservationsService;
use super::routing::RoutingService;
use super::state::Shared;
use super::{background, layers};
use crate::live::{Live, LiveError, LiveOptions};

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
    pub fn validate(&self) -> Result<(), ServeError> {
        let scenario = || self.scenario.clone();
        if !self.scenario.is_dir() {
            return Err(ServeError::NoScenario { path: scenario() });
        }
        if !self.scenario.join("nodes.csv").is_file() {
            return Err(ServeError::NotAScenario { path: scenario() });
        }
        if self.reservation_ttl.is_zero() || self.reservation_ttl > crate::live::MAX_RESERVATION_TTL
        {
            return Err(ServeError::Ttl {
                max_secs: crate::live::MAX_RESERVATION_TTL.as_secs(),
            });
        }
        if let Some(m) = self.metrics_listen
            && m == self.listen
            && m.port() != 0
        {
            return Err(ServeError::SameAddress { addr: m });
        }
        if let Some(dir) = &self.data_dir
            && dir.exists()
            && !dir.is_dir()
        {
            return Err(ServeError::DataDirNotAFolder { path: dir.clone() });
        }
        Ok(())
    }
}

/// Why the server could not start, or stopped with an error. Each variant keeps the error it
/// wraps and says it in its message (so the binary prints one line, not a chain).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    #[error("scenario folder {} does not exist", path.display())]
    NoScenario { path: PathBuf },
    #[error("{} holds no nodes.csv: not a scenario folder", path.display())]
    NotAScenario { path: PathBuf },
    #[error("the reservation time-to-live must be above zero and at most {max_secs} seconds")]
    Ttl { max_secs: u64 },
    #[error("metrics and gRPC cannot both listen on {addr}")]
    SameAddress { addr: SocketAddr },
    #[error("data dir {} is not a folder", path.display())]
    DataDirNotAFolder { path: PathBuf },
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("cannot read the listening address: {error}")]
    LocalAddr { error: std::io::Error },
    #[error("cannot start metrics on {addr}: {error}")]
    Metrics {
        addr: SocketAddr,
        error: metrics_exporter_prometheus::BuildError,
    },
    #[error("reflection: {error}")]
    Reflection {
        error: tonic_reflection::server::Error,
    },
    #[error("cannot load the network: {error}")]
    Load { error: LiveError },
    #[error("loading failed: {error}")]
    LoadTask { error: tokio::task::JoinError },
    #[error("server failed: {error}")]
    Transport { error: tonic::transport::Error },
    #[error("server task failed: {error}")]
    ServerTask { error: tokio::task::JoinError },
}

/// A running server (for tests and embedding).
pub struct Server {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    join: tokio::task::JoinHandle<Result<(), ServeError>>,
}

impl Server {
    /// Asks the server to stop and waits for calls in flight to finish.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.join
            .await
            .map_err(|error| ServeError::ServerTask { error })?
    }
}

/// Binds, starts serving (health NOT_SERVING), loads the network, reports SERVING and starts
/// the background loops.
pub async fn serve(config: ServeConfig) -> Result<Server, ServeError> {
    config.validate()?;
    let listen = config.listen;
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|error| ServeError::Listen {
            addr: listen,
            error,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|error| ServeError::LocalAddr { error })?;
    if let Some(m) = config.metrics_listen {
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(m)
            .install()
            .map_err(|error| ServeError::Metrics { addr: m, error })?;
    }
    let shared = Shared::default();
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_not_serving::<pb::routing_server::RoutingServer<RoutingService>>()
        .await;
    health
        .set_service_status("", ServingStatus::NotServing)
        .await;
    let (tx, rx) = oneshot::channel::<()>();
    let router = services(&shared, health_service)?;
    let join = tokio::spawn(async move {
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        let drained = async {
            let _ = rx.await;
            tracing::info!("shutting down: draining calls in flight");
        };
        router
            .serve_with_incoming_shutdown(incoming, drained)
            .await
            .map_err(|error| ServeError::Transport { error })
    });
    tracing::info!(%addr, "listening (NOT_SERVING while the network loads)");
    let live = load(&config).await?;
    shared.set(live.clone());
    health
        .set_serving::<pb::planning_server::PlanningServer<PlanningService>>()
        .await;
    background::set_changing(&health, ServingStatus::Serving).await;
    background::spawn(&live, health);
    Ok(Server {
        addr,
        shutdown: Some(tx),
        join,
    })
}

/// Every service behind the [`layers::envelope`]: health, reflection, and the four of
/// `fulfil.proto`, all sharing `shared`.
fn services(
    shared: &Shared,
    health: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
) -> Result<Router<layers::Layered>, ServeError> {
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|error| ServeError::Reflection { error })?;
    let live = || shared.clone();
    Ok(tonic::transport::Server::builder()
        .layer(layers::envelope())
        .add_service(health)
        .add_service(reflection)
        .add_service(RoutingServer::new(RoutingService { live: live() }))
        .add_service(ReservationsServer::new(ReservationsService {
            live: live(),
        }))
        .add_service(NetworkServer::new(NetworkService { live: live() }))
        .add_service(PlanningServer::new(PlanningService { live: live() })))
}

/// Opens the live state (replaying the data folder) on the blocking pool.
async fn load(config: &ServeConfig) -> Result<Arc<Live>, ServeError> {
    let options = LiveOptions {
        scenario: config.scenario.clone(),
        data_dir: config.data_dir.clone(),
        reservation_ttl: config.reservation_ttl,
        recover: config.journal_recover,
    };
    let live = tokio::task::spawn_blocking(move || Live::open(options))
        .await
        .map_err(|error| ServeError::LoadTask { error })?
        .map_err(|error| ServeError::Load { error })?;
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
    Ok(Arc::new(live))
}
