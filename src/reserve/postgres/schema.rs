//! Versioned migrations of the shared store's schema, applied in order at start (and by
//! `fulfil migrate`). Each is plain SQL that PostgreSQL, CockroachDB and YugabyteDB accept, and
//! idempotent (`IF NOT EXISTS`), so replicas starting together cannot apply one twice.

use postgres::Client;

/// A migration: its version (applied in this order, recorded in `fulfil_migrations`), its name
/// and its SQL.
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "shared_store",
    sql: include_str!("../../../migrations/postgres/0001_shared_store.sql"),
}];

/// Why the schema could not be brought up to date.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("migration {version} ({name}) failed: {source}")]
    Failed {
        version: i32,
        name: &'static str,
        #[source]
        source: postgres::Error,
    },
    #[error("cannot read the applied migrations: {0}")]
    Read(#[source] postgres::Error),
    #[error(
        "the database has migration {found}, newer than this build knows ({known}): upgrade fulfil"
    )]
    Newer { found: i32, known: i32 },
}

/// Applies the migrations the database lacks; returns the versions applied now.
pub fn migrate(client: &mut Client) -> Result<Vec<i32>, MigrateError> {
    let create = "CREATE TABLE IF NOT EXISTS fulfil_migrations (
                      version integer PRIMARY KEY,
                      name text NOT NULL,
                      applied_at timestamptz NOT NULL DEFAULT now())";
    // Two replicas creating it at once: the second fails once the first has committed, and
    // then finds it.
    if client.batch_execute(create).is_err() {
        client.batch_execute(create).map_err(MigrateError::Read)?;
    }
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    let found = applied(client)?.into_iter().max().unwrap_or(0);
    if found > known {
        return Err(MigrateError::Newer { found, known });
    }
    let mut done = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        if let Err(source) = apply(client, m) {
            // A replica starting at the same moment may have applied it: then all is well.
            if applied(client)?.contains(&m.version) {
                continue;
            }
            return Err(MigrateError::Failed {
                version: m.version,
                name: m.name,
                source,
            });
        }
        tracing::info!(version = m.version, name = m.name, "migration applied");
        done.push(m.version);
    }
    Ok(done)
}

fn applied(client: &mut Client) -> Result<Vec<i32>, MigrateError> {
    let rows = client
        .query("SELECT version FROM fulfil_migrations", &[])
        .map_err(MigrateError::Read)?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

fn apply(client: &mut Client, m: &Migration) -> Result<(), postgres::Error> {
    let mut tx = client.transaction()?;
    tx.batch_execute(m.sql)?;
    tx.execute(
        "INSERT INTO fulfil_migrations (version, name) VALUES ($1, $2)
         ON CONFLICT (version) DO NOTHING",
        &[&m.version, &m.name],
    )?;
    tx.commit()
}
