//! `fulfil simulate`: the base network and its variants replayed side by side.

use std::fs::File;
use std::io::Write;

use anyhow::Context;
use std::sync::atomic::{AtomicUsize, Ordering};

use fulfil::scenario::{load_snapshot, read_orders, read_receipts};
use fulfil::simulate::{Kpis, Rejections, ReplayPolicy, Variant, replay_with};
use fulfil::snapshot::Snapshot;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

use super::SimulateArgs;

pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    let policy: ReplayPolicy = args
        .policy
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--policy {e}"))?;
    let base = load_snapshot(&args.scenario)?;
    let orders_path = args
        .orders
        .clone()
        .unwrap_or_else(|| args.scenario.join("orders.csv"));
    let variants = variants(&args, &base)?;
    let orders = read_orders(&orders_path, &base)?;
    let receipts_path = args.receipts.clone().or_else(|| {
        let p = args.scenario.join("receipts.csv");
        p.exists().then_some(p)
    });
    let receipts = match &receipts_path {
        Some(p) => read_receipts(p, &base)?,
        None => Vec::new(),
    };
    // A variant that adds nodes keeps the base's ids first, so the orders resolve the same way.
    let none = Rejections::default();
    let mut runs: Vec<(String, &Snapshot, &Rejections)> = vec![("base".to_owned(), &base, &none)];
    runs.extend(variants.iter().map(|(n, s, r)| (n.clone(), s, r)));
    if !args.quiet {
        eprintln!(
            "replaying {} orders ({} receipts) on {} network(s) with the {} policy ...",
            orders.len(),
            receipts.len(),
            runs.len(),
            args.policy
        );
    }
    let bar = progress_bar(args.quiet, (orders.len() * runs.len()) as u64);
    let done: Vec<AtomicUsize> = runs.iter().map(|_| AtomicUsize::new(0)).collect();
    let results: Vec<(String, Kpis)> = runs
        .par_iter()
        .enumerate()
        .map(|(i, (name, snap, rejections))| {
            let progress = |n: usize| {
                done[i].store(n, Ordering::Relaxed);
                bar.set_position(done.iter().map(|d| d.load(Ordering::Relaxed) as u64).sum());
            };
            replay_with(
                snap,
                &orders,
                &receipts,
                &policy,
                rejections,
                &fulfil::route::Cancel::never(),
                &progress,
            )
            .map(|(_, _, k)| (name.clone(), k))
            .with_context(|| format!("variant `{name}`"))
        })
        .collect::<anyhow::Result<_>>()?;
    bar.finish_and_clear();
    if let Some(path) = &args.json {
        write_json(path, &results)?;
    }
    if let Some(path) = &args.report {
        let title = format!("fulfil simulation: {}", args.scenario.display());
        std::fs::write(path, fulfil::simulate::html(&title, &results))
            .with_context(|| format!("{}: cannot write the report", path.display()))?;
    }
    if !args.quiet {
        eprint!("{}", table(&results));
    }
    Ok(())
}

/// Every change file read and applied before anything runs: a bad one fails fast.
fn variants(
    args: &SimulateArgs,
    base: &Snapshot,
) -> anyhow::Result<Vec<(String, Snapshot, Rejections)>> {
    let data = base.to_network_data();
    let mut variants = Vec::with_capacity(args.changes.len());
    for path in &args.changes {
        let v = Variant::read(path)?;
        let changed = v.apply(&data)?;
        let snap = Snapshot::build(changed, 1)
            .with_context(|| format!("{}: the changed network is invalid", path.display()))?;
        variants.push((v.name.clone(), snap, v.rejections()?));
    }
    Ok(variants)
}

fn progress_bar(quiet: bool, len: u64) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} orders decided ({eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// The KPIs of every variant as a JSON array of `{variant, kpis}`.
fn write_json(path: &std::path::Path, results: &[(String, Kpis)]) -> anyhow::Result<()> {
    let mut f = File::create(path).with_context(|| format!("{}: cannot create", path.display()))?;
    let json: Vec<serde_json::Value> = results
        .iter()
        .map(|(n, k)| serde_json::json!({ "variant": n, "kpis": k }))
        .collect();
    serde_json::to_writer_pretty(&mut f, &json).context("writing JSON")?;
    writeln!(f).context("writing JSON")?;
    Ok(())
}

/// The KPIs side by side, each variant with its difference from the base.
fn table(results: &[(String, Kpis)]) -> String {
    type Row = (&'static str, fn(&Kpis) -> f64, usize);
    let rows: [Row; 24] = [
        ("total cost", |k| k.cost.total, 2),
        ("  shipping", |k| k.cost.shipping, 2),
        ("  handling", |k| k.cost.handling, 2),
        ("  split", |k| k.cost.split, 2),
        ("  backorder", |k| k.cost.backorder, 2),
        ("  lateness", |k| k.cost.late.unwrap_or(0.0), 2),
        ("on time % (deliver_by)", |k| 100.0 * k.time.on_time_rate, 2),
        ("late orders", |k| k.time.late_orders as f64, 0),
        ("late days", |k| k.time.late_days as f64, 0),
        ("mean promise days", |k| k.time.mean_promise_days, 2),
        (
            "p90 promise days",
            |k| f64::from(k.time.p90_promise_days),
            0,
        ),
        ("cost per order", |k| k.cost_per_order.total, 4),
        ("shipments per order", |k| k.shipments_per_order, 4),
        ("split orders %", |k| 100.0 * k.split_share, 2),
        ("backordered units", |k| k.units_backordered as f64, 0),
        ("fill rate %", |k| 100.0 * k.fill_rate, 3),
        ("mean distance km", |k| k.mean_distance_km, 1),
        ("units from stores", |k| k.units_from_stores as f64, 0),
        ("nodes at capacity", |k| k.nodes_at_capacity as f64, 0),
        ("store rejections", |k| k.exceptions.rejections as f64, 0),
        ("re-routes", |k| k.exceptions.reroutes as f64, 0),
        ("re-route extra cost", |k| k.exceptions.extra_cost, 2),
        (
            "orders need attention",
            |k| k.exceptions.attention_orders as f64,
            0,
        ),
        ("run time s", |k| k.run_time.as_secs_f64(), 3),
    ];
    let mut out = format!("{:<22}", "");
    for (name, _) in results {
        out.push_str(&format!("{:>28}", truncate(name, 26)));
    }
    out.push('\n');
    let base = &results[0].1;
    for (label, f, digits) in rows {
        out.push_str(&format!("{label:<22}"));
        for (i, (_, k)) in results.iter().enumerate() {
            let v = f(k);
            let cell = if i == 0 {
                format!("{v:.digits$}")
            } else {
                let b = f(base);
                let pct = if b.abs() > 1e-12 {
                    format!(" ({:+.1}%)", 100.0 * (v - b) / b)
                } else {
                    String::new()
                };
                format!("{v:.digits$}{pct}")
            };
            out.push_str(&format!("{cell:>28}"));
        }
        out.push('\n');
    }
    out
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        s.chars().take(n - 1).chain(std::iter::once('…')).collect()
    }
}
