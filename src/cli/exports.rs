//! `fulfil simulate`'s CSV exports: the KPIs of every variant (one row each), and the orders a
//! variant decided differently from the base (node, cost or promise). Money in cents.

use std::collections::HashMap;
use std::io::Write;

use anyhow::Context;
use fulfil::model::Decision;
use fulfil::simulate::{CAUSES, Replayed};

fn cents(v: f64) -> String {
    format!("{:.2}", fulfil::model::round_cents(v))
}

/// The KPIs of every variant as CSV (one row each; backordered units per cause at the end).
pub fn kpis_csv(out: impl Write, runs: &[Replayed]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<String> = [
        "variant",
        "orders",
        "cost",
        "shipping",
        "handling",
        "split",
        "backorder",
        "late",
        "cost_per_order",
        "shipments_per_order",
        "split_share",
        "units_ordered",
        "units_shipped",
        "units_backordered",
        "fill_rate",
        "mean_distance_km",
        "on_time_rate",
        "mean_promise_days",
        "late_orders",
        "nodes_at_capacity",
        "store_rejections",
        "reroutes",
        "pickup_rule",
        "closed_store_pickups",
        "pickups_redirected",
    ]
    .map(str::to_owned)
    .to_vec();
    header.extend(CAUSES.iter().map(|c| format!("backordered_{c}")));
    w.write_record(&header)?;
    for Replayed { name, kpis: k, .. } in runs {
        let c = &k.cost;
        let mut row = vec![
            name.clone(),
            k.orders.to_string(),
            cents(c.total),
            cents(c.shipping),
            cents(c.handling),
            cents(c.split),
            cents(c.backorder),
            cents(c.late.unwrap_or(0.0)),
            format!("{:.4}", k.cost_per_order.total),
            format!("{:.4}", k.shipments_per_order),
            format!("{:.4}", k.split_share),
            k.units_ordered.to_string(),
            k.units_shipped.to_string(),
            k.units_backordered.to_string(),
            format!("{:.4}", k.fill_rate),
            format!("{:.1}", k.mean_distance_km),
            format!("{:.4}", k.time.on_time_rate),
            format!("{:.3}", k.time.mean_promise_days),
            k.time.late_orders.to_string(),
            k.nodes_at_capacity.to_string(),
            k.exceptions.rejections.to_string(),
            k.exceptions.reroutes.to_string(),
            serde_json::to_value(k.closed_pickups.rule)?
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            k.closed_pickups.orders.to_string(),
            k.closed_pickups.redirected.to_string(),
        ];
        row.extend(CAUSES.iter().map(|c| {
            k.backorder_causes
                .get(*c)
                .map_or(0, |t| t.units)
                .to_string()
        }));
        w.write_record(&row)?;
    }
    w.flush().context("writing the KPIs CSV")?;
    Ok(())
}

/// Nodes a decision ships from, `;`-joined in shipment order.
fn nodes(d: &Decision) -> String {
    d.shipments
        .iter()
        .map(|s| s.node_id.as_str())
        .collect::<Vec<_>>()
        .join(";")
}

fn promise(d: &Decision) -> String {
    d.promise_date.clone().flatten().unwrap_or_default()
}

/// Every order a variant decided differently from the base: which nodes, cost and promise in
/// each, and what changed. Returns the rows written.
pub fn diff_csv(out: impl Write, runs: &[Replayed]) -> anyhow::Result<u64> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "variant",
        "order_id",
        "changed",
        "base_nodes",
        "variant_nodes",
        "base_cost",
        "variant_cost",
        "cost_change",
        "base_promise",
        "variant_promise",
        "base_backordered_units",
        "variant_backordered_units",
    ])?;
    let Some(first) = runs.first() else {
        return Ok(0);
    };
    let base: HashMap<&str, &Decision> = first
        .decisions
        .iter()
        .map(|d| (d.order_id.as_str(), d))
        .collect();
    let mut rows = 0;
    for Replayed {
        name, decisions, ..
    } in &runs[1..]
    {
        for d in decisions {
            let Some(b) = base.get(d.order_id.as_str()) else {
                continue;
            };
            let mut changed = Vec::new();
            if nodes(b) != nodes(d) {
                changed.push("node");
            }
            if cents(b.cost.total) != cents(d.cost.total) {
                changed.push("cost");
            }
            if promise(b) != promise(d) {
                changed.push("promise");
            }
            if b.backordered_units() != d.backordered_units() {
                changed.push("backorder");
            }
            if changed.is_empty() {
                continue;
            }
            w.write_record([
                name.as_str(),
                &d.order_id,
                &changed.join(";"),
                &nodes(b),
                &nodes(d),
                &cents(b.cost.total),
                &cents(d.cost.total),
                &cents(d.cost.total - b.cost.total),
                &promise(b),
                &promise(d),
                &b.backordered_units().to_string(),
                &d.backordered_units().to_string(),
            ])?;
            rows += 1;
        }
    }
    w.flush().context("writing the differences CSV")?;
    Ok(rows)
}
