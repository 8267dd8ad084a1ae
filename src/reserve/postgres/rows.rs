//! The SQL of the shared store, one function per statement or small group of statements. Rows
//! go in as arrays (`unnest`), one round trip per table.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use postgres::{Client, Statement};

use super::super::store::StoreError;
use super::super::{Record, ReservationRow, StockRow};
use super::pending::Pending;
use super::{CHANNEL, unreachable};

/// Locks the head (the turn's order among all writers) and returns its sequence number (one
/// round trip).
pub fn lock_head(client: &mut Client) -> Result<u64, StoreError> {
    let msgs = client
        .simple_query("BEGIN; SELECT seq FROM fulfil_head WHERE id = 1 FOR UPDATE")
        .map_err(unreachable)?;
    first_number(&msgs).ok_or_else(|| StoreError::Diverged {
        what: "fulfil_head has no row 1 (run `fulfil migrate`)".into(),
    })
}

/// The first column of the first row of a simple query, as a number.
fn first_number(msgs: &[postgres::SimpleQueryMessage]) -> Option<u64> {
    msgs.iter().find_map(|m| match m {
        postgres::SimpleQueryMessage::Row(r) => r.get(0)?.parse().ok(),
        _ => None,
    })
}

/// The changes after `after` up to `upto`, as (seq, JSON) (one round trip).
pub fn changes(
    client: &mut Client,
    after: u64,
    upto: u64,
) -> Result<Vec<(u64, String)>, StoreError> {
    let msgs = client
        .simple_query(&format!(
            "SELECT seq, record::text FROM fulfil_changes
             WHERE seq > {after} AND seq <= {upto} ORDER BY seq"
        ))
        .map_err(unreachable)?;
    Ok(msgs
        .iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(r) => {
                Some((r.get(0)?.parse().ok()?, r.get(1)?.to_owned()))
            }
            _ => None,
        })
        .collect())
}

/// The statements that end a turn: the head moved to `last`, the other replicas told (the
/// payload names this replica, whose own follower ignores it), commit.
pub fn commit_sql(last: u64, network_version: Option<u64>, replica: &str) -> String {
    let version = network_version
        .map(|v| format!(", network_version = {v}"))
        .unwrap_or_default();
    let replica = replica.replace('\'', "''");
    format!(
        "UPDATE fulfil_head SET seq = {last}{version}, updated_at = now() WHERE id = 1;
         NOTIFY {CHANNEL}, '{replica}';
         COMMIT"
    )
}

/// The head's sequence number, as committed (one round trip).
pub fn head(client: &mut Client) -> Result<u64, StoreError> {
    let msgs = client
        .simple_query("SELECT seq FROM fulfil_head WHERE id = 1")
        .map_err(unreachable)?;
    first_number(&msgs).ok_or_else(|| StoreError::Diverged {
        what: "fulfil_head has no row 1 (run `fulfil migrate`)".into(),
    })
}

/// Statements prepared once per connection (each use is then one round trip).
#[derive(Default)]
pub struct Prepared {
    map: HashMap<&'static str, Statement>,
}

impl Prepared {
    fn get(&mut self, client: &mut Client, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(s) = self.map.get(sql) {
            return Ok(s.clone());
        }
        let s = client.prepare(sql).map_err(unreachable)?;
        self.map.insert(sql, s.clone());
        Ok(s)
    }
}

const INSERT_CHANGES: &str = "INSERT INTO fulfil_changes (seq, kind, record, bytes, replica)
     SELECT s, k, r::jsonb, b, $5
     FROM unnest($1::bigint[], $2::text[], $3::text[], $4::integer[]) AS t(s, k, r, b)";

const UPSERT_STOCK: &str = "INSERT INTO fulfil_stock
         (node_id, sku, on_hand, safety_stock, sellable, reserved)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::bigint[],
                          $6::bigint[])
     ON CONFLICT (node_id, sku) DO UPDATE SET on_hand = excluded.on_hand,
         safety_stock = excluded.safety_stock, sellable = excluded.sellable,
         reserved = excluded.reserved";

