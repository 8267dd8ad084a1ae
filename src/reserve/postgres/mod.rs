//! The shared store: several replicas on one PostgreSQL database (or CockroachDB, YugabyteDB).
//!
//! The database holds one ordered log of changes (`fulfil_changes`), the same records the
//! journal keeps, and beside it the state they leave (`fulfil_stock`, `fulfil_capacity`,
//! `fulfil_reservations`), written in the same transaction. One row, `fulfil_head`, orders the
//! writers: a replica's turn locks it (`SELECT … FOR UPDATE`), reads the changes it has not
//! applied, and holds it until its commit, so sequence numbers are gap-free and in commit order
//! and every replica applies the same changes in the same order. Units taken by new
//! reservations are added in the database only `WHERE sellable − reserved` still covers them
//! (`sellable`: on_hand − safety_stock, plus the inbound units the policy allocates); a replica whose state disagrees is refused there and reads the store
//! again. A turn that finds other turns waiting leaves its transaction open for them (group
//! commit). Replicas follow each other between turns through `LISTEN`/`NOTIFY` and by polling
//! the head. Nothing is acknowledged before its commit.

mod pending;
mod rows;
pub mod schema;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, NoTls};

use super::Record;
use super::store::{Ack, Cause, Projection, Recovered, RollAck, Store, StoreError};

/// Appends one transaction carries at most before it commits, whoever is waiting.
pub const MAX_GROUP: usize = 1024;
/// Changes read in one query while following.
const FOLLOW_BATCH: u64 = 10_000;
/// The notification channel every commit signals.
pub const CHANNEL: &str = "fulfil_changes";
/// Reconnection backoff: first wait and ceiling.
const BACKOFF_MIN: Duration = Duration::from_millis(50);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// The shared store on PostgreSQL.
pub struct PgStore {
    config: postgres::Config,
    /// Where scenario copies live locally (`<data>/scenarios/<sha256>/`, as the live state
    /// keeps them), read from and written to `fulfil_scenario_files`.
    scenarios: PathBuf,
    replica: String,
    /// The writer's connection and its turn.
    conn: Mutex<Conn>,
    /// The connection that listens for other replicas' commits.
    listener: Mutex<Option<Client>>,
    /// A connection for chores outside turns (checkpoints, sizes).
    aux: Mutex<Option<Client>>,
    reach: Mutex<Reach>,
}

impl Drop for PgStore {
    /// The blocking client's own drop runs a runtime to close its connection, which panics on
    /// an async worker — and a store's last reference can go anywhere (a handler holding the
    /// old live state, the service's reopen loop). So its connections are closed on a thread of
    /// their own (the database rolls back a turn left open).
    fn drop(&mut self) {
        let take =
            |m: &mut Mutex<Option<Client>>| m.get_mut().unwrap_or_else(|e| e.into_inner()).take();
        let conn = self.conn.get_mut().unwrap_or_else(|e| e.into_inner());
        let clients: Vec<Client> = [
            conn.client.take(),
            take(&mut self.listener),
            take(&mut self.aux),
        ]
        .into_iter()
        .flatten()
        .collect();
        if clients.is_empty() {
            return;
        }
        let closing = std::thread::Builder::new()
            .name("fulfil-pg-close".into())
            .spawn(move || drop(clients));
        if let Err(e) = closing {
            tracing::error!("cannot start a thread to close the store's connections: {e}");
        }
    }
}

#[derive(Default)]
struct Conn {
    client: Option<Client>,
    /// The sequence number of the last change this process applied.
    seen: u64,
    turn: Option<Turn>,
    /// Statements prepared on `client`.
    prepared: rows::Prepared,
}

/// An open transaction holding the head's lock.
struct Turn {
    /// The sequence number the next record gets.
    next: u64,
    acks: Vec<Ack>,
    /// A write failed: the transaction is rolled back at its end and every ack fails.
    broken: Option<StoreError>,
    /// What the commit writes.
    pending: pending::Pending,
    /// Commit at the end of this turn, waiting or not (a compaction's roll).
    commit_now: bool,
    /// A compaction's roll, told the turn's last sequence number once the turn has committed
    /// (a checkpoint must never be numbered after a change that may not commit).
    roll: Option<RollAck>,
}

