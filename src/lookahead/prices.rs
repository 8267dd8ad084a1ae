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
    let kg = billable_kg(snapshot.sku(sku).weight_kg);
    Service::PARCEL
        .iter()
        .filter_map(|&svc| snapshot.rates().price(svc, band, kg))
        .min_by(f64::total_cmp)
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

/// Solves `sku`'s LP over `horizon_days` and writes its nodes' prices into `out` (the SKU's
/// inventory entries, in inventory order; entries with nothing to sell get 0).
pub fn solve_sku(
    snapshot: &Snapshot,
    avail: &(impl Availability + ?Sized),
    forecast: &Forecast,
    reach: &Reach,
    sku: SkuId,
    horizon_days: f64,
    out: &mut [f64],
) -> SkuSolve {
    out.fill(0.0);
    let inventory = snapshot.inventory();
    let (base, holders) = inventory.of_sku(sku);
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
    // The rate depends on the band and the SKU's weight only: one quote per band, not per arc.
    let rates: Vec<Option<f64>> = (0..snapshot.zones().len())
        .map(|band| cheapest_rate(snapshot, sku, band))
        .collect();
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
        let handling = handling(snapshot, node, sku);
        for &(r, _) in &demand {
            let c = handling.and_then(|(shipment, unit)| {
                let band = reach.band(node, r)?;
                Some(rates.get(band).copied().flatten()? + shipment + unit)
            });
            t.cost.push(c.unwrap_or(f64::INFINITY));
        }
    }
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

/// Solves every SKU's LP in parallel (rayon), each over its own horizon (`horizon(sku)`), and
/// returns the prices and what each solve saw. The same for any number of threads.
pub fn solve_all(
    snapshot: &Snapshot,
    avail: &(impl Availability + Sync + ?Sized),
    forecast: &Forecast,
    reach: &Reach,
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
        .map(|(sku, out)| solve_sku(snapshot, avail, forecast, reach, sku, horizon(sku), out))
        .collect();
    (Prices { per_entry }, solves)
}

impl Prices {
    /// Re-solves one SKU in place.
    pub fn resolve_sku(
        &mut self,
        snapshot: &Snapshot,
        avail: &(impl Availability + ?Sized),
        forecast: &Forecast,
        reach: &Reach,
        sku: SkuId,
        horizon_days: f64,
    ) -> SkuSolve {
        let (base, holders) = snapshot.inventory().of_sku(sku);
        if self.per_entry.len() != snapshot.inventory().len() {
            self.per_entry = vec![0.0; snapshot.inventory().len()];
        }
        solve_sku(
            snapshot,
            avail,
            forecast,
            reach,
            sku,
            horizon_days,
            &mut self.per_entry[base..base + holders.len()],
        )
    }
}
