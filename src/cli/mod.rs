//! Command-line definitions. Help text comes from these doc comments.

mod client;
mod exceptions;
mod exports;
mod generate;
mod health;
mod journal;
mod loadgen;
mod logbuffer;
mod logging;
mod overload;
mod percentile;
mod reoptimize;
mod route;
mod serve;
mod simulate;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `fulfil --version`: the crate version and the git revision it was built from.
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("FULFIL_GIT_REVISION"),
    ")"
);

/// fulfil: decides which node ships which order line, with which carrier, at the least cost.
#[derive(Parser, Debug)]
#[command(name = "fulfil", version = VERSION, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Route every order of a scenario in sequence and print one decision per order (JSON Lines).
    Route(RouteArgs),
    /// Re-optimize a backlog of orders jointly (shared stock and capacity) with an LP/MIP, and
    /// report the cost against routing them one at a time, with a proven lower bound.
    Reoptimize(ReoptimizeArgs),
    /// Replay order history against the network and what-if variants of it (change files), and
    /// compare cost, splits, speed and utilisation side by side.
    Simulate(SimulateArgs),
    /// Generate a realistic scenario on real US geography.
    Gen(GenArgs),
    /// Serve routing, reservations and network updates over gRPC.
    Serve(ServeArgs),
    /// Inspect a data folder's journal without changing it.
    #[command(subcommand)]
    Journal(JournalCommand),
    /// Replay a file of store rejections and short picks (events.csv) against a running
    /// service, as a store system integration does, printing each re-route (JSON Lines).
    Exceptions(ExceptionsArgs),
    /// Ask a running server whether it is SERVING (standard gRPC health): exit 0 if so.
    Health(HealthArgs),
    /// Apply the shared store's schema migrations to a database (`serve --store` also applies
    /// them at start) and list what is applied.
    Migrate(MigrateArgs),
    /// Manage bearer tokens for `fulfil serve --auth-file`.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Drive a running server with route calls (and inventory changes) and report throughput
    /// and latency percentiles.
    Loadgen(LoadgenArgs),
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// The database: postgres://user@host:port/db.
    #[arg(long, env = "FULFIL_STORE", hide_env_values = true)]
    pub store: String,
}

#[derive(Args, Debug)]
pub struct ExceptionsArgs {
    /// The server, e.g. http://127.0.0.1:50051.
    #[arg(long)]
    pub server: String,
    /// The events: columns event (reject or short_pick), reservation_id, node_id, and optional
    /// sku, qty, reason, request_id (default: FILE:LINE, so a replay of the same file is
    /// answered from the service's memory and changes nothing).
    #[arg(long)]
    pub file: PathBuf,
    /// Where to write the answers (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub client: client::ClientArgs,
}

#[derive(Args, Debug)]
pub struct HealthArgs {
    /// The server (https:// with --tls-ca); `--addr` is the same flag.
    #[arg(
        long,
        visible_alias = "addr",
        env = "FULFIL_HEALTH_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub server: String,
    /// The service to ask about [default: the server as a whole].
    #[arg(long, default_value = "")]
    pub service: String,
    /// Seconds to wait for the answer.
    #[arg(long, default_value_t = 3.0)]
    pub timeout_secs: f64,
    #[command(flatten)]
    pub client: client::ClientArgs,
}

impl HealthArgs {
    fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs_f64(self.timeout_secs.clamp(0.1, 600.0))
    }
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Print a fresh random token (give it to the client) and the auth-file entry that admits
    /// it (paste it into the file; it holds the token's SHA-256, never the token).
    New {
        /// The token's name, written in audit lines.
        #[arg(long)]
        name: String,
        /// What the token may do.
        #[arg(long, value_enum)]
        role: fulfil::service::Role,
    },
}

