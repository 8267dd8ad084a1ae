//! The Prometheus exporter: installed once per process, with the histogram buckets, the HELP
//! text of every metric fulfil publishes (one table, [`describe`]), `fulfil_build_info`, and the
//! process metrics (CPU, memory, open files, threads) collected at each scrape.

use std::sync::OnceLock;

use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets (seconds) of every `*_seconds` histogram: 100 µs (a quote on a warm server)
/// to a minute (a Reoptimize or a compaction).
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];

/// Buckets of the journal's group sizes (records per fsync).
const GROUP_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 1024.0];

/// The exporter's handle, and the process collector refreshed before each render.
pub struct Exporter {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

impl Exporter {
    /// The text of a scrape: process metrics refreshed first.
    pub fn render(&self) -> String {
        self.process.collect();
        self.handle.render()
    }

    /// Drains old histogram samples (called every few seconds).
    pub fn run_upkeep(&self) {
        self.handle.run_upkeep();
    }
}

static EXPORTER: OnceLock<Exporter> = OnceLock::new();

/// The process's exporter, installed as the global recorder on first use (servers started later
/// in the same process, as tests do, share it).
pub fn exporter() -> Result<&'static Exporter, BuildError> {
    if let Some(e) = EXPORTER.get() {
        return Ok(e);
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full("fulfil_journal_group_records".into()),
            GROUP_BUCKETS,
        )?
        .set_buckets_for_metric(
            Matcher::Full("fulfil_store_group_appends".into()),
            GROUP_BUCKETS,
        )?
        .install_recorder()?;
    let process = metrics_process::Collector::default();
    process.describe();
    describe();
    build_info();
    Ok(EXPORTER.get_or_init(|| Exporter { handle, process }))
}

/// `fulfil_build_info{version, revision}` = 1.
fn build_info() {
    metrics::gauge!(
        "fulfil_build_info",
        "version" => env!("CARGO_PKG_VERSION"),
        "revision" => env!("FULFIL_GIT_REVISION"),
    )
    .set(1.0);
}

/// HELP text of every metric: the one list of what fulfil publishes.
fn describe() {
    describe_grpc();
    describe_envelope();
    describe_decisions();
    describe_store();
    describe_shared_store();
}

fn describe_grpc() {
    describe_counter!(
        "grpc_server_started_total",
        "gRPC calls started, by grpc_type, grpc_service and grpc_method"
    );
    describe_counter!(
        "grpc_server_handled_total",
        "gRPC calls completed, by grpc_type, grpc_service, grpc_method and grpc_code (the status \
         the client saw; Canceled when it went away first)"
    );
    describe_histogram!(
        "grpc_server_handling_seconds",
        Unit::Seconds,
        "Time from a call's arrival to the end of its response, by grpc_type, grpc_service, \
         grpc_method and grpc_code"
    );
    describe_gauge!(
        "fulfil_build_info",
        "Always 1; the version and git revision of the running binary in its labels"
    );
}

fn describe_envelope() {
    describe_counter!(
        "fulfil_calls_shed_total",
        "Calls answered RESOURCE_EXHAUSTED at once because a limit was reached, by rpc"
    );
    describe_counter!(
        "fulfil_calls_refused_total",
        "Calls refused by the envelope, by reason (unauthenticated, permission_denied, deadline, \
         message_size)"
    );
    describe_counter!(
        "fulfil_calls_cancelled_total",
        "Computations stopped because their call was cancelled or its deadline passed"
    );
    describe_connections();
}

fn describe_connections() {
    describe_gauge!(
        "fulfil_connections_open",
        "Connections holding a place in a port's budget, by port (grpc, metrics)"
    );
    describe_counter!(
        "fulfil_connections_closed_total",
        "Connections closed, by port and reason (ended, first_request_timeout, evicted: a silent \
         one closed for a new one, budget_full: a new one refused, handshake_failed)"
    );
    describe_counter!(
        "fulfil_accept_errors_total",
        "Failed accepts (out of file descriptors, for instance), by port; the accept loop backs off"
    );
    describe_counter!(
        "fulfil_http2_goaway_total",
        "HTTP/2 GOAWAY frames the gRPC port sent, by reason (NO_ERROR on a graceful close)"
    );
}

