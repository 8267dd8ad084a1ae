//! Candidate nodes of one order: the nodes that may ship at least one of its lines, with what each
//! may ship of each line. Eligibility is the spec's feasibility rules 1–2 for ship orders.

use super::ledger::Availability;
use crate::model::{Day, NodeId, Order};
use crate::snapshot::{Inventory, Snapshot};

/// A node that may ship to the order's address.
#[derive(Clone, Copy, Debug)]
pub struct Candidate {
    pub node: NodeId,
    /// Zone band index of the node → destination distance.
    pub band: usize,
    /// Squared unit chord to the destination: orders candidates by distance.
    pub chord2: f64,
    pub cost_per_shipment: f64,
    pub cost_per_unit: f64,
    /// Units the node may still pick on the order's day.
    pub capacity_left: u32,
    /// The day it would handle the order (spec step 1); meaningless when `dispatch` is `None`.
    pub handling: Day,
    /// The day it would dispatch units it holds now; `None` unless the order has a deadline.
    pub dispatch: Option<Day>,
}

/// A candidate that holds a line's SKU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Holder {
    /// Index in the candidate set.
    pub candidate: u32,
    /// Units it can give the line: ATS, at least 1.
    pub ats: u32,
    /// Of those, units on hand now; the rest are inbound, in `LineCandidates::tiers`.
    pub stock: u32,
    /// The holder's inbound tiers: a range of `LineCandidates::tiers`.
    pub tiers: (u32, u32),
}

/// Inbound units a holder can give beyond its stock: up to `upto` units taken in all (counting
/// its stock), handled no earlier than `day`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tier {
    pub upto: u32,
    pub day: Day,
}

/// One order line and the candidates that hold its SKU.
#[derive(Clone, Debug, Default)]
pub struct LineCandidates {
    /// Index of the line in `order.lines`.
    pub line: usize,
    pub qty: u32,
    pub unit_weight: f64,
    /// Version 2 order rules: all of the line's units from one node (`split_line = 0`), its
    /// ship-together group, and the value of one unit.
    pub whole: bool,
    pub group: Option<u16>,
    pub unit_price: f64,
    /// Every candidate that may ship this line, with its ATS ≥ 1.
    pub holders: Vec<Holder>,
    /// Inbound tiers of the holders (each holder names its range).
    pub tiers: Vec<Tier>,
    /// A price added to each unit taken from the holder at the same index (empty: none). Batch
    /// optimisation prices scarce stock and capacity this way.
    pub extra: Vec<f64>,
}

/// Prices of resources shared by many orders, charged per unit on top of the real cost.
pub trait UnitPrices: Sync {
    /// The price of one unit of inventory entry `entry` picked at `node` on `day`.
    fn unit_price(&self, entry: usize, node: NodeId, day: Option<i32>) -> f64;

    /// `true`: each line pays its prices less the least among its candidates, so prices choose
    /// which candidate ships a unit but never make leaving it unshipped look better.
    fn relative(&self) -> bool {
        false
    }
}

/// Why a node was not a candidate, for explanations and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exclusion {
    Disabled,
    DoesNotShip,
    StoreShippingOff,
    BeyondZones,
    ServiceNotOffered,
    CapacityFull,
    /// Its calendar never opens.
    Closed,
    /// It does not serve the order's sales channel.
    Channel,
    /// The order excludes it (asked so, or the node rejected the order before).
    ExcludedByOrder,
    /// Even its fastest service delivers on `delivery`, after the order's hard `deliver_by`.
    TooLate {
        delivery: Day,
    },
}

const UNSEEN: u32 = u32::MAX;
const EXCLUDED: u32 = u32::MAX - 1;

/// Per node, the last handling window computed: `[from, to)` in Unix seconds, with its handling
/// and dispatch days. Orders close in time share a node's window, so the time-zone arithmetic
/// runs once per node and cut-off rather than once per order and node.
#[derive(Default)]
pub struct DateCache {
    windows: Vec<(i64, i64, Day, Option<Day>)>,
}

