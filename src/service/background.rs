//! The server's background loops: reservation expiry with the health and gauges beside it (and
//! the store's recovery after a failure), journal compaction, and with a shared store the
//! follower. Each holds only a weak reference to the server's state, so it ends when the server
//! does. A loop that panics ends the process with a log line naming it (exit status 70): a
//! replica without its housekeeping or its follower would say SERVING while it refuses changes
//! or falls behind, and a restart replays what is durable. (Group commit is not a loop here:
//! the journal's writer thread takes every append waiting, writes them and syncs once —
//! `reserve/journal`.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use tonic_health::ServingStatus;

use super::health::Health;
use super::state::Shared;
use crate::live::{Live, LiveOptions};

/// How often due reservations are expired (and the gauges and the store's health looked at).
pub const EXPIRY_INTERVAL: Duration = Duration::from_millis(500);
/// How often the lookahead prices are looked at (solved again when due).
pub const PRICING_INTERVAL: Duration = Duration::from_secs(1);
/// How often the journal's current segment is measured for compaction.
pub const COMPACTION_INTERVAL: Duration = Duration::from_secs(10);
/// The segment size past which a new generation starts from a checkpoint of the current state.
pub const COMPACTION_SEGMENT_BYTES: u64 = 64 << 20;

/// How often a failed store is opened again to see whether it writes.
pub const RECOVERY_INTERVAL: Duration = Duration::from_secs(1);

/// With a shared store: how long the follower waits for a notification before it polls.
pub const FOLLOW_POLL: Duration = Duration::from_millis(250);

/// With a shared store: a replica that has not read the shared log for this long says
/// NOT_SERVING for the services that change state (its follower waits behind a stalled turn).
pub const FOLLOW_STALL: Duration = Duration::from_secs(5);

/// The exit status of a process whose background loop panicked.
pub const PANIC_EXIT: i32 = 70;

/// Starts the loops; they end when the server's shared state does.
pub(super) fn spawn(shared: &Shared, options: LiveOptions, health: Health) {
    // (Every loop reads the network through a weak handle.)
    supervise("compaction", compaction(shared.downgrade()));
    supervise("pricing", pricing(shared.downgrade()));
    supervise(
        "housekeeping",
        housekeeping(shared.downgrade(), options.clone(), health),
    );
    if options.store_url.is_some() {
        let weak = shared.downgrade();
        let spawned = std::thread::Builder::new()
            .name("fulfil-follow".into())
            .spawn(move || {
                let run = std::panic::AssertUnwindSafe(|| follow(weak));
                if let Err(panic) = std::panic::catch_unwind(run) {
                    fatal("follower", &panic_message(&*panic));
                }
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the follower thread: {e}");
        }
    }
}

/// Runs a background loop; if it panics, the process ends (see the module documentation).
fn supervise(name: &'static str, task: impl std::future::Future<Output = ()> + Send + 'static) {
    let handle = tokio::spawn(task);
    tokio::spawn(async move {
        if let Err(e) = handle.await
            && e.is_panic()
        {
            fatal(name, &panic_message(&*e.into_panic()));
        }
    });
}

/// Run before a fatal exit: the binary writes its queued log lines there.
static EXIT_HOOK: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

/// Sets what runs just before the process exits after a background loop panicked (the first
/// hook set stays): a binary that logs through a background writer flushes it there.
pub fn set_exit_hook(hook: fn()) {
    let _ = EXIT_HOOK.set(hook);
}

/// Ends the process after a background loop panicked, saying which and why.
fn fatal(name: &str, why: &str) -> ! {
    tracing::error!(
        task = name,
        "background loop `{name}` panicked: {why}; exiting with status {PANIC_EXIT} so that a \
         supervisor restarts this process from what is durable"
    );
    if let Some(hook) = EXIT_HOOK.get() {
        hook();
    }
    std::process::exit(PANIC_EXIT)
}

/// A panic's message, if it has one.
fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_owned()
    }
}

/// The follower (a thread: it blocks on the database): applies what other replicas commit, as
/// soon as their notification arrives, and every [`FOLLOW_POLL`] in any case (after a
/// reconnection, or on a database without notifications).
fn follow(shared: WeakShared) {
    loop {
        let Some(store) = Shared::upgrade(&shared).and_then(|l| l.shared_store()) else {
            break;
        };
        store.wait_for_changes(FOLLOW_POLL);
        drop(store);
        let Some(live) = Shared::upgrade(&shared) else {
            break;
        };
        if let Err(e) = live.follow() {
            tracing::debug!("following the shared store: {e}");
        }
    }
}

type WeakShared = std::sync::Weak<arc_swap::ArcSwapOption<Live>>;

/// Compaction: once the current segment passes [`COMPACTION_SEGMENT_BYTES`], a new generation
/// starts from a checkpoint of the current state (written off the commit path).
async fn compaction(shared: WeakShared) {
    let mut tick = tokio::time::interval(COMPACTION_INTERVAL);
    loop {
        tick.tick().await;
        let Some(live) = Shared::upgrade(&shared) else {
            break;
        };
        let compact = move || live.compact(COMPACTION_SEGMENT_BYTES);
        match tokio::task::spawn_blocking(compact).await {
            Ok(Err(e)) => tracing::warn!("journal compaction failed: {e}"),
            Err(e) if e.is_panic() => fatal("compaction", &panic_message(&*e.into_panic())),
            _ => {}
        }
    }
}

