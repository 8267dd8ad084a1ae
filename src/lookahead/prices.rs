//! Opportunity costs per inventory entry: each SKU's transportation LP (`flow.rs`) of expected
//! demand over the horizon against what its nodes can still sell, with the cost model's price
//! of sending one unit.

use rayon::prelude::*;

use super::flow::Transport;
use super::forecast::Forecast;
use crate::model::geo::distance_km;
use crate::model::{NodeId, NodeKind, Service, SkuId};
use crate::route::{Availability, UnitPrices, billable_kg};
use crate::snapshot::Snapshot;

/// λ per inventory entry: the price the `lookahead` policy charges for one unit taken there.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Prices {
    per_entry: Vec<f64>,
}

impl UnitPrices for Prices {
    #[inline]
    fn unit_price(&self, entry: usize, _node: NodeId, _day: Option<i32>) -> f64 {
        self.per_entry.get(entry).copied().unwrap_or(0.0)
    }
}

impl Prices {
    /// No price anywhere (myopic), for an inventory of `entries`.
    pub fn zero(entries: usize) -> Prices {
        Prices {
            per_entry: vec![0.0; entries],
        }
    }

    /// The price of a unit of inventory entry `entry`.
    pub fn of(&self, entry: usize) -> f64 {
        self.unit_price(entry, NodeId(0), None)
    }

    /// Entries with a positive price.
    pub fn priced_entries(&self) -> usize {
        self.per_entry.iter().filter(|p| **p > 0.0).count()
    }
}

/// What one SKU's solve saw: the units its nodes could sell, and the LP's optimal cost.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SkuSolve {
    pub supply: f64,
    pub demand: f64,
    pub lp_cost: f64,
}

/// The cost of sending one unit of `sku` from `node` to (lat, lon) alone: the cheapest parcel
/// rate for its billable weight in the pair's zone plus the node's handling of one shipment and
/// one unit; `None` where the node may not ship it there.
pub fn unit_cost(snapshot: &Snapshot, node: NodeId, sku: SkuId, lat: f64, lon: f64) -> Option<f64> {
    let n = snapshot.node(node);
    let band = snapshot
        .zones()
        .band_index(distance_km(n.lat, n.lon, lat, lon))?;
    unit_cost_in(snapshot, node, sku, band)
}

/// Each (node, region) pair's zone band, found once per forecast: the LPs read it for every
/// SKU the node holds.
#[derive(Clone, Debug, Default)]
pub struct Reach {
    regions: usize,
    /// `bands[node * regions + region]`, `u32::MAX` beyond the zones.
    bands: Vec<u32>,
}

impl Reach {
    /// The bands of every node to every region of `forecast` (in parallel, by node).
    pub fn new(snapshot: &Snapshot, forecast: &Forecast) -> Reach {
        let regions = forecast.regions();
        let mut bands = vec![u32::MAX; snapshot.nodes().len() * regions.len()];
        if !regions.is_empty() {
            bands
                .par_chunks_mut(regions.len())
                .zip(snapshot.nodes().par_iter())
                .for_each(|(row, n)| {
                    for (b, r) in row.iter_mut().zip(regions) {
                        let km = distance_km(n.lat, n.lon, r.lat, r.lon);
                        *b = snapshot
                            .zones()
                            .band_index(km)
                            .map_or(u32::MAX, |b| b as u32);
                    }
                });
        }
        Reach {
            regions: regions.len(),
            bands,
        }
    }

    fn band(&self, node: NodeId, region: u32) -> Option<usize> {
        let b = *self
            .bands
            .get(node.index() * self.regions + region as usize)?;
        (b != u32::MAX).then_some(b as usize)
    }
}

/// [`unit_cost`] in a known zone band.
fn unit_cost_in(snapshot: &Snapshot, node: NodeId, sku: SkuId, band: usize) -> Option<f64> {
    let (shipment, unit) = handling(snapshot, node, sku)?;
    Some(cheapest_rate(snapshot, sku, band)? + shipment + unit)
}

/// The cheapest parcel rate for one unit of `sku` in zone band `band`.
fn cheapest_rate(snapshot: &Snapshot, sku: SkuId, band: usize) -> Option<f64> {
    cheapest_rate_for(snapshot, billable_kg(snapshot.sku(sku).weight_kg), band)
}