fn describe_decisions() {
    describe_counter!(
        "fulfil_decisions_total",
        "Orders decided, by rpc (RouteOrder, RouteBatch, Reoptimize; Reject, ShortPick, Amend for re-routes), mode \
         (commit, dry_run) and outcome (complete, partial, backordered)"
    );
    describe_counter!(
        "fulfil_reserve_conflicts_total",
        "Commits that found their stock taken since they decided and decided again"
    );
    describe_counter!(
        "fulfil_reroutes_total",
        "Reservations re-routed, by kind (reject, short_pick, amend)"
    );
    describe_counter!(
        "fulfil_inventory_changes_total",
        "Inventory changes applied"
    );
    describe_counter!(
        "fulfil_reservations_expired_total",
        "Held reservations released at the end of their time-to-live"
    );
    describe_gauge!("fulfil_reservations_held", "Reservations held now");
    describe_lookahead();
}

fn describe_lookahead() {
    describe_counter!(
        "fulfil_lookahead_refreshes_total",
        "Times the lookahead opportunity costs were solved, by reason (first, schedule, taken, \
         forecast)"
    );
    describe_histogram!(
        "fulfil_lookahead_refresh_seconds",
        Unit::Seconds,
        "Time to solve every SKU's opportunity costs (in the background)"
    );
    describe_gauge!(
        "fulfil_lookahead_skus_priced",
        "SKUs with expected demand and stock to sell in the last solve"
    );
    describe_gauge!(
        "fulfil_lookahead_prices_age_seconds",
        Unit::Seconds,
        "Time since the opportunity costs in force were solved"
    );
    describe_counter!(
        "fulfil_lookahead_unpriced_total",
        "Orders asked of the lookahead policy and decided optimally because no prices were \
         solved yet for the network in force"
    );
}

fn describe_store() {
    describe_gauge!(
        "fulfil_snapshot_version",
        "Version of the network snapshot in force"
    );
    describe_gauge!(
        "fulfil_snapshot_age_seconds",
        Unit::Seconds,
        "Time since the snapshot in force was published"
    );
    describe_counter!(
        "fulfil_store_failures_total",
        "Times the store failed to write (commits refused until it is reopened)"
    );
    describe_counter!(
        "fulfil_journal_records_total",
        "Records appended to the journal"
    );
    describe_histogram!(
        "fulfil_journal_fsync_seconds",
        Unit::Seconds,
        "Time to write and fsync one group of journal records"
    );
    describe_histogram!(
        "fulfil_journal_group_records",
        "Records written per fsync (group commit)"
    );
    describe_gauge!(
        "fulfil_journal_segment_bytes",
        Unit::Bytes,
        "Bytes in the journal's current segment (compacted past 64 MiB)"
    );
    describe_counter!(
        "fulfil_journal_compactions_total",
        "Journal compactions (new generation from a checkpoint)"
    );
    describe_histogram!(
        "fulfil_journal_compaction_seconds",
        Unit::Seconds,
        "Time of a compaction, from roll to checkpoint on disk"
    );
    describe_histogram!(
        "fulfil_journal_compaction_capture_seconds",
        Unit::Seconds,
        "Time the writer was held to capture the state for a checkpoint"
    );
}

/// The shared store's metrics (`serve --store`).
fn describe_shared_store() {
    describe_histogram!(
        "fulfil_store_group_appends",
        "Changes committed per shared-store transaction (group commit)"
    );
    describe_histogram!(
        "fulfil_store_commit_seconds",
        Unit::Seconds,
        "Time to write a group's changes and rows to the shared store and commit"
    );
    describe_counter!(
        "fulfil_store_followed_total",
        "Changes of other replicas applied from the shared store"
    );
    describe_gauge!(
        "fulfil_store_position",
        "Sequence number of the last shared-store change this replica applied"
    );
    describe_gauge!(
        "fulfil_store_unreachable_seconds",
        Unit::Seconds,
        "How long the shared store has not answered (0: it answers)"
    );
    describe_gauge!(
        "fulfil_store_behind_seconds",
        Unit::Seconds,
        "How long since this replica last read the shared log (NOT_SERVING for \
         changes past 5 s)"
    );
    describe_counter!(
        "fulfil_commits_replayed_total",
        "Commits answered with the reservation their request id made earlier (retries)"
    );
    describe_counter!(
        "fulfil_commits_past_deadline_total",
        "Commits refused because their call's deadline passed before their turn"
    );
    describe_gauge!(
        "fulfil_store_stale",
        "1 while answers are made on a state cut off from the shared store for over 2 s"
    );
    describe_counter!(
        "fulfil_stale_answers_total",
        "Dry-run decisions and options answered on a stale state (shared store unreachable)"
    );
}