#[derive(Subcommand, Debug)]
pub enum JournalCommand {
    /// Print what a data folder holds (files, records per kind, reservations held) and any
    /// damage; exits non-zero if `fulfil serve` would refuse to start on it.
    Verify {
        /// The data folder (`--data-dir` of `fulfil serve`).
        dir: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct LoadgenArgs {
    /// The server, e.g. http://127.0.0.1:50051.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    pub server: String,
    /// Scenario whose orders.csv (and inventory.csv, for inventory changes) drive the load.
    #[arg(long, default_value = "data/demo")]
    pub scenario: PathBuf,
    /// Calls in flight at once.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// HTTP/2 connections the calls are spread over (as several client instances would be).
    #[arg(long, default_value_t = 1)]
    pub connections: usize,
    /// Threads of the generator itself. One drives 64 calls in flight and leaves the rest of
    /// the machine to the server when both share it.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Seconds to run (and measure).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of load before measuring starts (calls made then are not counted).
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Reserve (commit) orders instead of quoting them; reservations are released right after
    /// so stock does not run out.
    #[arg(long)]
    pub commit: bool,
    /// With --commit: the share of calls that commit (the rest are quotes), e.g. 0.2 for a
    /// checkout flow that quotes several times per order placed.
    #[arg(long, default_value_t = 1.0, requires = "commit")]
    pub commit_share: f64,
    /// With --commit: after each committed order, its first shipment's node rejects it
    /// (Reservations.Reject, re-routed) and the order is amended (Reservations.Amend) before the
    /// release; their latencies are reported beside the route calls'.
    #[arg(long, requires = "commit")]
    pub exceptions: bool,
    /// With --commit: every commit carries a request id of its own (as the Python client
    /// sends), so the server remembers one per commit for its retention window.
    #[arg(long, requires = "commit")]
    pub request_ids: bool,
    /// Inventory changes per second streamed in meanwhile.
    #[arg(long, default_value_t = 0)]
    pub inventory_rate: u32,
    /// Instead of single calls: send one RouteBatch of this many orders and time it (a dry run;
    /// with --commit, reserved, then released untimed before the next of three rounds).
    #[arg(long)]
    pub batch: Option<usize>,
    /// The overload benchmark: the sustainable rate S (closed loop at --concurrency), then open
    /// loops at S/4 (the unloaded latency) and at 10×S; reports the accepted calls' p99 against
    /// the unloaded p99, and how fast shed calls are answered.
    #[arg(long, conflicts_with_all = ["batch", "commit", "inventory_rate"])]
    pub overload: bool,
    /// Each call carries the lines of this many orders of the file (heavier calls).
    #[arg(long, default_value_t = 1)]
    pub merge: usize,
    #[command(flatten)]
    pub client: client::ClientArgs,
}

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
    #[arg(long, env = "FULFIL_RESERVATION_TTL_SECS", default_value_t = 1800.0)]
    pub reservation_ttl_secs: f64,
    /// Seconds a commit's request id is remembered: a commit retried with the same request id
    /// within this window is answered with the reservation it made (whatever its state now),
    /// never a new hold. Kept in the journal or the shared database, so it holds across
    /// restarts and replicas.
    #[arg(
        long,
        env = "FULFIL_REQUEST_RETENTION_SECS",
        default_value_t = 86_400.0
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
    pub log_format: logging::LogFormat,
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
}

#[derive(Args, Debug)]
pub struct RouteArgs {
    /// Scenario folder (nodes.csv, skus.csv, inventory.csv, zones.csv, rates.csv, policy.toml).
    #[arg(long, env = "FULFIL_SCENARIO", required_unless_present = "server")]
    pub scenario: Option<PathBuf>,
    /// Orders file [default: SCENARIO/orders.csv].
    #[arg(long, required_unless_present = "scenario")]
    pub orders: Option<PathBuf>,
    /// Send the orders to a running `fulfil serve` (e.g. http://127.0.0.1:50051) instead of
    /// routing them here; they are reserved there unless --dry-run.
    #[arg(long, conflicts_with_all = ["policy", "compare"])]
    pub server: Option<String>,
    /// With --server: quote only, reserve nothing. Orders go in batches of 1,000, each quoted
    /// against the server's current stock, so a batch does not see what earlier batches would
    /// have taken (without --dry-run they reserve, and the run matches `fulfil route`).
    #[arg(long, requires = "server")]
    pub dry_run: bool,
    /// Where to write decisions [default: standard output].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// `optimal` (cheapest feasible decision) or `nearest` (the common-platform baseline)
    /// [default: optimal].
    #[arg(long)]
    pub policy: Option<String>,
    /// Also run the other policy and report what optimising saves against the baseline.
    #[arg(long)]
    pub compare: bool,
    /// Print no summary on standard error.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub client: client::ClientArgs,
}

#[derive(Args, Debug)]
pub struct ReoptimizeArgs {
    /// Scenario folder (nodes.csv, skus.csv, inventory.csv, zones.csv, rates.csv, policy.toml).
    #[arg(long, env = "FULFIL_SCENARIO")]
    pub scenario: PathBuf,
    /// Orders file: the backlog [default: SCENARIO/orders.csv].
    #[arg(long)]
    pub orders: Option<PathBuf>,
    /// Seconds allowed for the whole run; the best answer found by then is returned.
    #[arg(long, default_value_t = 60.0)]
    pub time_limit: f64,
    /// Stop once the gap between cost and proven bound is at most this fraction.
    #[arg(long, default_value_t = 0.0001)]
    pub gap: f64,
    /// Where to write decisions [default: standard output].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the summary as JSON to this file as well.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
    /// No progress bar and no summary on standard error.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Scenario folder: the base network.
    #[arg(long, env = "FULFIL_SCENARIO")]
    pub scenario: PathBuf,
    /// Order history to replay [default: SCENARIO/orders.csv].
    #[arg(long)]
    pub orders: Option<PathBuf>,
    /// Stock arriving over time (node_id, sku, qty, at) [default: SCENARIO/receipts.csv if it
    /// exists].
    #[arg(long)]
    pub receipts: Option<PathBuf>,
    /// A what-if change file (TOML; one variant each). Repeat for several variants.
    #[arg(long = "changes")]
    pub changes: Vec<PathBuf>,
    /// `optimal` or `nearest` (orders decided one at a time as they arrive), or `batch:WINDOW`
    /// (orders held for WINDOW, e.g. `2h`, and re-optimized jointly at its end).
    #[arg(long, default_value = "optimal")]
    pub policy: String,
    /// Write the KPIs of every variant as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report (charts, maps, breakdowns by cause and service) to
    /// this file (`-`: standard output).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write the KPIs of every variant as CSV, one row each (`-`: standard output).
    #[arg(long)]
    pub kpis_csv: Option<PathBuf>,
    /// Write every order a variant decided differently from the base (nodes, cost, promise,
    /// backorders) as CSV (`-`: standard output).
    #[arg(long)]
    pub diff_csv: Option<PathBuf>,
    /// Print nothing on standard error.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct GenArgs {
    /// Folder to write the scenario into (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Random seed: the same seed and sizes give the same files.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Distribution centres, placed in real US logistics hubs.
    #[arg(long, default_value_t = 10)]
    pub dcs: usize,
    /// Stores, placed in the largest US cities.
    #[arg(long, default_value_t = 300)]
    pub stores: usize,
    /// Dropship vendors.
    #[arg(long, default_value_t = 5)]
    pub dropship: usize,
    /// Number of SKUs.
    #[arg(long, default_value_t = 5000)]
    pub skus: usize,
    /// Number of orders.
    #[arg(long, default_value_t = 20000)]
    pub orders: usize,
    /// Days the orders are spread over (starting 2026-03-02 UTC).
    #[arg(long, default_value_t = 7)]
    pub days: u32,
    /// Stock level: multiplies every node's units on hand (1.0 is a healthy network).
    #[arg(long, default_value_t = 1.0)]
    pub stock: f64,
    /// Overwrite the scenario files already in --out (without it, existing files are refused).
    #[arg(long)]
    pub force: bool,
}

/// Where decisions go: a new file at `path` (created now, so a bad path fails before any work),
/// or standard output (no path, or `-`).
fn output(path: Option<&std::path::Path>) -> anyhow::Result<Box<dyn std::io::Write>> {
    use anyhow::Context;
    use std::io::BufWriter;
    Ok(match path {
        Some(path) if path.as_os_str() != "-" => Box::new(BufWriter::new(
            std::fs::File::create(path)
                .with_context(|| format!("{}: cannot create", path.display()))?,
        )),
        _ => Box::new(BufWriter::new(std::io::stdout().lock())),
    })
}

/// The line every command that loads a scenario prints on stderr.
fn say_loaded(snapshot: &fulfil::snapshot::Snapshot, orders: usize, took: std::time::Duration) {
    eprintln!(
        "loaded {} nodes, {} SKUs, {} inventory rows, {orders} orders in {:.3} s",
        snapshot.nodes().len(),
        snapshot.skus().len(),
        snapshot.inventory().len(),
        took.as_secs_f64()
    );
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Route(args) => route::run(args),
        Command::Reoptimize(args) => reoptimize::run(args),
        Command::Simulate(args) => simulate::run(args),
        Command::Gen(args) => generate::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Loadgen(args) => loadgen::run(args),
        Command::Exceptions(args) => exceptions::run(args),
        Command::Journal(JournalCommand::Verify { dir }) => journal::verify(&dir),
        Command::Health(args) => health::run(args),
        Command::Migrate(args) => {
            let applied = fulfil::reserve::postgres::migrate(&args.store)?;
            let latest = fulfil::reserve::postgres::schema::MIGRATIONS
                .last()
                .map_or(0, |m| m.version);
            match applied.as_slice() {
                [] => println!("the schema is up to date (version {latest})"),
                done => println!("applied migrations {done:?}; the schema is at version {latest}"),
            }
            Ok(())
        }
        Command::Token(TokenCommand::New { name, role }) => {
            anyhow::ensure!(!name.trim().is_empty(), "--name: a token needs a name");
            let (token, entry) = fulfil::service::new_token(&name, role);
            println!("# The token (give it to the client once; it is not stored anywhere):");
            println!("{token}");
            println!();
            println!("# Add to the --auth-file, then send SIGHUP to the server:");
            print!("{entry}");
            Ok(())
        }
    }
}
