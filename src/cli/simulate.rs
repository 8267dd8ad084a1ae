//! `fulfil simulate`: the base network and its variants replayed side by side.

use std::io::{IsTerminal, Write};

use anyhow::Context;
use std::sync::atomic::{AtomicUsize, Ordering};

use fulfil::scenario::{
    load_snapshot, read_forecast, read_orders, read_receipts, read_scenario_forecast,
};
use fulfil::simulate::{
    About, GapClosed, Kpis, ReplayPolicy, Replayed, Study, StudyError, Variant,
};
use indicatif::{ProgressBar, ProgressStyle};

use super::output;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Scenario folder: the base network.
    #[arg(long, env = "FULFIL_SCENARIO")]
    pub scenario: PathBuf,
    /// Order history to replay [default: SCENARIO/orders.csv].
    #[arg(long)]
    pub orders: Option<PathBuf>,
    /// Stock arriving over time (node_id, sku, qty, at) [default: SCENARIO/receipts.csv if it
    /// exists].
    #[arg(long)]
    pub receipts: Option<PathBuf>,
    /// A what-if change file (TOML; one variant each). Repeat for several variants.
    #[arg(long = "changes")]
    pub changes: Vec<PathBuf>,
    /// `optimal`, `nearest` or `lookahead` (orders decided one at a time as they arrive), or
    /// `batch:WINDOW` (orders held for WINDOW, e.g. `2h`, and re-optimized jointly at its end).
    #[arg(long, default_value = "optimal")]
    pub policy: String,
    /// With `--policy lookahead`: the expected demand (lat, lon, sku, units_per_day) [default:
    /// SCENARIO/forecast.csv if there is one, else learned from the orders replayed so far].
    #[arg(long)]
    pub forecast: Option<PathBuf>,
    /// Also replay every network with perfect hindsight (all its orders as one batch that knows
    /// every order and receipt, each unit used only by orders created after it arrived) and,
    /// unless the policy is `optimal`, with `optimal`; report the share of the
    /// optimal→hindsight gap the policy closes.
    #[arg(long)]
    pub hindsight: bool,
    /// Seconds the hindsight batch of each network may take.
    #[arg(long, default_value_t = 60.0, requires = "hindsight")]
    pub hindsight_time_limit: f64,
    /// Write the KPIs of every variant as JSON to this file.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a self-contained HTML report (charts, maps, breakdowns by cause and service) to
    /// this file (`-`: standard output).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Write the KPIs of every variant as CSV, one row each (`-`: standard output).
    #[arg(long)]
    pub kpis_csv: Option<PathBuf>,
    /// Write every order a variant decided differently from the base (nodes, cost, promise,
    /// backorders) as CSV (`-`: standard output).
    #[arg(long)]
    pub diff_csv: Option<PathBuf>,
    #[command(flatten)]
    pub budget: super::budget::SearchBudget,
    /// Print nothing on standard error.
    #[arg(long, short)]
    pub quiet: bool,
}

pub fn run(args: SimulateArgs) -> anyhow::Result<()> {
    args.budget.apply();
    // Errors only unless `FULFIL_LOG` asks for more (e.g. `fulfil::simulate=debug`: each
    // batch window's progress); `--quiet` runs print nothing else.
    super::logging::init(super::logging::LogFormat::Text, "error")?;
    let study = prepare(&args)?;
    if !args.quiet {
        eprintln!(
            "replaying {} orders ({} receipts) on {} network(s) with the {} policy ...",
            study.orders.len(),
            study.receipts.len(),
            study.networks.len(),
            args.policy
        );
    }
    let progress = Progress::new(args.quiet, study.total());
    let replayed = study.run(&fulfil::cancel::Cancel::never(), &|n| progress.set(n))?;
    progress.finish();
    let about = About {
        title: format!("fulfil simulation: {}", args.scenario.display()),
        policy: args.policy.clone(),
        descriptions: study.descriptions(),
    };
    write_outputs(&args, &about, &replayed)
}