fn cheapest_rate_for(snapshot: &Snapshot, kg: u32, band: usize) -> Option<f64> {
    Service::PARCEL
        .iter()
        .filter_map(|&svc| snapshot.rates().price(svc, band, kg))
        .min_by(f64::total_cmp)
}

/// One unit's parcel rate in a band (`one`), and the part of it a package costs whatever it
/// holds (`fixed`: what a second unit does not add, from the two-unit quote).
#[derive(Clone, Copy, Debug)]
struct UnitRate {
    one: f64,
    fixed: f64,
}

impl UnitRate {
    fn of(snapshot: &Snapshot, sku: SkuId, band: usize) -> Option<UnitRate> {
        let kg = snapshot.sku(sku).weight_kg;
        let one = cheapest_rate_for(snapshot, billable_kg(kg), band)?;
        let two = cheapest_rate_for(snapshot, billable_kg(2.0 * kg), band).unwrap_or(2.0 * one);
        let marginal = (two - one).clamp(0.0, one);
        Some(UnitRate {
            one,
            fixed: one - marginal,
        })
    }
}

/// How a region's orders travel together, which prices a unit sent from elsewhere in the SKU
/// LPs: the mean units per order (m), and which nodes carry the whole assortment (at least
/// [`FULL_ASSORTMENT`] of all expected demand is for SKUs they hold).
///
/// A unit sent to a region from its *home* (the cheapest node holding the SKU) pays the
/// one-unit price; where that home carries the whole assortment, a unit sent from anywhere
/// else also pays `(1 − 1/m) · (package + split) / m`: the chance that its order holds other
/// units which the home would have shipped with it, times its share of the package it would
/// then need. With m = 1 every unit is its own package: the one-unit price everywhere
/// (Acimovic & Graves' LP). Without the term the LP sees no difference between a node and its
/// neighbour in the same zone band, and its prices never protect the units a region's
/// multi-unit orders need together; with a whole package per unit (no `1/m`) they protect them
/// so much that orders split to spare them; and from a home that carries part of the catalogue
/// (a store, or the demo's DCs at 85–89%) an order's other units often ship from elsewhere
/// anyway: there the term cost 0.1–0.9% more on healthy stock (measured: `BENCHMARKS.md`).
#[derive(Clone, Copy, Debug)]
pub struct Together<'a> {
    pub basket: f64,
    /// Per node index, whether it carries the whole assortment; empty: none does.
    pub full: &'a [bool],
}

/// The share of all expected demand a node's SKUs must cover for it to carry the whole
/// assortment.
pub const FULL_ASSORTMENT: f64 = 0.99;

impl Together<'_> {
    /// Every unit its own package.
    pub const ALONE: Together<'static> = Together {
        basket: 1.0,
        full: &[],
    };

    /// Whether a unit of a SKU held at `holders` can pay for leaving its home: orders hold more
    /// than one unit on average and some holder carries the whole assortment.
    fn applies(&self, holders: &[NodeId]) -> bool {
        self.basket > 1.0
            && holders
                .iter()
                .any(|n| self.full.get(n.index()).copied().unwrap_or(false))
    }

    /// The share of a package a unit pays when sent from other than `home` (node index).
    fn away(&self, home: usize) -> f64 {
        if !self.full.get(home).copied().unwrap_or(false) {
            return 0.0;
        }
        let m = self.basket.max(1.0);
        (1.0 - 1.0 / m) / m
    }
}

/// Per node, whether at least [`FULL_ASSORTMENT`] of all expected demand (`forecast`, units
/// per day) is for SKUs it holds.
pub fn full_assortment(snapshot: &Snapshot, forecast: &Forecast) -> Vec<bool> {
    let inventory = snapshot.inventory();
    let mut held = vec![0.0; snapshot.nodes().len()];
    let mut all = 0.0;
    for k in 0..snapshot.skus().len() {
        let sku = SkuId(k as u32);
        let total = forecast.total(sku);
        all += total;
        for &node in inventory.of_sku(sku).1 {
            held[node.index()] += total;
        }
    }
    held.iter()
        .map(|&h| all > 0.0 && h >= FULL_ASSORTMENT * all)
        .collect()
}

