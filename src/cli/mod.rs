//! Command-line definitions. Help text comes from these doc comments.

mod budget;
mod client;
mod exceptions;
mod exports;
mod generate;
mod health;
mod journal;
mod loadgen;
mod logbuffer;
mod logfields;
mod logging;
mod migrate;
mod overload;
mod percentile;
mod prices;
mod reoptimize;
mod route;
mod serve;
mod simulate;
mod token;

use clap::{Parser, Subcommand};

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
    Route(route::RouteArgs),
    /// Re-optimize a backlog of orders jointly (shared stock and capacity) with an LP/MIP, and
    /// report the cost against routing them one at a time, with a proven lower bound.
    Reoptimize(reoptimize::ReoptimizeArgs),
    /// Replay order history against the network and what-if variants of it (change files), and
    /// compare cost, splits, speed and utilisation side by side.
    Simulate(simulate::SimulateArgs),
    /// Solve every SKU's opportunity costs (the `lookahead` policy's prices) on a scenario's
    /// stock, from a forecast or the demand of its orders, and say how long it took.
    Prices(prices::PricesArgs),
    /// Generate a realistic scenario on real US geography.
    Gen(generate::GenArgs),
    /// Serve routing, reservations and network updates over gRPC.
    Serve(serve::ServeArgs),
    /// Inspect a data folder's journal without changing it.
    #[command(subcommand)]
    Journal(journal::JournalCommand),
    /// Replay a file of store rejections and short picks (events.csv) against a running
    /// service, as a store system integration does, printing each re-route (JSON Lines).
    Exceptions(exceptions::ExceptionsArgs),
    /// Ask a running server whether it is SERVING (standard gRPC health): exit 0 if so.
    Health(health::HealthArgs),
    /// Apply the shared store's schema migrations to a database (`serve --store` also applies
    /// them at start) and list what is applied.
    Migrate(migrate::MigrateArgs),
    /// Manage bearer tokens for `fulfil serve --auth-file`.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Drive a running server with route calls (and inventory changes) and report throughput
    /// and latency percentiles.
    Loadgen(loadgen::LoadgenArgs),
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
        Command::Prices(args) => prices::run(args),
        Command::Gen(args) => generate::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Loadgen(args) => loadgen::run(args),
        Command::Exceptions(args) => exceptions::run(args),
        Command::Journal(journal::JournalCommand::Verify { dir }) => journal::verify(&dir),
        Command::Health(args) => health::run(args),
        Command::Migrate(args) => migrate::run(args),
        Command::Token(command) => token::run(command),
    }
}