/// Whether the database answers, and when to try again if not.
struct Reach {
    down_since: Option<Instant>,
    retry_at: Instant,
    backoff: Duration,
}

impl PgStore {
    /// Connects to `url`, applies the migrations the database lacks, and keeps scenario copies
    /// under `data`.
    pub fn connect(url: &str, data: &Path) -> Result<PgStore, StoreError> {
        let config = config_of(url)?;
        let mut client = config.connect(NoTls).map_err(unreachable)?;
        schema::migrate(&mut client).map_err(|e| StoreError::Recovery(Arc::new(e)))?;
        Ok(PgStore {
            config,
            scenarios: data.join("scenarios"),
            replica: replica_name(),
            conn: Mutex::new(Conn {
                client: Some(client),
                ..Conn::default()
            }),
            listener: Mutex::new(None),
            aux: Mutex::new(None),
            reach: Mutex::new(Reach {
                down_since: None,
                retry_at: Instant::now(),
                backoff: BACKOFF_MIN,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Conn> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn reach(&self) -> MutexGuard<'_, Reach> {
        self.reach.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection, unless the last attempt failed less than the backoff ago.
    fn open_client(&self) -> Result<Client, StoreError> {
        {
            let reach = self.reach();
            if reach.down_since.is_some() && Instant::now() < reach.retry_at {
                return Err(StoreError::Unreachable {
                    source: Arc::new(std::io::Error::other(
                        "the database did not answer; reconnecting with backoff",
                    )),
                });
            }
        }
        match self.config.connect(NoTls) {
            Ok(c) => {
                self.answered();
                Ok(c)
            }
            Err(e) => {
                self.failed_to_answer();
                Err(unreachable(e))
            }
        }
    }

    fn answered(&self) {
        let mut reach = self.reach();
        if let Some(since) = reach.down_since.take() {
            tracing::warn!(
                down_ms = since.elapsed().as_millis() as u64,
                "the database answers again"
            );
        }
        reach.backoff = BACKOFF_MIN;
    }

    fn failed_to_answer(&self) {
        let mut reach = self.reach();
        let now = Instant::now();
        if reach.down_since.is_none() {
            reach.down_since = Some(now);
            reach.backoff = BACKOFF_MIN;
        }
        reach.retry_at = now + reach.backoff;
        reach.backoff = (reach.backoff * 2).min(BACKOFF_MAX);
    }

    /// The writer's client, connected if it is not.
    fn client<'c>(&self, conn: &'c mut Conn) -> Result<&'c mut Client, StoreError> {
        if conn.client.is_none() {
            conn.client = Some(self.open_client()?);
        }
        conn.client.as_mut().ok_or_else(|| StoreError::Unreachable {
            source: Arc::new(std::io::Error::other("no connection")),
        })
    }

    /// Runs `f` on the writer's connection; any error drops the connection (its transaction
    /// with it) and counts as the database not answering.
    fn on_conn<T>(
        &self,
        conn: &mut Conn,
        f: impl FnOnce(&Self, &mut Client, u64) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let seen = conn.seen;
        // (A failed or backed-off connection attempt is counted by `open_client`.)
        let client = self.client(conn)?;
        let result = f(self, client, seen);
        match &result {
            Err(e) => {
                conn.client = None;
                conn.prepared = rows::Prepared::default();
                if matches!(e, StoreError::Unreachable { .. }) {
                    self.failed_to_answer();
                }
            }
            Ok(_) => self.answered(),
        }
        result
    }

    /// The changes after `after` up to `upto`, which must all be there (else this replica has
    /// fallen behind a compaction and must read the store anew).
    fn read_changes(
        &self,
        client: &mut Client,
        after: u64,
        upto: u64,
    ) -> Result<Vec<Record>, StoreError> {
        let rows = rows::changes(client, after, upto)?;
        if rows.len() as u64 != upto - after {
            return Err(StoreError::Diverged {
                what: format!(
                    "changes {}..={upto} are not all in fulfil_changes (a compaction passed this \
                     replica)",
                    after + 1
                ),
            });
        }
        let mut out = Vec::with_capacity(rows.len());
        for (seq, text) in rows {
            let record: Record = serde_json::from_str(&text).map_err(|e| StoreError::Diverged {
                what: format!("change {seq} cannot be read: {e}"),
            })?;
            self.fetch_scenario(client, &record)?;
            out.push(record);
        }
        Ok(out)
    }

    fn aux<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut aux = self.aux.lock().unwrap_or_else(|e| e.into_inner());
        if aux.is_none() {
            *aux = Some(self.open_client()?);
        }
        let Some(client) = aux.as_mut() else {
            return Err(StoreError::Stopped);
        };
        let result = f(client);
        if result.is_err() {
            *aux = None;
        }
        result
    }
}

impl Store for PgStore {
    fn recover(&self) -> Result<Recovered, StoreError> {
        let mut conn = self.lock();
        let (records, head) = self.on_conn(&mut conn, |s, c, _| s.read_all(c))?;
        conn.seen = head;
        Ok(Recovered {
            records,
            generation: head,
        })
    }

    /// The state is already in the database: a replica starting changes nothing there.
    fn start(&self, _generation: u64, _state: &[Record]) -> Result<(), StoreError> {
        Ok(())
    }

    fn append(&self, records: Vec<Record>, ack: Ack) {
        self.append_projected(records, Projection::default(), ack)
    }

    fn append_projected(&self, records: Vec<Record>, rows: Projection, ack: Ack) {
        let mut conn = self.lock();
        let Conn { client, turn, .. } = &mut *conn;
        let (Some(client), Some(turn)) = (client.as_mut(), turn.as_mut()) else {
            drop(conn);
            return ack(Err(StoreError::Failed {
                source: Arc::new(std::io::Error::other("an append outside a turn")),
            }));
        };
        if turn.broken.is_none()
            && let Err(e) = self.write(client, turn, &records, rows)
        {
            turn.broken = Some(e);
        }
        turn.acks.push(ack);
    }

    /// Within a turn, the roll is told the turn's last sequence number once that turn has
    /// committed (or why it did not); outside one, the last committed change seen.
    fn roll(&self, ack: RollAck) {
        let mut conn = self.lock();
        if let Some(turn) = conn.turn.as_mut() {
            turn.commit_now = true;
            if let Some(earlier) = turn.roll.replace(ack) {
                drop(conn);
                earlier(Err(StoreError::Failed {
                    source: Arc::new(std::io::Error::other("a second roll in one turn")),
                }));
            }
            return;
        }
        let at = conn.seen;
        drop(conn);
        ack(Ok(at))
    }

    fn checkpoint(&self, generation: u64, state: &[Record]) -> Result<(), StoreError> {
        self.aux(|c| rows::checkpoint(c, generation, state))
    }

    fn size(&self) -> u64 {
        self.aux(rows::bytes_since_checkpoint).unwrap_or(0)
    }

    fn shared(&self) -> bool {
        true
    }

    fn begin_turn(&self) -> Result<Vec<Record>, StoreError> {
        let mut conn = self.lock();
        if conn.turn.is_some() {
            return Ok(Vec::new());
        }
        let (records, head) = self.on_conn(&mut conn, |s, c, seen| {
            let head = rows::lock_head(c)?;
            let records = if head > seen {
                s.read_changes(c, seen, head)?
            } else {
                Vec::new()
            };
            Ok((records, head))
        })?;
        conn.seen = head;
        conn.turn = Some(Turn {
            next: head + 1,
            acks: Vec::new(),
            broken: None,
            pending: pending::Pending::default(),
            commit_now: false,
            roll: None,
        });
        Ok(records)
    }

    fn end_turn(&self, more_waiting: bool) {
        let mut conn = self.lock();
        let Some(turn) = conn.turn.as_ref() else {
            return;
        };
        let defer = more_waiting
            && !turn.acks.is_empty()
            && turn.acks.len() < MAX_GROUP
            && turn.broken.is_none()
            && !turn.commit_now;
        if defer {
            return; // the next turn goes on in this transaction
        }
        let Some(mut turn) = conn.turn.take() else {
            return;
        };
        let t0 = Instant::now();
        let result = self.finish(&mut conn, &turn);
        metrics::histogram!("fulfil_store_commit_seconds").record(t0.elapsed().as_secs_f64());
        drop(conn);
        metrics::histogram!("fulfil_store_group_appends").record(turn.acks.len() as f64);
        if let Some(roll) = turn.roll.take() {
            roll(result.clone().map(|()| turn.next - 1));
        }
        for ack in turn.acks {
            ack(result.clone());
        }
    }

    fn follow(&self) -> Result<Vec<Record>, StoreError> {
        let mut conn = self.lock();
        if conn.turn.is_some() {
            return Ok(Vec::new());
        }
        let (records, upto) = self.on_conn(&mut conn, |s, c, seen| {
            let head = rows::head(c)?;
            let upto = head.min(seen + FOLLOW_BATCH);
            if upto <= seen {
                return Ok((Vec::new(), seen));
            }
            Ok((s.read_changes(c, seen, upto)?, upto))
        })?;
        conn.seen = upto;
        Ok(records)
    }

    fn wait_for_changes(&self, timeout: Duration) -> bool {
        let mut listener = self.listener.lock().unwrap_or_else(|e| e.into_inner());
        if listener.is_none() {
            match self.listen() {
                Ok(c) => *listener = Some(c),
                Err(e) => {
                    tracing::debug!("cannot listen for changes ({e}); polling");
                    drop(listener);
                    std::thread::sleep(timeout);
                    return false;
                }
            }
        }
        let Some(client) = listener.as_mut() else {
            return false;
        };
        let heard = {
            // This replica's own commits notify it too: those it has already applied.
            let mine = |n: &postgres::Notification| n.payload() == self.replica;
            let mut notes = client.notifications();
            let deadline = Instant::now() + timeout;
            let heard = loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break Ok(false);
                }
                match notes.timeout_iter(left).next() {
                    Ok(Some(n)) if mine(&n) => continue,
                    Ok(Some(_)) => break Ok(true),
                    Ok(None) => break Ok(false),
                    Err(e) => break Err(e),
                }
            };
            if let Ok(true) = heard {
                // Whatever else came is read by the same follow.
                while let Ok(Some(_)) = notes.iter().next() {}
            }
            heard
        };
        heard.unwrap_or_else(|e| {
            tracing::debug!("listening for changes failed: {e}");
            *listener = None;
            false
        })
    }

