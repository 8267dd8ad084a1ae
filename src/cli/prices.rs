//! `fulfil prices`: every SKU's opportunity costs on a scenario's stock, solved at once as the
//! service solves them in the background (the `lookahead` policy's prices).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use fulfil::lookahead::Pricer;
use fulfil::route::Untouched;
use fulfil::scenario::{load_snapshot, read_forecast, read_orders, read_scenario_forecast};

#[derive(Args, Debug)]
pub struct PricesArgs {
    /// Scenario folder; its policy.toml's `[lookahead]` table sets the horizon and regions.
    #[arg(long, env = "FULFIL_SCENARIO")]
    pub scenario: PathBuf,
    /// Expected demand (columns lat, lon, sku, units_per_day) [default: SCENARIO/forecast.csv
    /// if there is one, else learned from the orders file, smoothed per UTC day].
    #[arg(long)]
    pub forecast: Option<PathBuf>,
    /// Orders to learn demand from without a forecast [default: SCENARIO/orders.csv].
    #[arg(long)]
    pub orders: Option<PathBuf>,
    /// Write every priced (node, SKU) row as CSV (node_id, sku, price, ats) [default: none;
    /// `-` for standard output].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: PricesArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let snapshot = load_snapshot(&args.scenario)?;
    let points = match &args.forecast {
        Some(path) => Some(read_forecast(path, &snapshot)?),
        None => read_scenario_forecast(&args.scenario, &snapshot)?,
    };
    let pricer = Pricer::from_points(&snapshot, points.as_deref());
    let (now_ms, learned) = match points {
        Some(_) => (None, None),
        None => {
            let path = args
                .orders
                .clone()
                .unwrap_or_else(|| args.scenario.join("orders.csv"));
            let orders = read_orders(&path, &snapshot)?;
            for o in &orders {
                pricer.observe(o, 0, o.day.unwrap_or(0));
            }
            let last = orders.iter().filter_map(|o| o.created).max();
            (last.map(|s| s * 1000), Some(orders.len()))
        }
    };
    super::say_loaded(&snapshot, learned.unwrap_or(0), start.elapsed());
    let board = pricer.refresh(&snapshot, &Untouched, now_ms);
    let priced_rows = board.prices().priced_entries();
    eprintln!(
        "priced {} of {} SKUs ({} of {} inventory rows with a price > 0) from {} in {:.3} s on \
         {} threads",
        board.skus_priced(),
        snapshot.skus().len(),
        priced_rows,
        snapshot.inventory().len(),
        match learned {
            Some(n) => format!("the demand of {n} orders"),
            None => "the forecast".to_owned(),
        },
        board.took().as_secs_f64(),
        rayon::current_num_threads(),
    );
    if let Some(path) = &args.out {
        write_prices(super::output(Some(path))?, &snapshot, board.prices())
            .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    Ok(())
}

/// Every inventory row with a price > 0, in inventory order.
fn write_prices(
    out: impl Write,
    snapshot: &fulfil::snapshot::Snapshot,
    prices: &fulfil::lookahead::Prices,
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record(["node_id", "sku", "price", "ats"])?;
    let inventory = snapshot.inventory();
    for k in 0..snapshot.skus().len() {
        let sku = fulfil::model::SkuId(k as u32);
        let (base, holders) = inventory.of_sku(sku);
        for (i, &node) in holders.iter().enumerate() {
            let price = prices.of(base + i);
            if price <= 0.0 {
                continue;
            }
            w.write_record([
                snapshot.node(node).id.as_str(),
                snapshot.sku(sku).id.as_str(),
                &format!("{price:.4}"),
                &inventory.sellable(base + i).to_string(),
            ])?;
        }
    }
    w.flush()?;
    Ok(())
}
