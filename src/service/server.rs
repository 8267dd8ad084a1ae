//! Starting and stopping the server: config checked before any port is bound, health reported
//! NOT_SERVING until the network is loaded, reflection, metrics, the layers in front of every
//! service (`layers.rs`), the background loops (`background.rs`), graceful shutdown that drains
//! calls in flight.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::server::Router;
use tonic_health::ServingStatus;

use super::access::{AuthFileError, Tokens};
use super::connections::{self, Budget};
use super::health::Health;
use super::layers::{Limits, TokensInForce};
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
use super::tls::{self, Tls, TlsError, TlsFiles};
use super::{background, layers, metrics_http, telemetry};
use crate::live::{Live, LiveError, LiveOptions};

/// Everything `fulfil serve` needs.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    /// The live network's settings: scenario, data folder or shared store, reservation TTL,
    /// request-id retention, journal recovery (checked by [`LiveOptions::validate`]).
    pub live: LiveOptions,
    pub listen: SocketAddr,
    pub metrics_listen: Option<SocketAddr>,
    /// TLS for gRPC and metrics; none: plaintext.
    pub tls: Option<TlsFiles>,
    /// Bearer tokens with roles; none: every caller may do everything.
    pub auth_file: Option<PathBuf>,
    /// Allows a non-loopback listener without TLS and tokens (warned about every minute).
    pub insecure: bool,
    /// The folder `LoadScenario` may read under; none: the call is refused.
    pub scenario_root: Option<PathBuf>,
    /// In-flight, heavy-call and message-size limits.
    pub limits: Limits,
    /// How long [`Server::stop`] waits for calls in flight before it drops them.
    pub drain_timeout: Duration,
    /// The connections and HTTP/2 windows of the ports.
    pub connections: ConnectionLimits,
}

/// How many connections each port keeps and how it treats them.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// The gRPC port's budget; none: from the open-file limit
    /// ([`connections::default_budget`]).
    pub max_connections: Option<usize>,
    /// A connection (either port) that completes no request within this is closed.
    pub first_request_timeout: Duration,
    /// HTTP/2 flow-control window of one stream, and of a whole connection. h2 closes a
    /// connection whose buffered small DATA frames cost more than half the connection window
    /// (`too_many_data_frames`); a stream window a 32nd of the connection's keeps a feed of
    /// small messages sent at full speed inside that, with flow control as its backpressure.
    pub stream_window: u32,
    pub connection_window: u32,
}

impl Default for ConnectionLimits {
    fn default() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: None,
            first_request_timeout: Duration::from_secs(10),
            stream_window: 256 << 10,
            connection_window: 8 << 20,
        }
    }
}

impl ServeConfig {
    /// A config with the defaults: loopback, no metrics, no journal, 30-minute holds, no TLS or
    /// tokens, no scenario root, limits from the core count.
    pub fn new(scenario: impl Into<PathBuf>, listen: SocketAddr) -> ServeConfig {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        ServeConfig {
            live: LiveOptions::new(scenario),
            listen,
            metrics_listen: None,
            tls: None,
            auth_file: None,
            insecure: false,
            scenario_root: None,
            limits: Limits::from_cores(cores),
            drain_timeout: Duration::from_secs(30),
            connections: ConnectionLimits::default(),
        }
    }

