//! The SQL of the shared store, one function per statement or small group of statements. Rows
//! go in as arrays (`unnest`), one round trip per table.

use std::collections::BTreeMap;
use std::path::Path;

use postgres::Client;

use super::super::Record;
use super::super::store::{Projection, StoreError};
use super::{CHANNEL, unreachable};

/// How `fulfil_capacity.day` stores "no day".
pub const NO_DAY: i32 = i32::MIN;

/// Locks the head (the turn's order among all writers) and returns its sequence number.
pub fn lock_head(client: &mut Client) -> Result<u64, StoreError> {
    client.batch_execute("BEGIN").map_err(unreachable)?;
    let row = client
        .query_one("SELECT seq FROM fulfil_head WHERE id = 1 FOR UPDATE", &[])
        .map_err(unreachable)?;
    Ok(row.get::<_, i64>(0) as u64)
}

/// The statements that end a turn: the head moved to `last`, the other replicas told, commit.
pub fn commit_sql(last: u64, network_version: Option<u64>) -> String {
    let version = network_version
        .map(|v| format!(", network_version = {v}"))
        .unwrap_or_default();
    format!(
        "UPDATE fulfil_head SET seq = {last}{version}, updated_at = now() WHERE id = 1;
         NOTIFY {CHANNEL};
         COMMIT"
    )
}

/// Inserts `records` as changes `first`, `first + 1`, ….
pub fn insert_changes(
    client: &mut Client,
    first: u64,
    records: &[Record],
    replica: &str,
) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    let mut seqs = Vec::with_capacity(records.len());
    let mut kinds = Vec::with_capacity(records.len());
    let mut texts = Vec::with_capacity(records.len());
    let mut sizes = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let text = serde_json::to_string(r).map_err(StoreError::write_failed)?;
        seqs.push((first + i as u64) as i64);
        kinds.push(r.kind());
        sizes.push(text.len() as i32);
        texts.push(text);
    }
    client
        .execute(
            "INSERT INTO fulfil_changes (seq, kind, record, bytes, replica)
             SELECT s, k, r::jsonb, b, $5
             FROM unnest($1::bigint[], $2::text[], $3::text[], $4::integer[]) AS t(s, k, r, b)",
            &[&seqs, &kinds, &texts, &sizes, &replica],
        )
        .map_err(unreachable)?;
    Ok(())
}

/// Writes the rows a change left. Units taken by new reservations are added only where the
/// database still has them available; anything else is refused as a divergence.
pub fn project(client: &mut Client, p: &Projection, seq: u64) -> Result<(), StoreError> {
    if p.full {
        client
            .batch_execute(
                "DELETE FROM fulfil_stock; DELETE FROM fulfil_capacity;
                 DELETE FROM fulfil_reservations",
            )
            .map_err(unreachable)?;
    }
    for chunk in p.stock.chunks(10_000) {
        upsert_stock(client, chunk)?;
    }
    take(client, &p.taken)?;
    for chunk in p.capacity.chunks(10_000) {
        upsert_capacity(client, chunk)?;
    }
    for chunk in p.reservations.chunks(10_000) {
        upsert_reservations(client, chunk, seq)?;
    }
    Ok(())
}

fn upsert_stock(client: &mut Client, rows: &[super::super::StockRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let nodes: Vec<&str> = rows.iter().map(|r| r.node_id.as_str()).collect();
    let skus: Vec<&str> = rows.iter().map(|r| r.sku.as_str()).collect();
    let on_hand: Vec<i64> = rows.iter().map(|r| i64::from(r.on_hand)).collect();
    let safety: Vec<i64> = rows.iter().map(|r| i64::from(r.safety_stock)).collect();
    let sellable: Vec<i64> = rows.iter().map(|r| i64::from(r.sellable)).collect();
    let reserved: Vec<i64> = rows.iter().map(|r| i64::from(r.reserved)).collect();
    client
        .execute(
            "INSERT INTO fulfil_stock (node_id, sku, on_hand, safety_stock, sellable, reserved)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[],
                                  $5::bigint[], $6::bigint[])
             ON CONFLICT (node_id, sku) DO UPDATE SET on_hand = excluded.on_hand,
                 safety_stock = excluded.safety_stock, sellable = excluded.sellable,
                 reserved = excluded.reserved",
            &[&nodes, &skus, &on_hand, &safety, &sellable, &reserved],
        )
        .map_err(unreachable)?;
    Ok(())
}

