//! `fulfil route`: a sequential run over an orders file.

use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use clap::Args;
use fulfil::lookahead::{Lookahead, inbound_receipts, route_all_lookahead};
use fulfil::route::{PolicyKind, RunSummary, route_all};
use fulfil::scenario::{load_snapshot, read_orders, write_decisions};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RouteArgs {
    /// Scenario folder (nodes.csv, skus.csv, inventory.csv, zones.csv, rates.csv, policy.toml).
    #[arg(long, env = "FULFIL_SCENARIO", required_unless_present = "server")]
    pub scenario: Option<PathBuf>,
    /// Orders file [default: SCENARIO/orders.csv].
    #[arg(long, required_unless_present = "scenario")]
    pub orders: Option<PathBuf>,
    /// Send the orders to a running `fulfil serve` (e.g. http://127.0.0.1:50051) instead of
    /// routing them here; they are reserved there unless --dry-run.
    #[arg(long, conflicts_with_all = ["compare", "forecast"])]
    pub server: Option<String>,
    /// With --server: quote only, reserve nothing. Orders go in batches of 1,000, each quoted
    /// against the server's current stock, so a batch does not see what earlier batches would
    /// have taken (without --dry-run they reserve, and the run matches `fulfil route`).
    #[arg(long, requires = "server")]
    pub dry_run: bool,
    /// Where to write decisions [default: standard output].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// `optimal` (cheapest feasible decision), `nearest` (the common-platform baseline) or
    /// `lookahead` (optimal plus each unit's opportunity cost, priced from expected demand)
    /// [default: optimal; with --server, the network's own: `optimal` or `lookahead` may be
    /// asked for, priced by the server].
    #[arg(long)]
    pub policy: Option<String>,
    /// With `--policy lookahead`: the expected demand (columns lat, lon, sku, units_per_day)
    /// [default: SCENARIO/forecast.csv if there is one, else learned from the orders routed so
    /// far].
    #[arg(long)]
    pub forecast: Option<PathBuf>,
    /// Also run the other policy and report what optimising saves against the baseline (with
    /// `--policy lookahead`: against `optimal`).
    #[arg(long)]
    pub compare: bool,
    #[command(flatten)]
    pub budget: super::budget::SearchBudget,
    /// Print no summary on standard error.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub client: super::client::ClientArgs,
}

pub fn run(args: RouteArgs) -> anyhow::Result<()> {
    args.budget.apply();
    if let Some(server) = args.server.clone() {
        return remote(args, &server);
    }
    let policy = args.policy.clone().unwrap_or_else(|| "optimal".into());
    let lookahead = policy == "lookahead";
    let kind: PolicyKind = if lookahead {
        PolicyKind::Optimal
    } else {
        policy
            .parse()
            .map_err(|e: String| anyhow::anyhow!("{e}, or `lookahead`"))?
    };
    if args.forecast.is_some() && !lookahead {
        anyhow::bail!("--forecast is only read by --policy lookahead");
    }
    let load_start = Instant::now();
    let scenario = args
        .scenario
        .clone()
        .ok_or_else(|| anyhow::anyhow!("--scenario is required without --server"))?;
    let snapshot = load_snapshot(&scenario)?;
    let orders_path = args
        .orders
        .clone()
        .unwrap_or_else(|| scenario.join("orders.csv"));
    let orders = read_orders(&orders_path, &snapshot)?;
    let load_time = load_start.elapsed();
    // Open the output before routing so a bad path fails fast.
    let mut out = super::output(args.out.as_deref())?;
    if !args.quiet {
        super::say_loaded(&snapshot, orders.len(), load_time);
    }
    let (decisions, summary) = if lookahead {
        let mut la = lookahead_for(&scenario, args.forecast.as_deref(), &snapshot)?;
        let cancel = fulfil::cancel::Cancel::never();
        let run = route_all_lookahead(&snapshot, &orders, &mut la, &cancel)?;
        if !args.quiet {
            let stats = la.stats();
            eprintln!(
                "lookahead         {} SKU prices solved in {:.3} s; {} regions",
                stats.solves,
                stats.time.as_secs_f64(),
                la.forecast().regions().len()
            );
        }
        run
    } else {
        route_all(&snapshot, &orders, kind, |_| {})?
    };
    match write_decisions(&mut out, &decisions, &summary.inexact).and_then(|()| out.flush()) {
        Ok(()) => {}
        // A reader that stopped early (`| head`) is not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(anyhow::Error::new(e).context("writing decisions")),
    }
    if !args.quiet {
        eprintln!("policy            {policy}");
        eprintln!("{summary}");
    }
    if args.compare && lookahead {
        let (_, myopic) = route_all(&snapshot, &orders, PolicyKind::Optimal, |_| {})?;
        eprintln!("{}", comparison("lookahead vs optimal", &summary, &myopic));
    } else if args.compare {
        let other = match kind {
            PolicyKind::Optimal => PolicyKind::Nearest,
            PolicyKind::Nearest => PolicyKind::Optimal,
        };
        let (_, other_summary) = route_all(&snapshot, &orders, other, |_| {})?;
        let (opt, base) = match kind {
            PolicyKind::Optimal => (&summary, &other_summary),
            PolicyKind::Nearest => (&other_summary, &summary),
        };
        eprintln!("{}", comparison("optimal vs nearest baseline", opt, base));
    }
    Ok(())
}

