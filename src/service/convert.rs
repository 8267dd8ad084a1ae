//! Conversions between protobuf messages and core types, with validation that names the field.

use chrono::DateTime;
use tonic::Status;

use super::ids::{self, clip};
use super::pb;
use crate::model::dates::{format_day, parse_day};
use crate::model::{
    CostBreakdown, Cutoff, Decision, DecisionLine, DemandPoint, Destination, Node, NodeKind, Order,
    OrderLine, Schedule, Service, Shipment,
};
use crate::scenario::{Interner, Receipt};
use crate::snapshot::Snapshot;

/// Most lines one order may have.
pub const MAX_LINES: usize = 1000;

fn invalid(field: impl std::fmt::Display, why: impl std::fmt::Display) -> Status {
    Status::invalid_argument(format!("{field}: {why}"))
}

pub fn service_of(s: i32) -> Result<Service, Status> {
    match pb::Service::try_from(s) {
        Ok(pb::Service::Unspecified | pb::Service::Ground) => Ok(Service::Ground),
        Ok(pb::Service::TwoDay) => Ok(Service::TwoDay),
        Ok(pb::Service::NextDay) => Ok(Service::NextDay),
        Ok(pb::Service::SameDay) => Ok(Service::SameDay),
        Ok(pb::Service::Pickup) => Ok(Service::Pickup),
        Ok(pb::Service::Auto) => Ok(Service::Auto),
        Err(_) => Err(invalid("order.service", format!("unknown service {s}"))),
    }
}

/// An RFC 3339 timestamp as Unix seconds; `None` when empty.
pub fn instant_of(created_at: &str, field: impl std::fmt::Display) -> Result<Option<i64>, Status> {
    if created_at.is_empty() {
        return Ok(None);
    }
    let t = DateTime::parse_from_rfc3339(created_at)
        .map_err(|e| invalid(field, format!("not an RFC 3339 timestamp ({e})")))?;
    Ok(Some(t.timestamp()))
}

/// An order's `deliver_by` and its check against `created_at` and the service.
fn deliver_by_of(
    o: &pb::Order,
    created: Option<i64>,
    service: Service,
    field: impl std::fmt::Display,
) -> Result<Option<crate::model::Day>, Status> {
    let by = if o.deliver_by.is_empty() {
        None
    } else {
        Some(parse_day(&o.deliver_by).ok_or_else(|| {
            invalid(
                format_args!("{field}.deliver_by"),
                format!("expected a date YYYY-MM-DD, found `{}`", o.deliver_by),
            )
        })?)
    };
    if created.is_none() {
        if by.is_some() {
            return Err(invalid(
                format_args!("{field}.created_at"),
                "required when deliver_by is given",
            ));
        }
        if service == Service::Auto {
            return Err(invalid(
                format_args!("{field}.created_at"),
                "required for SERVICE_AUTO",
            ));
        }
    }
    Ok(by)
}

pub fn coordinate(
    lat: Option<f64>,
    lon: Option<f64>,
    field: impl std::fmt::Display,
) -> Result<(f64, f64), Status> {
    let lat = lat.ok_or_else(|| invalid(format_args!("{field}.lat"), "required unless pickup"))?;
    let lon = lon.ok_or_else(|| invalid(format_args!("{field}.lon"), "required unless pickup"))?;
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(invalid(
            format_args!("{field}.lat"),
            format!("{lat} is not in [-90, 90]"),
        ));
    }
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(invalid(
            format_args!("{field}.lon"),
            format!("{lon} is not in [-180, 180]"),
        ));
    }
    Ok((lat, lon))
}

