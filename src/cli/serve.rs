//! `fulfil serve`: the gRPC service until SIGTERM or SIGINT.

use std::time::Duration;

use anyhow::Context;
use clap::Args;
use fulfil::service::{ConnectionLimits, ServeConfig, TlsFiles, serve};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Scenario folder the network starts from.
    #[arg(long, env = "FULFIL_SCENARIO", default_value = "data/demo")]
    pub scenario: PathBuf,
    /// Address for gRPC (port 0: any free port, printed on stdout).
    #[arg(long, env = "FULFIL_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Address for Prometheus metrics (`/metrics`); none if not given.
    #[arg(long, env = "FULFIL_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Folder for the journal of acknowledged changes; without it nothing survives a restart.
    /// With --store, it only keeps copies of scenarios (default: a temporary folder).
    #[arg(long, env = "FULFIL_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// A shared store instead of the journal: `postgres://user@host:port/db` (PostgreSQL, or
    /// CockroachDB / YugabyteDB). Several replicas on one database route from memory and commit
    /// there; migrations are applied at start. The URL may carry a password: prefer
    /// FULFIL_STORE from a secret over the command line.
    #[arg(long, env = "FULFIL_STORE", hide_env_values = true)]
    pub store: Option<String>,
    /// Seconds a reservation is held unless confirmed or released.
    #[arg(
        long,
        env = "FULFIL_RESERVATION_TTL_SECS",
        default_value_t = fulfil::live::DEFAULT_RESERVATION_TTL.as_secs_f64()
    )]
    pub reservation_ttl_secs: f64,
    /// Seconds a commit's request id is remembered: a commit retried with the same request id
    /// within this window is answered with the reservation it made (whatever its state now),
    /// never a new hold. Kept in the journal or the shared database, so it holds across
    /// restarts and replicas.
    #[arg(
        long,
        env = "FULFIL_REQUEST_RETENTION_SECS",
        default_value_t = fulfil::live::DEFAULT_REQUEST_RETENTION.as_secs_f64()
    )]
    pub request_retention_secs: f64,
    /// What to do when the journal is damaged other than a torn last write: `refuse` to start
    /// (naming the file and offset), or `truncate`: keep what is intact before the damage,
    /// drop the rest, and say so in the log.
    #[arg(long, env = "FULFIL_JOURNAL_RECOVER", default_value = "refuse")]
    pub journal_recover: fulfil::reserve::journal::RecoverMode,
    /// PEM certificate chain: gRPC and metrics are served over TLS (reloaded on SIGHUP).
    #[arg(long, env = "FULFIL_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "FULFIL_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA certificates: clients must present a certificate they signed (mutual TLS).
    #[arg(long, env = "FULFIL_TLS_CLIENT_CA", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
    /// TOML file of bearer tokens with roles (`[[token]]` name, role, sha256); every call but
    /// health and reflection then needs a token. Reloaded on SIGHUP. `fulfil token new` makes
    /// entries.
    #[arg(long, env = "FULFIL_AUTH_FILE")]
    pub auth_file: Option<PathBuf>,
    /// Allow listening beyond loopback without TLS and an auth file (warned about every minute).
    #[arg(long)]
    pub insecure: bool,
    /// The folder LoadScenario may read scenarios under [default: none, LoadScenario refused].
    #[arg(long, env = "FULFIL_SCENARIO_ROOT")]
    pub scenario_root: Option<PathBuf>,
    /// Calls in flight at once; a call beyond is answered RESOURCE_EXHAUSTED at once
    /// [default: 64 per core].
    #[arg(long, env = "FULFIL_MAX_IN_FLIGHT")]
    pub max_in_flight: Option<usize>,
    /// Reoptimize and Simulate calls at once [default: one per two cores, at least 1].
    #[arg(long, env = "FULFIL_MAX_HEAVY_CALLS")]
    pub max_heavy_calls: Option<usize>,
    /// Orders decided on the blocking pool at once (orders of more than 16 lines, RouteBatch,
    /// FulfilmentOptions); a call beyond is shed [default: one per core].
    #[arg(long, env = "FULFIL_MAX_DECISIONS")]
    pub max_decisions: Option<usize>,
    /// The largest request message, in bytes.
    #[arg(long, env = "FULFIL_MAX_MESSAGE_BYTES", default_value_t = 16 << 20)]
    pub max_message_bytes: usize,
    /// Log lines as text or JSON (one object per line) on standard error; the filter is
    /// FULFIL_LOG (default info).
    #[arg(long, env = "FULFIL_LOG_FORMAT", value_enum, default_value_t)]
    pub log_format: super::logging::LogFormat,
    /// Export traces (a span per call, decide, commit, journal fsync) over OTLP/gRPC to this
    /// collector, e.g. http://127.0.0.1:4317 [default: no traces].
    #[arg(long, env = "FULFIL_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// On SIGTERM or SIGINT: health NOT_SERVING at once, then the calls in flight get this many
    /// seconds to finish before they are dropped.
    #[arg(long, env = "FULFIL_DRAIN_TIMEOUT_SECS", default_value_t = 30.0)]
    pub drain_timeout_secs: f64,
    /// Connections the gRPC port keeps open at once; when they are all taken, the oldest that
    /// never completed a request is closed for a new one [default: the open-file limit, raised
    /// to its hard limit at start, less 80 kept for files, the database and the metrics port;
    /// at most 8192].
    #[arg(long, env = "FULFIL_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
    /// Seconds a new connection (either port) has to complete its first request (TLS
    /// handshake included) before it is closed.
    #[arg(
        long,
        env = "FULFIL_FIRST_REQUEST_TIMEOUT_SECS",
        default_value_t = 10.0
    )]
    pub first_request_timeout_secs: f64,
    /// HTTP/2 flow-control window of one stream, in bytes. h2 closes a connection whose
    /// buffered small messages cost more than half the connection window; keep this at most a
    /// 32nd of --http2-connection-window so a feed sent at full speed is slowed by flow
    /// control, not cut off.
    #[arg(long, env = "FULFIL_HTTP2_STREAM_WINDOW", default_value_t = 256 << 10)]
    pub http2_stream_window: u32,
    /// HTTP/2 flow-control window of one connection, in bytes.
    #[arg(long, env = "FULFIL_HTTP2_CONNECTION_WINDOW", default_value_t = 8 << 20)]
    pub http2_connection_window: u32,
    #[command(flatten)]
    pub budget: super::budget::SearchBudget,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    args.budget.apply();
    let (log_format, otlp) = (args.log_format, args.otlp_endpoint.clone());
    let config = config_of(args)?;
    // Blocking work is bounded by the in-flight limit; the pool a little above it.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .max_blocking_threads(config.limits.max_in_flight + 16)
        .thread_stack_size(fulfil::route::SEARCH_STACK_BYTES)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let traces = runtime.block_on(async {
        super::logging::init_with_traces(log_format, "info", otlp.as_deref())
    })?;
    let served = runtime.block_on(async move {
        let server = serve(config).await?;
        // Handlers are in place before the address is announced: a SIGTERM sent as soon as a
        // client sees it drains the server instead of killing it.
        let signal = shutdown_signal();
        // Printed on stdout so scripts and tests can find the port of `--listen 127.0.0.1:0`.
        println!("listening on {}", server.addr);
        signal.await;
        tracing::info!("shutting down: health NOT_SERVING, draining calls in flight");
        Ok::<_, anyhow::Error>(server.stop().await?)
    });
    // Outside the runtime's workers: the exporter's task still runs on the runtime.
    if let Some(t) = traces {
        t.shutdown();
    }
    // Queued log lines before the error main prints.
    super::logging::flush();
    served
}

