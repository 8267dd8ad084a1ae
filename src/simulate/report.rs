//! The planner's report: one self-contained HTML file (inline CSS and SVG; no scripts, no fonts,
//! nothing fetched) comparing the base and its variants. The same KPIs give the same bytes: run
//! times are left out.

use std::fmt::Write;

use super::charts::{daily_curve, date, map, map_defs};
use super::marks::{colour, esc, legend};
use super::replay::Kpis;

/// What the report says about how it was made: its title, the replay policy, the fulfil
/// version, and each run's description (the what-if's `description`; `None` for the base).
#[derive(Clone, Debug, Default)]
pub struct About {
    pub title: String,
    pub policy: String,
    pub descriptions: Vec<Option<String>>,
}

const PARTS: [(&str, &str); 5] = [
    ("shipping", "#4e79a7"),
    ("handling", "#59a14f"),
    ("split", "#edc948"),
    ("backorder", "#e15759"),
    ("lateness", "#b07aa1"),
];

/// The report for `runs` (the first is the base).
pub fn html(about: &About, runs: &[(String, Kpis)]) -> String {
    let mut h = String::new();
    head(&mut h, &about.title);
    intro(&mut h, about, runs);
    kpi_table(&mut h, runs);
    super::breakdown::sections(&mut h, runs);
    h.push_str("<h2>Cost per order and its parts</h2>\n");
    cost_bars(&mut h, runs);
    h.push_str("<h2>Parcels by zone</h2>\n");
    zone_histogram(&mut h, runs);
    h.push_str("<h2>Daily cost and share of split orders</h2>\n<div class=\"grid\">");
    daily_curve(&mut h, runs, "cost per day", |d| d.cost);
    daily_curve(&mut h, runs, "split orders %", |d| 100.0 * d.split_share);
    h.push_str("</div>\n<h2>Promises by day: on time and promise days</h2>\n<div class=\"grid\">");
    daily_curve(&mut h, runs, "on time % (deliver_by)", |d| {
        100.0 * d.time.on_time_rate
    });
    daily_curve(&mut h, runs, "mean promise days", |d| {
        d.time.mean_promise_days
    });
    daily_curve(&mut h, runs, "late orders", |d| d.time.late_orders as f64);
    h.push_str(
        "</div>\n<h2>Where units ship from</h2>\n<p>Nodes sized by units shipped (hover for \
                a node's name and figures), coloured by their busiest day against capacity.</p>\n",
    );
    map_defs(&mut h);
    h.push_str("<div class=\"grid\">");
    for (name, k) in runs {
        map(&mut h, name, k);
    }
    h.push_str("</div>\n</body></html>\n");
    h
}

