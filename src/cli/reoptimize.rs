//! `fulfil reoptimize`: a backlog re-assigned jointly, with a proven bound.

use std::fs::File;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use fulfil::batch::{BatchOptions, BatchResult, Phase, Progress, reoptimize};
use fulfil::route::Ledger;
use fulfil::scenario::{load_snapshot, read_orders, write_decisions};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ReoptimizeArgs {
    /// Scenario folder (nodes.csv, skus.csv, inventory.csv, zones.csv, rates.csv, policy.toml).
    #[arg(long, env = "FULFIL_SCENARIO")]
    pub scenario: PathBuf,
    /// Orders file: the backlog [default: SCENARIO/orders.csv].
    #[arg(long)]
    pub orders: Option<PathBuf>,
    /// Seconds allowed for the whole run; the best answer found by then is returned.
    #[arg(long, default_value_t = 60.0)]
    pub time_limit: f64,
    /// Stop once the gap between cost and proven bound is at most this fraction.
    #[arg(long, default_value_t = 0.0001)]
    pub gap: f64,
    /// Where to write decisions [default: standard output].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the summary as JSON to this file as well.
    #[arg(long)]
    pub summary_json: Option<PathBuf>,
    /// No progress bar and no summary on standard error.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: ReoptimizeArgs) -> anyhow::Result<()> {
    if !(args.time_limit.is_finite() && args.time_limit > 0.0) {
        anyhow::bail!("--time-limit must be a positive number of seconds");
    }
    if !(args.gap.is_finite() && args.gap >= 0.0) {
        anyhow::bail!("--gap must be a fraction ≥ 0 (e.g. 0.01 for 1%)");
    }
    super::logging::init(super::logging::LogFormat::Text, "warn")?;
    let load_start = Instant::now();
    let snapshot = load_snapshot(&args.scenario)?;
    let orders_path = args
        .orders
        .clone()
        .unwrap_or_else(|| args.scenario.join("orders.csv"));
    let orders = read_orders(&orders_path, &snapshot)?;
    let mut out = super::output(args.out.as_deref())?;
    let mut summary_out = match &args.summary_json {
        Some(path) => {
            Some(File::create(path).with_context(|| format!("{}: cannot create", path.display()))?)
        }
        None => None,
    };
    if !args.quiet {
        super::say_loaded(&snapshot, orders.len(), load_start.elapsed());
    }
    let options = BatchOptions {
        time_limit: Duration::from_secs_f64(args.time_limit),
        gap_target: args.gap,
        ..BatchOptions::default()
    };
    let lines = !args.quiet && !std::io::stderr().is_terminal();
    let bar = if args.quiet || lines {
        ProgressBar::hidden()
    } else {
        let bar = ProgressBar::new_spinner();
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    };
    // Off a terminal (a batch job's log): a line when the phase changes or every 5 s.
    let last = std::sync::Mutex::new((String::new(), Instant::now()));
    let report = |p: &Progress| {
        let text = describe(p, args.time_limit);
        if !lines {
            return bar.set_message(text);
        }
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        let phase = text.split(':').next().unwrap_or_default().to_owned();
        if phase != last.0 || last.1.elapsed() >= Duration::from_secs(5) {
            eprintln!("{text}");
            *last = (phase, Instant::now());
        }
    };
    let result = reoptimize(
        &snapshot,
        &Ledger::new(&snapshot),
        &orders,
        &options,
        &report,
    )?;
    bar.finish_and_clear();
    // The joint plan's decisions come from the MIP, not a per-order search: each is exact.
    match write_decisions(&mut out, &result.decisions, &[]).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(anyhow::Error::new(e).context("writing decisions")),
    }
    if let Some(file) = summary_out.as_mut() {
        serde_json::to_writer_pretty(&mut *file, &summary_json(&result))
            .context("writing the summary")?;
        writeln!(file).context("writing the summary")?;
    }
    if !args.quiet {
        eprintln!("{result}");
    }
    Ok(())
}

fn describe(p: &Progress, limit: f64) -> String {
    let money = |x: f64| {
        if x.is_finite() {
            format!("{x:.2}")
        } else {
            "–".to_owned()
        }
    };
    let gap = p
        .gap()
        .map_or_else(|| "–".to_owned(), |g| format!("{:.3}%", 100.0 * g));
    let round = if matches!(p.phase, Phase::Bound) {
        format!(" round {}", p.round)
    } else {
        String::new()
    };
    format!(
        "{}{round}: incumbent {}, bound {}, gap {gap} ({:.0} of {limit:.0} s)",
        p.phase,
        money(p.incumbent),
        money(p.bound),
        p.elapsed.as_secs_f64()
    )
}

fn summary_json(r: &BatchResult) -> serde_json::Value {
    let run = |s: &fulfil::route::RunSummary| {
        serde_json::json!({
            "orders": s.orders,
            "cost": s.cost,
            "shipments": s.shipments,
            "split_orders": s.split_orders,
            "units_ordered": s.units_ordered,
            "units_backordered": s.units_backordered,
            "seconds": s.elapsed.as_secs_f64(),
        })
    };
    serde_json::json!({
        "status": r.status.as_str(),
        "cost": r.summary.cost.total,
        "lower_bound": r.lower_bound,
        "gap": r.gap(),
        "batch": run(&r.summary),
        "sequential": run(&r.baseline),
        "saving": r.baseline.cost.total - r.summary.cost.total,
        "rounds": r.rounds,
        "columns": r.columns,
    })
}