    /// Checks what can be checked before binding any port.
    pub fn validate(&self) -> Result<(), ServeError> {
        let live = &self.live;
        let scenario = || live.scenario.clone();
        if !live.scenario.is_dir() {
            return Err(ServeError::NoScenario { path: scenario() });
        }
        if !live.scenario.join("nodes.csv").is_file() {
            return Err(ServeError::NotAScenario { path: scenario() });
        }
        live.validate()
            .map_err(|error| ServeError::Settings { error })?;
        if let Some(m) = self.metrics_listen
            && m == self.listen
            && m.port() != 0
        {
            return Err(ServeError::SameAddress { addr: m });
        }
        if let Some(dir) = &live.data_dir
            && dir.exists()
            && !dir.is_dir()
        {
            return Err(ServeError::DataDirNotAFolder { path: dir.clone() });
        }
        if let Some(url) = &live.store_url
            && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(ServeError::StoreUrl);
        }
        if let Some(root) = &self.scenario_root
            && !root.is_dir()
        {
            return Err(ServeError::NoScenarioRoot { path: root.clone() });
        }
        let c = &self.connections;
        if c.max_connections == Some(0)
            || c.first_request_timeout.is_zero()
            || c.stream_window < 65_535
            || c.connection_window < c.stream_window
        {
            return Err(ServeError::Connections);
        }
        let l = &self.limits;
        if l.max_in_flight == 0
            || l.max_heavy == 0
            || l.max_decisions == 0
            || l.max_message_bytes < 1024
        {
            return Err(ServeError::Limits);
        }
        self.check_exposure()
    }

    /// A listener beyond loopback needs TLS and tokens (metrics: TLS), unless `insecure`.
    fn check_exposure(&self) -> Result<(), ServeError> {
        if self.insecure {
            return Ok(());
        }
        if !self.listen.ip().is_loopback() {
            let missing = match (&self.tls, &self.auth_file) {
                (None, None) => Some("--tls-cert/--tls-key and --auth-file"),
                (None, Some(_)) => Some("--tls-cert/--tls-key"),
                (Some(_), None) => Some("--auth-file"),
                (Some(_), Some(_)) => None,
            };
            if let Some(missing) = missing {
                return Err(ServeError::Exposed {
                    addr: self.listen,
                    missing,
                });
            }
        }
        if let Some(m) = self.metrics_listen
            && !m.ip().is_loopback()
            && self.tls.is_none()
        {
            return Err(ServeError::Exposed {
                addr: m,
                missing: "--tls-cert/--tls-key (metrics)",
            });
        }
        Ok(())
    }

    /// Whether the server listens beyond loopback without TLS or tokens (allowed by `insecure`).
    fn exposed_insecurely(&self) -> bool {
        let strict = ServeConfig {
            insecure: false,
            ..self.clone()
        };
        strict.check_exposure().is_err()
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
    #[error("{error}")]
    Settings { error: LiveError },
    #[error("metrics and gRPC cannot both listen on {addr}")]
    SameAddress { addr: SocketAddr },
    #[error("data dir {} is not a folder", path.display())]
    DataDirNotAFolder { path: PathBuf },
    #[error("--store: a postgres://… or postgresql://… URL is needed")]
    StoreUrl,
    #[error("scenario root {} is not a folder", path.display())]
    NoScenarioRoot { path: PathBuf },
    #[error(
        "--max-in-flight, --max-heavy-calls and --max-decisions must be at least 1, and \
         --max-message-bytes at least 1024"
    )]
    Limits,
    #[error(
        "--max-connections and --first-request-timeout must be above zero, \
         --http2-stream-window at least 65535 and --http2-connection-window at least the stream \
         window"
    )]
    Connections,
    #[error(
        "refusing to listen on {addr} without {missing}: anyone who can reach it could change \
         the network and drain the stock. Add {missing}, listen on 127.0.0.1, or pass \
         --insecure to accept the risk"
    )]
    Exposed {
        addr: SocketAddr,
        missing: &'static str,
    },
    #[error("{0}")]
    Tls(#[from] TlsError),
    #[error("{0}")]
    Auth(#[from] AuthFileError),
    #[error("cannot listen on {addr}: {error}")]
    Listen {
        addr: SocketAddr,
        error: std::io::Error,
    },
    #[error("cannot read the listening address: {error}")]
    LocalAddr { error: std::io::Error },
    #[error("cannot start metrics: {error}")]
    Metrics {
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
    /// Where `/metrics` (and `/healthz`, `/readyz`) is served, when it is.
    pub metrics_addr: Option<SocketAddr>,
    health: Health,
    drain_timeout: Duration,
    shutdown: Option<oneshot::Sender<()>>,
    join: tokio::task::JoinHandle<Result<(), ServeError>>,
    /// The server's helper tasks (reload on SIGHUP, warnings, metrics) end when this goes.
    _alive: Arc<()>,
}

impl Server {
    /// Stops the server: health NOT_SERVING first (load balancers and `/readyz` see it), then
    /// no new calls and the calls in flight drained for at most the drain timeout; those still
    /// running then are dropped (their clients see the connection close).
    pub async fn stop(mut self) -> Result<(), ServeError> {
        self.health.set_all(ServingStatus::NotServing).await;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(self.drain_timeout, &mut self.join).await {
            Ok(joined) => joined.map_err(|error| ServeError::ServerTask { error })?,
            Err(_) => {
                tracing::warn!(
                    timeout_secs = self.drain_timeout.as_secs_f64(),
                    "calls still in flight after the drain timeout: dropped"
                );
                self.join.abort();
                Ok(())
            }
        }
    }
}

/// Binds, starts serving (health NOT_SERVING), loads the network, reports SERVING and starts
/// the background loops.
pub async fn serve(config: ServeConfig) -> Result<Server, ServeError> {
    config.validate()?;
    let tls = config
        .tls
        .as_ref()
        .map(Tls::load)
        .transpose()?
        .map(Arc::new);
    let tokens: TokensInForce = Arc::new(ArcSwapOption::from(
        config
            .auth_file
            .as_deref()
            .map(Tokens::load)
            .transpose()?
            .map(Arc::new),
    ));
    let alive = Arc::new(());
    reload_on_hangup(&alive, config.auth_file.clone(), &tokens, tls.clone());
    let (listener, addr) = bind(config.listen).await?;
    let (health, health_service) = Health::new().await;
    let limits = config.connections;
    let metrics_addr = match config.metrics_listen {
        Some(m) => Some(start_metrics(m, tls.as_deref(), &alive, &health, &limits).await?),
        None => None,
    };
    let budget = grpc_budget(&limits);
    let shared = Shared::new(config.limits.max_decisions);
    let (tx, rx) = oneshot::channel::<()>();
    let router = services(&shared, health_service, &config, tokens)?;
    let join = tokio::spawn(run(router, listener, budget, tls.clone(), rx));
    tracing::info!(
        %addr,
        tls = tls.is_some(),
        auth = config.auth_file.is_some(),
        "listening (NOT_SERVING while the network loads)"
    );
    if let Some(m) = metrics_addr {
        tracing::info!(addr = %m, "metrics on /metrics, probes on /healthz and /readyz");
    }
    if config.live.data_dir.is_none() && config.live.store_url.is_none() {
        tracing::warn!(
            "no --data-dir: reservations and inventory changes are kept in memory only and \
             are lost when the server stops"
        );
    }
    if config.insecure && config.exposed_insecurely() {
        warn_insecure(&alive);
    }
    let live = load(&config).await?;
    shared.set(live.clone());
    health.set_all(ServingStatus::Serving).await;
    if live.failure().is_some() {
        // Started on a disk without room: reads are served, changes wait for a write.
        health.set_changing(ServingStatus::NotServing).await;
    }
    background::spawn(&shared, config.live.clone(), health.clone());
    Ok(Server {
        addr,
        metrics_addr,
        health,
        drain_timeout: config.drain_timeout,
        shutdown: Some(tx),
        join,
        _alive: alive,
    })
}

async fn bind(listen: SocketAddr) -> Result<(TcpListener, SocketAddr), ServeError> {
    let listener = TcpListener::bind(listen)
        .await
        .map_err(|error| ServeError::Listen {
            addr: listen,
            error,
        })?;
    let addr = listener
        .local_addr()
        .map_err(|error| ServeError::LocalAddr { error })?;
    Ok((listener, addr))
}

/// The gRPC port's connection budget: the open-file limit raised to its hard limit first.
fn grpc_budget(limits: &ConnectionLimits) -> Budget {
    let soft = connections::raise_open_files().map(|(soft, _)| soft);
    let max = limits
        .max_connections
        .unwrap_or_else(|| connections::default_budget(soft));
    tracing::info!(
        max_connections = max,
        first_request_timeout_secs = limits.first_request_timeout.as_secs_f64(),
        "gRPC connection budget"
    );
    Budget::new("grpc", max, limits.first_request_timeout)
}

/// Serves the router on `listener` (through TLS when configured, within `budget`) until `stop`
/// fires, then drains the calls in flight.
async fn run(
    router: Router<layers::Layered>,
    listener: TcpListener,
    budget: Budget,
    tls: Option<Arc<Tls>>,
    stop: oneshot::Receiver<()>,
) -> Result<(), ServeError> {
    let drained = async {
        let _ = stop.await;
        tracing::info!("shutting down: draining calls in flight");
    };
    let served = match tls {
        Some(tls) => {
            let incoming = connections::incoming(listener, budget, true, move |stream| {
                let config = tls.grpc.clone();
                async move { tls::handshake(&config, stream).await }
            });
            router.serve_with_incoming_shutdown(incoming, drained).await
        }
        None => {
            let incoming = connections::incoming(listener, budget, true, |stream| {
                std::future::ready(Some(stream))
            });
            router.serve_with_incoming_shutdown(incoming, drained).await
        }
    };
    served.map_err(|error| ServeError::Transport { error })
}

/// Starts `/metrics`, `/healthz` and `/readyz` on `listen` (with the server's TLS); its
/// address.
async fn start_metrics(
    listen: SocketAddr,
    tls: Option<&Tls>,
    alive: &Arc<()>,
    health: &Health,
    limits: &ConnectionLimits,
) -> Result<SocketAddr, ServeError> {
    let exporter = telemetry::exporter().map_err(|error| ServeError::Metrics { error })?;
    let (listener, addr) = bind(listen).await?;
    let budget = Budget::new(
        "metrics",
        connections::METRICS_CONNECTIONS,
        limits.first_request_timeout,
    );
    tokio::spawn(metrics_http::serve(
        listener,
        budget,
        metrics_http::Endpoints {
            exporter,
            ready: health.ready(),
        },
        tls.map(|t| t.metrics.clone()),
        Arc::downgrade(alive),
        limits.first_request_timeout,
    ));
    Ok(addr)
}

/// On SIGHUP: the auth file and the TLS files read again; what fails to load is logged and the
/// old stays in force. The handler is registered before this returns (a SIGHUP would otherwise
/// end the process).
fn reload_on_hangup(
    alive: &Arc<()>,
    auth_file: Option<PathBuf>,
    tokens: &TokensInForce,
    tls: Option<Arc<Tls>>,
) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(h) => h,
            Err(e) => return tracing::warn!("no reload on SIGHUP: {e}"),
        };
        let (alive, tokens) = (Arc::downgrade(alive), tokens.clone());
        tokio::spawn(async move {
            while hup.recv().await.is_some() && alive.upgrade().is_some() {
                reload(auth_file.as_deref(), &tokens, tls.as_deref());
            }
        });
    }
}

