//! What-if changes to a network, one named variant per TOML file, applied to [`NetworkData`].
//! `docs/whatif-format.md` documents every table with a worked example on the demo network
//! (`data/whatif/worked-example.toml`); in short:
//!
//! ```toml
//! name = "close NYC stores, rates +6%"
//! description = "what a planner reads under the name in the report"
//!
//! [[close]]                  # disable nodes: every selector given must match
//! kind = "store"             # ids = [...], kind, state = "NY" (the state of the nearest bundled
//! within = { lat = 40.71, lon = -74.01, km = 50 }   # city within 150 km), within a radius
//!
//! [[reopen]]                 # enable nodes (same selectors)
//! ids = ["ST-0007"]
//!
//! [[capacity]]               # change daily capacity: scale, units, or unlimited = true
//! kind = "dc"
//! scale = 0.8
//!
//! [[add_node]]               # a new node, with stock copied (and scaled) from another
//! id = "DC-RENO"
//! kind = "dc"
//! lat = 39.53
//! lon = -119.81
//! copy_stock_from = "DC-01-MEM"
//! stock_scale = 0.5
//! capacity_units = 4000
//! cost_per_shipment = 2.0
//! cost_per_unit = 0.25
//!
//! [[rates]]                  # scale (and/or add to) base and per-kg prices, or replace them
//!                            # with `base = 9.5` / `per_kg = 0.4`
//! carrier = "ParcelA"        # optional: every carrier
//! service = "ground"         # optional: every service
//! scale = 1.06
//!
//! [[disable_carrier]]
//! carrier = "ParcelB"
//!
//! [[schedule]]               # when nodes work (same selectors): a new cut-off, processing
//! kind = "store"             # days, and weekdays they close on
//! cutoff = "14:00"
//! processing_days = 1
//! close_weekdays = ["sun"]
//!
//! [pickup]                   # pickups at a store this variant closes: backorder (default),
//! when_closed = "nearest_open_store"  # nearest_open_store, or ship (to the store's address)
//!
//! [[reject]]                 # stores reject 4% of their shipments (re-routed)
//! kind = "store"
//! rate = 0.04
//!
//! [policy]                   # any of the policy keys
//! ship_from_store = false
//! late_penalty_per_day = 20
//! ```
//!
//! Every reference must resolve: an unknown node, carrier or service, a selector that matches
//! nothing, or a bad value is an error naming the file and line, and nothing is applied.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::model::geo::distance_km;
use crate::model::{Node, NodeId, NodeKind, Service};
use crate::snapshot::{InventoryRow, NetworkData};

/// A change file that could not be read or applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}: {message}", file.display(), at_line(*line))]
pub struct ChangeError {
    pub file: PathBuf,
    /// 1-based; 0 when the error is about the whole file (it cannot be read).
    pub line: usize,
    pub message: String,
}

/// `:LINE`, or nothing for line 0 (no "line 0" in messages).
fn at_line(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!(":{line}")
    }
}

/// A named set of changes: one variant of the network.
#[derive(Debug, Clone)]
pub struct Variant {
    pub name: String,
    file: PathBuf,
    text: String,
    spec: Spec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Spec {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    close: Vec<Spanned<NodeChange>>,
    #[serde(default)]
    reopen: Vec<Spanned<NodeChange>>,
    #[serde(default)]
    capacity: Vec<Spanned<NodeChange>>,
    #[serde(default)]
    add_node: Vec<Spanned<AddNode>>,
    #[serde(default)]
    rates: Vec<Spanned<RateChange>>,
    #[serde(default)]
    disable_carrier: Vec<Spanned<DisableCarrier>>,
    #[serde(default)]
    schedule: Vec<Spanned<NodeChange>>,
    #[serde(default)]
    policy: Option<PolicyChange>,
    #[serde(default)]
    reject: Vec<Spanned<RejectRate>>,
    #[serde(default)]
    pickup: Option<Spanned<PickupChange>>,
}

/// The `[pickup]` table: what becomes of pickup orders at a store the variant closes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PickupChange {
    when_closed: String,
}