/// The price of a unit in a SKU's LP: its one-unit price, and `away` (see [`Together`]) of
/// another package and a split — nothing at all added where `away` is 0, so that without the
/// term the prices are Acimovic & Graves' bit for bit.
fn lp_cost(rate: UnitRate, handling: (f64, f64), away: f64, split: f64) -> f64 {
    let (shipment, unit) = handling;
    let alone = rate.one + shipment + unit;
    if away > 0.0 {
        alone + (rate.fixed + shipment + split) * away
    } else {
        alone
    }
}

/// What `node` charges to ship one unit of `sku` alone (per shipment, per unit); `None` where it
/// may not ship `sku`.
fn handling(snapshot: &Snapshot, node: NodeId, sku: SkuId) -> Option<(f64, f64)> {
    let n = snapshot.node(node);
    let s = snapshot.sku(sku);
    let store = n.kind == NodeKind::Store;
    if !n.enabled || !n.ships || (store && (s.oversize || !snapshot.policy().ship_from_store)) {
        return None;
    }
    Some((n.cost_per_shipment, n.cost_per_unit))
}

/// What the SKU LPs price against: the expected demand, every node's zone band to its regions,
/// and how the units of an order travel together.
#[derive(Clone, Copy, Debug)]
pub struct Expected<'a> {
    pub forecast: &'a Forecast,
    pub reach: &'a Reach,
    pub together: Together<'a>,
}

/// Solves `sku`'s LP over `horizon_days` and writes its nodes' prices into `out` (the SKU's
/// inventory entries, in inventory order; entries with nothing to sell get 0).
pub fn solve_sku(
    snapshot: &Snapshot,
    avail: &(impl Availability + ?Sized),
    expected: Expected,
    sku: SkuId,
    horizon_days: f64,
    out: &mut [f64],
) -> SkuSolve {
    let Expected {
        forecast,
        reach,
        together,
    } = expected;
    out.fill(0.0);
    let demand: Vec<(u32, f64)> = forecast
        .of_sku(sku)
        .iter()
        .map(|&(r, rate)| (r, rate * horizon_days.max(0.0)))
        .filter(|&(_, d)| d > 0.0)
        .collect();
    let mut t = Transport {
        lost: snapshot.policy().backorder_penalty,
        demand: demand.iter().map(|&(_, d)| d).collect(),
        ..Transport::default()
    };
    let rows = lp_rows(snapshot, avail, reach, together, sku, &demand, &mut t);
    let supply = t.supply.iter().sum();
    let total_demand = t.demand.iter().sum();
    if t.demand.is_empty() || t.supply.is_empty() {
        return SkuSolve {
            supply,
            demand: total_demand,
            lp_cost: total_demand * t.lost,
        };
    }
    let solved = t.solve();
    for (&i, &price) in rows.iter().zip(&solved.node_price) {
        out[i] = price;
    }
    SkuSolve {
        supply,
        demand: total_demand,
        lp_cost: solved.cost,
    }
}

/// Fills `t`'s supply and arc prices from `sku`'s holders with stock left to sell; returns
/// their indices among the SKU's holders. Where no unit pays for leaving its home (see
/// [`Together`]), each arc is the one-unit price, found row by row; otherwise every holder's
/// arcs are priced first, since a holder without stock can still be a region's home.
fn lp_rows(
    snapshot: &Snapshot,
    avail: &(impl Availability + ?Sized),
    reach: &Reach,
    together: Together,
    sku: SkuId,
    demand: &[(u32, f64)],
    t: &mut Transport,
) -> Vec<usize> {
    let inventory = snapshot.inventory();
    let (base, holders) = inventory.of_sku(sku);
    let bands = 0..snapshot.zones().len();
    let homes = together.applies(holders).then(|| {
        // The rate depends on the band and the SKU's weight only: one quote per band.
        let rates: Vec<Option<UnitRate>> = bands
            .clone()
            .map(|b| UnitRate::of(snapshot, sku, b))
            .collect();
        let mut arcs: Vec<Option<(UnitRate, (f64, f64))>> = Vec::new();
        for &node in holders {
            let handling = handling(snapshot, node, sku);
            for &(r, _) in demand {
                arcs.push(handling.and_then(|h| {
                    let band = reach.band(node, r)?;
                    Some((rates.get(band).copied().flatten()?, h))
                }));
            }
        }
        let split = snapshot.policy().split_penalty;
        basket_costs(&arcs, holders, demand.len(), together, split)
    });
    let rates: Vec<Option<f64>> = match homes {
        Some(_) => Vec::new(),
        None => bands.map(|b| cheapest_rate(snapshot, sku, b)).collect(),
    };
    let mut rows = Vec::new();
    for (i, &node) in holders.iter().enumerate() {
        let ats = inventory
            .sellable(base + i)
            .saturating_sub(avail.reserved(base + i));
        if ats == 0 {
            continue;
        }
        rows.push(i);
        t.supply.push(f64::from(ats));
        if let Some(costs) = &homes {
            let r = demand.len();
            t.cost.extend_from_slice(&costs[i * r..(i + 1) * r]);
            continue;
        }
        let handling = handling(snapshot, node, sku);
        for &(r, _) in demand {
            let c = handling.and_then(|(shipment, unit)| {
                let band = reach.band(node, r)?;
                Some(rates.get(band).copied().flatten()? + shipment + unit)
            });
            t.cost.push(c.unwrap_or(f64::INFINITY));
        }
    }
    rows
}