/// Pricing: with a `[lookahead]` table in the network's policy, the opportunity costs are
/// solved again when due (none yet, on schedule, stock taken, forecast changed), off the async
/// workers, and swapped in; routing never waits for them.
async fn pricing(shared: WeakShared) {
    let mut tick = tokio::time::interval(PRICING_INTERVAL);
    loop {
        tick.tick().await;
        let Some(live) = Shared::upgrade(&shared) else {
            break;
        };
        let refresh = {
            let live = live.clone();
            move || live.refresh_prices()
        };
        match tokio::task::spawn_blocking(refresh).await {
            Ok(Some((why, board))) => {
                metrics::counter!("fulfil_lookahead_refreshes_total", "reason" => why.as_str())
                    .increment(1);
                metrics::histogram!("fulfil_lookahead_refresh_seconds")
                    .record(board.took().as_secs_f64());
                metrics::gauge!("fulfil_lookahead_skus_priced").set(board.skus_priced() as f64);
                tracing::debug!(
                    reason = why.as_str(),
                    skus_priced = board.skus_priced(),
                    version = board.version(),
                    seconds = board.took().as_secs_f64(),
                    "lookahead prices solved"
                );
            }
            Err(e) if e.is_panic() => fatal("pricing", &panic_message(&*e.into_panic())),
            _ => {}
        }
        if let Some(board) = live.pricer().latest() {
            metrics::gauge!("fulfil_lookahead_prices_age_seconds").set(board.age().as_secs_f64());
        }
    }
}

/// Housekeeping: expire reservations, publish gauges; when the store fails, health
/// NOT_SERVING for the services that change state and the store opened again every
/// [`RECOVERY_INTERVAL`] until it writes.
async fn housekeeping(shared: WeakShared, options: LiveOptions, health: Health) {
    let mut tick = tokio::time::interval(EXPIRY_INTERVAL);
    let mut failed_since: Option<Instant> = None;
    let mut store_down = false;
    loop {
        tick.tick().await;
        let Some(live) = Shared::upgrade(&shared) else {
            break;
        };
        if let Some(reason) = live.failure() {
            let since = *failed_since.get_or_insert_with(|| {
                tracing::error!(
                    "store failed ({reason}): health NOT_SERVING for the services that change \
                     state; reopening it every {RECOVERY_INTERVAL:?} until it writes"
                );
                metrics::counter!("fulfil_store_failures_total").increment(1);
                Instant::now()
            });
            if since.elapsed() >= RECOVERY_INTERVAL && reopen(&shared, &options).await {
                failed_since = None;
                health.set_changing(ServingStatus::Serving).await;
            } else {
                health.set_changing(ServingStatus::NotServing).await;
            }
            continue;
        }
        shared_store_health(&live, &health, &mut store_down).await;
        expire_and_measure(live).await;
    }
}

/// With a shared store that does not answer, or that this replica has not read for
/// [`FOLLOW_STALL`]: health NOT_SERVING for the services that change state (their calls are
/// refused with UNAVAILABLE, or wait behind the stalled turn), SERVING again once it answers
/// and the replica has caught up; the gauges say for how long.
async fn shared_store_health(live: &Live, health: &Health, down: &mut bool) {
    let Some(store) = live.shared_store() else {
        return;
    };
    let unreachable = store.unreachable_for();
    let behind = live.behind_for().unwrap_or_default();
    metrics::gauge!("fulfil_store_unreachable_seconds")
        .set(unreachable.map_or(0.0, |d| d.as_secs_f64()));
    metrics::gauge!("fulfil_store_behind_seconds").set(behind.as_secs_f64());
    metrics::gauge!("fulfil_store_stale").set(if live.stale() { 1.0 } else { 0.0 });
    metrics::gauge!("fulfil_store_position").set(store.position() as f64);
    let now_down = unreachable.is_some() || behind >= FOLLOW_STALL;
    if now_down != *down {
        *down = now_down;
        if now_down && unreachable.is_some() {
            tracing::error!("the shared store does not answer: changes refused until it does");
        } else if now_down {
            tracing::error!(
                behind_ms = behind.as_millis() as u64,
                "this replica has not read the shared log for {FOLLOW_STALL:?}: \
                 NOT_SERVING for changes until it has"
            );
        } else {
            tracing::warn!("the shared store answers and this replica follows its log again");
        }
        let status = if now_down {
            ServingStatus::NotServing
        } else {
            ServingStatus::Serving
        };
        health.set_changing(status).await;
    }
}

/// Opens the store again from what is durable (as a restart would) and puts the new live state
/// in place; false while the store still cannot write.
async fn reopen(shared: &WeakShared, options: &LiveOptions) -> bool {
    let options = options.clone();
    match tokio::task::spawn_blocking(move || Live::open(options)).await {
        Ok(Ok(live)) => {
            let info = live.info();
            tracing::warn!(
                reservations_held = info.reservations_held,
                "store writes again: state reopened from what is durable; changes accepted"
            );
            match shared.upgrade() {
                Some(s) => s.store(Some(Arc::new(live))),
                None => return false,
            }
            true
        }
        Ok(Err(e)) => {
            tracing::debug!("store still failing: {e}");
            false
        }
        Err(e) => {
            tracing::error!("reopening the store panicked: {e}");
            false
        }
    }
}

async fn expire_and_measure(live: Arc<Live>) {
    let expired = tokio::task::spawn_blocking({
        let live = live.clone();
        move || live.expire_due()
    })
    .await;
    let expired = match expired {
        Ok(n) => n,
        Err(e) if e.is_panic() => fatal("expiry", &panic_message(&*e.into_panic())),
        Err(_) => 0,
    };
    if expired > 0 {
        metrics::counter!("fulfil_reservations_expired_total").increment(expired as u64);
    }
    let info = live.info();
    metrics::gauge!("fulfil_reservations_held").set(info.reservations_held as f64);
    metrics::gauge!("fulfil_snapshot_age_seconds").set(info.age.as_secs_f64());
    metrics::gauge!("fulfil_snapshot_version").set(info.version as f64);
}