/// The server's config from the command line, checked.
fn config_of(args: ServeArgs) -> anyhow::Result<ServeConfig> {
    let mut config = ServeConfig::new(args.scenario, args.listen);
    config.metrics_listen = args.metrics_listen;
    config.live.data_dir = args.data_dir;
    config.live.store_url = args.store;
    config.live.reservation_ttl = seconds(
        "--reservation-ttl-secs",
        "the reservation time-to-live",
        args.reservation_ttl_secs,
    )?;
    config.live.request_retention = seconds(
        "--request-retention-secs",
        "how long a commit's request id is remembered",
        args.request_retention_secs,
    )?;
    config.live.recover = args.journal_recover;
    config.tls = args.tls_cert.zip(args.tls_key).map(|(cert, key)| TlsFiles {
        cert,
        key,
        client_ca: args.tls_client_ca,
    });
    config.auth_file = args.auth_file;
    config.insecure = args.insecure;
    config.scenario_root = args.scenario_root;
    if let Some(n) = args.max_in_flight {
        config.limits.max_in_flight = n;
    }
    if let Some(n) = args.max_heavy_calls {
        config.limits.max_heavy = n;
    }
    if let Some(n) = args.max_decisions {
        config.limits.max_decisions = n;
    }
    config.limits.max_message_bytes = args.max_message_bytes;
    config.drain_timeout = drain_timeout(args.drain_timeout_secs)?;
    let first = args.first_request_timeout_secs;
    if !(first.is_finite() && first > 0.0 && first <= 3600.0) {
        anyhow::bail!(
            "--first-request-timeout-secs: a number of seconds in (0, 3600] is needed, found {first}"
        );
    }
    config.connections = ConnectionLimits {
        max_connections: args.max_connections,
        first_request_timeout: Duration::from_secs_f64(first),
        stream_window: args.http2_stream_window,
        connection_window: args.http2_connection_window,
    };
    config.validate()?;
    Ok(config)
}

/// The drain timeout, refused unless it is a number of seconds in [0, 1 hour].
fn drain_timeout(secs: f64) -> anyhow::Result<Duration> {
    if !(secs.is_finite() && (0.0..=3600.0).contains(&secs)) {
        anyhow::bail!(
            "--drain-timeout-secs: a number of seconds in [0, 3600] is needed, found {secs}"
        );
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `what`, in seconds from `flag` (its range is checked with the other settings, by
/// `LiveOptions::validate`); refused when it is not a number of seconds at all.
fn seconds(flag: &str, what: &str, secs: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(secs)
        .map_err(|_| anyhow::anyhow!("{flag}: {what} must be a number of seconds, found {secs}"))
}

/// Resolves on SIGTERM or SIGINT. The handlers are registered when this is called, not when
/// the future is first polled.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    #[cfg(unix)]
    let int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    async move {
        #[cfg(unix)]
        match (term, int) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {},
                    _ = int.recv() => {},
                }
            }
            _ => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}
