//! `fulfil route`: a sequential run over an orders file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

use anyhow::Context;
use fulfil::route::{PolicyKind, RunSummary, route_all};
use fulfil::scenario::{load_snapshot, read_orders, write_decisions};

use super::RouteArgs;

pub fn run(args: RouteArgs) -> anyhow::Result<()> {
    let kind: PolicyKind = args.policy.parse().map_err(anyhow::Error::msg)?;
    let load_start = Instant::now();
    let snapshot = load_snapshot(&args.scenario)?;
    let orders_path = args
        .orders
        .clone()
        .unwrap_or_else(|| args.scenario.join("orders.csv"));
    let orders = read_orders(&orders_path, &snapshot)?;
    let load_time = load_start.elapsed();
    // Open the output before routing so a bad path fails fast.
    let mut out: Box<dyn Write> = match &args.out {
        Some(path) => Box::new(BufWriter::new(
            File::create(path).with_context(|| format!("{}: cannot create", path.display()))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    if !args.quiet {
        eprintln!(
            "loaded {} nodes, {} SKUs, {} inventory rows, {} orders in {:.3} s",
            snapshot.nodes().len(),
            snapshot.skus().len(),
            snapshot.inventory().len(),
            orders.len(),
            load_time.as_secs_f64()
        );
    }
    let (decisions, summary) = route_all(&snapshot, &orders, kind, |_| {})?;
    match write_decisions(&mut out, &decisions).and_then(|()| out.flush()) {
        Ok(()) => {}
        // A reader that stopped early (`| head`) is not an error of ours.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(anyhow::Error::new(e).context("writing decisions")),
    }
    if !args.quiet {
        eprintln!("policy            {}", args.policy);
        eprintln!("{summary}");
    }
    if args.compare {
        let other = match kind {
            PolicyKind::Optimal => PolicyKind::Nearest,
            PolicyKind::Nearest => PolicyKind::Optimal,
        };
        let (_, other_summary) = route_all(&snapshot, &orders, other, |_| {})?;
        let (opt, base) = match kind {
            PolicyKind::Optimal => (&summary, &other_summary),
            PolicyKind::Nearest => (&other_summary, &summary),
        };
        eprintln!("{}", comparison(opt, base));
    }
    Ok(())
}

fn comparison(opt: &RunSummary, base: &RunSummary) -> String {
    let pct = |a: f64, b: f64| if b != 0.0 { 100.0 * (a - b) / b } else { 0.0 };
    format!(
        "optimal vs nearest baseline:\n\
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