/// The guarded update: `reserved += units` only where `sellable − reserved ≥ units`.
const TAKE: &str = "UPDATE fulfil_stock AS s SET reserved = s.reserved + t.q
     FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(n, k, q)
     WHERE s.node_id = t.n AND s.sku = t.k AND s.sellable - s.reserved >= t.q";

const UPSERT_CAPACITY: &str = "INSERT INTO fulfil_capacity (node_id, day, used)
     SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[])
     ON CONFLICT (node_id, day) DO UPDATE SET used = excluded.used";

const UPSERT_RESERVATIONS: &str = "INSERT INTO fulfil_reservations
         (id, order_id, state, day, expires_at_ms, allocations, seq)
     SELECT i, o, s, d, e, a::jsonb, q
     FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::bigint[], $6::text[],
                 $7::bigint[]) AS t(i, o, s, d, e, a, q)
     ON CONFLICT (id) DO UPDATE SET order_id = excluded.order_id, state = excluded.state,
         day = excluded.day, expires_at_ms = excluded.expires_at_ms,
         allocations = excluded.allocations, seq = excluded.seq";

/// Writes a group's changes and the rows they left: one statement per table (rows in chunks).
/// Units taken are added only where the database still has them available; anything else is
/// refused as a divergence.
pub fn write_pending(
    client: &mut Client,
    prepared: &mut Prepared,
    p: &Pending,
    replica: &str,
) -> Result<(), StoreError> {
    insert_changes(client, prepared, &p.changes, replica)?;
    if p.full {
        client
            .batch_execute(
                "DELETE FROM fulfil_stock; DELETE FROM fulfil_capacity;
                 DELETE FROM fulfil_reservations",
            )
            .map_err(unreachable)?;
    }
    let stock: Vec<&StockRow> = p.stock.values().collect();
    for chunk in stock.chunks(CHUNK) {
        upsert_stock(client, prepared, chunk)?;
    }
    take(client, prepared, &p.taken)?;
    let capacity: Vec<_> = p.capacity.iter().collect();
    for chunk in capacity.chunks(CHUNK) {
        let nodes: Vec<&str> = chunk.iter().map(|((n, _), _)| n.as_str()).collect();
        let days: Vec<i32> = chunk.iter().map(|((_, d), _)| *d).collect();
        let used: Vec<i64> = chunk.iter().map(|(_, u)| **u).collect();
        let st = prepared.get(client, UPSERT_CAPACITY)?;
        client
            .execute(&st, &[&nodes, &days, &used])
            .map_err(unreachable)?;
    }
    let reservations: Vec<_> = p.reservations.values().collect();
    for chunk in reservations.chunks(CHUNK) {
        upsert_reservations(client, prepared, chunk)?;
    }
    Ok(())
}

/// Rows per statement.
const CHUNK: usize = 10_000;