    fn position(&self) -> u64 {
        self.lock().seen
    }

    fn unreachable_for(&self) -> Option<Duration> {
        self.reach().down_since.map(|t| t.elapsed())
    }
}

impl PgStore {
    /// The newest checkpoint and every change after it, read in one snapshot of the database.
    fn read_all(&self, client: &mut Client) -> Result<(Vec<Record>, u64), StoreError> {
        client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(unreachable)?;
        let (mut records, from) = rows::newest_checkpoint(client)?;
        for r in &records {
            self.fetch_scenario(client, r)?;
        }
        let head = rows::head(client)?;
        records.extend(self.read_changes(client, from, head)?);
        client.batch_execute("COMMIT").map_err(unreachable)?;
        Ok((records, head))
    }

    /// Takes one append into the turn: a loaded scenario's files go to the database now; the
    /// records and the rows they left wait for the commit.
    fn write(
        &self,
        client: &mut Client,
        turn: &mut Turn,
        records: &[Record],
        projection: Projection,
    ) -> Result<(), StoreError> {
        for r in records {
            if let Record::LoadScenario {
                sha256: Some(sha), ..
            } = r
            {
                rows::upload_scenario(client, sha, &self.scenarios.join(sha))?;
            }
        }
        turn.pending.add(turn.next, records, projection)?;
        turn.next += records.len() as u64;
        Ok(())
    }