fn reload(auth_file: Option<&std::path::Path>, tokens: &TokensInForce, tls: Option<&Tls>) {
    if let Some(path) = auth_file {
        match Tokens::load(path) {
            Ok(t) => {
                tracing::info!(tokens = t.len(), "SIGHUP: auth file reloaded");
                tokens.store(Some(Arc::new(t)));
            }
            Err(e) => tracing::error!("SIGHUP: {e}; the tokens in force stay"),
        }
    }
    if let Some(tls) = tls {
        match tls.reload() {
            Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
            Err(e) => tracing::error!("SIGHUP: {e}; the certificate in force stays"),
        }
    }
}

/// `--insecure` beyond loopback: said at start and every minute.
fn warn_insecure(alive: &Arc<()>) {
    const SAY: &str = "INSECURE: listening beyond loopback without TLS and tokens (--insecure); \
                       anyone who can reach the port can change the network and the stock";
    tracing::warn!("{SAY}");
    let alive = Arc::downgrade(alive);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.tick().await;
        loop {
            tick.tick().await;
            if alive.upgrade().is_none() {
                break;
            }
            tracing::warn!("{SAY}");
        }
    });
}

/// HTTP/2 keep-alive: a dead client's connection (and its streams) is closed.
const KEEPALIVE: Duration = Duration::from_secs(60);
/// Streams one connection may have open at once.
const STREAMS_PER_CONNECTION: u32 = 256;