pub fn lines_of(
    lines: &[pb::Line],
    snapshot: &Snapshot,
    field: impl std::fmt::Display,
    groups: &mut Vec<String>,
) -> Result<Vec<OrderLine>, Status> {
    if lines.is_empty() {
        return Err(invalid(field, "an order needs at least one line"));
    }
    if lines.len() > MAX_LINES {
        return Err(invalid(
            field,
            format!("{} lines; at most {MAX_LINES} are accepted", lines.len()),
        ));
    }
    let mut out: Vec<OrderLine> = Vec::with_capacity(lines.len());
    let mut index = rustc_hash::FxHashMap::default();
    for (i, l) in lines.iter().enumerate() {
        ids::check(format_args!("{field}[{i}].sku"), &l.sku)?;
        ids::check_optional(format_args!("{field}[{i}].group"), &l.group)?;
        if l.qty == 0 {
            return Err(invalid(
                format_args!("{field}[{i}].qty"),
                "must be at least 1",
            ));
        }
        let sku = snapshot.sku_id(&l.sku).ok_or_else(|| {
            Status::not_found(format!("{field}[{i}].sku: unknown SKU `{}`", clip(&l.sku)))
        })?;
        if !(l.unit_price.is_finite() && l.unit_price >= 0.0) {
            return Err(invalid(
                format_args!("{field}[{i}].unit_price"),
                format!("expected a finite number ≥ 0, found {}", l.unit_price),
            ));
        }
        let group = crate::model::group_index(groups, &l.group)
            .map_err(|e| invalid(format_args!("{field}[{i}].group"), e.to_string()))?;
        let line = OrderLine {
            sku,
            qty: l.qty,
            group,
            unit_price: l.unit_price,
        };
        let seen = if lines.len() > SCAN_LINES {
            index.get(&sku).map(|&j| &mut out[j])
        } else {
            out.iter_mut().find(|o| o.sku == sku)
        };
        match seen {
            Some(o) if o.group != group || o.unit_price != l.unit_price => {
                return Err(invalid(
                    format_args!("{field}[{i}]"),
                    format!(
                        "SKU `{}` is repeated with another group or unit_price",
                        clip(&l.sku)
                    ),
                ));
            }
            Some(o) => {
                o.qty = o
                    .qty
                    .checked_add(l.qty)
                    .ok_or_else(|| invalid(format_args!("{field}[{i}].qty"), "total overflows"))?;
            }
            None => {
                if lines.len() > SCAN_LINES {
                    index.insert(sku, out.len());
                }
                out.push(line);
            }
        }
    }
    Ok(out)
}

/// Up to this many lines, a repeated SKU is found by scanning the lines so far; above, by a
/// map (a 1,000-line order would otherwise cost half a million comparisons).
const SCAN_LINES: usize = 16;

/// The nodes an order excludes, resolved.
fn excluded_of(
    o: &pb::Order,
    snapshot: &Snapshot,
    field: impl std::fmt::Display,
) -> Result<Vec<crate::model::NodeId>, Status> {
    let mut out = Vec::with_capacity(o.exclude_nodes.len());
    ids::check_all(format_args!("{field}.exclude_nodes"), &o.exclude_nodes)?;
    for (i, id) in o.exclude_nodes.iter().enumerate() {
        let node = snapshot.node_id(id).ok_or_else(|| {
            Status::not_found(format!(
                "{field}.exclude_nodes[{i}]: unknown node `{}`",
                clip(id)
            ))
        })?;
        if !out.contains(&node) {
            out.push(node);
        }
    }
    Ok(out)
}

/// A protobuf order, checked and resolved against `snapshot`.
/// The most lines one order may have.
pub const MAX_LINES_PER_ORDER: usize = 1_000;
/// The most orders one RouteBatch or Reoptimize call may carry.
pub const MAX_ORDERS_PER_CALL: usize = 100_000;

/// INVALID_ARGUMENT unless `orders` is within [`MAX_ORDERS_PER_CALL`].
pub fn check_order_count(orders: usize) -> Result<(), Status> {
    if orders > MAX_ORDERS_PER_CALL {
        return Err(Status::invalid_argument(format!(
            "orders: {orders} orders, above the limit of {MAX_ORDERS_PER_CALL} per call"
        )));
    }
    Ok(())
}