impl DateCache {
    /// The handling and dispatch days at `node` of an order created at `created`.
    pub fn days(&mut self, snapshot: &Snapshot, node: NodeId, created: i64) -> (Day, Option<Day>) {
        if self.windows.len() != snapshot.nodes().len() {
            self.windows = vec![(0, 0, 0, None); snapshot.nodes().len()];
        }
        let w = &mut self.windows[node.index()];
        if !(w.0 <= created && created < w.1) {
            let clock = snapshot.clock(node);
            let (handling, from, to) = clock.handling_window(created);
            *w = (from, to, handling, clock.dispatch_day(handling));
        }
        (w.2, w.3)
    }
}

/// Reusable buffers for candidate generation (one per thread).
#[derive(Default)]
pub struct CandidateSet {
    dates: DateCache,
    stamp: Vec<u32>,
    slot: Vec<u32>,
    epoch: u32,
    pub candidates: Vec<Candidate>,
    pub lines: Vec<LineCandidates>,
}

impl CandidateSet {
    /// Starts a new order: every node unseen (stamps cleared when the epoch wraps).
    fn next_epoch(&mut self, nodes: usize) {
        if self.stamp.len() != nodes {
            self.stamp = vec![0; nodes];
            self.slot = vec![UNSEEN; nodes];
            self.epoch = 0;
        }
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamp.fill(0);
            self.epoch = 1;
        }
    }

    /// Evaluates a node seen for the first time in this order: its candidate slot, or
    /// `EXCLUDED`.
    fn admit(
        &mut self,
        snapshot: &Snapshot,
        avail: &impl Availability,
        order: &Order,
        node_id: NodeId,
        target: &Target<'_>,
    ) -> u32 {
        match evaluate(snapshot, avail, order, node_id, target, &mut self.dates) {
            Ok(c) => {
                self.candidates.push(c);
                (self.candidates.len() - 1) as u32
            }
            Err(_) => EXCLUDED,
        }
    }

    /// Fills the set for a ship order to (lat, lon).
    pub fn build(
        &mut self,
        snapshot: &Snapshot,
        avail: &impl Availability,
        order: &Order,
        lat: f64,
        lon: f64,
    ) {
        self.build_priced(snapshot, avail, order, lat, lon, None);
    }

    /// As [`CandidateSet::build`], with `prices` charged on every unit.
    pub fn build_priced(
        &mut self,
        snapshot: &Snapshot,
        avail: &impl Availability,
        order: &Order,
        lat: f64,
        lon: f64,
        prices: Option<&dyn UnitPrices>,
    ) {
        self.next_epoch(snapshot.nodes().len());
        self.candidates.clear();
        let inventory = snapshot.inventory();
        let target = Target::new(avail, order, lat, lon);
        self.lines
            .resize_with(order.lines.len(), LineCandidates::default);
        for (li, line) in order.lines.iter().enumerate() {
            let sku = snapshot.sku(line.sku);
            let mut holders = std::mem::take(&mut self.lines[li].holders);
            holders.clear();
            let mut extra = std::mem::take(&mut self.lines[li].extra);
            extra.clear();
            let mut tiers = std::mem::take(&mut self.lines[li].tiers);
            tiers.clear();
            let (base, holders_of_sku) = inventory.of_sku(line.sku);
            for (i, &node_id) in holders_of_sku.iter().enumerate() {
                let ats = inventory
                    .sellable(base + i)
                    .saturating_sub(avail.reserved(base + i));
                if ats == 0 {
                    continue;
                }
                if sku.oversize && snapshot.ship_from(node_id).store {
                    continue;
                }
                let ni = node_id.index();
                if self.stamp[ni] != self.epoch {
                    self.stamp[ni] = self.epoch;
                    self.slot[ni] = self.admit(snapshot, avail, order, node_id, &target);
                }
                let slot = self.slot[ni];
                if slot != EXCLUDED {
                    let start = tiers.len() as u32;
                    // Without inbound supply every unit is on hand.
                    let stock = if inventory.allocates_inbound() {
                        stock_and_tiers(inventory, base + i, avail.reserved(base + i), &mut tiers)
                    } else {
                        ats
                    };
                    holders.push(Holder {
                        candidate: slot,
                        ats,
                        stock,
                        tiers: (start, tiers.len() as u32),
                    });
                    if let Some(prices) = prices {
                        extra.push(prices.unit_price(base + i, node_id, order.day));
                    }
                }
            }
            if prices.is_some_and(|p| p.relative())
                && let Some(least) = extra.iter().copied().min_by(f64::total_cmp)
            {
                extra.iter_mut().for_each(|e| *e -= least);
            }
            self.lines[li] = LineCandidates {
                line: li,
                qty: line.qty,
                unit_weight: sku.weight_kg,
                whole: !sku.split_line,
                group: line.group,
                unit_price: line.unit_price,
                holders,
                tiers,
                extra,
            };
        }
    }
}