    /// Commits (or, after a failed write, rolls back) a turn's transaction.
    fn finish(&self, conn: &mut Conn, turn: &Turn) -> Result<(), StoreError> {
        let last = turn.next - 1;
        if let Some(e) = &turn.broken {
            if let Some(c) = conn.client.as_mut() {
                let _ = c.batch_execute("ROLLBACK");
            }
            conn.client = None;
            conn.prepared = rows::Prepared::default();
            return Err(e.clone());
        }
        let result = if turn.acks.is_empty() {
            self.on_conn(conn, |_, c, _| {
                c.batch_execute("ROLLBACK").map_err(unreachable)
            })
        } else {
            let sql = rows::commit_sql(last, turn.pending.network_version, &self.replica);
            let mut prepared = std::mem::take(&mut conn.prepared);
            let result = self.on_conn(conn, |s, c, _| {
                rows::write_pending(c, &mut prepared, &turn.pending, &s.replica)?;
                c.batch_execute(&sql).map_err(unreachable)
            });
            if conn.client.is_some() {
                conn.prepared = prepared;
            }
            result
        };
        match result {
            Ok(()) => {
                if !turn.acks.is_empty() {
                    conn.seen = last;
                }
                Ok(())
            }
            // Whether the commit happened is not known: the caller must read the store anew.
            Err(e) => Err(StoreError::WriteFailed {
                source: Arc::new(e),
            }),
        }
    }