/// The guarded update: `reserved += units` only where `sellable − reserved ≥ units`.
fn take(client: &mut Client, taken: &[(String, String, u32)]) -> Result<(), StoreError> {
    let mut sums: BTreeMap<(&str, &str), i64> = BTreeMap::new();
    for (n, k, q) in taken {
        *sums.entry((n.as_str(), k.as_str())).or_default() += i64::from(*q);
    }
    if sums.is_empty() {
        return Ok(());
    }
    let nodes: Vec<&str> = sums.keys().map(|k| k.0).collect();
    let skus: Vec<&str> = sums.keys().map(|k| k.1).collect();
    let units: Vec<i64> = sums.values().copied().collect();
    let updated = client
        .execute(
            "UPDATE fulfil_stock AS s SET reserved = s.reserved + t.q
             FROM unnest($1::text[], $2::text[], $3::bigint[]) AS t(n, k, q)
             WHERE s.node_id = t.n AND s.sku = t.k
               AND s.sellable - s.reserved >= t.q",
            &[&nodes, &skus, &units],
        )
        .map_err(unreachable)?;
    if updated as usize != sums.len() {
        let pairs: Vec<String> = sums
            .iter()
            .take(4)
            .map(|((n, k), q)| format!("{q} of {k} at {n}"))
            .collect();
        return Err(StoreError::Diverged {
            what: format!(
                "the database does not have {} available (of {} node and SKU pairs, {} could \
                 take their units)",
                pairs.join(", "),
                sums.len(),
                updated
            ),
        });
    }
    Ok(())
}

fn upsert_capacity(
    client: &mut Client,
    rows: &[super::super::CapacityRow],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut by_key: BTreeMap<(&str, i32), i64> = BTreeMap::new();
    for r in rows {
        by_key.insert(
            (r.node_id.as_str(), r.day.unwrap_or(NO_DAY)),
            i64::from(r.used),
        );
    }
    let nodes: Vec<&str> = by_key.keys().map(|k| k.0).collect();
    let days: Vec<i32> = by_key.keys().map(|k| k.1).collect();
    let used: Vec<i64> = by_key.values().copied().collect();
    client
        .execute(
            "INSERT INTO fulfil_capacity (node_id, day, used)
             SELECT * FROM unnest($1::text[], $2::integer[], $3::bigint[])
             ON CONFLICT (node_id, day) DO UPDATE SET used = excluded.used",
            &[&nodes, &days, &used],
        )
        .map_err(unreachable)?;
    Ok(())
}

fn upsert_reservations(
    client: &mut Client,
    rows: &[super::super::ReservationRow],
    seq: u64,
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut by_id: BTreeMap<&str, &super::super::ReservationRow> = BTreeMap::new();
    for r in rows {
        by_id.insert(r.id.as_str(), r);
    }
    let ids: Vec<&str> = by_id.keys().copied().collect();
    let orders: Vec<&str> = by_id.values().map(|r| r.order_id.as_str()).collect();
    let states: Vec<&str> = by_id.values().map(|r| r.state).collect();
    let days: Vec<Option<i32>> = by_id.values().map(|r| r.day).collect();
    let expires: Vec<i64> = by_id.values().map(|r| r.expires_ms as i64).collect();
    let allocations: Vec<String> = by_id
        .values()
        .map(|r| serde_json::to_string(&r.allocations).unwrap_or_else(|_| "[]".to_owned()))
        .collect();
    client
        .execute(
            "INSERT INTO fulfil_reservations
                 (id, order_id, state, day, expires_at_ms, allocations, seq)
             SELECT i, o, s, d, e, a::jsonb, $7
             FROM unnest($1::text[], $2::text[], $3::text[], $4::integer[], $5::bigint[],
                         $6::text[]) AS t(i, o, s, d, e, a)
             ON CONFLICT (id) DO UPDATE SET order_id = excluded.order_id,
                 state = excluded.state, day = excluded.day,
                 expires_at_ms = excluded.expires_at_ms, allocations = excluded.allocations,
                 seq = excluded.seq",
            &[
                &ids,
                &orders,
                &states,
                &days,
                &expires,
                &allocations,
                &(seq as i64),
            ],
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
        head = client
            .query_one("SELECT seq FROM fulfil_head WHERE id = 1", &[])
            .map_err(unreachable)?
            .get::<_, i64>(0) as u64;
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