/// Every service behind the [`layers::Envelope`]: health, reflection, and the four of
/// `fulfil.proto`, all sharing `shared`.
fn services(
    shared: &Shared,
    health: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
    config: &ServeConfig,
    tokens: TokensInForce,
) -> Result<Router<layers::Layered>, ServeError> {
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|error| ServeError::Reflection { error })?;
    // The older v1alpha, which Python's grpcio-reflection and older grpcurl still ask for.
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|error| ServeError::Reflection { error })?;
    let live = || shared.clone();
    // The envelope refuses larger messages first, with INVALID_ARGUMENT; this is a backstop.
    let max = config.limits.max_message_bytes.saturating_mul(2);
    let network = NetworkService {
        live: live(),
        scenario_root: config.scenario_root.clone(),
        tokens: tokens.clone(),
    };
    let windows = config.connections;
    Ok(tonic::transport::Server::builder()
        .initial_stream_window_size(windows.stream_window)
        .initial_connection_window_size(windows.connection_window)
        .http2_keepalive_interval(Some(KEEPALIVE))
        .http2_keepalive_timeout(Some(Duration::from_secs(20)))
        .max_concurrent_streams(Some(STREAMS_PER_CONNECTION))
        .layer(layers::Envelope::new(tokens.clone(), config.limits))
        .add_service(health)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(
            RoutingServer::new(RoutingService { live: live() }).max_decoding_message_size(max),
        )
        .add_service(
            ReservationsServer::new(ReservationsService { live: live() })
                .max_decoding_message_size(max),
        )
        .add_service(NetworkServer::new(network).max_decoding_message_size(max))
        .add_service(
            PlanningServer::new(PlanningService {
                live: live(),
                tokens: tokens.clone(),
            })
            .max_decoding_message_size(max),
        ))
}

/// Opens the live state (replaying the data folder) on the blocking pool.
async fn load(config: &ServeConfig) -> Result<Arc<Live>, ServeError> {
    let options = config.live.clone();
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
        config.live.scenario.display()
    );
    Ok(Arc::new(live))
}