/// A forecast row of a request, checked and resolved against `base`.
pub fn demand_point_of(
    p: &pb::DemandPoint,
    base: &Snapshot,
    field: &str,
) -> Result<DemandPoint, Status> {
    let (lat, lon) = coordinate(Some(p.lat), Some(p.lon), field)?;
    ids::check(format_args!("{field}.sku"), &p.sku)?;
    let sku = base
        .sku_id(&p.sku)
        .ok_or_else(|| Status::not_found(format!("{field}.sku: unknown SKU `{}`", clip(&p.sku))))?;
    if !(p.units_per_day.is_finite() && p.units_per_day >= 0.0) {
        return Err(Status::invalid_argument(format!(
            "{field}.units_per_day: expected a finite number ≥ 0, found {}",
            p.units_per_day
        )));
    }
    Ok(DemandPoint {
        lat,
        lon,
        sku,
        units_per_day: p.units_per_day,
    })
}

/// A receipt of a request, checked and resolved against `base`.
pub fn receipt_of(r: &pb::Receipt, base: &Snapshot, field: &str) -> Result<Receipt, Status> {
    ids::check(format_args!("{field}.node_id"), &r.node_id)?;
    ids::check(format_args!("{field}.sku"), &r.sku)?;
    let node = base.node_id(&r.node_id).ok_or_else(|| {
        Status::not_found(format!(
            "{field}.node_id: unknown node `{}`",
            clip(&r.node_id)
        ))
    })?;
    let sku = base
        .sku_id(&r.sku)
        .ok_or_else(|| Status::not_found(format!("{field}.sku: unknown SKU `{}`", clip(&r.sku))))?;
    if r.qty == 0 {
        return Err(Status::invalid_argument(format!(
            "{field}.qty: must be at least 1"
        )));
    }
    let at_field = format!("{field}.at");
    if r.at.is_empty() {
        return Err(Status::invalid_argument(format!(
            "{at_field}: an RFC 3339 timestamp is required"
        )));
    }
    let at = DateTime::parse_from_rfc3339(&r.at).map_err(|e| {
        Status::invalid_argument(format!("{at_field}: not an RFC 3339 timestamp ({e})"))
    })?;
    Ok(Receipt {
        node,
        sku,
        qty: r.qty,
        at_ms: at.timestamp_millis(),
    })
}

pub fn order_of(
    o: &pb::Order,
    snapshot: &Snapshot,
    field: impl std::fmt::Display,
) -> Result<Order, Status> {
    ids::check(format_args!("{field}.order_id"), &o.order_id)?;
    ids::check_optional(format_args!("{field}.pickup_node"), &o.pickup_node)?;
    ids::check_optional(format_args!("{field}.channel"), &o.channel)?;
    if o.lines.len() > MAX_LINES_PER_ORDER {
        return Err(invalid(
            format_args!("{field}.lines"),
            format!(
                "{} lines, above the limit of {MAX_LINES_PER_ORDER} per order",
                o.lines.len()
            ),
        ));
    }
    let service = service_of(o.service)?;
    let destination = if service == Service::Pickup {
        if o.pickup_node.is_empty() {
            return Err(invalid(
                format_args!("{field}.pickup_node"),
                "required for a pickup order",
            ));
        }
        Destination::Pickup(snapshot.node_id(&o.pickup_node).ok_or_else(|| {
            Status::not_found(format!(
                "{field}.pickup_node: unknown node `{}`",
                clip(&o.pickup_node)
            ))
        })?)
    } else {
        if !o.pickup_node.is_empty() {
            return Err(invalid(
                format_args!("{field}.pickup_node"),
                "only pickup orders name a pickup node",
            ));
        }
        let (lat, lon) = coordinate(o.lat, o.lon, &field)?;
        Destination::Address { lat, lon }
    };
    let created = instant_of(&o.created_at, format_args!("{field}.created_at"))?;
    let mut groups = Vec::new();
    let lines = lines_of(
        &o.lines,
        snapshot,
        format_args!("{field}.lines"),
        &mut groups,
    )?;
    Ok(Order {
        id: o.order_id.clone(),
        created_at: (!o.created_at.is_empty()).then(|| o.created_at.clone()),
        day: created.map(|t| t.div_euclid(86_400) as i32),
        created,
        deliver_by: deliver_by_of(o, created, service, &field)?,
        service,
        destination,
        lines,
        groups,
        channel: (!o.channel.is_empty()).then(|| o.channel.clone()),
        exclude: excluded_of(o, snapshot, &field)?,
    })
}