/// The study the command line asks for: the base, every change file read and applied (a bad one
/// fails before anything runs), the orders and the receipts.
fn prepare(args: &SimulateArgs) -> anyhow::Result<Study> {
    let mut policy: ReplayPolicy = args
        .policy
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--policy {e}"))?;
    let base = load_snapshot(&args.scenario)?;
    if let ReplayPolicy::Lookahead(points) = &mut policy {
        *points = match &args.forecast {
            Some(path) => Some(read_forecast(path, &base)?),
            None => read_scenario_forecast(&args.scenario, &base)?,
        }
        .map(std::sync::Arc::new);
    } else if args.forecast.is_some() {
        anyhow::bail!("--forecast is only read by --policy lookahead");
    }
    let orders_path = args
        .orders
        .clone()
        .unwrap_or_else(|| args.scenario.join("orders.csv"));
    let variants = args
        .changes
        .iter()
        .map(|path| Variant::read(path))
        .collect::<Result<Vec<_>, _>>()?;
    let orders = read_orders(&orders_path, &base)?;
    let receipts_path = args.receipts.clone().or_else(|| {
        let p = args.scenario.join("receipts.csv");
        p.exists().then_some(p)
    });
    let receipts = match &receipts_path {
        Some(p) => read_receipts(p, &base)?,
        None => Vec::new(),
    };
    let also = if args.hindsight {
        hindsight_runs(args, &policy, !receipts.is_empty())?
    } else {
        Vec::new()
    };
    let mut study =
        Study::prepare(base, &variants, 1, orders, receipts, policy).map_err(|e| match e {
            StudyError::Invalid { index, .. } => {
                let path = args.changes[index].display().to_string();
                anyhow::Error::new(e).context(path)
            }
            e => e.into(),
        })?;
    study.also = also;
    study.keep_decisions = args.diff_csv.is_some();
    Ok(study)
}

/// The replays `--hindsight` adds, after checking its time limit.
fn hindsight_runs(
    args: &SimulateArgs,
    policy: &ReplayPolicy,
    receipts: bool,
) -> anyhow::Result<Vec<(String, ReplayPolicy)>> {
    let limit = args.hindsight_time_limit;
    if !(limit.is_finite() && limit > 0.0 && limit <= 86_400.0) {
        anyhow::bail!(
            "--hindsight-time-limit must be a number of seconds in (0, 86400], not {limit}"
        );
    }
    Ok(fulfil::simulate::hindsight_runs(
        policy,
        std::time::Duration::from_secs_f64(limit),
        receipts,
    ))
}

/// The JSON, report and CSV files asked for, and the table on standard error.
fn write_outputs(args: &SimulateArgs, about: &About, replayed: &[Replayed]) -> anyhow::Result<()> {
    let results: Vec<(String, Kpis)> = replayed
        .iter()
        .map(|r| (r.name.clone(), r.kpis.clone()))
        .collect();
    if let Some(path) = &args.json {
        write_json(path, &results)?;
    }
    if let Some(path) = &args.report {
        let html = fulfil::simulate::html(about, &results);
        output(Some(path))?
            .write_all(html.as_bytes())
            .with_context(|| format!("{}: cannot write the report", path.display()))?;
    }
    if let Some(path) = &args.kpis_csv {
        super::exports::kpis_csv(output(Some(path))?, replayed)
            .with_context(|| format!("{}", path.display()))?;
    }
    if let Some(path) = &args.diff_csv {
        let rows = super::exports::diff_csv(output(Some(path))?, replayed)
            .with_context(|| format!("{}", path.display()))?;
        if !args.quiet {
            eprintln!(
                "{rows} orders decided differently from the base: {}",
                path.display()
            );
        }
    }
    if !args.quiet {
        eprint!("{}", table(&results));
        for gap in GapClosed::find(&results) {
            eprintln!("{gap}");
        }
        for (name, k) in &results {
            if let Some(note) = fulfil::simulate::pickup_note(k) {
                eprintln!("{name}: {note}");
            }
        }
    }
    Ok(())
}

/// Progress of the replays: a bar on a terminal; otherwise a line at every tenth of the work
/// (so logs of a batch job show it too).
struct Progress {
    bar: ProgressBar,
    total: u64,
    lines: bool,
    said: AtomicUsize,
}

impl Progress {
    fn new(quiet: bool, total: u64) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        Progress {
            bar: if quiet || !terminal {
                ProgressBar::hidden()
            } else {
                progress_bar(total)
            },
            total,
            lines: !quiet && !terminal,
            said: AtomicUsize::new(0),
        }
    }

    /// `sum` orders decided over every network so far.
    fn set(&self, sum: u64) {
        self.bar.set_position(sum);
        let tenth = (sum * 10 / self.total.max(1)) as usize;
        if self.lines && tenth > self.said.fetch_max(tenth, Ordering::Relaxed) {
            eprintln!("{sum}/{} orders decided ({}%)", self.total, tenth * 10);
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

fn progress_bar(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} orders decided ({eta} left)",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// The KPIs of every variant as a JSON array of `{variant, kpis}` (with the gap closed where
/// hindsight was replayed).
fn write_json(path: &std::path::Path, results: &[(String, Kpis)]) -> anyhow::Result<()> {
    let mut f = output(Some(path))?;
    serde_json::to_writer_pretty(&mut f, &fulfil::simulate::kpis_json(results))
        .context("writing JSON")?;
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