fn head(h: &mut String, title: &str) {
    let _ = write!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{t}</title><style>\
         body{{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;margin:24px;color:#222;background:#fafafa}}\
         h1{{font-size:22px}} h2{{font-size:17px;margin-top:28px}}\
         table{{border-collapse:collapse;background:#fff}} td,th{{padding:4px 10px;border-bottom:1px solid #ddd;text-align:right}}\
         th:first-child,td:first-child{{text-align:left}} .up{{color:#c0392b}} .down{{color:#1e8449}}\
         .grid{{display:flex;flex-wrap:wrap;gap:16px}} .card{{background:#fff;border:1px solid #ddd;padding:8px}}\
         .legend span{{display:inline-block;margin-right:14px}} .sw{{display:inline-block;width:10px;height:10px;margin-right:4px}}\
         .note{{background:#fff8e1;border-left:4px solid #f0b400;padding:6px 10px;margin:6px 0}} dd{{margin:0 0 6px 18px;color:#444}}\
         </style></head><body>\n<h1>{t}</h1>\n",
        t = esc(title)
    );
}

/// What was replayed, when, how, and what each variant changes.
fn intro(h: &mut String, about: &About, runs: &[(String, Kpis)]) {
    let days: Vec<Option<i32>> = runs
        .first()
        .map(|r| r.1.daily.iter().map(|d| d.day).collect())
        .unwrap_or_default();
    let span = match (days.iter().flatten().min(), days.iter().flatten().max()) {
        (Some(a), Some(b)) => format!(" created {} to {}", date(Some(*a)), date(Some(*b))),
        _ => String::new(),
    };
    let _ = writeln!(
        h,
        "<p>{} orders{span} replayed on {} network(s) with the <b>{}</b> policy, by fulfil {} ({}). \
         Differences are against <b>{}</b>.</p>",
        runs.first().map_or(0, |r| r.1.orders),
        runs.len(),
        esc(&about.policy),
        env!("CARGO_PKG_VERSION"),
        env!("FULFIL_GIT_REVISION"),
        esc(runs.first().map_or("base", |r| r.0.as_str()))
    );
    h.push_str("<dl>");
    for (i, (name, _)) in runs.iter().enumerate() {
        let text = about.descriptions.get(i).cloned().flatten();
        let text = text.unwrap_or_else(|| {
            if i == 0 {
                "the network as loaded".to_owned()
            } else {
                "(no description)".to_owned()
            }
        });
        let _ = write!(h, "<dt><b>{}</b></dt><dd>{}</dd>", esc(name), esc(&text));
    }
    h.push_str("</dl>\n");
}

/// A key figure: label, value, digits, whether lower is better.
type KpiRow = (&'static str, fn(&Kpis) -> f64, usize, bool);

/// The key figures of the report's table, in order.
fn kpi_rows() -> [KpiRow; 24] {
    [
        ("total cost", |k| k.cost.total, 2, true),
        ("shipping", |k| k.cost.shipping, 2, true),
        ("handling", |k| k.cost.handling, 2, true),
        ("split penalty", |k| k.cost.split, 2, true),
        ("backorder penalty", |k| k.cost.backorder, 2, true),
        ("lateness", |k| k.cost.late.unwrap_or(0.0), 2, true),
        (
            "on time % (of orders with deliver_by)",
            |k| 100.0 * k.time.on_time_rate,
            2,
            false,
        ),
        (
            "orders with deliver_by",
            |k| k.time.with_deliver_by as f64,
            0,
            false,
        ),
        ("late orders", |k| k.time.late_orders as f64, 0, true),
        ("late days", |k| k.time.late_days as f64, 0, true),
        ("mean promise days", |k| k.time.mean_promise_days, 2, true),
        (
            "p90 promise days",
            |k| f64::from(k.time.p90_promise_days),
            0,
            true,
        ),
        ("cost per order", |k| k.cost_per_order.total, 4, true),
        ("shipments per order", |k| k.shipments_per_order, 4, true),
        ("split orders %", |k| 100.0 * k.split_share, 2, true),
        ("backordered units", |k| k.units_backordered as f64, 0, true),
        ("fill rate %", |k| 100.0 * k.fill_rate, 3, false),
        ("mean distance km", |k| k.mean_distance_km, 1, true),
        (
            "units from stores",
            |k| k.units_from_stores as f64,
            0,
            false,
        ),
        ("nodes at capacity", |k| k.nodes_at_capacity as f64, 0, true),
        (
            "store rejections",
            |k| k.exceptions.rejections as f64,
            0,
            true,
        ),
        ("re-routes", |k| k.exceptions.reroutes as f64, 0, true),
        ("re-route extra cost", |k| k.exceptions.extra_cost, 2, true),
        (
            "orders needing attention",
            |k| k.exceptions.attention_orders as f64,
            0,
            true,
        ),
    ]
}

fn kpi_table(h: &mut String, runs: &[(String, Kpis)]) {
    let rows = kpi_rows();
    h.push_str("<h2>Key figures</h2>\n<table><tr><th></th>");
    for (name, _) in runs {
        let _ = write!(h, "<th>{}</th>", esc(name));
    }
    h.push_str("</tr>\n");
    let base = &runs[0].1;
    for (label, f, digits, lower_is_better) in rows {
        let _ = write!(h, "<tr><td>{label}</td>");
        for (i, (_, k)) in runs.iter().enumerate() {
            let v = f(k);
            let b = f(base);
            if i == 0 || (v - b).abs() < 1e-12 {
                let _ = write!(h, "<td>{v:.digits$}</td>");
            } else {
                let better = (v < b) == lower_is_better;
                let pct = if b.abs() > 1e-12 {
                    format!(" ({:+.1}%)", 100.0 * (v - b) / b)
                } else {
                    String::new()
                };
                let _ = write!(
                    h,
                    "<td class=\"{}\">{v:.digits$}{pct}</td>",
                    if better { "down" } else { "up" }
                );
            }
        }
        h.push_str("</tr>\n");
    }
    // Promised transit days per service.
    let mut services: Vec<&String> = runs.iter().flat_map(|(_, k)| k.transit.keys()).collect();
    services.sort();
    services.dedup();
    for s in services {
        let _ = write!(
            h,
            "<tr><td>{} transit days (mean; within promise)</td>",
            esc(s)
        );
        for (_, k) in runs {
            match k.transit.get(s) {
                Some(t) => {
                    let _ = write!(
                        h,
                        "<td>{:.2}; {:.1}%</td>",
                        t.mean_days,
                        100.0 * t.within_promise
                    );
                }
                None => h.push_str("<td>–</td>"),
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn cost_bars(h: &mut String, runs: &[(String, Kpis)]) {
    let (w, row, left) = (760.0, 30.0, 170.0);
    let max = runs
        .iter()
        .map(|(_, k)| k.cost_per_order.total)
        .fold(0.0, f64::max)
        .max(1e-9);
    let height = row * runs.len() as f64 + 30.0;
    let _ = write!(
        h,
        "<svg width=\"{w}\" height=\"{height}\" viewBox=\"0 0 {w} {height}\" role=\"img\">"
    );
    for (i, (name, k)) in runs.iter().enumerate() {
        let y = i as f64 * row + 4.0;
        let _ = write!(
            h,
            "<text x=\"0\" y=\"{:.1}\" font-size=\"12\">{}</text>",
            y + 15.0,
            esc(name)
        );
        let c = &k.cost_per_order;
        let mut x = left;
        for ((part, fill), v) in PARTS.iter().zip([
            c.shipping,
            c.handling,
            c.split,
            c.backorder,
            c.late.unwrap_or(0.0),
        ]) {
            let bw = (w - left - 80.0) * v / max;
            let _ = write!(
                h,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bw:.1}\" height=\"20\" fill=\"{fill}\"><title>{part}: {v:.4}</title></rect>"
            );
            x += bw;
        }
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{:.2}</text>",
            x + 6.0,
            y + 15.0,
            c.total
        );
    }
    let _ = write!(
        h,
        "<g transform=\"translate({left},{:.1})\">",
        height - 12.0
    );
    for (i, (part, fill)) in PARTS.iter().enumerate() {
        let x = i as f64 * 110.0;
        let _ = write!(
            h,
            "<rect x=\"{x}\" y=\"-9\" width=\"10\" height=\"10\" fill=\"{fill}\"/><text x=\"{}\" y=\"0\" font-size=\"12\">{part}</text>",
            x + 14.0
        );
    }
    h.push_str("</g></svg>\n");
}

fn zone_histogram(h: &mut String, runs: &[(String, Kpis)]) {
    let mut zones: Vec<u32> = runs
        .iter()
        .flat_map(|(_, k)| k.zones.keys().copied())
        .collect();
    zones.sort_unstable();
    zones.dedup();
    if zones.is_empty() {
        h.push_str("<p>No parcels.</p>\n");
        return;
    }
    let (w, ht, bottom) = (760.0, 220.0, 24.0);
    let share = |k: &Kpis, z: u32| {
        let total: u64 = k.zones.values().sum();
        k.zones.get(&z).copied().unwrap_or(0) as f64 / total.max(1) as f64
    };
    let max = runs
        .iter()
        .flat_map(|(_, k)| zones.iter().map(move |&z| share(k, z)))
        .fold(0.0, f64::max)
        .max(1e-9);
    let group = (w - 40.0) / zones.len() as f64;
    let bar = (group - 8.0) / runs.len() as f64;
    let _ = write!(
        h,
        "<svg width=\"{w}\" height=\"{ht}\" viewBox=\"0 0 {w} {ht}\" role=\"img\">"
    );
    for (zi, &z) in zones.iter().enumerate() {
        let gx = 30.0 + zi as f64 * group;
        for (ri, (name, k)) in runs.iter().enumerate() {
            let v = share(k, z);
            let bh = (ht - bottom - 10.0) * v / max;
            let _ = write!(
                h,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{}: zone {z}, {:.1}% of parcels</title></rect>",
                gx + ri as f64 * bar,
                ht - bottom - bh,
                bar.max(1.0),
                colour(ri),
                esc(name),
                100.0 * v
            );
        }
        let _ = write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">zone {z}</text>",
            gx,
            ht - 6.0
        );
    }
    h.push_str("</svg>\n");
    legend(h, runs);
}
