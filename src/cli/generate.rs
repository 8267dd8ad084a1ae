//! `fulfil gen`: write a generated scenario.

use std::time::Instant;

use clap::Args;
use fulfil::scenario::generate::{GenConfig, generate};
use fulfil::scenario::multi_item::{MultiItemConfig, generate_multi_item};
use std::path::PathBuf;

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
    /// `retail` (a store network with realistic demand) or `multi-item` (the published
    /// multi-item fulfilment benchmark: 99 cities, --dcs centres, --items items, --orders
    /// orders, with forecast.csv).
    #[arg(long, default_value = "retail")]
    pub profile: String,
    /// Items per order to draw from (multi-item profile: n = 2, 5 or 10 in the papers).
    #[arg(long, default_value_t = 5)]
    pub items: usize,
    /// Overwrite the scenario files already in --out (without it, existing files are refused).
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: GenArgs) -> anyhow::Result<()> {
    let existing: Vec<&str> = fulfil::scenario::NETWORK_FILES
        .iter()
        .chain(&["orders.csv", "receipts.csv", "forecast.csv"])
        .copied()
        .filter(|f| args.out.join(f).exists())
        .collect();
    if !existing.is_empty() && !args.force {
        anyhow::bail!(
            "{}: already holds {} (use --force to overwrite)",
            args.out.display(),
            existing.join(", ")
        );
    }
    let start = Instant::now();
    let summary = match args.profile.as_str() {
        "retail" => retail(&args)?,
        "multi-item" => generate_multi_item(
            &MultiItemConfig {
                seed: args.seed,
                dcs: args.dcs,
                items: args.items,
                orders: args.orders,
                days: args.days,
                stock: args.stock,
            },
            &args.out,
        )?,
        other => anyhow::bail!(
            "--profile: unknown profile `{other}` (expected `retail` or `multi-item`)"
        ),
    };
    eprintln!(
        "wrote {}: {} nodes, {} SKUs, {} inventory rows, {} orders ({} lines) in {:.2} s",
        args.out.display(),
        summary.nodes,
        summary.skus,
        summary.inventory_rows,
        summary.orders,
        summary.order_lines,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

fn retail(args: &GenArgs) -> anyhow::Result<fulfil::scenario::generate::GenSummary> {
    let cfg = GenConfig {
        seed: args.seed,
        dcs: args.dcs,
        stores: args.stores,
        dropship: args.dropship,
        skus: args.skus,
        orders: args.orders,
        days: args.days,
        stock: args.stock,
    };
    Ok(generate(&cfg, &args.out)?)
}
