//! The multi-item online fulfilment benchmark (Jasin & Sinha 2015; Ma 2023; Amil, Makhdoumi &
//! Wei 2025) in the scenario format: `fulfil gen --profile multi-item`.
//!
//! - **Regions**: the 99 most populous cities of the contiguous US (the bundled GeoNames list);
//!   an order comes from a city with probability proportional to its population, to its centre.
//! - **Fulfilment centres**: `dcs` (10) of those cities, chosen greedily to minimise the
//!   population-weighted distance from every city to its nearest centre (a k-median; the papers
//!   name no list fulfil could find, so this choice is fulfil's, and deterministic).
//! - **Cost**: a package costs 8.759, plus 0.423 + 0.000541 × miles per item. Each item weighs
//!   1 kg (so a shipment's billable kg is its item count); every distinct centre–city distance
//!   has its own zone, whose rate is `base 8.759, per_kg 0.423 + 0.000541 × miles` at that
//!   distance (haversine, 1.609344 km a mile). No handling cost, no split penalty (the package
//!   cost is the split cost), no capacity.
//! - **Unfilled items** cost twice the cost of sending one item alone from the farthest centre.
//!   The papers take the farthest centre of the item's region; the scenario format has one
//!   backorder penalty, so fulfil takes it over all regions (the farthest pair): within a few
//!   per cent of the per-region value.
//! - **Orders**: `orders` (T), each with each of the `items` (n) items independently with its own
//!   probability (drawn uniformly in [0.2, 0.8] from the seed; an empty draw is drawn again),
//!   one unit each, spread evenly over `days`.
//! - **Inventory**: item i's units are its expected demand over the T orders times `stock`, each
//!   unit placed at a centre drawn in proportion to the population the centre is nearest to,
//!   times a factor per (centre, item) uniform in [0.25, 1.75] (stock rarely sits exactly where
//!   demand is).
//! - **forecast.csv** is the true expected demand (units per day per city and item), and
//!   **inbound.csv** a replenishment of every centre the day after the last order: it ends the
//!   horizon of the `lookahead` policy's prices (`allocate_inbound` is off: `route` sells none
//!   of it).

use std::io::Write;
use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::generate::{GenError, GenSummary, io, write_file};
use crate::model::geo::{City, cities, distance_km};

const KM_PER_MILE: f64 = 1.609_344;
const PER_PACKAGE: f64 = 8.759;
const PER_ITEM: f64 = 0.423;
const PER_ITEM_MILE: f64 = 0.000_541;
/// The first order's day: 2026-03-02 (UTC), as `fulfil gen`'s other profile.
const START_DAY: i64 = 20_514;

/// Sizes and seed of a multi-item benchmark instance.
#[derive(Clone, Debug)]
pub struct MultiItemConfig {
    pub seed: u64,
    /// Fulfilment centres (10 in the papers).
    pub dcs: usize,
    /// Items (n: 2, 5 or 10 in the papers).
    pub items: usize,
    /// Orders (T: 100 or 1,000 in the papers).
    pub orders: usize,
    pub days: u32,
    /// Units stocked per unit of expected demand.
    pub stock: f64,
}

/// The cost of sending `items` items in one package over `km`.
pub fn package_cost(km: f64, items: u32) -> f64 {
    PER_PACKAGE + f64::from(items) * (PER_ITEM + PER_ITEM_MILE * km / KM_PER_MILE)
}

/// The 99 most populous cities of the contiguous US, largest first.
fn regions() -> Vec<City> {
    let mut all = cities();
    all.sort_by(|a, b| b.population.total_cmp(&a.population));
    all.truncate(99);
    all
}

/// `k` centres among `cities`: each step adds the city that lowers the population-weighted
/// distance to the nearest centre most (ties: the larger city).
fn centres(cities: &[City], k: usize) -> Vec<usize> {
    let d = |a: &City, b: &City| distance_km(a.lat, a.lon, b.lat, b.lon);
    let mut nearest = vec![f64::INFINITY; cities.len()];
    let mut chosen = Vec::with_capacity(k);
    for _ in 0..k.min(cities.len()) {
        let cost_with = |c: usize| -> f64 {
            cities
                .iter()
                .zip(&nearest)
                .map(|(city, &n)| city.population * n.min(d(city, &cities[c])))
                .sum()
        };
        let best = (0..cities.len())
            .filter(|c| !chosen.contains(c))
            .min_by(|&a, &b| cost_with(a).total_cmp(&cost_with(b)))
            .unwrap_or(0);
        chosen.push(best);
        for (city, n) in cities.iter().zip(nearest.iter_mut()) {
            *n = n.min(d(city, &cities[best]));
        }
    }
    chosen
}

fn node_id(c: &City) -> String {
    let name: String = c
        .name
        .chars()
        .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '-' })
        .collect();
    format!("FC-{}-{}", name.to_uppercase(), c.state)
}