/// The LP's arc prices (row-major: per holder, `regions` arcs) from each arc's rate and
/// handling: per region, the holder of least one-unit price is its home.
fn basket_costs(
    arcs: &[Option<(UnitRate, (f64, f64))>],
    holders: &[NodeId],
    regions: usize,
    together: Together,
    split: f64,
) -> Vec<f64> {
    let alone = |a: &Option<(UnitRate, (f64, f64))>| {
        a.map_or(f64::INFINITY, |(rate, h)| lp_cost(rate, h, 0.0, 0.0))
    };
    let mut home = vec![(f64::INFINITY, usize::MAX); regions];
    for (k, a) in arcs.iter().enumerate() {
        let c = alone(a);
        let h = &mut home[k % regions];
        if c < h.0 {
            *h = (c, k);
        }
    }
    let away: Vec<f64> = home
        .iter()
        .map(|&(_, k)| {
            holders
                .get(k / regions.max(1))
                .map_or(0.0, |n| together.away(n.index()))
        })
        .collect();
    arcs.iter()
        .enumerate()
        .map(|(k, a)| {
            let r = k % regions;
            let share = if home[r].1 == k { 0.0 } else { away[r] };
            a.map_or(f64::INFINITY, |(rate, h)| lp_cost(rate, h, share, split))
        })
        .collect()
}

/// Solves every SKU's LP in parallel (rayon), each over its own horizon (`horizon(sku)`), and
/// returns the prices and what each solve saw. The same for any number of threads.
pub fn solve_all(
    snapshot: &Snapshot,
    avail: &(impl Availability + Sync + ?Sized),
    expected: Expected,
    horizon: &(dyn Fn(SkuId) -> f64 + Sync),
) -> (Prices, Vec<SkuSolve>) {
    let inventory = snapshot.inventory();
    let mut per_entry = vec![0.0; inventory.len()];
    let sku_count = snapshot.skus().len();
    // Split the entries into each SKU's contiguous slice (compressed rows per SKU).
    let mut slices: Vec<(SkuId, &mut [f64])> = Vec::with_capacity(sku_count);
    let mut rest: &mut [f64] = &mut per_entry;
    let mut at = 0;
    for k in 0..sku_count {
        let sku = SkuId(k as u32);
        let (base, holders) = inventory.of_sku(sku);
        let (_, tail) = std::mem::take(&mut rest).split_at_mut(base - at);
        let (mine, tail) = tail.split_at_mut(holders.len());
        slices.push((sku, mine));
        rest = tail;
        at = base + holders.len();
    }
    let solves: Vec<SkuSolve> = slices
        .into_par_iter()
        .map(|(sku, out)| solve_sku(snapshot, avail, expected, sku, horizon(sku), out))
        .collect();
    (Prices { per_entry }, solves)
}

impl Prices {
    /// Re-solves one SKU in place.
    pub fn resolve_sku(
        &mut self,
        snapshot: &Snapshot,
        avail: &(impl Availability + ?Sized),
        expected: Expected,
        sku: SkuId,
        horizon_days: f64,
    ) -> SkuSolve {
        let (base, holders) = snapshot.inventory().of_sku(sku);
        if self.per_entry.len() != snapshot.inventory().len() {
            self.per_entry = vec![0.0; snapshot.inventory().len()];
        }
        let out = &mut self.per_entry[base..base + holders.len()];
        solve_sku(snapshot, avail, expected, sku, horizon_days, out)
    }
}