    fn listen(&self) -> Result<Client, StoreError> {
        let mut client = self.config.connect(NoTls).map_err(unreachable)?;
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .map_err(unreachable)?;
        Ok(client)
    }

    /// Makes sure a scenario a record names is copied locally, from the database.
    fn fetch_scenario(&self, client: &mut Client, record: &Record) -> Result<(), StoreError> {
        if let Record::LoadScenario {
            sha256: Some(sha), ..
        } = record
        {
            let dir = self.scenarios.join(sha);
            if !dir.exists() {
                rows::download_scenario(client, sha, &dir)?;
            }
        }
        Ok(())
    }
}

/// A database error as "cannot be reached" (the store changed nothing).
pub(crate) fn unreachable(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    let source: Cause = Arc::new(e);
    StoreError::Unreachable { source }
}

/// `host-pid`: which replica wrote a change.
fn replica_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "fulfil".to_owned());
    format!("{host}-{}", std::process::id())
}

/// Connects to `url` and applies the migrations it lacks (`fulfil migrate`); returns the
/// versions applied now.
pub fn migrate(url: &str) -> Result<Vec<i32>, StoreError> {
    let mut client = config_of(url)?.connect(NoTls).map_err(unreachable)?;
    schema::migrate(&mut client).map_err(|e| StoreError::Recovery(Arc::new(e)))
}

/// A session idle inside a transaction longer than this is ended by the database, so a replica
/// that stops (frozen, or cut off) while it holds the head frees it for the others.
pub const IDLE_IN_TURN: Duration = Duration::from_secs(10);

/// The connection settings of `url`, with what the store needs beside them: timeouts that turn
/// a stalled peer into an error (connect, TCP, a session idle in its turn, a lock wait, a
/// statement) and quiet notices. Settings the URL gives itself are kept.
fn config_of(url: &str) -> Result<postgres::Config, StoreError> {
    let mut config: postgres::Config = url.parse().map_err(unreachable)?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(3));
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(Duration::from_secs(10));
    }
    config.keepalives_idle(Duration::from_secs(10));
    if config.get_application_name().is_none() {
        config.application_name("fulfil");
    }
    let ours = format!(
        "-c idle_in_transaction_session_timeout={} -c lock_timeout=15000 \
         -c statement_timeout=60000 -c client_min_messages=warning",
        IDLE_IN_TURN.as_millis()
    );
    let options = match config.get_options() {
        Some(given) => format!("{ours} {given}"),
        None => ours,
    };
    config.options(&options);
    Ok(config)
}