/// Writes the instance into `dir` (created if missing): the network files, `orders.csv`,
/// `forecast.csv` and `inbound.csv`.
pub fn generate_multi_item(cfg: &MultiItemConfig, dir: &Path) -> Result<GenSummary, GenError> {
    if cfg.dcs == 0 || cfg.dcs > 99 {
        return Err(GenError::Size(
            "--dcs must be 1 to 99 for the multi-item profile".into(),
        ));
    }
    if cfg.items == 0 || cfg.items > 100 {
        return Err(GenError::Size("--items must be 1 to 100".into()));
    }
    if cfg.days == 0 {
        return Err(GenError::NoDays);
    }
    if !(cfg.stock.is_finite() && cfg.stock >= 0.0) {
        return Err(GenError::Stock { stock: cfg.stock });
    }
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let cities = regions();
    let fcs = centres(&cities, cfg.dcs);
    let total_pop: f64 = cities.iter().map(|c| c.population).sum();
    let share: Vec<f64> = cities.iter().map(|c| c.population / total_pop).collect();
    let probs: Vec<f64> = (0..cfg.items).map(|_| rng.random_range(0.2..0.8)).collect();
    let w = Writer { dir };
    w.network(cfg, &cities, &fcs)?;
    let stock = w.inventory(cfg, &cities, &fcs, &share, &probs, &mut rng)?;
    w.forecast(cfg, &cities, &share, &probs)?;
    w.inbound(cfg, &fcs, &cities, &stock)?;
    let lines = w.orders(cfg, &cities, &share, &probs, &mut rng)?;
    Ok(GenSummary {
        nodes: fcs.len(),
        skus: cfg.items,
        inventory_rows: stock.iter().filter(|(_, _, q)| *q > 0).count(),
        orders: cfg.orders,
        order_lines: lines,
    })
}

fn item(i: usize) -> String {
    format!("ITEM-{:02}", i + 1)
}

struct Writer<'a> {
    dir: &'a Path,
}