impl CandidateSet {
    /// The same order's set with only the candidates `keep` (indices of this set, which become
    /// 0, 1, … in `out`): each line keeps the holders among them, with their inbound tiers and
    /// prices.
    pub fn restricted(&self, keep: &[usize], out: &mut CandidateSet) {
        out.candidates.clear();
        out.candidates
            .extend(keep.iter().map(|&c| self.candidates[c]));
        out.lines
            .resize_with(self.lines.len(), LineCandidates::default);
        for (line, into) in self.lines.iter().zip(out.lines.iter_mut()) {
            let (mut holders, mut tiers, mut extra) = (
                std::mem::take(&mut into.holders),
                std::mem::take(&mut into.tiers),
                std::mem::take(&mut into.extra),
            );
            holders.clear();
            tiers.clear();
            extra.clear();
            for (j, h) in line.holders.iter().enumerate() {
                let Some(at) = keep.iter().position(|&c| c == h.candidate as usize) else {
                    continue;
                };
                let start = tiers.len() as u32;
                tiers.extend_from_slice(&line.tiers[h.tiers.0 as usize..h.tiers.1 as usize]);
                holders.push(Holder {
                    candidate: at as u32,
                    tiers: (start, tiers.len() as u32),
                    ..*h
                });
                if let Some(&e) = line.extra.get(j) {
                    extra.push(e);
                }
            }
            *into = LineCandidates {
                holders,
                tiers,
                extra,
                ..line.clone_head()
            };
        }
    }
}

impl LineCandidates {
    /// The line without its holders, tiers and prices.
    fn clone_head(&self) -> LineCandidates {
        LineCandidates {
            line: self.line,
            qty: self.qty,
            unit_weight: self.unit_weight,
            whole: self.whole,
            group: self.group,
            unit_price: self.unit_price,
            holders: Vec::new(),
            tiers: Vec::new(),
            extra: Vec::new(),
        }
    }
}

/// The units of an entry still on hand after `reserved` (reservations take stock first), and
/// pushes the inbound tiers left after them onto `tiers`.
pub fn stock_and_tiers(
    inventory: &Inventory,
    entry: usize,
    reserved: u32,
    tiers: &mut Vec<Tier>,
) -> u32 {
    let on_hand = inventory.stock_sellable(entry);
    let stock = on_hand.saturating_sub(reserved);
    let mut consumed = reserved.saturating_sub(on_hand);
    let mut upto = stock;
    for &(day, qty) in inventory.inbound(entry) {
        if consumed >= qty {
            consumed -= qty;
            continue;
        }
        upto = upto.saturating_add(qty - consumed);
        consumed = 0;
        tiers.push(Tier { upto, day });
    }
    stock
}

impl LineCandidates {
    /// The handling floor of taking `take` units from `holder`: the day of the last inbound
    /// tier reached, or [`crate::model::dates::NO_FLOOR`] when they are all on hand.
    #[inline]
    pub fn floor_of(&self, holder: &Holder, take: u32) -> Day {
        if take <= holder.stock {
            return crate::model::dates::NO_FLOOR;
        }
        let (a, b) = (holder.tiers.0 as usize, holder.tiers.1 as usize);
        self.tiers[a..b]
            .iter()
            .find(|t| t.upto >= take)
            .map_or(crate::model::dates::NO_FLOOR, |t| t.day)
    }
}