/// Client mode: the orders go to a running server in batches of 1,000.
fn remote(args: RouteArgs, server: &str) -> anyhow::Result<()> {
    use fulfil::service::pb::routing_client::RoutingClient;
    let orders_path = match (&args.orders, &args.scenario) {
        (Some(o), _) => o.clone(),
        (None, Some(s)) => s.join("orders.csv"),
        (None, None) => anyhow::bail!("--orders is required"),
    };
    // The server decides with its own prices: "" asks for the network's policy.
    let policy = match args.policy.as_deref() {
        None => String::new(),
        Some(p @ ("optimal" | "lookahead")) => p.to_owned(),
        Some(other) => anyhow::bail!(
            "--policy {other} with --server: the server decides with `optimal` or `lookahead`"
        ),
    };
    let mut names = fulfil::scenario::Interner::default();
    let orders = fulfil::scenario::read_orders_unresolved(&orders_path, &mut names)?;
    let mut out = super::output(args.out.as_deref())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let start = Instant::now();
    let (decisions, inexact, version) = runtime.block_on(async {
        let mut client = RoutingClient::new(args.client.connect(server).await?);
        let mut decisions = Vec::with_capacity(orders.len());
        let mut inexact = Vec::new();
        let mut version = 0;
        for chunk in orders.chunks(1000) {
            let resp = client
                .route_batch(fulfil::service::pb::RouteBatchRequest {
                    orders: chunk
                        .iter()
                        .map(|o| fulfil::service::order_pb(o, &names))
                        .collect(),
                    dry_run: args.dry_run,
                    policy: policy.clone(),
                })
                .await
                .map_err(|s| anyhow::anyhow!("{server}: {:?}: {}", s.code(), s.message()))?
                .into_inner();
            version = resp.snapshot_version;
            // The server prints dates whenever its network uses them; an order with dates
            // shows it, as does one that uses a date feature.
            let dated = orders.iter().any(|o| o.uses_v2())
                || resp.decisions.iter().any(|d| {
                    d.promise_date.is_some()
                        || d.shipments
                            .iter()
                            .any(|s| s.dispatch_date.is_some() || s.ready_date.is_some())
                });
            for d in &resp.decisions {
                if !d.exact {
                    inexact.push(fulfil::model::Unproven {
                        place: decisions.len(),
                        cost: d.cost.as_ref().map_or(0.0, |c| c.total),
                        lower_bound: d.lower_bound,
                    });
                }
                decisions.push(fulfil::service::decision_of(d, dated));
            }
        }
        anyhow::Ok((decisions, inexact, version))
    })?;
    let elapsed = start.elapsed();
    match write_decisions(&mut out, &decisions, &inexact).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(anyhow::Error::new(e).context("writing decisions")),
    }
    if !args.quiet {
        let total: f64 = decisions.iter().map(|d| d.cost.total).sum();
        eprintln!(
            "{} orders {} by {server} (snapshot version {version}) in {:.3} s; total cost {total:.2}",
            decisions.len(),
            if args.dry_run { "quoted" } else { "reserved" },
            elapsed.as_secs_f64()
        );
    }
    Ok(())
}

fn comparison(title: &str, opt: &RunSummary, base: &RunSummary) -> String {
    let pct = |a: f64, b: f64| if b != 0.0 { 100.0 * (a - b) / b } else { 0.0 };
    format!(
        "{title}:\n\
         total cost        {:.2} vs {:.2}  ({:+.2}%)\n\
         shipping+handling {:.2} vs {:.2}  ({:+.2}%)\n\
         shipments         {} vs {}  ({:+.2}%)\n\
         split orders      {} vs {}\n\
         backordered units {} vs {}",
        opt.cost.total,
        base.cost.total,
        pct(opt.cost.total, base.cost.total),
        opt.cost.shipping + opt.cost.handling,
        base.cost.shipping + base.cost.handling,
        pct(
            opt.cost.shipping + opt.cost.handling,
            base.cost.shipping + base.cost.handling
        ),
        opt.shipments,
        base.shipments,
        pct(opt.shipments as f64, base.shipments as f64),
        opt.split_orders,
        base.split_orders,
        opt.units_backordered,
        base.units_backordered,
    )
}

/// The `lookahead` policy's state: demand from `forecast` (or the scenario's `forecast.csv`),
/// else from the orders routed so far; receipts from `inbound.csv` shorten horizons.
fn lookahead_for(
    scenario: &std::path::Path,
    forecast: Option<&std::path::Path>,
    snapshot: &fulfil::snapshot::Snapshot,
) -> anyhow::Result<Lookahead> {
    let receipts = inbound_receipts(snapshot);
    let points = match forecast {
        Some(path) => Some(fulfil::scenario::read_forecast(path, snapshot)?),
        None => fulfil::scenario::read_scenario_forecast(scenario, snapshot)?,
    };
    Ok(match points {
        Some(points) => Lookahead::from_forecast(snapshot, &points, receipts),
        None => Lookahead::from_history(snapshot, receipts),
    })
}