/// A `[[reject]]` table: nodes of `kind` reject `rate` of the shipments sent to them (each
/// re-routed as a store system's rejection is), drawn from `seed`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RejectRate {
    kind: Spanned<String>,
    rate: f64,
    #[serde(default)]
    seed: u64,
}

/// A `[[close]]`, `[[reopen]]`, `[[capacity]]` or `[[schedule]]` table: which nodes (every
/// selector given must match); for capacity, how it changes (exactly one of `scale`, `units`,
/// `unlimited`); for a schedule, what changes in when they work.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeChange {
    #[serde(default)]
    ids: Vec<Spanned<String>>,
    #[serde(default)]
    kind: Option<Spanned<String>>,
    #[serde(default)]
    state: Option<Spanned<String>>,
    #[serde(default)]
    within: Option<Circle>,
    #[serde(default)]
    scale: Option<f64>,
    #[serde(default)]
    units: Option<u32>,
    #[serde(default)]
    unlimited: bool,
    #[serde(default)]
    cutoff: Option<Spanned<String>>,
    #[serde(default)]
    processing_days: Option<u32>,
    #[serde(default)]
    close_weekdays: Vec<Spanned<String>>,
}

impl NodeChange {
    /// How many schedule keys the table gives.
    fn schedule_ways(&self) -> usize {
        usize::from(self.cutoff.is_some())
            + usize::from(self.processing_days.is_some())
            + usize::from(!self.close_weekdays.is_empty())
    }