impl Writer<'_> {
    fn write(
        &self,
        name: &str,
        body: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
    ) -> Result<(), GenError> {
        write_file(self.dir, name, body)
    }

    /// nodes, SKUs, one zone per distinct distance, its rate, and the policy.
    fn network(
        &self,
        cfg: &MultiItemConfig,
        cities: &[City],
        fcs: &[usize],
    ) -> Result<(), GenError> {
        self.write("nodes.csv", |w| {
            writeln!(w, "node_id,kind,lat,lon")?;
            for &f in fcs {
                let c = &cities[f];
                writeln!(w, "{},dc,{},{}", node_id(c), c.lat, c.lon)?;
            }
            Ok(())
        })?;
        self.write("skus.csv", |w| {
            writeln!(w, "sku,weight_kg")?;
            (0..cfg.items).try_for_each(|i| writeln!(w, "{},1", item(i)))
        })?;
        let mut km: Vec<f64> = fcs
            .iter()
            .flat_map(|&f| {
                cities
                    .iter()
                    .map(move |c| distance_km(cities[f].lat, cities[f].lon, c.lat, c.lon))
            })
            .collect();
        km.sort_by(f64::total_cmp);
        km.dedup_by(|a, b| (*a - *b).abs() < 1e-6);
        self.write("zones.csv", |w| {
            writeln!(w, "zone,max_km")?;
            for (z, pair) in km.windows(2).enumerate() {
                writeln!(w, "{},{}", z + 1, (pair[0] + pair[1]) / 2.0)?;
            }
            writeln!(w, "{},", km.len())
        })?;
        self.write("rates.csv", |w| {
            writeln!(w, "carrier,service,zone,base,per_kg,transit_days")?;
            for (z, d) in km.iter().enumerate() {
                let per_item = PER_ITEM + PER_ITEM_MILE * d / KM_PER_MILE;
                writeln!(w, "Parcel,ground,{},{PER_PACKAGE},{per_item},3", z + 1)?;
            }
            Ok(())
        })?;
        let farthest = km.last().copied().unwrap_or(0.0);
        let penalty = 2.0 * package_cost(farthest, 1);
        self.write("policy.toml", |w| {
            writeln!(
                w,
                "# The multi-item benchmark: the package cost is the split cost.\n\
                 split_penalty = 0.0\nbackorder_penalty = {penalty}\nmax_shipments = {}\n\n\
                 [lookahead]\nhorizon_days = {}\nrefresh_share = 0.02\nresolution = 6\n\
                 # The papers' setting: a unit may be kept for the later order it serves best.\n\
                 hold_back = true",
                cfg.items.clamp(1, 99),
                cfg.days + 1
            )
        })
    }

    /// Places each item's stock; returns (centre, item, units) per pair.
    fn inventory(
        &self,
        cfg: &MultiItemConfig,
        cities: &[City],
        fcs: &[usize],
        share: &[f64],
        probs: &[f64],
        rng: &mut ChaCha8Rng,
    ) -> Result<Vec<(usize, usize, u32)>, GenError> {
        // Population each centre is nearest to.
        let mut near = vec![0.0; fcs.len()];
        for (c, s) in cities.iter().zip(share) {
            let (f, _) = fcs
                .iter()
                .enumerate()
                .map(|(f, &fc)| (f, distance_km(c.lat, c.lon, cities[fc].lat, cities[fc].lon)))
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .unwrap_or((0, 0.0));
            near[f] += s;
        }
        let mut stock = Vec::new();
        for (i, p) in probs.iter().enumerate() {
            let weights: Vec<f64> = near
                .iter()
                .map(|n| n * rng.random_range(0.25..1.75))
                .collect();
            let total: f64 = weights.iter().sum();
            let units = (cfg.stock * cfg.orders as f64 * p).round() as u32;
            let mut at = vec![0u32; fcs.len()];
            for _ in 0..units {
                let mut x = rng.random::<f64>() * total;
                let f = weights
                    .iter()
                    .position(|w| {
                        x -= w;
                        x < 0.0
                    })
                    .unwrap_or(fcs.len() - 1);
                at[f] += 1;
            }
            stock.extend(at.into_iter().enumerate().map(|(f, q)| (f, i, q)));
        }
        self.write("inventory.csv", |w| {
            writeln!(w, "node_id,sku,on_hand")?;
            for &(f, i, q) in &stock {
                writeln!(w, "{},{},{q}", node_id(&cities[fcs[f]]), item(i))?;
            }
            Ok(())
        })?;
        Ok(stock)
    }

    /// The true expected demand per city and item per day.
    fn forecast(
        &self,
        cfg: &MultiItemConfig,
        cities: &[City],
        share: &[f64],
        probs: &[f64],
    ) -> Result<(), GenError> {
        let per_day = cfg.orders as f64 / f64::from(cfg.days);
        // An order is drawn again when it has no item: each item's rate is p / P(non-empty).
        let nonempty = 1.0 - probs.iter().map(|p| 1.0 - p).product::<f64>();
        self.write("forecast.csv", |w| {
            writeln!(w, "lat,lon,sku,units_per_day")?;
            for (c, s) in cities.iter().zip(share) {
                for (i, p) in probs.iter().enumerate() {
                    writeln!(
                        w,
                        "{},{},{},{}",
                        c.lat,
                        c.lon,
                        item(i),
                        per_day * s * p / nonempty
                    )?;
                }
            }
            Ok(())
        })
    }

    /// Every centre restocked the day after the last order.
    fn inbound(
        &self,
        cfg: &MultiItemConfig,
        fcs: &[usize],
        cities: &[City],
        stock: &[(usize, usize, u32)],
    ) -> Result<(), GenError> {
        let day = crate::model::dates::format_day((START_DAY + i64::from(cfg.days)) as i32);
        self.write("inbound.csv", |w| {
            writeln!(w, "node_id,sku,qty,available_date")?;
            for &(f, i, q) in stock {
                writeln!(
                    w,
                    "{},{},{},{day}",
                    node_id(&cities[fcs[f]]),
                    item(i),
                    q.max(1)
                )?;
            }
            Ok(())
        })
    }

    /// The orders; returns the number of lines.
    fn orders(
        &self,
        cfg: &MultiItemConfig,
        cities: &[City],
        share: &[f64],
        probs: &[f64],
        rng: &mut ChaCha8Rng,
    ) -> Result<usize, GenError> {
        let mut cumulative = Vec::with_capacity(share.len());
        let mut acc = 0.0;
        for s in share {
            acc += s;
            cumulative.push(acc);
        }
        let span = f64::from(cfg.days) * 86_400.0 / cfg.orders.max(1) as f64;
        let mut rows = Vec::new();
        for o in 0..cfg.orders {
            let x = rng.random::<f64>() * acc;
            let c = &cities[cumulative
                .partition_point(|&v| v <= x)
                .min(cities.len() - 1)];
            let items: Vec<usize> = loop {
                let drawn: Vec<usize> = (0..cfg.items)
                    .filter(|&i| rng.random::<f64>() < probs[i])
                    .collect();
                if !drawn.is_empty() {
                    break drawn;
                }
            };
            let at = START_DAY * 86_400 + ((o as f64 + 0.5) * span) as i64;
            let created = chrono::DateTime::from_timestamp(at, 0)
                .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default();
            for i in items {
                rows.push(format!(
                    "MI-{:06},{created},{},{},ground,,{},1",
                    o + 1,
                    c.lat,
                    c.lon,
                    item(i)
                ));
            }
        }
        self.write("orders.csv", |w| {
            writeln!(w, "order_id,created_at,lat,lon,service,pickup_node,sku,qty")?;
            rows.iter().try_for_each(|r| writeln!(w, "{r}"))
        })?;
        Ok(rows.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cost_is_the_papers() {
        // One package of 3 items over 1,000 miles: 8.759 + 3 × (0.423 + 0.541).
        let km = 1000.0 * KM_PER_MILE;
        assert!((package_cost(km, 3) - (8.759 + 3.0 * 0.964)).abs() < 1e-9);
    }

    #[test]
    fn ninety_nine_regions_and_ten_distinct_centres() {
        let r = regions();
        assert_eq!(r.len(), 99);
        assert!(r[0].population >= r[98].population);
        let c = centres(&r, 10);
        let mut d = c.clone();
        d.sort();
        d.dedup();
        assert_eq!(d.len(), 10);
    }
}