/// A decision as the rpcs answer it, with whether the search proved it optimal and, if not, its
/// proven lower bound on the order's optimum (rounded down to the cent).
pub fn decision_pb(d: &Decision, exact: bool, lower_bound: Option<f64>) -> pb::Decision {
    decision_into_pb(d.clone(), exact, lower_bound)
}

/// As [`decision_pb`], taking the decision (its strings move into the answer).
pub fn decision_into_pb(d: Decision, exact: bool, lower_bound: Option<f64>) -> pb::Decision {
    let line = |l: crate::model::DecisionLine| pb::Line {
        sku: l.sku,
        qty: l.qty,
        ..Default::default()
    };
    pb::Decision {
        order_id: d.order_id,
        shipments: d
            .shipments
            .into_iter()
            .map(|s| pb::Shipment {
                node_id: s.node_id,
                service: s.service,
                carrier: s.carrier,
                zone: s.zone,
                distance_km: s.distance_km,
                billable_kg: s.billable_kg,
                lines: s.lines.into_iter().map(line).collect(),
                shipping_cost: s.shipping_cost,
                handling_cost: s.handling_cost,
                transit_days: s.transit_days.unwrap_or(0),
                dispatch_date: s.dispatch_date.flatten(),
                delivery_date: s.delivery_date.flatten(),
                ready_date: s.ready_date.flatten(),
                inbound_units: s.inbound_units,
            })
            .collect(),
        backordered: d.backordered.into_iter().map(line).collect(),
        cost: Some(pb::Cost {
            shipping: d.cost.shipping,
            handling: d.cost.handling,
            split: d.cost.split,
            backorder: d.cost.backorder,
            total: d.cost.total,
            late: d.cost.late.unwrap_or(0.0),
        }),
        exact,
        lower_bound: lower_bound.filter(|_| !exact).map(crate::model::cents_down),
        promise_date: d.promise_date.flatten(),
        late_days: d.late_days.unwrap_or(0),
        opportunity_cost: d.opportunity_cost,
    }
}

pub fn node_of(n: &pb::Node, i: usize) -> Result<Node, Status> {
    ids::check(format_args!("nodes[{i}].node_id"), &n.node_id)?;
    ids::check_all(format_args!("nodes[{i}].channels"), &n.channels)?;
    let kind: NodeKind = n.kind.parse().map_err(|()| {
        invalid(
            format_args!("nodes[{i}].kind"),
            format!("expected dc, store or dropship, found `{}`", clip(&n.kind)),
        )
    })?;
    Ok(Node {
        id: n.node_id.clone(),
        kind,
        lat: n.lat,
        lon: n.lon,
        ships: n.ships,
        pickup: n.pickup,
        capacity_units: n.capacity_units,
        cost_per_shipment: n.cost_per_shipment,
        cost_per_unit: n.cost_per_unit,
        enabled: n.enabled,
        schedule: schedule_of(n, i)?,
        channels: channels_of(&n.channels, i)?,
    })
}

/// A node's channel list: names without `;` (the text it is recorded as), duplicates dropped.
fn channels_of(channels: &[String], i: usize) -> Result<Vec<String>, Status> {
    let mut out: Vec<String> = Vec::with_capacity(channels.len());
    for (j, c) in channels.iter().enumerate() {
        let c = c.trim();
        if c.is_empty() || c.contains(';') || c.contains(',') || c.contains('"') {
            return Err(invalid(
                format_args!("nodes[{i}].channels[{j}]"),
                format!(
                    "expected a channel name without `;`, `,` or quotes, found `{}`",
                    clip(c)
                ),
            ));
        }
        if !out.iter().any(|o| o == c) {
            out.push(c.to_owned());
        }
    }
    Ok(out)
}