/// Where one ship order goes, and what evaluating its nodes reads once per order rather than
/// once per node.
pub struct Target<'a> {
    lat: f64,
    lon: f64,
    /// Unit vector of the destination.
    dest: [f64; 3],
    /// The order's day's units picked per node ([`Availability::used_on`]).
    used: Option<&'a [u32]>,
}

impl<'a> Target<'a> {
    pub fn new(avail: &'a impl Availability, order: &Order, lat: f64, lon: f64) -> Target<'a> {
        Target {
            lat,
            lon,
            dest: crate::model::geo::unit_vector(lat, lon),
            used: avail.used_on(order.day),
        }
    }
}

/// Whether a node may ship a parcel of `order` to `target`, and on what terms.
pub fn evaluate(
    snapshot: &Snapshot,
    avail: &impl Availability,
    order: &Order,
    node_id: NodeId,
    target: &Target<'_>,
    dates: &mut DateCache,
) -> Result<Candidate, Exclusion> {
    let node = snapshot.ship_from(node_id);
    if !node.enabled {
        return Err(Exclusion::Disabled);
    }
    if !node.ships {
        return Err(Exclusion::DoesNotShip);
    }
    if node.store && !snapshot.policy().ship_from_store {
        return Err(Exclusion::StoreShippingOff);
    }
    if (node.channels && order.channel.is_some()) || !order.exclude.is_empty() {
        allowed_by_order(snapshot, order, node_id)?;
    }
    let capacity_left =
        super::ledger::capacity_left_on(snapshot, avail, target.used, node_id, order.day);
    if capacity_left == 0 {
        return Err(Exclusion::CapacityFull);
    }
    let chord2 = crate::model::geo::chord2(&node.xyz, &target.dest);
    let band = snapshot
        .zones()
        .band_of(chord2, || {
            let at = snapshot.node(node_id);
            crate::model::geo::distance_km(at.lat, at.lon, target.lat, target.lon)
        })
        .ok_or(Exclusion::BeyondZones)?;
    if !snapshot.rates().serves(order.service, band) {
        return Err(Exclusion::ServiceNotOffered);
    }
    // Candidates need their dates only under a deadline; the decision's own dates are computed
    // when it is priced.
    let (handling, dispatch) = match (order.created, order.deliver_by) {
        (Some(created), Some(_)) => {
            let (handling, dispatch) = dates.days(snapshot, node_id, created);
            let dispatch = dispatch.ok_or(Exclusion::Closed)?;
            check_hard_deadline(snapshot, order, band, dispatch)?;
            (handling, Some(dispatch))
        }
        _ => (0, None),
    };
    Ok(Candidate {
        node: node_id,
        band,
        chord2,
        cost_per_shipment: node.cost_per_shipment,
        cost_per_unit: node.cost_per_unit,
        capacity_left,
        handling,
        dispatch,
    })
}

/// The order rules about nodes (version 2): the order's channel, and the nodes it excludes.
pub fn allowed_by_order(snapshot: &Snapshot, order: &Order, node: NodeId) -> Result<(), Exclusion> {
    if !snapshot.node(node).serves(order.channel.as_deref()) {
        return Err(Exclusion::Channel);
    }
    if order.exclude.contains(&node) {
        return Err(Exclusion::ExcludedByOrder);
    }
    Ok(())
}

/// Under a hard `deliver_by`, a node whose fastest allowed service is late is no candidate.
fn check_hard_deadline(
    snapshot: &Snapshot,
    order: &Order,
    band: usize,
    dispatch: Day,
) -> Result<(), Exclusion> {
    let (Some(limit), None) = (order.deliver_by, snapshot.policy().late_penalty_per_day) else {
        return Ok(());
    };
    let earliest = order
        .service
        .shipment_services()
        .iter()
        .flat_map(|&s| snapshot.rates().options(s, band))
        .map(|o| crate::model::dates::delivery_day(dispatch, o.transit_days, o.weekend))
        .min();
    match earliest {
        Some(d) if d > limit => Err(Exclusion::TooLate { delivery: d }),
        _ => Ok(()),
    }
}