    /// How many ways of changing capacity the table gives.
    fn capacity_ways(&self) -> usize {
        usize::from(self.scale.is_some())
            + usize::from(self.units.is_some())
            + usize::from(self.unlimited)
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
struct Circle {
    lat: f64,
    lon: f64,
    km: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddNode {
    id: String,
    kind: Spanned<String>,
    lat: f64,
    lon: f64,
    #[serde(default)]
    copy_stock_from: Option<Spanned<String>>,
    #[serde(default = "one")]
    stock_scale: f64,
    #[serde(default)]
    capacity_units: Option<u32>,
    #[serde(default)]
    cost_per_shipment: f64,
    #[serde(default)]
    cost_per_unit: f64,
    #[serde(default)]
    ships: Option<bool>,
    #[serde(default)]
    pickup: Option<bool>,
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RateChange {
    #[serde(default)]
    carrier: Option<Spanned<String>>,
    #[serde(default)]
    service: Option<Spanned<String>>,
    #[serde(default = "one")]
    scale: f64,
    #[serde(default)]
    add: f64,
    /// Replace the base price (after which `scale` and `add` do not apply to it).
    #[serde(default)]
    base: Option<f64>,
    /// Replace the per-kg price.
    #[serde(default)]
    per_kg: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DisableCarrier {
    carrier: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyChange {
    #[serde(default)]
    ship_from_store: Option<bool>,
    #[serde(default)]
    split_penalty: Option<f64>,
    #[serde(default)]
    max_shipments: Option<u32>,
    #[serde(default)]
    backorder_penalty: Option<f64>,
    #[serde(default)]
    late_penalty_per_day: Option<f64>,
    #[serde(default)]
    allocate_inbound: Option<bool>,
}

fn line_of(text: &str, span: Range<usize>) -> usize {
    text[..span.start.min(text.len())]
        .bytes()
        .filter(|&b| b == b'\n')
        .count()
        + 1
}

impl Variant {
    /// Reads and checks the syntax of a change file (references are checked by [`apply`]).
    ///
    /// [`apply`]: Variant::apply
    pub fn read(path: &Path) -> Result<Variant, ChangeError> {
        let text = std::fs::read_to_string(path).map_err(|e| ChangeError {
            file: path.to_owned(),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        Variant::parse(path, &text)
    }

    /// Parses change-file text; `path` names it in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Variant, ChangeError> {
        let spec: Spec = toml::from_str(text).map_err(|e| ChangeError {
            file: path.to_owned(),
            line: e.span().map_or(1, |s| line_of(text, s)),
            message: e.message().trim().to_owned(),
        })?;
        if spec.name.trim().is_empty() {
            return Err(ChangeError {
                file: path.to_owned(),
                line: 1,
                message: "`name` must not be empty".into(),
            });
        }
        Ok(Variant {
            name: spec.name.clone(),
            file: path.to_owned(),
            text: text.to_owned(),
            spec,
        })
    }

    /// The store rejections of the variant's `[[reject]]` tables (none: nothing is rejected).
    pub fn rejections(&self) -> Result<super::Rejections, ChangeError> {
        let mut out = super::Rejections::default();
        for r in &self.spec.reject {
            let kind = self.kind(&r.get_ref().kind)?;
            let rate = r.get_ref().rate;
            if !(0.0..=1.0).contains(&rate) {
                return Err(self.error(r.span(), format!("`rate` {rate} is not in [0, 1]")));
            }
            if out.rates.iter().any(|(k, _)| *k == kind) {
                return Err(self.error(
                    r.span(),
                    format!("a second `[[reject]]` for kind `{}`", kind.as_str()),
                ));
            }
            out.rates.push((kind, rate));
            out.seed ^= r.get_ref().seed;
        }
        if let Some(p) = &self.spec.pickup {
            out.pickups =
                p.get_ref().when_closed.parse().map_err(|e: String| {
                    self.error(p.span(), format!("[pickup] when_closed: {e}"))
                })?;
        }
        Ok(out)
    }

    /// The variant's description, if it has one.
    pub fn description(&self) -> Option<&str> {
        self.spec.description.as_deref()
    }

    fn error(&self, span: Range<usize>, message: impl Into<String>) -> ChangeError {
        ChangeError {
            file: self.file.clone(),
            line: line_of(&self.text, span),
            message: message.into(),
        }
    }

    fn kind(&self, kind: &Spanned<String>) -> Result<NodeKind, ChangeError> {
        kind.get_ref().parse().map_err(|()| {
            self.error(
                kind.span(),
                format!(
                    "unknown node kind `{}` (dc, store or dropship)",
                    kind.get_ref()
                ),
            )
        })
    }

    /// The nodes `select` matches; an error if a named id is unknown or nothing matches.
    fn select(
        &self,
        nodes: &[Node],
        select: &NodeChange,
        span: Range<usize>,
    ) -> Result<Vec<usize>, ChangeError> {
        if select.ids.is_empty()
            && select.kind.is_none()
            && select.state.is_none()
            && select.within.is_none()
        {
            return Err(self.error(
                span,
                "a node selector needs `ids`, `kind`, `state` or `within`",
            ));
        }
        if let Some(st) = &select.state
            && !(st.get_ref().len() == 2 && st.get_ref().chars().all(|c| c.is_ascii_uppercase()))
        {
            return Err(self.error(
                st.span(),
                format!(
                    "`state` is a two-letter US code such as \"NY\", not `{}`",
                    st.get_ref()
                ),
            ));
        }
        let kind = select.kind.as_ref().map(|k| self.kind(k)).transpose()?;
        for id in &select.ids {
            if !nodes.iter().any(|n| n.id == *id.get_ref()) {
                return Err(self.error(id.span(), format!("unknown node `{}`", id.get_ref())));
            }
        }
        if let Some(c) = select.within
            && !(c.lat.is_finite()
                && c.lon.is_finite()
                && (-90.0..=90.0).contains(&c.lat)
                && (-180.0..=180.0).contains(&c.lon)
                && c.km.is_finite()
                && c.km >= 0.0)
        {
            return Err(self.error(span, "`within` needs a valid lat, lon and a radius km ≥ 0"));
        }
        let matched: Vec<usize> = nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                (select.ids.is_empty() || select.ids.iter().any(|id| *id.get_ref() == n.id))
                    && kind.is_none_or(|k| k == n.kind)
                    && select.state.as_ref().is_none_or(|st| {
                        crate::model::geo::state_near(n.lat, n.lon) == Some(st.get_ref())
                    })
                    && select
                        .within
                        .is_none_or(|c| distance_km(c.lat, c.lon, n.lat, n.lon) <= c.km)
            })
            .map(|(i, _)| i)
            .collect();
        if matched.is_empty() {
            return Err(self.error(span, "this selector matches no node"));
        }
        Ok(matched)
    }

    /// The network with this variant's changes, in file order: close, reopen, capacity,
    /// add_node, rates, disable_carrier, schedule, policy. Nothing is changed on error.
    pub fn apply(&self, base: &NetworkData) -> Result<NetworkData, ChangeError> {
        let mut data = base.clone();
        self.close_and_reopen(&mut data)?;
        self.capacity(&mut data)?;
        self.add_nodes(base, &mut data)?;
        self.rates(&mut data)?;
        self.disable_carriers(&mut data)?;
        self.schedules(&mut data)?;
        self.policy(&mut data)?;
        Ok(data)
    }

    /// `[[schedule]]`: new cut-offs and processing days; closed weekdays as a new calendar per
    /// calendar the selected nodes had (named after it and the days closed).
    fn schedules(&self, data: &mut NetworkData) -> Result<(), ChangeError> {
        for c in &self.spec.schedule {
            let change = c.get_ref();
            if change.capacity_ways() > 0 {
                return Err(self.error(
                    c.span(),
                    "`scale`, `units` and `unlimited` belong in a [[capacity]] table",
                ));
            }
            let cutoff = match &change.cutoff {
                Some(t) => Some(crate::model::Cutoff::parse(t.get_ref()).ok_or_else(|| {
                    self.error(
                        t.span(),
                        format!(
                            "`cutoff` is a local time HH:MM from 00:00 to 24:00, not `{}`",
                            t.get_ref()
                        ),
                    )
                })?),
                None => None,
            };
            let mut closed = Vec::new();
            for w in &change.close_weekdays {
                closed.push(
                    crate::model::dates::parse_weekday(w.get_ref()).ok_or_else(|| {
                        self.error(
                            w.span(),
                            format!(
                                "a weekday is mon, tue, wed, thu, fri, sat or sun, not `{}`",
                                w.get_ref()
                            ),
                        )
                    })?,
                );
            }
            for i in self.select(&data.nodes, change, c.span())? {
                let schedule = &mut data.nodes[i].schedule;
                if let Some(cut) = cutoff {
                    schedule.cutoff = cut;
                }
                if let Some(p) = change.processing_days {
                    schedule.processing_days = p;
                }
                if !closed.is_empty() {
                    let base = schedule.calendar.clone();
                    let mut calendar = base
                        .as_ref()
                        .and_then(|id| data.calendars.get(id))
                        .cloned()
                        .unwrap_or_default();
                    let mut name = base.unwrap_or_else(|| "every-day".to_owned());
                    for &w in &closed {
                        calendar.open[w] = false;
                        name.push_str("-no-");
                        name.push_str(crate::model::dates::weekday_name(w));
                    }
                    data.calendars.insert(name.clone(), calendar);
                    schedule.calendar = Some(name);
                }
            }
        }
        Ok(())
    }

    fn close_and_reopen(&self, data: &mut NetworkData) -> Result<(), ChangeError> {
        let spec = &self.spec;
        for (list, enabled) in [(&spec.close, false), (&spec.reopen, true)] {
            for s in list {
                self.only_selectors(s)?;
                for i in self.select(&data.nodes, s.get_ref(), s.span())? {
                    data.nodes[i].enabled = enabled;
                }
            }
        }
        Ok(())
    }

    /// A close or reopen table has nothing but selectors.
    fn only_selectors(&self, s: &Spanned<NodeChange>) -> Result<(), ChangeError> {
        if s.get_ref().capacity_ways() > 0 {
            return Err(self.error(
                s.span(),
                "`scale`, `units` and `unlimited` belong in a [[capacity]] table",
            ));
        }
        if s.get_ref().schedule_ways() > 0 {
            return Err(self.error(
                s.span(),
                "`cutoff`, `processing_days` and `close_weekdays` belong in a [[schedule]] table",
            ));
        }
        Ok(())
    }

    fn capacity(&self, data: &mut NetworkData) -> Result<(), ChangeError> {
        for c in &self.spec.capacity {
            let change = c.get_ref();
            if change.schedule_ways() > 0 {
                return Err(self.error(
                    c.span(),
                    "`cutoff`, `processing_days` and `close_weekdays` belong in a [[schedule]] table",
                ));
            }
            if change.capacity_ways() != 1 {
                return Err(self.error(
                    c.span(),
                    "a capacity change needs exactly one of `scale`, `units` or `unlimited = true`",
                ));
            }
            if let Some(s) = change.scale
                && !(s.is_finite() && s >= 0.0)
            {
                return Err(self.error(c.span(), "`scale` must be a number ≥ 0"));
            }
            for i in self.select(&data.nodes, change, c.span())? {
                let node = &mut data.nodes[i];
                node.capacity_units = match (change.scale, change.units) {
                    (Some(s), _) => node
                        .capacity_units
                        .map(|u| (f64::from(u) * s).round().min(f64::from(u32::MAX)) as u32),
                    (_, Some(u)) => Some(u),
                    _ => None,
                };
            }
        }
        Ok(())
    }

    fn add_nodes(&self, base: &NetworkData, data: &mut NetworkData) -> Result<(), ChangeError> {
        for a in &self.spec.add_node {
            let add = a.get_ref();
            if data.nodes.iter().any(|n| n.id == add.id) {
                return Err(self.error(a.span(), format!("node `{}` already exists", add.id)));
            }
            if !(add.lat.is_finite()
                && add.lon.is_finite()
                && (-90.0..=90.0).contains(&add.lat)
                && (-180.0..=180.0).contains(&add.lon))
            {
                return Err(self.error(a.span(), "`lat`/`lon` is not a valid coordinate"));
            }
            let nonneg = |x: f64| x.is_finite() && x >= 0.0;
            if ![add.stock_scale, add.cost_per_shipment, add.cost_per_unit]
                .into_iter()
                .all(nonneg)
            {
                return Err(self.error(a.span(), "`stock_scale` and costs must be numbers ≥ 0"));
            }
            let kind = self.kind(&add.kind)?;
            data.nodes.push(Node {
                id: add.id.clone(),
                kind,
                lat: add.lat,
                lon: add.lon,
                ships: add.ships.unwrap_or(true),
                pickup: add.pickup.unwrap_or(kind == NodeKind::Store),
                capacity_units: add.capacity_units,
                cost_per_shipment: add.cost_per_shipment,
                cost_per_unit: add.cost_per_unit,
                enabled: true,
                schedule: crate::model::Schedule::default(),
                channels: Vec::new(),
            });
            let new_node = NodeId((data.nodes.len() - 1) as u32);
            if let Some(from) = &add.copy_stock_from {
                let Some(src) = base.nodes.iter().position(|n| n.id == *from.get_ref()) else {
                    return Err(
                        self.error(from.span(), format!("unknown node `{}`", from.get_ref()))
                    );
                };
                let src = NodeId(src as u32);
                let copied: Vec<InventoryRow> = data
                    .inventory
                    .iter()
                    .filter(|r| r.node == src)
                    .map(|r| InventoryRow {
                        node: new_node,
                        sku: r.sku,
                        on_hand: (f64::from(r.on_hand) * add.stock_scale).round() as u32,
                        safety_stock: r.safety_stock,
                    })
                    .collect();
                data.inventory.extend(copied);
            }
        }
        Ok(())
    }

    fn rates(&self, data: &mut NetworkData) -> Result<(), ChangeError> {
        for r in &self.spec.rates {
            let change = r.get_ref();
            let service: Option<Service> = change
                .service
                .as_ref()
                .map(|s| {
                    s.get_ref().parse().map_err(|()| {
                        self.error(s.span(), format!("unknown service `{}`", s.get_ref()))
                    })
                })
                .transpose()?;
            if !(change.scale.is_finite() && change.scale >= 0.0 && change.add.is_finite())
                || change
                    .base
                    .into_iter()
                    .chain(change.per_kg)
                    .any(|x| !(x.is_finite() && x >= 0.0))
            {
                return Err(self.error(
                    r.span(),
                    "`scale`, `base` and `per_kg` must be ≥ 0 and `add` a number",
                ));
            }
            if let Some(c) = &change.carrier
                && !data.rates.iter().any(|x| x.carrier == *c.get_ref())
            {
                return Err(self.error(c.span(), format!("unknown carrier `{}`", c.get_ref())));
            }
            let mut touched = 0;
            for rate in &mut data.rates {
                if change
                    .carrier
                    .as_ref()
                    .is_none_or(|c| *c.get_ref() == rate.carrier)
                    && service.is_none_or(|s| s == rate.service)
                {
                    rate.base = change
                        .base
                        .unwrap_or((rate.base * change.scale + change.add).max(0.0));
                    rate.per_kg = change
                        .per_kg
                        .unwrap_or((rate.per_kg * change.scale).max(0.0));
                    touched += 1;
                }
            }
            if touched == 0 {
                return Err(self.error(r.span(), "this rate change matches no rate"));
            }
        }
        Ok(())
    }

    fn disable_carriers(&self, data: &mut NetworkData) -> Result<(), ChangeError> {
        for d in &self.spec.disable_carrier {
            let carrier = d.get_ref().carrier.get_ref();
            if !data.rates.iter().any(|x| x.carrier == *carrier) {
                return Err(self.error(
                    d.get_ref().carrier.span(),
                    format!("unknown carrier `{carrier}`"),
                ));
            }
            data.rates.retain(|x| x.carrier != *carrier);
        }
        Ok(())
    }

    /// A policy key with a bad value, at its line.
    fn policy_error(&self, key: &str) -> ChangeError {
        ChangeError {
            file: self.file.clone(),
            line: self
                .text
                .lines()
                .position(|l| l.trim_start().starts_with(key))
                .map_or(1, |i| i + 1),
            message: format!("`{key}` must be a number ≥ 0"),
        }
    }

    fn policy(&self, data: &mut NetworkData) -> Result<(), ChangeError> {
        if let Some(p) = &self.spec.policy {
            let policy = &mut data.policy;
            if let Some(v) = p.ship_from_store {
                policy.ship_from_store = v;
            }
            if let Some(v) = p.max_shipments {
                policy.max_shipments = v;
            }
            if let Some(v) = p.allocate_inbound {
                policy.allocate_inbound = v;
            }
            if let Some(v) = p.late_penalty_per_day {
                if !(v.is_finite() && v >= 0.0) {
                    return Err(self.policy_error("late_penalty_per_day"));
                }
                policy.late_penalty_per_day = Some(v);
            }
            for (value, slot, key) in [
                (p.split_penalty, &mut policy.split_penalty, "split_penalty"),
                (
                    p.backorder_penalty,
                    &mut policy.backorder_penalty,
                    "backorder_penalty",
                ),
            ] {
                if let Some(v) = value {
                    if !(v.is_finite() && v >= 0.0) {
                        return Err(self.policy_error(key));
                    }
                    *slot = v;
                }
            }
        }
        Ok(())
    }
}
