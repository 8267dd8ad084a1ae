//! `fulfil migrate`: the shared store's schema migrations applied to a database.

use clap::Args;

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// The database: postgres://user@host:port/db.
    #[arg(long, env = "FULFIL_STORE", hide_env_values = true)]
    pub store: String,
}

pub fn run(args: MigrateArgs) -> anyhow::Result<()> {
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
