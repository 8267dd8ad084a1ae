//! The report's breakdowns: pickups at stores a variant closed (and the rule they followed),
//! backorders by cause, and orders by the service they asked for — each against the base, so a
//! headline change in cost can be traced to what caused it.

use std::fmt::Write;

use super::causes::{CAUSES, PickupRule};
use super::marks::esc;
use super::replay::Kpis;

/// Every breakdown section.
pub fn sections(h: &mut String, runs: &[(String, Kpis)]) {
    closed_pickups(h, runs);
    causes(h, runs);
    services(h, runs);
}

/// What the rule did with each variant's pickups at closed stores, said in words.
pub fn pickup_note(k: &Kpis) -> Option<String> {
    let c = &k.closed_pickups;
    if c.orders == 0 {
        return None;
    }
    let what = match c.rule {
        PickupRule::Backorder => "were backordered (rule: backorder)".to_owned(),
        PickupRule::NearestOpenStore => format!(
            "were moved to the nearest open store (rule: nearest_open_store): {} moved",
            c.redirected
        ),
        PickupRule::Ship => format!(
            "were shipped by ground to the store's address instead (rule: ship): {} shipped",
            c.redirected
        ),
    };
    Some(format!(
        "{} pickup orders ({} units) were for stores this variant closes; they {what}.",
        c.orders, c.units
    ))
}

fn closed_pickups(h: &mut String, runs: &[(String, Kpis)]) {
    for (name, k) in runs {
        if let Some(note) = pickup_note(k) {
            let _ = writeln!(
                h,
                "<p class=\"note\"><b>{}</b>: {}</p>",
                esc(name),
                esc(&note)
            );
        }
    }
}

/// A value and its change from the base's.
fn cell(v: f64, base: f64, digits: usize, first: bool) -> String {
    if first || (v - base).abs() < 1e-9 {
        return format!("<td>{v:.digits$}</td>");
    }
    let class = if v > base { "up" } else { "down" };
    format!(
        "<td class=\"{class}\">{v:.digits$} ({:+.digits$})</td>",
        v - base
    )
}

fn causes(h: &mut String, runs: &[(String, Kpis)]) {
    let used: Vec<&str> = CAUSES
        .into_iter()
        .filter(|c| {
            runs.iter()
                .any(|(_, k)| k.backorder_causes.contains_key(*c))
        })
        .collect();
    h.push_str("<h2>Backorders by cause</h2>\n");
    if used.is_empty() {
        h.push_str("<p>No unit was backordered.</p>\n");
        return;
    }
    h.push_str(
        "<p>Units backordered and their backorder cost, by why (see docs/whatif-format.md): \
         against the base, a variant's change in backorder cost is the sum of these rows.</p>\n\
         <table class=\"causes\"><tr><th>cause</th>",
    );
    for (name, _) in runs {
        let _ = write!(h, "<th>{} units</th><th>cost</th>", esc(name));
    }
    h.push_str("</tr>\n");
    let base = &runs[0].1;
    for cause in used {
        let _ = write!(h, "<tr><td>{cause}</td>");
        let b = base
            .backorder_causes
            .get(cause)
            .copied()
            .unwrap_or_default();
        for (i, (_, k)) in runs.iter().enumerate() {
            let t = k.backorder_causes.get(cause).copied().unwrap_or_default();
            h.push_str(&cell(t.units as f64, b.units as f64, 0, i == 0));
            h.push_str(&cell(t.cost, b.cost, 2, i == 0));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn services(h: &mut String, runs: &[(String, Kpis)]) {
    let mut names: Vec<&String> = runs.iter().flat_map(|(_, k)| k.by_service.keys()).collect();
    names.sort();
    names.dedup();
    h.push_str(
        "<h2>Orders by service</h2>\n<p>Orders, cost and backordered units of each service the \
         orders asked for (a rule may change it: pickups shipped count as ground).</p>\n\
         <table class=\"services\"><tr><th>service</th>",
    );
    for (name, _) in runs {
        let _ = write!(
            h,
            "<th>{n} orders</th><th>cost</th><th>backordered</th>",
            n = esc(name)
        );
    }
    h.push_str("</tr>\n");
    let base = &runs[0].1;
    for s in names {
        let _ = write!(h, "<tr><td>{}</td>", esc(s));
        let b = base.by_service.get(s).cloned().unwrap_or_default();
        for (i, (_, k)) in runs.iter().enumerate() {
            let t = k.by_service.get(s).cloned().unwrap_or_default();
            h.push_str(&cell(t.orders as f64, b.orders as f64, 0, i == 0));
            h.push_str(&cell(t.cost, b.cost, 2, i == 0));
            h.push_str(&cell(
                t.units_backordered as f64,
                b.units_backordered as f64,
                0,
                i == 0,
            ));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}