/// A node's version 2 schedule fields (the calendar id is checked when the snapshot is built).
fn schedule_of(n: &pb::Node, i: usize) -> Result<Schedule, Status> {
    let timezone = if n.timezone.is_empty() {
        chrono_tz::Tz::UTC
    } else {
        n.timezone.parse().map_err(|_| {
            invalid(
                format_args!("nodes[{i}].timezone"),
                format!(
                    "unknown time zone `{}` (expected an IANA name such as America/Chicago)",
                    n.timezone
                ),
            )
        })?
    };
    let cutoff = if n.cutoff.is_empty() {
        Cutoff::default()
    } else {
        Cutoff::parse(&n.cutoff).ok_or_else(|| {
            invalid(
                format_args!("nodes[{i}].cutoff"),
                format!(
                    "expected a local time HH:MM from 00:00 to 24:00, found `{}`",
                    n.cutoff
                ),
            )
        })?
    };
    Ok(Schedule {
        timezone,
        cutoff,
        processing_days: n.processing_days,
        calendar: (!n.calendar.is_empty()).then(|| n.calendar.clone()),
    })
}

// The inverses, for clients of the service (`fulfil route --server`, `fulfil loadgen`).

/// A file order (names interned in `names`) as a protobuf order.
pub fn order_pb(o: &Order, names: &Interner) -> pb::Order {
    let (lat, lon, pickup_node) = match o.destination {
        Destination::Address { lat, lon } => (Some(lat), Some(lon), String::new()),
        Destination::Pickup(n) => (None, None, names.nodes[n.index()].clone()),
    };
    pb::Order {
        order_id: o.id.clone(),
        created_at: o.created_at.clone().unwrap_or_default(),
        lat,
        lon,
        service: match o.service {
            Service::Ground => pb::Service::Ground,
            Service::TwoDay => pb::Service::TwoDay,
            Service::NextDay => pb::Service::NextDay,
            Service::SameDay => pb::Service::SameDay,
            Service::Pickup => pb::Service::Pickup,
            Service::Auto => pb::Service::Auto,
        } as i32,
        pickup_node,
        deliver_by: o.deliver_by.map(format_day).unwrap_or_default(),
        lines: o
            .lines
            .iter()
            .map(|l| pb::Line {
                sku: names.skus[l.sku.index()].clone(),
                qty: l.qty,
                group: l
                    .group
                    .map(|g| o.groups[usize::from(g)].clone())
                    .unwrap_or_default(),
                unit_price: l.unit_price,
            })
            .collect(),
        channel: o.channel.clone().unwrap_or_default(),
        exclude_nodes: o
            .exclude
            .iter()
            .map(|n| names.nodes[n.index()].clone())
            .collect(),
    }
}

/// A protobuf decision in the JSON shape of the scenario format; with `dated`, the version 2
/// date fields are present.
pub fn decision_of(d: &pb::Decision, dated: bool) -> Decision {
    // Parcels carry dispatch and delivery dates, pickups a ready date.
    let pickup = |s: &pb::Shipment| s.service == Service::Pickup.as_str();
    let line = |l: &pb::Line| DecisionLine {
        sku: l.sku.clone(),
        qty: l.qty,
    };
    let c = d.cost.unwrap_or_default();
    Decision {
        order_id: d.order_id.clone(),
        shipments: d
            .shipments
            .iter()
            .map(|s| Shipment {
                node_id: s.node_id.clone(),
                service: s.service.clone(),
                carrier: s.carrier.clone(),
                zone: s.zone,
                distance_km: s.distance_km,
                billable_kg: s.billable_kg,
                lines: s.lines.iter().map(line).collect(),
                shipping_cost: s.shipping_cost,
                handling_cost: s.handling_cost,
                transit_days: Some(s.transit_days),
                dispatch_date: (dated && !pickup(s)).then(|| s.dispatch_date.clone()),
                delivery_date: (dated && !pickup(s)).then(|| s.delivery_date.clone()),
                ready_date: (dated && pickup(s)).then(|| s.ready_date.clone()),
                inbound_units: s.inbound_units,
            })
            .collect(),
        backordered: d.backordered.iter().map(line).collect(),
        cost: CostBreakdown {
            shipping: c.shipping,
            handling: c.handling,
            split: c.split,
            backorder: c.backorder,
            late: dated.then_some(c.late),
            total: c.total,
        },
        promise_date: dated.then(|| d.promise_date.clone()),
        late_days: dated.then_some(d.late_days),
        opportunity_cost: d.opportunity_cost,
    }
}