fn insert_changes(
    client: &mut Client,
    prepared: &mut Prepared,
    changes: &[(i64, &'static str, String, i32)],
    replica: &str,
) -> Result<(), StoreError> {
    for chunk in changes.chunks(CHUNK) {
        let seqs: Vec<i64> = chunk.iter().map(|c| c.0).collect();
        let kinds: Vec<&str> = chunk.iter().map(|c| c.1).collect();
        let texts: Vec<&str> = chunk.iter().map(|c| c.2.as_str()).collect();
        let sizes: Vec<i32> = chunk.iter().map(|c| c.3).collect();
        let st = prepared.get(client, INSERT_CHANGES)?;
        client
            .execute(&st, &[&seqs, &kinds, &texts, &sizes, &replica])
            .map_err(unreachable)?;
    }
    Ok(())
}

fn upsert_stock(
    client: &mut Client,
    prepared: &mut Prepared,
    rows: &[&StockRow],
) -> Result<(), StoreError> {
    let nodes: Vec<&str> = rows.iter().map(|r| r.node_id.as_str()).collect();
    let skus: Vec<&str> = rows.iter().map(|r| r.sku.as_str()).collect();
    let on_hand: Vec<i64> = rows.iter().map(|r| i64::from(r.on_hand)).collect();
    let safety: Vec<i64> = rows.iter().map(|r| i64::from(r.safety_stock)).collect();
    let sellable: Vec<i64> = rows.iter().map(|r| i64::from(r.sellable)).collect();
    let reserved: Vec<i64> = rows.iter().map(|r| i64::from(r.reserved)).collect();
    let st = prepared.get(client, UPSERT_STOCK)?;
    client
        .execute(
            &st,
            &[&nodes, &skus, &on_hand, &safety, &sellable, &reserved],
        )
        .map_err(unreachable)?;
    Ok(())
}

fn take(
    client: &mut Client,
    prepared: &mut Prepared,
    taken: &BTreeMap<(String, String), i64>,
) -> Result<(), StoreError> {
    if taken.is_empty() {
        return Ok(());
    }
    let nodes: Vec<&str> = taken.keys().map(|k| k.0.as_str()).collect();
    let skus: Vec<&str> = taken.keys().map(|k| k.1.as_str()).collect();
    let units: Vec<i64> = taken.values().copied().collect();
    let st = prepared.get(client, TAKE)?;
    let updated = client
        .execute(&st, &[&nodes, &skus, &units])
        .map_err(unreachable)?;
    if updated as usize != taken.len() {
        let pairs: Vec<String> = taken
            .iter()
            .take(4)
            .map(|((n, k), q)| format!("{q} of {k} at {n}"))
            .collect();
        return Err(StoreError::Diverged {
            what: format!(
                "the database does not have all of {} available ({} of {} node and SKU pairs \
                 could take their units)",
                pairs.join(", "),
                updated,
                taken.len()
            ),
        });
    }
    Ok(())
}

fn upsert_reservations(
    client: &mut Client,
    prepared: &mut Prepared,
    rows: &[&(ReservationRow, i64)],
) -> Result<(), StoreError> {
    let ids: Vec<&str> = rows.iter().map(|(r, _)| r.id.as_str()).collect();
    let orders: Vec<&str> = rows.iter().map(|(r, _)| r.order_id.as_str()).collect();
    let states: Vec<&str> = rows.iter().map(|(r, _)| r.state).collect();
    let days: Vec<Option<i32>> = rows.iter().map(|(r, _)| r.day).collect();
    let expires: Vec<i64> = rows.iter().map(|(r, _)| r.expires_ms as i64).collect();
    let allocations: Vec<String> = rows
        .iter()
        .map(|(r, _)| serde_json::to_string(&r.allocations).unwrap_or_else(|_| "[]".to_owned()))
        .collect();
    let seqs: Vec<i64> = rows.iter().map(|(_, s)| *s).collect();
    let st = prepared.get(client, UPSERT_RESERVATIONS)?;
    client
        .execute(
            &st,
            &[&ids, &orders, &states, &days, &expires, &allocations, &seqs],
        )
        .map_err(unreachable)?;
    Ok(())
}

/// The newest checkpoint's records and sequence number (none: nothing, 0).
pub fn newest_checkpoint(client: &mut Client) -> Result<(Vec<Record>, u64), StoreError> {
    let row = client
        .query_opt(
            "SELECT seq, records::text FROM fulfil_checkpoints ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .map_err(unreachable)?;
    let Some(row) = row else {
        return Ok((Vec::new(), 0));
    };
    let seq: i64 = row.get(0);
    let text: &str = row.get(1);
    let records = serde_json::from_str(text).map_err(|e| StoreError::Diverged {
        what: format!("checkpoint {seq} cannot be read: {e}"),
    })?;
    Ok((records, seq as u64))
}

/// Writes `state` as the checkpoint at `seq` (once the head has passed it: what it captured is
/// committed), then drops the checkpoints before it and the changes before the previous one
/// (a replica that lags by a whole checkpoint reads the store anew), and the ended reservations
/// already forgotten.
pub fn checkpoint(client: &mut Client, seq: u64, state: &[Record]) -> Result<(), StoreError> {
    let mut head = 0;
    for _ in 0..100 {
        head = self::head(client)?;
        if head >= seq {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    if head < seq {
        return Err(StoreError::Diverged {
            what: format!("checkpoint {seq} is past the committed head {head}"),
        });
    }
    let text = serde_json::to_string(state).map_err(StoreError::write_failed)?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let mut tx = client.transaction().map_err(unreachable)?;
    let previous: i64 = tx
        .query_one(
            "SELECT coalesce(max(seq), 0) FROM fulfil_checkpoints WHERE seq < $1",
            &[&(seq as i64)],
        )
        .map_err(unreachable)?
        .get(0);
    tx.execute(
        "INSERT INTO fulfil_checkpoints (seq, records) VALUES ($1, $2::text::jsonb)
         ON CONFLICT (seq) DO NOTHING",
        &[&(seq as i64), &text],
    )
    .map_err(unreachable)?;
    tx.execute(
        "DELETE FROM fulfil_checkpoints WHERE seq < $1",
        &[&(seq as i64)],
    )
    .map_err(unreachable)?;
    tx.execute("DELETE FROM fulfil_changes WHERE seq <= $1", &[&previous])
        .map_err(unreachable)?;
    tx.execute(
        "DELETE FROM fulfil_reservations WHERE state <> 'held' AND expires_at_ms < $1",
        &[&now_ms],
    )
    .map_err(unreachable)?;
    tx.commit().map_err(unreachable)
}

/// Bytes of the changes after the newest checkpoint.
pub fn bytes_since_checkpoint(client: &mut Client) -> Result<u64, StoreError> {
    let row = client
        .query_one(
            "SELECT coalesce(sum(bytes), 0)::bigint FROM fulfil_changes
             WHERE seq > (SELECT coalesce(max(seq), 0) FROM fulfil_checkpoints)",
            &[],
        )
        .map_err(unreachable)?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// Stores the files of the scenario copy in `dir` under `sha` (once).
pub fn upload_scenario(client: &mut Client, sha: &str, dir: &Path) -> Result<(), StoreError> {
    let entries = std::fs::read_dir(dir).map_err(StoreError::write_failed)?;
    let mut names = Vec::new();
    let mut contents = Vec::new();
    for e in entries {
        let e = e.map_err(StoreError::write_failed)?;
        let bytes = std::fs::read(e.path()).map_err(StoreError::write_failed)?;
        names.push(e.file_name().to_string_lossy().into_owned());
        contents.push(bytes);
    }
    client
        .execute(
            "INSERT INTO fulfil_scenario_files (sha256, name, content)
             SELECT $1, n, c FROM unnest($2::text[], $3::bytea[]) AS t(n, c)
             ON CONFLICT (sha256, name) DO NOTHING",
            &[&sha, &names, &contents],
        )
        .map_err(unreachable)?;
    Ok(())
}

/// Writes the files stored under `sha` into `dir` (through a temporary folder, renamed).
pub fn download_scenario(client: &mut Client, sha: &str, dir: &Path) -> Result<(), StoreError> {
    let rows = client
        .query(
            "SELECT name, content FROM fulfil_scenario_files WHERE sha256 = $1",
            &[&sha],
        )
        .map_err(unreachable)?;
    if rows.is_empty() {
        return Err(StoreError::Diverged {
            what: format!("scenario {sha} is named by a change but its files are not stored"),
        });
    }
    let tmp = dir.with_extension("tmp");
    let io = StoreError::write_failed;
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).map_err(io)?;
    for row in rows {
        let name: &str = row.get(0);
        let content: &[u8] = row.get(1);
        if name.contains('/') || name.starts_with('.') {
            return Err(StoreError::Diverged {
                what: format!("scenario {sha} has a file named `{name}`"),
            });
        }
        std::fs::write(tmp.join(name), content).map_err(io)?;
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&tmp, dir).map_err(io)
}
