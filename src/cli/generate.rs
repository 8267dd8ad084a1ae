//! `fulfil gen`: write a generated scenario.

use std::time::Instant;

use fulfil::scenario::generate::{GenConfig, generate};

use super::GenArgs;

pub fn run(args: GenArgs) -> anyhow::Result<()> {
    let existing: Vec<&str> = fulfil::scenario::NETWORK_FILES
        .iter()
        .chain(&["orders.csv", "receipts.csv"])
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
    let start = Instant::now();
    let summary = generate(&cfg, &args.out)?;
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
